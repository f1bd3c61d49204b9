// Stage 1: what surrounds the cursor, and whether (and how far) a completion makes sense there.
import { languageFacts, LanguageFacts } from './languages';
import { indentOf, isWordChar } from './text';

export interface CompletionContext {
  languageId: string;
  /** Workspace-relative path (for the context header), when the document has one. */
  path?: string;
  /** The whole text and the cursor (UTF-16 offset). */
  text: string;
  offset: number;
  /** The current line before and after the cursor. */
  linePrefix: string;
  lineSuffix: string;
  /** The text after the current line (from its newline on; '' at the last line). */
  afterLine: string;
  /** The current line's indentation (of what precedes the cursor, when the line is blank before it). */
  indent: string;
  language: LanguageFacts;
}

export function buildContext(text: string, offset: number, languageId: string, path?: string): CompletionContext {
  const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
  let lineEnd = text.indexOf('\n', offset);
  if (lineEnd < 0) lineEnd = text.length;
  const linePrefix = text.slice(lineStart, offset);
  return {
    languageId,
    path,
    text,
    offset,
    linePrefix,
    lineSuffix: text.slice(offset, lineEnd).replace(/\r$/, ''),
    afterLine: text.slice(lineEnd),
    indent: indentOf(linePrefix),
    language: languageFacts(languageId),
  };
}

export type Placement =
  | { ok: false; reason: string }
  | {
      ok: true;
      /** Several lines may follow (a blank line, after a block opener); else the completion ends at the line's end. */
      multiline: boolean;
      /** Word characters on both sides of the cursor: the completion must re-join the rest of the word. */
      midWord: boolean;
    };

/** Only closing brackets, quotes and separators after the cursor (`)`, `]);`, `" />`): a completion may go before them. */
const CLOSERS_ONLY = /^[\s)\]}>/"'`;,.]*$/;
/** The line opens a block or an argument list: what follows goes on the next lines. */
const OPENS_BLOCK = /(?:[{([]|=>|\bthen|\bdo|\bbegin)\s*$/;
/** In languages whose blocks are indented (Python, YAML), a line ending in `:` opens one. */
const OPENS_INDENT_BLOCK = /:\s*$/;

/**
 * Where a completion makes sense, and what kind. Not in front of code on the cursor's line (an edit there
 * is not new code, and a completion would push the rest of the line away) unless asked explicitly or the
 * rest is a run of closers (`)`, `]);`); inside a word only if the model re-joins the word (checked after
 * generation: postprocess.ts); several lines only on a blank line or after a line that opens a block.
 */
export function placement(ctx: CompletionContext, explicit = false): Placement {
  const midWord = isWordChar(ctx.linePrefix.at(-1)) && isWordChar(ctx.lineSuffix[0]);
  const closersOnly = CLOSERS_ONLY.test(ctx.lineSuffix);
  if (!midWord && !closersOnly && !explicit) return { ok: false, reason: 'code follows the cursor on its line' };
  const blankBefore = ctx.linePrefix.trim() === '';
  const opens = OPENS_BLOCK.test(ctx.linePrefix) || (ctx.language.indentBlocks && OPENS_INDENT_BLOCK.test(ctx.linePrefix));
  // `foo(|)`: the arguments go on this line; `{|}`, `[|]` and an opener at the line's end open lines.
  const inlinePair = /\(\s*$/.test(ctx.linePrefix) && ctx.lineSuffix.trim() !== '';
  const multiline = !midWord && closersOnly && (blankBefore || (opens && !inlinePair));
  return { ok: true, multiline, midWord };
}

export function lineCommentOf(ctx: CompletionContext): string {
  const c = ctx.language.comment;
  return 'line' in c ? c.line : '';
}
