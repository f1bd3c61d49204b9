// Small text helpers of the completion stages: word characters, indentation, lines, brackets.

/** Letters, digits, `_` and `$` of any script: the characters an identifier is made of. */
export function isWordChar(ch: string | undefined): boolean {
  return ch !== undefined && ch !== '' && /[\p{L}\p{N}_$]/u.test(ch);
}

/** The leading spaces and tabs of a line. */
export function indentOf(line: string): string {
  return /^[ \t]*/.exec(line)?.[0] ?? '';
}

/** Width of an indentation in columns (a tab counts `tabSize`). */
export function indentWidth(indent: string, tabSize = 4): number {
  let w = 0;
  for (const ch of indent) w += ch === '\t' ? tabSize : 1;
  return w;
}

export const OPENERS: Record<string, string> = { '(': ')', '[': ']', '{': '}' };
export const CLOSERS: Record<string, string> = { ')': '(', ']': '[', '}': '{' };

/**
 * The brackets of `text` still open at its end, innermost last. Brackets inside string literals and line
 * comments are skipped (a plain scan: good enough for one line or a completion). `extraClosers`: closers
 * of brackets opened before the text.
 */
export function openBrackets(text: string, lineComment = '//'): { open: string[]; extraClosers: string[] } {
  const open: string[] = [];
  const extraClosers: string[] = [];
  scanBrackets(text, (ch) => {
    if (ch in OPENERS) open.push(ch);
    else if (open.length > 0 && open[open.length - 1] === CLOSERS[ch]) open.pop();
    else extraClosers.push(ch);
    return true;
  }, lineComment);
  return { open, extraClosers };
}

/**
 * Calls `visit(ch, index)` for each bracket of `text` outside string literals and line comments; stops
 * when it returns false. Quotes do not span lines (template literals and triple quotes are treated line by
 * line, which is what a completion's few lines need).
 */
export function scanBrackets(text: string, visit: (ch: string, index: number) => boolean, lineComment = '//'): void {
  let quote = '';
  let comment = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '\n') {
      quote = '';
      comment = false;
      continue;
    }
    if (comment) continue;
    if (quote) {
      if (ch === '\\') i++;
      else if (ch === quote) quote = '';
      continue;
    }
    if (ch === '"' || ch === "'" || ch === '`') {
      quote = ch;
      continue;
    }
    if (lineComment && text.startsWith(lineComment, i)) {
      comment = true;
      continue;
    }
    if ((ch in OPENERS || ch in CLOSERS) && !visit(ch, i)) return;
  }
}

/** Index of the first character no source file wants (C0 controls but tab and newline, DEL, U+FFFD), or -1. */
export function firstUnprintable(text: string): number {
  const m = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\ufffd]/.exec(text);
  return m ? m.index : -1;
}
