// Runs one action's prompt on the local model: the chat template of the loaded model (the same builder as
// the chat view), the thinking settings of the chat, a token budget that fits the code, streaming answer
// parts to the caller and reasoning parts to the trace view, cancellable.
import { chatMessages, type ChatBackend } from '../chat/chatBackend';
import { maxTokensForPrompt } from '../chat/chatController';
import { buildChatPrompt } from '../shared/chatPrompt';
import { estimateTokens } from '../shared/commands/lmMessages';
import type { ActionPrompt } from '../shared/commands/prompts';
import type { ChatResult, StreamPart } from '../shared/protocol';
import { splitBatchTokens } from '../shared/reasoning';
import type { CancellationLike } from '../runtime/client';

export interface RunSettings {
  thinking: boolean;
  thinkingBudget: number;
  /** Answer tokens at least (more when the code to write back is long). */
  maxAnswerTokens: number;
}

/** Where a command's reasoning is shown while it streams. */
export interface TraceView {
  begin(o: { title: string; detail: string }): TraceHandle;
}
export interface TraceHandle {
  /** Every streamed batch, reasoning and answer, as the worker sent it. */
  parts(parts: readonly StreamPart[], tokens: number): void;
  end(o: { result?: ChatResult; error?: string }): void;
}

export interface RunOutcome {
  answer: string;
  reasoning: string;
  result: ChatResult;
}

export class ModelNotReadyError extends Error {}

export async function runAction(o: {
  backend: ChatBackend;
  prompt: ActionPrompt;
  settings: RunSettings;
  /** Tokens the answer must have room for beyond the settings (e.g. the code it rewrites). */
  expectedAnswerTokens?: number;
  title: string;
  detail: string;
  trace: TraceView;
  token: CancellationLike;
  onAnswer: (answerSoFar: string) => void;
  onReasoningTokens?: (tokens: number) => void;
}): Promise<RunOutcome> {
  const status = await o.backend.status();
  if (!status.ready) throw new ModelNotReadyError(status.reason);
  const s = o.settings;
  const built = buildChatPrompt({
    model: status.model,
    history: [],
    text: o.prompt.user,
    context: [],
    thinking: s.thinking,
    budget: s.thinkingBudget,
    systemPrompt: o.prompt.system,
  });
  const answerTokens = Math.max(s.maxAnswerTokens, Math.ceil((o.expectedAnswerTokens ?? 0) * 1.5) + 128);
  const request = {
    prompt: built.prompt,
    addBos: built.addBos,
    maxTokens: await maxTokensForPrompt(o.backend, built.prompt, built.addBos, answerTokens + (built.thinking?.budget ?? 0), status.model.contextLength),
    stop: built.stop.length ? built.stop : undefined,
    thinking: built.thinking,
    remote: { messages: chatMessages(o.prompt.system, [], o.prompt.user), thinking: s.thinking, thinkingBudget: s.thinkingBudget },
  };
  const trace = o.trace.begin({ title: o.title, detail: o.detail });
  let answer = '';
  let reasoning = '';
  let reasoningTokens = 0;
  try {
    const result = await o.backend.chat(
      request,
      (parts, tokens) => {
        trace.parts(parts, tokens);
        let answerGrew = false;
        const reasoningParts = parts.filter((p) => p.kind === 'reasoning');
        for (const p of parts) {
          if (p.kind === 'reasoning') reasoning += p.text;
          else {
            answer += p.text;
            answerGrew = true;
          }
        }
        if (reasoningParts.length) {
          reasoningTokens += splitBatchTokens(parts, tokens).reasoning;
          o.onReasoningTokens?.(reasoningTokens);
        }
        if (answerGrew) o.onAnswer(answer);
      },
      o.token,
    );
    trace.end({ result });
    return { answer: result.answer || answer, reasoning: result.reasoning || reasoning, result };
  } catch (e) {
    trace.end({ error: (e as Error).message });
    throw e;
  }
}

/** Tokens of some code, estimated (for the answer budget). */
export function codeTokens(code: string): number {
  return estimateTokens(code);
}
