// Found by `npm run soak`: the extension host's heap grew ~1 MiB per 1000 requests for as long as a worker
// lived, and dropped back at each worker restart. RuntimeClient.send() (src/runtime/client.ts) answers each
// request with Promise.race([connection.sendRequest(…), worker.exited]); `exited` settles only when the
// worker dies, so every race leaves a reaction on it, and that reaction keeps the race's promise — and so
// the request's result (a completion, a whole chat answer) — alive until the worker exits. A worker that
// lives for a day of typing holds every completion of the day.
//
// Fix (src/runtime/client.ts, runtime owner's): race against something each request can leave. E.g. give
// Worker a `pending = new Set<(e: Error) => void>()`, and in send():
//   return await new Promise((resolve, reject) => {
//     worker.pending.add(reject);
//     worker.connection.sendRequest(method, params).then(resolve, reject).finally(() => worker.pending.delete(reject));
//   });
// with the exit handler calling `for (const r of worker.pending) r(error)` where it now rejects `exited`
// (the error mapping in send()'s catch stays as it is).
import assert from 'node:assert/strict';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { after, test } from 'node:test';
import { disposeClients, makeClient } from '../unit/runtime-helpers';

after(disposeClients);

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

test('request results are not kept alive by the worker they came from', async () => {
  const { c } = makeClient();
  await c.start();
  const refs: WeakRef<object>[] = [];
  for (let i = 0; i < 50; i++) refs.push(new WeakRef(await c.request('ping', { seq: i })));
  // Let the last request's promise chain settle, then collect.
  await new Promise((r) => setTimeout(r, 50));
  for (let k = 0; k < 3; k++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  const alive = refs.filter((r) => r.deref() !== undefined).length;
  assert.ok(alive <= 1, `${alive} of 50 request results are still reachable while their worker lives (a Promise.race on worker.exited per request)`);
});
