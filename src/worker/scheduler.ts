// Runs the worker's generations one at a time, in arrival order: the model has one engine and one
// workspace, and a queue in JS (not a lock in native code) keeps libuv's threads free and lets a request
// be cancelled before it starts. Cancelling a running job reaches the native loop within one decode step.

export interface QueuedJob<R> {
  readonly id: number;
  /** Called when the job's turn comes; resolves when it has finished. */
  start(): Promise<R>;
  /** Stop it: before its start it will not start (skipped() answers instead); while running, soon. */
  cancel(reason: string): void;
  /** The result of a job cancelled before its turn. */
  skipped(): R;
}

interface Entry {
  job: QueuedJob<unknown>;
  resolve: (r: unknown) => void;
  reject: (e: unknown) => void;
}

export class JobQueue {
  private readonly waiting: Entry[] = [];
  private current: Entry | undefined;
  private completedCount = 0;

  get stats(): { running: number; queued: number; completed: number } {
    return { running: this.current ? 1 : 0, queued: this.waiting.length, completed: this.completedCount };
  }

  add<R>(job: QueuedJob<R>): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.waiting.push({ job, resolve: resolve as (r: unknown) => void, reject });
      this.next();
    });
  }

  /** Cancels the job with this id, queued or running; false when there is none. */
  cancel(id: number, reason: string): boolean {
    if (this.current?.job.id === id) {
      this.current.job.cancel(reason);
      return true;
    }
    const i = this.waiting.findIndex((e) => e.job.id === id);
    if (i < 0) return false;
    const [entry] = this.waiting.splice(i, 1);
    entry.job.cancel(reason);
    this.completedCount++;
    entry.resolve(entry.job.skipped());
    return true;
  }

  cancelAll(reason: string): void {
    for (const e of [...this.waiting]) this.cancel(e.job.id, reason);
    this.current?.job.cancel(reason);
  }

  private next(): void {
    if (this.current || this.waiting.length === 0) return;
    const entry = this.waiting.shift() as Entry;
    this.current = entry;
    let started: Promise<unknown>;
    try {
      started = entry.job.start();
    } catch (e) {
      started = Promise.reject(e);
    }
    started.then(entry.resolve, entry.reject).finally(() => {
      this.completedCount++;
      this.current = undefined;
      this.next();
    });
  }
}
