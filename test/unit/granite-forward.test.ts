// granitehybrid (IBM Granite 4.0 H): the C++ forward pass (`hybrid logits`) against the float64 reference
// (test/reference/granite-hybrid.ts) on dense and mixture-of-experts fixtures in every tensor format,
// prefill against decode, the RoPE variant, `hybrid info`, and the errors for unsupported variants.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { FILE_FORMATS, FormatName } from '../fixtures/ggml-formats';
import { bool, f32, str, u32 } from '../fixtures/gguf-writer';
import { buildGraniteHybrid, writeGraniteHybrid, type GranitePresetName } from '../fixtures/granite-hybrid';
import { hybridCli, runSync } from '../fixtures/hybrid-cli';
import { decodeTensor, referenceActivations } from '../reference/formats';
import { GraniteHybridReference } from '../reference/granite-hybrid';
import { readGguf } from '../reference/gguf-read';

const cli = hybridCli();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hybrid-granite-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));

function logits(model: string, tokens: number[], extra: string[] = []): number[][] {
  assert.ok(cli, 'the hybrid CLI is not built');
  const r = runSync(cli, ['logits', model, '--tokens', tokens.join(','), '--all-positions', '--json', ...extra]);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout).logits;
}

/** max |a - b| over all positions, relative to the range of the reference logits at that position. */
function relativeError(got: number[][], want: Float64Array[]): number {
  assert.equal(got.length, want.length);
  let worst = 0;
  for (let t = 0; t < want.length; t++) {
    assert.equal(got[t].length, want[t].length);
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

const tokens = [1, 17, 200, 45, 45, 3, 99, 150, 260, 7, 8, 9, 10, 11, 12, 13, 14, 100, 101, 5];

const presets: GranitePresetName[] = ['tiny-dense', 'tiny-moe'];
// Dense: every format. MoE: one format per activation type llama.cpp converts to (f32, f16, Q8_0, Q8_1,
// Q8_K); test/conformance/granite.test.ts runs more of them against llama.cpp.
const formatsOf = (preset: GranitePresetName): FormatName[] =>
  preset === 'tiny-moe' ? ['f32', 'f16', 'q8_0', 'q4_1', 'q4_k'] : (FILE_FORMATS as FormatName[]);
for (const preset of presets) {
  for (const format of formatsOf(preset)) {
    test(`granitehybrid forward pass matches the float64 reference: ${preset} ${format}`, () => {
      const file = path.join(dir, `${preset}-${format}.gguf`);
      writeGraniteHybrid(preset, file, { format, seed: 7 });
      const gguf = readGguf(file);
      const got = logits(file, tokens);
      // Against the reference that rounds activations as llama.cpp's CPU matmul does: tight for F32; for
      // the others, float64 vs float32 norms put a few activations across a rounding boundary (see
      // test/unit/forward.test.ts), and llama.cpp is the tight check (test/conformance/granite.test.ts).
      const same = relativeError(got, new GraniteHybridReference(gguf, decodeTensor, referenceActivations).forward(tokens));
      const tol = format === 'f32' ? 1e-4 : 2e-2;
      assert.ok(same <= tol, `max error ${same.toExponential(2)} of the logit range > ${tol} (llama.cpp arithmetic)`);
      const exact = relativeError(got, new GraniteHybridReference(gguf, decodeTensor).forward(tokens));
      const exactTol = format === 'f32' ? 1e-4 : format === 'f16' || format === 'bf16' ? 1e-2 : 5e-2;
      assert.ok(exact <= exactTol, `max error ${exact.toExponential(2)} of the logit range > ${exactTol} (exact activations)`);
      console.log(`# ${preset} ${format}: max error vs llama.cpp-style reference ${same.toExponential(2)}, vs exact activations ${exact.toExponential(2)} of the logit range`);
    });
  }
}

test('granitehybrid: prefill (batched) equals decode (token by token), MoE and dense, untied lm_head', () => {
  for (const preset of presets) {
    const file = path.join(dir, `${preset}-untied.gguf`);
    writeGraniteHybrid(preset, file, { format: 'q8_0', seed: 3, tied: false });
    const batched = logits(file, tokens);
    const stepwise = logits(file, tokens, ['--batch', '1']);
    const chunked = logits(file, tokens, ['--batch', '7']);
    for (let t = 0; t < tokens.length; t++) {
      for (let i = 0; i < batched[t].length; i++) {
        assert.ok(Math.abs(batched[t][i] - stepwise[t][i]) <= 1e-4, `${preset} pos ${t} logit ${i}: ${batched[t][i]} vs ${stepwise[t][i]}`);
        assert.ok(Math.abs(batched[t][i] - chunked[t][i]) <= 1e-4);
      }
    }
    const ref = new GraniteHybridReference(readGguf(file), decodeTensor, referenceActivations);
    assert.ok(relativeError(batched, ref.forward(tokens)) <= 2e-2);
  }
});

test('granitehybrid: RoPE when rope.scaling.finetuned is true, and no multipliers when the keys are absent', () => {
  const file = path.join(dir, 'rope.gguf');
  const dims = { rope: true, ropeFreqBase: 500, embeddingScale: 0, residualScale: 0, attentionScale: 0, logitScale: 0 };
  writeGraniteHybrid('tiny-moe', file, { seed: 5, dims });
  const gguf = readGguf(file);
  const err = relativeError(logits(file, tokens), new GraniteHybridReference(gguf, decodeTensor, referenceActivations).forward(tokens));
  assert.ok(err <= 1e-4, `max error ${err.toExponential(2)}`);
  // And RoPE matters: the same weights without it give other logits.
  const norope = path.join(dir, 'norope.gguf');
  writeGraniteHybrid('tiny-moe', norope, { seed: 5, dims: { ...dims, rope: false } });
  assert.ok(relativeError(logits(norope, tokens), new GraniteHybridReference(gguf, decodeTensor).forward(tokens)) > 1e-3);
});

test('granitehybrid: hybrid info shows the architecture, the FFN, experts and multipliers', () => {
  assert.ok(cli);
  const file = path.join(dir, 'info-moe.gguf');
  writeGraniteHybrid('tiny-moe', file, { format: 'q8_0', seed: 1 });
  const r = runSync(cli, ['info', file, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const info = JSON.parse(r.stdout);
  assert.equal(info.architecture, 'granitehybrid');
  assert.equal(info.layers.pattern, 'MM*M*M');
  assert.deepEqual([info.layers.mamba2, info.layers.attention, info.layers.mlp], [4, 2, 0]);
  assert.equal(info.layers.list[2].ffn, 'moe');
  assert.deepEqual(info.experts, { count: 8, used: 2, feedForwardLength: 256, sharedFeedForwardLength: 512, gating: 'softmax, top-k renormalized' });
  const m = info.multipliers;
  assert.deepEqual([m.embedding, m.attention, m.logitDivisor], [12, 0.015625, 4]);
  assert.ok(Math.abs(m.residual - 0.22) < 1e-6, `residual ${m.residual}`);
  assert.equal(info.rope, null);
  assert.equal(info.ssm.groupCount, 1);
  const text = runSync(cli, ['info', file]);
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /^.*granitehybrid/m);
  assert.match(text.stdout, /ffn: mixture of experts after every mixer: 8 experts x 256, 2 used per token .*shared expert 512/);
  assert.match(text.stdout, /multipliers: embedding 12, residual 0\.22, attention 0\.015625, logits divided by 4/);
  assert.match(text.stdout, /rope: none/);

  const dense = path.join(dir, 'info-dense.gguf');
  writeGraniteHybrid('tiny-dense', dense, { seed: 1 });
  const d = JSON.parse(runSync(cli, ['info', dense, '--json']).stdout);
  assert.deepEqual(d.ffn, { kind: 'swiglu', feedForwardLength: 512 });
  assert.equal(d.experts, null);
  assert.match(runSync(cli, ['info', dense]).stdout, /ffn: SwiGLU 512 after every mixer/);
});

test('granitehybrid: unsupported variants fail with a clear error', () => {
  assert.ok(cli);
  const cases: Array<{ name: string; edit: (w: ReturnType<typeof buildGraniteHybrid>) => void; want: RegExp }> = [
    { name: 'yarn', edit: (w) => { w.set('granitehybrid.rope.scaling.finetuned', bool(true)); w.set('granitehybrid.rope.scaling.type', str('yarn')); }, want: /rope scaling type 'yarn'.*not supported for granitehybrid/ },
    { name: 'expansion', edit: (w) => w.set('granitehybrid.ssm.inner_size', u32(256)), want: /ssm.inner_size 256 is not 2 \* embedding_length/ },
    { name: 'groups', edit: (w) => w.set('granitehybrid.expert_group_count', u32(2)), want: /grouped expert routing is not supported/ },
    { name: 'used', edit: (w) => w.set('granitehybrid.expert_used_count', u32(9)), want: /expert_used_count' = 9: a mixture of 8 experts/ },
    { name: 'eps', edit: (w) => w.delete('granitehybrid.attention.layer_norm_rms_epsilon'), want: /required metadata key 'granitehybrid.attention.layer_norm_rms_epsilon' is missing/ },
    { name: 'gate', edit: (w) => w.removeTensor('blk.2.ffn_gate_exps.weight'), want: /tensor blk.2.ffn_gate_exps.weight is missing \(layer 2 is an attention layer with a mixture-of-experts FFN and a shared expert/ },
    { name: 'scale', edit: (w) => w.set('granitehybrid.residual_scale', f32(-1)), want: /residual_scale' = -1 is not a finite number >= 0/ },
  ];
  for (const c of cases) {
    const w = buildGraniteHybrid('tiny-moe', { seed: 1 });
    c.edit(w);
    const file = path.join(dir, `bad-${c.name}.gguf`);
    w.writeFile(file);
    const r = runSync(cli, ['info', file]);
    assert.notEqual(r.status, 0, `${c.name}: accepted`);
    assert.match(r.stderr, c.want, `${c.name}: ${r.stderr}`);
  }
});
