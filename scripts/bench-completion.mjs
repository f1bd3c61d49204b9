// `npm run bench:completion`: a simulated typing session over real source files (cut to several thousand
// tokens each): the cursor jumps to a line, the rest of the line and the next are deleted and typed again
// character by character (with the odd typo and backspace), then it jumps elsewhere. After every keystroke a
// completion is requested at the cursor, as the editor does after its debounce, and measured four ways, one
// after the other in this run:
//   ours            the runtime worker as the extension drives it: the document mirrored by edits, `complete`
//                   with the request shape of src/shared/completions/prompt.ts (the session holds the text up
//                   to the cursor; the FIM suffix window is read in a fork)
//   own full read   the same worker and request on a fresh document session each time: the whole prompt read
//   llama.cpp       node-llama-cpp on the same GGUF, same threads, given the same prompt tokens, as a client
//                   does it: keep the common prefix of its context, evaluate the rest (its defaults: for a
//                   hybrid model it cannot cut the recurrent state, so it re-reads from its last checkpoint)
//   llama.cpp+ckpt  the same, tuned: a checkpoint of the sequence taken 4 tokens before the cursor on every
//                   request (what the best llama-server flags approximate), so typing re-reads from there
// Each generates the same number of tokens (greedy; the fixture model never ends early). Printed: p50/p95 of
// request -> first token and -> completion, and tokens read per request, with the ratios to ours.
//
//   npm run bench:completion -- [--model PATH | --preset tiny|small|granite-h350m|granite-h1b] [--format q8_0]
//        [--shape fim|prefix] [--files a,b,c] [--doc-tokens 4500] [--keystrokes 40] [--max-tokens 16] [--threads 1]
//        [--baseline-every 1] [--seed 1]
// granite-h350m / granite-h1b: the whole granite-4.0-h-350m / h-1b (random weights, 100352-token vocabulary,
// FIM tokens unless --shape prefix; --format, default q8_0), the models the README recommends for completions.
// They are 10-40x the cost of `tiny`: pass fewer --doc-tokens / --keystrokes and --baseline-every N.
// Needs a build (npm run build): dist/worker.js, out/ (tsc), the addon in native/build.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { root } from './lib.mjs';

const require = createRequire(import.meta.url);
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : def;
};
const shapeName = opt('shape', 'fim');
const docTokens = Number(opt('doc-tokens', '4500'));
const keystrokes = Number(opt('keystrokes', '40'));
const maxTokens = Number(opt('max-tokens', '16'));
// One thread by default: on a small shared machine llama.cpp's worker threads spin against other processes
// (its decode was 100x slower with 2 threads on 2 busy cores here); pass --threads N on a quieter one.
const threads = Number(opt('threads', '1'));
const baselineEvery = Math.max(1, Number(opt('baseline-every', '1')));
const seed = Number(opt('seed', '1'));
const files = opt('files', 'src/runtime/client.ts,native/addon/generation.h,test/e2e/harness.mjs').split(',');
const contextLength = 16384;

function need(p, what) {
  if (!fs.existsSync(p)) {
    console.error(`bench-completion: ${what} not found at ${p}: run \`npm run build\` first`);
    process.exit(1);
  }
  return p;
}
const addonPath = need(process.env.HYBRID_ADDON_PATH || path.join(root, 'native', 'build', 'Release', 'hybrid_addon.node'), 'the native addon');
const workerPath = need(path.join(root, 'dist', 'worker.js'), 'the worker bundle');
const out = (p) => require(need(path.join(root, 'out', p), `${p} (tsc)`));
const { RuntimeClient } = out('src/runtime/client.js');
const { buildContext, placement } = out('src/shared/completions/context.js');
const { modelFacts, shapeRequest } = out('src/shared/completions/prompt.js');

function modelFile() {
  const given = opt('model');
  if (given) return need(path.resolve(given), 'the model');
  const preset = opt('preset', 'tiny');
  const fim = shapeName === 'fim';
  if (preset.startsWith('granite-')) {
    const format = opt('format', 'q8_0');
    const file = path.join(root, '.cache', 'models', `completion-${preset}-${format}-${fim ? 'fim' : 'prefix'}-seed1.gguf`);
    if (!fs.existsSync(file)) {
      const { writeGraniteFixture } = out('test/fixtures/make-granite.js');
      console.log(`writing the ${preset} ${format} completion fixture model (${fim ? 'FIM tokens' : 'prefix-only'}) to ${path.relative(root, file)}`);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      writeGraniteFixture(file, { preset: preset.slice('granite-'.length), format, fim, printable: true });
    }
    return file;
  }
  const file = path.join(root, '.cache', 'models', `completion-${preset}-${fim ? 'fim' : 'prefix'}-seed1.gguf`);
  if (!fs.existsSync(file)) {
    const { writeCompletionFixtureModel } = out('test/e2e/suite/completionModel.js');
    console.log(`writing the ${preset} completion fixture model (${fim ? 'FIM tokens' : 'prefix-only'}) to ${path.relative(root, file)}`);
    writeCompletionFixtureModel(file, { fim, preset });
  }
  return file;
}

// ---- statistics ----
const pct = (xs, p) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
};
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
function rng(s) {
  // mulberry32
  return () => {
    s |= 0;
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---- the typing session: a list of edits, each followed by a completion request ----
/**
 * Jump to a line (its indentation kept), delete the rest of it and the next line, type them again with the
 * odd typo (a wrong character, then backspace), jump elsewhere after 10-20 keystrokes (the deleted rest is
 * put back in one edit, as a paste).
 */
function* typingSession(text, n, random) {
  let doc = text;
  let typedSinceJump = Infinity;
  let hole = '';
  let cursor = 0;
  for (let k = 0; k < n; ) {
    if (typedSinceJump >= 10 + Math.floor(random() * 10) || hole.length === 0) {
      if (hole.length > 0) {
        doc = doc.slice(0, cursor) + hole + doc.slice(cursor);
        yield { kind: 'paste', offset: cursor, remove: 0, insert: hole, request: false };
      }
      const lines = doc.split('\n');
      let line;
      for (let tries = 0; tries < 100; tries++) {
        line = Math.floor(lines.length * (0.3 + 0.65 * random()));
        if (lines[line].trim().length > 8) break;
      }
      const lineStart = lines.slice(0, line).join('\n').length + (line > 0 ? 1 : 0);
      cursor = lineStart + (lines[line].length - lines[line].trimStart().length);
      const end = Math.min(doc.length, lineStart + lines[line].length + 1 + (lines[line + 1] ?? '').length);
      hole = doc.slice(cursor, end);
      doc = doc.slice(0, cursor) + doc.slice(end);
      typedSinceJump = 0;
      k++;
      yield { kind: 'jump', offset: cursor, remove: hole.length, insert: '', request: true };
      continue;
    }
    if (random() < 0.06) {
      const wrong = 'qxzj'[Math.floor(random() * 4)];
      doc = doc.slice(0, cursor) + wrong + doc.slice(cursor);
      yield { kind: 'typo', offset: cursor, remove: 0, insert: wrong, request: true };
      doc = doc.slice(0, cursor) + doc.slice(cursor + 1);
      yield { kind: 'backspace', offset: cursor, remove: 1, insert: '', request: true };
      k += 2;
      continue;
    }
    const ch = hole[0];
    hole = hole.slice(1);
    doc = doc.slice(0, cursor) + ch + doc.slice(cursor);
    cursor++;
    typedSinceJump++;
    k++;
    yield { kind: 'type', offset: cursor - 1, remove: 0, insert: ch, request: true };
  }
}

async function main() {
  const modelPath = modelFile();
  const addon = require(addonPath);
  const local = await addon.loadModel(modelPath, { threads: 1 });
  const info = JSON.parse(local.info());
  const facts = modelFacts(info);
  const tok = info.tokenizer;
  const ctxTokens = Math.min(contextLength, info.hparams.contextLength || Infinity);

  const lines = [];
  const logger = { trace() {}, debug() {}, info: (m) => lines.push(m), warn: (m) => lines.push(m), error: (m) => lines.push(m) };
  const client = new RuntimeClient({
    workerPath,
    env: { HYBRID_ADDON_PATH: addonPath },
    settings: () => ({ device: 'cpu', threads, contextLength: ctxTokens, stateMemoryBudgetMB: 1024, modelPath, logLevel: 'warn' }),
    logger,
  });
  await client.start();

  const { getLlama } = await import('node-llama-cpp');
  const llama = await getLlama({ gpu: false, build: 'never', skipDownload: true, logLevel: 'error', maxThreads: threads });
  const peerModel = await llama.loadModel({ modelPath });
  const peerContexts = [];
  const peer = async () => {
    const c = await peerModel.createContext({ contextSize: Math.min(ctxTokens, docTokens + 1024), batchSize: 512, threads, flashAttention: false });
    peerContexts.push(c);
    return c.getSequence();
  };

  console.log(
    `model ${path.relative(root, modelPath) || modelPath}: ${info.name ?? ''} ${info.hparams.pattern}, ${(info.fileSize / 1048576).toFixed(1)} MiB; ` +
      `prompt shape ${facts.shape}; ${threads} threads; ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), load average ${os.loadavg()[0].toFixed(1)}`,
  );
  console.log(`${keystrokes} keystrokes per file, a completion of ${maxTokens} tokens after each; baselines on every ${baselineEvery === 1 ? '' : `${baselineEvery}th `}request\n`);

  /** The prompt tokens the worker builds for a request (src/worker/service.ts complete): what llama.cpp is given. */
  const promptTokens = (text, offset, suffixTokens) => {
    const charCap = ctxTokens * 8;
    const charAlign = ctxTokens * 2;
    const start = offset > charCap ? Math.floor((offset - charCap) / charAlign) * charAlign : 0;
    const ids = [];
    if (tok.present && tok.addBos && tok.bos !== null) ids.push(tok.bos);
    if (facts.shape === 'fim') ids.push(tok.fimPrefix);
    ids.push(...local.tokenize(text.slice(start, offset), { addSpecial: false }));
    const cursorAt = ids.length;
    if (facts.shape === 'fim') {
      const suffix = local.tokenize(text.slice(offset, offset + suffixTokens * 8), { addSpecial: false }).slice(0, suffixTokens);
      ids.push(tok.fimSuffix, ...suffix, tok.fimMiddle);
    }
    return { ids, cursorAt };
  };

  const rows = { ours: [], full: [], peer: [], tuned: [] };
  const perFile = [];
  const seqDefault = await peer();
  const seqTuned = await peer();
  let req = 0;
  let fullId = 0;
  const opened = new Set();
  const openRows = { ours: [], full: [], peer: [], tuned: [] };

  /** A llama.cpp request: keep the common prefix, evaluate the rest, generate maxTokens tokens. */
  async function peerRequest(seq, ids, checkpointAt) {
    const used0 = seq.tokenMeter.usedInputTokens;
    const t0 = performance.now();
    const current = seq.contextTokens;
    let common = 0;
    while (common < current.length && common < ids.length && current[common] === ids[common]) common++;
    if (common === ids.length) common--; // re-read one token for its logits
    await seq.eraseContextTokenRanges([{ start: common, end: seq.nextTokenIndex }]);
    let rest = ids.slice(seq.contextTokens.length);
    if (checkpointAt !== undefined && seq.contextTokens.length < checkpointAt) {
      await seq.evaluateWithoutGeneratingNewTokens(ids.slice(seq.contextTokens.length, checkpointAt));
      await seq.takeCheckpoint();
      rest = ids.slice(checkpointAt);
    }
    let first = 0;
    let n = 0;
    for await (const _ of seq.evaluate(rest, { temperature: 0 })) {
      if (n === 0) first = performance.now() - t0;
      if (++n >= maxTokens) break;
    }
    return { firstMs: first, totalMs: performance.now() - t0, read: seq.tokenMeter.usedInputTokens - used0 };
  }

  for (const rel of files) {
    const file = path.resolve(root, rel);
    let text = fs.readFileSync(file, 'utf8');
    // Cut at a line end near docTokens tokens of this model's tokenizer.
    let cut = text.length;
    while (local.tokenize(text.slice(0, cut), { addSpecial: false }).length > docTokens) {
      const ratio = docTokens / local.tokenize(text.slice(0, cut), { addSpecial: false }).length;
      cut = text.lastIndexOf('\n', Math.floor(cut * Math.min(ratio * 1.02, 0.98)));
    }
    text = text.slice(0, cut + 1);
    const nTokens = local.tokenize(text, { addSpecial: false }).length;
    const uri = `file:///bench/${path.basename(rel)}`;
    const languageId = { '.ts': 'typescript', '.mjs': 'javascript', '.h': 'cpp', '.cpp': 'cpp', '.py': 'python' }[path.extname(rel)] ?? 'plaintext';
    let version = 1;
    let doc = text;
    await client.request('openDocument', { uri, languageId, version, text: doc });
    const fileRows = { ours: [], full: [], peer: [], tuned: [] };
    const random = rng(seed + perFile.length);
    const t0 = performance.now();
    for (const e of typingSession(text, keystrokes, random)) {
      doc = doc.slice(0, e.offset) + e.insert + doc.slice(e.offset + e.remove);
      version++;
      await client.request('editDocument', {
        uri,
        version,
        changes: [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, rangeOffset: e.offset, rangeLength: e.remove, text: e.insert }],
      });
      if (!e.request) continue;
      // The first request on a file reads it whole on every side (the document was just opened): reported
      // apart, not in the typing statistics.
      const kind = fileRows.ours.length === 0 && !opened.has(rel) ? (opened.add(rel), 'open') : e.kind;
      const offset = e.kind === 'type' || e.kind === 'typo' ? e.offset + 1 : e.offset;
      const ctx = buildContext(doc, offset, languageId, rel);
      const where = placement(ctx, true);
      const shape = shapeRequest(ctx, where.ok ? where : { ok: true, multiline: false, midWord: false }, facts);
      const params = { version, offset, maxTokens, suffixTokens: shape.suffixTokens, sampling: { temperature: 0 } };

      // ours
      let first = 0;
      const a0 = performance.now();
      const r = await client.stream('complete', { uri, ...params }, () => {
        if (!first) first = performance.now() - a0;
      });
      const total = performance.now() - a0;
      const s = r.stats;
      const session = s.keptTokens + s.readTokens - s.rereadTokens;
      const ours = {
        kind,
        firstMs: first,
        totalMs: total,
        read: s.readTokens + (s.promptTokens - session),
        fork: s.promptTokens - session,
        workerFirstMs: s.firstTokenMs,
        prefillMs: s.prefillMs,
        decodeMs: s.decodeMs,
      };
      fileRows.ours.push(ours);
      const { ids, cursorAt } = promptTokens(doc, offset, shape.suffixTokens);
      if (ids.length !== s.promptTokens) throw new Error(`the prompts differ: the worker read ${s.promptTokens} tokens, the replica has ${ids.length}`);
      if (s.generatedTokens !== maxTokens) throw new Error(`the worker generated ${s.generatedTokens} tokens, not ${maxTokens} (stop: ${r.stopReason})`);

      if (kind === 'open' || req++ % baselineEvery === 0) {
        // own full read: a fresh document session
        const fresh = `file:///bench/full/${fullId++}`;
        await client.request('openDocument', { uri: fresh, languageId, version: 1, text: doc });
        let ffirst = 0;
        const f0 = performance.now();
        const fr = await client.stream('complete', { uri: fresh, ...params, version: 1 }, () => {
          if (!ffirst) ffirst = performance.now() - f0;
        });
        fileRows.full.push({ kind, firstMs: ffirst, totalMs: performance.now() - f0, read: fr.stats.readTokens + (fr.stats.promptTokens - (fr.stats.keptTokens + fr.stats.readTokens - fr.stats.rereadTokens)) });
        await client.request('closeDocument', { uri: fresh });
        fileRows.peer.push({ kind, ...(await peerRequest(seqDefault, ids)) });
        fileRows.tuned.push({ kind, ...(await peerRequest(seqTuned, ids, Math.max(1, cursorAt - 4))) });
      }
    }
    await client.request('closeDocument', { uri });
    perFile.push({ file: rel, chars: text.length, tokens: nTokens, seconds: (performance.now() - t0) / 1000, rows: fileRows });
    for (const k of Object.keys(rows)) {
      openRows[k].push(...fileRows[k].filter((x) => x.kind === 'open'));
      rows[k].push(...fileRows[k].filter((x) => x.kind !== 'open'));
    }
    const o = fileRows.ours;
    console.log(
      `${rel}: ${nTokens} tokens (${text.length} characters), ${o.length} requests; ours p50 first token ${pct(o.map((x) => x.firstMs), 50).toFixed(1)} ms, ` +
        `tokens read mean ${mean(o.map((x) => x.read)).toFixed(1)}; llama.cpp p50 first token ${pct(fileRows.peer.map((x) => x.firstMs), 50).toFixed(1)} ms`,
    );
  }

  const ours = rows.ours;
  const p50 = (xs, k) => pct(xs.map((x) => x[k]), 50);
  const table = [
    ['ours (session to the cursor, suffix in a fork)', rows.ours],
    ['same runtime, whole prompt read each time', rows.full],
    ['llama.cpp (node-llama-cpp), common prefix kept', rows.peer],
    ['llama.cpp + checkpoint 4 tokens before the cursor', rows.tuned],
  ].map(([name, xs]) => ({
    '': name,
    requests: xs.length,
    'first token p50 (ms)': p50(xs, 'firstMs').toFixed(1),
    'first token p95 (ms)': pct(xs.map((x) => x.firstMs), 95).toFixed(1),
    'completion p50 (ms)': p50(xs, 'totalMs').toFixed(1),
    'completion p95 (ms)': pct(xs.map((x) => x.totalMs), 95).toFixed(1),
    'tokens read mean': mean(xs.map((x) => x.read)).toFixed(1),
    'tokens read p50': p50(xs, 'read').toFixed(0),
    'first token vs ours': xs === ours ? '1.0x' : `${(p50(xs, 'firstMs') / p50(ours, 'firstMs')).toFixed(1)}x`,
    'tokens read vs ours': xs === ours ? '1.0x' : `${(mean(xs.map((x) => x.read)) / mean(ours.map((x) => x.read))).toFixed(1)}x`,
  }));
  console.log('');
  console.table(table);
  const kinds = ['type', 'typo', 'backspace', 'jump'];
  const openLine = (xs) => `${mean(xs.map((x) => x.firstMs)).toFixed(0)} ms / ${mean(xs.map((x) => x.read)).toFixed(0)} tokens`;
  console.log(
    `not in the table: the first request on each file (a cold read of the prompt, mean first token / tokens read): ours ${openLine(openRows.ours)}, ` +
      `own full read ${openLine(openRows.full)}, llama.cpp ${openLine(openRows.peer)}, llama.cpp+ckpt ${openLine(openRows.tuned)}`,
  );
  console.log('ours by kind of keystroke (p50 first token ms / mean tokens read):');
  for (const k of kinds) {
    const xs = ours.filter((x) => x.kind === k);
    const ys = rows.peer.filter((x) => x.kind === k);
    if (xs.length) console.log(`  ${k.padEnd(9)} ${String(xs.length).padStart(4)} requests: ours ${p50(xs, 'firstMs').toFixed(1)} ms / ${mean(xs.map((x) => x.read)).toFixed(1)} tokens; llama.cpp ${ys.length ? `${p50(ys, 'firstMs').toFixed(1)} ms / ${mean(ys.map((x) => x.read)).toFixed(1)} tokens` : '-'}`);
  }
  console.log(
    `ours, p50: worker's first token ${p50(ours, 'workerFirstMs').toFixed(1)} ms (prefill ${p50(ours, 'prefillMs').toFixed(1)} ms: ` +
      `${p50(ours, 'read').toFixed(0)} tokens, ${p50(ours, 'fork').toFixed(0)} of them the suffix window and FIM tokens in the fork; ` +
      `decode ${((p50(ours, 'decodeMs') / Math.max(1, maxTokens - 1))).toFixed(2)} ms/token); the rest of the first-token time is IPC and queueing in the host`,
  );
  console.log(
    `documents: ${perFile.map((f) => `${f.file} ${f.tokens} tokens`).join(', ')}; every request generated ${maxTokens} tokens on each side; ` +
      `the replica of the worker's prompt matched its token count on every request.`,
  );

  for (const c of peerContexts) await c.dispose();
  await peerModel.dispose();
  await llama.dispose();
  local.dispose();
  await client.dispose();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
