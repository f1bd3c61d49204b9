// The completion prompt's shape comes from the model's own vocabulary: FIM when the file has the three
// fill-in-the-middle tokens (by the tokenizer.ggml.fim_*_token_id keys, or by their text as llama.cpp finds
// them: <|fim_prefix|>, <fim_prefix>, ...), prefix-only otherwise. Real GGUF files through the native addon.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { modelFacts } from '../../src/shared/completions/prompt';
import type { ModelInfo } from '../../src/shared/protocol';
import { loadAddon } from '../../src/worker/addon';
import { TOKEN_TYPE } from '../fixtures/default-vocab';
import { u32 } from '../fixtures/gguf-writer';
import { buildGraniteHybrid } from '../fixtures/granite-hybrid';
import { graniteFixtureVocab } from '../fixtures/make-granite';

const root = path.resolve(__dirname, '..', '..', '..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fim-vocab-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const addon = loadAddon(process.env.HYBRID_ADDON_PATH || path.join(root, 'native', 'build', 'Release', 'hybrid_addon.node'));

/** Writes a tiny Granite model with `extra` control tokens (and optional metadata) and reads its info. */
async function infoOf(name: string, extra: string[], keys: Record<string, string> = {}): Promise<ModelInfo> {
  const vocab = graniteFixtureVocab(0, false);
  for (const t of extra) {
    vocab.tokens.push(t);
    vocab.tokenTypes!.push(TOKEN_TYPE.control);
  }
  const w = buildGraniteHybrid('tiny-dense', { tokenizer: vocab });
  for (const [key, token] of Object.entries(keys)) w.set(`tokenizer.ggml.${key}`, u32(vocab.tokens.indexOf(token)));
  const file = path.join(dir, `${name}.gguf`);
  w.writeFile(file);
  const m = await addon.loadModel(file, { threads: 1 });
  try {
    return JSON.parse(m.info()) as ModelInfo;
  } finally {
    m.dispose();
  }
}

test('Granite-style FIM tokens found by their text: FIM prompts', async () => {
  const info = await infoOf('granite-fim', ['<|fim_prefix|>', '<|fim_middle|>', '<|fim_suffix|>']);
  const t = info.tokenizer;
  assert.ok(t.present);
  const base = t.size - 3;
  assert.deepEqual([t.fimPrefix, t.fimSuffix, t.fimMiddle], [base, base + 2, base + 1]);
  assert.equal(modelFacts(info).shape, 'fim');
});

test('StarCoder-style <fim_prefix> tokens: FIM prompts', async () => {
  const info = await infoOf('starcoder-fim', ['<fim_prefix>', '<fim_middle>', '<fim_suffix>']);
  assert.equal(modelFacts(info).shape, 'fim');
});

test('FIM ids from the tokenizer.ggml.fim_*_token_id keys, whatever the tokens are called', async () => {
  const info = await infoOf('keys-fim', ['<|a|>', '<|b|>', '<|c|>'], { fim_pre_token_id: '<|a|>', fim_suf_token_id: '<|b|>', fim_mid_token_id: '<|c|>' });
  const t = info.tokenizer;
  assert.ok(t.present);
  assert.deepEqual([t.fimPrefix, t.fimSuffix, t.fimMiddle], [t.size - 3, t.size - 2, t.size - 1]);
  assert.equal(modelFacts(info).shape, 'fim');
});

test('no FIM tokens (Nemotron-H), or an incomplete set: prefix-only prompts', async () => {
  assert.equal(modelFacts(await infoOf('no-fim', [])).shape, 'prefix');
  const partial = await infoOf('partial-fim', ['<|fim_prefix|>', '<|fim_suffix|>']);
  assert.ok(partial.tokenizer.present && partial.tokenizer.fimPrefix !== null && partial.tokenizer.fimMiddle === null);
  assert.equal(modelFacts(partial).shape, 'prefix', 'no middle token: no FIM prompt');
});
