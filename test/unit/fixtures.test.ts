// The fixture generator: deterministic output, the tensor names/shapes/metadata of real nemotron_h files
// for every preset (checked from the header alone, without generating the large ones), sane weight
// statistics, the default vocabulary, the caller's tokenizer, the K-quant fallback and the make-model CLI.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { CHATML_TEMPLATE, DEFAULT_VOCAB_BASE, defaultVocab, gpt2ByteOrder } from '../fixtures/default-vocab';
import { bf16Bits, encode, FILE_FORMATS, FORMATS, fp16Bits, fp16Value, roundHalfEven } from '../fixtures/ggml-formats';
import { GgufType, type GgufArray } from '../fixtures/gguf-writer';
import { repoRoot } from '../fixtures/hybrid-cli';
import { buildNemotronH, countParameters, makeNemotronH, PRESETS, type PresetName } from '../fixtures/nemotron-h';
import { Rng } from '../fixtures/prng';
import { decodeRow } from '../reference/formats';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hybrid-fixtures-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

function shapes(preset: PresetName): Map<string, number[]> {
  return new Map(buildNemotronH(preset).tensors.map((t) => [t.name as string, t.ne.map(Number)]));
}

test('the same seed gives the same bytes; another seed other weights', () => {
  const a = makeNemotronH('tiny', { seed: 3, format: 'q4_k' });
  const b = makeNemotronH('tiny', { seed: 3, format: 'q4_k' });
  const c = makeNemotronH('tiny', { seed: 4, format: 'q4_k', name: 'hybrid fixture tiny q4_k seed 3' });
  assert.ok(a.equals(b));
  assert.equal(a.length, c.length);
  assert.ok(!a.equals(c));
  assert.ok(a.subarray(0, 4096).equals(c.subarray(0, 4096)), 'same header when only the seed differs');
  const r1 = new Rng(1, 'x');
  const r2 = new Rng(1, 'x');
  for (let i = 0; i < 100; i++) assert.equal(r1.nextU32(), r2.nextU32());
  assert.notEqual(new Rng(1, 'x').nextU32(), new Rng(1, 'y').nextU32());
});

test('tiny: names, shapes and metadata of a nemotron_h file', () => {
  const w = buildNemotronH('tiny');
  const s = shapes('tiny');
  const E = 256, D = 256, G = 2, N = 16, H = 4;
  assert.deepEqual(s.get('token_embd.weight'), [E, 272]);
  assert.deepEqual(s.get('output.weight'), [E, 272]);
  assert.deepEqual(s.get('output_norm.weight'), [E]);
  assert.deepEqual(s.get('blk.0.ssm_in.weight'), [E, 2 * D + 2 * G * N + H]);
  assert.deepEqual(s.get('blk.0.ssm_conv1d.weight'), [4, D + 2 * G * N]);
  assert.deepEqual(s.get('blk.0.ssm_conv1d.bias'), [D + 2 * G * N]);
  assert.deepEqual(s.get('blk.0.ssm_dt.bias'), [H]);
  assert.deepEqual(s.get('blk.0.ssm_a'), [1, H]);
  assert.deepEqual(s.get('blk.0.ssm_d'), [1, H]);
  assert.deepEqual(s.get('blk.0.ssm_norm.weight'), [D / G, G]);
  assert.deepEqual(s.get('blk.0.ssm_out.weight'), [D, E]);
  assert.deepEqual(s.get('blk.1.ffn_up.weight'), [E, 256]);
  assert.deepEqual(s.get('blk.1.ffn_down.weight'), [256, E]);
  assert.deepEqual(s.get('blk.3.attn_q.weight'), [E, 256]);
  assert.deepEqual(s.get('blk.3.attn_k.weight'), [E, 128]);
  assert.deepEqual(s.get('blk.3.attn_output.weight'), [256, E]);
  assert.equal(s.size, 41);
  for (let il = 0; il < 6; il++) assert.ok(s.has(`blk.${il}.attn_norm.weight`));
  const v = (k: string) => w.get(k)!;
  assert.deepEqual((v('nemotron_h.feed_forward_length').value as GgufArray).items, [0, 256, 0, 0, 0, 256]);
  assert.deepEqual((v('nemotron_h.attention.head_count_kv').value as GgufArray).items, [0, 0, 0, 2, 0, 0]);
  assert.equal(v('nemotron_h.attention.head_count_kv').type, GgufType.ARRAY);
  assert.equal((v('nemotron_h.attention.head_count_kv').value as GgufArray).itemType, GgufType.I32);
  assert.equal(v('nemotron_h.ssm.time_step_rank').value, 4);
  assert.equal(v('nemotron_h.ssm.inner_size').value, 256);
  assert.equal(v('general.architecture').value, 'nemotron_h');
  assert.ok(makeNemotronH('tiny').length < 5_000_000, 'tiny F32 stays under 5 MB');
});

test('presets: parameter counts and file sizes per format (from the header, nothing generated)', (t) => {
  const rows: string[] = [];
  for (const preset of Object.keys(PRESETS) as PresetName[]) {
    const sizes = FILE_FORMATS.map((format) => {
      const w = buildNemotronH(preset, { format });
      return `${format} ${(w.header().layout.size / 2 ** 20).toFixed(1)} MiB`;
    });
    const params = countParameters(buildNemotronH(preset));
    rows.push(`${preset}: ${(params / 1e6).toFixed(2)}M parameters; ${sizes.join(', ')}`);
    if (preset === 'small') assert.ok(params > 100e6 && params < 300e6, `small has ${params} parameters`);
  }
  for (const r of rows) t.diagnostic(r);
});

test('nano9b-shapes: Nemotron-Nano-9B-v2 layer dimensions', () => {
  const s = shapes('nano9b-shapes');
  assert.deepEqual(s.get('blk.0.ssm_in.weight'), [4480, 2 * 10240 + 2 * 8 * 128 + 128]);
  assert.deepEqual(s.get('blk.0.ssm_conv1d.weight'), [4, 10240 + 2 * 8 * 128]);
  assert.deepEqual(s.get('blk.0.ssm_norm.weight'), [1280, 8]);
  assert.deepEqual(s.get('blk.0.ssm_out.weight'), [10240, 4480]);
  assert.deepEqual(s.get('blk.0.ssm_a'), [1, 128]);
  assert.deepEqual(s.get('blk.1.attn_q.weight'), [4480, 40 * 128]);
  assert.deepEqual(s.get('blk.1.attn_k.weight'), [4480, 8 * 128]);
  assert.deepEqual(s.get('blk.1.attn_output.weight'), [5120, 4480]);
  assert.deepEqual(s.get('blk.2.ffn_up.weight'), [4480, 15680]);
  assert.deepEqual(s.get('blk.2.ffn_down.weight'), [15680, 4480]);
  assert.deepEqual(s.get('token_embd.weight'), [4480, 1024]);
  // 4480 and 15680 are not multiples of 256: like llama.cpp, those tensors fall back from K-quants
  // (Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0).
  for (const [format, fallback] of [['q4_k', 'q5_0'], ['q5_k', 'q5_1'], ['q6_k', 'q8_0']] as const) {
    const q = buildNemotronH('nano9b-shapes', { format });
    const type = (n: string) => q.tensor(n)!.type;
    assert.equal(type('blk.0.ssm_in.weight'), FORMATS[fallback].type);
    assert.equal(type('blk.0.ssm_out.weight'), FORMATS[format].type); // rows of 10240
    assert.equal(type('blk.2.ffn_down.weight'), FORMATS[fallback].type);
    assert.equal(type('blk.1.attn_output.weight'), FORMATS[format].type); // rows of 5120
    assert.equal(type('token_embd.weight'), FORMATS[fallback].type);
  }
});

test('weights are scaled to keep activations sane', () => {
  const w = buildNemotronH('tiny', { seed: 5 });
  const { bytes, layout } = w.build();
  const values = (name: string) => {
    const t = layout.tensors.find((x) => x.name === name)!;
    return decodeRow(0, bytes, t.nbytes / 4, t.dataStart);
  };
  const softplus = (x: number) => (x > 20 ? x : Math.log1p(Math.exp(x)));
  for (const il of [0, 2, 4]) {
    for (const a of values(`blk.${il}.ssm_a`)) assert.ok(a >= -16 && a <= -1, `A = ${a}`);
    for (const d of values(`blk.${il}.ssm_dt.bias`)) {
      const dt = softplus(d);
      assert.ok(dt >= 0.999e-3 && dt <= 0.1001, `softplus(dt_bias) = ${dt}`);
    }
    for (const n of values(`blk.${il}.ssm_norm.weight`)) assert.ok(n >= 0.9 && n <= 1.1);
  }
  for (const n of values('output_norm.weight')) assert.ok(n >= 0.9 && n <= 1.1);
  const std = (v: Float64Array) => Math.sqrt(v.reduce((a, x) => a + x * x, 0) / v.length);
  assert.ok(Math.abs(std(values('blk.0.ssm_in.weight')) * Math.sqrt(256) - 1) < 0.05);
  assert.ok(Math.abs(std(values('blk.0.ssm_out.weight')) * Math.sqrt(256) - 1) < 0.05);
  assert.ok(Math.abs(std(values('token_embd.weight')) - 1) < 0.05);
});

test('default vocabulary: special tokens, 256 byte tokens in GPT-2 order, merges, ChatML template', () => {
  const v = defaultVocab();
  assert.equal(v.tokens.length, DEFAULT_VOCAB_BASE);
  assert.deepEqual(v.tokens.slice(0, 5), ['<unk>', '<s>', '</s>', '<|im_start|>', '<|im_end|>']);
  const bytes = v.tokens.slice(5, 261);
  assert.equal(new Set(bytes).size, 256);
  assert.equal(bytes[0], '!'); // byte 33 first
  assert.equal(bytes[bytes.length - 1], '\u0143'); // byte 173 (soft hyphen) last: 256 + 67
  const order = gpt2ByteOrder();
  assert.equal(order.find((o) => o.byte === 32)!.char, '\u0120'); // space is 'Ġ'
  assert.equal(order.find((o) => o.byte === 10)!.char, '\u010a'); // newline is 'Ċ'
  for (const m of v.merges!) {
    const [a, b] = m.split(' ');
    assert.ok(v.tokens.includes(a) && v.tokens.includes(b) && v.tokens.includes(a + b), m);
  }
  assert.equal(v.tokens[v.eot!], '<|im_end|>');
  assert.equal(v.chatTemplate, CHATML_TEMPLATE);
  const padded = defaultVocab(300);
  assert.equal(padded.tokens.length, 300);
  assert.equal(padded.tokens[299], '[PAD28]');
  assert.equal(padded.tokenTypes![299], 5);
  assert.throws(() => defaultVocab(10), /smaller than/);
});

test("a caller's tokenizer sets the vocabulary size and the tokenizer keys", () => {
  const tokenizer = { model: 'gpt2', pre: 'pixtral', tokens: ['<unk>', '<s>', '</s>', 'x', 'y'], merges: ['x y'], bos: 1, eos: 2, addBos: false };
  const w = buildNemotronH('tiny', { tokenizer });
  assert.deepEqual(w.tensor('token_embd.weight')!.ne, [256, 5]);
  assert.equal(w.get('nemotron_h.vocab_size')!.value, 5);
  assert.equal(w.get('tokenizer.ggml.pre')!.value, 'pixtral');
  assert.equal(w.get('tokenizer.ggml.add_bos_token')!.value, false);
  assert.equal(w.get('tokenizer.chat_template'), undefined);
  assert.equal(w.get('tokenizer.ggml.eot_token_id'), undefined);
});

test('encoders: f16/bf16 rounding, round-half-even, block sizes', () => {
  assert.equal(fp16Bits(1 + 2 ** -11), 0x3c00);
  assert.equal(fp16Bits(1 + 3 * 2 ** -11), 0x3c02);
  assert.equal(fp16Bits(65520), 0x7c00);
  assert.equal(fp16Bits(2 ** -25), 0);
  assert.equal(fp16Value(0x0001), 2 ** -24);
  for (let h = 0; h < 0x7c00; h += 13) assert.equal(fp16Bits(fp16Value(h)), h);
  assert.equal(bf16Bits(1), 0x3f80);
  assert.deepEqual([2.5, 3.5, -2.5, -3.5, 0.5, 1.4999].map(roundHalfEven), [2, 4, -2, -4, 0, 1]);
  for (const f of FILE_FORMATS) {
    const n = FORMATS[f].blockSize * 2;
    assert.equal(encode(FORMATS[f], new Float32Array(n)).length, 2 * FORMATS[f].typeSize);
  }
  assert.throws(() => encode(FORMATS.q4_k, new Float32Array(32)), /not a multiple/);
});

test('nested arrays and every scalar type encode as GGUF specifies', () => {
  const w = buildNemotronH('tiny');
  w.kvs = [];
  w.tensors = [];
  w.set('a', { type: GgufType.ARRAY, value: { itemType: GgufType.ARRAY, items: [{ itemType: GgufType.U8, items: [7] }] } });
  const { bytes } = w.build();
  // header (24) + key (8 + 1) + type (4) + outer elem type (4) + count (8) + inner type (4) + count (8) + 1 byte
  assert.equal(bytes.readUInt32LE(24 + 9), GgufType.ARRAY);
  assert.equal(bytes.readUInt32LE(24 + 13), GgufType.ARRAY);
  assert.equal(bytes.readBigUInt64LE(24 + 17), 1n);
  assert.equal(bytes.readUInt32LE(24 + 25), GgufType.U8);
  assert.equal(bytes.readBigUInt64LE(24 + 29), 1n);
  assert.equal(bytes[24 + 37], 7);
});

test('make-model CLI writes the same file as makeNemotronH, and rejects bad arguments', () => {
  const script = path.join(repoRoot, 'out', 'test', 'fixtures', 'make-model.js');
  const out = path.join(tmp, 'cli.gguf');
  const r = spawnSync(process.execPath, [script, '--preset', 'tiny', '--format', 'q5_k', '--seed', '9', '--out', out], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /tiny q5_k seed 9: 1247460 parameters/);
  assert.ok(fs.readFileSync(out).equals(makeNemotronH('tiny', { seed: 9, format: 'q5_k' })));
  for (const bad of [['--format', 'q3_k'], ['--preset', 'huge'], ['--seed', '-1'], ['--bogus', '1'], []]) {
    const e = spawnSync(process.execPath, [script, ...bad, ...(bad.length ? ['--out', out] : [])], { encoding: 'utf8' });
    assert.equal(e.status, 2, bad.join(' '));
    assert.match(e.stderr, /usage: node out\/test\/fixtures\/make-model\.js/);
  }
});
