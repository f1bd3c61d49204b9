// `npm run bench:cpu`: prefill and decode speed of this runtime and of llama.cpp (node-llama-cpp's prebuilt
// CPU build) on the same `small` fixture files, the same thread count and the same token counts, in one
// run; plus the machine's read bandwidth (decode's roofline) measured in the same run.
//   npm run bench:cpu -- --formats f16,q8_0,q4_k --threads 2 --prompt 256 --gen 64 [--rounds 3] [--cli PATH]
// On a shared machine the two runtimes see different neighbours unless they alternate: each format runs
// `rounds` rounds of (read bandwidth, ours, llama.cpp) and each side keeps its best round; the roofline is
// the best read bandwidth seen (`hybrid opbench --op read`: 512 MiB, AVX2 loads, the same threads). The
// load average is printed with the table.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
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
const rounds = Number(opt('rounds', '3'));
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

const load = () => os.loadavg().map((v) => v.toFixed(1)).join(' ');

const { getLlama } = await import('node-llama-cpp');
const llama = await getLlama({ gpu: false, build: 'never', skipDownload: true, logLevel: 'error', maxThreads: threads });

// One round of llama.cpp on a loaded model: prefill of the prompt, then greedy decode one token per step
// (what a completion does).
async function llamaRound(m, vocab) {
  const ctx = await m.createContext({ contextSize: nPrompt + nGen + 8, batchSize: Math.min(512, nPrompt), threads, flashAttention: false });
  const prompt = Array.from({ length: nPrompt }, (_, i) => (i * 7919 + 13) % vocab);
  const seq = ctx.getSequence();
  let t0 = performance.now();
  await seq.evaluateWithoutGeneratingNewTokens(prompt);
  const prefill = (performance.now() - t0) / 1000;
  let n = 0;
  t0 = performance.now();
  for await (const _ of seq.evaluate([prompt[nPrompt - 1]], { temperature: 0 })) {
    if (++n >= nGen) break;
  }
  const decode = (performance.now() - t0) / 1000;
  seq.dispose();
  await ctx.dispose();
  return { prefill_tps: nPrompt / prefill, decode_tps: nGen / decode };
}

const loadStart = load();
const reads = [];
const readBandwidth = () => reads.push(hybrid(['opbench', '--op', 'read', '--mb', '512', '--threads', String(threads), '--reps', '3']).read_gbs);
console.log(`${os.cpus()[0]?.model ?? 'cpu'}, ${os.cpus().length} logical cores; load average ${loadStart}`);
const rows = [];
for (const f of formats) {
  const file = model(f);
  const info = hybrid(['info', file]);
  const m = await llama.loadModel({ modelPath: file });
  const best = { ours: { prefill_tps: 0, decode_tps: 0 }, peer: { prefill_tps: 0, decode_tps: 0 } };
  let bytes = 0;
  for (let r = 0; r < rounds; r++) {
    readBandwidth();
    const ours = hybrid(['bench', file, '--prompt-tokens', String(nPrompt), '--gen-tokens', String(nGen), '--threads', String(threads), '--reps', '1']);
    bytes = ours.weight_bytes_per_token;
    const peer = await llamaRound(m, info.vocabSize);
    for (const [side, res] of [['ours', ours], ['peer', peer]]) {
      best[side].prefill_tps = Math.max(best[side].prefill_tps, res.prefill_tps);
      best[side].decode_tps = Math.max(best[side].decode_tps, res.decode_tps);
    }
  }
  await m.dispose();
  rows.push({ format: f, params: `${(info.parameterCount / 1e6).toFixed(0)}M`, bytes, ...best });
  console.log(JSON.stringify(rows.at(-1)));
}
await llama.dispose();
readBandwidth();
const bw = Math.max(...reads);

const table = rows.map(({ format, params, bytes, ours, peer }) => ({
  format,
  params,
  'prefill ours': ours.prefill_tps.toFixed(1),
  'prefill llama.cpp': peer.prefill_tps.toFixed(1),
  'prefill ratio': (ours.prefill_tps / peer.prefill_tps).toFixed(2),
  'decode ours': ours.decode_tps.toFixed(1),
  'decode llama.cpp': peer.decode_tps.toFixed(1),
  'decode ratio': (ours.decode_tps / peer.decode_tps).toFixed(2),
  'decode GB/s ours': ((bytes * ours.decode_tps) / 1e9).toFixed(1),
  'decode GB/s llama.cpp': ((bytes * peer.decode_tps) / 1e9).toFixed(1),
  'of roofline': `${((100 * bytes * ours.decode_tps) / (bw * 1e9)).toFixed(0)}%`,
}));
console.log(`\n${preset} fixture, ${nPrompt} prompt tokens, ${nGen} generated, ${threads} threads, best of ${rounds} alternating rounds (tok/s; ratio = ours / llama.cpp)`);
console.log(`read bandwidth ${Math.min(...reads).toFixed(1)}..${bw.toFixed(1)} GB/s over ${reads.length} measurements (roofline: ${bw.toFixed(1)} GB/s; bytes per decode step as "hybrid bench" counts them)`);
console.log(`load average: ${loadStart} at the start, ${load()} at the end (1, 5, 15 min)`);
console.table(table);
