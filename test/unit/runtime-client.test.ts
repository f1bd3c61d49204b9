// The runtime client against a real worker process (dist/worker.js) that loads the real native addon.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { Logger, RuntimeClient, RuntimeState } from '../../src/runtime/client';
import type { InitializeParams } from '../../src/shared/protocol';

const root = path.resolve(__dirname, '..', '..', '..');
const workerPath = path.join(root, 'dist', 'worker.js');
const settings = (): InitializeParams => ({ device: 'cpu', threads: 0, contextLength: 4096, stateMemoryBudgetMB: 256 });

function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const push = (level: string) => (m: string) => lines.push(`${level}: ${m}`);
  return { lines, trace: push('trace'), debug: push('debug'), info: push('info'), warn: push('warn'), error: push('error') };
}

const clients: RuntimeClient[] = [];
function client(extra: Partial<ConstructorParameters<typeof RuntimeClient>[0]> = {}) {
  const logger = memoryLogger();
  const states: RuntimeState[] = [];
  const c = new RuntimeClient({
    workerPath,
    settings,
    logger,
    restart: { minDelayMs: 20, maxDelayMs: 100, maxCrashes: 3, windowMs: 60_000 },
    onStateChange: (s) => states.push(s),
    ...extra,
  });
  clients.push(c);
  return { c, logger, states };
}
after(async () => {
  await Promise.all(clients.map((c) => c.dispose()));
});

function waitFor(cond: () => boolean, ms = 10_000): Promise<void> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (cond()) resolve();
      else if (Date.now() - t0 > ms) reject(new Error('timed out waiting'));
      else setTimeout(tick, 10);
    };
    tick();
  });
}

test('the worker loads the native addon in its own process and reports', async () => {
  const { c, logger } = client();
  const info = await c.start();
  assert.match(info.addonVersion, /^\d+\.\d+\.\d+/);
  assert.notEqual(info.worker.pid, process.pid);
  assert.equal(info.worker.pid, c.pid);
  assert.ok(info.cpu.logicalCores >= 1);
  assert.ok(Array.isArray(info.cpu.features));
  assert.equal(info.device.using, 'cpu');
  assert.equal(typeof info.cuda.compiled, 'boolean');
  assert.ok(logger.lines.some((l) => /native addon .* loaded/.test(l)), logger.lines.join('\n'));
  const pong = await c.request('ping', { seq: 7 });
  assert.deepEqual(pong, { seq: 7, pid: info.worker.pid });
});

test('malformed requests get an error reply and the worker lives on', async () => {
  const { c } = client();
  await c.start();
  await assert.rejects(c.request('ping', { seq: 'x' } as never), /ping: params\.seq: expected an integer/);
  await assert.rejects(c.request('info', { extra: 1 } as never), /unknown field/);
  await assert.rejects(c.request('nonsense' as never, {} as never), /unknown method|Unhandled method/);
  assert.deepEqual((await c.request('ping', { seq: 1 })).seq, 1);
});

test('kill -9 of the worker: it is restarted and serves again', async () => {
  const { c, states } = client();
  const first = await c.start();
  process.kill(first.worker.pid, 'SIGKILL');
  await waitFor(() => states.includes('restarting'));
  await waitFor(() => c.currentState === 'ready' && c.pid !== first.worker.pid);
  const info = await c.request('info', {});
  assert.notEqual(info.worker.pid, first.worker.pid);
});

test('restart() replaces the worker', async () => {
  const { c } = client();
  const a = await c.start();
  const b = await c.restart();
  assert.notEqual(a.worker.pid, b.worker.pid);
});

test('a worker that cannot load the addon: clear error, then the supervisor gives up', async () => {
  const { c, states, logger } = client({ env: { HYBRID_ADDON_PATH: '/nonexistent/hybrid_addon.node' } });
  await assert.rejects(c.start(), /native addon not found at \/nonexistent\/hybrid_addon\.node/);
  await waitFor(() => c.currentState === 'failed');
  assert.ok(states.filter((s) => s === 'restarting').length >= 3, states.join(','));
  assert.ok(logger.lines.some((l) => /giving up/.test(l)));
});
