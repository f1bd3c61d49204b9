// The served model, in the runtime worker: chat requests are rendered with the model's own chat template
// (the same prompt builder the chat view uses) and run as the worker's `chat` request (reasoning split by
// the worker, thinking budget enforced there); text completions are read as a scratch document and run as
// the worker's `complete` request at the end of the prompt, with the suffix after the cursor for FIM models
// (the worker builds <fim_prefix>…<fim_suffix>…<fim_middle> from the GGUF's FIM tokens), then closed.
import { statusFromInfo } from '../chat/chatBackend';
import { RuntimeError, type CancellationLike, type RuntimeClient } from '../runtime/client';
import { buildChatPrompt, DEFAULT_SYSTEM_PROMPT } from '../shared/chatPrompt';
import { toConversation } from '../shared/commands/lmMessages';
import { ErrorCode, type ChatResult, type CompleteResult, type SamplingParams, type StreamPart } from '../shared/protocol';
import type { ServeChatOptions, ServeCompleteOptions, ServeEngine, ServeMessage } from './server';
import { HttpError } from './server';

export interface WorkerEngineOptions {
  client: Pick<RuntimeClient, 'request' | 'stream'>;
  contextLength: number;
  /** Answer tokens when a request gives no max_tokens. */
  defaultMaxTokens?: number;
  /** Thinking budget when a request gives none (0: none). */
  defaultThinkingBudget?: number;
}

function samplingOf(o: ServeCompleteOptions): SamplingParams | undefined {
  const s: SamplingParams = {};
  if (o.temperature !== undefined) s.temperature = o.temperature;
  if (o.topP !== undefined) s.topP = o.topP;
  if (o.seed !== undefined) s.seed = o.seed;
  return Object.keys(s).length ? s : undefined;
}

export class WorkerEngine implements ServeEngine {
  private docSeq = 0;

  constructor(private readonly o: WorkerEngineOptions) {}

  private async status() {
    const info = await this.o.client.request('info', {});
    return { info, status: statusFromInfo(info, this.o.contextLength) };
  }

  async model(): Promise<{ id: string; contextLength: number; created: number } | undefined> {
    const { info, status } = await this.status();
    if (!status.ready) return undefined;
    const load = info.model.load;
    const created = Math.floor((Date.now() - info.worker.uptimeMs) / 1000);
    return { id: status.model.name, contextLength: status.model.contextLength, created: load.state === 'loaded' ? created : 0 };
  }

  async chat(messages: ServeMessage[], o: ServeChatOptions, onParts: (parts: StreamPart[]) => void, token: CancellationLike): Promise<ChatResult> {
    const { status } = await this.status();
    if (!status.ready) throw new HttpError(503, status.reason, 'server_error', 'model_not_loaded');
    const conv = toConversation(messages.map((m) => ({ role: m.role, parts: [{ kind: 'text' as const, text: m.content }] })));
    const thinking = o.thinking ?? true;
    const built = buildChatPrompt({
      model: status.model,
      history: conv.history,
      text: conv.text,
      context: [],
      thinking,
      budget: o.thinkingBudget ?? this.o.defaultThinkingBudget ?? 0,
      systemPrompt: conv.system ?? DEFAULT_SYSTEM_PROMPT,
    });
    const wanted = (o.maxTokens ?? this.o.defaultMaxTokens ?? 1024) + (built.thinking?.budget ?? 0);
    const stop = [...built.stop, ...(o.stop ?? [])].slice(0, 16);
    const run = (maxTokens: number) =>
      this.o.client.stream(
        'chat',
        { prompt: built.prompt, addBos: built.addBos, maxTokens, stop: stop.length ? stop : undefined, thinking: built.thinking, sampling: samplingOf(o) },
        (parts) => onParts(parts),
        token,
      );
    try {
      return await run(roomFor(built.prompt, wanted, status.model.contextLength));
    } catch (e) {
      // The estimate was short of the prompt's real length: the worker says it; ask again with the room left.
      const needs = e instanceof RuntimeError && e.code === ErrorCode.BadInput ? /prompt needs (\d+) tokens/.exec(e.message) : null;
      if (!needs) throw e;
      const room = status.model.contextLength - Number(needs[1]) - 1;
      if (room < 1) throw new HttpError(400, e instanceof Error ? e.message : String(e));
      return run(Math.min(wanted, room));
    }
  }

  async complete(prompt: string, suffix: string | undefined, o: ServeCompleteOptions, onText: (text: string) => void, token: CancellationLike): Promise<CompleteResult> {
    const { status } = await this.status();
    if (!status.ready) throw new HttpError(503, status.reason, 'server_error', 'model_not_loaded');
    const uri = `hybrid-serve:/request/${++this.docSeq}`;
    const text = prompt + (suffix ?? '');
    await this.o.client.request('openDocument', { uri, languageId: 'plaintext', version: 1, text });
    try {
      return await this.o.client.stream(
        'complete',
        {
          uri,
          version: 1,
          offset: prompt.length,
          maxTokens: o.maxTokens ?? 128,
          stop: o.stop,
          sampling: samplingOf(o),
          suffixTokens: suffix ? Math.min(1024, Math.ceil(suffix.length / 3) + 2) : 0,
        },
        (parts) => {
          for (const p of parts) if (p.text) onText(p.text);
        },
        token,
      );
    } finally {
      await this.o.client.request('closeDocument', { uri }).catch(() => undefined);
    }
  }
}

/** Tokens to ask for: what was asked, leaving the prompt its room in the context (estimated at 3 UTF-8 bytes a token). */
function roomFor(prompt: string, wanted: number, contextLength: number): number {
  const promptTokens = Math.ceil(Buffer.byteLength(prompt) / 3);
  return Math.max(1, Math.min(wanted, contextLength - promptTokens - 16));
}
