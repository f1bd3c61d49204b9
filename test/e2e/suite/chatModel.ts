// A tiny random-weights nemotron_h model for the chat's end-to-end tests: the default fixture vocabulary plus
// Nemotron Nano 2's turn markers and think tags, and the Nano 2 chat template (test/fixtures/chat-templates/).
// It writes gibberish, but through the real worker, template, trace splitter and thinking budget: the
// generation prompt opens "<think>\n", so its output is a trace until the budget makes the runtime close it.
// The output rows of the end-of-generation and end-of-turn tokens are zero: their logit is exactly 0 while
// some other token's is above it, so greedy decoding never ends a turn early and every answer runs to
// maxTokens (deterministic lengths; a long answer for the stop tests).
// Used by the in-host suite (chat.test.ts) and by the harness's UI phase (compiled to out/ by tsc).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { defaultVocab, TOKEN_TYPE } from '../../fixtures/default-vocab';
import { buildNemotronH } from '../../fixtures/nemotron-h';

export const CHAT_SPECIALS = ['<SPECIAL_10>', '<SPECIAL_11>', '<SPECIAL_12>', '<think>', '</think>'];

/** The Nano 2 template, read from the repository (the suite runs from out/e2e/suite, the harness from out/test). */
export function nanoTemplate(repoRoot: string): string {
  return fs.readFileSync(path.join(repoRoot, 'test', 'fixtures', 'chat-templates', 'nemotron-nano-v2.jinja'), 'utf8');
}

export function writeChatFixtureModel(file: string, repoRoot: string, seed = 7): string {
  const vocab = defaultVocab();
  for (const s of CHAT_SPECIALS) {
    vocab.tokens.push(s);
    vocab.tokenTypes!.push(TOKEN_TYPE.control);
  }
  vocab.chatTemplate = nanoTemplate(repoRoot);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const w = buildNemotronH('tiny', { seed, tokenizer: vocab, name: 'chat e2e fixture', format: 'f32' });
  const out = w.tensors.find((t) => t.name === 'output.weight');
  if (!out || typeof out.data !== 'function') throw new Error('chat fixture: no lazily written output.weight');
  const nEmbd = Number(out.ne[0]);
  const silent = ['</s>', '<|im_end|>', '<SPECIAL_12>'].map((t) => vocab.tokens.indexOf(t));
  const data = out.data;
  out.data = () => {
    const bytes = data();
    for (const id of silent) bytes.fill(0, id * nEmbd * 4, (id + 1) * nEmbd * 4); // f32 rows
    return bytes;
  };
  w.writeFile(file);
  return file;
}
