// What the chat needs from the model runtime, as one small interface: whether chat can run now (and with which
// model), and one streaming chat request. The runtime worker implements it (RuntimeChatBackend below, over
// the worker protocol's `chat` request); tests may implement it too. No vscode import.
import type { CancellationLike, RuntimeClient } from '../runtime/client';
import type { ChatModelInfo } from '../shared/chatPrompt';
import { MAX_TOKENIZE_CHARS, type ChatParams, type ChatResult, type ModelInfo, type RuntimeInfo, type StreamPart } from '../shared/protocol';

/**
 * For a remote endpoint (it applies its own chat template): the conversation as messages, and the thinking
 * switch and budget as the user set them. The local worker reads only the rendered prompt.
 */
export interface RemoteChatParts {
  messages: { role: 'system' | 'user' | 'assistant'; content: string }[];
  thinking: boolean;
  thinkingBudget: number;
}

export type ChatRequest = Omit<ChatParams, 'id'> & { remote?: RemoteChatParts };

/** The messages of a conversation: the system prompt, the prior turns, the last user message. */
export function chatMessages(system: string, history: readonly { user: string; answer: string }[], user: string): RemoteChatParts['messages'] {
  const out: RemoteChatParts['messages'] = [{ role: 'system', content: system }];
  for (const t of history) out.push({ role: 'user', content: t.user }, { role: 'assistant', content: t.answer });
  out.push({ role: 'user', content: user });
  return out;
}

export type ChatBackendStatus = { ready: true; model: ChatModelInfo } | { ready: false; reason: string };

export interface ChatBackend {
  /** Whether a chat request can run now; when not, a sentence for the user saying why and what to do. */
  status(): Promise<ChatBackendStatus>;
  /**
   * Runs one chat request. `onParts` gets the output in order as it streams (reasoning and answer kept apart,
   * think tags removed), with the number of tokens these parts came from. Cancelling `token` stops the
   * generation; the promise then resolves with stopReason "cancelled" and what was generated until then.
   */
  chat(request: ChatRequest, onParts: (parts: StreamPart[], tokens: number) => void, token: CancellationLike): Promise<ChatResult>;
  /**
   * Exact tokens of a text as the model reads it (`parseSpecial`: as a rendered chat prompt, special token
   * texts being one token each); undefined when the backend cannot count (callers then estimate).
   */
  countTokens?(text: string, parseSpecial?: boolean): Promise<number | undefined>;
}

/** Chat model facts from the worker's ModelInfo. */
export function chatModelInfo(info: ModelInfo, contextSetting: number): ChatModelInfo {
  const tok = info.tokenizer;
  const name = info.path.split(/[\\/]/).pop() ?? info.path;
  return {
    name,
    chatTemplate: info.chatTemplate,
    addBos: tok.present ? tok.addBos : false,
    // Token texts are not in ModelInfo yet (only ids): templates that write bos_token / eos_token get ''.
    // With addBos the worker adds BOS itself, which is what llama.cpp's BOS stripping amounts to.
    bosText: undefined,
    eosText: undefined,
    hasThinkTags: tok.present && tok.thinkOpen !== null && tok.thinkClose !== null,
    contextLength: Math.min(info.hparams.contextLength || contextSetting, contextSetting),
  };
}

export class RuntimeChatBackend implements ChatBackend {
  /** The last ready status, per worker process: a worker loads its model once, at its start. */
  private cached: { generation: number; contextLength: number; status: ChatBackendStatus } | undefined;

  constructor(
    private readonly client: RuntimeClient,
    private readonly contextLength: () => number,
  ) {}

  async status(): Promise<ChatBackendStatus> {
    const state = this.client.currentState;
    if (state === 'failed') return { ready: false, reason: 'The model runtime stopped after repeated crashes. Run "Hybrid Copilot: Restart Runtime".' };
    if (state === 'stopped') return { ready: false, reason: 'The model runtime is not running yet.' };
    if (state !== 'ready') return { ready: false, reason: 'The model runtime is starting…' };
    // Asked on every send: answered without a round trip to the worker once it has served a model.
    const generation = this.client.generation;
    const contextLength = this.contextLength();
    if (this.cached && this.cached.generation === generation && this.cached.contextLength === contextLength) return this.cached.status;
    let info: RuntimeInfo;
    try {
      info = await this.client.request('info', {});
    } catch (e) {
      return { ready: false, reason: `The model runtime does not answer: ${(e as Error).message}` };
    }
    const status = statusFromInfo(info, contextLength);
    this.cached = status.ready && this.client.generation === generation ? { generation, contextLength, status } : undefined;
    return status;
  }

  /** The worker's tokenizer (its `tokenize` request); undefined when it cannot answer (no model, too long a text). */
  async countTokens(text: string, parseSpecial = false): Promise<number | undefined> {
    if (text.length > MAX_TOKENIZE_CHARS) return undefined;
    try {
      return await this.client.countTokens(text, { parseSpecial });
    } catch {
      return undefined;
    }
  }

  chat(request: ChatRequest, onParts: (parts: StreamPart[], tokens: number) => void, token: CancellationLike): Promise<ChatResult> {
    return this.client.stream('chat', request, onParts, token);
  }
}

export function statusFromInfo(info: RuntimeInfo, contextSetting: number): ChatBackendStatus {
  const load = info.model.load;
  switch (load.state) {
    case 'loaded':
      if (!load.info.tokenizer.present) {
        return { ready: false, reason: `The model ${load.info.path} has no usable tokenizer (${load.info.tokenizer.error}); chat needs one.` };
      }
      return { ready: true, model: chatModelInfo(load.info, contextSetting) };
    case 'loading':
      return { ready: false, reason: `Loading the model ${load.path}…` };
    case 'failed':
      return { ready: false, reason: `The model ${load.path} could not be loaded: ${load.error}. Check hybridCopilot.modelPath.` };
    case 'none':
    default:
      return {
        ready: false,
        reason:
          info.model.status === 'missing'
            ? `The model file ${info.model.path} does not exist. Set hybridCopilot.modelPath to a GGUF file.`
            : 'No model is configured. Set hybridCopilot.modelPath to a GGUF file (e.g. a Nemotron-Nano-9B-v2 GGUF).',
      };
  }
}
