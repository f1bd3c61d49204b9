// Hostile protocol messages: every request method of the worker protocol with each field of a valid
// message given the wrong type, removed, oversized, or joined by unknown fields (prototype keys among
// them), params that are not objects, unknown and odd method names, a deeply nested and a very large
// message — sent to the real worker. Oracle: the worker answers InvalidParams, naming the field, exactly
// when the protocol's validator refuses the params in process; it never crashes or stops answering. And the
// webview's messages to the host: thousands of mutated messages through parseWebviewMessage.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { RuntimeError } from '../../src/runtime/client';
import { ErrorCode, Method, paramValidators } from '../../src/shared/protocol';
import { ValidationError } from '../../src/shared/validate';
import { parseWebviewMessage } from '../../src/shared/webviewProtocol';
import { disposeClients, makeClient } from './runtime-helpers';

after(disposeClients);

const pos = { line: 0, character: 1 };
const VALID: { [M in Method]?: Record<string, unknown> } = {
  initialize: { device: 'cpu', threads: 1, contextLength: 2048, stateMemoryBudgetMB: 64, logLevel: 'info' },
  loadModel: { path: '/nonexistent/model.gguf', progressId: 1 },
  info: {},
  ping: { seq: 1 },
  openDocument: { uri: 'file:///a.ts', languageId: 'typescript', version: 1, text: 'let x = 1;\n' },
  editDocument: { uri: 'file:///a.ts', version: 2, changes: [{ range: { start: pos, end: pos }, rangeOffset: 1, rangeLength: 0, text: 'y' }] },
  closeDocument: { uri: 'file:///b.ts' },
  complete: { id: 1, uri: 'file:///a.ts', version: 2, offset: 3, maxTokens: 4, sampling: { temperature: 0.5, topK: 4 }, stop: ['\n'], suffixTokens: 8 },
  chat: { id: 2, prompt: 'hi', maxTokens: 4, addBos: true, stop: ['x'], thinking: { startsInside: false, open: '<think>', close: '</think>', budget: 1 } },
  cancel: { id: 9 },
  bench: { id: 3, promptTokens: 1, genTokens: 1, stream: false },
  shutdown: {},
};

const WRONG: unknown[] = [null, true, 'x', '', 1.5, -1, 2 ** 53, [], {}, [1], { a: 1 }];

/** Mutations of one message: wrong types, removed and extra fields, oversized strings and arrays. */
function mutations(v: Record<string, unknown>): { what: string; params: unknown }[] {
  const out: { what: string; params: unknown }[] = [];
  const walk = (obj: Record<string, unknown>, set: (o: Record<string, unknown>) => unknown, where: string) => {
    for (const key of Object.keys(obj)) {
      const at = `${where}.${key}`;
      for (const w of WRONG) out.push({ what: `${at} = ${JSON.stringify(w)}`, params: set({ ...obj, [key]: w }) });
      const rest = { ...obj };
      delete rest[key];
      out.push({ what: `${at} removed`, params: set(rest) });
      const value = obj[key];
      if (typeof value === 'string') {
        for (const n of [257, 8193, 65_537, (1 << 20) + 1]) out.push({ what: `${at} of ${n} characters`, params: set({ ...obj, [key]: value + 'x'.repeat(n) }) });
      }
      if (Array.isArray(value)) {
        out.push({ what: `${at} with 100001 items`, params: set({ ...obj, [key]: Array(100_001).fill(value[0] ?? 'x') }) });
        if (value[0] && typeof value[0] === 'object') walk(value[0] as Record<string, unknown>, (o) => set({ ...obj, [key]: [o] }), `${at}[0]`);
      } else if (value && typeof value === 'object') {
        walk(value as Record<string, unknown>, (o) => set({ ...obj, [key]: o }), at);
      }
    }
    for (const extra of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'extra']) {
      // JSON.parse makes "__proto__" an own key, as it arrives from the wire.
      const withExtra = JSON.parse(JSON.stringify(obj).replace(/^\{/, `{${JSON.stringify(extra)}:{"polluted":1}${Object.keys(obj).length ? ',' : ''}`));
      out.push({ what: `${where}.${extra} added`, params: set(withExtra) });
    }
  };
  walk(v, (o) => o, 'params');
  for (const p of ['x', 7, true, [1, 2], [v]]) out.push({ what: `params = ${JSON.stringify(p).slice(0, 40)}`, params: p });
  return out;
}

function validatorSays(method: Method, params: unknown): string | undefined {
  try {
    paramValidators[method](JSON.parse(JSON.stringify(params ?? {})) ?? {}, 'params');
    return undefined;
  } catch (e) {
    assert.ok(e instanceof ValidationError, `${method}: the validator threw ${(e as Error).constructor.name}: ${(e as Error).message}`);
    return (e as Error).message;
  }
}

test('every request method, every field mutated: the worker refuses exactly what the validator refuses, naming the field', async () => {
  const { c } = makeClient();
  const info = await c.start();
  let sent = 0, refused = 0;
  for (const method of Object.keys(VALID) as Method[]) {
    for (const m of mutations(VALID[method] as Record<string, unknown>)) {
      // vscode-jsonrpc sends a non-object param as [param]; the worker's handler receives that param.
      const refusal = validatorSays(method, m.params);
      if (!refusal && (method === 'shutdown' || method === 'initialize')) continue; // accepted: would stop or reconfigure the worker
      sent++;
      try {
        await c.request(method, m.params as never);
        assert.equal(refusal, undefined, `${method} with ${m.what}: the worker accepted what the validator refuses (${refusal})`);
      } catch (e) {
        assert.ok(e instanceof RuntimeError, `${method} with ${m.what}: ${(e as Error).message}`);
        if (refusal) {
          refused++;
          assert.equal(e.code, ErrorCode.InvalidParams, `${method} with ${m.what}: code ${e.code} (${e.message})`);
          assert.ok(e.message.startsWith(`${method}: params`), `${method} with ${m.what}: the message does not name the field: ${e.message}`);
        } else {
          assert.notEqual(e.code, ErrorCode.InvalidParams, `${method} with ${m.what}: refused though valid: ${e.message}`);
        }
      }
    }
  }
  assert.ok(refused > 300, `only ${refused} of ${sent} messages were refused`);
  assert.deepEqual(await c.request('ping', { seq: 5 }), { seq: 5, pid: info.worker.pid });
  assert.equal(c.pid, info.worker.pid, 'the same worker serves after all of them');
});

test('odd method names, a deeply nested message and an 8 MB one: clear refusals, the worker lives', async () => {
  const { c } = makeClient();
  const info = await c.start();
  for (const name of ['__proto__', 'constructor', 'hasOwnProperty', 'toString', 'valueOf', '', ' ping', 'PING', '$/cancelRequest2', 'x'.repeat(10_000)]) {
    await assert.rejects(c.request(name as Method, {} as never), (e) => (e as RuntimeError).code === ErrorCode.MethodNotFound && (e as Error).message.length < 300, name.slice(0, 20));
  }
  let nested: unknown = 'deep';
  for (let i = 0; i < 3000; i++) nested = [nested];
  await assert.rejects(c.request('openDocument', { uri: 'file:///n.ts', languageId: 'x', version: 1, text: nested } as never), /params\.text: expected a string, got array/);
  let deepObject: unknown = {};
  for (let i = 0; i < 3000; i++) deepObject = { changes: deepObject };
  await assert.rejects(c.request('editDocument', { uri: 'file:///n.ts', version: 2, changes: deepObject } as never), /params\.changes: expected an array/);
  await assert.rejects(c.request('ping', { seq: 'x'.repeat(8 << 20) } as never), /params\.seq: expected an integer, got string/);
  await assert.rejects(c.request('openDocument', { uri: 'file:///big.ts', languageId: 'x', version: 1, text: 'y'.repeat(8 << 20), extra: 1 } as never), /params\.extra: unknown field/);
  assert.deepEqual(await c.request('ping', { seq: 6 }), { seq: 6, pid: info.worker.pid });
});

test('webview messages: 20000 mutated messages are refused with an Error naming the field, or pass unchanged', () => {
  const base: Record<string, unknown>[] = [
    { type: 'ready' }, { type: 'command', command: 'showLogs' }, { type: 'send', text: 'hi' }, { type: 'stop' }, { type: 'newChat' },
    { type: 'openChat', id: 'c1' }, { type: 'deleteChat', id: 'c1' }, { type: 'setThinking', enabled: true }, { type: 'setBudget', budget: 10 },
    { type: 'toggleChip', id: 'file', enabled: false }, { type: 'copy', text: 'x' }, { type: 'insertCode', code: 'x' },
    { type: 'applyCode', code: 'x', language: 'ts' }, { type: 'firstPaint', turnId: 't1', ms: 4 },
  ];
  let x = 99;
  const rnd = (n: number) => {
    x = (x * 1103515245 + 12345) >>> 0;
    return (x >>> 8) % n;
  };
  const odd: unknown[] = [...WRONG, '__proto__', 'constructor', 'hasOwnProperty', 'ready\u0000', 'x'.repeat((1 << 20) + 1), -0, 1e308, 3_600_001];
  let accepted = 0;
  for (let i = 0; i < 20_000; i++) {
    const msg: Record<string, unknown> = JSON.parse(JSON.stringify(base[rnd(base.length)]));
    const keys = [...Object.keys(msg), 'extra', '__proto__', 'type'];
    for (let k = 1 + rnd(2); k > 0; k--) {
      const key = keys[rnd(keys.length)];
      if (rnd(4) === 0) delete msg[key];
      else msg[key] = odd[rnd(odd.length)];
    }
    const wire = JSON.parse(JSON.stringify(msg)); // postMessage's structured clone keeps own keys, "__proto__" too
    let parsed: unknown;
    try {
      parsed = parseWebviewMessage(wire);
    } catch (e) {
      assert.ok(e instanceof Error && (e instanceof ValidationError || /^webview message: unknown type/.test(e.message)), `${JSON.stringify(wire).slice(0, 200)}: ${e}`);
      assert.ok((e as Error).message.length < 400, 'an error message carries the hostile text');
      continue;
    }
    accepted++;
    assert.deepEqual(parseWebviewMessage(JSON.parse(JSON.stringify(parsed))), parsed, 'an accepted message validates again unchanged');
    assert.equal(Object.getPrototypeOf(parsed), Object.prototype);
  }
  assert.ok(accepted > 100 && accepted < 20_000, `${accepted} accepted`);
  assert.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype was polluted');
});
