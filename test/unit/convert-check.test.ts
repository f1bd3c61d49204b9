// tools/convert/check-against-torch.mjs on a random BF16, sharded checkpoint whose "PyTorch" reference
// (reference-logits.json and tokenizer-check.json in tools/train/train.py's format) is computed here by the
// float64 reference and the independent BPE: the script passes on it, and fails when a logit, a greedy
// token or a tokenization in the reference is wrong.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { convertCheckpoint } from '../../tools/convert/convert';
import { hybridCli, repoRoot } from '../fixtures/hybrid-cli';
import { makeNemotronHCheckpoint, referenceBpeEncode, type Checkpoint } from '../fixtures/safetensors';
import { decodeTensor } from '../reference/formats';
import { readGguf } from '../reference/gguf-read';
import { NemotronHReference } from '../reference/nemotron-h';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hybrid-check-torch-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const script = path.join(repoRoot, 'tools', 'convert', 'check-against-torch.mjs');

let ck: Checkpoint;
let reference: any;
let tokCheck: any;

const argmax = (row: ArrayLike<number>) => {
  let b = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[b]) b = i;
  return b;
};

before(() => {
  ck = makeNemotronHCheckpoint(path.join(dir, 'hf'), 'tiny', { seed: 11, dtype: 'BF16', shards: 2 });
  const f32 = path.join(dir, 'ref-f32.gguf');
  convertCheckpoint({ inDir: ck.dir, outFile: f32, type: 'f32' });
  const model = new NemotronHReference(readGguf(f32), decodeTensor);
  const enc = (s: string) => referenceBpeEncode(ck.tokenizer.json, s, true);
  const seqs: Array<[string, number[]]> = [
    ['plain', enc('function fibonacci(n) {\n  if (n < 2) return n;\n  return ')],
    ['fim', [5, ...enc('export function clamp(v) {\n  '), 7, ...enc('\n}\n'), 6]],
  ];
  const nLast = 8, nNew = 6;
  reference = {
    dtype: 'float64 reference (test)', device: 'cpu',
    sequences: seqs.map(([name, ids]) => {
      const logits = model.forward(ids);
      const seq = [...ids];
      const greedy: number[] = [];
      for (let i = 0; i < nNew; i++) {
        const next = argmax(model.forward(seq).at(-1)!);
        greedy.push(next);
        seq.push(next);
      }
      return {
        name, input_ids: ids, n_last: nLast, positions: ids.map((_, i) => i).slice(-nLast),
        logits: logits.slice(-nLast).map((r) => Array.from(r, (v) => Number(v.toPrecision(6)))), greedy,
      };
    }),
  };
  const texts = ['function add(a, b) {\n  return a + b;\n}\n', "I'm sure it's THE answer", '<|fim_prefix|>x<|fim_suffix|>y<|fim_middle|>', ''];
  tokCheck = { pre: 'llama3', cases: texts.map((text) => ({ text, ids: referenceBpeEncode(ck.tokenizer.json, text, true), roundtrip: true })) };
});

function runCheck(ref: any, tc: any): { status: number | null; out: string } {
  fs.writeFileSync(path.join(ck.dir, 'reference-logits.json'), JSON.stringify(ref));
  fs.writeFileSync(path.join(ck.dir, 'tokenizer-check.json'), JSON.stringify(tc));
  const cli = hybridCli();
  assert.ok(cli, 'the hybrid CLI is not built');
  const r = spawnSync(process.execPath, [script, '--hf', ck.dir, '--types', 'f32'], { encoding: 'utf8', env: { ...process.env, HYBRID_CLI: cli } });
  return { status: r.status, out: r.stdout + r.stderr };
}

test('check-against-torch passes when the runtime matches the reference', () => {
  const r = runCheck(reference, tokCheck);
  console.log(r.out.split('\n').map((l) => `# ${l}`).join('\n'));
  assert.equal(r.status, 0, r.out);
  assert.match(r.out, /all checks passed/);
  assert.match(r.out, /tokenizer-check\.json: 4\/4 strings tokenize identically/);
  assert.match(r.out, /plain\s+\d+\s+\S+\s+\S+\s+8\/8\s+6\/6\s+6\/6/);
});

test('check-against-torch fails on a wrong logit, a wrong greedy token, a wrong tokenization', () => {
  const badLogit = structuredClone(reference);
  badLogit.sequences[0].logits[3][10] += 5;
  let r = runCheck(badLogit, tokCheck);
  assert.equal(r.status, 1, r.out);
  assert.match(r.out, /FAIL \(f32.*plain: max rel/);

  const badGreedy = structuredClone(reference);
  badGreedy.sequences[1].greedy[5] = (badGreedy.sequences[1].greedy[5] + 1) % 300; // the last step: earlier ones keep their prefix
  r = runCheck(badGreedy, tokCheck);
  assert.equal(r.status, 1, r.out);
  assert.match(r.out, /fim: teacher-forced greedy 5\/6/);
  assert.match(r.out, /fim\s+\d+\s+\S+\s+\S+\s+8\/8\s+5\/6\s+5\/6/);

  const badTok = structuredClone(tokCheck);
  badTok.cases[0].ids = [...badTok.cases[0].ids, 42];
  r = runCheck(reference, badTok);
  assert.equal(r.status, 1, r.out);
  assert.match(r.out, /3\/4 strings tokenize identically/);
});
