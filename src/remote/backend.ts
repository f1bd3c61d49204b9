// The remote endpoint as a runtime backend: chat (messages to /v1/chat/completions, the server applying the
// model's template; reasoning from its fields or think tags), inline completions (/v1/completions: the text
// before the cursor, with the text after it as a FIM prompt from hybridCopilot.remote.fimTemplate or as the
// `suffix` field, else prefix only), the model and its context from /v1/models, the endpoint's latency.
// Per-document state does not cross the wire: every request sends its whole prompt (the server's prefix cache,
// where it has one, helps only while the prefix is unchanged). No vscode import.
import type { ChatBackend, ChatBackendStatus, ChatRequest } from '../chat/chatBackend';
import type { CancellationLike } from '../runtime/client';
import type { CompletionSync, CompletionTransport, RemoteBackendLike } from '../runtime/backend';
import type { SyncDocument } from '../runtime/documentSync';
import type { ModelFacts } from '../shared/completions/prompt';
import { ErrorCode, type ChatResult, type CompleteParams, type CompleteResult, type RuntimeInfo, type StreamPart } from '../shared/protocol';
import { RuntimeError } from '../runtime/client';
import { RemoteClient, RemoteError, RemoteModel } from './client';

export type RemoteFim = 'off' | 'suffix' | 'template';

export interface RemoteSettings {
  endpoint: string;
  model: string;
  timeoutMs: number;
  fim: RemoteFim;
  /** With fim "template": the prompt, {prefix} and {suffix} replaced (e.g. "<fim_prefix>{prefix}<fim_suffix>{suffix}<fim_middle>"). */
  fimTemplate: string;
}

export const DEFAULT_REMOTE_CONTEXT = 32768;
/** Characters of the document before the cursor sent with a completion (the whole prompt crosses the wire each time). */
const PREFIX_CHARS = 24_000;
const STATUS_TTL_MS = 30_000;

export interface RemoteBackendOptions {
  settings: () => RemoteSettings;
  apiKey: (endpoint: string) => Promise<string | undefined>;
  /** Every request's outcome: the latency to the response headers, or the error. */
  onRequest?: (r: { endpoint: string; latencyMs?: number; error?: RemoteError }) => void;
  log?: { warn(m: string): void; info(m: string): void };
}

export class RemoteBackend implements RemoteBackendLike {
  private current: { key: string; client: RemoteClient } | undefined;
  private generationNo = 0;
  private statusCache: { key: string; at: number; model: RemoteModel } | undefined;
  private readonly docs = new Map<string, { version: number; text: string }>();

  constructor(private readonly o: RemoteBackendOptions) {}

  /** The client for the settings as they are now (a new one when they changed). */
  client(): RemoteClient {
    const s = this.o.settings();
    const key = JSON.stringify([s.endpoint, s.model, s.timeoutMs]);
    if (!this.current || this.current.key !== key) {
      const client: RemoteClient = new RemoteClient({
        endpoint: s.endpoint,
        model: s.model || undefined,
        timeoutMs: s.timeoutMs,
        apiKey: (): Promise<string | undefined> => this.o.apiKey(client.endpoint),
      });
      this.current = { key, client };
      this.generationNo++;
      this.statusCache = undefined;
    }
    return this.current.client;
  }

  /** Runs a request, reporting its latency or error. */
  private async track<T>(run: (c: RemoteClient) => Promise<T>): Promise<T> {
    const c = this.client();
    try {
      const r = await run(c);
      this.o.onRequest?.({ endpoint: c.endpoint, latencyMs: c.lastLatencyMs });
      return r;
    } catch (e) {
      this.o.onRequest?.({ endpoint: c.endpoint, latencyMs: c.lastLatencyMs, error: e instanceof RemoteError ? e : undefined });
      throw e;
    }
  }

  /** Forget the cached model status (a new key, other settings): the next status() asks the endpoint. */
  invalidate(): void {
    this.statusCache = undefined;
  }

  /** GET /v1/models now (the status bar's periodic ping). */
  async ping(): Promise<RemoteModel[]> {
    return this.track((c) => c.models());
  }

  private async servedModel(): Promise<RemoteModel> {
    const c = this.client();
    const key = this.current!.key;
    if (this.statusCache && this.statusCache.key === key && Date.now() - this.statusCache.at < STATUS_TTL_MS) return this.statusCache.model;
    const list = await this.track((cl) => cl.models());
    const want = this.o.settings().model || list[0]?.id || '';
    const model = list.find((m) => m.id === want);
    if (!model) {
      throw new RemoteError(`${c.endpoint} does not serve the model "${want}" (it serves: ${list.map((m) => m.id).join(', ') || 'none'}); check hybridCopilot.remote.model`, 'config');
    }
    this.statusCache = { key, at: Date.now(), model };
    return model;
  }

  readonly chat: ChatBackend = {
    status: async (): Promise<ChatBackendStatus> => {
      try {
        const m = await this.servedModel();
        return {
          ready: true,
          model: {
            name: m.id,
            // The server applies the model's template to the messages; the local prompt (ChatML) is only
            // used for length estimates.
            chatTemplate: null,
            addBos: false,
            hasThinkTags: true,
            contextLength: m.contextLength ?? DEFAULT_REMOTE_CONTEXT,
          },
        };
      } catch (e) {
        return { ready: false, reason: `Remote endpoint: ${(e as Error).message}.` };
      }
    },
    chat: async (request: ChatRequest, onParts: (parts: StreamPart[], tokens: number) => void, token: CancellationLike): Promise<ChatResult> => {
      const r = request.remote;
      if (!r) throw new RemoteError('this request has no messages for a remote endpoint', 'config');
      return this.track((c) =>
        c.chat(
          {
            messages: r.messages,
            // The reasoning budget cannot be enforced remotely: it is added to the answer's tokens.
            maxTokens: request.maxTokens + (r.thinking ? r.thinkingBudget : 0),
            temperature: request.sampling?.temperature,
            stop: request.stop?.filter((s) => s !== '<|im_end|>'),
            thinking: r.thinking,
          },
          onParts,
          token,
        ),
      );
    },
  };

  readonly sync: CompletionSync = {
    ensure: async (doc: SyncDocument) => {
      const had = this.docs.get(doc.uri);
      if (had && had.version === doc.version) return;
      this.docs.delete(doc.uri);
      this.docs.set(doc.uri, { version: doc.version, text: doc.getText() });
      while (this.docs.size > 32) this.docs.delete(this.docs.keys().next().value as string);
    },
  };

  readonly transport: CompletionTransport & { modelFacts(): Promise<ModelFacts | undefined> } = ((self: RemoteBackend) => ({
    /** Another endpoint, model or timeout: what was computed with the last one is stale. */
    get generation(): number {
      self.client();
      return self.generationNo;
    },
    stream: (_method: 'complete', params: Omit<CompleteParams, 'id'>, onStream: (parts: StreamPart[], tokens: number) => void, token?: CancellationLike) =>
      self.complete(params, onStream, token),
    request: (): Promise<RuntimeInfo> => Promise.reject(new RuntimeError('the remote backend has no worker info', ErrorCode.NoModel)),
    modelFacts: async (): Promise<ModelFacts | undefined> => {
      try {
        const m = await self.servedModel();
        return { shape: self.o.settings().fim === 'off' ? ('prefix' as const) : ('fim' as const), name: m.id };
      } catch (e) {
        self.o.log?.warn(`remote completions: ${(e as Error).message}`);
        return undefined;
      }
    },
  }))(this);

  private async complete(params: Omit<CompleteParams, 'id'>, onStream: (parts: StreamPart[], tokens: number) => void, token?: CancellationLike): Promise<CompleteResult> {
    const doc = this.docs.get(params.uri);
    if (!doc) throw new RuntimeError(`the document ${params.uri} was not given to the remote backend`, ErrorCode.DocumentNotOpen);
    if (doc.version !== params.version) throw new RuntimeError(`the document ${params.uri} changed`, ErrorCode.DocumentOutOfSync);
    const s = this.o.settings();
    const prefix = (params.header ?? '') + doc.text.slice(Math.max(0, params.offset - PREFIX_CHARS), params.offset);
    const suffix = s.fim === 'off' ? undefined : doc.text.slice(params.offset, params.offset + (params.suffixTokens ?? 64) * 3);
    let prompt = prefix;
    let suffixField: string | undefined;
    if (s.fim === 'template' && suffix !== undefined) prompt = s.fimTemplate.split('{prefix}').join(prefix).split('{suffix}').join(suffix);
    else if (s.fim === 'suffix') suffixField = suffix;
    return this.track((c) =>
      c.complete(
        { prompt, suffix: suffixField, maxTokens: params.maxTokens, temperature: params.sampling?.temperature, stop: params.stop },
        (text) => onStream([{ kind: 'text', text }], 1),
        token,
      ),
    );
  }
}
