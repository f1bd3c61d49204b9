// The host side of the runtime worker: forks the worker process, speaks the typed protocol, and supervises
// it. A worker that exits, is killed by a signal, or stops answering heartbeats (hung) is killed and
// restarted with exponential back-off; after too many crashes in a short time the supervisor gives up
// (state "failed") until restart() is called. Requests in flight when a worker dies fail with a clear
// error; requests made while it restarts wait for the new one. Start hooks (document re-sync) run on each
// new worker before it serves. No `vscode` import: tested with a real child process.
import { ChildProcess, fork } from 'child_process';
import { performance } from 'perf_hooks';
import { createMessageConnection, IPCMessageReader, IPCMessageWriter, MessageConnection, ResponseError } from 'vscode-jsonrpc/node';
import {
  ErrorCode,
  InitializeParams,
  MemoryReport,
  Method,
  ModelInfo,
  NotificationMap,
  notifications,
  notificationValidators,
  RequestMap,
  RuntimeInfo,
  StreamMethod,
  StreamPart,
} from '../shared/protocol';

export interface Logger {
  trace(message: string): void;
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** The part of vscode.CancellationToken the client uses. */
export interface CancellationLike {
  readonly isCancellationRequested: boolean;
  onCancellationRequested(listener: () => unknown): { dispose(): unknown };
}

export interface RestartPolicy {
  /** Delay before a restart: doubles per crash in the window, from minDelayMs up to maxDelayMs. */
  minDelayMs: number;
  maxDelayMs: number;
  /** More than maxCrashes crashes within windowMs: give up. */
  maxCrashes: number;
  windowMs: number;
}

export interface RuntimeClientOptions {
  /** The bundled worker script (dist/worker.js). */
  workerPath: string;
  /** Settings sent with `initialize` each time a worker starts; a modelPath is then loaded. */
  settings: () => InitializeParams;
  logger: Logger;
  /** Extra environment for the worker (e.g. HYBRID_ADDON_PATH). */
  env?: Record<string, string>;
  restart?: RestartPolicy;
  /** A ping every intervalMs; one unanswered for timeoutMs means the worker hangs: it is killed and restarted. */
  heartbeat?: { intervalMs: number; timeoutMs: number };
  onStateChange?: (state: RuntimeState, detail?: string) => void;
  onMemory?: (report: MemoryReport) => void;
  onModelLoad?: (result: { ok: true; info: ModelInfo } | { ok: false; path: string; error: string }) => void;
}

export type RuntimeState = 'starting' | 'ready' | 'restarting' | 'stopped' | 'failed';

export class RuntimeError extends Error {
  constructor(
    message: string,
    readonly code?: number,
  ) {
    super(message);
    this.name = 'RuntimeError';
  }
}

/** What a start hook gets: requests to the new worker, before it serves anyone else. */
export interface StartContext {
  generation: number;
  request<M extends Method>(method: M, params: RequestMap[M]['params']): Promise<RequestMap[M]['result']>;
}

/** How long the last start took, in ms (spawn to ready). `sinceCrashMs`: from the crash it replaced. */
export interface StartTimings {
  pid: number;
  initializeMs: number;
  hooksMs: number;
  modelMs: number;
  totalMs: number;
  sinceCrashMs?: number;
}

interface Worker {
  generation: number;
  child: ChildProcess;
  connection: MessageConnection;
  ready: Promise<RuntimeInfo>;
  isReady: boolean;
  /** Rejects (with the reason) when the process has exited. */
  exited: Promise<never>;
  /**
   * Rejecters of this worker's requests in flight, called with the exit's reason. (Each request leaves the
   * set when it settles: racing every request against `exited` instead kept each result reachable from
   * `exited` until the worker died.)
   */
  pending: Set<(e: Error) => void>;
  hung?: string;
  stopping?: boolean;
  heartbeat?: NodeJS.Timeout;
}

interface Waiter {
  resolve: (w: Worker) => void;
  reject: (e: Error) => void;
}

const DEFAULT_RESTART: RestartPolicy = { minDelayMs: 100, maxDelayMs: 10_000, maxCrashes: 5, windowMs: 60_000 };
const DEFAULT_HEARTBEAT = { intervalMs: 2000, timeoutMs: 10_000 };

export class RuntimeClient {
  private worker: Worker | undefined;
  private state: RuntimeState = 'stopped';
  private crashes: number[] = [];
  private lastCrashAt: number | undefined;
  private lastFailure = '';
  private restartTimer: NodeJS.Timeout | undefined;
  private disposed = false;
  private generations = 0;
  private nextId = 1;
  private waiters: Waiter[] = [];
  private readonly streams = new Map<number, (parts: StreamPart[], tokens: number) => void>();
  private readonly progress = new Map<number, (p: NotificationMap['progress']) => void>();
  private readonly hooks: Array<(ctx: StartContext) => Promise<void>> = [];
  private readonly policy: RestartPolicy;
  private readonly heartbeat: { intervalMs: number; timeoutMs: number };
  /** Timings of the last worker start. */
  lastStart: StartTimings | undefined;

  constructor(private readonly options: RuntimeClientOptions) {
    this.policy = options.restart ?? DEFAULT_RESTART;
    this.heartbeat = options.heartbeat ?? DEFAULT_HEARTBEAT;
  }

  get currentState(): RuntimeState {
    return this.state;
  }

  get pid(): number | undefined {
    return this.worker?.child.pid;
  }

  /** Increments with every worker process started; documents sent to one generation are not in the next. */
  get generation(): number {
    return this.worker?.generation ?? -1;
  }

  /** Runs on every new worker after `initialize`, before the model load and before it serves requests. */
  addStartHook(hook: (ctx: StartContext) => Promise<void>): { dispose(): void } {
    this.hooks.push(hook);
    return { dispose: () => this.hooks.splice(this.hooks.indexOf(hook) >>> 0, 1) };
  }

  /** Starts the worker if none runs; resolves with its info once it serves. */
  async start(): Promise<RuntimeInfo> {
    const w = await this.whenReady();
    return w.ready;
  }

  /** Stops the current worker (gracefully, then by force) and starts a new one. Clears the crash history. */
  async restart(): Promise<RuntimeInfo> {
    if (this.disposed) throw new RuntimeError('the runtime client was disposed');
    this.crashes = [];
    this.lastCrashAt = undefined;
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    await this.stopWorker('the runtime is restarting');
    if (this.state === 'failed') this.state = 'stopped';
    return this.start();
  }

  /** A request to the worker, once one serves. Fails with a RuntimeError if the worker dies meanwhile. */
  async request<M extends Method>(
    method: M,
    params: RequestMap[M]['params'],
    token?: CancellationLike,
  ): Promise<RequestMap[M]['result']> {
    const w = await this.whenReady(token);
    return this.send(w, method, params);
  }

  /**
   * Exact tokens of a text as the loaded model reads it (the worker's `tokenize`); `parseSpecial` for a
   * rendered chat prompt, whose special token texts are read as single tokens.
   */
  async countTokens(text: string, options: { parseSpecial?: boolean } = {}, token?: CancellationLike): Promise<number> {
    return (await this.request('tokenize', { text, parseSpecial: options.parseSpecial ?? false }, token)).count;
  }

  /**
   * A streaming request (complete, chat, bench): `onStream` gets each batch of output parts in order, all
   * before the result. Cancelling `token` stops the generation in the worker; the result then says
   * stopReason "cancelled" and holds what was generated until then.
   */
  async stream<M extends StreamMethod>(
    method: M,
    params: Omit<RequestMap[M]['params'], 'id'>,
    onStream: (parts: StreamPart[], tokens: number) => void,
    token?: CancellationLike,
  ): Promise<RequestMap[M]['result']> {
    const w = await this.whenReady(token);
    const id = this.nextId;
    this.nextId = this.nextId >= 0x7fffffff ? 1 : this.nextId + 1;
    this.streams.set(id, onStream);
    const sub = token?.onCancellationRequested(() => {
      if (this.worker === w && this.streams.has(id)) this.send(w, 'cancel', { id }).catch(() => undefined);
    });
    try {
      return await this.send(w, method, { ...params, id } as RequestMap[M]['params']);
    } finally {
      sub?.dispose();
      this.streams.delete(id);
    }
  }

  /**
   * Sends now to the worker of this generation, if it still runs (started or ready): for document sync,
   * whose messages must keep their order with the start hook's and must not wait for the model.
   */
  sendToGeneration<M extends Method>(generation: number, method: M, params: RequestMap[M]['params']): Promise<RequestMap[M]['result']> | undefined {
    const w = this.worker;
    if (!w || w.generation !== generation || w.stopping) return undefined;
    return this.send(w, method, params);
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    clearTimeout(this.restartTimer);
    this.rejectWaiters(new RuntimeError('the runtime client was disposed', ErrorCode.RuntimeStopped));
    await this.stopWorker('the runtime was shut down');
    this.setState('stopped');
  }

  // ---- lifecycle ----

  private whenReady(token?: CancellationLike): Promise<Worker> {
    if (this.disposed) return Promise.reject(new RuntimeError('the runtime client was disposed', ErrorCode.RuntimeStopped));
    if (token?.isCancellationRequested) return Promise.reject(new RuntimeError('the request was cancelled', ErrorCode.Cancelled));
    if (this.worker?.isReady) return Promise.resolve(this.worker);
    if (this.state === 'failed') {
      return Promise.reject(
        new RuntimeError(
          `the runtime stopped after ${this.crashes.length} crashes in ${Math.round(this.policy.windowMs / 1000)} s ` +
            `(last: ${this.lastFailure}); run "Hybrid Copilot: Restart Runtime" to try again, "Show Logs" for details`,
          ErrorCode.RuntimeStopped,
        ),
      );
    }
    const p = new Promise<Worker>((resolve, reject) => {
      let sub: { dispose(): unknown } | undefined;
      const waiter: Waiter = {
        resolve: (w) => (sub?.dispose(), resolve(w)),
        reject: (e) => (sub?.dispose(), reject(e)),
      };
      this.waiters.push(waiter);
      sub = token?.onCancellationRequested(() => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) {
          this.waiters.splice(i, 1);
          waiter.reject(new RuntimeError('the request was cancelled', ErrorCode.Cancelled));
        }
      });
    });
    // Not started yet (or stopped by restart()): start now. While a restart is scheduled, wait for it.
    if (!this.worker && !this.restartTimer) this.worker = this.spawn();
    return p;
  }

  private rejectWaiters(e: Error): void {
    for (const w of this.waiters.splice(0)) w.reject(e);
  }

  private setState(state: RuntimeState, detail?: string): void {
    this.state = state;
    this.options.onStateChange?.(state, detail);
  }

  private spawn(): Worker {
    const log = this.options.logger;
    const generation = ++this.generations;
    this.setState('starting');
    const t0 = performance.now();
    const child = fork(this.options.workerPath, [], {
      // Under Electron (desktop VS Code) the extension host's execPath is Electron: run it as plain Node.
      env: { ...process.env, ...this.options.env, ELECTRON_RUN_AS_NODE: '1' },
      execArgv: [],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'json',
    });
    const connection = createMessageConnection(new IPCMessageReader(child), new IPCMessageWriter(child));
    const worker = { generation, child, connection, isReady: false, pending: new Set<(e: Error) => void>() } as Worker;
    this.listen(worker);
    child.stdout?.on('data', (d: Buffer) => log.debug(`[worker ${child.pid} stdout] ${d.toString().trimEnd()}`));
    child.stderr?.on('data', (d: Buffer) => log.warn(`[worker ${child.pid} stderr] ${d.toString().trimEnd()}`));
    connection.listen();

    worker.exited = new Promise<never>((_, reject) => {
      child.once('exit', (code, signal) => {
        clearInterval(worker.heartbeat);
        const how = worker.hung
          ? `stopped answering (${worker.hung}) and was killed`
          : signal
            ? `was killed by ${signal}`
            : `exited with code ${code}`;
        // Reject first: requests in flight then fail with this reason, not the connection's disposal.
        const error = new RuntimeError(`the runtime worker (pid ${child.pid}) ${how}`, ErrorCode.WorkerCrashed);
        reject(error);
        for (const r of [...worker.pending]) r(error);
        worker.pending.clear();
        connection.dispose();
        if (this.worker === worker) {
          this.worker = undefined;
          this.onCrash(`the runtime worker (pid ${child.pid}) ${how}`);
        }
      });
      child.once('error', (e) => log.error(`runtime worker error: ${e.message}`));
    });
    worker.exited.catch(() => undefined);
    this.startHeartbeat(worker);

    worker.ready = (async () => {
      const settings = this.options.settings();
      await this.send(worker, 'initialize', settings);
      const t1 = performance.now();
      const ctx: StartContext = { generation, request: (m, p) => this.send(worker, m, p) };
      for (const hook of [...this.hooks]) {
        try {
          await hook(ctx);
        } catch (e) {
          if (worker.child.exitCode !== null || worker.child.signalCode !== null) throw e;
          log.error(`runtime start hook failed: ${(e as Error).message}`);
        }
      }
      const t2 = performance.now();
      if (settings.modelPath) await this.loadModel(worker, settings.modelPath);
      const t3 = performance.now();
      const info = await this.send(worker, 'info', {});
      const timings: StartTimings = {
        pid: child.pid ?? -1,
        initializeMs: t1 - t0,
        hooksMs: t2 - t1,
        modelMs: t3 - t2,
        totalMs: performance.now() - t0,
      };
      if (this.lastCrashAt !== undefined) timings.sinceCrashMs = performance.now() - this.lastCrashAt;
      this.lastStart = timings;
      log.info(
        `runtime worker ${child.pid} ready in ${Math.round(timings.totalMs)} ms (start and initialize ${Math.round(timings.initializeMs)} ms, ` +
          `documents ${Math.round(timings.hooksMs)} ms, model ${Math.round(timings.modelMs)} ms)` +
          (timings.sinceCrashMs !== undefined ? `, ${Math.round(timings.sinceCrashMs)} ms after the crash` : ''),
      );
      return info;
    })();
    worker.ready.then(
      () => {
        if (this.worker !== worker) return;
        worker.isReady = true;
        this.lastCrashAt = undefined;
        this.setState('ready');
        for (const w of this.waiters.splice(0)) w.resolve(worker);
      },
      (e: Error) => {
        if (this.worker !== worker) return;
        log.error(`runtime worker failed to start: ${e.message}`);
        this.lastFailure = e.message;
        this.rejectWaiters(e instanceof RuntimeError ? e : new RuntimeError(e.message));
        // A worker that cannot initialize is as good as crashed: kill it; its exit counts as a crash.
        if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGKILL');
      },
    );
    return worker;
  }

  /** Loads the model with progress shown as the state's detail. A bad model file is no crash: the worker serves without one. */
  private async loadModel(worker: Worker, path: string): Promise<void> {
    const progressId = this.nextId++;
    const name = path.split(/[\\/]/).pop();
    this.setState('starting', `loading ${name}`);
    this.progress.set(progressId, (p) => this.setState('starting', `loading ${name}: ${p.message}`));
    try {
      const info = await this.send(worker, 'loadModel', { path, progressId });
      this.options.onModelLoad?.({ ok: true, info });
    } catch (e) {
      if (e instanceof RuntimeError && e.code === ErrorCode.WorkerCrashed) throw e;
      const error = (e as Error).message;
      this.options.logger.error(`the model ${path} could not be loaded: ${error}`);
      this.options.onModelLoad?.({ ok: false, path, error });
    } finally {
      this.progress.delete(progressId);
    }
  }

  private listen(worker: Worker): void {
    const log = this.options.logger;
    const pid = () => worker.child.pid;
    const on: { [N in keyof NotificationMap]: (p: NotificationMap[N]) => void } = {
      log: (p) => log[p.level](`[worker ${pid()}] ${p.message}`),
      progress: (p) => this.progress.get(p.id)?.(p),
      stream: (p) => {
        const handler = this.streams.get(p.id);
        if (handler) handler(p.parts, p.tokens);
        else log.trace(`stream output for request ${p.id}, which is no longer waiting`);
      },
      memory: (p) => {
        log.trace(`[worker ${pid()}] memory: rss ${mib(p.rssBytes)}, sessions ${p.sessions} (${mib(p.sessionBytes)}), documents ${p.documents}`);
        this.options.onMemory?.(p);
      },
    };
    for (const name of notifications) {
      worker.connection.onNotification(name, (raw: unknown) => {
        let p: unknown;
        try {
          p = notificationValidators[name](raw, name);
        } catch (e) {
          log.warn(`[worker ${pid()}] dropped a malformed '${name}' notification: ${(e as Error).message}`);
          return;
        }
        (on[name] as (p: unknown) => void)(p);
      });
    }
  }

  private startHeartbeat(worker: Worker): void {
    let seq = 0;
    let outstanding: { seq: number; sentAt: number } | undefined;
    const { intervalMs, timeoutMs } = this.heartbeat;
    worker.heartbeat = setInterval(() => {
      const now = performance.now();
      if (outstanding) {
        if (now - outstanding.sentAt < timeoutMs) return;
        worker.hung = `no answer to a heartbeat for ${Math.round(now - outstanding.sentAt)} ms`;
        this.options.logger.error(`the runtime worker (pid ${worker.child.pid}) hangs: ${worker.hung}; killing it`);
        clearInterval(worker.heartbeat);
        worker.child.kill('SIGKILL');
        return;
      }
      const ping = { seq: ++seq, sentAt: now };
      outstanding = ping;
      try {
        worker.connection.sendRequest('ping', { seq: ping.seq }).then(
          () => {
            if (outstanding === ping) outstanding = undefined;
          },
          () => undefined,
        );
      } catch {
        // the connection closed: the exit handler takes it from here
      }
    }, intervalMs);
    worker.heartbeat.unref();
  }

  private onCrash(reason: string): void {
    const log = this.options.logger;
    this.lastFailure = reason;
    if (this.disposed) return;
    const now = Date.now();
    this.lastCrashAt = performance.now();
    this.crashes = this.crashes.filter((t) => now - t < this.policy.windowMs);
    this.crashes.push(now);
    if (this.crashes.length > this.policy.maxCrashes) {
      log.error(`${reason}; ${this.crashes.length} crashes within ${this.policy.windowMs / 1000} s: giving up`);
      this.setState('failed', `${reason} (${this.crashes.length} crashes within ${Math.round(this.policy.windowMs / 1000)} s)`);
      this.rejectWaiters(new RuntimeError(`the runtime stopped: ${reason}`, ErrorCode.RuntimeStopped));
      return;
    }
    const delay = Math.min(this.policy.maxDelayMs, this.policy.minDelayMs * 2 ** (this.crashes.length - 1));
    log.warn(`${reason}; restarting in ${delay} ms`);
    this.setState('restarting', reason);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (!this.disposed && !this.worker) this.worker = this.spawn();
    }, delay);
  }

  private async stopWorker(reason: string): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.worker = undefined;
    worker.stopping = true;
    clearInterval(worker.heartbeat);
    const exited = worker.exited.catch(() => undefined);
    if (worker.child.exitCode === null && worker.child.signalCode === null) {
      try {
        await Promise.race([worker.connection.sendRequest('shutdown', {}), delay(1000)]);
      } catch {
        // already gone
      }
      const forced = setTimeout(() => worker.child.kill('SIGKILL'), 2000);
      await exited;
      clearTimeout(forced);
    }
    this.options.logger.info(`runtime worker ${worker.child.pid} stopped: ${reason}`);
  }

  /** Sends on one worker; if it exits first, fails with the reason. Protocol errors keep their code. */
  private async send<M extends Method>(worker: Worker, method: M, params: RequestMap[M]['params']): Promise<RequestMap[M]['result']> {
    try {
      return await new Promise<RequestMap[M]['result']>((resolve, reject) => {
        if (worker.child.exitCode !== null || worker.child.signalCode !== null) {
          worker.exited.catch(reject); // already gone: fail with the exit's reason
          return;
        }
        worker.pending.add(reject);
        worker.connection
          .sendRequest(method, params)
          .then((r: unknown) => resolve(r as RequestMap[M]['result']), reject)
          .finally(() => worker.pending.delete(reject));
      });
    } catch (e) {
      if (e instanceof RuntimeError && e.code === ErrorCode.WorkerCrashed) {
        const what = worker.stopping ? 'was stopped' : 'died';
        throw new RuntimeError(
          `'${method}' failed: the runtime worker ${what} while handling it (${e.message.replace(/^the runtime worker \(pid \d+\) /, '')})` +
            (worker.stopping ? '' : '; it is being restarted, try again'),
          ErrorCode.WorkerCrashed,
        );
      }
      if (e instanceof ResponseError) throw new RuntimeError(e.message, e.code);
      throw new RuntimeError(`'${method}' failed: ${(e as Error).message}`);
    }
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}
