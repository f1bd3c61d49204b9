// The bad-file corpus: hostile and broken GGUF files generated from one good tiny model (truncations at
// every byte of the header and a sample of the data, corrupt magic/version/counts/lengths/offsets/types,
// invalid UTF-8, duplicates, architecture mismatches, missing and extra tensors). `hybrid info` must exit
// with code 2 and exactly one line on stderr for each: never a crash, a signal, a sanitizer report or an
// "internal error". Runs the normal CLI (HYBRID_CLI) and, when built, the ASan+UBSan one (HYBRID_CLI_ASAN).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import type { TokenizerSpec } from '../fixtures/default-vocab';
import { encode, FORMATS } from '../fixtures/ggml-formats';
import { arr, f32, GgufType, GgufWriter, str, u32, type GgufArray, type Layout } from '../fixtures/gguf-writer';
import { hybridClis, mapLimit, run, runSync } from '../fixtures/hybrid-cli';
import { buildNemotronH } from '../fixtures/nemotron-h';
import { Rng } from '../fixtures/prng';

// A small vocabulary keeps the header (and so the every-byte truncation sweep) short.
const TOKENIZER: TokenizerSpec = {
  model: 'gpt2',
  pre: 'gpt-2',
  tokens: ['<unk>', '<s>', '</s>', '<|im_start|>', '<|im_end|>', 'a', 'b', 'ab'],
  tokenTypes: [2, 3, 3, 3, 3, 1, 1, 1],
  merges: ['a b'],
  unk: 0, bos: 1, eos: 2, eot: 4,
  addBos: true,
  chatTemplate: '{{ messages }}',
};

function base(): GgufWriter {
  return buildNemotronH('tiny', { seed: 2, format: 'q8_0', tokenizer: TOKENIZER });
}

const good = base().build();

interface Case {
  name: string;
  bytes: () => Buffer;
  expect?: RegExp; // the error line must match
}

function patched(edit: (b: Buffer, l: Layout) => void): () => Buffer {
  return () => {
    const b = Buffer.from(good.bytes);
    edit(b, good.layout);
    return b;
  };
}
const setU32 = (b: Buffer, off: number, v: number) => b.writeUInt32LE(v >>> 0, off);
const setU64 = (b: Buffer, off: number, v: bigint) => b.writeBigUInt64LE(BigInt.asUintN(64, v), off);
const kv = (l: Layout, key: string) => {
  const k = l.kvs.find((x) => x.key === key);
  if (!k) throw new Error(`no key ${key}`);
  return k;
};
const tensor = (l: Layout, name: string) => {
  const t = l.tensors.find((x) => x.name === name);
  if (!t) throw new Error(`no tensor ${name}`);
  return t;
};
function rebuilt(edit: (w: GgufWriter) => void): () => Buffer {
  return () => {
    const w = base();
    edit(w);
    return w.toBuffer();
  };
}
function f32Tensor(name: string, ne: number[], type = FORMATS.f32): Parameters<GgufWriter['addTensor']>[0] {
  const n = ne.reduce((a, b) => a * b, 1);
  return { name, type: type.type, ne, data: encode(type, new Rng(9, name).normals(n, 0.1)) };
}

const P63 = 1n << 63n;
const MAX64 = (1n << 64n) - 1n;

// Header truncation lengths: every byte, or (`sampled`, for the slow sanitized binary) every byte of the
// first 512, every field boundary and its neighbours, and every 7th byte in between. test_gguf.cpp
// truncates at every byte in-process under ASan too. HYBRID_BADFILES_FULL=1 sweeps every byte always.
function headerTruncations(l: Layout, sampled: boolean): number[] {
  if (!sampled || process.env.HYBRID_BADFILES_FULL === '1') return Array.from({ length: l.dataStart }, (_, n) => n);
  const at = new Set<number>();
  for (let n = 0; n < Math.min(512, l.dataStart); n++) at.add(n);
  for (let n = 0; n < l.dataStart; n += 7) at.add(n);
  const edges = [l.headerEnd, ...l.kvs.flatMap((k) => [k.start, k.valueType, k.value, k.end]),
    ...l.tensors.flatMap((t) => [t.start, t.nDims, t.ne, t.type, t.offset, t.end])];
  for (const e of edges) for (const d of [-1, 0, 1, 8]) if (e + d >= 0 && e + d < l.dataStart) at.add(e + d);
  return [...at].sort((a, b) => a - b);
}

export function corpus(sampled = false): Case[] {
  const l = good.layout;
  const cases: Case[] = [];
  const add = (name: string, bytes: () => Buffer, expect?: RegExp) => cases.push({ name, bytes, expect });

  // ---- truncation: the header region byte by byte, a sample of the data region ----
  for (const n of headerTruncations(l, sampled)) add(`truncated to ${n} bytes`, () => good.bytes.subarray(0, n));
  const lastEnd = l.tensors[l.tensors.length - 1].dataStart + l.tensors[l.tensors.length - 1].nbytes;
  const rng = new Rng(1, 'truncation');
  const samples = new Set<number>([l.dataStart, l.dataStart + 1, lastEnd - 1]);
  for (const t of l.tensors) samples.add(t.dataStart + t.nbytes - 1);
  while (samples.size < 160) samples.add(l.dataStart + Math.floor(rng.uniform() * (lastEnd - l.dataStart)));
  for (const n of samples) add(`truncated to ${n} bytes (data)`, () => good.bytes.subarray(0, n), /past the end of the file/);

  // ---- magic and version ----
  add('empty file', () => Buffer.alloc(0), /empty/);
  add('3 bytes', () => Buffer.from('GGU'), /not a GGUF file/);
  add('text file', () => Buffer.from('hello, world\n'), /not a GGUF file/);
  for (const magic of ['GGML', 'ggjt', 'GGUf', '\0\0\0\0', 'FUGG'])
    add(`magic ${JSON.stringify(magic)}`, patched((b) => b.write(magic, 0, 'latin1')), /not a GGUF file/);
  for (const v of [0, 1, 4, 0x03000000, 0xffffffff])
    add(`version ${v}`, patched((b) => setU32(b, 4, v)), /version/);

  // ---- absurd counts ----
  const nT = BigInt(l.tensors.length);
  const nK = BigInt(l.kvs.length);
  for (const v of [P63, MAX64, 1n << 40n]) {
    add(`tensor count ${v}`, patched((b) => setU64(b, 8, v)), /claims \d+ tensors/);
    add(`metadata count ${v}`, patched((b) => setU64(b, 16, v)), /claims \d+ metadata entries/);
  }
  add('tensor count + 1', patched((b) => setU64(b, 8, nT + 1n)));
  // (tensor count - 1 is not in the corpus: dropping the last tensor info, output.weight, leaves a valid
  // tied model whose data section starts a little earlier; nothing in the format can tell.)
  add('tensor count - 2', patched((b) => setU64(b, 8, nT - 2n)), /output_norm.weight is missing/);
  add('tensor count 0', patched((b) => setU64(b, 8, 0n)));
  add('metadata count + 1', patched((b) => setU64(b, 16, nK + 1n)));
  add('metadata count - 1', patched((b) => setU64(b, 16, nK - 1n)));
  add('metadata count 0', patched((b) => setU64(b, 16, 0n)));

  // ---- lengths ----
  const first = l.kvs[0];
  for (const v of [1n << 60n, MAX64, P63]) {
    add(`first key length ${v}`, patched((b) => setU64(b, first.start, v)), /length \d+/);
    add(`architecture string length ${v}`, patched((b) => setU64(b, first.value, v)), /length \d+/);
    add(`first tensor name length ${v}`, patched((b) => setU64(b, l.tensors[0].start, v)), /length \d+/);
  }
  add('first key length 0', patched((b) => setU64(b, first.start, 0n)), /key is empty/);
  add('first key length + 1', patched((b) => setU64(b, first.start, BigInt(first.valueType - first.start - 8 + 1))));
  add('first tensor name length 0', patched((b) => setU64(b, l.tensors[0].start, 0n)), /name is empty/);
  const tokens = kv(l, 'tokenizer.ggml.tokens');
  for (const v of [1n << 62n, MAX64, 1n << 32n])
    add(`token array count ${v}`, patched((b) => setU64(b, tokens.value + 4, v)), /claims \d+ elements/);
  add('first token length 2^60', patched((b) => setU64(b, tokens.value + 12, 1n << 60n)), /length \d+/);
  add('first token length 2^64-1', patched((b) => setU64(b, tokens.value + 12, MAX64)), /length \d+/);
  add('long tensor name', rebuilt((w) => { w.tensors[0].name = 'x'.repeat(64); }), /longer than ggml's limit/);

  // ---- value types ----
  for (const t of [13, 255, 0xffffffff])
    add(`value type ${t}`, patched((b) => setU32(b, first.valueType, t)), /unknown value type/);
  add('array element type 13', patched((b) => setU32(b, tokens.value, 13)), /unknown array element type/);
  add('bool value 2', patched((b) => b.writeUInt8(2, kv(l, 'nemotron_h.rope.scaling.finetuned').value)), /neither 0 nor 1/);
  add('bool array element 7', rebuilt((w) => w.set('test.bools', arr(GgufType.BOOL, [true, 7 as unknown as boolean]))), /neither 0 nor 1/);
  let nested: GgufArray = { itemType: GgufType.U8, items: [1] };
  for (let i = 0; i < 10; i++) nested = { itemType: GgufType.ARRAY, items: [nested] };
  add('arrays nested 11 deep', rebuilt((w) => w.set('test.nested', { type: GgufType.ARRAY, value: nested })), /nested more than/);

  // ---- tensor infos ----
  const t0 = l.tensors[0]; // token_embd.weight, Q8_0 {256, 8}
  for (const v of [0, 5, 0xffffffff]) add(`n_dims ${v}`, patched((b) => setU32(b, t0.nDims, v)), /n_dims/);
  add('dimension 0', patched((b) => setU64(b, t0.ne, 0n)), /dimension 0 is 0/);
  add('dimension 2^63', patched((b) => setU64(b, t0.ne + 8, P63)), /overflows/);
  add('dimensions 2^32 x 2^32', patched((b) => { setU64(b, t0.ne, 1n << 32n); setU64(b, t0.ne + 8, 1n << 32n); }));
  add('dimensions 2^62 x 4', patched((b) => { setU64(b, t0.ne, 1n << 62n); setU64(b, t0.ne + 8, 4n); }), /overflows|past the end/);
  add('row not whole Q8_0 blocks', patched((b) => setU64(b, t0.ne, 33n)), /not a multiple of the Q8_0 block size/);
  for (const t of [99, 0xffffffff]) add(`ggml type ${t}`, patched((b) => setU32(b, t0.type, t)), /is not a ggml type/);
  for (const [t, name] of [[10, 'Q2_K'], [11, 'Q3_K'], [15, 'Q8_K'], [9, 'Q8_1'], [16, 'IQ2_XXS'], [28, 'F64'], [39, 'MXFP4']] as const)
    add(`ggml type ${name}`, patched((b) => setU32(b, t0.type, t)), new RegExp(`${name} \\(${t}\\) is not supported \\(supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K\\)`));
  add('ggml type Q5_0 (supported, but the data no longer fits)', patched((b) => setU32(b, t0.type, 6)), /does not follow|past the end/);

  // ---- offsets ----
  const tl = l.tensors[l.tensors.length - 1];
  add('offset 2^63', patched((b) => setU64(b, t0.offset, P63)), /past the end of the file/);
  add('offset 2^64-32', patched((b) => setU64(b, t0.offset, MAX64 - 31n)), /past the end of the file/);
  add('offset past the end', patched((b) => setU64(b, tl.offset, BigInt(l.size))), /past the end of the file/);
  add('misaligned offset', patched((b) => setU64(b, tl.offset, BigInt(tl.dataOffset + 1))), /not a multiple of the alignment/);
  add('offset with a gap', patched((b) => setU64(b, tl.offset, BigInt(tl.dataOffset + 32))), /does not follow|past the end/);
  add('gap after the first tensor', patched((b) => setU64(b, l.tensors[1].offset, BigInt(l.tensors[1].dataOffset + 32))), /does not follow the previous tensor's data/);
  add('overlapping offsets', patched((b) => setU64(b, l.tensors[1].offset, 0n)), /does not follow/);
  add('alignment 0', rebuilt((w) => { w.set('general.alignment', u32(0)); w.alignment = 32; }), /general.alignment = 0/);
  add('alignment 3', rebuilt((w) => { w.set('general.alignment', u32(3)); w.alignment = 32; }), /general.alignment = 3/);
  add('alignment 4', rebuilt((w) => { w.set('general.alignment', u32(4)); w.alignment = 32; }), /general.alignment = 4/);
  add('alignment 2^31', rebuilt((w) => { w.set('general.alignment', u32(2 ** 31)); w.alignment = 32; }), /past the end|does not follow/);
  add('alignment as a string', rebuilt((w) => w.set('general.alignment', str('32'))), /general.alignment has type string/);
  add('alignment 64, data at 32', rebuilt((w) => { w.set('general.alignment', u32(64)); w.alignment = 32; }));

  // ---- names ----
  add('invalid UTF-8 key', rebuilt((w) => w.add(new Uint8Array([0x61, 0xff, 0x62]), u32(1))), /not valid UTF-8/);
  add('overlong UTF-8 key', rebuilt((w) => w.add(new Uint8Array([0xc0, 0xaf]), u32(1))), /not valid UTF-8/);
  add('surrogate in key', rebuilt((w) => w.add(new Uint8Array([0xed, 0xa0, 0x80]), u32(1))), /not valid UTF-8/);
  add('invalid UTF-8 tensor name', rebuilt((w) => { w.tensors[3].name = new Uint8Array([0x62, 0x80]); }), /not valid UTF-8/);
  add('duplicate key', rebuilt((w) => w.add('general.name', str('again'))), /duplicate metadata key 'general.name'/);
  add('duplicate tensor name', rebuilt((w) => { w.tensors[5].name = w.tensors[4].name; }), /duplicate tensor name/);

  // ---- hyperparameters ----
  const A = 'nemotron_h';
  add('no architecture', rebuilt((w) => w.delete('general.architecture')), /general.architecture' is missing/);
  add('architecture llama', rebuilt((w) => w.set('general.architecture', str('llama'))), /architecture 'llama' is not supported \(supported: nemotron_h, granitehybrid\)/);
  add('architecture nemotron_h_moe', rebuilt((w) => w.set('general.architecture', str('nemotron_h_moe'))), /not supported/);
  add('architecture as u32', rebuilt((w) => w.set('general.architecture', u32(1))), /has type u32, expected string/);
  add('no block_count', rebuilt((w) => w.delete(`${A}.block_count`)), /block_count' is missing/);
  add('block_count 0', rebuilt((w) => w.set(`${A}.block_count`, u32(0))), /block_count' is 0/);
  add('block_count 7', rebuilt((w) => w.set(`${A}.block_count`, u32(7))), /has 6 elements, expected one per layer/);
  add('block_count 2^31', rebuilt((w) => w.set(`${A}.block_count`, u32(2 ** 31))), /implausibly large|only \d+ tensors/);
  add('block_count 4e9', rebuilt((w) => w.set(`${A}.block_count`, u32(4e9))), /implausibly large|only \d+ tensors/);
  add('head_count_kv too short', rebuilt((w) => w.set(`${A}.attention.head_count_kv`, arr(GgufType.I32, [0, 0, 0]))), /has 3 elements/);
  add('head_count_kv negative', rebuilt((w) => w.set(`${A}.attention.head_count_kv`, arr(GgufType.I32, [0, 0, 0, -2, 0, 0]))), /out of range/);
  add('head_count_kv strings', rebuilt((w) => w.set(`${A}.attention.head_count_kv`, arr(GgufType.STRING, ['0', '0', '0', '2', '0', '0']))), /expected an array of integers/);
  add('head_count not a multiple of head_count_kv', rebuilt((w) => w.set(`${A}.attention.head_count_kv`, arr(GgufType.I32, [0, 0, 0, 3, 0, 0]))), /not a multiple of head_count_kv/);
  add('feed_forward_length as a string', rebuilt((w) => w.set(`${A}.feed_forward_length`, str('256'))), /has type string/);
  add('no state_size', rebuilt((w) => w.delete(`${A}.ssm.state_size`)), /ssm.state_size' is missing/);
  add('group_count 3', rebuilt((w) => w.set(`${A}.ssm.group_count`, u32(3))), /not a multiple of ssm.group_count/);
  add('inner_size 250', rebuilt((w) => w.set(`${A}.ssm.inner_size`, u32(250))), /not a multiple of ssm.time_step_rank/);
  add('no norm epsilon', rebuilt((w) => { w.delete(`${A}.attention.layer_norm_epsilon`); w.delete(`${A}.attention.layer_norm_rms_epsilon`); }), /layer_norm_epsilon' is missing/);
  add('negative epsilon', rebuilt((w) => w.set(`${A}.attention.layer_norm_rms_epsilon`, f32(-1))), /epsilon/);
  add('NaN epsilon', rebuilt((w) => w.set(`${A}.attention.layer_norm_rms_epsilon`, f32(NaN))), /epsilon/);
  add('epsilon as u32', rebuilt((w) => w.set(`${A}.attention.layer_norm_rms_epsilon`, u32(1))), /expected f32/);
  add('key_length != value_length', rebuilt((w) => w.set(`${A}.attention.value_length`, u32(32))), /differ/);
  add('vocab_size mismatch', rebuilt((w) => w.set(`${A}.vocab_size`, u32(9))), /vocab_size' = 9, but token_embd.weight has 8 rows/);
  add('token count mismatch', rebuilt((w) => w.set('tokenizer.ggml.tokens', arr(GgufType.STRING, [...TOKENIZER.tokens, 'c']))), /has 9 tokens, but token_embd.weight has 8 rows/);
  add('embedding_length 128', rebuilt((w) => w.set(`${A}.embedding_length`, u32(128))), /has shape \{256, 8\}, expected \{128, 8\}/);
  add('bos id as string', rebuilt((w) => w.set('tokenizer.ggml.bos_token_id', str('1'))), /bos_token_id' has type string/);

  // ---- tensors against the architecture ----
  const replace = (name: string, entry: Parameters<GgufWriter['addTensor']>[0]) => (w: GgufWriter) => {
    const i = w.tensors.findIndex((t) => t.name === name);
    w.tensors[i] = entry;
  };
  add('conv1d shape swapped', rebuilt(replace('blk.0.ssm_conv1d.weight', f32Tensor('blk.0.ssm_conv1d.weight', [320, 4]))),
    /tensor blk.0.ssm_conv1d.weight has shape \{320, 4\}, expected \{4, 320\} = \{d_conv, d_inner \+ 2\*n_group\*d_state\}/);
  add('ssm_a as {4, 1}', rebuilt(replace('blk.2.ssm_a', f32Tensor('blk.2.ssm_a', [4, 1]))), /blk.2.ssm_a has shape \{4, 1\}, expected \{1, 4\}/);
  add('ssm_a 1-D', rebuilt(replace('blk.2.ssm_a', f32Tensor('blk.2.ssm_a', [4]))), /blk.2.ssm_a has shape \{4\}/);
  add('ssm_in with wrong rows', rebuilt(replace('blk.4.ssm_in.weight', f32Tensor('blk.4.ssm_in.weight', [256, 584], FORMATS.q8_0))), /blk.4.ssm_in.weight has shape \{256, 584\}, expected \{256, 580\}/);
  add('3-D attn_q', rebuilt(replace('blk.3.attn_q.weight', f32Tensor('blk.3.attn_q.weight', [256, 128, 2], FORMATS.q8_0))), /blk.3.attn_q.weight has shape \{256, 128, 2\}/);
  add('ssm_a in F16', rebuilt(replace('blk.0.ssm_a', f32Tensor('blk.0.ssm_a', [1, 4], FORMATS.f16))), /blk.0.ssm_a has type F16, expected F32 \(ggml_ssm_scan needs F32\)/);
  add('attn_norm in BF16', rebuilt(replace('blk.1.attn_norm.weight', f32Tensor('blk.1.attn_norm.weight', [256], FORMATS.bf16))), /has type BF16, expected F32/);
  add('conv1d in F16', rebuilt(replace('blk.0.ssm_conv1d.weight', f32Tensor('blk.0.ssm_conv1d.weight', [4, 320], FORMATS.f16))), /ggml_ssm_conv needs F32/);
  add('token_embd with 9 rows', rebuilt(replace('token_embd.weight', f32Tensor('token_embd.weight', [256, 9], FORMATS.q8_0))), /9/);
  for (const name of ['blk.2.ssm_d', 'output_norm.weight', 'token_embd.weight', 'blk.3.attn_v.weight', 'blk.5.ffn_down.weight', 'blk.0.ssm_conv1d.bias', 'blk.4.attn_norm.weight'])
    add(`missing ${name}`, rebuilt((w) => w.removeTensor(name)), new RegExp(`tensor ${name.replace(/\./g, '\\.')} is missing`));
  add('extra blk.0.foo.weight', rebuilt((w) => w.addTensor(f32Tensor('blk.0.foo.weight', [256]))), /unexpected tensor blk.0.foo.weight: not part of a nemotron_h model/);
  add('extra ssm_in on an MLP layer', rebuilt((w) => w.addTensor(f32Tensor('blk.1.ssm_in.weight', [256, 580], FORMATS.q8_0))),
    /unexpected tensor blk.1.ssm_in.weight: layer 1 is an mlp layer/);
  add('extra ffn_up on a Mamba layer', rebuilt((w) => w.addTensor(f32Tensor('blk.0.ffn_up.weight', [256, 256], FORMATS.q8_0))), /layer 0 is a mamba2 layer/);
  add('extra layer 9', rebuilt((w) => w.addTensor(f32Tensor('blk.9.attn_norm.weight', [256]))), /the model has 6 layers/);
  add('extra rope_freqs', rebuilt((w) => w.addTensor(f32Tensor('rope_freqs.weight', [32]))), /unexpected tensor rope_freqs.weight/);
  add('fused attn_qkv', rebuilt((w) => w.addTensor(f32Tensor('blk.3.attn_qkv.weight', [256, 512], FORMATS.q8_0))), /unexpected tensor blk.3.attn_qkv.weight/);
  return cases;
}

function checkResult(c: Case, r: { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }): string | undefined {
  const lines = r.stderr.replace(/\n$/, '').split('\n');
  if (r.signal) return `killed by ${r.signal}`;
  if (r.status !== 2) return `exit code ${r.status}`;
  if (r.stdout !== '') return `stdout not empty: ${JSON.stringify(r.stdout.slice(0, 200))}`;
  if (!r.stderr.endsWith('\n') || lines.length !== 1 || lines[0].trim() === '') return `stderr is not one line: ${JSON.stringify(r.stderr.slice(0, 400))}`;
  if (/internal error|AddressSanitizer|runtime error|LeakSanitizer/.test(r.stderr)) return `stderr: ${lines[0]}`;
  if (c.expect && !c.expect.test(lines[0])) return `message does not match ${c.expect}: ${lines[0]}`;
  return undefined;
}

const clis = process.env.HYBRID_BADFILES_LIST ? [] : hybridClis();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hybrid-badfiles-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

test('the corpus base file is valid, and a tied model (no output.weight) is accepted', { skip: clis.length ? false : 'hybrid CLI not built' }, () => {
  const file = path.join(tmp, 'good.gguf');
  fs.writeFileSync(file, good.bytes);
  const tied = path.join(tmp, 'tied.gguf');
  fs.writeFileSync(tied, rebuilt((w) => w.removeTensor('output.weight'))());
  for (const { bin, env } of clis) {
    const r = runSync(bin, ['info', file, '--json'], env);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).vocabSize, 8);
    const rt = runSync(bin, ['info', tied, '--json'], env);
    assert.equal(rt.status, 0, rt.stderr);
    assert.equal(JSON.parse(rt.stdout).tiedOutput, true);
  }
});

for (const { label, bin, env } of clis) {
  test(`bad-file corpus: hybrid info exits 2 with one clear line (${label}: ${path.relative(process.cwd(), bin)})`, async (t) => {
    const cases = corpus(label === 'asan');
    const truncations = cases.filter((c) => /^truncated to \d+ bytes$/.test(c.name)).length;
    const t0 = Date.now();
    const failures = (
      await mapLimit(cases, 4, async (c, i) => {
        const file = path.join(tmp, `${label}-${i}.gguf`);
        fs.writeFileSync(file, c.bytes());
        const r = await run(bin, ['info', file], env);
        fs.unlinkSync(file);
        const why = checkResult(c, r);
        return why ? `${c.name}: ${why}` : undefined;
      })
    ).filter((x): x is string => x !== undefined);
    const msg = `${label}: ${cases.length} bad files (${truncations} of ${good.layout.dataStart} header truncations), ${((Date.now() - t0) / 1000).toFixed(1)} s`;
    t.diagnostic(msg);
    assert.deepEqual(failures.slice(0, 20), [], `${failures.length} of ${cases.length} bad files misbehaved`);
  });
}

test('the JSON mode fails the same way (no partial JSON on stdout)', { skip: clis.length ? false : 'hybrid CLI not built' }, () => {
  const file = path.join(tmp, 'bad-json.gguf');
  fs.writeFileSync(file, good.bytes.subarray(0, 1000));
  const r = runSync(clis[0].bin, ['info', file, '--json'], clis[0].env);
  assert.equal(r.status, 2);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^\S*bad-json\.gguf: corrupt header: it claims 41 tensors, but the file \(1000 bytes\) can hold at most \d+\n$/);
});
