// `npm run bench:cpu`: prefill and decode speed of this runtime and of llama.cpp (node-llama-cpp's prebuilt
// CPU build) on the same fixture files, the same thread count and the same token counts, in one run; plus
// the machine's read bandwidth (decode's roofline) measured in the same run. Prints one table (Markdown).
//   npm run bench:cpu -- [--models small:f16,granite-h350m:q8_0:128:32,...] [--threads 2] [--prompt N --gen N]
//        [--rounds 3] [--cli PATH]        (old form: --preset small --formats f16,q8_0,q4_k)
// A model is PRESET:FORMAT[:PROMPT:GEN]: PRESET a nemotron_h fixture preset (tiny, small, nano9b-shapes) or
// granite-PRESET (granitehybrid: granite-h350m and granite-h1b are the whole granite-4.0-h-350m / h-1b with
// random weights, every layer and the 100352-token vocabulary). The bigger shapes default to fewer tokens
// (PROMPT:GEN in the list); --prompt/--gen set every model's counts.
// On a shared machine the two runtimes see different neighbours unless they alternate: each model runs
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
const threads = Number(opt('threads', '2'));
const promptAll = opt('prompt', null);
const genAll = opt('gen', null);
const rounds = Number(opt('rounds', '3'));
const DEFAULT_MODELS = 'small:f16:256:64,small:q8_0:256:64,small:q4_k:256:64,granite-h350m:q8_0:128:32,granite-h350m:q4_k:128:32,granite-h1b:q8_0:64:16,granite-h1b:q4_k:64:16';
const modelList = opt('models', null) ?? (opt('formats', null) ? opt('formats').split(',').map((f) => `${opt('preset', 'small')}:${f}`).join(',') : DEFAULT_MODELS);
const specs = modelList.split(',').map((m) => {
  const [preset, format, p, g] = m.split(':');
  if (!preset || !format) throw new Error(`--models: '${m}' is not PRESET:FORMAT[:PROMPT:GEN]`);
  return { preset, format, nPrompt: Number(promptAll ?? p ?? 256), nGen: Number(genAll ?? g ?? 64) };
});
// The newest build of the CLI (cmake-js's native/build or plain CMake's native/build-cli), or --cli PATH.
const cliInput = opt('cli', null) ?? ['native/build/hybrid', 'native/build-cli/hybrid'].map((p) => path.join(root, p)).filter((p) => fs.existsSync(p))
  .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0];
if (!cliInput) throw new Error('build first: npm run build');
// A copy of the CLI: a rebuild of native/ during the run (a shared checkout) must not pull it away mid-table.
const cliCopy = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bench-cpu-')), 'hybrid');
fs.copyFileSync(cliInput, cliCopy);
fs.chmodSync(cliCopy, 0o755);
process.on('exit', () => fs.rmSync(path.dirname(cliCopy), { recursive: true, force: true }));
const cacheDir = path.join(root, '.cache', 'models');
fs.mkdirSync(cacheDir, { recursive: true });

function hybrid(argv) {
  return JSON.parse(execFileSync(cliCopy, [...argv, '--json'], { encoding: 'utf8', maxBuffer: 64 << 20 }));
}

function model(preset, format) {
  const file = path.join(cacheDir, `${preset}-${format}-seed1.gguf`);
  if (!fs.existsSync(file)) {
    console.error(`writing ${path.relative(root, file)} ...`);
    const granite = preset.startsWith('granite-');
    const maker = path.join(root, 'out/test/fixtures', granite ? 'make-granite.js' : 'make-model.js');
    execFileSync(process.execPath, [maker, '--preset', granite ? preset.slice('granite-'.length) : preset, '--format', format, '--seed', '1', '--out', file], { stdio: 'inherit' });
  }
  return file;
}

const load = () => os.loadavg().map((v) => v.toFixed(1)).join(' ');

const { getLlama } = await import('node-llama-cpp');
const llama = await getLlama({ gpu: false, build: 'never', skipDownload: true, logLevel: 'error', maxThreads: threads });

// One round of llama.cpp on a loaded model: prefill of the prompt, then greedy decode one token per step
// (what a completion does).
async function llamaRound(m, vocab, nPrompt, nGen) {
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
const readBandwidth = () => {
  const gbs = hybrid(['opbench', '--op', 'read', '--mb', '512', '--threads', String(threads), '--reps', '3']).read_gbs;
  reads.push(gbs);
  return gbs;
};
console.log(`${os.cpus()[0]?.model ?? 'cpu'}, ${os.cpus().length} logical cores; load average ${loadStart}`);
const rows = [];
for (const { preset, format, nPrompt, nGen } of specs) {
  const file = model(preset, format);
  const info = hybrid(['info', file]);
  const m = await llama.loadModel({ modelPath: file });
  const best = { ours: { prefill_tps: 0, decode_tps: 0 }, peer: { prefill_tps: 0, decode_tps: 0 } };
  let bytes = 0;
  let bw = 0;
  for (let r = 0; r < rounds; r++) {
    bw = Math.max(bw, readBandwidth());
    const ours = hybrid(['bench', file, '--prompt-tokens', String(nPrompt), '--gen-tokens', String(nGen), '--threads', String(threads), '--reps', '1']);
    bytes = ours.weight_bytes_per_token;
    const peer = await llamaRound(m, info.vocabSize, nPrompt, nGen);
    for (const [side, res] of [['ours', ours], ['peer', peer]]) {
      best[side].prefill_tps = Math.max(best[side].prefill_tps, res.prefill_tps);
      best[side].decode_tps = Math.max(best[side].decode_tps, res.decode_tps);
    }
  }
  await m.dispose();
  rows.push({ model: preset, arch: info.architecture, format, params: `${(info.parameterCount / 1e6).toFixed(0)}M`, nPrompt, nGen, bytes, bw, ...best });
  console.log(JSON.stringify(rows.at(-1)));
}
await llama.dispose();
readBandwidth();
const bwAll = Math.max(...reads);

// The table: one row per model and format. Ratios are ours / llama.cpp; "decode GB/s" is the weight bytes one
// decode step reads (as `hybrid bench` counts them) times decode tok/s; "read GB/s" the best read bandwidth
// measured during that model's rounds; "of roofline" decode GB/s over the best read bandwidth of the run.
const cols = [
  ['model', 'l', (r) => r.model],
  ['format', 'l', (r) => r.format],
  ['params', 'r', (r) => r.params],
  ['prompt/gen', 'r', (r) => `${r.nPrompt}/${r.nGen}`],
  ['prefill ours', 'r', (r) => r.ours.prefill_tps.toFixed(1)],
  ['prefill llama.cpp', 'r', (r) => r.peer.prefill_tps.toFixed(1)],
  ['prefill ratio', 'r', (r) => `${(r.ours.prefill_tps / r.peer.prefill_tps).toFixed(2)}x`],
  ['decode ours', 'r', (r) => r.ours.decode_tps.toFixed(1)],
  ['decode llama.cpp', 'r', (r) => r.peer.decode_tps.toFixed(1)],
  ['decode ratio', 'r', (r) => `${(r.ours.decode_tps / r.peer.decode_tps).toFixed(2)}x`],
  ['decode GB/s', 'r', (r) => ((r.bytes * r.ours.decode_tps) / 1e9).toFixed(2)],
  ['read GB/s', 'r', (r) => r.bw.toFixed(2)],
  ['of roofline', 'r', (r) => `${((100 * r.bytes * r.ours.decode_tps) / (bwAll * 1e9)).toFixed(0)}%`],
];
const cells = rows.map((r) => cols.map(([, , f]) => String(f(r))));
const width = cols.map(([h], i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
const pad = (s, i) => (cols[i][1] === 'l' ? s.padEnd(width[i]) : s.padStart(width[i]));
const line = (xs) => `| ${xs.map(pad).join(' | ')} |`;
console.log(`\nbench:cpu — ${threads} threads, best of ${rounds} alternating rounds per model; tok/s; ratio = ours / llama.cpp (node-llama-cpp, CPU build)`);
console.log(`read bandwidth ${Math.min(...reads).toFixed(1)}..${bwAll.toFixed(1)} GB/s over ${reads.length} measurements (roofline: ${bwAll.toFixed(1)} GB/s)`);
console.log(`load average: ${loadStart} at the start, ${load()} at the end (1, 5, 15 min); ${os.cpus()[0]?.model ?? 'cpu'}\n`);
console.log(line(cols.map(([h]) => h)));
console.log(`|${width.map((w, i) => (cols[i][1] === 'l' ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
for (const c of cells) console.log(line(c));
