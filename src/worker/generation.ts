// One streaming request in the worker (complete, chat, bench): starts the native job when the queue says,
// passes each token's text through the stop strings and (chat) the reasoning splitter, coalesces what is
// ready into `stream` notifications, and sums up the result. The first output goes out at once; after it,
// at most one notification per STREAM_INTERVAL_MS (no screen shows text faster, and a fast model then does
// not cost an IPC message and a JSON round per token). All stream notifications are sent before start()
// resolves, so they reach the host before the response.
import { performance } from 'perf_hooks';
import type { StopReason, StreamPart } from '../shared/protocol';
import type { NativeGenerateResult, NativeJob } from './addon';
import type { QueuedJob } from './scheduler';
import { mergeParts as appendParts, ReasoningSplitter } from '../shared/reasoning';
import { StopMatcher } from './textStream';

const STREAM_INTERVAL_MS = 5;

export interface GenerationOptions {
  id: number;
  /** performance.now() when the request arrived: queue time and first-token time count from here. */
  receivedAt: number;
  stops: readonly string[];
  /** Chat with a reasoning model: output split into reasoning and answer parts. */
  splitter?: ReasoningSplitter;
  /** Send `stream` notifications (false: only the final result). */
  stream: boolean;
  /** Time limit once the job starts (ms, 0 or absent: none): then it stops with stopReason "timeLimit". */
  timeoutMs?: number;
  send(parts: StreamPart[], tokens: number): void;
  /** Starts the native generation; onChunk(token, text) for each token. */
  begin(onChunk: (token: number, text: string) => void): NativeJob;
}

export interface GenerationOutcome {
  /** Everything shown, merged by kind. */
  parts: StreamPart[];
  stopReason: StopReason;
  /** Tokens generated (the stop string's tokens included). */
  tokens: number;
  native?: NativeGenerateResult;
  queueMs: number;
  firstTokenMs: number;
  totalMs: number;
}

export class Generation implements QueuedJob<GenerationOutcome> {
  private job: NativeJob | undefined;
  private reason: StopReason | undefined;
  private readonly stop: StopMatcher;
  private readonly all: StreamPart[] = [];
  private pending: StreamPart[] = [];
  private pendingTokens = 0;
  private flushTimer: NodeJS.Timeout | undefined;
  private lastFlushAt = -Infinity;
  private tokens = 0;
  private startedAt = 0;
  private firstTokenAt = 0;

  constructor(private readonly opts: GenerationOptions) {
    this.stop = new StopMatcher(opts.stops);
  }

  get id(): number {
    return this.opts.id;
  }

  async start(): Promise<GenerationOutcome> {
    this.startedAt = performance.now();
    if (this.reason) return this.skipped();
    this.job = this.opts.begin((token, text) => this.onChunk(token, text));
    // job.cancel() stops the native loop within one decode step (or prefill chunk); the result keeps the output.
    const limit = this.opts.timeoutMs ? setTimeout(() => this.cancel('timeLimit'), this.opts.timeoutMs) : undefined;
    let native: NativeGenerateResult;
    try {
      native = await this.job.done;
    } finally {
      clearTimeout(limit);
      clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
    }
    this.emit(this.stop.flush(), 0);
    if (this.opts.splitter) this.add(this.opts.splitter.flush(), 0);
    this.flush();
    const stopReason: StopReason = this.stop.stopped
      ? 'stop'
      : native.stopReason === 'cancelled'
        ? (this.reason ?? 'cancelled')
        : native.stopReason;
    const end = performance.now();
    return {
      parts: this.all,
      stopReason,
      tokens: this.tokens,
      native,
      queueMs: this.startedAt - this.opts.receivedAt,
      firstTokenMs: this.firstTokenAt ? this.firstTokenAt - this.opts.receivedAt : 0,
      totalMs: end - this.opts.receivedAt,
    };
  }

  /** Stops the job (or keeps it from starting); reason "superseded" or "timeLimit" is reported as such. */
  cancel(reason: string): void {
    this.reason ??= reason === 'superseded' || reason === 'timeLimit' ? reason : 'cancelled';
    this.job?.cancel();
  }

  skipped(): GenerationOutcome {
    const now = performance.now();
    return {
      parts: [],
      stopReason: this.reason ?? 'cancelled',
      tokens: 0,
      queueMs: now - this.opts.receivedAt,
      firstTokenMs: 0,
      totalMs: now - this.opts.receivedAt,
    };
  }

  private onChunk(token: number, text: string): void {
    if (token >= 0) {
      this.tokens++;
      if (!this.firstTokenAt) this.firstTokenAt = performance.now();
    }
    if (this.stop.stopped) return;
    const visible = this.stop.push(text);
    if (this.stop.stopped) this.job?.cancel();
    this.emit(visible, token >= 0 ? 1 : 0);
  }

  private emit(text: string, tokens: number): void {
    const parts: StreamPart[] = this.opts.splitter
      ? this.opts.splitter.push(text, tokens)
      : text
        ? [{ kind: 'text', text }]
        : [];
    this.add(parts, tokens);
  }

  private add(parts: StreamPart[], tokens: number): void {
    appendParts(this.all, parts);
    if (!this.opts.stream) return;
    appendParts(this.pending, parts);
    this.pendingTokens += tokens;
    if (!this.flushTimer && (this.pending.length > 0 || this.pendingTokens > 0)) {
      const wait = Math.max(0, this.lastFlushAt + STREAM_INTERVAL_MS - performance.now());
      this.flushTimer = setTimeout(() => {
        this.flushTimer = undefined;
        this.flush();
      }, wait);
    }
  }

  private flush(): void {
    if (!this.opts.stream || (this.pending.length === 0 && this.pendingTokens === 0)) return;
    const parts = this.pending;
    const tokens = this.pendingTokens;
    this.pending = [];
    this.pendingTokens = 0;
    this.lastFlushAt = performance.now();
    this.opts.send(parts, tokens);
  }
}
