// `npm run bench:cpu`: prefill and decode speed of this runtime and of llama.cpp (node-llama-cpp's prebuilt
// CPU build) on the same `small` fixture files, the same thread count and the same token counts, in one
// run; plus the machine's read bandwidth (decode's roofline) measured in the same run.
//   npm run bench:cpu -- --formats f16,q8_0,q4_k --threads 2 --prompt 256 --gen 64
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { root } from './lib.mjs';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const formats = opt('formats', 'f16,q8_0,q4_k').split(',');
const threads = Number(opt('threads', '2'));
const nPrompt = Number(opt('prompt', '256'));
const nGen = Number(opt('gen', '64'));
const preset = opt('preset', 'small');
// The newest build of the CLI (cmake-js's native/build or plain CMake's native/build-cli), or --cli PATH.
const cli = opt('cli', null) ?? ['native/build/hybrid', 'native/build-cli/hybrid'].map((p) => path.join(root, p)).filter((p) => fs.existsSync(p))
  .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0];
if (!cli) throw new Error('build first: npm run build');
const cacheDir = path.join(root, '.cache', 'models');
fs.mkdirSync(cacheDir, { recursive: true });

function hybrid(argv) {
  return JSON.parse(execFileSync(cli, [...argv, '--json'], { encoding: 'utf8', maxBuffer: 64 << 20 }));
}

function model(format) {
  const file = path.join(cacheDir, `${preset}-${format}-seed1.gguf`);
  if (!fs.existsSync(file)) {
    console.error(`writing ${path.relative(root, file)} ...`);
    execFileSync(process.execPath, [path.join(root, 'out/test/fixtures/make-model.js'), '--preset', preset, '--format', format, '--seed', '1', '--out', file], { stdio: 'inherit' });
  }
  return file;
}

async function llamaCpp(file, vocab) {
  const { getLlama } = await import('node-llama-cpp');
  const llama = await getLlama({ gpu: false, build: 'never', skipDownload: true, logLevel: 'error', maxThreads: threads });
  const m = await llama.loadModel({ modelPath: file });
  const ctx = await m.createContext({ contextSize: nPrompt + nGen + 8, batchSize: Math.min(512, nPrompt), threads, flashAttention: false });
  const prompt = Array.from({ length: nPrompt }, (_, i) => (i * 7919 + 13) % vocab);
  let bestPrefill = Infinity, bestDecode = Infinity;
  for (let rep = 0; rep < 2; rep++) {
    const seq = ctx.getSequence();
    let t0 = performance.now();
    await seq.evaluateWithoutGeneratingNewTokens(prompt);
    bestPrefill = Math.min(bestPrefill, (performance.now() - t0) / 1000);
    // Greedy decode, one token per step (what a completion does).
    let n = 0;
    t0 = performance.now();
    for await (const _ of seq.evaluate([prompt[nPrompt - 1]], { temperature: 0 })) {
      if (++n >= nGen) break;
    }
    bestDecode = Math.min(bestDecode, (performance.now() - t0) / 1000);
    seq.dispose();
  }
  await ctx.dispose();
  await m.dispose();
  await llama.dispose();
  return { prefill_tps: nPrompt / bestPrefill, decode_tps: nGen / bestDecode };
}

const bw = hybrid(['membw', '--threads', String(threads)]).read_gbs;
console.log(`machine: read bandwidth ${bw.toFixed(1)} GB/s with ${threads} threads (decode roofline = bandwidth / bytes per token)`);
const rows = [];
for (const f of formats) {
  const file = model(f);
  const info = hybrid(['info', file]);
  const ours = hybrid(['bench', file, '--prompt-tokens', String(nPrompt), '--gen-tokens', String(nGen), '--threads', String(threads), '--reps', '2']);
  const peer = await llamaCpp(file, info.vocabSize);
  const roofline = bw * 1e9 / ours.weight_bytes_per_token;
  rows.push({
    format: f,
    params: `${(info.parameterCount / 1e6).toFixed(0)}M`,
    'prefill ours': ours.prefill_tps.toFixed(1),
    'prefill llama.cpp': peer.prefill_tps.toFixed(1),
    'prefill ratio': (ours.prefill_tps / peer.prefill_tps).toFixed(2),
    'decode ours': ours.decode_tps.toFixed(1),
    'decode llama.cpp': peer.decode_tps.toFixed(1),
    'decode ratio': (ours.decode_tps / peer.decode_tps).toFixed(2),
    'decode GB/s': ours.decode_gbs.toFixed(1),
    'of roofline': `${((100 * ours.decode_tps) / roofline).toFixed(0)}%`,
  });
  console.log(JSON.stringify(rows.at(-1)));
}
console.log(`\n${preset} fixture, ${nPrompt} prompt tokens, ${nGen} generated, ${threads} threads (tok/s; ratio = ours / llama.cpp)`);
console.table(rows);
