// Builds a chat request for the worker from a conversation: the context chips (active file, selection) put
// into the user message, the history, the reasoning switch the model's template understands, the template
// rendered, and the thinking parameters (tags, whether the prompt opened the trace, budget, bridge text).
// Pure: the host calls it, unit tests check its output byte for byte.
import { assistantTurnEnd, ChatMessage, ChatTemplate, CHATML_TEMPLATE, stripLeadingBos, withThinkingSwitch } from './chatTemplate';
import { budgetBridge, NEMOTRON_THINK_TAGS, promptEndsInsideThink } from './reasoning';

/** What the host knows about the loaded model for chat (from the worker's ModelInfo). */
export interface ChatModelInfo {
  /** For messages: the model file's name. */
  name: string;
  /** The GGUF's tokenizer.chat_template, or null: ChatML is used (as llama.cpp does). */
  chatTemplate: string | null;
  addBos: boolean;
  /** Token texts, when the runtime reports them (templates that write them need them). */
  bosText?: string;
  eosText?: string;
  /** The think tags are tokens of the vocabulary (ids from the worker), or at least the template writes them. */
  hasThinkTags: boolean;
  contextLength: number;
}

export interface ContextItem {
  kind: 'file' | 'selection';
  /** Workspace-relative path (or the file name). */
  path: string;
  languageId: string;
  text: string;
  /** 1-based lines, for a selection. */
  startLine?: number;
  endLine?: number;
  /** The text was cut to fit: the message says so. */
  truncated?: boolean;
}

export interface PriorTurn {
  /** The user message as it was sent (context included). */
  user: string;
  answer: string;
}

export interface ChatPromptOptions {
  model: ChatModelInfo;
  history: readonly PriorTurn[];
  /** The user's words. */
  text: string;
  context: readonly ContextItem[];
  thinking: boolean;
  /** Reasoning tokens at most (0: no limit). */
  budget: number;
  systemPrompt?: string;
}

export interface ChatThinking {
  startsInside: boolean;
  open: string;
  close: string;
  budget: number;
  inject: string;
}

export interface BuiltChatPrompt {
  prompt: string;
  addBos: boolean;
  /** The user message as sent (kept in history for later turns). */
  userMessage: string;
  /** Stop strings: the template's end-of-turn marker, for GGUFs that do not list it as end of generation. */
  stop: string[];
  /** Present when the model can think: how to split and bound its trace. */
  thinking?: ChatThinking;
  /** The template used ("the model's", or ChatML when it has none). */
  templateSource: 'model' | 'chatml';
}

export const DEFAULT_SYSTEM_PROMPT =
  'You are Hybrid Copilot, a coding assistant running locally inside VS Code. Answer precisely and concisely. ' +
  'Use Markdown; put code in fenced code blocks with a language tag.';

/** Context put in front of the user's words, each item as a fenced block named by its path. */
export function userMessageWithContext(text: string, context: readonly ContextItem[]): string {
  if (context.length === 0) return text;
  const blocks = context.map((c) => {
    const where = c.kind === 'selection' && c.startLine ? `${c.path} (lines ${c.startLine}-${c.endLine ?? c.startLine})` : c.path;
    const what = c.kind === 'selection' ? 'Selected code from' : 'File';
    const fence = fenceFor(c.text);
    return `${what} ${where}${c.truncated ? ' (truncated)' : ''}:\n${fence}${c.languageId}\n${c.text}\n${fence}`;
  });
  return `${blocks.join('\n\n')}\n\n${text}`;
}

/** A fence longer than any backtick run in the text, so the text cannot close it. */
export function fenceFor(text: string): string {
  let longest = 0;
  for (const m of text.matchAll(/`+/g)) longest = Math.max(longest, m[0].length);
  return '`'.repeat(Math.max(3, longest + 1));
}

/** Caches parsed templates by source (a template is parsed once per model). */
const templateCache = new Map<string, ChatTemplate>();

export function chatTemplateFor(model: ChatModelInfo): ChatTemplate {
  const source = model.chatTemplate ?? CHATML_TEMPLATE;
  const key = `${model.name}\u0000${source}`;
  let t = templateCache.get(key);
  if (!t) {
    t = new ChatTemplate(source, model.chatTemplate ? `model ${model.name}` : `ChatML (model ${model.name} has no chat template)`);
    if (templateCache.size > 8) templateCache.clear();
    templateCache.set(key, t);
  }
  return t;
}

const turnEnds = new WeakMap<ChatTemplate, string | null>();
function turnEndOf(template: ChatTemplate, model: ChatModelInfo): string | undefined {
  let end = turnEnds.get(template);
  if (end === undefined) {
    end = assistantTurnEnd(template, { bosToken: model.bosText, eosToken: model.eosText }) ?? null;
    turnEnds.set(template, end);
  }
  return end ?? undefined;
}

export function buildChatPrompt(o: ChatPromptOptions): BuiltChatPrompt {
  const template = chatTemplateFor(o.model);
  const userMessage = userMessageWithContext(o.text, o.context);
  const messages: ChatMessage[] = [{ role: 'system', content: o.systemPrompt ?? DEFAULT_SYSTEM_PROMPT }];
  for (const t of o.history) {
    messages.push({ role: 'user', content: t.user }, { role: 'assistant', content: t.answer });
  }
  messages.push({ role: 'user', content: userMessage });
  const canThink = o.model.hasThinkTags || template.knowsThinkTags;
  const rendered = template.render({
    messages: canThink ? withThinkingSwitch(template, messages, o.thinking) : messages,
    addGenerationPrompt: true,
    bosToken: o.model.bosText,
    eosToken: o.model.eosText,
    enableThinking: template.thinkingSwitch === 'kwarg' ? o.thinking : undefined,
  });
  const prompt = stripLeadingBos(rendered, o.model.bosText, o.model.addBos);
  const end = turnEndOf(template, o.model);
  const built: BuiltChatPrompt = {
    prompt,
    addBos: o.model.addBos,
    userMessage,
    stop: end ? [end] : [],
    templateSource: o.model.chatTemplate ? 'model' : 'chatml',
  };
  if (canThink) {
    const tags = NEMOTRON_THINK_TAGS;
    const startsInside = promptEndsInsideThink(prompt, tags);
    built.thinking = {
      startsInside,
      open: tags.open,
      close: tags.close,
      // The budget counts from the first generated token: only meaningful when the prompt opened the trace.
      budget: o.thinking && startsInside ? Math.max(0, o.budget) : 0,
      inject: budgetBridge(tags.close),
    };
  }
  return built;
}
