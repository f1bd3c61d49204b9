// Chat templates: renders a GGUF's `tokenizer.chat_template` (Jinja) with @huggingface/jinja, as llama.cpp's
// Jinja path does (common/chat.cpp), into the text the worker tokenizes with special tokens parsed.
// Knows the reasoning switches of the templates we ship for: Nemotron Nano 2 (`/think`, `/no_think` in the
// system or a user message; generation prompt "<think>\n" or "<think></think>"), `enable_thinking` templates
// (Qwen 3, Nano-2-Japanese), and `continue_final_message` for the thinking-budget resume of NVIDIA's client.
// See shared/docs/tokenizers-and-templates.md §3. Pure: no vscode, no Node-only imports.
import type * as Jinja from '@huggingface/jinja' with { 'resolution-mode': 'import' };

// @huggingface/jinja is an ES module with a CommonJS build beside it; this file compiles to CommonJS (unit
// tests, the extension bundle), so it loads that build (esbuild bundles it like any other import).
declare const require: (id: '@huggingface/jinja') => typeof Jinja;
const { Template } = require('@huggingface/jinja');

export type ChatRole = 'system' | 'user' | 'assistant' | 'tool';

export interface ChatMessage {
  role: ChatRole;
  content: string;
  /** Assistant tool calls, passed through to templates that render them. */
  tool_calls?: unknown[];
}

export interface RenderOptions {
  messages: readonly ChatMessage[];
  /** End with the assistant turn's opening (what the model continues from). */
  addGenerationPrompt: boolean;
  /** The last message is an assistant prefill: render it without its end-of-turn marker (budget resume). */
  continueFinalMessage?: boolean;
  /** Text of the BOS / EOS tokens (templates that write them). */
  bosToken?: string;
  eosToken?: string;
  tools?: unknown[];
  /** For templates switched by a kwarg (Qwen 3, Nemotron-Nano-9B-v2-Japanese); others ignore it. */
  enableThinking?: boolean;
}

/** A template that does not parse or does not render; the message names the template and what failed. */
export class ChatTemplateError extends Error {
  constructor(
    readonly templateName: string,
    readonly stage: 'parse' | 'render',
    readonly detail: string,
  ) {
    super(
      stage === 'parse'
        ? `chat template of ${templateName} does not parse: ${detail}`
        : `chat template of ${templateName} failed to render: ${detail}`,
    );
    this.name = 'ChatTemplateError';
  }
}

/** The ChatML template llama.cpp falls back to when a model has none (src/llama-chat.cpp LLM_CHAT_TEMPLATE_CHATML). */
export const CHATML_TEMPLATE =
  "{%- for message in messages -%}{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' -}}{%- endfor -%}" +
  "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}";

/** How a template turns the model's reasoning on and off. */
export type ThinkingSwitch =
  /** `/think` or `/no_think` anywhere in the system or a user message (Nemotron Nano 2). */
  | 'system-flag'
  /** the `enable_thinking` variable (Qwen 3, Nano-2-Japanese). */
  | 'kwarg'
  /** the template has no switch (it may still think, or never). */
  | 'none';

export class ChatTemplate {
  private readonly template: Jinja.Template;
  readonly thinkingSwitch: ThinkingSwitch;
  /** The template writes think tags itself (its generation prompt may open or close a reasoning block). */
  readonly knowsThinkTags: boolean;

  /**
   * @param source the Jinja text (a GGUF's `tokenizer.chat_template`)
   * @param name how errors name it, e.g. the model file's name
   */
  constructor(
    readonly source: string,
    readonly name: string,
  ) {
    try {
      this.template = new Template(source);
    } catch (e) {
      throw new ChatTemplateError(name, 'parse', messageOf(e));
    }
    this.thinkingSwitch = /\/no_think/.test(source) ? 'system-flag' : /\benable_thinking\b/.test(source) ? 'kwarg' : 'none';
    this.knowsThinkTags = source.includes('<think>') || source.includes('</think>');
  }

  render(o: RenderOptions): string {
    const context: Record<string, unknown> = {
      messages: o.messages.map((m) => ({ ...m })),
      add_generation_prompt: o.addGenerationPrompt,
      bos_token: o.bosToken ?? '',
      eos_token: o.eosToken ?? '',
      // raise_exception (templates call it on bad input) is built into @huggingface/jinja: it throws an
      // Error with the template's message.
    };
    if (o.tools && o.tools.length) context.tools = o.tools;
    // Only defined when asked: the Nano 2 template tests `continue_final_message is defined`.
    if (o.continueFinalMessage !== undefined) context.continue_final_message = o.continueFinalMessage;
    if (o.enableThinking !== undefined) context.enable_thinking = o.enableThinking;
    try {
      return this.template.render(context);
    } catch (e) {
      throw new ChatTemplateError(this.name, 'render', `${messageOf(e)} (${describeMessages(o.messages)})`);
    }
  }
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function describeMessages(messages: readonly ChatMessage[]): string {
  const roles = messages.map((m) => m.role);
  return roles.length ? `messages: ${roles.join(', ')}` : 'no messages';
}

/**
 * Adds the reasoning switch a template understands to the messages: for `system-flag` templates,
 * " /think" or " /no_think" at the end of the system message (one is added when there is none); the
 * template removes the flag from the text it renders. Other templates get `enableThinking` instead.
 */
export function withThinkingSwitch(template: ChatTemplate, messages: readonly ChatMessage[], thinking: boolean): ChatMessage[] {
  const out = messages.map((m) => ({ ...m }));
  if (template.thinkingSwitch !== 'system-flag') return out;
  const flag = thinking ? '/think' : '/no_think';
  if (out[0]?.role === 'system') out[0].content = out[0].content ? `${out[0].content} ${flag}` : flag;
  else out.unshift({ role: 'system', content: flag });
  return out;
}

/**
 * llama.cpp strips a leading BOS text from the rendered prompt when the tokenizer adds BOS itself
 * (common/chat.cpp), so that the prompt does not start with two.
 */
export function stripLeadingBos(prompt: string, bosToken: string | undefined, addBos: boolean): string {
  return addBos && bosToken && prompt.startsWith(bosToken) ? prompt.slice(bosToken.length) : prompt;
}

/**
 * The marker a template writes at the end of an assistant turn (Nano 2 "<SPECIAL_12>", ChatML "<|im_end|>",
 * Granite "<|end_of_text|>"), found by rendering a probe conversation: the model writes it when its answer
 * ends, so it is a stop string for models whose GGUF does not list it as an end-of-generation token.
 */
export function assistantTurnEnd(template: ChatTemplate, opts: { bosToken?: string; eosToken?: string } = {}): string | undefined {
  const probe = 'Zq7xW3pLq';
  try {
    const text = template.render({
      messages: [
        { role: 'user', content: 'Hello' },
        { role: 'assistant', content: probe },
      ],
      addGenerationPrompt: false,
      ...opts,
    });
    const at = text.lastIndexOf(probe);
    if (at < 0) return undefined;
    const end = text.slice(at + probe.length).trim();
    return end.length > 0 && end.length <= 64 ? end : undefined;
  } catch {
    return undefined;
  }
}
