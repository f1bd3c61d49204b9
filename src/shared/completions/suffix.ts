// Stage 4: trims what a completion repeats of the text after the cursor: the closers the editor already
// inserted (`foo(a, b)|)`), the rest of a word it re-joins (`get|Value` + `UserValue` -> `User`), and whole
// lines that the document already has next (a model that writes the function's closing `}` again). Peers
// are known to show such duplicates; accepting them leaves `))` or a doubled line behind.
import type { CompletionContext } from './context';
import { indentOf, isWordChar } from './text';

export interface SuffixTrim {
  text: string;
  /** Characters removed from the end by the overlap with the rest of the cursor's line. */
  lineOverlap: number;
  /** Whole lines removed because the document has them next. */
  lines: number;
}

/** The longest overlap of the completion's end with the start of the rest of the cursor's line (0: none). */
export function lineSuffixOverlap(completion: string, lineSuffix: string): number {
  for (let k = Math.min(completion.length, lineSuffix.length); k >= 1; k--) {
    const overlap = lineSuffix.slice(0, k);
    if (!completion.endsWith(overlap) || !/\S/.test(overlap)) continue;
    // Only up to a word boundary of the line: "some" and "ed;" do not overlap in "e". (The overlap may
    // start inside the completion's last word: `get|Value` + "UserValue" re-joins the word.)
    if (isWordChar(lineSuffix[k - 1]) && isWordChar(lineSuffix[k])) continue;
    return k;
  }
  return 0;
}

/** Lines after the cursor's line, from the first non-blank one, at most `max`. */
function nextLines(afterLine: string, max: number): string[] {
  const lines = afterLine.split('\n').slice(1, 1 + max + 16);
  const first = lines.findIndex((l) => l.trim() !== '');
  return first < 0 ? [] : lines.slice(first, first + max).map((l) => l.replace(/\r$/, ''));
}

/**
 * Lines are duplicates when equal up to trailing blanks, indentation included (a `}` at another depth closes
 * another block). The rest of the cursor's line has no indentation of its own: compared without it.
 */
function sameLine(completionLine: string, documentLine: string, restOfLine: boolean): boolean {
  return restOfLine ? completionLine.trim() === documentLine.trim() : completionLine.trimEnd() === documentLine.trimEnd();
}

export function trimSuffix(completion: string, ctx: CompletionContext, maxLines = 8): SuffixTrim {
  let text = completion;
  let lines = 0;
  const parts = text.split('\n');
  if (parts.length > 1) {
    const restOfLine = ctx.lineSuffix.trim() !== '';
    // What the completion's last lines must equal to be duplicates: the rest of the cursor's line (it will
    // follow the completion's last line) and the lines after it; or, at a line's end, the next lines.
    const expected = restOfLine ? [ctx.lineSuffix, ...nextLines(ctx.afterLine, maxLines)] : nextLines(ctx.afterLine, maxLines);
    for (let j = Math.min(parts.length - 1, expected.length, maxLines); j >= 1; j--) {
      const tail = parts.slice(parts.length - j);
      if (!tail.every((l, k) => sameLine(l, expected[k], restOfLine && k === 0)) || tail.every((l) => l.trim() === '')) continue;
      const kept = parts.slice(0, parts.length - j).join('\n');
      text = restOfLine ? `${kept}\n${indentOf(tail[0])}` : kept;
      lines = j;
      break;
    }
  }
  const k = lines > 0 && ctx.lineSuffix.trim() !== '' ? 0 : lineSuffixOverlap(text, ctx.lineSuffix);
  return { text: text.slice(0, text.length - k), lineOverlap: k, lines };
}
