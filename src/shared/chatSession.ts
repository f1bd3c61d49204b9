// The chat's data: conversations and their turns as the host keeps them in history (extension storage) and
// shows them in the webview. Pure types and helpers; no vscode import.

export type TurnStatus = 'streaming' | 'done' | 'stopped' | 'error';

/** A context chip as sent with a turn (label only; the text went into `prompt`). */
export interface ContextRef {
  kind: 'file' | 'selection';
  label: string;
}

export interface ChatTurn {
  id: string;
  /** The user's words as typed. */
  text: string;
  /** The user message as sent to the template (context included): later turns re-send it. */
  prompt: string;
  context: ContextRef[];
  thinking: boolean;
  budget: number;
  reasoning: string;
  answer: string;
  reasoningTokens: number;
  answerTokens: number;
  /** Time spent in the trace: from its first text to the answer's first text (or the end). */
  reasoningMs: number;
  /** The budget ended the trace (the runtime injected the close tag). */
  budgetReached?: boolean;
  /** The output ended inside the trace (no close tag). */
  unterminated?: boolean;
  status: TurnStatus;
  error?: string;
  stopReason?: string;
  startedAt: number;
  /** Host: from send to the first streamed text; the worker's own firstTokenMs beside it. */
  firstPartMs?: number;
  /** Host: from send to the request handed to the runtime (status, context, template). */
  prepMs?: number;
  workerFirstTokenMs?: number;
  totalMs?: number;
}

export interface Conversation {
  id: string;
  title: string;
  createdAt: number;
  updatedAt: number;
  turns: ChatTurn[];
}

export interface ConversationSummary {
  id: string;
  title: string;
  updatedAt: number;
  turns: number;
}

export function summarize(c: Conversation): ConversationSummary {
  return { id: c.id, title: c.title, updatedAt: c.updatedAt, turns: c.turns.length };
}

/** A conversation's title: its first message, on one line, shortened. */
export function titleFrom(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  if (!line) return 'New chat';
  return line.length > 60 ? `${line.slice(0, 57)}…` : line;
}

export function newId(prefix: string): string {
  const rnd = Math.floor(Math.random() * 0x100000000).toString(36);
  return `${prefix}-${Date.now().toString(36)}-${rnd}`;
}

/** Limits of what history keeps, so globalState stays small. */
export const HISTORY_LIMITS = {
  conversations: 50,
  turnsPerConversation: 200,
  /** Characters kept of each of a turn's texts. */
  textChars: 200_000,
} as const;
