// The runtime worker with a real model (the tiny fixture): streaming order, cancellation mid-stream, 100
// overlapping requests, malformed messages, kill -9 mid-stream then a request that works on re-synced
// documents, a crash loop the supervisor gives up on, a hung worker, a model that cannot load.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { RuntimeError } from '../../src/runtime/client';
import { DocumentSync } from '../../src/runtime/documentSync';
import { ErrorCode, StreamPart } from '../../src/shared/protocol';
import { loadAddon } from '../../src/worker/addon';
import { textHash } from '../../src/worker/documents';
import { cancellation, corruptModel, disposeClients, FakeEditor, makeClient, root, tinyModel, waitFor } from './runtime-helpers';
import * as path from 'node:path';

after(disposeClients);

const SOURCE = 'def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n\n\nclass Tree:\n    def __init__(self):\n        ';

function setup(extra: Parameters<typeof makeClient>[0] = {}) {
  const t = makeClient(extra, { modelPath: tinyModel() });
  const editor = new FakeEditor();
  const sync = new DocumentSync({ client: t.c, logger: t.logger, documents: () => editor.list(), isEnabled: () => true });
  const type = (uri: string, offset: number, length: number, text: string) => {
    const ch = editor.edit(uri, offset, length, text);
    sync.didChange(editor.get(uri), [ch]);
  };
  const complete = (uri: string, opts: { maxTokens?: number; onStream?: (p: StreamPart[], n: number) => void; token?: ReturnType<typeof cancellation>['token'] } = {}) => {
    const d = editor.get(uri);
    return t.c.stream(
      'complete',
      { uri, version: d.version, offset: d.getText().length, maxTokens: opts.maxTokens ?? 16 },
      opts.onStream ?? (() => undefined),
      opts.token,
    );
  };
  return { ...t, editor, sync, type, complete };
}

const joined = (parts: StreamPart[]) => parts.map((p) => p.text).join('');

test('the model loads with progress; completions stream in order and reuse the session', async () => {
  const t = setup();
  t.editor.open('file:///fib.py', SOURCE, 'python');
  const loads: string[] = [];
  const info = await t.c.start();
  assert.equal(info.model.load.state, 'loaded');
  if (info.model.load.state === 'loaded') {
    const m = info.model.load.info;
    assert.equal(m.hparams.pattern, 'M-M*M-');
    assert.ok(m.tokenizer.present && m.tokenizer.bosText === '<s>' && m.tokenizer.thinkOpen !== null, JSON.stringify(m.tokenizer));
  }
  for (const s of t.states) if (s.detail) loads.push(s.detail);
  assert.ok(loads.some((d) => /loading tiny-think-q8_0\.gguf: reading weights \d+%/.test(d)), loads.join('\n'));
  assert.ok(t.logger.lines.some((l) => /model loaded in .* M-M\*M- .* 273 tokens/.test(l)), t.logger.lines.join('\n'));

  const chunks: StreamPart[][] = [];
  let streamed = 0;
  const first = await t.complete('file:///fib.py', { maxTokens: 24, onStream: (p, n) => (chunks.push(p), (streamed += n)) });
  assert.ok(['eog', 'maxTokens'].includes(first.stopReason), first.stopReason);
  assert.equal(joined(chunks.flat()), first.text, 'the stream makes up the result, in order');
  assert.equal(streamed, first.stats.generatedTokens);
  assert.equal(first.stats.readTokens, first.stats.promptTokens);

  // Typing at the cursor: each request reads only what was typed, plus the last few tokens before it
  // (BPE merges across the cursor: "        " then "self" tokenizes differently), from a checkpoint
  // pinned just before the prompt's end; not the whole prompt again.
  let end = SOURCE.length;
  for (const typed of ['self', '.', 'left', ' = ', 'None']) {
    t.type('file:///fib.py', end, 0, typed);
    end += typed.length;
    const next = await t.complete('file:///fib.py', { maxTokens: 4 });
    assert.ok(next.stats.keptTokens >= next.stats.promptTokens - typed.length - 4, JSON.stringify(next.stats));
    assert.ok(next.stats.readTokens <= typed.length + 8, JSON.stringify(next.stats));
  }

  // The same request twice gives the same tokens (greedy), through the worker as in process.
  const a = await t.c.stream('bench', { promptTokens: 32, genTokens: 40, stream: true }, () => undefined);
  const parts: StreamPart[] = [];
  await t.c.stream('bench', { promptTokens: 32, genTokens: 40, stream: true }, (p) => parts.push(...p));
  assert.equal(a.genTokens, 40);
  const addon = loadAddon(process.env.HYBRID_ADDON_PATH || path.join(root, 'native', 'build', 'Release', 'hybrid_addon.node'));
  const model = await addon.loadModel(tinyModel(), { threads: 1 });
  const tokens = new Int32Array(32).map((_, i) => (i * 7919 + 13) % 273);
  let inProcess = '';
  await model.generate({ prompt: [{ tokens }], addBos: false, maxTokens: 40, stopAtEog: false, contextLength: 73, sampling: { temperature: 0 } }, (_, text) => (inProcess += text)).done;
  model.dispose();
  assert.equal(joined(parts), inProcess);
});

test('cancel mid-stream stops the native loop at once; cancel during a long prefill too', async () => {
  const t = setup();
  await t.c.start();
  const cancel = cancellation();
  let cancelledAt = 0;
  const r = await t.c.stream(
    'bench',
    { promptTokens: 16, genTokens: 1_000_000, stream: true },
    () => {
      if (!cancelledAt) {
        cancelledAt = Date.now();
        cancel.cancel();
      }
    },
    cancel.token,
  );
  const settleMs = Date.now() - cancelledAt;
  assert.ok(r.genTokens < 1000, `stopped after ${r.genTokens} tokens`);
  assert.ok(settleMs < 1000, `settled ${settleMs} ms after the cancel`);
  // A long prefill is read in chunks, and a cancel between two of them ends it.
  const full = await t.c.stream('bench', { promptTokens: 2048, genTokens: 1, stream: false }, () => undefined);
  const pre = cancellation();
  setTimeout(() => pre.cancel(), Math.max(5, full.prefillMs / 5));
  const cut = await t.c.stream('bench', { promptTokens: 2048, genTokens: 1, stream: false }, () => undefined, pre.token);
  assert.equal(cut.genTokens, 0);
  assert.ok(cut.prefillMs < full.prefillMs * 0.8, `cancelled prefill took ${cut.prefillMs} ms of ${full.prefillMs}`);
  assert.deepEqual((await t.c.request('ping', { seq: 5 })).seq, 5);
});

test('100 overlapping requests: all answered, newer completions supersede older ones, streams stay apart', async () => {
  const t = setup();
  const uris = [0, 1, 2, 3, 4].map((i) => `file:///doc${i}.py`);
  for (const u of uris) t.editor.open(u, SOURCE.replace('fib', `fib_${u.length}`), 'python');
  await t.c.start();
  const streams = new Map<number, string>();
  const pending: Promise<{ kind: string; i: number; value: unknown; text?: string }>[] = [];
  for (let i = 0; i < 100; i++) {
    let text = '';
    const onStream = (p: StreamPart[]) => (text += joined(p));
    const kind = ['complete', 'chat', 'bench', 'ping'][i % 4];
    let p: Promise<unknown>;
    if (kind === 'complete') p = t.complete(uris[(i / 4) % 5 | 0], { maxTokens: 12, onStream });
    else if (kind === 'chat') p = t.c.stream('chat', { prompt: `<|im_start|>user\nquestion ${i}<|im_end|>\n<|im_start|>assistant\n`, maxTokens: 6 }, onStream);
    else if (kind === 'bench') p = t.c.stream('bench', { promptTokens: 8, genTokens: 6, stream: true }, onStream);
    else p = t.c.request('ping', { seq: i });
    pending.push(p.then((value) => ({ kind, i, value, get text() { return text; } })));
  }
  const results = await Promise.all(pending);
  const lastForDoc = new Map<string, number>();
  for (const r of results) if (r.kind === 'complete') lastForDoc.set(uris[(r.i / 4) % 5 | 0], r.i);
  let superseded = 0;
  for (const r of results) {
    if (r.kind === 'ping') {
      assert.equal((r.value as { seq: number }).seq, r.i);
      continue;
    }
    const v = r.value as { stopReason?: string; text?: string; answer?: string; reasoning?: string; genTokens?: number };
    if (r.kind === 'complete') {
      assert.equal(r.text, v.text, `complete ${r.i}: its stream is its text`);
      if (v.stopReason === 'superseded') superseded++;
      if ([...lastForDoc.values()].includes(r.i)) assert.notEqual(v.stopReason, 'superseded', `the last completion ${r.i} of its document runs`);
    } else if (r.kind === 'chat') {
      assert.equal(r.text, `${v.reasoning}${v.answer}`, `chat ${r.i}`);
      assert.ok(['eog', 'maxTokens'].includes(v.stopReason as string));
    } else {
      assert.equal(v.genTokens, 6, `bench ${r.i}`);
    }
    streams.set(r.i, r.text ?? '');
  }
  assert.ok(superseded > 0, 'older completions of the same document were superseded');
  const info = await t.c.request('info', {});
  assert.deepEqual({ running: info.jobs.running, queued: info.jobs.queued }, { running: 0, queued: 0 });
});

test('malformed and wrong requests get error replies; the worker lives on', async () => {
  const t = setup();
  t.editor.open('file:///a.ts', 'let a = 1;\n');
  const info = await t.c.start();
  const code = (e: unknown) => (e as RuntimeError).code;
  const d = t.editor.get('file:///a.ts');
  await assert.rejects(t.c.stream('complete', { uri: 'file:///nope.ts', version: 1, offset: 0, maxTokens: 4 }, () => undefined), (e) => code(e) === ErrorCode.DocumentNotOpen);
  await assert.rejects(t.c.stream('complete', { uri: d.uri, version: d.version + 3, offset: 0, maxTokens: 4 }, () => undefined), (e) =>
    code(e) === ErrorCode.DocumentOutOfSync && /request is for version 4, the worker has version 1/.test((e as Error).message),
  );
  await assert.rejects(t.c.stream('complete', { uri: d.uri, version: d.version, offset: 999, maxTokens: 4 }, () => undefined), /offset 999 is past the end/);
  await assert.rejects(t.c.stream('complete', { uri: d.uri, version: d.version, offset: 0, maxTokens: 5000 }, () => undefined), (e) =>
    code(e) === ErrorCode.BadInput && /leaves no room for a prompt in a context of 2048/.test((e as Error).message),
  );
  await assert.rejects(t.c.request('complete', { id: 'x', uri: d.uri } as never), /params\.id: expected an integer/);
  await assert.rejects(t.c.request('editDocument', { uri: d.uri, version: 2, changes: [{ text: 1 }] } as never), /changes\[0\]\.range/);
  await assert.rejects(t.c.request('chat', { id: 1, prompt: 'x', maxTokens: 1, extra: true } as never), /params\.extra: unknown field/);
  // The same id twice while the first runs.
  const long = t.c.request('bench', { id: 77, promptTokens: 8, genTokens: 200_000, stream: false });
  await new Promise((r) => setTimeout(r, 20));
  await assert.rejects(t.c.request('bench', { id: 77, promptTokens: 8, genTokens: 1, stream: false }), /request id 77 is already in use/);
  await t.c.request('cancel', { id: 77 });
  assert.equal((await long).genTokens < 200_000, true);
  // Raw garbage on the IPC channel.
  const child = (t.c as unknown as { worker: { child: import('node:child_process').ChildProcess } }).worker.child;
  child.send('not json-rpc');
  child.send({ jsonrpc: '2.0', id: 9_000_001, method: 'complete', params: [1, 2, 3] });
  child.send({ jsonrpc: '2.0', method: 'editDocument', params: { uri: 5 } });
  child.send({ jsonrpc: '2.0', id: 9_000_002, method: 'no/such/method', params: {} });
  child.send({ nothing: true });
  assert.deepEqual(await t.c.request('ping', { seq: 3 }), { seq: 3, pid: info.worker.pid });
  assert.equal(t.c.pid, info.worker.pid, 'the same worker still serves');
});

test('kill -9 mid-stream: the request fails clearly; the new worker has the documents and serves', async () => {
  const t = setup();
  t.editor.open('file:///fib.py', SOURCE, 'python');
  const first = await t.c.start();
  t.type('file:///fib.py', SOURCE.length, 0, 'self.left = None\n        ');
  let killed = false;
  const stream = t.c.stream('bench', { promptTokens: 16, genTokens: 1_000_000, stream: true }, () => {
    if (!killed) {
      killed = true;
      process.kill(first.worker.pid, 'SIGKILL');
    }
  });
  await assert.rejects(stream, (e: unknown) => {
    assert.equal((e as RuntimeError).code, ErrorCode.WorkerCrashed);
    assert.match((e as Error).message, /'bench' failed: the runtime worker died while handling it \(was killed by SIGKILL\); it is being restarted, try again/);
    return true;
  });
  t.type('file:///fib.py', 0, 0, '# edited while the worker was down\n');
  const r = await t.complete('file:///fib.py', { maxTokens: 8 });
  assert.ok(['eog', 'maxTokens'].includes(r.stopReason));
  const info = await t.c.request('info', {});
  assert.notEqual(info.worker.pid, first.worker.pid);
  const doc = info.documents.find((d) => d.uri === 'file:///fib.py');
  assert.equal(doc?.hash, textHash(t.editor.get('file:///fib.py').getText()));
  const s = t.c.lastStart;
  assert.ok(s && s.sinceCrashMs !== undefined, JSON.stringify(s));
  assert.ok(s.sinceCrashMs - s.modelMs < 2000, `serving again ${Math.round(s.sinceCrashMs)} ms after the crash (model load ${Math.round(s.modelMs)} ms)`);
  console.log(`# restart after kill -9: serving again in ${Math.round(s.sinceCrashMs)} ms (worker start and initialize ${Math.round(s.initializeMs)} ms, documents ${Math.round(s.hooksMs)} ms, model load ${Math.round(s.modelMs)} ms)`);
});

test('crash loop: the supervisor gives up, says why, and Restart Runtime brings it back', async () => {
  const t = setup();
  await t.c.start();
  for (let i = 0; i < 4; i++) {
    await waitFor(() => t.c.currentState === 'ready', 15_000, 'a ready worker');
    const pid = t.c.pid as number;
    process.kill(pid, 'SIGKILL');
    await waitFor(() => t.c.pid !== pid || t.c.currentState === 'failed', 15_000, 'the crash to be seen');
  }
  await waitFor(() => t.c.currentState === 'failed', 15_000, 'the supervisor to give up');
  const failed = t.states.at(-1);
  assert.equal(failed?.state, 'failed');
  assert.match(failed?.detail ?? '', /was killed by SIGKILL \(4 crashes within 60 s\)/);
  assert.ok(t.logger.lines.some((l) => /4 crashes within 60 s: giving up/.test(l)));
  await assert.rejects(t.c.request('ping', { seq: 1 }), (e: unknown) => {
    assert.equal((e as RuntimeError).code, ErrorCode.RuntimeStopped);
    assert.match((e as Error).message, /the runtime stopped after 4 crashes .* run "Hybrid Copilot: Restart Runtime" to try again/);
    return true;
  });
  const info = await t.c.restart();
  assert.equal(info.model.load.state, 'loaded');
  assert.equal(t.c.currentState, 'ready');
});

test('a hung worker misses its heartbeats: it is killed and restarted', async () => {
  const t = setup({ heartbeat: { intervalMs: 100, timeoutMs: 600 } });
  const first = await t.c.start();
  process.kill(first.worker.pid, 'SIGSTOP');
  const inFlight = t.c.request('info', {});
  await assert.rejects(inFlight, /'info' failed: the runtime worker died while handling it \(stopped answering \(no answer to a heartbeat for \d+ ms\) and was killed\)/);
  await waitFor(() => t.c.currentState === 'ready' && t.c.pid !== first.worker.pid, 15_000, 'the restart');
  assert.ok(t.logger.lines.some((l) => /hangs: no answer to a heartbeat/.test(l)));
});

test('a model that cannot be loaded: a clear error, no crash, and the worker serves without it', async () => {
  const bad = corruptModel();
  const loads: { ok: boolean; error?: string }[] = [];
  const t = makeClient({ onModelLoad: (r) => loads.push(r.ok ? { ok: true } : { ok: false, error: r.error }) }, { modelPath: bad });
  const info = await t.c.start();
  assert.equal(info.model.load.state, 'failed');
  assert.equal(loads.length, 1);
  assert.match(loads[0].error ?? '', /corrupt\.gguf: /);
  assert.ok(!t.states.some((s) => s.state === 'restarting'), 'not a crash');
  await assert.rejects(t.c.stream('chat', { prompt: 'hi', maxTokens: 4 }, () => undefined), (e: unknown) =>
    (e as RuntimeError).code === ErrorCode.NoModel && /no model is loaded: .*corrupt\.gguf/.test((e as Error).message),
  );
});

test('chat: reasoning and answer come apart; the thinking budget closes the reasoning', async () => {
  const t = setup();
  await t.c.start();
  const parts: StreamPart[] = [];
  const r = await t.c.stream(
    'chat',
    {
      prompt: '<|im_start|>user\nWhy?<|im_end|>\n<|im_start|>assistant\n<think>\n',
      maxTokens: 30,
      thinking: { startsInside: true, open: '<think>', close: '</think>', budget: 5 },
    },
    (p) => parts.push(...p),
  );
  assert.equal(parts.filter((p) => p.kind === 'reasoning').map((p) => p.text).join(''), r.reasoning);
  assert.equal(parts.filter((p) => p.kind === 'answer').map((p) => p.text).join(''), r.answer);
  if (r.stopReason === 'maxTokens') {
    // 5 reasoning tokens, then the injected "</think>" (counted with the reasoning it closes) and "\n".
    assert.equal(r.reasoningTokens, 6, JSON.stringify(r));
    assert.equal(r.budgetReached, true);
    assert.equal(r.answerTokens, 24);
    assert.ok(r.answer.startsWith('\n'));
  }
  assert.ok(!r.reasoning.includes('</think>') && !r.answer.includes('</think>'));
});
