// The C++ decoders and dot products against the float64 reference (test/reference/formats.ts), through
// `hybrid dump-tensor`, on tiny fixture models in every format: every decoded value bit-equal to the
// reference's f32 rounding; dot products within 1e-5 of sum|w*x| (exact activations, and llama.cpp's
// path with activations converted to the weight's vec_dot type), for the scalar and the SIMD kernels.
// Formats of 32-blocks are also written with rows of 4480 values (Nemotron-Nano-9B-v2's n_embd), as
// llama.cpp's K-quant fallback stores them.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { encode, FILE_FORMATS, FORMATS } from '../fixtures/ggml-formats';
import { GgufWriter, str } from '../fixtures/gguf-writer';
import { buildNemotronH } from '../fixtures/nemotron-h';
import { hybridCli, runSync } from '../fixtures/hybrid-cli';
import { Rng } from '../fixtures/prng';
import { decodeRow, dot, referenceVecDot, rowSize } from '../reference/formats';

const bin = hybridCli();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hybrid-formats-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

interface Dump {
  name: string;
  type: string;
  ne: number[];
  rowStart: number;
  rowEnd: number;
  isa: string;
  values?: (number | null)[];
  dot?: number[];
  dotQ?: number[];
  activationType?: string;
}

function dump(model: string, name: string, extra: string[] = []): Dump {
  const r = runSync(bin!, ['dump-tensor', model, name, '--json', ...extra]);
  assert.equal(r.status, 0, `dump-tensor ${name} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Dump;
}

// The first value where two arrays differ as f32 bit patterns, or -1. The CLI prints 9 significant
// digits, which identify an f32 uniquely: Math.fround of the parsed number is the C++ value itself.
function firstMismatch(cpp: (number | null)[] | undefined, ref: Float64Array): number {
  if (!cpp) return 0;
  for (let i = 0; i < ref.length; i++) {
    const c = cpp[i];
    if (c === null || c === undefined || !Object.is(Math.fround(c), Math.fround(ref[i]))) return i;
  }
  return cpp.length === ref.length ? -1 : ref.length;
}

const skip = bin ? false : 'hybrid CLI not built (build native/build-cli or set HYBRID_CLI)';

for (const format of FILE_FORMATS) {
  test(`${format}: every tensor of a tiny model decodes bit-exactly (first 16 rows and the last row)`, { skip }, () => {
    const w = buildNemotronH('tiny', { seed: 7, format });
    const { bytes, layout } = w.build();
    const file = path.join(tmp, `tiny-${format}.gguf`);
    fs.writeFileSync(file, bytes);
    let values = 0;
    for (const t of layout.tensors) {
      const entry = w.tensor(t.name)!;
      const ne = entry.ne.map(Number);
      const rows = ne.slice(1).reduce((a, b) => a * b, 1);
      const rb = rowSize(entry.type, ne[0]);
      for (const [r0, r1] of rows > 17 ? [[0, 16], [rows - 1, rows]] : [[0, rows]]) {
        const ref = decodeRow(entry.type, bytes, (r1 - r0) * ne[0], t.dataStart + r0 * rb);
        const d = dump(file, t.name, ['--rows', `${r0}:${r1}`]);
        assert.deepEqual(d.ne, ne, t.name);
        assert.equal(d.type, Object.values(FORMATS).find((f) => f.type === entry.type)!.ggmlName);
        const bad = firstMismatch(d.values, ref);
        assert.equal(bad, -1, `${format} ${t.name} rows ${r0}:${r1}: value ${bad}: C++ ${d.values?.[bad]} vs reference ${Math.fround(ref[bad])}`);
        values += ref.length;
      }
    }
    assert.ok(values > 50_000, `${values} values compared`);
  });

  test(`${format}: dot products match the reference (exact and llama.cpp-style activations, every ISA)`, { skip }, () => {
    const file = path.join(tmp, `tiny-dot-${format}.gguf`);
    const w = buildNemotronH('tiny', { seed: 11, format });
    const { bytes, layout } = w.build();
    fs.writeFileSync(file, bytes);
    const names = ['token_embd.weight', 'blk.0.ssm_in.weight', 'blk.0.ssm_out.weight', 'blk.3.attn_k.weight', 'blk.5.ffn_down.weight'];
    for (const name of names) {
      const t = layout.tensors.find((x) => x.name === name)!;
      const entry = w.tensor(name)!;
      const [cols, rows] = entry.ne.map(Number);
      // Activations with a realistic spread and a few outliers (they set the quantization scales).
      const rng = new Rng(5, name);
      const x = rng.normals(cols, 1);
      for (let i = 0; i < cols; i += 97) x[i] *= 8;
      const xfile = path.join(tmp, `x-${cols}.f32`);
      fs.writeFileSync(xfile, Buffer.from(x.buffer));
      for (const isa of ['default', 'scalar']) {
        const d = dump(file, name, ['--dot', xfile, '--no-values', ...(isa === 'scalar' ? ['--isa', 'scalar'] : [])]);
        assert.equal(d.values, undefined);
        assert.equal(d.dot!.length, rows);
        for (let r = 0; r < rows; r++) {
          const rowStart = t.dataStart + r * rowSize(entry.type, cols);
          const exact = dot(decodeRow(entry.type, bytes, cols, rowStart), x);
          const q = referenceVecDot(entry.type, bytes, rowStart, x);
          const tag = `${format} ${name} row ${r} (${d.isa})`;
          assert.ok(Math.abs(d.dot![r] - exact.value) <= 1e-5 * exact.scale + 1e-30, `${tag}: dot ${d.dot![r]} vs ${exact.value}`);
          assert.ok(Math.abs(d.dotQ![r] - q.value) <= 1e-5 * q.scale + 1e-30, `${tag}: dotQ ${d.dotQ![r]} vs ${q.value}`);
        }
      }
    }
  });
}

test('long rows with odd block counts (4480 = Nano-9B-v2 n_embd, 4352 = 17 K-blocks) decode and dot exactly', { skip }, () => {
  for (const format of FILE_FORMATS) {
    const info = FORMATS[format];
    const cols = info.blockSize === 256 ? 4352 : 4480;
    const rows = 3;
    const w = new GgufWriter();
    w.set('general.architecture', str('test'));
    const values = new Rng(21, format).normals(cols * rows, 0.02);
    w.addTensor({ name: 'w', type: info.type, ne: [cols, rows], data: encode(info, values) });
    const { bytes, layout } = w.build();
    const file = path.join(tmp, `long-${format}.gguf`);
    fs.writeFileSync(file, bytes);
    const x = new Rng(22, format).normals(cols, 1);
    const xfile = path.join(tmp, `x-long-${cols}.f32`);
    fs.writeFileSync(xfile, Buffer.from(x.buffer));
    const start = layout.tensors[0].dataStart;
    for (const isa of [[], ['--isa', 'scalar']]) {
      const d = dump(file, 'w', ['--dot', xfile, ...isa]);
      const bad = firstMismatch(d.values, decodeRow(info.type, bytes, cols * rows, start));
      assert.equal(bad, -1, `${format}: value ${bad}`);
      for (let r = 0; r < rows; r++) {
        const rowStart = start + r * rowSize(info.type, cols);
        const exact = dot(decodeRow(info.type, bytes, cols, rowStart), x);
        const q = referenceVecDot(info.type, bytes, rowStart, x);
        assert.ok(Math.abs(d.dot![r] - exact.value) <= 1e-5 * exact.scale, `${format} row ${r} (${d.isa}): dot ${d.dot![r]} vs ${exact.value}`);
        assert.ok(Math.abs(d.dotQ![r] - q.value) <= 1e-5 * q.scale, `${format} row ${r} (${d.isa}): dotQ ${d.dotQ![r]} vs ${q.value}`);
      }
    }
  }
});

test('dump-tensor --rows selects rows and rejects bad ranges with exit code 2', { skip }, () => {
  const file = path.join(tmp, 'tiny-rows.gguf');
  fs.writeFileSync(file, buildNemotronH('tiny', { seed: 3, format: 'q8_0' }).toBuffer());
  const all = dump(file, 'blk.0.ssm_out.weight');
  const part = dump(file, 'blk.0.ssm_out.weight', ['--rows', '3:5']);
  assert.deepEqual(part.values, all.values!.slice(3 * 256, 5 * 256));
  for (const bad of ['5:3', '0:999', 'x', '1']) {
    const r = runSync(bin!, ['dump-tensor', file, 'blk.0.ssm_out.weight', '--rows', bad]);
    assert.equal(r.status, 2, bad);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  }
  const missing = runSync(bin!, ['dump-tensor', file, 'no.such.tensor']);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /tensor no\.such\.tensor is missing/);
});
