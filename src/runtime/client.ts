// The host side of the runtime worker: forks the worker process, speaks the typed protocol, and brings the
// worker back with exponential back-off when it dies. No `vscode` import: tested with a real child process.
import { ChildProcess, fork } from 'child_process';
import { createMessageConnection, IPCMessageReader, IPCMessageWriter, MessageConnection } from 'vscode-jsonrpc/node';
import { InitializeParams, Method, NotificationMap, RequestMap, RuntimeInfo } from '../shared/protocol';

export interface Logger {
  trace(message: string): void;
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface RuntimeClientOptions {
  /** The bundled worker script (dist/worker.js). */
  workerPath: string;
  /** Settings sent with `initialize` each time a worker starts. */
  settings: () => InitializeParams;
  logger: Logger;
  /** Extra environment for the worker (e.g. HYBRID_ADDON_PATH). */
  env?: Record<string, string>;
  /** Restart policy: delay doubles from minDelayMs up to maxDelayMs; more than maxCrashes within windowMs gives up. */
  restart?: { minDelayMs: number; maxDelayMs: number; maxCrashes: number; windowMs: number };
  onStateChange?: (state: RuntimeState, detail?: string) => void;
}

export type RuntimeState = 'starting' | 'ready' | 'restarting' | 'stopped' | 'failed';

export class RuntimeError extends Error {
  constructor(message: string, readonly code?: number) {
    super(message);
    this.name = 'RuntimeError';
  }
}

interface Worker {
  child: ChildProcess;
  connection: MessageConnection;
  ready: Promise<RuntimeInfo>;
}

export class RuntimeClient {
  private worker: Worker | undefined;
  private state: RuntimeState = 'stopped';
  private crashes: number[] = [];
  private restartTimer: NodeJS.Timeout | undefined;
  private disposed = false;
  private readonly policy;

  constructor(private readonly options: RuntimeClientOptions) {
    this.policy = options.restart ?? { minDelayMs: 250, maxDelayMs: 10_000, maxCrashes: 5, windowMs: 60_000 };
  }

  get currentState(): RuntimeState {
    return this.state;
  }

  get pid(): number | undefined {
    return this.worker?.child.pid;
  }

  /** Starts the worker if none runs; resolves with the worker's info once it is initialized. */
  start(): Promise<RuntimeInfo> {
    if (this.disposed) return Promise.reject(new RuntimeError('the runtime client was disposed'));
    if (this.worker) return this.worker.ready;
    this.worker = this.spawn();
    return this.worker.ready;
  }

  /** Stops the current worker (gracefully, then by force) and starts a new one. Clears the crash history. */
  async restart(): Promise<RuntimeInfo> {
    this.crashes = [];
    clearTimeout(this.restartTimer);
    await this.stopWorker();
    return this.start();
  }

  async request<M extends Method>(method: M, params: RequestMap[M]['params']): Promise<RequestMap[M]['result']> {
    await this.start();
    const worker = this.worker;
    if (!worker) throw new RuntimeError('the runtime worker is not running');
    return worker.connection.sendRequest(method, params) as Promise<RequestMap[M]['result']>;
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    clearTimeout(this.restartTimer);
    await this.stopWorker();
    this.setState('stopped');
  }

  private setState(state: RuntimeState, detail?: string): void {
    this.state = state;
    this.options.onStateChange?.(state, detail);
  }

  private spawn(): Worker {
    this.setState('starting');
    const t0 = Date.now();
    const child = fork(this.options.workerPath, [], {
      // Under Electron (desktop VS Code) the extension host's execPath is Electron: run it as plain Node.
      env: { ...process.env, ...this.options.env, ELECTRON_RUN_AS_NODE: '1' },
      execArgv: [],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'json',
    });
    const connection = createMessageConnection(new IPCMessageReader(child), new IPCMessageWriter(child));
    const log = this.options.logger;
    connection.onNotification('log', (p: NotificationMap['log']) => {
      const level = ['trace', 'debug', 'info', 'warn', 'error'].includes(p?.level) ? p.level : 'info';
      log[level](`[worker ${child.pid}] ${String(p?.message)}`);
    });
    child.stdout?.on('data', (d: Buffer) => log.debug(`[worker ${child.pid} stdout] ${d.toString().trimEnd()}`));
    child.stderr?.on('data', (d: Buffer) => log.warn(`[worker ${child.pid} stderr] ${d.toString().trimEnd()}`));
    connection.listen();

    const worker: Worker = { child, connection, ready: Promise.resolve() as unknown as Promise<RuntimeInfo> };
    let exited = false;
    const exitPromise = new Promise<never>((_, reject) => {
      child.once('exit', (code, signal) => {
        exited = true;
        connection.dispose();
        const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
        reject(new RuntimeError(`the runtime worker ${how}`));
        if (this.worker === worker) {
          this.worker = undefined;
          this.onCrash(`the runtime worker (pid ${child.pid}) ${how}`);
        }
      });
      child.once('error', (e) => log.error(`runtime worker error: ${e.message}`));
    });
    exitPromise.catch(() => undefined);
    worker.ready = Promise.race([
      connection.sendRequest('initialize', this.options.settings()) as Promise<RuntimeInfo>,
      exitPromise,
    ]).then(
      (info) => {
        log.info(`runtime worker ${child.pid} ready in ${Date.now() - t0} ms`);
        if (this.worker === worker) this.setState('ready');
        return info;
      },
      (e: Error) => {
        log.error(`runtime worker failed to initialize: ${e.message}`);
        if (!exited) child.kill('SIGKILL');
        throw new RuntimeError(e.message);
      },
    );
    return worker;
  }

  private onCrash(reason: string): void {
    const log = this.options.logger;
    if (this.disposed) return;
    const now = Date.now();
    this.crashes = this.crashes.filter((t) => now - t < this.policy.windowMs);
    this.crashes.push(now);
    if (this.crashes.length > this.policy.maxCrashes) {
      log.error(`${reason}; ${this.crashes.length} crashes within ${this.policy.windowMs / 1000} s: giving up`);
      this.setState('failed', reason);
      return;
    }
    const delay = Math.min(this.policy.maxDelayMs, this.policy.minDelayMs * 2 ** (this.crashes.length - 1));
    log.warn(`${reason}; restarting in ${delay} ms`);
    this.setState('restarting', reason);
    this.restartTimer = setTimeout(() => {
      if (!this.disposed && !this.worker) this.start().catch(() => undefined);
    }, delay);
  }

  private async stopWorker(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.worker = undefined;
    const exited = new Promise<void>((resolve) => {
      if (worker.child.exitCode !== null || worker.child.signalCode !== null) resolve();
      else worker.child.once('exit', () => resolve());
    });
    try {
      await Promise.race([worker.connection.sendRequest('shutdown', {}), delay(1000)]);
    } catch {
      // already gone
    }
    const forced = setTimeout(() => worker.child.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(forced);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
