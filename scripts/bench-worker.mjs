// `npm run bench:worker`: what the worker process costs. Streams the same generation through the worker
// (host -> IPC -> worker -> addon -> native thread, and each token back as a `stream` notification) and
// through the addon called in this process, alternately, and prints the time per token of each and the
// difference: the protocol's streaming overhead per token (target < 0.2 ms). Also the protocol's round
// trip (ping, a keystroke's editDocument), and how long the supervisor takes to serve again after kill -9
// (target < 2 s, model load excluded) with the model load time beside it.
//
//   npm run bench:worker -- [--model PATH] [--preset tiny|small] [--tokens 2000] [--reps 5] [--threads 1]
// Needs a build (npm run build): dist/worker.js, out/ (tsc), the addon in native/build (or HYBRID_ADDON_PATH).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { root } from './lib.mjs';

const require = createRequire(import.meta.url);

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const genTokens = Number(arg('tokens', '2000'));
const reps = Number(arg('reps', '5'));
const threads = Number(arg('threads', '1'));
const promptTokens = 32;

function need(p, what) {
  if (!fs.existsSync(p)) {
    console.error(`bench-worker: ${what} not found at ${p}: run \`npm run build\` first`);
    process.exit(1);
  }
  return p;
}

const addonPath = need(process.env.HYBRID_ADDON_PATH || path.join(root, 'native', 'build', 'Release', 'hybrid_addon.node'), 'the native addon');
const workerPath = need(path.join(root, 'dist', 'worker.js'), 'the worker bundle');
const { RuntimeClient } = require(need(path.join(root, 'out', 'src', 'runtime', 'client.js'), 'the compiled client (tsc)'));

function modelFile() {
  const given = arg('model');
  if (given) return need(path.resolve(given), 'the model');
  const preset = arg('preset', 'tiny');
  const out = path.join(os.tmpdir(), `hybrid-bench-${preset}-q8_0-seed1.gguf`);
  if (!fs.existsSync(out)) {
    const maker = need(path.join(root, 'out', 'test', 'fixtures', 'make-model.js'), 'the fixture generator');
    const r = spawnSync(process.execPath, [maker, '--preset', preset, '--format', 'q8_0', '--seed', '1', '--out', out], { stdio: 'inherit' });
    if (r.status !== 0) process.exit(1);
  }
  return out;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const f = (x, d = 3) => x.toFixed(d);

async function main() {
  const modelPath = modelFile();
  const addon = require(addonPath);
  const t0 = performance.now();
  const model = await addon.loadModel(modelPath, { threads });
  const loadMs = performance.now() - t0;
  const info = JSON.parse(model.info());
  const tokens = new Int32Array(promptTokens).map((_, i) => (i * 7919 + 13) % info.hparams.vocabSize);

  const lines = [];
  const logger = { trace() {}, debug() {}, info: (m) => lines.push(m), warn: (m) => lines.push(m), error: (m) => lines.push(m) };
  const client = new RuntimeClient({
    workerPath,
    env: { HYBRID_ADDON_PATH: addonPath },
    settings: () => ({ device: 'cpu', threads, contextLength: 4096, stateMemoryBudgetMB: 256, modelPath, logLevel: 'warn' }),
    logger,
  });
  await client.start();

  console.log(
    `model: ${path.basename(modelPath)} (${info.hparams.pattern}, ${(info.fileSize / 1048576).toFixed(1)} MiB), ${threads} thread(s); ` +
      `${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), load average ${os.loadavg()[0].toFixed(1)}`,
  );
  console.log(`streaming ${genTokens} tokens after a ${promptTokens}-token prompt, ${reps} runs each, alternating; medians\n`);

  // ---- streaming: in process vs through the worker ----
  const inProc = [];
  const inProcCompute = [];
  const viaWorker = [];
  const workerCompute = [];
  let notifications = 0;
  for (let r = 0; r < reps + 1; r++) {
    let n = 0;
    const a0 = performance.now();
    const res = await model.generate(
      { prompt: [{ tokens }], addBos: false, maxTokens: genTokens, stopAtEog: false, contextLength: promptTokens + genTokens + 1, sampling: { temperature: 0 } },
      () => n++,
    ).done;
    const a = performance.now() - a0;
    let streamed = 0;
    let batches = 0;
    const b0 = performance.now();
    const w = await client.stream('bench', { promptTokens, genTokens, stream: true }, (_parts, k) => {
      streamed += k;
      batches++;
    });
    const b = performance.now() - b0;
    if (n !== genTokens || streamed !== genTokens || w.genTokens !== genTokens) throw new Error(`token counts differ: ${n}, ${streamed}, ${w.genTokens}`);
    if (r === 0) continue; // warm-up
    inProc.push(a / genTokens);
    inProcCompute.push((res.prefillMs + res.decodeMs) / genTokens);
    viaWorker.push(b / genTokens);
    workerCompute.push((w.prefillMs + w.decodeMs) / genTokens);
    notifications += batches;
  }
  const overhead = median(viaWorker) - median(inProc);
  const delivery = (wall, compute) => median(wall.map((w, i) => w - compute[i]));
  console.log('streaming, ms per token: wall time of the whole request / tokens (native compute; the rest = delivery):');
  console.log(`  in process (addon called here)   ${f(median(inProc))}   (compute ${f(median(inProcCompute))}, delivery ${f(delivery(inProc, inProcCompute))})`);
  console.log(`  through the worker               ${f(median(viaWorker))}   (compute ${f(median(workerCompute))}, delivery ${f(delivery(viaWorker, workerCompute))})`);
  console.log(`  overhead of the worker           ${f(overhead)} ms/token = ${f(median(viaWorker) / median(inProc), 2)}x the in-process time   (target < 0.2 ms)`);
  console.log(`  stream notifications per run     ${(notifications / reps).toFixed(0)} for ${genTokens} tokens (the first at once, then at most one per 5 ms)\n`);

  // ---- round trips ----
  const pings = [];
  for (let i = 0; i < 2000; i++) {
    const p0 = performance.now();
    await client.request('ping', { seq: i });
    pings.push(performance.now() - p0);
  }
  const doc = 'x'.repeat(100_000);
  await client.request('openDocument', { uri: 'file:///bench.ts', languageId: 'typescript', version: 1, text: doc });
  const edits = [];
  for (let v = 2; v < 1002; v++) {
    const e0 = performance.now();
    await client.request('editDocument', {
      uri: 'file:///bench.ts',
      version: v,
      changes: [{ range: { start: { line: 0, character: v }, end: { line: 0, character: v } }, rangeOffset: v, rangeLength: 0, text: 'y' }],
    });
    edits.push(performance.now() - e0);
  }
  console.log('round trip, ms (host -> worker -> host):');
  console.log(`  ping            median ${f(median(pings))}   p99 ${f(pct(pings, 99))}   (2000 sequential)`);
  console.log(`  editDocument    median ${f(median(edits))}   p99 ${f(pct(edits, 99))}   (one keystroke into a 100 000-character document)\n`);

  // ---- restart after kill -9 ----
  const restarts = [];
  for (let i = 0; i < 3; i++) {
    const pid = client.pid;
    process.kill(pid, 'SIGKILL');
    const k0 = performance.now();
    while (client.currentState !== 'ready' || client.pid === pid) await new Promise((r) => setTimeout(r, 2));
    const wall = performance.now() - k0;
    await client.request('ping', { seq: 1 });
    const s = client.lastStart;
    restarts.push({ wall, ...s });
    await new Promise((r) => setTimeout(r, 200));
  }
  console.log('restart after kill -9, ms (default policy: back-off 100 ms, doubling per crash within a minute):');
  restarts.forEach((s, i) => {
    const seen = s.wall - s.sinceCrashMs; // kill -> the host sees the exit
    const backoff = s.sinceCrashMs - s.totalMs; // the exit -> the new process is forked
    console.log(
      `  crash ${i + 1}: serving again after ${f(s.wall, 0)} = exit seen ${f(seen, 0)} + back-off ${f(backoff, 0)} + process start and initialize ` +
        `${f(s.initializeMs, 0)} + documents ${f(s.hooksMs, 0)} + model load ${f(s.modelMs, 0)} + info ${f(s.totalMs - s.initializeMs - s.hooksMs - s.modelMs, 0)}; ` +
        `without the model load ${f(s.wall - s.modelMs, 0)}   (target < 2000)`,
    );
  });
  console.log(`  model load in process: ${f(loadMs, 1)} ms (${path.basename(modelPath)})`);
  model.dispose();
  await client.dispose();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
