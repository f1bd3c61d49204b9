// The Hugging Face -> GGUF converter (tools/convert/) on random NemotronH checkpoints written by
// test/fixtures/safetensors.ts: layout and metadata against the repo's fixture writer (the llama.cpp
// layout's source of truth here), values (A = -exp(A_log) …), the runtime's logits on the converted file
// against the float64 reference, every output type, BF16/F16 and sharded inputs, the tokenizer against an
// independent BPE written from tokenizer.json's rules, bad inputs, and llama.cpp (node-llama-cpp) on the
// converted file.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { convertCheckpoint, ConvertError, planConversion, parsePythonJson, type OutType } from '../../tools/convert/convert';
import { main as cliMain } from '../../tools/convert/cli';
import { detectPre, LLAMA3_REGEX } from '../../tools/convert/hf-tokenizer';
import { FORMATS, bf16Bits, fp16Bits, fp16Value } from '../fixtures/ggml-formats';
import { GgufType } from '../fixtures/gguf-writer';
import { hybridCli, runSync } from '../fixtures/hybrid-cli';
import { buildNemotronH } from '../fixtures/nemotron-h';
import { TOKEN_TYPE, type TokenizerSpec } from '../fixtures/default-vocab';
import { makeNemotronHCheckpoint, makeTokenizerJson, pythonJson, referenceBpeEncode, writeSafetensors, writeShardedSafetensors, type Checkpoint } from '../fixtures/safetensors';
import { decodeTensor, referenceActivations } from '../reference/formats';
import { readGguf, type GgufContents } from '../reference/gguf-read';
import { NemotronHReference } from '../reference/nemotron-h';
import { cpuLlama, exactContext, loadNodeLlamaCpp, peerLogits, SKIP_PEER } from '../conformance/peer';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hybrid-convert-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

let ck: Checkpoint;
let f32File: string;
before(() => {
  ck = makeNemotronHCheckpoint(path.join(dir, 'hf'), 'tiny', { seed: 7 });
  f32File = path.join(dir, 'tiny-f32.gguf');
  convertCheckpoint({ inDir: ck.dir, outFile: f32File, type: 'f32' });
});

function logits(model: string, tokens: number[]): number[][] {
  const cli = hybridCli();
  assert.ok(cli, 'the hybrid CLI is not built');
  const r = runSync(cli, ['logits', model, '--tokens', tokens.join(','), '--all-positions', '--json']);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout).logits;
}

/** max |a - b| over positions, relative to the range of `want` at each position. */
function relativeError(got: ArrayLike<number>[], want: ArrayLike<number>[]): number {
  assert.equal(got.length, want.length);
  let worst = 0;
  for (let t = 0; t < want.length; t++) {
    let lo = Infinity, hi = -Infinity, err = 0;
    for (let i = 0; i < want[t].length; i++) {
      lo = Math.min(lo, want[t][i]);
      hi = Math.max(hi, want[t][i]);
      err = Math.max(err, Math.abs(got[t][i] - want[t][i]));
    }
    worst = Math.max(worst, err / (hi - lo));
  }
  return worst;
}

const tokens = [1, 17, 200, 45, 45, 3, 99, 150, 260, 7, 8, 9, 10, 11, 12, 13, 14, 100, 101, 5, 300, 380];

function specOf(g: GgufContents): TokenizerSpec {
  return { model: 'gpt2', pre: 'llama3', tokens: g.kv.get('tokenizer.ggml.tokens') as string[] };
}

test('(a) tensor names, order, shapes, types and nemotron_h metadata equal the fixture writer for the same dims', () => {
  const got = readGguf(f32File);
  const want = buildNemotronH('tiny', { seed: 7, format: 'f32', dims: { ...ck.dims, nCtx: 2 ** 20 }, tokenizer: specOf(got) });
  assert.deepEqual([...got.tensors.keys()], want.tensors.map((t) => t.name));
  for (const t of want.tensors) {
    const g = got.tensors.get(t.name as string)!;
    assert.deepEqual(g.ne, t.ne.map(Number), t.name as string);
    assert.equal(g.type, t.type, `${t.name}: ggml type`);
  }
  // Same metadata, except what llama.cpp's converter writes differently from the fixture: it has no
  // layer_norm_rms_epsilon (NemotronHConfig has only layer_norm_epsilon; the loader falls back to it) and
  // adds rope.dimension_count (LlamaModel; unused without RoPE).
  const onlyFixture = new Set(['nemotron_h.attention.layer_norm_rms_epsilon']);
  const onlyOurs = new Set(['nemotron_h.rope.dimension_count']);
  for (const kv of want.kvs) {
    const key = kv.key as string;
    if (!key.startsWith('nemotron_h.') || onlyFixture.has(key)) continue;
    assert.ok(got.kv.has(key), `missing ${key}`);
    const v = kv.value.value;
    const expected = typeof v === 'object' && v !== null && 'items' in v ? [...v.items] : v;
    const actual = got.kv.get(key);
    if (kv.value.type === GgufType.F32) assert.equal(actual, Math.fround(expected as number), key);
    else assert.deepEqual(actual, expected, key);
  }
  for (const key of got.kv.keys()) {
    if (key.startsWith('nemotron_h.') && !onlyOurs.has(key)) assert.ok(want.get(key), `unexpected ${key}`);
  }
  assert.deepEqual(got.kv.get('nemotron_h.attention.head_count_kv'), [0, 0, 0, 2, 0, 0]);
  assert.deepEqual(got.kv.get('nemotron_h.feed_forward_length'), [0, 256, 0, 0, 0, 256]);
  assert.equal(got.kv.get('nemotron_h.context_length'), 2 ** 20);
  assert.equal(got.kv.get('general.architecture'), 'nemotron_h');
  assert.equal(got.kv.get('general.file_type'), 0);
  assert.equal(got.kv.get('general.quantization_version'), 2);
});

test('(b) values: every tensor bit-equal to the fixture writer\'s, A = -exp(A_log) exactly, conv/norm/D reshaped', () => {
  const got = readGguf(f32File);
  const want = buildNemotronH('tiny', { seed: 7, format: 'f32', dims: { ...ck.dims, nCtx: 2 ** 20 }, tokenizer: specOf(got) });
  for (const t of want.tensors) {
    const name = t.name as string;
    const g = got.tensors.get(name)!;
    const w = (t.data as () => Uint8Array)();
    if (!name.endsWith('ssm_a')) {
      assert.ok(Buffer.from(w).equals(g.data), `${name}: bytes differ from the fixture writer's`);
    } else {
      // The checkpoint stores A_log = log(-A); -exp of it gives A back to float rounding.
      const a = new Float32Array(w.buffer, w.byteOffset, w.byteLength / 4);
      const b = decodeTensor(g);
      for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= 4e-6 * Math.abs(a[i]), `${name}[${i}]: ${b[i]} vs ${a[i]}`);
    }
  }
  // Exactly what the converter promises, from the HF tensors themselves.
  const hf = new Map(ck.tensors.map((t) => [t.name, t.values]));
  for (let il = 0; il < ck.dims.pattern.length; il++) {
    if (ck.dims.pattern[il] !== 'M') continue;
    const aLog = hf.get(`backbone.layers.${il}.mixer.A_log`)!;
    const A = decodeTensor(got.tensors.get(`blk.${il}.ssm_a`)!);
    assert.deepEqual(got.tensors.get(`blk.${il}.ssm_a`)!.ne, [1, aLog.length]);
    for (let i = 0; i < aLog.length; i++) assert.equal(A[i], Math.fround(-Math.exp(aLog[i])));
    assert.deepEqual([...decodeTensor(got.tensors.get(`blk.${il}.ssm_d`)!)], [...hf.get(`backbone.layers.${il}.mixer.D`)!]);
    assert.deepEqual([...decodeTensor(got.tensors.get(`blk.${il}.ssm_dt.bias`)!)], [...hf.get(`backbone.layers.${il}.mixer.dt_bias`)!]);
    const conv = got.tensors.get(`blk.${il}.ssm_conv1d.weight`)!;
    const C = ck.dims.ssmHeads * ck.dims.ssmHeadDim + 2 * ck.dims.nGroup * ck.dims.dState;
    assert.deepEqual(conv.ne, [ck.dims.dConv, C]);
    assert.deepEqual([...decodeTensor(conv)], [...hf.get(`backbone.layers.${il}.mixer.conv1d.weight`)!]);
    const norm = got.tensors.get(`blk.${il}.ssm_norm.weight`)!;
    assert.deepEqual(norm.ne, [(ck.dims.ssmHeads * ck.dims.ssmHeadDim) / ck.dims.nGroup, ck.dims.nGroup]);
  }
});

test('(c) the runtime\'s logits on the converted F32 file equal the float64 reference', () => {
  const gguf = readGguf(f32File);
  const got = logits(f32File, tokens);
  const err = relativeError(got, new NemotronHReference(gguf, decodeTensor, referenceActivations).forward(tokens));
  assert.ok(err <= 1e-4, `max error ${err.toExponential(2)} of the logit range > 1e-4`);
  console.log(`# converted f32: max error vs the float64 reference ${err.toExponential(2)} of the logit range`);
});

const TYPE_CASES: Array<{ type: OutType; ggml: string; vsF32: number }> = [
  { type: 'f16', ggml: 'F16', vsF32: 1e-2 },
  { type: 'bf16', ggml: 'BF16', vsF32: 3e-2 },
  { type: 'q8_0', ggml: 'Q8_0', vsF32: 5e-2 },
  { type: 'q4_k', ggml: 'Q4_K', vsF32: 0.3 },
];

for (const c of TYPE_CASES) {
  test(`(d) ${c.type} output: matmul weights ${c.ggml}, the rest F32; loads and its logits are close to F32's`, () => {
    const file = path.join(dir, `tiny-${c.type}.gguf`);
    const r = convertCheckpoint({ inDir: ck.dir, outFile: file, type: c.type });
    const gguf = readGguf(file);
    for (const t of r.tensors) {
      const matmul = /(token_embd|output|ssm_in|ssm_out|attn_q|attn_k|attn_v|attn_output|ffn_up|ffn_down)\.weight$/.test(t.name);
      assert.equal(gguf.tensors.get(t.name)!.type, matmul ? FORMATS[c.type].type : FORMATS.f32.type, t.name);
    }
    const got = logits(file, tokens);
    const same = relativeError(got, new NemotronHReference(gguf, decodeTensor, referenceActivations).forward(tokens));
    assert.ok(same <= 2e-2, `${c.type}: max error vs the reference on this file ${same.toExponential(2)} > 2e-2`);
    const vs = relativeError(got, logits(f32File, tokens));
    assert.ok(vs <= c.vsF32, `${c.type}: max error vs F32 logits ${vs.toExponential(2)} > ${c.vsF32}`);
    console.log(`# ${c.type}: ${r.bytes} bytes; vs reference ${same.toExponential(2)}, vs F32 logits ${vs.toExponential(2)} of the range`);
  });
}

test('(d) rows that are not whole blocks fall back as llama.cpp does: Q8_0 -> F16, Q4_K -> Q5_0 -> F16', () => {
  const odd = makeNemotronHCheckpoint(path.join(dir, 'hf-odd'), 'tiny', { seed: 3, dims: { nFf: 80, nEmbd: 96, nHead: 2, nHeadKv: 1, headDim: 48 } });
  const formats = (type: OutType) => new Map(planConversion({ inDir: odd.dir, outFile: '-', type }).result.tensors.map((t) => [t.name, t.format]));
  const q8 = formats('q8_0');
  assert.equal(q8.get('blk.1.ffn_up.weight'), 'q8_0'); // ne0 = 96
  assert.equal(q8.get('blk.1.ffn_down.weight'), 'f16'); // ne0 = 80
  const q4 = formats('q4_k');
  assert.equal(q4.get('blk.1.ffn_up.weight'), 'q5_0'); // 96: not whole 256-blocks, whole 32-blocks
  assert.equal(q4.get('blk.1.ffn_down.weight'), 'f16');
  assert.equal(q4.get('blk.0.ssm_conv1d.weight'), 'f32');
  const file = path.join(dir, 'odd-q4_k.gguf');
  convertCheckpoint({ inDir: odd.dir, outFile: file, type: 'q4_k' });
  const gguf = readGguf(file);
  const got = logits(file, tokens.slice(0, 10));
  const err = relativeError(got, new NemotronHReference(gguf, decodeTensor, referenceActivations).forward(tokens.slice(0, 10)));
  assert.ok(err <= 2e-2, `odd dims q4_k: ${err.toExponential(2)}`);
});

test('BF16 and F16 checkpoints, sharded checkpoints and transformers-5 configs convert', () => {
  // BF16 in, BF16 out: the bits pass through; BF16 in, F32 out: exact widening.
  const bf = makeNemotronHCheckpoint(path.join(dir, 'hf-bf16'), 'tiny', { seed: 7, dtype: 'BF16', shards: 3 });
  assert.ok(fs.existsSync(path.join(bf.dir, 'model.safetensors.index.json')));
  const bfOut = path.join(dir, 'bf16-in-bf16.gguf');
  convertCheckpoint({ inDir: bf.dir, outFile: bfOut, type: 'bf16' });
  const g = readGguf(bfOut);
  const emb = bf.tensors.find((t) => t.name === 'backbone.embeddings.weight')!;
  const data = g.tensors.get('token_embd.weight')!.data;
  for (let i = 0; i < emb.values.length; i += 97) assert.equal(data.readUInt16LE(2 * i), bf16Bits(emb.values[i]));
  const f32Out = path.join(dir, 'bf16-in-f32.gguf');
  convertCheckpoint({ inDir: bf.dir, outFile: f32Out, type: 'f32' });
  const g32 = readGguf(f32Out);
  const e32 = decodeTensor(g32.tensors.get('token_embd.weight')!);
  for (let i = 0; i < emb.values.length; i += 97) {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(bf16Bits(emb.values[i]) << 16 >>> 0);
    assert.equal(e32[i], b.readFloatLE(0));
  }
  const l = logits(f32Out, tokens);
  assert.ok(l.every((row) => row.every(Number.isFinite)));

  // Sharded F32 = single-file F32, byte for byte; so is the transformers 5 layout (layers_block_type list).
  const sharded = makeNemotronHCheckpoint(path.join(dir, 'hf-sharded'), 'tiny', { seed: 7, shards: 2 });
  const shOut = path.join(dir, 'sharded.gguf');
  convertCheckpoint({ inDir: sharded.dir, outFile: shOut, type: 'f32', name: 'hf' });
  const v5 = makeNemotronHCheckpoint(path.join(dir, 'hf-v5'), 'tiny', { seed: 7, layout: 'list' });
  const v5Out = path.join(dir, 'v5.gguf');
  convertCheckpoint({ inDir: v5.dir, outFile: v5Out, type: 'f32', name: 'hf' });
  const ref = fs.readFileSync(f32File);
  assert.ok(fs.readFileSync(shOut).equals(ref), 'sharded conversion differs from the single-file one');
  assert.ok(fs.readFileSync(v5Out).equals(ref), 'layers_block_type conversion differs from hybrid_override_pattern');

  // F16 checkpoint: A is computed as torch does on an f16 tensor (rounded to f16).
  const f16 = makeNemotronHCheckpoint(path.join(dir, 'hf-f16'), 'tiny', { seed: 7, dtype: 'F16' });
  const f16Out = path.join(dir, 'f16-in.gguf');
  convertCheckpoint({ inDir: f16.dir, outFile: f16Out, type: 'f16' });
  const a = decodeTensor(readGguf(f16Out).tensors.get('blk.0.ssm_a')!);
  const aLog = f16.tensors.find((t) => t.name === 'backbone.layers.0.mixer.A_log')!.values;
  const h = (v: number) => fp16Value(fp16Bits(v));
  for (let i = 0; i < a.length; i++) assert.equal(a[i], h(-Math.exp(h(aLog[i]))));
});

test('config.json as Python writes it (bare Infinity) parses', () => {
  assert.deepEqual(parsePythonJson('{"a": [0.0, Infinity], "b": "Infinity", "c": -Infinity, "d": "x\\"NaN"}'), { a: [0, Infinity], b: 'Infinity', c: -Infinity, d: 'x"NaN' });
  assert.ok(fs.readFileSync(path.join(ck.dir, 'config.json'), 'utf8').includes('Infinity'));
});

// ---- tokenizer -------------------------------------------------------------------------------------------

const TEXTS = [
  'export function add(a: number, b: number): number {\n  return a + b;\n}\n',
  "It's the model's state; we'll see 12345 tokens.   Trailing  spaces\t\ttabs\n\n",
  'const é = "naïve café"; // 日本語 🚀\r\n',
  'for (let i = 0; i < items.length; i++) {\n    console.log(items[i]);\n}',
];

test('(e) tokenizer: the runtime tokenizes the converted file like tokenizer.json (independent BPE), specials and FIM ids included', () => {
  const cli = hybridCli();
  assert.ok(cli, 'the hybrid CLI is not built');
  const g = readGguf(f32File);
  assert.equal(g.kv.get('tokenizer.ggml.model'), 'gpt2');
  assert.equal(g.kv.get('tokenizer.ggml.pre'), 'llama3');
  assert.equal(g.kv.get('tokenizer.ggml.bos_token_id'), 1);
  assert.equal(g.kv.get('tokenizer.ggml.eos_token_id'), 2);
  assert.equal(g.kv.get('tokenizer.ggml.unknown_token_id'), 0);
  assert.equal(g.kv.get('tokenizer.ggml.padding_token_id'), 0);
  assert.equal(g.kv.get('tokenizer.ggml.fim_pre_token_id'), 5);
  assert.equal(g.kv.get('tokenizer.ggml.fim_mid_token_id'), 6);
  assert.equal(g.kv.get('tokenizer.ggml.fim_suf_token_id'), 7);
  assert.equal(g.kv.get('tokenizer.ggml.fim_pad_token_id'), 8);
  assert.equal(g.kv.get('tokenizer.ggml.fim_sep_token_id'), 9);
  assert.equal(g.kv.get('tokenizer.ggml.add_bos_token'), true);
  assert.equal(g.kv.get('tokenizer.chat_template'), ck.tokenizer.config.chat_template);
  const toks = g.kv.get('tokenizer.ggml.tokens') as string[];
  const types = g.kv.get('tokenizer.ggml.token_type') as number[];
  assert.equal(toks.length, ck.dims.vocab);
  assert.deepEqual(types.slice(0, 10), new Array(10).fill(TOKEN_TYPE.control));
  assert.equal(types[10], TOKEN_TYPE.normal);
  assert.equal(toks[toks.length - 1], `[PAD${toks.length - 1}]`);
  assert.equal(types[types.length - 1], TOKEN_TYPE.unused);
  // merges: [a, b] pairs became "a b"
  assert.equal((g.kv.get('tokenizer.ggml.merges') as string[])[0], (ck.tokenizer.json.model.merges[0] as string[]).join(' '));

  for (const text of [...TEXTS, '<|fim_prefix|>def f(x):\n    <|fim_suffix|>\n    return y<|fim_middle|>']) {
    for (const special of [false, true]) {
      const r = runSync(cli, ['tokenize', f32File, '--text', text, '--no-bos', ...(special ? ['--special'] : []), '--json']);
      assert.equal(r.status, 0, r.stderr);
      const got: number[] = JSON.parse(r.stdout).tokens;
      const want = referenceBpeEncode(ck.tokenizer.json, text, special);
      assert.deepEqual(got, want, `${JSON.stringify(text)} (special ${special})`);
    }
  }
});

test('(e) older "a b" merges and ignore_merges=false tokenizers convert (with a warning for the latter)', () => {
  const tk = makeTokenizerJson({ mergeFormat: 'strings', ignoreMerges: false });
  const c = makeNemotronHCheckpoint(path.join(dir, 'hf-strings'), 'tiny', { seed: 7, tokenizer: tk });
  const plan = planConversion({ inDir: c.dir, outFile: '-', type: 'f32' });
  assert.ok(plan.result.warnings.some((w) => /ignore_merges/.test(w)));
  const m = plan.writer.get('tokenizer.ggml.merges')!.value as unknown as { items: string[] };
  assert.deepEqual(m.items, tk.json.model.merges);
});

// ---- bad inputs --------------------------------------------------------------------------------------------

function badCase(name: string, mutate: (c: Checkpoint) => void, message: RegExp): void {
  test(`(f) bad input: ${name} -> a clear error and no output file`, () => {
    const c = makeNemotronHCheckpoint(path.join(dir, `bad-${name.replace(/\W+/g, '-')}`), 'tiny', { seed: 2 });
    mutate(c);
    const outDir = path.join(dir, `out-${name.replace(/\W+/g, '-')}`);
    fs.mkdirSync(outDir, { recursive: true });
    const out = path.join(outDir, 'model.gguf');
    assert.throws(() => convertCheckpoint({ inDir: c.dir, outFile: out, type: 'q8_0' }), (e: unknown) => {
      assert.ok(e instanceof ConvertError, `not a ConvertError: ${String(e)}`);
      assert.match((e as Error).message, message);
      return true;
    });
    assert.deepEqual(fs.readdirSync(outDir), [], 'something was left in the output folder');
    // The CLI says the same on stderr and exits 1.
    const errors: string[] = [];
    const orig = console.error;
    console.error = (s: string) => errors.push(s);
    try {
      assert.equal(cliMain(['--in', c.dir, '--out', out, '--type', 'f16']), 1);
    } finally {
      console.error = orig;
    }
    assert.match(errors.join('\n'), message);
    assert.deepEqual(fs.readdirSync(outDir), []);
  });
}

const rewrite = (c: Checkpoint, f: (t: Checkpoint['tensors']) => Checkpoint['tensors']) =>
  writeSafetensors(path.join(c.dir, 'model.safetensors'), f(c.tensors));

badCase('missing tensor', (c) => rewrite(c, (ts) => ts.filter((t) => t.name !== 'backbone.layers.2.mixer.A_log')), /missing 1 tensor\(s\): backbone\.layers\.2\.mixer\.A_log/);
badCase('wrong shape', (c) => rewrite(c, (ts) => ts.map((t) => (t.name === 'backbone.layers.1.mixer.up_proj.weight' ? { ...t, shape: [128, 512], values: new Float32Array(128 * 512) } : t))), /backbone\.layers\.1\.mixer\.up_proj\.weight: shape \[128, 512\], expected \[256, 256\]/);
badCase('extra tensor', (c) => rewrite(c, (ts) => [...ts, { name: 'backbone.layers.0.mixer.bogus', shape: [4], values: new Float32Array(4) }]), /does not: backbone\.layers\.0\.mixer\.bogus/);
badCase('unknown pre-tokenizer', (c) => {
  const tk = makeTokenizerJson({ preRegex: "[\\p{L}]+|[^\\p{L}]+" });
  fs.writeFileSync(path.join(c.dir, 'tokenizer.json'), JSON.stringify(tk.json));
}, /unknown pre-tokenizer regex/);
badCase('truncated safetensors header', (c) => {
  const f = path.join(c.dir, 'model.safetensors');
  const b = fs.readFileSync(f);
  fs.writeFileSync(f, b.subarray(0, 8 + 40));
}, /truncated safetensors header/);
badCase('truncated safetensors data', (c) => {
  const f = path.join(c.dir, 'model.safetensors');
  const b = fs.readFileSync(f);
  fs.writeFileSync(f, b.subarray(0, b.length - 1000));
}, /data section has \d+ bytes \(truncated file\?\)/);
badCase('MoE layers', (c) => {
  const cfg = parsePythonJson(fs.readFileSync(path.join(c.dir, 'config.json'), 'utf8'));
  cfg.hybrid_override_pattern = 'M-M*ME';
  fs.writeFileSync(path.join(c.dir, 'config.json'), JSON.stringify({ ...cfg, mamba_dt_limit: null }));
}, /MoE layers \(E\) are not supported/);
badCase('vocab_size not a multiple of 8', (c) => {
  const cfg = parsePythonJson(fs.readFileSync(path.join(c.dir, 'config.json'), 'utf8'));
  const V = cfg.vocab_size - 3;
  fs.writeFileSync(path.join(c.dir, 'config.json'), JSON.stringify({ ...cfg, vocab_size: V, mamba_dt_limit: null }));
  rewrite(c, (ts) => ts.map((t) => (t.name === 'backbone.embeddings.weight' || t.name === 'lm_head.weight' ? { ...t, shape: [V, t.shape[1]], values: t.values.subarray(0, V * t.shape[1]) } : t)));
}, /not a multiple of 8/);

// ---- llama.cpp on the converted file ---------------------------------------------------------------------

test('(g) llama.cpp (node-llama-cpp) loads the converted files: logits and tokens agree with ours', { skip: SKIP_PEER && 'HYBRID_SKIP_PEER=1' }, async () => {
  const peer = await loadNodeLlamaCpp();
  assert.ok(peer.module, `llama.cpp peer unavailable: ${peer.error}`);
  const llama = await cpuLlama(peer.module);
  try {
    for (const [type, tol] of [['f32', 1e-4], ['q8_0', 5e-3]] as const) {
      const file = type === 'f32' ? f32File : path.join(dir, 'peer-q8_0.gguf');
      if (type !== 'f32') convertCheckpoint({ inDir: ck.dir, outFile: file, type });
      const model = await llama.loadModel({ modelPath: file });
      try {
        const got = logits(file, tokens);
        const ctx = await exactContext(model, 256);
        const want = await peerLogits(ctx.getSequence(), tokens, got[0].length);
        const err = relativeError(got, want);
        assert.ok(err <= tol, `${type}: max logit error vs llama.cpp ${err.toExponential(2)} > ${tol}`);
        console.log(`# converted ${type} vs llama.cpp: ${err.toExponential(2)} of the logit range`);
        await ctx.dispose();
        if (type === 'f32') {
          const cli = hybridCli()!;
          for (const text of TEXTS) {
            const ours: number[] = JSON.parse(runSync(cli, ['tokenize', file, '--text', text, '--no-bos', '--json']).stdout).tokens;
            assert.deepEqual(ours, Array.from(model.tokenize(text, false)), JSON.stringify(text));
          }
        }
      } finally {
        await model.dispose();
      }
    }
  } finally {
    await llama.dispose();
  }
});

test('a checkpoint saved as tools/train/train.py saves it converts: model.* names, BF16 shards, transformers-5 config with both layouts', () => {
  const c = makeNemotronHCheckpoint(path.join(dir, 'hf-trainpy'), 'tiny', { seed: 7, dtype: 'BF16', layout: 'list' });
  // transformers 5 saves the base model as `model.` (base_model_prefix), shards at max_shard_size.
  fs.rmSync(path.join(c.dir, 'model.safetensors'));
  const renamed = c.tensors.map((t) => ({ ...t, name: t.name.replace(/^backbone\./, 'model.') }));
  writeShardedSafetensors(c.dir, renamed, 4);
  const cfgFile = path.join(c.dir, 'config.json');
  const cfg = parsePythonJson(fs.readFileSync(cfgFile, 'utf8'));
  fs.writeFileSync(cfgFile, pythonJson({ ...cfg, hybrid_override_pattern: c.dims.pattern, num_hidden_layers: c.dims.pattern.length }));
  const tcFile = path.join(c.dir, 'tokenizer_config.json');
  fs.writeFileSync(tcFile, JSON.stringify({ ...c.tokenizer.config, unk_token: null, add_bos_token: false, chat_template: undefined }));
  const out = path.join(dir, 'trainpy.gguf');
  convertCheckpoint({ inDir: c.dir, outFile: out, type: 'q8_0' });
  const g = readGguf(out);
  assert.equal(g.kv.get('tokenizer.ggml.unknown_token_id'), undefined);
  assert.equal(g.kv.get('tokenizer.ggml.add_bos_token'), true, 'llama.cpp\'s NemotronH converter always sets add_bos_token');
  assert.equal(g.kv.get('tokenizer.chat_template'), undefined);
  assert.equal(g.tensors.get('token_embd.weight')!.type, FORMATS.q8_0.type);
  const got = logits(out, tokens);
  const err = relativeError(got, new NemotronHReference(g, decodeTensor, referenceActivations).forward(tokens));
  assert.ok(err <= 2e-2, `${err}`);
});

test('pre-tokenizer detection: llama3 (both spellings), gpt-2, and clear refusals', () => {
  const seq = (regex: string, useRegex = false, extra: object = {}) => ({
    pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: regex }, behavior: 'Isolated', invert: false }, { type: 'ByteLevel', add_prefix_space: false, use_regex: useRegex, ...extra }] },
  });
  assert.equal(detectPre(seq(LLAMA3_REGEX)), 'llama3');
  assert.equal(detectPre(seq("(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")), 'llama3');
  assert.equal(detectPre({ pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true } }), 'gpt-2');
  assert.throws(() => detectPre(seq(LLAMA3_REGEX, true)), /splits twice/);
  assert.throws(() => detectPre(seq(LLAMA3_REGEX, false, { add_prefix_space: true })), /add_prefix_space/);
  assert.throws(() => detectPre({ pre_tokenizer: { type: 'Metaspace' } }), /unsupported pre_tokenizer/);
  assert.throws(() => detectPre({ pre_tokenizer: null }), /unsupported pre_tokenizer/);
  assert.throws(() => detectPre(seq('\\w+')), /unknown pre-tokenizer regex "\\\\w\+"/);
});

test('CLI: usage errors exit 2, --help exits 0', () => {
  const errors: string[] = [];
  const orig = console.error;
  const origLog = console.log;
  console.error = (s: string) => errors.push(s);
  console.log = () => {};
  try {
    assert.equal(cliMain(['--in', ck.dir]), 2);
    assert.equal(cliMain(['--in', ck.dir, '--out', path.join(dir, 'x.gguf'), '--type', 'q3_k']), 2);
    assert.equal(cliMain(['--bogus', '1', '--in', ck.dir, '--out', path.join(dir, 'x.gguf')]), 2);
    assert.equal(cliMain(['--help']), 0);
  } finally {
    console.error = orig;
    console.log = origLog;
  }
  assert.match(errors.join('\n'), /--in and --out are required/);
  assert.match(errors.join('\n'), /unknown --type q3_k/);
  assert.ok(!fs.existsSync(path.join(dir, 'x.gguf')));
});

test('tied embeddings (tie_word_embeddings, no lm_head.weight): no output.weight, the runtime uses token_embd', () => {
  const c = makeNemotronHCheckpoint(path.join(dir, 'hf-tied'), 'tiny', { seed: 9, tied: true });
  const out = path.join(dir, 'tied.gguf');
  convertCheckpoint({ inDir: c.dir, outFile: out, type: 'f32' });
  const g = readGguf(out);
  assert.ok(!g.tensors.has('output.weight'));
  const err = relativeError(logits(out, tokens), new NemotronHReference(g, decodeTensor, referenceActivations).forward(tokens));
  assert.ok(err <= 1e-4, `${err}`);
});
