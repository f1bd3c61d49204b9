// The code in a model's answer: the actions ask for exactly one fenced code block, and this takes it out,
// also from an answer still streaming (an open fence shows what came so far). A model that ignores the
// format (no fence at all) still gives its whole answer as the code once it ends, or earlier when the answer
// grows long without a fence: a small or random model must not leave the diff empty.

/** Characters of unfenced answer after which it is taken as code before the answer ends. */
const UNFENCED_AFTER = 240;

export interface ExtractedCode {
  code: string;
  /** The block's closing fence arrived (or the answer ended). */
  complete: boolean;
  /** The answer had no fence: the whole answer is the code. */
  unfenced: boolean;
  /** The fence's language tag, when it had one. */
  tag?: string;
}

const OPEN = /^[ \t]*(`{3,}|~{3,})[ \t]*([^\s`]*)[^\n`]*$/;

/**
 * The first fenced code block of `answer`. While `final` is false a partial line at the end is held back
 * (it may be the start of the closing fence); returns undefined when there is nothing to show yet.
 */
export function extractCode(answer: string, final: boolean): ExtractedCode | undefined {
  // Editors take a lone \r for a line break too: normalize, so that what is shown is what gets written.
  // Control characters other than tab, line feed and form feed never belong in source (and a NUL makes
  // VS Code take a new file for binary): they are dropped.
  answer = answer.replace(/\r\n?/g, '\n').replace(/[\u0000-\u0008\u000b\u000e-\u001f\u007f]/g, '');
  const lines = answer.split('\n');
  // While streaming the last line may be incomplete.
  const whole = final ? lines : lines.slice(0, -1);
  let open = -1;
  let fence = '';
  let tag: string | undefined;
  for (let i = 0; i < whole.length; i++) {
    const m = OPEN.exec(whole[i]);
    if (m) {
      open = i;
      fence = m[1];
      tag = m[2] || undefined;
      break;
    }
  }
  if (open < 0) {
    const text = stripSurroundingBlankLines(answer);
    if (final) return text ? { code: dedentCommon(text), complete: true, unfenced: true } : undefined;
    // A line beginning with backticks may still become a fence.
    if (/(^|\n)[ \t]*`{1,2}$/.test(answer) || answer.length < UNFENCED_AFTER) return undefined;
    const shown = stripSurroundingBlankLines(whole.join('\n'));
    return shown ? { code: dedentCommon(shown), complete: false, unfenced: true } : undefined;
  }
  const body: string[] = [];
  const close = new RegExp(`^[ \\t]*${fence[0] === '`' ? '`' : '~'}{${fence.length},}[ \\t]*$`);
  for (let i = open + 1; i < whole.length; i++) {
    if (close.test(whole[i])) return { code: dedentCommon(body.join('\n')), complete: true, unfenced: false, tag };
    body.push(whole[i]);
  }
  if (!final && body.length === 0) return undefined;
  return { code: dedentCommon(body.join('\n')), complete: final, unfenced: false, tag };
}

function stripSurroundingBlankLines(text: string): string {
  return text.replace(/^(?:[ \t]*\n)+/, '').replace(/\s+$/, '');
}

/** Removes the indentation all non-blank lines share (models often indent a whole block). */
export function dedentCommon(text: string): string {
  const lines = text.split('\n');
  let common: string | undefined;
  for (const line of lines) {
    if (!line.trim()) continue;
    const indent = /^[ \t]*/.exec(line)![0];
    if (common === undefined || !indent.startsWith(common)) {
      let n = 0;
      const c = common ?? indent;
      while (n < c.length && n < indent.length && c[n] === indent[n]) n++;
      common = c.slice(0, n);
    }
    if (common === '') break;
  }
  if (!common) return text;
  const cut = common.length;
  return lines.map((l) => (l.trim() ? l.slice(cut) : l.replace(/^[ \t]+$/, ''))).join('\n');
}
