// `hybrid info` on fixture models: every field of the JSON summary, the text summary, the metadata dump
// (a round trip of every GGUF value type through the C++ reader), GGUF v2, other alignments, usage errors.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { CHATML_TEMPLATE } from '../fixtures/default-vocab';
import { FORMATS } from '../fixtures/ggml-formats';
import { arr, bool, f32, f64, GgufType, i16, i32, i64, i8, str, u16, u32, u64, u8, type GgufArray } from '../fixtures/gguf-writer';
import { hybridCli, runSync } from '../fixtures/hybrid-cli';
import { buildNemotronH, countParameters } from '../fixtures/nemotron-h';

const bin = hybridCli();
const skip = bin ? false : 'hybrid CLI not built (build native/build-cli or set HYBRID_CLI)';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hybrid-gguf-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

function info(file: string, ...extra: string[]): any {
  const r = runSync(bin!, ['info', file, '--json', ...extra]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  return JSON.parse(r.stdout);
}

test('info --json describes a tiny q8_0 model completely', { skip }, () => {
  const w = buildNemotronH('tiny', { seed: 4, format: 'q8_0' });
  const { bytes, layout } = w.build();
  const file = path.join(tmp, 'tiny-q8_0.gguf');
  fs.writeFileSync(file, bytes);
  const j = info(file);
  assert.equal(j.file, file);
  assert.equal(j.fileSize, bytes.length);
  assert.equal(j.ggufVersion, 3);
  assert.equal(j.alignment, 32);
  assert.equal(j.dataOffset, layout.dataStart);
  assert.equal(j.architecture, 'nemotron_h');
  assert.equal(j.name, 'hybrid fixture tiny q8_0 seed 4');
  assert.equal(j.fileType, 7);
  assert.equal(j.parameterCount, countParameters(w));
  assert.equal(j.parameterCount, 1247460);
  assert.equal(j.tensorCount, 41);
  assert.equal(j.tensorBytes, layout.tensors.reduce((a, t) => a + t.nbytes, 0));
  assert.equal(j.contextLength, 4096);
  assert.equal(j.embeddingLength, 256);
  assert.equal(j.vocabSize, 272);
  assert.equal(j.blockCount, 6);
  assert.equal(Math.fround(j.normEps), Math.fround(1e-5));
  assert.equal(j.tiedOutput, false);
  assert.deepEqual(j.layers, {
    pattern: 'M-M*M-', mamba2: 3, attention: 1, mlp: 2,
    list: [
      { index: 0, kind: 'mamba2' },
      { index: 1, kind: 'mlp', feedForwardLength: 256 },
      { index: 2, kind: 'mamba2' },
      { index: 3, kind: 'attention', headCount: 4, headCountKv: 2 },
      { index: 4, kind: 'mamba2' },
      { index: 5, kind: 'mlp', feedForwardLength: 256 },
    ],
  });
  assert.deepEqual(j.attention, { headCount: 4, headCountKv: 2, headDim: 64 });
  assert.equal(j.feedForwardLength, 256);
  assert.deepEqual(j.ssm, { convKernel: 4, innerSize: 256, stateSize: 16, headCount: 4, headDim: 64, groupCount: 2 });
  const byType = (t: number) => layout.tensors.filter((x) => w.tensor(x.name)!.type === t);
  assert.deepEqual(j.formats, [
    { type: 'F32', count: byType(0).length, bytes: byType(0).reduce((a, t) => a + t.nbytes, 0) },
    { type: 'Q8_0', count: byType(8).length, bytes: byType(8).reduce((a, t) => a + t.nbytes, 0) },
  ]);
  assert.equal(j.formats[1].count, 16);
  assert.deepEqual(j.tokenizer, { model: 'gpt2', pre: 'gpt-2', tokenCount: 272, mergeCount: 10, addBos: true, addEos: false });
  assert.deepEqual(j.specialTokens, {
    bos: { id: 1, text: '<s>' }, eos: { id: 2, text: '</s>' }, eot: { id: 4, text: '<|im_end|>' }, unk: { id: 0, text: '<unk>' },
  });
  assert.deepEqual(j.chatTemplate, { present: true, length: Buffer.byteLength(CHATML_TEMPLATE) });
  assert.equal(j.metadata, undefined);
});

test('info text mode is a short human summary', { skip }, () => {
  const file = path.join(tmp, 'tiny-text.gguf');
  fs.writeFileSync(file, buildNemotronH('tiny', { seed: 4, format: 'q4_k', tied: true }).toBuffer());
  const r = runSync(bin!, ['info', file]);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.ok(lines.length <= 12, r.stdout);
  assert.match(lines[0], /nemotron_h, 1\.18M parameters, GGUF v3, /);
  assert.match(r.stdout, /layers: 6 \(3 mamba2, 1 attention, 2 mlp\): M-M\*M-/);
  assert.match(r.stdout, /vocab 272, tied output/);
  assert.match(r.stdout, /formats: F32 25 tensors [\d.]+ KiB, Q4_K 15 tensors/);
  assert.match(r.stdout, /special tokens: bos 1 '<s>', eos 2 '<\/s>', eot 4 '<\|im_end\|>', unk 0 '<unk>'/);
});

test('info --metadata round-trips every GGUF value type through the C++ reader', { skip }, () => {
  const w = buildNemotronH('tiny', { seed: 1, format: 'f16' });
  const nested: GgufArray = { itemType: GgufType.ARRAY, items: [{ itemType: GgufType.I16, items: [1, -2] }, { itemType: GgufType.STRING, items: [] }] };
  w.set('t.u8', u8(255)).set('t.i8', i8(-128)).set('t.u16', u16(65535)).set('t.i16', i16(-32768));
  w.set('t.u32', u32(4294967295)).set('t.i32', i32(-2147483648)).set('t.f32', f32(0.1)).set('t.f64', f64(-1.25e-300));
  w.set('t.bool', bool(true)).set('t.str', str('h\u00e9llo \u{1F642}')).set('t.badstr', str(new Uint8Array([0x61, 0xff])));
  w.set('t.u64', u64(2n ** 64n - 1n)).set('t.i64', i64(-(2n ** 63n))).set('t.u64small', u64(12345));
  w.set('t.nested', { type: GgufType.ARRAY, value: nested });
  w.set('t.long', arr(GgufType.I32, Array.from({ length: 40 }, (_, i) => i)));
  const file = path.join(tmp, 'meta.gguf');
  fs.writeFileSync(file, w.toBuffer());
  const meta: { key: string; type: string; count?: number; value: unknown }[] = info(file, '--metadata', '--max-array', '20').metadata;
  const get = (k: string) => meta.find((m) => m.key === k)!;
  assert.equal(meta.length, w.kvs.length);
  assert.deepEqual(meta.map((m) => m.key), w.kvs.map((kv) => kv.key));
  const expect: [string, string, unknown][] = [
    ['t.u8', 'u8', 255], ['t.i8', 'i8', -128], ['t.u16', 'u16', 65535], ['t.i16', 'i16', -32768],
    ['t.u32', 'u32', 4294967295], ['t.i32', 'i32', -2147483648], ['t.bool', 'bool', true],
    ['t.str', 'string', 'h\u00e9llo \u{1F642}'], ['t.badstr', 'string', 'a\ufffd'],
    ['t.u64', 'u64', '18446744073709551615'], ['t.i64', 'i64', '-9223372036854775808'], ['t.u64small', 'u64', 12345],
    ['t.nested', 'array[array[i16]]', [[1, -2], []]],
    ['general.architecture', 'string', 'nemotron_h'], ['nemotron_h.block_count', 'u32', 6],
  ];
  for (const [k, type, value] of expect) {
    assert.equal(get(k).type, type, k);
    assert.deepEqual(get(k).value, value, k);
  }
  assert.equal(Math.fround(get('t.f32').value as number), Math.fround(0.1));
  assert.equal(get('t.f64').value, -1.25e-300);
  assert.equal(get('t.long').count, 40);
  assert.deepEqual(get('t.long').value, Array.from({ length: 20 }, (_, i) => i));
  assert.equal(get('tokenizer.ggml.tokens').type, 'array[string]');
  assert.equal(get('tokenizer.ggml.tokens').count, 272);
  assert.deepEqual((get('tokenizer.ggml.tokens').value as string[]).slice(0, 6), ['<unk>', '<s>', '</s>', '<|im_start|>', '<|im_end|>', '!']);
});

test('GGUF v2 files and 64-byte alignment are read', { skip }, () => {
  const v2 = buildNemotronH('tiny', { seed: 2, format: 'q4_0' });
  v2.version = 2;
  const f2 = path.join(tmp, 'v2.gguf');
  fs.writeFileSync(f2, v2.toBuffer());
  assert.equal(info(f2).ggufVersion, 2);
  const a64 = buildNemotronH('tiny', { seed: 2, format: 'bf16' });
  a64.set('general.alignment', u32(64));
  const f64path = path.join(tmp, 'a64.gguf');
  const { bytes, layout } = a64.build();
  fs.writeFileSync(f64path, bytes);
  assert.ok(layout.tensors.every((t) => t.dataStart % 64 === 0));
  const j = info(f64path);
  assert.equal(j.alignment, 64);
  assert.equal(j.dataOffset, layout.dataStart);
});

test('the writer reports where every field is, and streaming equals building in memory', () => {
  const w = buildNemotronH('tiny', { seed: 8, format: 'q6_k' });
  const { bytes, layout } = w.build();
  assert.equal(bytes.toString('latin1', 0, 4), 'GGUF');
  assert.equal(bytes.readUInt32LE(layout.version), 3);
  assert.equal(bytes.readBigUInt64LE(layout.tensorCount), BigInt(w.tensors.length));
  assert.equal(bytes.readBigUInt64LE(layout.kvCount), BigInt(w.kvs.length));
  const arch = layout.kvs.find((k) => k.key === 'general.architecture')!;
  assert.equal(bytes.readUInt32LE(arch.valueType), GgufType.STRING);
  assert.equal(bytes.toString('utf8', arch.value + 8, arch.end), 'nemotron_h');
  for (const t of layout.tensors) {
    const entry = w.tensor(t.name)!;
    assert.equal(bytes.readUInt32LE(t.nDims), entry.ne.length);
    assert.equal(bytes.readUInt32LE(t.type), entry.type);
    assert.equal(Number(bytes.readBigUInt64LE(t.offset)), t.dataOffset);
    assert.equal(t.dataStart % 32, 0);
  }
  assert.equal(layout.size, bytes.length);
  const file = path.join(tmp, 'stream.gguf');
  w.writeFile(file);
  assert.ok(fs.readFileSync(file).equals(bytes));
  assert.equal(FORMATS.q6_k.typeSize, 210);
});

test('usage errors and unreadable paths exit with code 2 and one line', { skip }, () => {
  const cases: [string[], RegExp][] = [
    [['info'], /usage: hybrid info MODEL/],
    [['info', 'a', 'b'], /usage: hybrid info MODEL/],
    [['info', path.join(tmp, 'missing.gguf')], /cannot open .*missing\.gguf: No such file or directory/],
    [['info', tmp], /cannot open .*: it is a directory/],
    [['info', 'x.gguf', '--frobnicate', '1'], /unknown option --frobnicate/],
    [['info', 'x.gguf', '--json=1'], /--json takes no value/],
    [['dump-tensor', 'x.gguf'], /usage: hybrid dump-tensor/],
  ];
  for (const [args, re] of cases) {
    const r = runSync(bin!, args);
    assert.equal(r.status, 2, args.join(' '));
    assert.equal(r.stdout, '');
    assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, re);
  }
});
