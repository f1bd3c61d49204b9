// The local model inside VS Code's own chat and for other extensions (vscode.lm.selectChatModels({ vendor:
// 'hybrid-copilot' })), through the Language Model Chat Provider API (stable since VS Code 1.104). One model
// is offered, the one the runtime has loaded; requests render the model's chat template (the chat view's
// builder) and stream the answer as text parts from the same worker. The stable API has no part for
// reasoning, so the model answers without thinking unless the caller asks for it
// (modelOptions.thinking: true), and then only the answer is streamed. No tool calling (the capability is not
// declared, so VS Code offers the model in Ask mode, not Agent mode). Token counts are exact (the worker's
// tokenize request) for the local model, estimated (UTF-8 bytes / 3, an overestimate) for a backend without one.
import * as vscode from 'vscode';
import { chatMessages, type ChatBackend } from '../chat/chatBackend';
import { maxTokensForPrompt } from '../chat/chatController';
import { buildChatPrompt, DEFAULT_SYSTEM_PROMPT } from '../shared/chatPrompt';
import { estimateTokens, LmMessage, LmPart, toConversation } from '../shared/commands/lmMessages';

export const LM_VENDOR = 'hybrid-copilot';

export interface LmSettings {
  /** Answer tokens at most. */
  maxOutputTokens: number;
  thinkingBudget: number;
}

/** What callers may pass as modelOptions. */
export interface HybridModelOptions {
  thinking?: boolean;
  thinkingBudget?: number;
  maxTokens?: number;
  temperature?: number;
}

function partOf(p: unknown): LmPart {
  if (p instanceof vscode.LanguageModelTextPart) return { kind: 'text', text: p.value };
  if (p instanceof vscode.LanguageModelToolCallPart) return { kind: 'toolCall', text: `${p.name}(${JSON.stringify(p.input)})` };
  if (p instanceof vscode.LanguageModelToolResultPart) {
    const text = p.content.map((c) => (c instanceof vscode.LanguageModelTextPart ? c.value : '')).join('');
    return { kind: 'toolResult', text };
  }
  return { kind: 'other', text: '' };
}

export function toLmMessages(messages: readonly vscode.LanguageModelChatRequestMessage[]): LmMessage[] {
  return messages.map((m) => ({
    // Role 3 is the proposed System role: treated as system text when it arrives.
    role: m.role === vscode.LanguageModelChatMessageRole.User ? 'user' : m.role === vscode.LanguageModelChatMessageRole.Assistant ? 'assistant' : 'system',
    parts: m.content.map(partOf),
  }));
}

export class HybridLanguageModelProvider implements vscode.LanguageModelChatProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeLanguageModelChatInformation = this.changed.event;

  constructor(
    private readonly backend: ChatBackend,
    private readonly settings: () => LmSettings,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  /** The runtime or its model changed: VS Code asks for the model list again. */
  refresh(): void {
    this.changed.fire();
  }

  async provideLanguageModelChatInformation(): Promise<vscode.LanguageModelChatInformation[]> {
    const status = await this.backend.status();
    if (!status.ready) return [];
    const m = status.model;
    const maxOutputTokens = Math.min(this.settings().maxOutputTokens, Math.floor(m.contextLength / 2));
    const name = m.name.replace(/\.gguf$/i, '');
    return [
      {
        id: 'local',
        name: `${name} (local)`,
        family: 'hybrid-copilot',
        version: m.name,
        detail: 'Hybrid Copilot',
        tooltip: `${m.name} on this machine through Hybrid Copilot; context ${m.contextLength} tokens; nothing leaves the computer.`,
        maxInputTokens: Math.max(256, m.contextLength - maxOutputTokens),
        maxOutputTokens,
        capabilities: { imageInput: false, toolCalling: false },
      },
    ];
  }

  async provideLanguageModelChatResponse(
    _model: vscode.LanguageModelChatInformation,
    messages: readonly vscode.LanguageModelChatRequestMessage[],
    options: vscode.ProvideLanguageModelChatResponseOptions,
    progress: vscode.Progress<vscode.LanguageModelResponsePart>,
    token: vscode.CancellationToken,
  ): Promise<void> {
    const status = await this.backend.status();
    if (!status.ready) throw new Error(`Hybrid Copilot: ${status.reason}`);
    const opts = (options.modelOptions ?? {}) as HybridModelOptions;
    const conv = toConversation(toLmMessages(messages));
    const thinking = opts.thinking === true;
    const budget = opts.thinkingBudget ?? this.settings().thinkingBudget;
    const built = buildChatPrompt({
      model: status.model,
      history: conv.history,
      text: conv.text,
      context: [],
      thinking,
      budget,
      systemPrompt: conv.system ?? DEFAULT_SYSTEM_PROMPT,
    });
    const wanted = (opts.maxTokens ?? this.settings().maxOutputTokens) + (built.thinking?.budget ?? 0);
    const t0 = performance.now();
    const result = await this.backend.chat(
      {
        prompt: built.prompt,
        addBos: built.addBos,
        maxTokens: await maxTokensForPrompt(this.backend, built.prompt, built.addBos, wanted, status.model.contextLength),
        stop: built.stop.length ? built.stop : undefined,
        thinking: built.thinking,
        sampling: opts.temperature !== undefined ? { temperature: opts.temperature } : undefined,
        remote: { messages: chatMessages(conv.system ?? DEFAULT_SYSTEM_PROMPT, conv.history, conv.text), thinking, thinkingBudget: budget },
      },
      (parts) => {
        for (const p of parts) if (p.kind !== 'reasoning' && p.text) progress.report(new vscode.LanguageModelTextPart(p.text));
      },
      token,
    );
    this.log.info(
      `lm provider: ${messages.length} messages, ${built.prompt.length} prompt characters; ${result.reasoningTokens} reasoning + ` +
        `${result.answerTokens} answer tokens, ${result.stopReason}, ${Math.round(performance.now() - t0)} ms`,
    );
  }

  async provideTokenCount(_model: vscode.LanguageModelChatInformation, text: string | vscode.LanguageModelChatRequestMessage): Promise<number> {
    // Exact from the loaded model's tokenizer; estimated (UTF-8 bytes / 3, an overestimate) when it cannot count.
    const count = async (s: string) => (await this.backend.countTokens?.(s).catch(() => undefined)) ?? estimateTokens(s);
    if (typeof text === 'string') return count(text);
    const parts = text.content.map(partOf);
    // + the turn's markers (role header and end of turn) of a chat template
    return (await count(parts.map((p) => p.text).join('\n'))) + 4;
  }

  dispose(): void {
    this.changed.dispose();
  }
}

export function registerLanguageModelProvider(provider: HybridLanguageModelProvider): vscode.Disposable {
  return vscode.lm.registerLanguageModelChatProvider(LM_VENDOR, provider);
}
