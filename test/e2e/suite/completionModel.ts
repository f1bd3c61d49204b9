// A tiny random-weights nemotron_h model for the completion tests: the default fixture vocabulary, optionally
// with fill-in-the-middle tokens (<|fim_prefix|>, <|fim_suffix|>, <|fim_middle|>: the runtime then builds FIM
// prompts, as for Granite 4.0), whose output rows are zero for every token that is not printable ASCII, a
// newline or a merge: their logit is exactly 0 while some printable token's is above it, so greedy decoding
// writes printable gibberish (ghost text one can see) and never ends early (every completion runs until a stop
// rule or maxTokens). Used by test/unit/completion-engine.test.ts, the in-host suite (completion.test.ts), the
// harness's UI phase and scripts/bench-completion.mjs (compiled to out/ by tsc).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { defaultVocab, gpt2ByteOrder, TOKEN_TYPE } from '../../fixtures/default-vocab';
import { buildNemotronH, type NemotronHDims, type PresetName } from '../../fixtures/nemotron-h';

export const FIM_TOKENS = ['<|fim_prefix|>', '<|fim_suffix|>', '<|fim_middle|>'];

export interface CompletionModelOptions {
  fim?: boolean;
  seed?: number;
  preset?: PresetName;
  /** Context length the file declares (the runtime caps a session's context at it). */
  contextLength?: number;
  dims?: Partial<NemotronHDims>;
}

export function writeCompletionFixtureModel(file: string, opts: CompletionModelOptions = {}): string {
  const vocab = defaultVocab();
  if (opts.fim) {
    for (const s of FIM_TOKENS) {
      vocab.tokens.push(s);
      vocab.tokenTypes!.push(TOKEN_TYPE.control);
    }
  }
  // Token ids whose output row stays: printable ASCII bytes, the newline, the merges (all printable).
  const keep = new Set<number>();
  gpt2ByteOrder().forEach(({ byte, char }) => {
    if ((byte >= 0x20 && byte < 0x7f) || byte === 0x0a) keep.add(vocab.tokens.indexOf(char));
  });
  vocab.tokens.forEach((t, id) => {
    if (vocab.tokenTypes![id] === TOKEN_TYPE.normal && t.length > 1) keep.add(id);
  });
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const w = buildNemotronH(opts.preset ?? 'tiny', {
    seed: opts.seed ?? 1,
    tokenizer: vocab,
    name: `completion fixture${opts.fim ? ' (FIM)' : ''}`,
    format: 'f32',
    dims: { nCtx: opts.contextLength ?? 32768, ...opts.dims },
  });
  const out = w.tensors.find((t) => t.name === 'output.weight');
  if (!out || typeof out.data !== 'function') throw new Error('completion fixture: no lazily written output.weight');
  const nEmbd = Number(out.ne[0]);
  const nVocab = Number(out.ne[1]);
  const data = out.data;
  out.data = () => {
    const bytes = data();
    for (let id = 0; id < nVocab; id++) if (!keep.has(id)) bytes.fill(0, id * nEmbd * 4, (id + 1) * nEmbd * 4); // f32 rows
    return bytes;
  };
  w.writeFile(file);
  return file;
}
