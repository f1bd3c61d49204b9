// `npm run soak`: thousands of completion and chat requests against the tiny fixture model, through the
// host's RuntimeClient (out/src/runtime/client.js) and the real worker (dist/worker.js), as an editor would
// make them: typing and edits anywhere in several documents (mirrored by DocumentSync), completions that
// supersede each other, cancellations at random moments, chats with and without a reasoning budget,
// documents opened and closed, and the worker restarted (restart()) or killed (SIGKILL, the supervisor
// restarts it) every few hundred requests.
//
// Prints, every --sample requests: the worker's RSS and open file descriptors, the host's RSS, heap (after
// a GC) and open handles (libuv resources: sockets, timers, child processes). Fails (exit 1) when:
//  - a worker's RSS grows more than --bound-mb MiB between its first sample after --warmup requests and
//    its last (each worker process is measured over its own life: a restart resets RSS), or the fitted
//    slope over the longest-lived worker exceeds --slope-mb MiB per 1000 requests;
//  - the host's heap grows more than --host-bound-mb MiB from the first sample after warm-up to the end;
//  - the host's handles or the worker's file descriptors end above their baseline + 8 (a leak of timers,
//    pipes or files per request would show as hundreds);
//  - a request fails other than by cancellation or by a worker that was killed on purpose.
//
// The worker's state budget (--state-mb, 16) bounds what its document sessions may legitimately hold; it
// fills during the warm-up, so growth after it is what the bounds judge.
//
//   --requests N (10000)  --docs D (6)  --restart-every K (3000)  --sample S (250)  --warmup W (300)
//   --bound-mb M (32)  --slope-mb M (16, judged over a worker life of 600+ requests after warm-up)
//   --host-bound-mb M (48)  --state-mb M (16)  --json FILE  --seed S
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { root } from './lib.mjs';

const opts = {
  requests: 10000, docs: 6, restartEvery: 3000, sample: 250, warmup: 300, boundMb: 32, slopeMb: 16, hostBoundMb: 48, stateMb: 16, json: undefined, seed: 7,
};
{
  const names = { '--requests': 'requests', '--docs': 'docs', '--restart-every': 'restartEvery', '--sample': 'sample', '--warmup': 'warmup',
    '--bound-mb': 'boundMb', '--slope-mb': 'slopeMb', '--host-bound-mb': 'hostBoundMb', '--state-mb': 'stateMb', '--json': 'json', '--seed': 'seed' };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const key = names[argv[i]];
    if (!key || i + 1 >= argv.length) {
      console.error(`soak: unknown option or missing value: ${argv[i]} (known: ${Object.keys(names).join(' ')})`);
      process.exit(2);
    }
    opts[key] = key === 'json' ? argv[++i] : Number(argv[++i]);
  }
}

const need = ['out/src/runtime/client.js', 'out/src/runtime/documentSync.js', 'out/test/fixtures/nemotron-h.js', 'dist/worker.js', 'native/build/Release/hybrid_addon.node'];
const missing = need.filter((p) => !fs.existsSync(path.join(root, p)));
if (missing.length) {
  console.error(`soak: ${missing.join(', ')} missing: run \`npm run build\` first`);
  process.exit(2);
}
const load = createRequire(path.join(root, 'out', 'x.js'));
const { RuntimeClient, RuntimeError } = load(path.join(root, 'out/src/runtime/client.js'));
const { DocumentSync } = load(path.join(root, 'out/src/runtime/documentSync.js'));
const { ErrorCode } = load(path.join(root, 'out/src/shared/protocol.js'));
const { writeNemotronH } = load(path.join(root, 'out/test/fixtures/nemotron-h.js'));
const { defaultVocab, TOKEN_TYPE } = load(path.join(root, 'out/test/fixtures/default-vocab.js'));

// ---- fixture model and documents ----

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hybrid-soak-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));
const modelPath = path.join(tmp, 'tiny-think-q8_0.gguf');
{
  const vocab = defaultVocab();
  vocab.tokens.push('<think>', '</think>');
  vocab.tokenTypes.push(TOKEN_TYPE.control, TOKEN_TYPE.control);
  writeNemotronH('tiny', modelPath, { seed: 1, format: 'q8_0', tokenizer: vocab });
}

let rngState = opts.seed >>> 0 || 1;
function rand() {
  rngState ^= rngState << 13;
  rngState ^= rngState >>> 17;
  rngState ^= rngState << 5;
  return (rngState >>> 0) / 2 ** 32;
}
const randInt = (n) => Math.floor(rand() * n);
const pick = (a) => a[randInt(a.length)];

const SOURCES = ['test/corpus/tokenizer/code.py', 'test/corpus/tokenizer/code.ts', 'test/corpus/tokenizer/code.rs', 'test/corpus/tokenizer/code.go',
  'test/corpus/tokenizer/code.cpp', 'test/corpus/tokenizer/page.html']
  .map((p) => path.join(root, p))
  .filter((p) => fs.existsSync(p))
  .map((p) => fs.readFileSync(p, 'utf8'));
if (SOURCES.length === 0) SOURCES.push('def f(x):\n    return x * 2\n\nclass A:\n    pass\n');
const SNIPPETS = ['self', '.', 'return ', 'x', ' = ', '(', ')', '\n', '    ', 'if ', 'for i in range(10):', '// note', '{', '}', ';', 'é', '中', '😀', '\t'];

class Editor {
  docs = new Map();
  open(uri, text, languageId = 'python') {
    this.docs.set(uri, { uri, languageId, version: 1, text });
    return this.get(uri);
  }
  close(uri) {
    this.docs.delete(uri);
  }
  edit(uri, offset, length, text) {
    const d = this.docs.get(uri);
    d.text = d.text.slice(0, offset) + text + d.text.slice(offset + length);
    d.version++;
    const pos = { line: 0, character: 0 };
    return { range: { start: pos, end: pos }, rangeOffset: offset, rangeLength: length, text };
  }
  get(uri) {
    const d = this.docs.get(uri);
    return { uri: d.uri, languageId: d.languageId, version: d.version, getText: () => d.text };
  }
  list() {
    return [...this.docs.keys()].map((u) => this.get(u));
  }
}

// ---- measurements ----

function procStatus(pid, field) {
  try {
    const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}
function fdCount(pid) {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return NaN;
  }
}
const mib = (b) => (Number.isFinite(b) ? (b / 1048576).toFixed(1) : '-');
function handles() {
  return typeof process.getActiveResourcesInfo === 'function' ? process.getActiveResourcesInfo().length : process._getActiveHandles().length;
}

// ---- the run ----

const logger = { trace() {}, debug() {}, info() {}, warn() {}, error: (m) => errorsLogged.push(m) };
const errorsLogged = [];
const client = new RuntimeClient({
  workerPath: path.join(root, 'dist', 'worker.js'),
  settings: () => ({ device: 'cpu', threads: 1, contextLength: 1024, stateMemoryBudgetMB: opts.stateMb, modelPath, logLevel: 'warn' }),
  logger,
  restart: { minDelayMs: 50, maxDelayMs: 1000, maxCrashes: 50, windowMs: 60_000 },
});
const editor = new Editor();
const sync = new DocumentSync({ client, logger, documents: () => editor.list(), isEnabled: () => true });

const counts = { complete: 0, chat: 0, cancelled: 0, superseded: 0, outdated: 0, overContext: 0, crashedOnPurpose: 0, edits: 0, opens: 0, closes: 0, restarts: 0, kills: 0, tokens: 0 };
const failures = [];
const samples = [];
let killing = false;

function token() {
  const listeners = new Set();
  const t = { isCancellationRequested: false, onCancellationRequested: (l) => (listeners.add(l), { dispose: () => listeners.delete(l) }) };
  return { t, cancel: () => { if (!t.isCancellationRequested) { t.isCancellationRequested = true; for (const l of [...listeners]) l(); } } };
}

// `doc`: the completion's document and version. The editor may change the document while a request is on
// its way; the worker then refuses the old version (DocumentOutOfSync), as the completion engine expects.
async function guarded(kind, p, doc) {
  try {
    const r = await p;
    if (r.stopReason === 'cancelled') counts.cancelled++;
    if (r.stopReason === 'superseded') counts.superseded++;
    counts.tokens += r.stats?.generatedTokens ?? 0;
  } catch (e) {
    const code = e instanceof RuntimeError ? e.code : undefined;
    if (code === ErrorCode.Cancelled) counts.cancelled++;
    else if (code === ErrorCode.DocumentOutOfSync && doc && (editor.docs.get(doc.uri)?.version ?? Infinity) > doc.version) counts.outdated++;
    else if (code === ErrorCode.DocumentNotOpen && doc && !editor.docs.has(doc.uri)) counts.outdated++;
    // A chat prompt longer than the context is refused with this message (never cut): expected for the
    // longer prompts chat() sends on purpose.
    else if (code === ErrorCode.BadInput && kind === 'chat' && /^the prompt needs \d+ tokens, more than the \d+ left in a context of/.test(e.message)) counts.overContext++;
    else if ((code === ErrorCode.WorkerCrashed || code === ErrorCode.RuntimeStopped) && killing) counts.crashedOnPurpose++;
    else if (code === ErrorCode.WorkerCrashed && /was stopped/.test(e.message)) counts.crashedOnPurpose++; // restart() mid-request
    else failures.push(`${kind}: ${e.message} (code ${code})`);
  }
}

function openDoc(i) {
  const src = pick(SOURCES);
  const start = randInt(Math.max(1, src.length - 2000));
  const uri = `file:///soak/doc${i}-${counts.opens}.py`;
  const d = editor.open(uri, src.slice(start, start + 500 + randInt(6000)));
  sync.didOpen(d);
  counts.opens++;
  return uri;
}

function editDoc(uri) {
  const d = editor.docs.get(uri);
  const r = rand();
  let ch;
  if (r < 0.6) ch = editor.edit(uri, d.text.length, 0, pick(SNIPPETS)); // typing at the end
  else if (r < 0.85) {
    const at = randInt(d.text.length + 1);
    ch = editor.edit(uri, at, Math.min(randInt(20), d.text.length - at), pick(SNIPPETS)); // an edit inside
  } else {
    const at = Math.max(0, d.text.length - 1 - randInt(5));
    ch = editor.edit(uri, at, d.text.length - at, ''); // backspace
  }
  sync.didChange(editor.get(uri), [ch]);
  counts.edits++;
}

function complete(uri, cancelAfterMs) {
  const d = editor.get(uri);
  const { t, cancel } = token();
  if (cancelAfterMs !== undefined) setTimeout(cancel, cancelAfterMs);
  counts.complete++;
  return guarded('complete', client.stream('complete', { uri, version: d.version, offset: d.getText().length, maxTokens: 4 + randInt(12) }, () => undefined, t), d);
}

// Most chat prompts fit the context (1024 tokens); some (up to ~1600 characters of code) do not, and must be
// refused with a clear error while the worker goes on serving.
function chat(cancelAfterMs) {
  const user = pick(SOURCES).slice(0, 100 + randInt(rand() < 0.8 ? 700 : 1500));
  const thinking = rand() < 0.5;
  const prompt = `<|im_start|>system\nYou help.<|im_end|>\n<|im_start|>user\n${user}<|im_end|>\n<|im_start|>assistant\n${thinking ? '<think>\n' : ''}`;
  const { t, cancel } = token();
  if (cancelAfterMs !== undefined) setTimeout(cancel, cancelAfterMs);
  counts.chat++;
  return guarded('chat', client.stream('chat', {
    prompt, maxTokens: 8 + randInt(24), addBos: true, stop: ['<|im_end|>'],
    thinking: thinking ? { startsInside: true, open: '<think>', close: '</think>', budget: 4 + randInt(8), inject: '</think>\n' } : undefined,
  }, () => undefined, t));
}

async function sample(done, t0) {
  if (global.gc) global.gc();
  const pid = client.pid;
  const s = {
    requests: done, seconds: (Date.now() - t0) / 1000, pid, workerRss: procStatus(pid, 'VmRSS'), workerFds: fdCount(pid),
    hostRss: process.memoryUsage().rss, hostHeap: process.memoryUsage().heapUsed, handles: handles(), hostFds: fdCount(process.pid),
  };
  samples.push(s);
  console.log(`${String(done).padStart(6)} ${s.seconds.toFixed(1).padStart(7)} ${String(pid).padStart(8)} ${mib(s.workerRss).padStart(10)} ${String(s.workerFds).padStart(7)} ` +
    `${mib(s.hostRss).padStart(9)} ${mib(s.hostHeap).padStart(9)} ${String(s.handles).padStart(8)} ${String(s.hostFds).padStart(8)}`);
}

function slope(points) {
  // least squares, MiB per 1000 requests
  const n = points.length;
  if (n < 3) return 0;
  const mx = points.reduce((a, p) => a + p.requests, 0) / n;
  const my = points.reduce((a, p) => a + p.workerRss, 0) / n;
  let num = 0, den = 0;
  for (const p of points) {
    num += (p.requests - mx) * (p.workerRss - my);
    den += (p.requests - mx) ** 2;
  }
  return den ? ((num / den) * 1000) / 1048576 : 0;
}

async function main() {
  const t0 = Date.now();
  console.log(`soak: ${opts.requests} requests over ${opts.docs} documents, worker restarted every ${opts.restartEvery}; model ${path.basename(modelPath)}`);
  console.log(`bound: each worker's RSS may grow at most ${opts.boundMb} MiB after ${opts.warmup} warm-up requests (fitted slope <= ${opts.slopeMb} MiB/1000 requests; state budget ${opts.stateMb} MiB); ` +
    `host heap at most ${opts.hostBoundMb} MiB; handles and fds back within 8 of their baseline`);
  await client.start();
  let uris = [];
  for (let i = 0; i < opts.docs; i++) uris.push(openDoc(i));
  console.log(`\n${'reqs'.padStart(6)} ${'sec'.padStart(7)} ${'worker'.padStart(8)} ${'w.RSS MiB'.padStart(10)} ${'w.fds'.padStart(7)} ${'host RSS'.padStart(9)} ${'host heap'.padStart(9)} ${'handles'.padStart(8)} ${'host fds'.padStart(8)}`);
  await sample(0, t0);
  let done = 0;
  let restartKind = 0;
  while (done < opts.requests) {
    const uri = pick(uris);
    editDoc(uri);
    const r = rand();
    const inflight = [];
    if (r < 0.7) {
      // completion; sometimes a second one right after (the first is superseded), sometimes cancelled
      inflight.push(complete(uri, rand() < 0.15 ? randInt(15) : undefined));
      if (rand() < 0.25) {
        editDoc(uri);
        inflight.push(complete(uri));
        done++;
      }
    } else if (r < 0.95) {
      inflight.push(chat(rand() < 0.2 ? randInt(30) : undefined));
    } else {
      // close one document, open another
      const gone = uris.splice(randInt(uris.length), 1)[0];
      editor.close(gone);
      sync.didClose(gone);
      counts.closes++;
      uris.push(openDoc(done));
      inflight.push(complete(uris[uris.length - 1]));
    }
    done++;
    await Promise.all(inflight);
    if (done % opts.restartEvery < (inflight.length > 1 ? 2 : 1) && done < opts.requests) {
      if (restartKind++ % 2 === 0) {
        counts.restarts++;
        await client.restart();
      } else {
        counts.kills++;
        killing = true;
        const pid = client.pid;
        const during = complete(pick(uris)); // in flight when the worker dies
        process.kill(pid, 'SIGKILL');
        await during;
        await client.start();
        killing = false;
      }
    }
    if (done % opts.sample < (inflight.length > 1 ? 2 : 1)) await sample(done, t0);
  }
  await sample(done, t0);
  const seconds = (Date.now() - t0) / 1000;
  await client.dispose();
  sync.dispose();
  await new Promise((r) => setTimeout(r, 200));
  const endHandles = handles();

  // ---- verdict ----
  const byWorker = new Map();
  for (const s of samples) {
    if (!byWorker.has(s.pid)) byWorker.set(s.pid, []);
    byWorker.get(s.pid).push(s);
  }
  const problems = [...failures.slice(0, 20)];
  if (failures.length > 20) problems.push(`… and ${failures.length - 20} more failed requests`);
  let longest = [];
  const growth = [];
  for (const [pid, list] of byWorker) {
    const firstReq = list[0].requests;
    const settled = list.filter((s) => s.requests - firstReq >= opts.warmup || (firstReq === 0 && s.requests >= opts.warmup));
    if (settled.length >= 2) {
      const g = (settled[settled.length - 1].workerRss - settled[0].workerRss) / 1048576;
      growth.push({ pid, from: settled[0].requests, to: settled[settled.length - 1].requests, mib: g, start: settled[0].workerRss / 1048576, end: settled[settled.length - 1].workerRss / 1048576 });
      if (g > opts.boundMb) problems.push(`worker ${pid}: RSS grew ${g.toFixed(1)} MiB from request ${settled[0].requests} to ${settled[settled.length - 1].requests} (bound ${opts.boundMb} MiB)`);
      if (settled.length > longest.length) longest = settled;
    }
  }
  const slopeMb = slope(longest);
  const slopeSpan = longest.length ? longest[longest.length - 1].requests - longest[0].requests : 0;
  if (slopeSpan >= 600 && slopeMb > opts.slopeMb) problems.push(`worker RSS slope ${slopeMb.toFixed(2)} MiB per 1000 requests over ${slopeSpan} requests (bound ${opts.slopeMb})`);
  const base = samples.find((s) => s.requests >= opts.warmup) ?? samples[0];
  const last = samples[samples.length - 1];
  const heapGrowth = (last.hostHeap - base.hostHeap) / 1048576;
  if (heapGrowth > opts.hostBoundMb) problems.push(`host heap grew ${heapGrowth.toFixed(1)} MiB (bound ${opts.hostBoundMb} MiB)`);
  if (last.handles > samples[0].handles + 8) problems.push(`host handles ${samples[0].handles} -> ${last.handles} while running`);
  if (endHandles > samples[0].handles + 8) problems.push(`host handles ${samples[0].handles} -> ${endHandles} after dispose`);
  const wfds = samples.filter((s) => Number.isFinite(s.workerFds));
  const minFds = Math.min(...wfds.map((s) => s.workerFds));
  const maxFds = Math.max(...wfds.map((s) => s.workerFds));
  if (maxFds > minFds + 8) problems.push(`worker file descriptors ${minFds} -> ${maxFds}`);
  if (last.hostFds > samples[0].hostFds + 8) problems.push(`host file descriptors ${samples[0].hostFds} -> ${last.hostFds}`);

  console.log(`\nsoak: ${done} requests (${counts.complete} completions, ${counts.chat} chats; ${counts.cancelled} cancelled, ${counts.superseded} superseded, ` +
    `${counts.outdated} for a version the editor had already changed, ${counts.overContext} chats refused as longer than the context, ${counts.crashedOnPurpose} ended by a kill), ${counts.edits} edits, ${counts.opens} opens, ${counts.closes} closes, ${counts.restarts} restarts, ` +
    `${counts.kills} kills, ${counts.tokens} tokens generated in ${seconds.toFixed(1)} s (${(done / seconds).toFixed(1)} requests/s)`);
  for (const g of growth) console.log(`  worker ${g.pid}: RSS ${g.start.toFixed(1)} -> ${g.end.toFixed(1)} MiB over requests ${g.from}..${g.to} (${g.mib >= 0 ? '+' : ''}${g.mib.toFixed(1)} MiB)`);
  console.log(`  worker RSS slope over the longest-lived worker (${slopeSpan} requests after warm-up): ${slopeMb.toFixed(2)} MiB per 1000 requests ` +
    `(bound ${opts.slopeMb}${slopeSpan < 600 ? ', not judged: fewer than 600 requests' : ''})`);
  console.log(`  host heap ${mib(base.hostHeap)} -> ${mib(last.hostHeap)} MiB after warm-up (bound +${opts.hostBoundMb}); handles ${samples[0].handles} -> ${last.handles}, ${endHandles} after dispose; ` +
    `worker fds ${minFds}..${maxFds}`);
  if (errorsLogged.length) console.log(`  logged errors: ${errorsLogged.length} (first: ${errorsLogged[0].slice(0, 200)})`);
  if (opts.json) fs.writeFileSync(opts.json, JSON.stringify({ opts, counts, seconds, samples, growth, slopeMb, slopeSpan, heapGrowth, problems }, null, 2));
  if (problems.length) {
    console.log(`\nsoak FAILED:\n  ${problems.join('\n  ')}`);
    process.exit(1);
  }
  console.log('\nsoak passed');
  process.exit(0);
}

main().catch((e) => {
  console.error(`soak: ${e.stack ?? e.message}`);
  process.exit(1);
});
