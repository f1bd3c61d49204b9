// Found by the js-stream fuzz target (scripts/fuzz.mjs): when a generation ends while the StopMatcher holds
// text back because a longer stop string might still complete, flush() returned the held text as it was —
// with a shorter stop string inside it. E.g. stops ["\n", "\ndef"] and an output ending in "\nde" (maxTokens
// or end-of-generation right there): the completion showed "\nde" though "\n" stops it.
//
// Fix (src/worker/textStream.ts, worker owner's): at flush() nothing more can come, so the earliest stop
// string found in the held text ends it:
//   flush(): string {
//     if (this.done) return (this.held = '');
//     const held = this.held;
//     this.held = '';
//     let cut = held.length;
//     for (const n of this.stops) { const i = held.indexOf(n); if (i >= 0 && i < cut) cut = i; }
//     if (cut < held.length) this.done = true;
//     return held.slice(0, cut);
//   }
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StopMatcher } from '../../src/worker/textStream';

function stream(stops: string[], chunks: string[]): { text: string; stopped: boolean } {
  const m = new StopMatcher(stops);
  let text = '';
  for (const c of chunks) text += m.push(c);
  text += m.flush();
  return { text, stopped: m.stopped };
}

test('a stop string inside text held back at the end of a generation still stops it', () => {
  // The fuzzer's inputs.
  assert.deepEqual(stream(['k', '<think></think>'], ['>b<', 'thin', 'k>']), { text: '>b<thin', stopped: true });
  assert.deepEqual(stream(['>', '<|im_end|> é'], ['<', '|im_en', 'd|', '>']), { text: '<|im_end|', stopped: true });
  // The case a completion meets: a blank line stops it, a longer stop begins the same way.
  assert.deepEqual(stream(['\n', '\ndef'], ['x = 1', '\nde']), { text: 'x = 1', stopped: true });
  // Held text without a stop in it is still text.
  assert.deepEqual(stream(['\ndef'], ['x = 1', '\nde']), { text: 'x = 1\nde', stopped: false });
});
