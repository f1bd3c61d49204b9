// Stop strings and the reasoning/answer split, fed token by token: whatever the chunking, the output equals
// what the whole text gives, and nothing shown is taken back.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mergeParts as appendParts, ReasoningSplitter } from '../../src/shared/reasoning';
import { scanForNeedles, StopMatcher } from '../../src/worker/textStream';
import type { StreamPart } from '../../src/shared/protocol';

function chunkings(text: string, seed: number): string[][] {
  const out: string[][] = [[text], [...text]];
  let s = seed;
  for (let k = 0; k < 20; k++) {
    const parts: string[] = [];
    let i = 0;
    while (i < text.length) {
      s = (s * 1103515245 + 12345) >>> 0;
      const n = 1 + (s % 5);
      parts.push(text.slice(i, i + n));
      i += n;
    }
    out.push(parts);
  }
  return out;
}

test('scanForNeedles: earliest match, or how much is safe to show', () => {
  assert.deepEqual(scanForNeedles('abc\n\nd', ['\n\n']), { found: true, index: 3, needle: '\n\n' });
  assert.deepEqual(scanForNeedles('abc\n', ['\n\n']), { found: false, safe: 3 });
  assert.deepEqual(scanForNeedles('ab', ['abc', 'b']), { found: false, safe: 0 }, 'a longer stop may still start at 0');
  assert.deepEqual(scanForNeedles('abd', ['abc', 'b']), { found: true, index: 1, needle: 'b' });
  assert.deepEqual(scanForNeedles('xyz', []), { found: false, safe: 3 });
});

test('StopMatcher: the text before the first stop, whatever the chunking', () => {
  const cases: [string, string[], string, boolean][] = [
    ['return x;\n\nfunction f() {}', ['\n\n'], 'return x;', true],
    ['a <|end|> b', ['<|end|>', '<|e'], 'a ', true],
    ['no stop here <|en', ['<|end|>'], 'no stop here <|en', false],
    ['', ['x'], '', false],
  ];
  for (const [text, stops, want, stopped] of cases) {
    for (const chunks of chunkings(text, 7)) {
      const m = new StopMatcher(stops);
      let shown = '';
      for (const c of chunks) shown += m.push(c);
      shown += m.flush();
      assert.equal(shown, want, JSON.stringify(chunks));
      assert.equal(m.stopped, stopped);
    }
  }
});

function split(chunks: string[], startsInside: boolean): { parts: StreamPart[]; tokens: { reasoning: number; answer: number } } {
  const s = new ReasoningSplitter({ open: '<think>', close: '</think>', startsInside });
  const parts: StreamPart[] = [];
  for (const c of chunks) appendParts(parts, s.push(c, 1));
  appendParts(parts, s.flush());
  return { parts, tokens: s.tokens };
}

test('ReasoningSplitter: reasoning and answer kept apart, tags dropped, whatever the chunking', () => {
  const text = 'Let me think. 1 < 2 </thi almost</think>\n\nThe answer is <b>42</b>.';
  for (const chunks of chunkings(text, 3)) {
    assert.deepEqual(split(chunks, true).parts, [
      { kind: 'reasoning', text: 'Let me think. 1 < 2 </thi almost' },
      { kind: 'answer', text: '\n\nThe answer is <b>42</b>.' },
    ]);
  }
  for (const chunks of chunkings('<think>hmm</think>ok', 5)) {
    assert.deepEqual(split(chunks, false).parts, [
      { kind: 'reasoning', text: 'hmm' },
      { kind: 'answer', text: 'ok' },
    ]);
  }
  assert.deepEqual(split(['plain answer'], false).parts, [{ kind: 'answer', text: 'plain answer' }]);
  const counted = split(['a', 'b', '</think>', 'c'], true);
  assert.deepEqual(counted.tokens, { reasoning: 3, answer: 1 });
});
