// Stage 5: the generated text (already cut by the stop rules) into what the editor shows, or nothing:
// trailing blanks, de-duplication against the text after the cursor, and the "inside a word" rule (only
// a completion that re-joins the rest of the word is shown).
import type { CompletionContext, Placement } from './context';
import { StopOptions, StopRules } from './stop';
import { trimSuffix } from './suffix';
import { isWordChar } from './text';

export interface Finalized {
  /** What to show ('' for nothing). */
  text: string;
  /** Why nothing is shown, when text is ''. */
  dropped?: string;
  /** Characters and lines removed as duplicates of the text after the cursor. */
  overlap: number;
  lines: number;
}

export function finalize(ctx: CompletionContext, where: Extract<Placement, { ok: true }>, cut: string): Finalized {
  let text = cut;
  if (ctx.lineSuffix.trim() === '') text = text.replace(/\s+$/, '');
  else if (!text.includes('\n')) text = text.replace(/[ \t]+$/, '');
  const t = trimSuffix(text, ctx);
  text = t.text;
  if (where.midWord) {
    const word = /^[\p{L}\p{N}_$]+/u.exec(ctx.lineSuffix)?.[0] ?? '';
    if (t.lineOverlap < word.length) return { text: '', dropped: 'inside a word, and the completion does not re-join it', overlap: t.lineOverlap, lines: t.lines };
  }
  if (text.trim() === '') return { text: '', dropped: 'nothing left after the rules', overlap: t.lineOverlap, lines: t.lines };
  // A completion that ends in the middle of a word the document continues (`fo` + `o)` was no overlap) would
  // glue two words together.
  if (isWordChar(text.at(-1)) && isWordChar(ctx.lineSuffix[0]) && !where.midWord && t.lineOverlap === 0) {
    return { text: '', dropped: 'would glue onto the word after the cursor', overlap: 0, lines: t.lines };
  }
  return { text, overlap: t.lineOverlap, lines: t.lines };
}

/** The whole post-generation pipeline on a finished text (for tests and the benchmark; the engine streams). */
export function postprocess(ctx: CompletionContext, where: Extract<Placement, { ok: true }>, generated: string, opts?: StopOptions): Finalized {
  const rules = new StopRules(ctx, where, opts);
  rules.push(generated);
  return finalize(ctx, where, rules.finish());
}
