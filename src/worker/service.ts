// What the runtime worker does for each protocol method: holds the settings, the model, the mirrored
// documents and their sessions, and queues generations. No transport here (main.ts carries it), so the
// service can be driven in-process too. Nothing here computes on the JS thread: model load and generation
// run in the addon on native threads, and their results come back as promises and callbacks.
import * as fs from 'fs';
import { performance } from 'perf_hooks';
import {
  ChatResult,
  CompleteResult,
  ErrorCode,
  GenerationStats,
  InitializeParams,
  LOG_LEVELS,
  LogLevel,
  MemoryReport,
  Method,
  ModelInfo,
  NativeSystemInfo,
  Notification,
  NotificationMap,
  RequestMap,
  RuntimeInfo,
  StreamPart,
} from '../shared/protocol';
import { isInputError, loadAddon, NativeAddon, NativeModel, NativeSession } from './addon';
import { DocumentError, DocumentStore } from './documents';
import { Generation, GenerationOutcome } from './generation';
import { JobQueue } from './scheduler';
import { ReasoningSplitter } from '../shared/reasoning';

/** An error reply with a protocol error code (main.ts turns it into a JSON-RPC ResponseError). */
export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'RpcError';
  }
}

export interface WorkerHost {
  notify<N extends Notification>(method: N, params: NotificationMap[N]): void;
  /** Ends the process (after the reply to `shutdown` went out). */
  exit(code: number): void;
}

type Handlers = {
  [M in Method]: (params: RequestMap[M]['params']) => Promise<RequestMap[M]['result']> | RequestMap[M]['result'];
};

interface ModelSlot {
  path: string;
  loading?: Promise<NativeModel>;
  native?: NativeModel;
  info?: ModelInfo;
  error?: string;
}

interface SessionEntry {
  session: NativeSession;
  stats?: { tokens: number; checkpoints: number; checkpointBytes: number; kvBytes: number };
}

/** Document sessions held at once (each holds KV caches for the context); least recently used go first. */
// Open documents with a live model session. Their memory (checkpoints + KV rows, which grow with the
// document) is bounded across all of them by the state budget, enforced natively: least recently used
// sessions lose their checkpoints first, then themselves.
const MAX_SESSIONS = 16;
const MEMORY_REPORT_MS = 10_000;

export class WorkerService {
  private addon: NativeAddon | undefined;
  private settings: InitializeParams | undefined;
  private model: ModelSlot | undefined;
  readonly documents = new DocumentStore();
  private readonly sessions = new Map<string, SessionEntry>();
  private readonly queue = new JobQueue();
  private readonly activeByDoc = new Map<string, number>();
  /** Ids of streaming requests from arrival to answer; `cancelled`: those cancelled before they were queued. */
  private readonly activeIds = new Set<number>();
  private readonly cancelledEarly = new Set<number>();
  private readonly startedAt = Date.now();
  private memoryTimer: NodeJS.Timeout | undefined;
  private lastMemoryReport = 0;

  constructor(
    private readonly host: WorkerHost,
    readonly addonPath: string,
    private readonly loadNativeAddon: (path: string) => NativeAddon = loadAddon,
  ) {}

  log(level: LogLevel, message: string): void {
    const min = this.settings?.logLevel ?? 'info';
    if (LOG_LEVELS.indexOf(level) < LOG_LEVELS.indexOf(min)) return;
    this.host.notify('log', { level, message });
  }

  readonly handlers: Handlers = {
    initialize: (params) => {
      this.settings = params;
      if (!this.addon) {
        const t0 = performance.now();
        this.addon = this.loadNativeAddon(this.addonPath);
        this.log('info', `native addon ${this.addon.version()} loaded from ${this.addonPath} in ${ms(performance.now() - t0)}`);
      }
      const info = this.runtimeInfo();
      this.log('info', `device: ${info.device.using} (${info.device.reason})`);
      if (info.model.status === 'missing') this.log('warn', `model file not found: ${info.model.path}`);
      return info;
    },
    loadModel: (params) => this.loadModel(params.path, params.progressId),
    info: () => this.runtimeInfo(),
    ping: (params) => ({ seq: params.seq, pid: process.pid }),
    openDocument: (params) => {
      const doc = this.documents.open(params);
      this.log('trace', `open ${doc.uri} v${doc.version} (${doc.languageId}, ${doc.text.length} characters)`);
      return { uri: doc.uri, version: doc.version, length: doc.text.length };
    },
    editDocument: (params) => {
      const doc = this.guardDocument(() => this.documents.edit(params));
      return { uri: doc.uri, version: doc.version, length: doc.text.length };
    },
    closeDocument: (params) => {
      const closed = this.documents.close(params.uri);
      const active = this.activeByDoc.get(params.uri);
      if (active !== undefined) this.queue.cancel(active, 'cancelled');
      const entry = this.sessions.get(params.uri);
      if (entry) {
        entry.session.dispose();
        this.sessions.delete(params.uri);
      }
      if (closed) this.log('trace', `close ${params.uri}`);
      return { uri: params.uri, closed };
    },
    complete: (params) => this.withId(params.id, () => this.complete(params)),
    chat: (params) => this.withId(params.id, () => this.chat(params)),
    cancel: (params) => {
      if (this.queue.cancel(params.id, 'cancelled')) return { id: params.id, found: true };
      // Arrived but not queued yet (waiting for the model to load): it will not run.
      if (!this.activeIds.has(params.id)) return { id: params.id, found: false };
      this.cancelledEarly.add(params.id);
      return { id: params.id, found: true };
    },
    bench: (params) => this.withId(params.id, () => this.bench(params)),
    tokenize: (params) => this.tokenize(params),
    shutdown: () => {
      this.queue.cancelAll('cancelled');
      setImmediate(() => this.host.exit(0));
      return null;
    },
  };

  // ---- model ----

  private async loadModel(path: string, progressId: number | undefined): Promise<ModelInfo> {
    const addon = this.requireAddon();
    if (this.model?.path === path && (this.model.native || this.model.loading)) {
      await this.requireModel();
      return this.model.info as ModelInfo;
    }
    this.unloadModel();
    const slot: ModelSlot = { path };
    this.model = slot;
    const t0 = performance.now();
    let lastProgress = 0;
    let lastStage = '';
    this.log('info', `loading model ${path}`);
    const stateBudgetBytes = (this.settings?.stateMemoryBudgetMB ?? 2048) * 1024 * 1024;
    const device = this.settings?.device ?? 'auto';
    slot.loading = addon.loadModel(path, { threads: this.settings?.threads ?? 0, stateBudgetBytes, device }, (stage, done, total) => {
      if (progressId === undefined) return;
      const now = performance.now();
      if (stage === lastStage && now - lastProgress < 50 && done < total) return;
      lastStage = stage;
      lastProgress = now;
      const message = stage === 'read' ? `reading weights ${Math.round((100 * done) / Math.max(total, 1))}%` : stage;
      this.host.notify('progress', { id: progressId, stage, done, total, message });
    });
    try {
      slot.native = await slot.loading;
    } catch (e) {
      slot.error = (e as Error).message;
      slot.loading = undefined;
      this.log('error', `model load failed: ${slot.error}`);
      if (this.model !== slot) throw new RpcError(ErrorCode.NoModel, `the load of ${path} was superseded`);
      throw new RpcError(isInputError(e) ? ErrorCode.BadInput : ErrorCode.Internal, slot.error);
    }
    slot.loading = undefined;
    if (this.model !== slot) {
      slot.native.dispose();
      throw new RpcError(ErrorCode.NoModel, `the load of ${path} was superseded by another model`);
    }
    slot.info = JSON.parse(slot.native.info()) as ModelInfo;
    const i = slot.info;
    const tok = i.tokenizer.present ? `${i.tokenizer.size} tokens (${i.tokenizer.pre})` : `no tokenizer (${i.tokenizer.error})`;
    this.log(
      'info',
      `model loaded in ${ms(performance.now() - t0)}: ${i.name ?? path}, ${i.architecture} ${i.hparams.pattern} ` +
        `(${i.hparams.mamba2Layers} Mamba-2, ${i.hparams.attentionLayers} attention, ${i.hparams.mlpLayers} MLP), ` +
        `${mib(i.weightBytes)} of weights, context ${i.hparams.contextLength}, ${tok}, ` +
        (i.device.using === 'cuda' ? `on ${i.device.name}` : `${i.threads} threads`),
    );
    this.log(i.device.requested !== 'cpu' && i.device.using === 'cpu' ? 'warn' : 'info', `device: ${i.device.using} (${i.device.reason})`);
    this.reportMemory(true);
    this.memoryTimer ??= setInterval(() => this.reportMemory(true), MEMORY_REPORT_MS).unref();
    return i;
  }

  private unloadModel(): void {
    if (!this.model) return;
    this.queue.cancelAll('cancelled');
    for (const e of this.sessions.values()) e.session.dispose();
    this.sessions.clear();
    this.model.native?.dispose();
    this.model = undefined;
  }

  private async requireModel(): Promise<{ native: NativeModel; info: ModelInfo }> {
    const slot = this.model;
    if (slot?.loading) {
      try {
        await slot.loading;
      } catch {
        // reported below
      }
    }
    if (slot && slot === this.model && slot.native && slot.info) return { native: slot.native, info: slot.info };
    if (slot?.error) throw new RpcError(ErrorCode.NoModel, `no model is loaded: ${slot.error}`);
    throw new RpcError(ErrorCode.NoModel, 'no model is loaded: set hybridCopilot.modelPath to a GGUF file');
  }

  private requireAddon(): NativeAddon {
    if (!this.addon || !this.settings) throw new RpcError(ErrorCode.NotInitialized, 'the worker is not initialized');
    return this.addon;
  }

  /** Context of document sessions and chats: the setting, but no more than the model was trained for. */
  private contextLength(info: ModelInfo): number {
    return Math.max(16, Math.min(this.settings?.contextLength ?? 4096, info.hparams.contextLength || Infinity));
  }

  private session(uri: string, native: NativeModel, info: ModelInfo): SessionEntry {
    let entry = this.sessions.get(uri);
    if (entry) {
      this.sessions.delete(uri); // re-inserted last: the Map's order is the LRU order
    } else {
      const budgetMB = this.settings?.stateMemoryBudgetMB ?? 2048;
      entry = {
        session: native.createSession({
          contextLength: this.contextLength(info),
          checkpointBudgetBytes: Math.floor(budgetMB * 1024 * 1024),
        }),
      };
    }
    this.sessions.set(uri, entry);
    while (this.sessions.size > MAX_SESSIONS) {
      const [oldest, e] = this.sessions.entries().next().value as [string, SessionEntry];
      e.session.dispose();
      this.sessions.delete(oldest);
      this.log('debug', `session of ${oldest} released (more than ${MAX_SESSIONS} documents in use)`);
    }
    return entry;
  }

  // ---- generation ----

  private async complete(p: RequestMap['complete']['params']): Promise<CompleteResult> {
    const receivedAt = performance.now();
    const { native, info } = await this.requireModel();
    const doc = this.guardDocument(() => this.documents.require(p.uri, p.version));
    if (p.offset > doc.text.length) {
      throw new RpcError(ErrorCode.InvalidParams, `complete: offset ${p.offset} is past the end of ${p.uri} (${doc.text.length} characters)`);
    }
    // A newer completion for the same document makes the older one pointless.
    const previous = this.activeByDoc.get(p.uri);
    if (previous !== undefined) this.queue.cancel(previous, 'superseded');
    this.activeByDoc.set(p.uri, p.id);

    const ctx = this.contextLength(info);
    // The prompt's window over a long document starts at coarse steps so that consecutive requests share
    // a prefix the session keeps (a moved start changes every position and costs a full re-read).
    const charCap = ctx * 8;
    const charAlign = ctx * 2;
    const start = p.offset > charCap ? Math.floor((p.offset - charCap) / charAlign) * charAlign : 0;
    const prefix = doc.text.slice(start, p.offset);
    const suffixTokens = p.suffixTokens ?? 256;
    const suffix = doc.text.slice(p.offset, p.offset + suffixTokens * 8);
    const t = info.tokenizer;
    const fim = t.present && t.fimPrefix !== null && t.fimSuffix !== null && t.fimMiddle !== null ? t : undefined;
    let entry: SessionEntry | undefined;
    const staleFrom = doc.staleFrom;
    doc.staleFrom = -1;
    const generation = new Generation({
      id: p.id,
      receivedAt,
      stops: p.stop ?? [],
      stream: true,
      timeoutMs: this.timeLimit(p.timeoutMs),
      send: (parts, tokens) => this.host.notify('stream', { id: p.id, parts, tokens }),
      begin: (onChunk) => {
        // Taken when the job starts, not when it is queued: the LRU may release sessions meanwhile.
        entry = this.session(p.uri, native, info);
        return native.generate(
          {
            // [<fim_prefix>] header document-prefix: the header is stable, never truncated (keep head)
            prompt: [
              ...(fim ? [{ token: fim.fimPrefix as number }] : []),
              ...(p.header ? [{ text: p.header, keep: 'head' as const, maxTokens: 128 }] : []),
              { text: prefix, document: true },
            ],
            continuation: fim
              ? [
                  { token: fim.fimSuffix as number },
                  { text: suffix, keep: 'head', maxTokens: suffixTokens },
                  { token: fim.fimMiddle as number },
                ]
              : [],
            session: entry.session,
            maxTokens: p.maxTokens,
            truncateAlign: Math.max(256, Math.floor(ctx / 4)),
            pinTail: 4,
            sampling: { temperature: 0, ...p.sampling },
          },
          onChunk,
        );
      },
    });
    try {
      const out = await this.run(generation);
      if (out.native && entry) {
        entry.stats = {
          tokens: out.native.sessionTokens,
          checkpoints: out.native.checkpoints,
          checkpointBytes: out.native.checkpointBytes,
          kvBytes: out.native.kvBytes,
        };
      }
      const stats = this.stats(out);
      this.logTimeLimit('complete', p.id, out, p.timeoutMs);
      this.log(
        'info',
        `complete #${p.id} ${p.uri} v${p.version} @${p.offset}${staleFrom >= 0 ? ` (changed from ${staleFrom})` : ''}: ` +
          describe(stats, out.stopReason),
      );
      return { id: p.id, text: joinParts(out.parts), stopReason: out.stopReason, stats };
    } finally {
      if (this.activeByDoc.get(p.uri) === p.id) this.activeByDoc.delete(p.uri);
    }
  }

  private async chat(p: RequestMap['chat']['params']): Promise<ChatResult> {
    const receivedAt = performance.now();
    const { native, info } = await this.requireModel();
    const th = p.thinking;
    const splitter = new ReasoningSplitter(th ?? { open: '<think>', close: '</think>', startsInside: false });
    const generation = new Generation({
      id: p.id,
      receivedAt,
      stops: p.stop ?? [],
      splitter,
      stream: true,
      timeoutMs: this.timeLimit(p.timeoutMs),
      send: (parts, tokens) => this.host.notify('stream', { id: p.id, parts, tokens }),
      begin: (onChunk) =>
        native.generate(
          {
            // Kept whole: a conversation over the context is refused ("the prompt needs N tokens, more than
            // the M left in a context of C after K tokens to generate"), never cut silently (its start holds
            // the system prompt and the template's turn markers). The caller drops turns and asks again.
            prompt: [{ text: p.prompt, parseSpecial: true, keep: 'head' }],
            addBos: p.addBos ?? true,
            maxTokens: p.maxTokens,
            contextLength: this.contextLength(info),
            sampling: { temperature: 0, ...p.sampling },
            renderSpecial: true,
            reasoning: th && th.budget > 0 ? { budget: th.budget, close: th.close, inject: th.inject ?? `${th.close}\n` } : undefined,
          },
          onChunk,
        ),
    });
    const out = await this.run(generation);
    const stats = this.stats(out);
    this.logTimeLimit('chat', p.id, out, p.timeoutMs);
    this.log(
      'info',
      `chat #${p.id}: ${describe(stats, out.stopReason)}; reasoning ${splitter.tokens.reasoning} tokens, answer ${splitter.tokens.answer}` +
        (out.native?.injectedTokens ? `; thinking budget reached, ${out.native.injectedTokens} tokens injected` : ''),
    );
    return {
      id: p.id,
      reasoning: joinParts(out.parts, 'reasoning'),
      answer: joinParts(out.parts, 'answer'),
      reasoningTokens: splitter.tokens.reasoning,
      answerTokens: splitter.tokens.answer,
      budgetReached: (out.native?.injectedTokens ?? 0) > 0,
      stopReason: out.stopReason,
      stats,
    };
  }

  private async bench(p: RequestMap['bench']['params']): Promise<RequestMap['bench']['result']> {
    const receivedAt = performance.now();
    const { native, info } = await this.requireModel();
    // The prompt `hybrid bench` reads: token ids spread over the vocabulary.
    const tokens = new Int32Array(p.promptTokens);
    for (let i = 0; i < tokens.length; i++) tokens[i] = (i * 7919 + 13) % info.hparams.vocabSize;
    const generation = new Generation({
      id: p.id,
      receivedAt,
      stops: [],
      stream: p.stream,
      timeoutMs: this.timeLimit(undefined),
      send: (parts, n) => this.host.notify('stream', { id: p.id, parts, tokens: n }),
      begin: (onChunk) =>
        native.generate(
          {
            prompt: [{ tokens }],
            addBos: false,
            maxTokens: p.genTokens,
            contextLength: p.promptTokens + p.genTokens + 1,
            stopAtEog: false,
            sampling: { temperature: 0 },
          },
          onChunk,
        ),
    });
    const out = await this.run(generation);
    this.logTimeLimit('bench', p.id, out, undefined);
    const n = out.native;
    const prefillMs = n?.prefillMs ?? 0;
    const decodeMs = n?.decodeMs ?? 0;
    const result = {
      id: p.id,
      promptTokens: n?.promptTokens ?? 0,
      genTokens: n?.generatedTokens ?? 0,
      prefillMs,
      decodeMs,
      prefillTps: prefillMs > 0 ? (1000 * (n?.promptTokens ?? 0)) / prefillMs : 0,
      decodeTps: decodeMs > 0 ? (1000 * (n?.generatedTokens ?? 0)) / decodeMs : 0,
      threads: info.threads,
    };
    this.log('info', `bench #${p.id}: prefill ${result.prefillTps.toFixed(1)} tok/s, decode ${result.decodeTps.toFixed(1)} tok/s, ${info.threads} threads`);
    return result;
  }

  /** A request's time limit: the shorter of its own and the worker's (0: none). */
  private timeLimit(own: number | undefined): number {
    const all = [own ?? 0, this.settings?.requestTimeoutMs ?? 0].filter((x) => x > 0);
    return all.length ? Math.min(...all) : 0;
  }

  private logTimeLimit(what: string, id: number, out: GenerationOutcome, own: number | undefined): void {
    if (out.stopReason !== 'timeLimit') return;
    const limit = this.timeLimit(own);
    const source = own && own === limit ? 'its own timeoutMs' : 'hybridCopilot.requestTimeoutSeconds';
    this.log(
      'warn',
      `${what} #${id} stopped after ${ms(out.totalMs - out.queueMs)}: the request time limit of ${limit / 1000} s (${source}); ` +
        `${out.tokens} tokens were generated, and the output so far is kept`,
    );
  }

  /** Exact token counts with the loaded model's tokenizer (synchronous: the protocol caps the text's size). */
  private async tokenize(p: RequestMap['tokenize']['params']): Promise<RequestMap['tokenize']['result']> {
    const { native } = await this.requireModel();
    let ids: Int32Array;
    try {
      ids = native.tokenize(p.text, { addSpecial: false, parseSpecial: p.parseSpecial ?? false });
    } catch (e) {
      if (isInputError(e)) throw new RpcError(ErrorCode.BadInput, (e as Error).message);
      throw e;
    }
    return p.ids ? { count: ids.length, ids: Array.from(ids) } : { count: ids.length };
  }

  /** Holds a streaming request's id from its arrival to its answer (ids must be unique while in use). */
  private async withId<R>(id: number, fn: () => Promise<R>): Promise<R> {
    if (this.activeIds.has(id)) throw new RpcError(ErrorCode.InvalidParams, `request id ${id} is already in use by a running request`);
    this.activeIds.add(id);
    try {
      return await fn();
    } finally {
      this.activeIds.delete(id);
      this.cancelledEarly.delete(id);
    }
  }

  private async run(g: Generation): Promise<GenerationOutcome> {
    if (this.cancelledEarly.has(g.id)) g.cancel('cancelled');
    try {
      return await this.queue.add(g);
    } catch (e) {
      if (isInputError(e)) throw new RpcError(ErrorCode.BadInput, (e as Error).message);
      throw e;
    } finally {
      this.reportMemory(false);
    }
  }

  private stats(out: GenerationOutcome): GenerationStats {
    const n = out.native;
    return {
      promptTokens: n?.promptTokens ?? 0,
      truncatedTokens: n?.truncatedTokens ?? 0,
      generatedTokens: out.tokens,
      keptTokens: n?.keptTokens ?? 0,
      rereadTokens: n?.rereadTokens ?? 0,
      readTokens: n?.readTokens ?? 0,
      queueMs: out.queueMs,
      prefillMs: n?.prefillMs ?? 0,
      decodeMs: n?.decodeMs ?? 0,
      firstTokenMs: out.firstTokenMs,
      totalMs: out.totalMs,
    };
  }

  private guardDocument<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (e instanceof DocumentError) {
        throw new RpcError(e.kind === 'notOpen' ? ErrorCode.DocumentNotOpen : ErrorCode.DocumentOutOfSync, e.message);
      }
      throw e;
    }
  }

  // ---- reports ----

  private memory(): MemoryReport {
    const m = process.memoryUsage();
    let sessionBytes = 0;
    for (const e of this.sessions.values()) if (e.stats) sessionBytes += e.stats.kvBytes + e.stats.checkpointBytes;
    return {
      rssBytes: m.rss,
      heapUsedBytes: m.heapUsed,
      externalBytes: m.external,
      modelBytes: this.model?.info?.fileSize ?? 0,
      sessions: this.sessions.size,
      sessionBytes,
      documents: this.documents.size,
      documentChars: this.documents.totalChars,
    };
  }

  private reportMemory(force: boolean): void {
    const now = Date.now();
    if (!force && now - this.lastMemoryReport < 1000) return;
    this.lastMemoryReport = now;
    this.host.notify('memory', this.memory());
  }

  runtimeInfo(): RuntimeInfo {
    const addon = this.requireAddon();
    const settings = this.settings as InitializeParams;
    const system = JSON.parse(addon.systemInfo()) as NativeSystemInfo;
    const cudaUsable = system.cuda.devices.length > 0;
    // A loaded model says where it runs (the addon chose: CUDA device 0 when the setting allows and the
    // weights fit, else the CPU, with the reason); before a load, where the next one will go.
    const loaded = this.model?.info?.device;
    let using: 'cpu' | 'cuda' = 'cpu';
    let reason: string;
    if (loaded) {
      using = loaded.using;
      reason = loaded.reason;
    } else if (settings.device === 'cpu') {
      reason = 'the device setting is "cpu"';
    } else if (cudaUsable) {
      reason = `CUDA device 0 (${system.cuda.devices[0].name}) is usable: a model loads there when its weights fit`;
    } else {
      reason = `falling back to the CPU: ${system.cuda.status}`;
    }
    const modelPath = this.model?.path ?? settings.modelPath ?? '';
    let model: RuntimeInfo['model'] = { path: modelPath, status: 'none', load: { state: 'none' } };
    if (modelPath) {
      try {
        model = { ...model, status: 'found', sizeBytes: fs.statSync(modelPath).size };
      } catch {
        model = { ...model, status: 'missing' };
      }
    }
    const slot = this.model;
    if (slot?.loading) model.load = { state: 'loading', path: slot.path };
    else if (slot?.info) model.load = { state: 'loaded', info: slot.info };
    else if (slot?.error) model.load = { state: 'failed', path: slot.path, error: slot.error };
    return {
      addonVersion: addon.version(),
      addonPath: this.addonPath,
      system,
      cpu: system.cpu,
      cuda: system.cuda,
      device: { requested: settings.device, using, reason },
      model,
      worker: {
        pid: process.pid,
        node: process.version,
        uptimeMs: Date.now() - this.startedAt,
        rssBytes: process.memoryUsage().rss,
      },
      documents: this.documents.all().map((d) => {
        const s = this.documents.summary(d);
        const stats = this.sessions.get(d.uri)?.stats;
        return stats ? { ...s, session: stats } : s;
      }),
      jobs: this.queue.stats,
    };
  }
}

function joinParts(parts: readonly StreamPart[], kind?: StreamPart['kind']): string {
  return parts
    .filter((p) => kind === undefined || p.kind === kind)
    .map((p) => p.text)
    .join('');
}

function ms(x: number): string {
  return `${x < 10 ? x.toFixed(2) : Math.round(x)} ms`;
}

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

function describe(s: GenerationStats, stop: string): string {
  const tps = s.decodeMs > 0 ? ` (${((1000 * s.generatedTokens) / s.decodeMs).toFixed(1)} tok/s)` : '';
  return (
    `prompt ${s.promptTokens} tokens (kept ${s.keptTokens}, re-read ${s.rereadTokens}, read ${s.readTokens}` +
    `${s.truncatedTokens ? `, ${s.truncatedTokens} left out` : ''}), queued ${ms(s.queueMs)}, prefill ${ms(s.prefillMs)}, ` +
    `${s.generatedTokens} tokens in ${ms(s.decodeMs)}${tps}, first token ${ms(s.firstTokenMs)}, total ${ms(s.totalMs)}, stop: ${stop}`
  );
}
