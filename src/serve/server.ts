// `hybrid serve`: this runtime behind the OpenAI-compatible HTTP API, so one workstation's GPU can serve a
// small team (and the remote client is tested against a real server). Node's http server; the model runs
// in the runtime worker (dist/worker.js) under the same supervisor the extension uses.
//   GET  /v1/models
//   POST /v1/chat/completions  (stream and not; the model's chat template; reasoning as reasoning_content)
//   POST /v1/completions       (prompt, or prompt + suffix: fill-in-the-middle where the model has FIM tokens)
// Every request needs `Authorization: Bearer <token>` (compared in constant time); bodies are capped;
// errors are OpenAI-style JSON ({"error": {"message", "type", "code"}}) with 400/401/404/405/413/500/503;
// a client that disconnects cancels its generation. Per-document state does not cross the wire: each
// request reads its prompt (the worker keeps no session between HTTP requests).
import { createHash, randomBytes, timingSafeEqual } from 'crypto';
import * as http from 'http';
import type { AddressInfo } from 'net';
import type { CancellationLike } from '../runtime/client';
import type { ChatResult, CompleteResult, StreamPart } from '../shared/protocol';

export interface ServeMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface ServeChatOptions {
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  seed?: number;
  stop?: string[];
  /** chat_template_kwargs.enable_thinking (default: the model thinks when its template lets it). */
  thinking?: boolean;
  /** Reasoning tokens at most (0: no limit). */
  thinkingBudget?: number;
}

export interface ServeCompleteOptions {
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  seed?: number;
  stop?: string[];
}

/** What the server needs from the runtime (the worker-backed engine, or a fake in tests). */
export interface ServeEngine {
  /** The served model's id and context; undefined while none is loaded (503). */
  model(): Promise<{ id: string; contextLength: number; created: number } | undefined>;
  chat(messages: ServeMessage[], o: ServeChatOptions, onParts: (parts: StreamPart[]) => void, token: CancellationLike): Promise<ChatResult>;
  complete(prompt: string, suffix: string | undefined, o: ServeCompleteOptions, onText: (text: string) => void, token: CancellationLike): Promise<CompleteResult>;
}

export interface ServerOptions {
  engine: ServeEngine;
  /** The bearer token; a random one when not given. */
  token?: string;
  host?: string;
  port?: number;
  /** Largest request body, bytes (default 8 MiB). */
  maxBodyBytes?: number;
  log?: (line: string) => void;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type = 'invalid_request_error',
    readonly code: string | null = null,
  ) {
    super(message);
  }
}

export function randomToken(): string {
  return `hyb-${randomBytes(24).toString('base64url')}`;
}

/** Loopback addresses: the only ones bound without an explicit --host. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Token comparison in constant time (digests make the lengths equal). */
export function tokenMatches(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b) && given.length === expected.length;
}

class Cancel implements CancellationLike {
  private listeners: Array<() => unknown> = [];
  isCancellationRequested = false;
  onCancellationRequested(l: () => unknown): { dispose(): unknown } {
    if (this.isCancellationRequested) {
      queueMicrotask(() => l());
      return { dispose: () => undefined };
    }
    this.listeners.push(l);
    return { dispose: () => (this.listeners = this.listeners.filter((x) => x !== l)) };
  }
  cancel(): void {
    if (this.isCancellationRequested) return;
    this.isCancellationRequested = true;
    for (const l of this.listeners.splice(0)) l();
  }
}

const ROUTES: Record<string, string> = { '/v1/models': 'GET', '/v1/chat/completions': 'POST', '/v1/completions': 'POST' };

export class HybridServer {
  readonly token: string;
  private readonly server: http.Server;
  private readonly maxBody: number;
  private seq = 0;
  /** Generations cancelled because their client went away (tests read it). */
  disconnects = 0;

  constructor(private readonly o: ServerOptions) {
    this.token = o.token ?? randomToken();
    this.maxBody = o.maxBodyBytes ?? 8 * 1024 * 1024;
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 5000;
  }

  async listen(): Promise<{ host: string; port: number; url: string }> {
    const host = this.o.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.o.port ?? 0, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const a = this.server.address() as AddressInfo;
    const shown = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    return { host: a.address, port: a.port, url: `http://${shown}:${a.port}/v1` };
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections?.();
    });
  }

  private log(line: string): void {
    this.o.log?.(line);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const t0 = Date.now();
    const url = new URL(req.url ?? '/', 'http://localhost');
    try {
      const auth = req.headers.authorization ?? '';
      const m = /^Bearer\s+(.+)$/i.exec(auth);
      if (!m || !tokenMatches(m[1].trim(), this.token)) {
        res.setHeader('www-authenticate', 'Bearer');
        throw new HttpError(401, 'a valid bearer token is required (Authorization: Bearer <token>, printed by hybrid serve at its start)', 'authentication_error', 'invalid_api_key');
      }
      const method = ROUTES[url.pathname];
      if (!method) throw new HttpError(404, `no route ${url.pathname}; this server has GET /v1/models, POST /v1/chat/completions, POST /v1/completions`, 'invalid_request_error', 'not_found');
      if (req.method !== method) {
        res.setHeader('allow', method);
        throw new HttpError(405, `${url.pathname} takes ${method}, not ${req.method}`, 'invalid_request_error', 'method_not_allowed');
      }
      if (url.pathname === '/v1/models') return await this.models(res);
      const body = await this.readJson(req);
      if (url.pathname === '/v1/chat/completions') await this.chat(req, res, body);
      else await this.completions(req, res, body);
    } catch (e) {
      const err = e instanceof HttpError ? e : new HttpError(500, (e as Error).message, 'server_error');
      if (!res.headersSent) {
        sendJson(res, err.status, { error: { message: err.message, type: err.type, code: err.code } });
      } else if (!res.writableEnded) {
        // mid-stream: an error event, then the end (the client sees no [DONE])
        res.write(`data: ${JSON.stringify({ error: { message: err.message, type: err.type, code: err.code } })}\n\n`);
        res.end();
      }
      if (err.status >= 500) this.log(`error: ${req.method} ${url.pathname}: ${err.message}`);
    } finally {
      this.log(`${req.method} ${url.pathname} ${res.statusCode} ${Date.now() - t0} ms`);
    }
  }

  private readJson(req: http.IncomingMessage): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const declared = Number(req.headers['content-length']);
      if (Number.isFinite(declared) && declared > this.maxBody) {
        req.resume();
        return reject(new HttpError(413, `the request body is larger than ${this.maxBody} bytes`, 'invalid_request_error', 'body_too_large'));
      }
      const chunks: Buffer[] = [];
      let size = 0;
      let failed = false;
      req.on('data', (c: Buffer) => {
        if (failed) return;
        size += c.length;
        if (size > this.maxBody) {
          failed = true;
          reject(new HttpError(413, `the request body is larger than ${this.maxBody} bytes`, 'invalid_request_error', 'body_too_large'));
          return;
        }
        chunks.push(c);
      });
      req.on('error', (e) => reject(e));
      req.on('end', () => {
        if (failed) return;
        let json: unknown;
        try {
          json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch (e) {
          return reject(new HttpError(400, `the request body is not JSON: ${(e as Error).message}`));
        }
        if (typeof json !== 'object' || json === null || Array.isArray(json)) return reject(new HttpError(400, 'the request body must be a JSON object'));
        resolve(json as Record<string, unknown>);
      });
    });
  }

  private async loadedModel(): Promise<{ id: string; contextLength: number; created: number }> {
    const m = await this.o.engine.model();
    if (!m) throw new HttpError(503, 'no model is loaded', 'server_error', 'model_not_loaded');
    return m;
  }

  private async models(res: http.ServerResponse): Promise<void> {
    const m = await this.loadedModel();
    sendJson(res, 200, {
      object: 'list',
      data: [{ id: m.id, object: 'model', created: m.created, owned_by: 'hybrid-copilot', context_length: m.contextLength, max_model_len: m.contextLength }],
    });
  }

  /** A token cancelled when the client goes away before the response ended. */
  private cancelOnDisconnect(res: http.ServerResponse): Cancel {
    const c = new Cancel();
    res.on('close', () => {
      if (!res.writableFinished) {
        this.disconnects++;
        c.cancel();
      }
    });
    return c;
  }

  private async chat(_req: http.IncomingMessage, res: http.ServerResponse, body: Record<string, unknown>): Promise<void> {
    const model = await this.loadedModel();
    const messages = parseMessages(body.messages);
    const stream = optBool(body, 'stream') ?? false;
    const kwargs = body.chat_template_kwargs;
    let thinking: boolean | undefined;
    if (kwargs !== undefined && kwargs !== null) {
      if (typeof kwargs !== 'object' || Array.isArray(kwargs)) throw new HttpError(400, '`chat_template_kwargs` must be an object');
      const k = kwargs as Record<string, unknown>;
      const v = k.enable_thinking ?? k.thinking;
      if (v !== undefined && typeof v !== 'boolean') throw new HttpError(400, '`chat_template_kwargs.enable_thinking` must be a boolean');
      thinking = v as boolean | undefined;
    }
    const o: ServeChatOptions = { ...sampling(body), thinking, thinkingBudget: optInt(body, 'thinking_budget', 0, 1 << 20) };
    const includeUsage = streamUsage(body);
    const id = `chatcmpl-${Date.now().toString(36)}${(++this.seq).toString(36)}`;
    const created = Math.floor(Date.now() / 1000);
    const cancel = this.cancelOnDisconnect(res);
    const chunk = (delta: Record<string, unknown>, finish: string | null) => ({
      id,
      object: 'chat.completion.chunk',
      created,
      model: model.id,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    });
    if (stream) {
      startSse(res);
      writeEvent(res, chunk({ role: 'assistant', content: '' }, null));
    }
    const result = await this.o.engine.chat(
      messages,
      o,
      (parts) => {
        if (!stream || res.writableEnded) return;
        for (const p of parts) {
          if (!p.text) continue;
          writeEvent(res, chunk(p.kind === 'reasoning' ? { reasoning_content: p.text } : { content: p.text }, null));
        }
      },
      cancel,
    );
    if (cancel.isCancellationRequested) return;
    const finish = finishReason(result.stopReason);
    const usage = {
      prompt_tokens: result.stats.promptTokens,
      completion_tokens: result.reasoningTokens + result.answerTokens,
      total_tokens: result.stats.promptTokens + result.reasoningTokens + result.answerTokens,
      completion_tokens_details: { reasoning_tokens: result.reasoningTokens },
    };
    if (stream) {
      writeEvent(res, chunk({}, finish));
      if (includeUsage) writeEvent(res, { id, object: 'chat.completion.chunk', created, model: model.id, choices: [], usage });
      res.end('data: [DONE]\n\n');
      return;
    }
    const message: Record<string, unknown> = { role: 'assistant', content: result.answer };
    if (result.reasoning) message.reasoning_content = result.reasoning;
    sendJson(res, 200, { id, object: 'chat.completion', created, model: model.id, choices: [{ index: 0, message, logprobs: null, finish_reason: finish }], usage });
  }

  private async completions(_req: http.IncomingMessage, res: http.ServerResponse, body: Record<string, unknown>): Promise<void> {
    const model = await this.loadedModel();
    let prompt = body.prompt;
    if (Array.isArray(prompt)) {
      if (prompt.length !== 1) throw new HttpError(400, '`prompt` must be a string (or an array of one string)');
      prompt = prompt[0];
    }
    if (typeof prompt !== 'string') throw new HttpError(400, '`prompt` must be a string');
    const suffix = body.suffix;
    if (suffix !== undefined && suffix !== null && typeof suffix !== 'string') throw new HttpError(400, '`suffix` must be a string');
    const stream = optBool(body, 'stream') ?? false;
    const includeUsage = streamUsage(body);
    const id = `cmpl-${Date.now().toString(36)}${(++this.seq).toString(36)}`;
    const created = Math.floor(Date.now() / 1000);
    const cancel = this.cancelOnDisconnect(res);
    const chunk = (text: string, finish: string | null) => ({
      id,
      object: 'text_completion',
      created,
      model: model.id,
      choices: [{ index: 0, text, logprobs: null, finish_reason: finish }],
    });
    if (stream) startSse(res);
    const result = await this.o.engine.complete(
      prompt,
      typeof suffix === 'string' ? suffix : undefined,
      sampling(body),
      (text) => {
        if (stream && text && !res.writableEnded) writeEvent(res, chunk(text, null));
      },
      cancel,
    );
    if (cancel.isCancellationRequested) return;
    const finish = finishReason(result.stopReason);
    const usage = {
      prompt_tokens: result.stats.promptTokens,
      completion_tokens: result.stats.generatedTokens,
      total_tokens: result.stats.promptTokens + result.stats.generatedTokens,
    };
    if (stream) {
      writeEvent(res, chunk('', finish));
      if (includeUsage) writeEvent(res, { id, object: 'text_completion', created, model: model.id, choices: [], usage });
      res.end('data: [DONE]\n\n');
      return;
    }
    sendJson(res, 200, { id, object: 'text_completion', created, model: model.id, choices: [{ index: 0, text: result.text, logprobs: null, finish_reason: finish }], usage });
  }
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) });
  res.end(data);
}

function startSse(res: http.ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
  res.flushHeaders();
}

function writeEvent(res: http.ServerResponse, obj: unknown): void {
  res.write(`data: ${JSON.stringify(obj)}\n\n`);
}

function finishReason(stop: string): string {
  return stop === 'maxTokens' ? 'length' : 'stop';
}

function optBool(body: Record<string, unknown>, key: string): boolean | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new HttpError(400, `\`${key}\` must be a boolean`);
  return v;
}

function optNum(body: Record<string, unknown>, key: string, min: number, max: number): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw new HttpError(400, `\`${key}\` must be a number from ${min} to ${max}`);
  return v;
}

function optInt(body: Record<string, unknown>, key: string, min: number, max: number): number | undefined {
  const v = optNum(body, key, min, max);
  if (v !== undefined && !Number.isInteger(v)) throw new HttpError(400, `\`${key}\` must be an integer`);
  return v;
}

function streamUsage(body: Record<string, unknown>): boolean {
  const so = body.stream_options;
  if (so === undefined || so === null) return false;
  if (typeof so !== 'object' || Array.isArray(so)) throw new HttpError(400, '`stream_options` must be an object');
  return (so as { include_usage?: unknown }).include_usage === true;
}

function sampling(body: Record<string, unknown>): ServeCompleteOptions {
  const maxTokens = optInt(body, 'max_completion_tokens', 1, 1 << 20) ?? optInt(body, 'max_tokens', 1, 1 << 20);
  let stop: string[] | undefined;
  const s = body.stop;
  if (typeof s === 'string') stop = [s];
  else if (Array.isArray(s)) stop = s;
  else if (s !== undefined && s !== null) throw new HttpError(400, '`stop` must be a string or an array of strings');
  if (stop && (stop.length > 16 || stop.some((x) => typeof x !== 'string' || x.length === 0 || x.length > 256))) {
    throw new HttpError(400, '`stop`: at most 16 non-empty strings of at most 256 characters');
  }
  return {
    maxTokens,
    temperature: optNum(body, 'temperature', 0, 100),
    topP: optNum(body, 'top_p', 0, 1),
    seed: optInt(body, 'seed', 0, Number.MAX_SAFE_INTEGER),
    stop,
  };
}

function parseMessages(raw: unknown): ServeMessage[] {
  if (!Array.isArray(raw) || raw.length === 0) throw new HttpError(400, '`messages` must be a non-empty array');
  if (raw.length > 4096) throw new HttpError(400, '`messages`: too many');
  return raw.map((m, i) => {
    if (typeof m !== 'object' || m === null) throw new HttpError(400, `messages[${i}] must be an object`);
    const { role, content } = m as { role?: unknown; content?: unknown };
    if (role !== 'system' && role !== 'user' && role !== 'assistant' && role !== 'developer') {
      throw new HttpError(400, `messages[${i}].role must be system, user or assistant`);
    }
    let text: string;
    if (typeof content === 'string') text = content;
    else if (content === null || content === undefined) text = '';
    else if (Array.isArray(content)) {
      text = content
        .map((p, j) => {
          if (typeof p !== 'object' || p === null || (p as { type?: unknown }).type !== 'text' || typeof (p as { text?: unknown }).text !== 'string') {
            throw new HttpError(400, `messages[${i}].content[${j}]: only text parts are supported`);
          }
          return (p as { text: string }).text;
        })
        .join('\n');
    } else throw new HttpError(400, `messages[${i}].content must be a string or an array of text parts`);
    return { role: role === 'developer' ? 'system' : role, content: text };
  });
}
