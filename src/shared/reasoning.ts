// Reasoning traces of thinking models (Nemotron Nano 2: "<think>" … "</think>" before the answer): the split
// of a streamed output into reasoning and answer, and the thinking budget (when to close the trace and what
// to feed the model then). Pure and incremental: the worker runs these on each token's text, the host and
// the webview on what arrives; nothing is emitted that a later chunk could turn into a tag.
// See shared/docs/tokenizers-and-templates.md §3 (thinking budget).

export type ReasoningPartKind = 'reasoning' | 'answer';

export interface ReasoningPart {
  kind: ReasoningPartKind;
  text: string;
}

export interface ThinkTagsConfig {
  open: string;
  close: string;
  /** The prompt already opened the reasoning block (the generation prompt ends with "<think>\n"). */
  startsInside: boolean;
}

export const NEMOTRON_THINK_TAGS = { open: '<think>', close: '</think>' } as const;

/**
 * What NVIDIA's reference budget client appends when the budget ends the trace without an end tag: a period
 * closes the cut-off sentence, then the end tag and a blank line before the answer (Nemotron Nano 2 card).
 */
export function budgetBridge(close: string = NEMOTRON_THINK_TAGS.close): string {
  return `.\n${close}\n\n`;
}

/**
 * Whether a rendered prompt leaves a reasoning block open at its end: the last open tag comes after the last
 * close tag (Nano 2's "<think>\n" generation prompt, or a prefill that resumes inside a trace). Then the
 * model's output starts inside the trace.
 */
export function promptEndsInsideThink(prompt: string, tags: { open: string; close: string } = NEMOTRON_THINK_TAGS): boolean {
  const open = prompt.lastIndexOf(tags.open);
  return open >= 0 && open > prompt.lastIndexOf(tags.close);
}

/** The longest k <= needle.length - 1 such that `text` ends with the first k characters of `needle`. */
function partialTail(text: string, needle: string): number {
  for (let k = Math.min(needle.length - 1, text.length); k > 0; k--) {
    if (text.endsWith(needle.slice(0, k))) return k;
  }
  return 0;
}

/**
 * Splits a reasoning model's output into reasoning and answer parts; the tags themselves are dropped.
 *
 * One trace, at the start, as these models write it: an open tag counts only before any answer text
 * (whitespace aside), and after the close tag every later "<think>" or "</think>" is answer text — a model
 * that explains think tags in its answer, or writes them inside code, is shown as it wrote them. Tags
 * split across chunks at any character are found; a look-alike ("</thinking>", "<think" in code) is
 * text. A missing close tag leaves everything in the trace (`unterminated` says so at the end).
 */
export class ReasoningSplitter {
  private state: 'before' | 'inside' | 'after';
  private held = '';
  /** Answer text seen before any open tag: only whitespace so far? */
  private leadingWhitespace = '';
  readonly tokens = { reasoning: 0, answer: 0 };

  constructor(private readonly tags: ThinkTagsConfig) {
    this.state = tags.startsInside ? 'inside' : 'before';
  }

  /** The kind the next text belongs to, as far as known now. */
  get kind(): ReasoningPartKind {
    return this.state === 'inside' ? 'reasoning' : 'answer';
  }

  /** True while a trace is open (after flush: the output ended inside it). */
  get unterminated(): boolean {
    return this.state === 'inside';
  }

  /** The trace has been closed (the answer may follow). */
  get closed(): boolean {
    return this.state === 'after';
  }

  /** `tokens`: how many tokens this text came from, counted for the kind in force when it arrives. */
  push(text: string, tokens = 0): ReasoningPart[] {
    if (this.state === 'inside') this.tokens.reasoning += tokens;
    else this.tokens.answer += tokens;
    const out: ReasoningPart[] = [];
    let buf = this.held + text;
    this.held = '';
    for (;;) {
      if (this.state === 'after') {
        emit(out, 'answer', buf);
        return out;
      }
      if (this.state === 'inside') {
        const at = buf.indexOf(this.tags.close);
        if (at < 0) {
          const keep = partialTail(buf, this.tags.close);
          emit(out, 'reasoning', buf.slice(0, buf.length - keep));
          this.held = buf.slice(buf.length - keep);
          return out;
        }
        emit(out, 'reasoning', buf.slice(0, at));
        buf = buf.slice(at + this.tags.close.length);
        this.state = 'after';
        continue;
      }
      // before: leading whitespace is held until we know whether a trace follows
      const ws = /^\s*/.exec(buf)![0];
      const rest = buf.slice(ws.length);
      if (rest.startsWith(this.tags.open)) {
        this.leadingWhitespace = '';
        buf = rest.slice(this.tags.open.length);
        this.state = 'inside';
        continue;
      }
      if (rest.length === 0 || this.tags.open.startsWith(rest)) {
        // all whitespace, or a possible start of the open tag: undecided
        this.leadingWhitespace += ws;
        this.held = rest;
        return out;
      }
      // answer text without a trace
      emit(out, 'answer', this.leadingWhitespace + buf);
      this.leadingWhitespace = '';
      this.state = 'after';
      return out;
    }
  }

  /** The end of the stream: what was held back is text of the kind in force. */
  flush(): ReasoningPart[] {
    const out: ReasoningPart[] = [];
    const rest = (this.state === 'before' ? this.leadingWhitespace : '') + this.held;
    this.held = '';
    this.leadingWhitespace = '';
    emit(out, this.kind, rest);
    return out;
  }
}

function emit(out: ReasoningPart[], kind: ReasoningPartKind, text: string): void {
  if (!text) return;
  const last = out[out.length - 1];
  if (last && last.kind === kind) last.text += text;
  else out.push({ kind, text });
}

/** Appends parts to a list, merging neighbours of the same kind. */
export function mergeParts<T extends { kind: string; text: string }>(into: T[], parts: readonly T[]): void {
  for (const p of parts) {
    if (!p.text) continue;
    const last = into[into.length - 1];
    if (last && last.kind === p.kind) last.text += p.text;
    else into.push({ ...p });
  }
}

// ---- thinking budget ----

export interface BudgetOptions {
  /** Reasoning tokens at most; 0: no limit. */
  budget: number;
  /** The end tag whose appearance means the model closed the trace itself. */
  close: string;
  /** Fed to the model when the budget ends the trace (default: budgetBridge(close), as NVIDIA's client). */
  inject?: string;
  /**
   * Extra tokens allowed after the budget to reach the end of a line, so the trace is not cut mid-sentence
   * (NIM allows 10 %); the bridge is injected at the first newline within the grace or when it runs out.
   * Default 0: cut exactly at the budget, as NVIDIA's reference client does.
   */
  graceTokens?: number;
}

export type BudgetDecision = { inject: false } | { inject: true; text: string; reason: 'budget' | 'newline' };

/**
 * Decides when the runtime must close a reasoning trace and what it feeds the model then. The caller reports
 * every generated token's text (in order, as it streams; the trace is assumed open at the start, as after
 * Nano 2's "<think>\n" generation prompt) and, on `inject: true`, feeds `text` as if the model had written
 * it (its tokens parsed with special tokens), then keeps sampling: the answer follows.
 * Once the close tag has appeared (written by the model or injected) it never injects again.
 */
export class ThinkingBudget {
  private readonly inject: string;
  private readonly grace: number;
  private tail = '';
  private done: boolean;
  private reasoningTokens = 0;

  constructor(private readonly o: BudgetOptions) {
    this.inject = o.inject ?? budgetBridge(o.close);
    this.grace = Math.max(0, o.graceTokens ?? 0);
    this.done = o.budget <= 0 || !o.close;
  }

  /** Reasoning tokens counted so far (those before the trace closed). */
  get count(): number {
    return this.reasoningTokens;
  }

  /** True once the trace is closed (or there is no budget): nothing more will be injected. */
  get finished(): boolean {
    return this.done;
  }

  /** After each generated token: its text (may be empty, or part of a UTF-8 character's worth). */
  onToken(text: string): BudgetDecision {
    if (this.done) return { inject: false };
    this.reasoningTokens++;
    this.tail += text;
    if (this.tail.includes(this.o.close)) {
      this.done = true;
      return { inject: false };
    }
    // Keep only what may still be the start of the close tag (and one character of context for newlines).
    if (this.tail.length > 2 * this.o.close.length) this.tail = this.tail.slice(-this.o.close.length);
    if (this.reasoningTokens < this.o.budget) return { inject: false };
    const atLineEnd = text.endsWith('\n');
    if (this.reasoningTokens - this.o.budget < this.grace && !atLineEnd) return { inject: false };
    // A close tag may be half written ("</thi"): finishing it would close the trace anyway; inject regardless,
    // the splitter sees the first complete close tag.
    this.done = true;
    return { inject: true, text: this.inject, reason: this.grace > 0 && atLineEnd ? 'newline' : 'budget' };
  }
}

/**
 * For a runtime without in-generation injection (NVIDIA's reference client): the assistant prefill to
 * render with continue_final_message after the budget cut the trace — the trace so far, plus the bridge
 * unless the model closed it itself.
 */
export function budgetResumePrefill(reasoningSoFar: string, close: string = NEMOTRON_THINK_TAGS.close): string {
  return reasoningSoFar.includes(close) ? reasoningSoFar : reasoningSoFar + budgetBridge(close);
}

// ---- live statistics for the trace header ----

/**
 * Attributes a batch's token count to reasoning and answer while streaming (the worker reports tokens per
 * batch, not per kind). A batch of one kind is exact; a mixed batch (the one holding the end tag) is split
 * by characters. The final counts come from the result.
 */
export function splitBatchTokens(parts: readonly { kind: string; text: string }[], tokens: number): { reasoning: number; answer: number } {
  let r = 0;
  let a = 0;
  for (const p of parts) {
    if (p.kind === 'reasoning') r += p.text.length;
    else a += p.text.length;
  }
  if (a === 0) return { reasoning: tokens, answer: 0 };
  if (r === 0) return { reasoning: 0, answer: tokens };
  const reasoning = Math.round((tokens * r) / (r + a));
  return { reasoning, answer: tokens - reasoning };
}

/** "Reasoning — 312 tokens, 4.1 s, 76 tok/s" (the trace block's heading). */
export function formatTraceHeading(tokens: number, ms: number): string {
  const s = ms / 1000;
  const rate = s > 0 ? tokens / s : 0;
  const secs = s < 10 ? s.toFixed(1) : String(Math.round(s));
  const r = rate >= 100 || rate === 0 ? String(Math.round(rate)) : rate.toFixed(1);
  return `Reasoning — ${tokens} ${tokens === 1 ? 'token' : 'tokens'}, ${secs} s, ${r} tok/s`;
}
