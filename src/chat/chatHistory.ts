// Past chats, kept in the extension's globalState (survives window reloads and restarts), newest first,
// bounded by HISTORY_LIMITS. Only the vscode.Memento interface is used: tests pass a Map-backed one.
import { Conversation, ConversationSummary, HISTORY_LIMITS, summarize } from '../shared/chatSession';

export interface MementoLike {
  get<T>(key: string): T | undefined;
  update(key: string, value: unknown): Thenable<void>;
}

const KEY = 'hybridCopilot.chat.conversations';
const CURRENT_KEY = 'hybridCopilot.chat.current';

export class ChatHistory {
  constructor(private readonly memento: MementoLike) {}

  list(): ConversationSummary[] {
    return this.all().map(summarize);
  }

  get(id: string): Conversation | undefined {
    return this.all().find((c) => c.id === id);
  }

  /** The conversation shown last (restored after a reload). */
  currentId(): string | undefined {
    return this.memento.get<string>(CURRENT_KEY);
  }

  async setCurrent(id: string | undefined): Promise<void> {
    await this.memento.update(CURRENT_KEY, id);
  }

  /** Stores a conversation (replacing the one with its id), moves it to the front, trims the oldest. */
  async save(c: Conversation): Promise<void> {
    const rest = this.all().filter((x) => x.id !== c.id);
    const kept = [bounded(c), ...rest].slice(0, HISTORY_LIMITS.conversations);
    await this.memento.update(KEY, kept);
  }

  async delete(id: string): Promise<void> {
    await this.memento.update(
      KEY,
      this.all().filter((c) => c.id !== id),
    );
    if (this.currentId() === id) await this.setCurrent(undefined);
  }

  private all(): Conversation[] {
    const v = this.memento.get<unknown>(KEY);
    return Array.isArray(v) ? (v.filter(isConversation) as Conversation[]) : [];
  }
}

function bounded(c: Conversation): Conversation {
  const cut = (s: string) => (s.length > HISTORY_LIMITS.textChars ? s.slice(0, HISTORY_LIMITS.textChars) : s);
  return {
    ...c,
    turns: c.turns.slice(-HISTORY_LIMITS.turnsPerConversation).map((t) => ({
      ...t,
      prompt: cut(t.prompt),
      reasoning: cut(t.reasoning),
      answer: cut(t.answer),
    })),
  };
}

/** Storage written by an older version (or damaged) is skipped, not trusted. */
function isConversation(v: unknown): boolean {
  const c = v as Conversation;
  return !!c && typeof c.id === 'string' && typeof c.title === 'string' && Array.isArray(c.turns);
}
