// `hybrid tokenize` on a small vocabulary: output shapes, BOS handling, special parsing, bytes that are not
// UTF-8, and exit code 2 on bad input. (Agreement with llama.cpp: test/conformance/tokenizer.test.ts.)
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { defaultVocab } from '../fixtures/default-vocab';
import { hybridCli, runSync } from '../fixtures/hybrid-cli';
import { writeVocabGguf } from '../fixtures/tokenizer/vocabs';

let cli: string;
let model: string;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hybrid-tok-cli-'));

before(() => {
  const bin = hybridCli();
  assert.ok(bin, 'the hybrid CLI is not built (npm run build:native, or set HYBRID_CLI)');
  cli = bin;
  model = writeVocabGguf({ name: 'default-vocab', spec: { ...defaultVocab(), pre: 'dbrx' } }, dir);
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

const tok = (...args: string[]) => {
  const r = runSync(cli, ['tokenize', model, ...args]);
  return { ...r, json: r.status === 0 && args.includes('--json') ? JSON.parse(r.stdout) : undefined };
};

test('tokenize --json gives tokens and pieces, BOS first when the model asks for it', () => {
  const r = tok('--text', ' the cat', '--json');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.json.tokens[0], 1, 'BOS <s>');
  assert.equal(r.json.pieces.join(''), '<s> the cat');
  assert.deepEqual(tok('--text', ' the cat', '--json', '--no-bos').json.tokens, r.json.tokens.slice(1));
});

test('control tokens are parsed only with --special', () => {
  const plain = tok('--text', '<|im_end|>', '--json', '--no-bos').json.tokens as number[];
  const special = tok('--text', '<|im_end|>', '--json', '--no-bos', '--special').json.tokens as number[];
  assert.deepEqual(special, [4]);
  assert.ok(plain.length > 1 && !plain.includes(4));
});

test('plain output: one token per line, id and quoted piece', () => {
  const r = tok('--text', 'a\tb', '--no-bos');
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n').map((l) => l.split('\t')[1]), ["'a'", "'\\t'", "'b'"]);
});

test('--file and --detokenize round trip, and bytes that are not UTF-8 come back as hex', () => {
  const f = path.join(dir, 'in.txt');
  fs.writeFileSync(f, 'héllo\n');
  const ids = tok('--file', f, '--json', '--no-bos').json.tokens as number[];
  assert.equal(tok('--detokenize', ids.join(','), '--json').json.text, 'héllo\n');
  const e9 = ids.slice(1, 3); // the two byte tokens of é
  const half = tok('--detokenize', String(e9[0]), '--json').json;
  assert.equal(half.text, '\ufffd');
  assert.equal(half.bytes, 'c3');
});

test('--info reports special ids and the EOG set', () => {
  const info = tok('--info', '--json').json;
  assert.equal(info.bos, 1);
  assert.equal(info.eos, 2);
  assert.equal(info.eot, 4);
  assert.deepEqual(info.eog, [2, 4]);
  assert.equal(info.add_bos, true);
});

test('bad input exits with code 2 and says what is wrong', () => {
  const bad = tok('--detokenize', '1,999999', '--json');
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /out of range/);
  const missing = runSync(cli, ['tokenize', path.join(dir, 'none.gguf'), '--text', 'x']);
  assert.equal(missing.status, 2);
  const usage = runSync(cli, ['tokenize', model]);
  assert.equal(usage.status, 2);
  const pre = writeVocabGguf({ name: 'bad-pre', spec: { ...defaultVocab(), pre: 'no-such-pre' } }, dir);
  const r = runSync(cli, ['tokenize', pre, '--text', 'x']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /pre-tokenizer 'no-such-pre'/);
});
