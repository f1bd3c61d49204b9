// Stage 3: where a completion ends, decided while its tokens stream in, so that the host can cancel the
// generation as soon as the rest would be thrown away. Rules, in order:
//   - characters no source file wants (controls, U+FFFD of a broken byte sequence) end it before them;
//   - a single-line completion ends at the line's end;
//   - brackets: a closer of a bracket the document already closes after the cursor (the `)` of `foo(|)`,
//     the `}` of a block whose `}` is on a later line), or of a bracket opened above the cursor's line,
//     ends it before that closer; a closer the document lacks is kept, and the line it ends is the last;
//   - indentation: a later line indented less than the cursor's line (or, after a line that opens a block,
//     not more) ends the block, unless it is that block's own closing line;
//   - at most `maxLines` lines.
// (Stop strings run in the worker: see prompt.ts.) Cf. TabbyML's codeCompletion/postprocess
// (limitScopeByIndentation, removeLineEndsWithRepetition), which apply such rules after generation.
import { CompletionContext, lineCommentOf, Placement } from './context';
import { CLOSERS, firstUnprintable, indentOf, indentWidth, isWordChar, OPENERS, openBrackets, scanBrackets } from './text';

export interface StopOptions {
  /** Lines of a multi-line completion at most (default 16). */
  maxLines?: number;
  /** Columns per tab for indentation widths (default 4). */
  tabSize?: number;
  /** Characters of the text after the cursor scanned for closers (default 8000). */
  suffixScan?: number;
}

/** The brackets the cursor's line leaves open, and how many of them (innermost first) the text after the cursor closes. */
export function lineOpeners(ctx: CompletionContext, opts: StopOptions = {}): { open: string[]; closedBySuffix: number } {
  const comment = lineCommentOf(ctx);
  const open = openBrackets(ctx.linePrefix, comment).open;
  if (open.length === 0) return { open, closedBySuffix: 0 };
  const tabSize = opts.tabSize ?? 4;
  const ref = indentWidth(ctx.indent, tabSize);
  const suffix = (ctx.lineSuffix + ctx.afterLine).slice(0, opts.suffixScan ?? 8000);
  const pending = [...open];
  const inner: string[] = [];
  let closed = 0;
  scanBrackets(
    suffix,
    (ch, i) => {
      if (ch in OPENERS) {
        inner.push(ch);
        return true;
      }
      if (inner.length > 0) {
        if (inner[inner.length - 1] === CLOSERS[ch]) inner.pop();
        return true;
      }
      // A closer at depth 0 of the suffix closes one of the line's openers, unless it starts a line that
      // is indented less than the cursor's: then it closes an enclosing block, and the line's own bracket
      // is still open (a method's `{` typed above its class's `}`).
      const lineStart = suffix.lastIndexOf('\n', i - 1) + 1;
      const before = suffix.slice(lineStart, i);
      if (lineStart > 0 && before.trim() === '' && indentWidth(before, tabSize) < ref) return false;
      if (pending.length === 0 || pending[pending.length - 1] !== CLOSERS[ch]) return false;
      pending.pop();
      closed++;
      return pending.length > 0;
    },
    comment,
  );
  return { open, closedBySuffix: closed };
}

type Verdict = { stop: false } | { stop: true; at: number };

/** Applies the rules to a streaming completion: push() each piece; stopped tells when the rest is not needed. */
export class StopRules {
  private text = '';
  private cut = -1;
  /** Index up to which the text was checked (a line is checked once it has content). */
  private checked = 0;
  /** Brackets opened by the completion, innermost last. */
  private readonly own: string[] = [];
  /** The cursor line's openers the completion may still close (those the document does not close). */
  private readonly closable: string[];
  private readonly suffixClosed: string[];
  private closedLineOpener = false;
  private readonly ref: number;
  private readonly opensBlock: boolean;
  private readonly maxLines: number;
  private readonly tabSize: number;
  private readonly comment: string;
  private lines = 1;
  private inString = '';
  private inComment = false;
  private lineChecked = false;

  constructor(
    private readonly ctx: CompletionContext,
    private readonly where: Extract<Placement, { ok: true }>,
    opts: StopOptions = {},
  ) {
    const { open, closedBySuffix } = lineOpeners(ctx, opts);
    // The innermost `closedBySuffix` openers are closed after the cursor; the outer ones are the completion's to close.
    this.suffixClosed = open.slice(open.length - closedBySuffix);
    this.closable = open.slice(0, open.length - closedBySuffix);
    this.tabSize = opts.tabSize ?? 4;
    this.ref = indentWidth(ctx.indent, this.tabSize);
    this.opensBlock = open.length > 0 || (ctx.language.indentBlocks && /:\s*$/.test(ctx.linePrefix)) || /\b(then|do|begin)\s*$/.test(ctx.linePrefix);
    this.maxLines = opts.maxLines ?? 16;
    this.comment = lineCommentOf(ctx);
  }

  get stopped(): boolean {
    return this.cut >= 0;
  }

  /** Adds streamed text; returns true once the completion has ended (the generation can be cancelled). */
  push(piece: string): boolean {
    if (this.cut >= 0) return true;
    this.text += piece;
    this.scan();
    return this.cut >= 0;
  }

  /** The completion as the rules cut it, after the last piece. */
  finish(): string {
    if (this.cut < 0) this.scan();
    return this.cut >= 0 ? this.text.slice(0, this.cut) : this.text;
  }

  private stopAt(at: number): void {
    this.cut = Math.max(0, at);
  }

  private scan(): void {
    const t = this.text;
    while (this.checked < t.length && this.cut < 0) {
      const i = this.checked;
      const ch = t[i];
      if (firstUnprintable(ch) === 0) return this.stopAt(i);
      if (ch === '\n') {
        if (!this.where.multiline) return this.stopAt(i);
        if (this.closedLineOpener && this.closable.length === 0) return this.stopAt(i);
        if (++this.lines > this.maxLines) return this.stopAt(i);
        this.inString = '';
        this.inComment = false;
        this.lineChecked = false;
        this.checked++;
        continue;
      }
      // A line after the first is judged by its indentation once its first non-blank character is here.
      if (this.lines > 1 && !this.lineChecked) {
        if (ch === ' ' || ch === '\t') {
          this.checked++;
          continue;
        }
        this.lineChecked = true;
        const v = this.checkIndent(i);
        if (v.stop) return this.stopAt(v.at);
      }
      const v = this.checkChar(i);
      if (v.stop) return this.stopAt(v.at);
      this.checked++;
    }
  }

  /** Where the line holding index i starts. */
  private lineStart(i: number): number {
    return this.text.lastIndexOf('\n', i - 1) + 1;
  }

  /**
   * Cut before the line at i (its newline included) when the document's text after the cursor goes on from
   * there on a line of its own; keep its indentation when the rest of the cursor's line follows the
   * completion (`{|}`: the `}` comes right after it, on the completion's last line).
   */
  private cutLineAt(i: number): Verdict {
    const start = this.lineStart(i);
    if (this.ctx.lineSuffix.trim() !== '') return { stop: true, at: start + indentOf(this.text.slice(start)).length };
    return { stop: true, at: Math.max(0, start - 1) };
  }

  private checkIndent(i: number): Verdict {
    const start = this.lineStart(i);
    const width = indentWidth(this.text.slice(start, i), this.tabSize);
    const ch = this.text[i];
    const closingLine = ch in CLOSERS || this.startsWithClosingWord(i);
    if (closingLine) {
      // Judged by the bracket rule (checkChar) or, for closing words, here.
      if (ch in CLOSERS) return { stop: false };
      if (this.opensBlock && width === this.ref && this.closable.length + this.suffixClosed.length === 0 && !this.closedLineOpener) {
        this.closedLineOpener = true; // `end` of the block the cursor's line opened: the last line
        return { stop: false };
      }
      return this.cutLineAt(i);
    }
    const limit = this.opensBlock ? this.ref + 1 : this.ref;
    if (width < limit) return this.cutLineAt(i);
    return { stop: false };
  }

  private startsWithClosingWord(i: number): boolean {
    for (const w of this.ctx.language.closingWords) {
      if (this.text.startsWith(w, i) && !isWordChar(this.text[i + w.length])) return true;
    }
    return false;
  }

  private checkChar(i: number): Verdict {
    const t = this.text;
    const ch = t[i];
    if (this.inComment) return { stop: false };
    if (this.inString) {
      if (ch === '\\') this.checked++;
      else if (ch === this.inString) this.inString = '';
      return { stop: false };
    }
    if (ch === '"' || ch === "'" || ch === '`') {
      this.inString = ch;
      return { stop: false };
    }
    if (this.comment && t.startsWith(this.comment, i)) {
      this.inComment = true;
      return { stop: false };
    }
    if (ch in OPENERS) {
      this.own.push(ch);
      return { stop: false };
    }
    if (!(ch in CLOSERS)) return { stop: false };
    if (this.own.length > 0) {
      // Mismatched closers inside the completion are the model's business; pop what it opened.
      this.own.pop();
      return { stop: false };
    }
    const atLineStart = t.slice(this.lineStart(i), i).trim() === '' && this.lineStart(i) > 0;
    if (this.closable.length > 0 && this.closable[this.closable.length - 1] === CLOSERS[ch]) {
      // Closes one of the cursor line's brackets that the document leaves open: keep it.
      this.closable.pop();
      this.closedLineOpener = true;
      return { stop: false };
    }
    // Closes a bracket the document already closes, or one opened above the cursor's line: end before it.
    return atLineStart ? this.cutLineAt(i) : { stop: true, at: trimEndIndex(t, i) };
  }
}

/** i moved back over the spaces before it (a completion does not end in blanks before a closer that follows). */
function trimEndIndex(t: string, i: number): number {
  let j = i;
  while (j > 0 && (t[j - 1] === ' ' || t[j - 1] === '\t')) j--;
  return j;
}
