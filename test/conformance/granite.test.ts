// granitehybrid (IBM Granite 4.0 H) against llama.cpp (node-llama-cpp's prebuilt binaries, F32 KV cache,
// no flash attention) on the same GGUF and tokens: next-token logits at every position within tolerance
// and identical greedy generations (near-ties allowed for quantized formats), for the dense (SwiGLU) and
// the mixture-of-experts fixtures in several formats, the RoPE variant, a Granite-sized vocabulary
// (100352 tokens, pre dbrx, FIM tokens) and the real H-1B layer dimensions.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { FormatName } from '../fixtures/ggml-formats';
import { writeGraniteHybrid, type GraniteHybridDims, type GraniteMakeOptions, type GranitePresetName } from '../fixtures/granite-hybrid';
import { hybridCli, runSync } from '../fixtures/hybrid-cli';
import { graniteTokenizer } from '../fixtures/tokenizer/vocabs';
import { cpuLlama, exactContext, loadNodeLlamaCpp, peerLogits, SKIP_PEER } from './peer';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hybrid-granite-peer-'));
let llama: any;
let peerError = '';

before(async () => {
  const peer = await loadNodeLlamaCpp();
  if (!peer.module) peerError = peer.error ?? 'unknown';
  else llama = await cpuLlama(peer.module);
});
after(async () => {
  await llama?.dispose?.();
  fs.rmSync(dir, { recursive: true, force: true });
});

function ours(model: string, args: string[]): any {
  const cli = hybridCli();
  assert.ok(cli, 'the hybrid CLI is not built');
  const r = runSync(cli, [...args.slice(0, 1), model, ...args.slice(1), '--json']);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

const prompt = [1, 40, 41, 42, 200, 17, 17, 3, 99, 150, 260, 7, 8, 9, 10, 11, 12, 13, 14, 100, 101, 5, 66, 67];

interface Case {
  name: string;
  preset: GranitePresetName;
  format: FormatName;
  seed: number;
  tol: number; // max logit error, relative to the logit range at that position
  opts?: GraniteMakeOptions;
  dims?: Partial<GraniteHybridDims>;
  prompt?: number[];
  gen?: number; // greedy steps (default 64)
}

// Tolerances as in test/conformance/forward.test.ts (shared/docs/nemotron-h-gguf.md): F32 1e-4 of the
// logit range; F16 and quantized 5e-3 (the activations are rounded as llama.cpp rounds them); Q4_K/Q4_1
// looser (llama.cpp's repacked Q4_K path quantizes activations with its own routine).
const cases: Case[] = [
  ...(['tiny-dense', 'tiny-moe'] as GranitePresetName[]).flatMap((preset, p): Case[] => [
    { name: `${preset} f32`, preset, format: 'f32', seed: 31 + p, tol: 1e-4 },
    { name: `${preset} f16`, preset, format: 'f16', seed: 33 + p, tol: 5e-3 },
    { name: `${preset} bf16`, preset, format: 'bf16', seed: 35 + p, tol: 5e-3 },
    { name: `${preset} q8_0`, preset, format: 'q8_0', seed: 37 + p, tol: 5e-3 },
    { name: `${preset} q4_0`, preset, format: 'q4_0', seed: 39 + p, tol: 5e-3 },
    { name: `${preset} q5_1`, preset, format: 'q5_1', seed: 41 + p, tol: 5e-3 },
    { name: `${preset} q4_k`, preset, format: 'q4_k', seed: 43 + p, tol: 1.5e-2 },
    { name: `${preset} q6_k`, preset, format: 'q6_k', seed: 45 + p, tol: 5e-3 },
  ]),
  // RoPE on (rope.scaling.finetuned = true, as Bamba-style files), no µP keys at all.
  { name: 'tiny-moe rope, no multipliers', preset: 'tiny-moe', format: 'f32', seed: 51, tol: 1e-4,
    dims: { rope: true, ropeFreqBase: 500, embeddingScale: 0, residualScale: 0, attentionScale: 0, logitScale: 0 } },
  // Untied lm_head.
  { name: 'tiny-dense q8_0 untied', preset: 'tiny-dense', format: 'q8_0', seed: 52, tol: 5e-3, opts: { tied: false } },
  // Granite's vocabulary: 100352 tokens (pre dbrx, FIM and role tokens), tied, F16.
  { name: 'tiny-dense f16 granite vocabulary', preset: 'tiny-dense', format: 'f16', seed: 53, tol: 5e-3,
    opts: { tokenizer: graniteTokenizer() }, prompt: [100257, 100258, 510, 4000, 77, 100260, 912, 33, 100259, 5001, 42, 7], gen: 16 },
  // The real H-1B layer dimensions (E 1536, Mamba-2 48 x 64, d_state 128, 1 group, 12/4 heads x 128,
  // SwiGLU 4096), three layers.
  { name: 'h1b-shapes q8_0', preset: 'h1b-shapes', format: 'q8_0', seed: 54, tol: 5e-3, gen: 16 },
];

for (const c of cases) {
  test(`granitehybrid logits and greedy generation match llama.cpp: ${c.name}`, { skip: SKIP_PEER && 'HYBRID_SKIP_PEER=1' }, async () => {
    assert.ok(llama, `llama.cpp peer unavailable: ${peerError}`);
    const file = path.join(dir, `${c.name.replace(/[^a-z0-9]+/gi, '-')}.gguf`);
    writeGraniteHybrid(c.preset, file, { format: c.format, seed: c.seed, dims: c.dims, ...c.opts });
    const tokens = c.prompt ?? prompt;
    const nGen = c.gen ?? 64;
    const model = await llama.loadModel({ modelPath: file });
    try {
      const got: number[][] = ours(file, ['logits', '--tokens', tokens.join(','), '--all-positions']).logits;
      const V = got[0].length;
      const ctx = await exactContext(model, 256);
      const want = await peerLogits(ctx.getSequence(), tokens, V);
      let worst = 0;
      for (let t = 0; t < tokens.length; t++) {
        let lo = Infinity, hi = -Infinity, err = 0, argOurs = 0, argPeer = 0;
        for (let i = 0; i < V; i++) {
          assert.ok(Number.isFinite(want[t][i]), `llama.cpp logit ${i} at ${t} missing`);
          lo = Math.min(lo, want[t][i]);
          hi = Math.max(hi, want[t][i]);
          err = Math.max(err, Math.abs(got[t][i] - want[t][i]));
          if (got[t][i] > got[t][argOurs]) argOurs = i;
          if (want[t][i] > want[t][argPeer]) argPeer = i;
        }
        worst = Math.max(worst, err / (hi - lo));
        assert.equal(argOurs, argPeer, `top-1 differs at position ${t}`);
      }
      assert.ok(worst <= c.tol, `max logit error ${worst.toExponential(2)} of the range > ${c.tol}`);
      await ctx.dispose();

      // Greedy after the prompt, following our tokens (teacher forcing) so that every step compares the
      // same context.
      const gen: number[] = ours(file, ['generate', '--tokens', tokens.join(','), '-n', String(nGen), '--temp', '0']).tokens;
      assert.equal(gen.length, nGen);
      const ctx2 = await exactContext(model, 256);
      const seq = ctx2.getSequence();
      let logits = (await peerLogits(seq, tokens, V)).at(-1)!;
      let same = 0;
      for (let i = 0; i < nGen; i++) {
        let best = 0, lo = Infinity, hi = -Infinity;
        for (let j = 0; j < V; j++) {
          if (logits[j] > logits[best]) best = j;
          lo = Math.min(lo, logits[j]);
          hi = Math.max(hi, logits[j]);
        }
        if (best === gen[i]) same++;
        else {
          // Only a near-tie in llama.cpp's own logits may flip (one rounded activation moves a logit that much).
          const margin = (logits[best] - logits[gen[i]]) / (hi - lo);
          assert.ok(margin <= c.tol, `greedy step ${i}: ours ${gen[i]}, llama.cpp ${best}, margin ${margin.toExponential(2)} of the range`);
        }
        if (i < nGen - 1) logits = (await peerLogits(seq, [gen[i]], V))[0];
      }
      await ctx2.dispose();
      if (c.format === 'f32' || c.format === 'f16') assert.equal(same, nGen, 'greedy generations differ');
      console.log(`# ${c.name}: max logit error ${worst.toExponential(2)} of the range over ${tokens.length} positions; greedy: ${same}/${nGen} identical steps, the rest near-ties`);
    } finally {
      await model.dispose();
    }
  });
}
