// The worker's generation queue: one job at a time in arrival order; cancel reaches queued and running
// jobs; a failing job does not stall the queue.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { JobQueue, QueuedJob } from '../../src/worker/scheduler';

function job(id: number, log: string[], opts: { fail?: boolean } = {}): QueuedJob<string> & { finish(): void } {
  let finish = () => {};
  let reason = '';
  return {
    id,
    start() {
      log.push(`start ${id}`);
      return new Promise<string>((resolve, reject) => {
        finish = () => (opts.fail ? reject(new Error(`job ${id} failed`)) : resolve(reason ? `${id} ${reason}` : `${id} done`));
      });
    },
    cancel(r: string) {
      reason = r;
      log.push(`cancel ${id} ${r}`);
      finish();
    },
    skipped: () => `${id} skipped (${reason})`,
    finish: () => finish(),
  };
}

test('jobs run one at a time, in order; cancels reach queued and running jobs', async () => {
  const q = new JobQueue();
  const log: string[] = [];
  const a = job(1, log);
  const b = job(2, log, { fail: true });
  const c = job(3, log);
  const d = job(4, log);
  const pa = q.add(a);
  const pb = q.add(b);
  const pc = q.add(c);
  const pd = q.add(d);
  assert.deepEqual(q.stats, { running: 1, queued: 3, completed: 0 });
  assert.equal(q.cancel(3, 'superseded'), true);
  assert.equal(await pc, '3 skipped (superseded)');
  assert.equal(q.cancel(99, 'cancelled'), false);
  a.finish();
  assert.equal(await pa, '1 done');
  await new Promise((r) => setImmediate(r));
  b.finish();
  await assert.rejects(pb, /job 2 failed/);
  await new Promise((r) => setImmediate(r));
  assert.equal(q.cancel(4, 'cancelled'), true);
  assert.equal(await pd, '4 cancelled');
  assert.deepEqual(log, ['start 1', 'cancel 3 superseded', 'start 2', 'start 4', 'cancel 4 cancelled']);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(q.stats, { running: 0, queued: 0, completed: 4 });
});
