// The chat's host-side logic, independent of the webview: the current conversation, sending a message
// (context, template, thinking parameters), streaming the backend's parts to the view, stop, history.
// The view provider feeds it validated webview messages and forwards what it posts. No vscode import, so a
// test can drive it with a fake backend and storage.
import { buildChatPrompt, ChatModelInfo, ContextItem, DEFAULT_SYSTEM_PROMPT } from '../shared/chatPrompt';
import { ChatTemplateError } from '../shared/chatTemplate';
import { ChatTurn, Conversation, ContextRef, newId, titleFrom } from '../shared/chatSession';
import type { ChatResult, StreamPart } from '../shared/protocol';
import { budgetBridge, formatTraceHeading, splitBatchTokens } from '../shared/reasoning';
import type { ChatAvailability, ChatSettings, HostMessage } from '../shared/webviewProtocol';
import { chatMessages, type ChatBackend, type ChatBackendStatus } from './chatBackend';
import type { ChatHistory } from './chatHistory';

export interface ChatLogger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface ContextSource {
  items(): { items: ContextItem[]; labels: ContextRef[] };
}

/** Timings of the last turn, for the log and the tests (ms). */
export interface TurnMetrics {
  turnId: string;
  /** Host: from the send message's arrival to the first streamed part. */
  hostFirstPartMs?: number;
  /** Worker: from the request's arrival to its first token. */
  workerFirstTokenMs?: number;
  /** View: from the Enter key to the first streamed text painted. */
  viewFirstPaintMs?: number;
  totalMs?: number;
}

interface Active {
  turn: ChatTurn;
  conversation: Conversation;
  cancel: () => void;
  cancelled: boolean;
  done: Promise<void>;
}

/** Answer tokens allowed after the trace (the trace has its own budget). */
export const DEFAULT_MAX_ANSWER_TOKENS = 2048;

export class ChatController {
  private conversation: Conversation;
  private active: Active | undefined;
  private availability: ChatAvailability = { ready: false, detail: 'The model runtime is starting…' };
  readonly metrics: TurnMetrics[] = [];

  constructor(
    private readonly deps: {
      backend: ChatBackend;
      history: ChatHistory;
      context: ContextSource;
      settings: () => ChatSettings & { maxTokens: number };
      post: (m: HostMessage) => void;
      log: ChatLogger;
      /** A CancellationTokenSource factory (vscode's in the extension). */
      cancellation: () => { token: { isCancellationRequested: boolean; onCancellationRequested(l: () => unknown): { dispose(): unknown } }; cancel(): void; dispose(): void };
      now?: () => number;
    },
  ) {
    const id = deps.history.currentId();
    const restored = id ? deps.history.get(id) : undefined;
    this.conversation = restored ? interrupted(restored) : emptyConversation();
  }

  get current(): Conversation {
    return this.conversation;
  }

  get busy(): boolean {
    return this.active !== undefined;
  }

  /** Resolves when the running turn (if any) has ended. */
  async idle(): Promise<void> {
    await this.active?.done;
  }

  /** Everything the view shows, after it (re)loads. */
  postAll(): void {
    const { post } = this.deps;
    post({ type: 'settings', settings: this.publicSettings() });
    post({ type: 'availability', availability: this.availability });
    post({ type: 'history', items: this.deps.history.list() });
    post({ type: 'conversation', conversation: this.conversation });
  }

  postSettings(): void {
    this.deps.post({ type: 'settings', settings: this.publicSettings() });
  }

  /** Asks the backend whether chat can run and tells the view. */
  async refreshAvailability(): Promise<ChatAvailability> {
    await this.checkStatus();
    return this.availability;
  }

  private async checkStatus(): Promise<ChatBackendStatus> {
    const s = await this.deps.backend.status();
    this.availability = s.ready
      ? { ready: true, detail: `Model: ${s.model.name}`, reasoning: s.model.hasThinkTags || /<think>/.test(s.model.chatTemplate ?? '') }
      : { ready: false, detail: s.reason };
    this.deps.post({ type: 'availability', availability: this.availability });
    if (s.ready && this.warmed !== s.model) {
      // Parse the model's template and render it once now, so the first message does not wait for it.
      this.warmed = s.model;
      const model = s.model;
      setTimeout(() => {
        try {
          buildChatPrompt({ model, history: [], text: 'Hi', context: [], thinking: true, budget: 1 });
        } catch {
          // a broken template is reported when a message is sent
        }
      }, 0);
    }
    return s;
  }

  private warmed: ChatModelInfo | undefined;

  async newChat(): Promise<void> {
    if (this.active) this.stop();
    this.conversation = emptyConversation();
    await this.deps.history.setCurrent(undefined);
    this.deps.post({ type: 'conversation', conversation: this.conversation });
  }

  async openChat(id: string): Promise<void> {
    const c = this.deps.history.get(id);
    if (!c) {
      this.deps.post({ type: 'notice', level: 'error', message: 'That chat is no longer in the history.' });
      this.deps.post({ type: 'history', items: this.deps.history.list() });
      return;
    }
    if (this.active) this.stop();
    this.conversation = interrupted(c);
    await this.deps.history.setCurrent(id);
    this.deps.post({ type: 'conversation', conversation: this.conversation });
  }

  async deleteChat(id: string): Promise<void> {
    if (this.active?.conversation.id === id) this.stop();
    await this.deps.history.delete(id);
    if (this.conversation.id === id) {
      this.conversation = emptyConversation();
      this.deps.post({ type: 'conversation', conversation: this.conversation });
    }
    this.deps.post({ type: 'history', items: this.deps.history.list() });
  }

  stop(): void {
    const a = this.active;
    if (!a || a.cancelled) return;
    a.cancelled = true;
    a.cancel();
  }

  /** The view measured Enter -> first streamed text painted. */
  recordFirstPaint(turnId: string, ms: number): void {
    const m = this.metrics.find((x) => x.turnId === turnId);
    if (!m) return;
    m.viewFirstPaintMs = ms;
    this.deps.log.info(
      `chat turn ${turnId}: Enter -> first token painted ${ms} ms in the view` +
        (m.workerFirstTokenMs !== undefined ? `; the worker's own first-token time ${Math.round(m.workerFirstTokenMs)} ms` : '') +
        (m.hostFirstPartMs !== undefined ? `; host send -> first part ${Math.round(m.hostFirstPartMs)} ms` : ''),
    );
  }

  /** Sends the user's message and streams the answer; resolves when the turn has ended. */
  async send(text: string): Promise<ChatTurn | undefined> {
    const { post, log } = this.deps;
    const now = this.deps.now ?? (() => performance.now());
    const t0 = now();
    if (this.active) {
      post({ type: 'notice', level: 'error', message: 'An answer is still streaming: stop it first.' });
      return undefined;
    }
    const status = await this.checkStatus();
    if (!status.ready) {
      post({ type: 'notice', level: 'error', message: `Model runtime not ready: ${status.reason}` });
      return undefined;
    }
    const settings = this.deps.settings();
    const { items, labels } = this.deps.context.items();
    const conversation = this.conversation;
    const history = conversation.turns
      .filter((t) => t.status === 'done' || (t.status === 'stopped' && t.answer.trim()))
      .map((t) => ({ user: t.prompt, answer: t.answer.trim() }));
    const turn: ChatTurn = {
      id: newId('turn'),
      text,
      prompt: text,
      context: labels,
      thinking: settings.thinking,
      budget: settings.thinkingBudget,
      reasoning: '',
      answer: '',
      reasoningTokens: 0,
      answerTokens: 0,
      reasoningMs: 0,
      status: 'streaming',
      startedAt: Date.now(),
    };
    let built;
    try {
      built = buildChatPrompt({ model: status.model, history, text, context: items, thinking: settings.thinking, budget: settings.thinkingBudget });
      turn.prompt = built.userMessage;
    } catch (e) {
      turn.status = 'error';
      turn.error = e instanceof ChatTemplateError ? e.message : `the prompt could not be built: ${(e as Error).message}`;
    }
    if (conversation.turns.length === 0) conversation.title = titleFrom(text);
    conversation.turns.push(turn);
    conversation.updatedAt = Date.now();
    post({ type: 'turnStart', conversationId: conversation.id, turn: { ...turn } });
    // Stored while the model starts: a reload during the answer keeps the question. Not awaited here, so
    // the request reaches the worker without waiting on storage; saves are queued in order.
    const saved = this.save(conversation);
    if (!built) {
      await saved;
      log.error(`chat: ${turn.error}`);
      post({ type: 'turnEnd', turn: { ...turn } });
      return turn;
    }

    const cts = this.deps.cancellation();
    const metrics: TurnMetrics = { turnId: turn.id };
    this.metrics.push(metrics);
    if (this.metrics.length > 50) this.metrics.shift();
    let resolveDone!: () => void;
    const active: Active = { turn, conversation, cancel: () => cts.cancel(), cancelled: false, done: new Promise((r) => (resolveDone = r)) };
    this.active = active;
    let traceStart: number | undefined;
    let traceEnd: number | undefined;
    const live = { reasoning: 0, answer: 0 };
    const onParts = (raw: StreamPart[], tokens: number) => {
      const t = now();
      if (metrics.hostFirstPartMs === undefined) metrics.hostFirstPartMs = t - t0;
      const parts: { kind: 'reasoning' | 'answer'; text: string }[] = raw.map((p) => ({ kind: p.kind === 'reasoning' ? 'reasoning' : 'answer', text: p.text }));
      for (const p of parts) {
        if (p.kind === 'reasoning') {
          traceStart ??= t;
          turn.reasoning += p.text;
        } else {
          if (traceStart !== undefined && traceEnd === undefined && p.text.trim()) traceEnd = t;
          turn.answer += p.text;
        }
      }
      const split = splitBatchTokens(parts, tokens);
      live.reasoning += split.reasoning;
      live.answer += split.answer;
      if (traceStart !== undefined) turn.reasoningMs = (traceEnd ?? t) - traceStart;
      post({ type: 'turnParts', turnId: turn.id, parts, reasoningTokens: live.reasoning, answerTokens: live.answer });
    };
    const request = {
      prompt: built.prompt,
      addBos: built.addBos,
      maxTokens: await maxTokensForPrompt(this.deps.backend, built.prompt, built.addBos, settings.maxTokens + (built.thinking?.budget ?? 0), status.model.contextLength),
      stop: built.stop.length ? built.stop : undefined,
      thinking: built.thinking,
      remote: { messages: chatMessages(DEFAULT_SYSTEM_PROMPT, history, built.userMessage), thinking: settings.thinking, thinkingBudget: settings.thinkingBudget },
    };
    log.info(
      `chat turn ${turn.id}: ${built.prompt.length} prompt characters (${built.templateSource === 'model' ? "the model's template" : 'ChatML'}), ` +
        `thinking ${settings.thinking ? `on, budget ${built.thinking?.budget ?? 0}` : 'off'}, context: ${labels.map((l) => l.label).join(', ') || 'none'}`,
    );
    turn.prepMs = now() - t0;
    try {
      const result = await this.deps.backend.chat(request, onParts, cts.token);
      turn.reasoningTokens = result.reasoningTokens;
      turn.answerTokens = result.answerTokens;
      turn.stopReason = result.stopReason;
      turn.workerFirstTokenMs = result.stats.firstTokenMs;
      turn.status = result.stopReason === 'cancelled' || active.cancelled ? 'stopped' : 'done';
      // The runtime says when it injected the bridge; an older worker did not: then the count and the
      // bridge's first line ending the trace tell.
      const budget = built.thinking?.budget ?? 0;
      turn.budgetReached =
        result.budgetReached ?? (budget > 0 && result.reasoningTokens >= budget && turn.reasoning.endsWith(budgetBridge().split('\n')[0] + '\n'));
      turn.unterminated = !!built.thinking?.startsInside && turn.answer === '' && turn.reasoning !== '' && turn.status === 'done' && !turn.budgetReached;
      metrics.workerFirstTokenMs = result.stats.firstTokenMs;
      log.info(
        `chat turn ${turn.id}: ${result.stopReason}; reasoning ${result.reasoningTokens} tokens` +
          (turn.reasoningMs ? ` (${formatTraceHeading(result.reasoningTokens, turn.reasoningMs)})` : '') +
          `, answer ${result.answerTokens}; worker first token ${Math.round(result.stats.firstTokenMs)} ms, prefill ${Math.round(result.stats.prefillMs)} ms`,
      );
    } catch (e) {
      const message = (e as Error).message;
      turn.status = active.cancelled ? 'stopped' : 'error';
      if (!active.cancelled) turn.error = message;
      log.error(`chat turn ${turn.id} failed: ${message}`);
    } finally {
      cts.dispose();
      this.active = undefined;
    }
    turn.totalMs = now() - t0;
    turn.firstPartMs = metrics.hostFirstPartMs;
    metrics.totalMs = turn.totalMs;
    if (traceStart !== undefined) turn.reasoningMs = (traceEnd ?? now()) - traceStart;
    conversation.updatedAt = Date.now();
    await this.save(conversation);
    post({ type: 'turnEnd', turn: { ...turn } });
    resolveDone();
    return turn;
  }

  /**
   * A turn whose request someone else runs (a command such as Fix or Document streams its answer into a
   * diff): the view shows its reasoning trace and answer as they stream and keeps the turn in history.
   * The shape matches the commands' TraceView.
   */
  externalTrace(): {
    begin(o: { title: string; detail: string }): {
      parts(raw: readonly StreamPart[], tokens: number): void;
      end(o: { result?: ChatResult; error?: string }): void;
    };
  } {
    return {
      begin: (o) => {
        const { post } = this.deps;
        const now = this.deps.now ?? (() => performance.now());
        const conversation = this.conversation;
        const settings = this.deps.settings();
        const text = `${o.title}: ${o.detail}`;
        const turn: ChatTurn = {
          id: newId('turn'), text, prompt: text, context: [], thinking: settings.thinking, budget: settings.thinkingBudget,
          reasoning: '', answer: '', reasoningTokens: 0, answerTokens: 0, reasoningMs: 0, status: 'streaming', startedAt: Date.now(),
        };
        if (conversation.turns.length === 0) conversation.title = titleFrom(text);
        conversation.turns.push(turn);
        post({ type: 'turnStart', conversationId: conversation.id, turn: { ...turn } });
        const live = { reasoning: 0, answer: 0 };
        let traceStart: number | undefined;
        let traceEnd: number | undefined;
        return {
          parts: (raw, tokens) => {
            const t = now();
            const parts = raw.map((p) => ({ kind: p.kind === 'reasoning' ? ('reasoning' as const) : ('answer' as const), text: p.text }));
            for (const p of parts) {
              if (p.kind === 'reasoning') {
                traceStart ??= t;
                turn.reasoning += p.text;
              } else {
                if (traceStart !== undefined && traceEnd === undefined && p.text.trim()) traceEnd = t;
                turn.answer += p.text;
              }
            }
            const split = splitBatchTokens(parts, tokens);
            live.reasoning += split.reasoning;
            live.answer += split.answer;
            if (traceStart !== undefined) turn.reasoningMs = (traceEnd ?? t) - traceStart;
            post({ type: 'turnParts', turnId: turn.id, parts, reasoningTokens: live.reasoning, answerTokens: live.answer });
          },
          end: ({ result, error }) => {
            if (result) {
              turn.reasoningTokens = result.reasoningTokens;
              turn.answerTokens = result.answerTokens;
              turn.stopReason = result.stopReason;
              turn.budgetReached = result.budgetReached;
              turn.status = result.stopReason === 'cancelled' ? 'stopped' : 'done';
            } else {
              turn.status = 'error';
              turn.error = error ?? 'failed';
            }
            conversation.updatedAt = Date.now();
            void this.save(conversation);
            post({ type: 'turnEnd', turn: { ...turn } });
          },
        };
      },
    };
  }

  private publicSettings(): ChatSettings {
    const s = this.deps.settings();
    return { thinking: s.thinking, thinkingBudget: s.thinkingBudget, foldTrace: s.foldTrace };
  }

  private saving: Promise<void> = Promise.resolve();

  /** Stores the conversation after any save still running (in order), then tells the view the history. */
  private save(c: Conversation): Promise<void> {
    const snapshot: Conversation = { ...c, turns: c.turns.map((t) => ({ ...t, context: [...t.context] })) };
    this.saving = this.saving.then(async () => {
      try {
        await this.deps.history.save(snapshot);
        if (snapshot.id === this.conversation.id) await this.deps.history.setCurrent(snapshot.id);
        this.deps.post({ type: 'history', items: this.deps.history.list() });
      } catch (e) {
        this.deps.log.warn(`chat: history could not be saved: ${(e as Error).message}`);
      }
    });
    return this.saving;
  }
}

/**
 * Tokens to ask for: what the settings allow, but leaving the prompt its room in the context (the worker
 * refuses, or cuts the prompt's start, when prompt + maxTokens exceed it). The prompt's length in tokens is
 * estimated from its UTF-8 bytes (byte-level BPE: ~3 bytes a token or more for code and English).
 */
export function maxTokensFor(prompt: string, wanted: number, contextLength: number, exactPromptTokens?: number): number {
  const promptTokens = exactPromptTokens ?? Math.ceil(new TextEncoder().encode(prompt).length / 3);
  const room = contextLength - promptTokens - 16;
  return Math.max(16, Math.min(wanted, room));
}

/**
 * maxTokensFor() with the prompt's exact token count when the backend can count (the local worker's
 * tokenizer: special token texts parsed, plus BOS when the worker adds it), else the byte estimate.
 */
export async function maxTokensForPrompt(backend: ChatBackend, prompt: string, addBos: boolean, wanted: number, contextLength: number): Promise<number> {
  const exact = await backend.countTokens?.(prompt, true).catch(() => undefined);
  return maxTokensFor(prompt, wanted, contextLength, exact === undefined ? undefined : exact + (addBos ? 1 : 0));
}

function emptyConversation(): Conversation {
  const t = Date.now();
  return { id: newId('chat'), title: 'New chat', createdAt: t, updatedAt: t, turns: [] };
}

/** A conversation restored from storage: a turn that was streaming when the window went away has stopped. */
function interrupted(c: Conversation): Conversation {
  return {
    ...c,
    turns: c.turns.map((t) => (t.status === 'streaming' ? { ...t, status: 'stopped', error: 'interrupted (the window was reloaded or closed)' } : t)),
  };
}
