// The runtime client and supervisor against a real worker process (dist/worker.js) that loads the real
// native addon, and against stand-in workers that crash or misbehave.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { RuntimeError } from '../../src/runtime/client';
import { ErrorCode } from '../../src/shared/protocol';
import { cancellation, crashingWorker, disposeClients, makeClient, scratchFile, tinyModel, waitFor } from './runtime-helpers';

after(disposeClients);

test('the worker loads the native addon in its own process and reports', async () => {
  const { c, logger } = makeClient();
  const info = await c.start();
  assert.match(info.addonVersion, /^\d+\.\d+\.\d+/);
  assert.notEqual(info.worker.pid, process.pid);
  assert.equal(info.worker.pid, c.pid);
  assert.ok(info.cpu.logicalCores >= 1);
  assert.ok(Array.isArray(info.cpu.features));
  assert.equal(info.device.using, 'cpu');
  assert.equal(typeof info.cuda.compiled, 'boolean');
  assert.deepEqual(info.model.load, { state: 'none' });
  assert.deepEqual(info.jobs, { running: 0, queued: 0, completed: 0 });
  assert.ok(logger.lines.some((l) => /native addon .* loaded/.test(l)), logger.lines.join('\n'));
  const pong = await c.request('ping', { seq: 7 });
  assert.deepEqual(pong, { seq: 7, pid: info.worker.pid });
});

test('the device setting reaches the addon: "cpu" runs on the CPU; "cuda" takes the GPU when usable, else falls back saying why', async () => {
  for (const device of ['cpu', 'cuda', 'auto'] as const) {
    const { c, logger } = makeClient({}, { device });
    const before = await c.start();
    const usable = before.cuda.devices.length > 0;
    const model = await c.request('loadModel', { path: tinyModel() });
    assert.equal(model.device.requested, device);
    const info = await c.request('info', {});
    assert.deepEqual(info.device, { requested: device, using: model.device.using, reason: model.device.reason });
    if (device === 'cpu') {
      assert.equal(model.device.using, 'cpu');
      assert.equal(model.device.reason, 'the device setting is "cpu"');
      assert.ok(model.threads >= 1);
    } else if (usable) {
      assert.equal(model.device.using, 'cuda');
      assert.match(model.device.reason, /CUDA device 0 .* holds the weights/);
      assert.ok((model.device.weightDeviceBytes ?? 0) > 0);
    } else {
      // No GPU here (CI): the fallback names why, and the worker warns once.
      assert.equal(model.device.using, 'cpu');
      assert.equal(model.device.reason, `falling back to the CPU: ${before.cuda.status}`);
      assert.ok(logger.lines.some((l) => l.includes('falling back to the CPU')), logger.lines.join('\n'));
    }
    // The session runs where the model does: a completion works either way.
    await c.request('openDocument', { uri: 'file:///d.ts', languageId: 'typescript', version: 1, text: 'function add(a, b) {\n  return' });
    const r = await c.stream('complete', { uri: 'file:///d.ts', version: 1, offset: 29, maxTokens: 4 }, () => undefined);
    assert.ok(r.stats.generatedTokens >= 1);
  }
});

test('malformed requests get an error reply and the worker lives on', async () => {
  const { c } = makeClient();
  await c.start();
  await assert.rejects(c.request('ping', { seq: 'x' } as never), /ping: params\.seq: expected an integer/);
  await assert.rejects(c.request('info', { extra: 1 } as never), /unknown field/);
  await assert.rejects(c.request('nonsense' as never, {} as never), (e: unknown) => (e as RuntimeError).code === ErrorCode.MethodNotFound);
  await assert.rejects(c.stream('complete', { uri: 'file:///x', version: 1, offset: 0, maxTokens: 1 }, () => undefined), (e: unknown) =>
    (e as RuntimeError).code === ErrorCode.NoModel && /no model is loaded: set hybridCopilot\.modelPath/.test((e as Error).message),
  );
  assert.deepEqual((await c.request('ping', { seq: 1 })).seq, 1);
});

test('kill -9 of the worker: it is restarted and serves again', async () => {
  const { c, states } = makeClient();
  const first = await c.start();
  process.kill(first.worker.pid, 'SIGKILL');
  await waitFor(() => states.some((s) => s.state === 'restarting'));
  await waitFor(() => c.currentState === 'ready' && c.pid !== first.worker.pid);
  const info = await c.request('info', {});
  assert.notEqual(info.worker.pid, first.worker.pid);
  assert.ok(c.lastStart?.sinceCrashMs !== undefined);
});

test('requests made while the worker restarts wait for the new one (or for their cancellation)', async () => {
  const { c } = makeClient({ restart: { minDelayMs: 300, maxDelayMs: 300, maxCrashes: 3, windowMs: 60_000 } });
  const first = await c.start();
  process.kill(first.worker.pid, 'SIGKILL');
  await waitFor(() => c.currentState === 'restarting');
  const cancel = cancellation();
  const given = c.request('ping', { seq: 1 }, cancel.token);
  const pong = c.request('ping', { seq: 2 });
  cancel.cancel();
  await assert.rejects(given, (e: unknown) => (e as RuntimeError).code === ErrorCode.Cancelled);
  assert.notEqual((await pong).pid, first.worker.pid);
});

test('restart() replaces the worker', async () => {
  const { c } = makeClient();
  const a = await c.start();
  const b = await c.restart();
  assert.notEqual(a.worker.pid, b.worker.pid);
});

test('a worker that cannot load the addon: clear error, then the supervisor gives up', async () => {
  const { c, states, logger } = makeClient({ env: { HYBRID_ADDON_PATH: '/nonexistent/hybrid_addon.node' } });
  await assert.rejects(c.start(), /native addon not found at \/nonexistent\/hybrid_addon\.node/);
  await waitFor(() => c.currentState === 'failed');
  assert.ok(states.filter((s) => s.state === 'restarting').length >= 3, states.map((s) => s.state).join(','));
  assert.ok(logger.lines.some((l) => /giving up/.test(l)));
});

test('a worker that dies of a signal at every start: back-off, then it gives up with the reason', async () => {
  const { c, states, logger } = makeClient({ workerPath: crashingWorker() });
  await assert.rejects(c.start(), /killed by SIGSEGV/);
  await waitFor(() => c.currentState === 'failed');
  assert.match(states.at(-1)?.detail ?? '', /was killed by SIGSEGV \(4 crashes within 60 s\)/);
  const delays = logger.lines.map((l) => /restarting in (\d+) ms/.exec(l)?.[1]).filter(Boolean).map(Number);
  assert.deepEqual(delays, [20, 40, 80], 'the delay doubles per crash');
  await assert.rejects(c.request('ping', { seq: 1 }), (e: unknown) => (e as RuntimeError).code === ErrorCode.RuntimeStopped);
});

test('malformed notifications from a worker are dropped, not trusted', async () => {
  const script = scratchFile(
    'misbehaving-worker.js',
    `const { createMessageConnection, IPCMessageReader, IPCMessageWriter } = require(${JSON.stringify(require.resolve('vscode-jsonrpc/node'))});
const c = createMessageConnection(new IPCMessageReader(process), new IPCMessageWriter(process));
const info = { worker: { pid: process.pid }, model: { load: { state: 'none' } } };
c.onRequest('initialize', () => {
  c.sendNotification('log', { level: 'fatal', message: 1 });
  c.sendNotification('stream', { id: 'x', parts: 'no' });
  c.sendNotification('memory', { rssBytes: 'lots' });
  c.sendNotification('log', { level: 'info', message: 'still here' });
  return info;
});
c.onRequest('info', () => info);
c.onRequest('ping', (p) => ({ seq: p.seq, pid: process.pid }));
c.listen();
`,
  );
  const { c, logger } = makeClient({ workerPath: script });
  await c.start();
  await waitFor(() => logger.lines.some((l) => /still here/.test(l)));
  for (const n of ['log', 'stream', 'memory']) {
    assert.ok(logger.lines.some((l) => new RegExp(`dropped a malformed '${n}' notification`).test(l)), `${n}: ${logger.lines.join('\n')}`);
  }
});
