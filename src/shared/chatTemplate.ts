// Chat templates: renders a GGUF's `tokenizer.chat_template` (Jinja) with @huggingface/jinja, as llama.cpp's
// Jinja path does (common/chat.cpp), into the text the worker tokenizes with special tokens parsed.
// Knows the reasoning switches of the templates we ship for: Nemotron Nano 2 (`/think`, `/no_think` in the
// system or a user message; generation prompt "<think>\n" or "<think></think>"), `enable_thinking` templates
// (Qwen 3, Nano-2-Japanese), and `continue_final_message` for the thinking-budget resume of NVIDIA's client.
// See shared/docs/tokenizers-and-templates.md §3. Pure: no vscode, no Node-only imports.
//
// A template is code from the model file, so it renders sandboxed (issue 12): @huggingface/jinja has no
// include/import/extends and no way to JavaScript objects (values are its own wrappers), and the
// interpreter here bounds what a render may take: evaluation steps, wall time, the length of any string
// and array it makes, and range() sizes (RenderLimits). Past a limit the render ends in ChatTemplateError,
// having held at most those sizes, so a hostile or broken template cannot freeze or exhaust the extension host.
import type * as Jinja from '@huggingface/jinja' with { 'resolution-mode': 'import' };
import { MAX_DOCUMENT_CHARS } from './protocol';

// @huggingface/jinja is an ES module with a CommonJS build beside it; this file compiles to CommonJS (unit
// tests, the extension bundle), so it loads that build (esbuild bundles it like any other import).
declare const require: (id: '@huggingface/jinja') => typeof Jinja;
// Its Interpreter and Environment are typed here: their declarations (dist/runtime.d.ts, imported without
// a file extension) do not resolve from an ES module declaration, so TypeScript sees them as `any`.
interface JinjaValue {
  type: string;
  value: unknown;
}
interface JinjaEnvironment {
  set(name: string, value: unknown): JinjaValue;
}
interface JinjaInterpreter {
  run(program: Jinja.Template['parsed']): JinjaValue;
  evaluate(statement: unknown, environment: JinjaEnvironment): JinjaValue;
}
const jinja = require('@huggingface/jinja');
const { Template } = jinja;
const Interpreter = jinja.Interpreter as unknown as new (env: JinjaEnvironment) => JinjaInterpreter;
const Environment = jinja.Environment as unknown as new () => JinjaEnvironment;

/** What one render may take; past any of these it fails with a ChatTemplateError naming the limit. */
export interface RenderLimits {
  /** Wall time of one render (checked every 1024 evaluation steps). */
  timeMs: number;
  /** Expressions and statements evaluated. */
  steps: number;
  /** Length of any string the template makes, the rendered prompt included (UTF-16 code units). */
  maxChars: number;
  /** Length of any list the template makes. */
  maxItems: number;
  /** Items of one range() call (checked before it is made). */
  maxRange: number;
}

/**
 * Far above what a real chat template needs (the Nemotron Nano 2 template renders a 100-turn conversation
 * in ~30k steps and a few ms), far below what freezes the host: a prompt longer than MAX_DOCUMENT_CHARS
 * could not be sent to the worker anyway.
 */
export const DEFAULT_RENDER_LIMITS: RenderLimits = {
  timeMs: 2000,
  steps: 20_000_000,
  maxChars: MAX_DOCUMENT_CHARS,
  maxItems: 1_000_000,
  maxRange: 100_000,
};

/** A render stopped by RenderLimits. */
class RenderLimitError extends Error {}

type Env = JinjaEnvironment;

/** The library's interpreter with every evaluation counted and its result's size checked. */
class LimitedInterpreter extends Interpreter {
  private steps = 0;
  private readonly deadline: number;

  constructor(
    env: Env,
    private readonly limits: RenderLimits,
  ) {
    super(env);
    this.deadline = Date.now() + limits.timeMs;
  }

  override evaluate(statement: unknown, environment: Env): JinjaValue {
    const l = this.limits;
    if (++this.steps > l.steps) throw new RenderLimitError(`it ran more than ${l.steps} evaluation steps (a template may not loop without end)`);
    if ((this.steps & 1023) === 0 && Date.now() > this.deadline) {
      throw new RenderLimitError(`it took longer than ${l.timeMs / 1000} s (${this.steps} evaluation steps)`);
    }
    const v = super.evaluate(statement, environment);
    const x: unknown = v.value;
    if (typeof x === 'string' && x.length > l.maxChars) throw new RenderLimitError(`it made text of ${x.length} characters (at most ${l.maxChars})`);
    if (Array.isArray(x) && x.length > l.maxItems) throw new RenderLimitError(`it made a list of ${x.length} items (at most ${l.maxItems})`);
    return v;
  }
}

/** The globals @huggingface/jinja's Template.render() defines, with range() bounded. */
function setGlobals(env: Env, limits: RenderLimits): void {
  for (const [k, v] of [
    ['true', true],
    ['false', false],
    ['none', null],
    ['True', true],
    ['False', false],
    ['None', null],
  ] as const) {
    env.set(k, v);
  }
  env.set('raise_exception', (message: unknown) => {
    throw new Error(String(message));
  });
  env.set('range', (a: unknown, b?: unknown, c?: unknown) => {
    const [start, stop, step] = b === undefined ? [0, a, 1] : [a, b, c ?? 1];
    if (![start, stop, step].every((n) => typeof n === 'number' && Number.isInteger(n))) throw new Error('range() takes integers');
    const [s0, s1, st] = [start, stop, step] as number[];
    if (st === 0) throw new Error('range() step must not be zero');
    const n = Math.max(0, Math.ceil((s1 - s0) / st));
    if (n > limits.maxRange) throw new RenderLimitError(`range() of ${n} items (at most ${limits.maxRange})`);
    return Array.from({ length: n }, (_, i) => s0 + i * st);
  });
  env.set('strftime_now', (format: unknown) => strftime(new Date(), String(format)));
}

/** The strftime subset chat templates use (Llama 3's "%d %b %Y"). */
function strftime(d: Date, format: string): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  const month = (style: 'short' | 'long') => d.toLocaleString('en-US', { month: style });
  return format.replace(/%[YmdbBHMS%]/g, (t) => {
    switch (t) {
      case '%Y':
        return String(d.getFullYear());
      case '%m':
        return pad(d.getMonth() + 1);
      case '%d':
        return pad(d.getDate());
      case '%b':
        return month('short');
      case '%B':
        return month('long');
      case '%H':
        return pad(d.getHours());
      case '%M':
        return pad(d.getMinutes());
      case '%S':
        return pad(d.getSeconds());
      default:
        return '%';
    }
  });
}

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

  render(o: RenderOptions, limits: RenderLimits = DEFAULT_RENDER_LIMITS): string {
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
      const env = new Environment();
      setGlobals(env, limits);
      for (const [k, v] of Object.entries(context)) env.set(k, v);
      const out = new LimitedInterpreter(env, limits).run(this.template.parsed).value as unknown;
      return typeof out === 'string' ? out : String(out);
    } catch (e) {
      const what = e instanceof RangeError ? `${e.message} (the template made too much text or recursed too deep)` : messageOf(e);
      throw new ChatTemplateError(this.name, 'render', `${what} (${describeMessages(o.messages)})`);
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
