// The SHIPPED built-in model (models/builtin/hybrid-code-small-q8_0.gguf) against PyTorch: next-token logits
// at the last 2 positions of 4 reference sequences within the Q8_0 tolerance (5e-2 of the logit range, as
// tools/convert/check-against-torch.mjs), the same top-1, the same 32-token greedy continuation (free
// running, `hybrid generate --temp 0`), Hugging Face's tokenization of the tokenizer-check strings, and the
// GGUF metadata the extension relies on (architecture, pre-tokenizer, FIM ids). Reference data:
// test/fixtures/builtin/ (README there). A few seconds: the model is 25.7 MB, the sequences < 60 tokens.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { hybridCli, repoRoot, runSync } from '../fixtures/hybrid-cli';
import { readGguf } from '../reference/gguf-read';

const MODEL = path.join(repoRoot, 'models', 'builtin', 'hybrid-code-small-q8_0.gguf');
const FIXTURES = path.join(repoRoot, 'test', 'fixtures', 'builtin');
const Q8_0_RANGE_TOL = 5e-2;

interface RefRow { position: number; min: number; max: number; step: number; argmax: number; data: string }
interface RefSequence { name: string; input_ids: number[]; vocab: number; rows: RefRow[]; greedy: number[]; greedy_text: string }

const reference = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'reference-logits.json'), 'utf8')) as { sequences: RefSequence[] };
const tokenizerCheck = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'tokenizer-check.json'), 'utf8')) as {
  pre: string;
  cases: { text: string; ids: number[] }[];
};

let cli: string;
before(() => {
  const bin = hybridCli();
  assert.ok(bin, 'the hybrid CLI is not built (npm run build:native, or set HYBRID_CLI)');
  cli = bin;
  assert.ok(fs.existsSync(MODEL), `${MODEL} is missing (git tracks it)`);
});

function hybridJson(args: string[]): any {
  const r = runSync(cli, [...args, '--json']);
  assert.equal(r.status, 0, `hybrid ${args[0]}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

function decodeRow(row: RefRow, vocab: number): Float64Array {
  const bytes = Buffer.from(row.data, 'base64');
  assert.equal(bytes.length, vocab * 2);
  const out = new Float64Array(vocab);
  for (let i = 0; i < vocab; i++) out[i] = row.min + bytes.readUInt16LE(2 * i) * row.step;
  return out;
}

const argmax = (row: ArrayLike<number>, n = row.length) => {
  let b = 0;
  for (let i = 1; i < n; i++) if (row[i] > row[b]) b = i;
  return b;
};

test('fixture decoding: each stored row keeps its PyTorch argmax and range', () => {
  assert.equal(reference.sequences.length, 4);
  for (const s of reference.sequences) {
    assert.equal(s.rows.length, 2, s.name);
    assert.equal(s.greedy.length, 32, s.name);
    for (const row of s.rows) {
      const want = decodeRow(row, s.vocab);
      assert.equal(argmax(want), row.argmax, `${s.name}@${row.position}: uint16 rounding moved the argmax`);
      assert.ok(Math.abs(Math.max(...want) - row.max) <= row.step, `${s.name}@${row.position}: max`);
    }
  }
});

test('built-in Q8_0 logits match PyTorch within 5e-2 of the logit range, top-1 equal', () => {
  let worstRel = 0, worstAbs = 0, positions = 0;
  for (const s of reference.sequences) {
    const all = hybridJson(['logits', MODEL, '--tokens', s.input_ids.join(','), '--all-positions']).logits as number[][];
    assert.equal(all.length, s.input_ids.length, `${s.name}: one row per input token`);
    for (const row of s.rows) {
      const want = decodeRow(row, s.vocab);
      const got = all[row.position];
      assert.ok(got && got.length >= s.vocab, `${s.name}@${row.position}: ${got?.length} logits, want ${s.vocab}`);
      let err = 0;
      for (let i = 0; i < s.vocab; i++) err = Math.max(err, Math.abs(got[i] - want[i]));
      const rel = err / (row.max - row.min);
      worstAbs = Math.max(worstAbs, err);
      worstRel = Math.max(worstRel, rel);
      positions++;
      assert.ok(rel <= Q8_0_RANGE_TOL, `${s.name}@${row.position}: max |Δlogit| ${err.toExponential(2)} = ${rel.toExponential(2)} of the range > ${Q8_0_RANGE_TOL}`);
      assert.equal(argmax(got, s.vocab), row.argmax, `${s.name}@${row.position}: top-1`);
    }
  }
  console.log(`builtin q8_0 vs PyTorch: max |Δlogit| ${worstAbs.toExponential(2)}, ${worstRel.toExponential(2)} of the logit range over ${positions} positions (tolerance ${Q8_0_RANGE_TOL}); top-1 ${positions}/${positions}`);
});

test('built-in Q8_0 greedy continuation (32 tokens, free running) equals PyTorch on every reference sequence', () => {
  for (const s of reference.sequences) {
    const got = hybridJson(['generate', MODEL, '--tokens', s.input_ids.join(','), '-n', String(s.greedy.length), '--temp', '0']).tokens as number[];
    const first = s.greedy.findIndex((t, i) => got[i] !== t);
    assert.deepEqual(got, s.greedy, `${s.name}: first divergence at step ${first} (PyTorch: ${JSON.stringify(s.greedy_text)})`);
  }
});

test('built-in tokenizer: the tokenizer-check strings tokenize as Hugging Face tokenizers does', () => {
  assert.equal(tokenizerCheck.cases.length, 10);
  for (const c of tokenizerCheck.cases) {
    const got = hybridJson(['tokenize', MODEL, '--text', c.text, '--special', '--no-bos']).tokens;
    assert.deepEqual(got, c.ids, JSON.stringify(c.text));
  }
});

test('built-in GGUF metadata: nemotron_h, llama3 pre-tokenizer, FIM prefix/suffix/middle = 1/2/3', () => {
  const kv = readGguf(MODEL).kv;
  assert.equal(kv.get('general.architecture'), 'nemotron_h');
  assert.equal(kv.get('tokenizer.ggml.model'), 'gpt2');
  assert.equal(kv.get('tokenizer.ggml.pre'), 'llama3');
  assert.equal(kv.get('tokenizer.ggml.pre'), tokenizerCheck.pre);
  assert.equal(kv.get('tokenizer.ggml.fim_pre_token_id'), 1);
  assert.equal(kv.get('tokenizer.ggml.fim_suf_token_id'), 2);
  assert.equal(kv.get('tokenizer.ggml.fim_mid_token_id'), 3);
  const tokens = kv.get('tokenizer.ggml.tokens') as string[];
  assert.deepEqual(tokens.slice(0, 4), ['<|endoftext|>', '<|fim_prefix|>', '<|fim_suffix|>', '<|fim_middle|>']);
  // The runtime reads the same ids (what the completion path puts around the prefix and suffix).
  const info = hybridJson(['info', MODEL]);
  assert.deepEqual([info.specialTokens.fimPre.id, info.specialTokens.fimSuf.id, info.specialTokens.fimMid.id], [1, 2, 3]);
  assert.equal(info.tokenizer.pre, 'llama3');
});
