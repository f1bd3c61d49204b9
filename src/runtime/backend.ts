// The runtime backend seen by the features: chat, the code actions and VS Code's chat take a ChatBackend;
// inline completions take a CompletionTransport and a CompletionSync. Two implementations: the local worker
// (RuntimeClient and DocumentSync satisfy these interfaces as they are) and a remote OpenAI-compatible
// endpoint (src/remote/backend.ts). BackendSwitch picks one per request from hybridCopilot.backend, so a
// settings change moves every feature at once; the local worker keeps running either way. No vscode import.
import type { ChatBackend, ChatBackendStatus, ChatRequest } from '../chat/chatBackend';
import type { ModelFacts } from '../shared/completions/prompt';
import { modelFacts } from '../shared/completions/prompt';
import type { ChatResult, CompleteParams, CompleteResult, RuntimeInfo, StreamPart } from '../shared/protocol';
import type { CancellationLike } from './client';
import type { SyncDocument } from './documentSync';

export type BackendKind = 'local' | 'remote';

/** What the completion engine needs to run a `complete` request (RuntimeClient has it). */
export interface CompletionTransport {
  /** Changes whenever what serves may have changed (a new worker, another endpoint or model). */
  readonly generation: number;
  stream(
    method: 'complete',
    params: Omit<CompleteParams, 'id'>,
    onStream: (parts: StreamPart[], tokens: number) => void,
    token?: CancellationLike,
  ): Promise<CompleteResult>;
  request(method: 'info', params: Record<string, never>): Promise<RuntimeInfo>;
  /** When present, the prompt shape comes from here rather than from the worker's model info. */
  modelFacts?(): Promise<ModelFacts | undefined>;
}

/** Makes a document's current text available to the transport before a request (DocumentSync has it). */
export interface CompletionSync {
  ensure(doc: SyncDocument): Promise<void>;
}

/** The remote side, as the switch needs it. */
export interface RemoteBackendLike {
  readonly chat: ChatBackend;
  readonly transport: CompletionTransport & { modelFacts(): Promise<ModelFacts | undefined> };
  readonly sync: CompletionSync;
}

/** Routes each request to the local worker or the remote endpoint, as hybridCopilot.backend says now. */
export class BackendSwitch {
  constructor(
    private readonly kind: () => BackendKind,
    private readonly local: ChatBackend,
    private readonly remote: () => RemoteBackendLike,
  ) {}

  get current(): BackendKind {
    return this.kind();
  }

  /** The chat backend for chat, the code actions and VS Code's chat. */
  readonly chat: ChatBackend & { countTokens(text: string, parseSpecial?: boolean): Promise<number | undefined> } = {
    status: (): Promise<ChatBackendStatus> => (this.kind() === 'remote' ? this.remote().chat.status() : this.local.status()),
    chat: (request: ChatRequest, onParts: (parts: StreamPart[], tokens: number) => void, token: CancellationLike): Promise<ChatResult> =>
      this.kind() === 'remote' ? this.remote().chat.chat(request, onParts, token) : this.local.chat(withoutRemote(request), onParts, token),
    // Exact token counts come from the local worker's tokenizer: the remote model's may differ (callers estimate).
    countTokens: async (text: string, parseSpecial?: boolean): Promise<number | undefined> => {
      if (this.kind() === 'remote') return undefined;
      const local = this.local as { countTokens?: (text: string, parseSpecial?: boolean) => Promise<number | undefined> };
      return local.countTokens?.(text, parseSpecial);
    },
  };

  /** The completion engine's transport and document sync over a local worker (the main or the completion one). */
  completions(local: CompletionTransport, localSync: CompletionSync): { transport: CompletionTransport; sync: CompletionSync } {
    const isRemote = () => this.kind() === 'remote';
    const transport: CompletionTransport = {
      get generation() {
        return isRemote() ? -1000 - remoteGeneration(remote()) : local.generation;
      },
      stream: (method, params, onStream, token) => (isRemote() ? this.remote().transport.stream(method, params, onStream, token) : local.stream(method, params, onStream, token)),
      request: (method, params) => local.request(method, params),
      modelFacts: async () => {
        if (isRemote()) return this.remote().transport.modelFacts();
        const load = (await local.request('info', {})).model.load;
        return load.state === 'loaded' ? modelFacts(load.info) : undefined;
      },
    };
    const remote = () => this.remote();
    const sync: CompletionSync = { ensure: (doc) => (isRemote() ? this.remote().sync.ensure(doc) : localSync.ensure(doc)) };
    return { transport, sync };
  }
}

/** The request as the local worker takes it (its protocol refuses fields it does not know). */
export function withoutRemote(request: ChatRequest): ChatRequest {
  if (request.remote === undefined) return request;
  const { remote: _remote, ...local } = request;
  return local;
}

function remoteGeneration(r: RemoteBackendLike): number {
  return r.transport.generation;
}
