// Diff assembly: a model's code turned into one edit of the document (offsets into its text), with the
// indentation of the place it goes to; the proposed document the diff preview shows; and a line count of
// what changes. The host applies the same edit when the user accepts, so what was shown is what is made.
import type { LineRange } from './enclosing';
import { DocStyle, existingDocComment } from './docStyle';

/** Replace `[start, end)` of the original text (UTF-16 offsets) with `text`. */
export interface TextEdit {
  start: number;
  end: number;
  text: string;
}

export function applyEdit(original: string, e: TextEdit): string {
  return original.slice(0, e.start) + e.text + original.slice(e.end);
}

/** Offsets of each line's start; the last entry is the text's length (+1 for a virtual line end). */
export function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) starts.push(i + 1);
  return starts;
}

/** The end of line `line`'s content (before its \r\n or \n). */
function lineEnd(text: string, starts: readonly number[], line: number): number {
  let end = line + 1 < starts.length ? starts[line + 1] - 1 : text.length;
  if (end > starts[line] && text[end - 1] === '\r') end--;
  return end;
}

export function eolOf(text: string): '\n' | '\r\n' {
  return /\r\n/.test(text) ? '\r\n' : '\n';
}

export function leadingWhitespace(line: string): string {
  return /^[ \t]*/.exec(line)![0];
}

/** `code` (any indentation) with its common indentation replaced by `indent` on every non-blank line. */
export function reindent(code: string, indent: string, eol: '\n' | '\r\n' = '\n'): string {
  const lines = code.replace(/\r\n/g, '\n').split('\n');
  let common: number | undefined;
  for (const l of lines) {
    if (!l.trim()) continue;
    const n = leadingWhitespace(l).length;
    common = common === undefined ? n : Math.min(common, n);
  }
  return lines.map((l) => (l.trim() ? indent + l.slice(common ?? 0).trimEnd() : '')).join(eol);
}

/**
 * Replaces whole lines (`range`, inclusive) with `code`, re-indented to the first line's indentation. The
 * line break after the last line stays.
 */
export function replaceLinesEdit(original: string, range: LineRange, code: string): TextEdit {
  const starts = lineStarts(original);
  const start = starts[range.startLine];
  const end = lineEnd(original, starts, Math.min(range.endLine, starts.length - 1));
  const indent = leadingWhitespace(original.slice(start, end));
  return { start, end, text: reindent(stripTrailingBlankLines(code), indent, eolOf(original)) };
}

/**
 * Replaces a selection that may start or end inside a line. A selection that starts in a line's leading
 * whitespace and ends at a line end is a range of whole lines (re-indented); otherwise the code goes in as
 * it is, its first line at the selection's column and its other lines indented like the selection's line.
 */
export function replaceSelectionEdit(original: string, start: number, end: number, code: string): TextEdit {
  const starts = lineStarts(original);
  const startLine = lineOf(starts, start);
  const endLine = lineOf(starts, end);
  const firstLine = original.slice(starts[startLine], lineEnd(original, starts, startLine));
  const indent = leadingWhitespace(firstLine);
  const startsAtIndent = start - starts[startLine] <= indent.length;
  // A selection ending at column 0 of the next line covers the line before it.
  const effectiveEndLine = end === starts[endLine] && endLine > startLine ? endLine - 1 : endLine;
  const endsAtLineEnd = end >= lineEnd(original, starts, effectiveEndLine);
  if (startsAtIndent && endsAtLineEnd) return replaceLinesEdit(original, { startLine, endLine: effectiveEndLine }, code);
  const eol = eolOf(original);
  const [first, ...rest] = stripTrailingBlankLines(code).replace(/\r\n/g, '\n').split('\n');
  // The code's own indentation is relative to its first line (extractCode removed what all lines share).
  const text = [first.trim(), ...rest.map((l) => (l.trim() ? indent + l.trimEnd() : ''))].join(eol);
  return { start, end, text };
}

function lineOf(starts: readonly number[], offset: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid] <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

function stripTrailingBlankLines(code: string): string {
  return code.replace(/(\r?\n[ \t]*)+$/, '').replace(/^([ \t]*\r?\n)+/, '');
}

/**
 * Puts a doc comment on the declaration whose first line is `declLine`: replaces the existing one, or goes
 * above the declaration (and above its decorators), or for Python's docstring on the first line of the body.
 */
export function docCommentEdit(original: string, declLine: number, comment: string, style: DocStyle): TextEdit {
  const lines = original.split(/\r?\n/);
  const eol = eolOf(original);
  const starts = lineStarts(original);
  const existing = existingDocComment(lines, declLine, style);
  if (style.placement === 'inside') {
    let header = declLine;
    while (header < lines.length - 1 && !/:\s*(#.*)?$/.test(lines[header])) header++;
    const indent = bodyIndent(lines, header);
    const text = reindent(comment, indent, eol);
    if (existing) return { start: starts[existing.startLine], end: lineEnd(original, starts, existing.endLine), text };
    const at = header + 1 < starts.length ? starts[header + 1] : original.length;
    return { start: at, end: at, text: (at === original.length && !original.endsWith('\n') ? eol : '') + text + eol };
  }
  let top = declLine;
  while (top > 0 && /^\s*(@[\w.]+|#\[)/.test(lines[top - 1])) top--;
  const indent = leadingWhitespace(lines[declLine] ?? '');
  const text = reindent(comment, indent, eol);
  if (existing) return { start: starts[existing.startLine], end: lineEnd(original, starts, existing.endLine), text };
  return { start: starts[top], end: starts[top], text: text + eol };
}

/** The indentation of a block's body: its first non-blank line after the header, else the header's plus one unit. */
function bodyIndent(lines: readonly string[], header: number): string {
  const base = leadingWhitespace(lines[header] ?? '');
  for (let i = header + 1; i < lines.length; i++) {
    if (!lines[i].trim()) continue;
    const ind = leadingWhitespace(lines[i]);
    if (ind.length > base.length) return ind;
    break;
  }
  return base + (base.includes('\t') ? '\t' : '    ');
}

/** Lines added and removed between two texts (an LCS over lines, the common ends trimmed first). */
export function lineChanges(a: string, b: string): { added: number; removed: number } {
  const x = a.split(/\r?\n/);
  const y = b.split(/\r?\n/);
  let s = 0;
  while (s < x.length && s < y.length && x[s] === y[s]) s++;
  let ex = x.length;
  let ey = y.length;
  while (ex > s && ey > s && x[ex - 1] === y[ey - 1]) {
    ex--;
    ey--;
  }
  const n = ex - s;
  const m = ey - s;
  if (n === 0 || m === 0 || n * m > 4_000_000) return { added: m, removed: n };
  // One row of the LCS table at a time.
  let prev = new Uint32Array(m + 1);
  let cur = new Uint32Array(m + 1);
  for (let i = 1; i <= n; i++) {
    for (let j = 1; j <= m; j++) {
      cur[j] = x[s + i - 1] === y[s + j - 1] ? prev[j - 1] + 1 : Math.max(prev[j], cur[j - 1]);
    }
    [prev, cur] = [cur, prev];
  }
  const common = prev[m];
  return { added: m - common, removed: n - common };
}
