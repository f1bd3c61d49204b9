// The client of an OpenAI-compatible endpoint (vLLM, SGLang, llama-server, `hybrid serve`): streamed chat
// and text completions over SSE, the model list, and every failure as a RemoteError with a sentence for the
// user. Timeouts: `timeoutMs` for the response headers and then for each gap between bytes of a stream (a
// long answer that keeps streaming never times out). 429: the Retry-After is honoured once (capped), a
// second 429 is reported. A stream that ends before its end ([DONE] or a finish_reason) keeps what arrived
// and fails with kind "cut" (RemoteError.partial holds it). No vscode import: tested against real servers.
import { performance } from 'perf_hooks';
import type { CancellationLike } from '../runtime/client';
import type { ChatResult, CompleteResult, GenerationStats, StreamPart } from '../shared/protocol';
import { NEMOTRON_THINK_TAGS, ReasoningSplitter } from '../shared/reasoning';
import { ChunkUsage, MalformedChunkError, readChunk, stopReasonOf } from './chunks';
import { SseParser } from './sse';

export type RemoteErrorKind = 'unreachable' | 'auth' | 'rateLimited' | 'timeout' | 'cut' | 'malformed' | 'http' | 'config';

export class RemoteError extends Error {
  constructor(
    message: string,
    readonly kind: RemoteErrorKind,
    readonly status?: number,
    /** What a cut stream had delivered. */
    readonly partial?: { reasoning: string; answer: string },
  ) {
    super(message);
    this.name = 'RemoteError';
  }
}

export interface RemoteOptions {
  /** Base URL, e.g. http://gpu-box:8000/v1 (a missing /v1 is added). */
  endpoint: string;
  /** The served model's id; empty: the first of /v1/models. */
  model?: string;
  apiKey?: () => Promise<string | undefined> | string | undefined;
  /** Response headers, and each silence within a stream, at most this long. */
  timeoutMs: number;
  /** Longest Retry-After honoured, ms (default 30 s); longer ones are reported at once. */
  maxRetryAfterMs?: number;
  /** Extra request headers. */
  headers?: Record<string, string>;
}

export interface RemoteModel {
  id: string;
  ownedBy?: string;
  /** vLLM: max_model_len; llama-server: meta.n_ctx_train; hybrid serve: context_length. */
  contextLength?: number;
}

export interface RemoteMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface RemoteChatRequest {
  messages: RemoteMessage[];
  maxTokens: number;
  temperature?: number;
  stop?: string[];
  /** Sent as chat_template_kwargs {enable_thinking, thinking} (Nemotron Nano 2 / Qwen3 / Granite templates). */
  thinking?: boolean;
}

export interface RemoteCompletionRequest {
  prompt: string;
  /** Sent as the OpenAI `suffix` field (servers that build the FIM prompt themselves). */
  suffix?: string;
  maxTokens: number;
  temperature?: number;
  stop?: string[];
}

/** Normalises an endpoint to its /v1 base without a trailing slash. */
export function baseUrl(endpoint: string): string {
  let u: URL;
  try {
    u = new URL(endpoint.trim());
  } catch {
    throw new RemoteError(`the remote endpoint "${endpoint}" is not a URL (set hybridCopilot.remote.endpoint, e.g. http://127.0.0.1:8000/v1)`, 'config');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new RemoteError(`the remote endpoint must be http(s): ${endpoint}`, 'config');
  let p = u.pathname.replace(/\/+$/, '');
  if (!/\/v1$/.test(p)) p += '/v1';
  return `${u.origin}${p}`;
}

/** Retry-After: seconds or an HTTP date; ms from now, or undefined. */
export function retryAfterMs(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

const emptyStats = (): GenerationStats => ({
  promptTokens: 0,
  truncatedTokens: 0,
  generatedTokens: 0,
  keptTokens: 0,
  rereadTokens: 0,
  readTokens: 0,
  queueMs: 0,
  prefillMs: 0,
  decodeMs: 0,
  firstTokenMs: 0,
  totalMs: 0,
});

export class RemoteClient {
  private readonly base: string;
  private resolvedModel: string | undefined;
  /** Milliseconds to the response headers of the last request that got any (the endpoint's latency). */
  lastLatencyMs: number | undefined;
  lastError: RemoteError | undefined;
  /** Models whose answers were seen to start inside a trace the prompt opened (an orphan close tag). */
  private readonly opensTraceInPrompt = new Set<string>();

  constructor(private readonly options: RemoteOptions) {
    this.base = baseUrl(options.endpoint);
  }

  get endpoint(): string {
    return this.base;
  }

  /** GET /v1/models. */
  async models(token?: CancellationLike): Promise<RemoteModel[]> {
    const res = await this.send('GET', '/models', undefined, token);
    const json = (await this.bodyJson(res)) as { data?: unknown };
    if (!json || !Array.isArray(json.data)) throw new RemoteError(`${this.base}/models did not answer a model list`, 'malformed');
    return json.data
      .filter((m): m is Record<string, unknown> => typeof m === 'object' && m !== null && typeof (m as { id?: unknown }).id === 'string')
      .map((m) => {
        const meta = (m.meta ?? {}) as Record<string, unknown>;
        const ctx = [m.max_model_len, m.context_length, meta.n_ctx, meta.n_ctx_train].find((v) => typeof v === 'number' && v > 0) as number | undefined;
        return { id: m.id as string, ownedBy: typeof m.owned_by === 'string' ? m.owned_by : undefined, contextLength: ctx };
      });
  }

  /** The model to ask for: the setting, else the first the endpoint lists. */
  async model(token?: CancellationLike): Promise<string> {
    if (this.options.model) return this.options.model;
    if (this.resolvedModel) return this.resolvedModel;
    const list = await this.models(token);
    if (list.length === 0) throw new RemoteError(`${this.base} serves no model`, 'config');
    this.resolvedModel = list[0].id;
    return this.resolvedModel;
  }

  /** A streamed chat completion: reasoning from reasoning_content / reasoning, or from think tags in the text. */
  async chat(req: RemoteChatRequest, onParts: (parts: StreamPart[], tokens: number) => void, token?: CancellationLike): Promise<ChatResult> {
    const model = await this.model(token);
    const body: Record<string, unknown> = {
      model,
      messages: req.messages,
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: req.maxTokens,
      temperature: req.temperature ?? 0,
    };
    if (req.stop?.length) body.stop = req.stop;
    if (req.thinking !== undefined) body.chat_template_kwargs = { enable_thinking: req.thinking, thinking: req.thinking };
    // Think tags in the text (llama-server without --reasoning-format, servers without a reasoning parser). A
    // template that opens the trace in the prompt (Nemotron Nano 2: "<think>\n") leaves only the close tag in
    // the text: once seen for a model, its later answers start inside the trace.
    const startsInside = req.thinking !== false && this.opensTraceInPrompt.has(model);
    const splitter = new ReasoningSplitter({ ...NEMOTRON_THINK_TAGS, startsInside });
    let reasoning = '';
    let answer = '';
    let fieldReasoning = false;
    const emit = (parts: StreamPart[], tokens: number) => {
      for (const p of parts) {
        if (p.kind === 'reasoning') reasoning += p.text;
        else answer += p.text;
      }
      if (parts.length) onParts(parts, tokens);
    };
    const out = await this.stream('/chat/completions', body, 'chat', token, (v) => {
      const parts: StreamPart[] = [];
      if (v.reasoning) {
        fieldReasoning = true;
        parts.push({ kind: 'reasoning', text: v.reasoning });
      }
      if (v.content) {
        if (fieldReasoning) parts.push({ kind: 'answer', text: v.content });
        else parts.push(...splitter.push(v.content));
      }
      emit(parts, v.reasoning || v.content ? 1 : 0);
    }, () => ({ reasoning, answer }));
    emit(splitter.flush(), 0);
    const orphan = !fieldReasoning && !startsInside && reasoning === '' ? answer.indexOf(NEMOTRON_THINK_TAGS.close) : -1;
    if (orphan >= 0) {
      // This answer streamed as text; the result and the next answers split it.
      this.opensTraceInPrompt.add(model);
      reasoning = answer.slice(0, orphan);
      answer = answer.slice(orphan + NEMOTRON_THINK_TAGS.close.length);
    }
    const completion = out.usage?.completionTokens;
    const reasoningTokens = out.usage?.reasoningTokens ?? (completion !== undefined && reasoning ? Math.round((completion * reasoning.length) / Math.max(1, reasoning.length + answer.length)) : out.reasoningChunks);
    return {
      id: 0,
      reasoning,
      answer,
      reasoningTokens,
      answerTokens: completion !== undefined ? Math.max(0, completion - reasoningTokens) : out.chunks - out.reasoningChunks,
      stopReason: out.cancelled ? 'cancelled' : stopReasonOf(out.finishReason),
      stats: out.stats,
    };
  }

  /** A streamed text completion (/v1/completions). */
  async complete(req: RemoteCompletionRequest, onText: (text: string) => void, token?: CancellationLike): Promise<CompleteResult> {
    const model = await this.model(token);
    const body: Record<string, unknown> = {
      model,
      prompt: req.prompt,
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: req.maxTokens,
      temperature: req.temperature ?? 0,
    };
    if (req.suffix !== undefined) body.suffix = req.suffix;
    if (req.stop?.length) body.stop = req.stop.slice(0, 4); // OpenAI allows 4 stop strings
    let text = '';
    const out = await this.stream('/completions', body, 'completion', token, (v) => {
      if (v.content) {
        text += v.content;
        onText(v.content);
      }
    }, () => ({ reasoning: '', answer: text }));
    return { id: 0, text, stopReason: out.cancelled ? 'cancelled' : stopReasonOf(out.finishReason), stats: out.stats };
  }

  // ---- transport ----

  private async headers(json: boolean): Promise<Record<string, string>> {
    const h: Record<string, string> = { accept: json ? 'application/json' : 'text/event-stream', ...this.options.headers };
    if (json) h['content-type'] = 'application/json';
    const key = await this.options.apiKey?.();
    if (key) h.authorization = `Bearer ${key}`;
    return h;
  }

  /**
   * One request with the header timeout, cancellation and one honoured 429. Resolves with a 2xx response
   * whose body is still to read; `abort` then stops it.
   */
  private async send(
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    token?: CancellationLike,
    abort = new AbortController(),
  ): Promise<Response> {
    const url = this.base + path;
    for (let attempt = 0; ; attempt++) {
      if (token?.isCancellationRequested) throw new RemoteError('the request was cancelled', 'http');
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        abort.abort();
      }, this.options.timeoutMs);
      const sub = token?.onCancellationRequested(() => abort.abort());
      const t0 = performance.now();
      let res: Response;
      try {
        res = await fetch(url, {
          method,
          headers: await this.headers(method === 'GET'),
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: abort.signal,
        });
      } catch (e) {
        if (timedOut) throw this.fail(new RemoteError(`${url} did not answer within ${this.options.timeoutMs} ms (hybridCopilot.remote.timeoutMs)`, 'timeout'));
        if (token?.isCancellationRequested) throw new RemoteError('the request was cancelled', 'http');
        const cause = (e as { cause?: { code?: string; message?: string } }).cause;
        throw this.fail(new RemoteError(`the remote endpoint ${this.base} is unreachable (${cause?.code ?? cause?.message ?? (e as Error).message})`, 'unreachable'));
      } finally {
        clearTimeout(timer);
        sub?.dispose();
      }
      this.lastLatencyMs = performance.now() - t0;
      if (res.ok) {
        this.lastError = undefined;
        return res;
      }
      const detail = await this.errorDetail(res);
      if (res.status === 401 || res.status === 403) {
        throw this.fail(
          new RemoteError(
            `the remote endpoint refused the API key (${res.status}${detail ? `: ${detail}` : ''}); set it with "Hybrid Copilot: Set Remote API Key"`,
            'auth',
            res.status,
          ),
        );
      }
      if (res.status === 429) {
        const wait = retryAfterMs(res.headers.get('retry-after'));
        const cap = this.options.maxRetryAfterMs ?? 30_000;
        if (attempt === 0 && wait !== undefined && wait <= cap) {
          await sleep(wait, token);
          continue;
        }
        throw this.fail(
          new RemoteError(
            `the remote endpoint is rate-limiting requests (429${detail ? `: ${detail}` : ''})` +
              (attempt > 0 ? '; still limited after waiting the Retry-After once' : wait !== undefined ? `; retry after ${Math.ceil(wait / 1000)} s` : '; try again later'),
            'rateLimited',
            429,
          ),
        );
      }
      throw this.fail(new RemoteError(`${method} ${url} failed: HTTP ${res.status}${detail ? `: ${detail}` : ''}`, 'http', res.status));
    }
  }

  private fail(e: RemoteError): RemoteError {
    this.lastError = e;
    return e;
  }

  private async errorDetail(res: Response): Promise<string> {
    let text = '';
    try {
      text = (await res.text()).slice(0, 2000);
    } catch {
      return '';
    }
    try {
      const j = JSON.parse(text) as { error?: { message?: string } | string; message?: string; detail?: string };
      const m = typeof j.error === 'string' ? j.error : j.error?.message ?? j.message ?? j.detail;
      if (typeof m === 'string') return m.slice(0, 300);
    } catch {
      // not JSON
    }
    return text.trim().slice(0, 300);
  }

  private async bodyJson(res: Response): Promise<unknown> {
    try {
      return await res.json();
    } catch (e) {
      throw this.fail(new RemoteError(`${this.base} answered something that is not JSON (${(e as Error).message})`, 'malformed'));
    }
  }

  /** POSTs a streaming request and reads its SSE until [DONE], a finish, a cut, a timeout or a cancel. */
  private async stream(
    path: string,
    body: Record<string, unknown>,
    kind: 'chat' | 'completion',
    token: CancellationLike | undefined,
    onChunk: (v: { reasoning: string; content: string }) => void,
    soFar: () => { reasoning: string; answer: string },
  ): Promise<{ finishReason?: string; usage?: ChunkUsage; cancelled: boolean; stats: GenerationStats; chunks: number; reasoningChunks: number }> {
    const t0 = performance.now();
    const abort = new AbortController();
    const stats = emptyStats();
    let res: Response;
    try {
      res = await this.send('POST', path, body, token, abort);
    } catch (e) {
      if (token?.isCancellationRequested) return { cancelled: true, stats, chunks: 0, reasoningChunks: 0 };
      throw e;
    }
    let finishReason: string | undefined;
    let usage: ChunkUsage | undefined;
    let done = false;
    let chunks = 0;
    let reasoningChunks = 0;
    let failure: RemoteError | undefined;
    const url = this.base + path;
    const parser = new SseParser((e) => {
      if (done || failure) return;
      if (e.event === 'error') {
        failure = new RemoteError(`${url} reported an error in the stream: ${e.data.slice(0, 300)}`, 'http');
        return;
      }
      if (e.data.trim() === '[DONE]') {
        done = true;
        return;
      }
      let v;
      try {
        v = readChunk(e.data, kind);
      } catch (err) {
        if (!(err instanceof MalformedChunkError)) throw err;
        failure = new RemoteError(`${url} sent a malformed stream event (${err.message})`, 'malformed', undefined, soFar());
        return;
      }
      if (v.error !== undefined) {
        failure = new RemoteError(`${url} reported an error in the stream: ${v.error}`, 'http', undefined, soFar());
        return;
      }
      if (v.usage) usage = v.usage;
      if (v.finishReason) finishReason = v.finishReason;
      if (v.reasoning || v.content) {
        if (stats.firstTokenMs === 0) stats.firstTokenMs = performance.now() - t0;
        chunks++;
        if (v.reasoning) reasoningChunks++;
        onChunk(v);
      }
    });
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        timedOut = true;
        abort.abort();
      }, this.options.timeoutMs);
    };
    const sub = token?.onCancellationRequested(() => abort.abort());
    let cancelled = false;
    try {
      arm();
      const reader = res.body?.getReader();
      if (!reader) throw new RemoteError(`${url} answered without a body`, 'malformed');
      for (;;) {
        let r: { done: boolean; value?: Uint8Array };
        try {
          r = await reader.read();
        } catch (e) {
          if (token?.isCancellationRequested) {
            cancelled = true;
            break;
          }
          if (timedOut) {
            throw new RemoteError(
              `${url} sent nothing for ${this.options.timeoutMs} ms (hybridCopilot.remote.timeoutMs); what arrived is kept, the answer is incomplete`,
              'timeout',
              undefined,
              soFar(),
            );
          }
          throw new RemoteError(`the stream from ${url} was cut mid-answer (${(e as Error).message}); what arrived is kept, the answer is incomplete`, 'cut', undefined, soFar());
        }
        if (r.done) break;
        arm();
        if (r.value) parser.push(r.value);
        if (failure) break;
        if (done) break;
      }
      if (!cancelled && !failure) {
        const left = parser.end();
        if (!done && finishReason === undefined) {
          throw new RemoteError(
            `the stream from ${url} ended before the answer did${left.unterminated ? ' (in the middle of an event)' : ''}; what arrived is kept, the answer is incomplete`,
            'cut',
            undefined,
            soFar(),
          );
        }
      }
      if (failure) throw failure;
    } catch (e) {
      if (e instanceof RemoteError) throw this.fail(e);
      throw e;
    } finally {
      clearTimeout(timer);
      sub?.dispose();
      if (!done) abort.abort();
    }
    stats.totalMs = performance.now() - t0;
    stats.promptTokens = usage?.promptTokens ?? 0;
    stats.readTokens = stats.promptTokens;
    stats.generatedTokens = usage?.completionTokens ?? chunks;
    stats.decodeMs = stats.totalMs - stats.firstTokenMs;
    return { finishReason, usage, cancelled, stats, chunks, reasoningChunks };
  }
}

function sleep(ms: number, token?: CancellationLike): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(() => (sub?.dispose(), resolve()), ms);
    const sub = token?.onCancellationRequested(() => (clearTimeout(t), resolve()));
  });
}
