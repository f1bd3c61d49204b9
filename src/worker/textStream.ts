// Streaming stop strings for the worker, pure and incremental: sees the text as it streams, token by token,
// and holds back only what may still turn into a stop string, so nothing is shown that has to be taken
// back. (The reasoning/answer split is src/shared/reasoning.ts, shared with the host and the webview.)
/**
 * The first occurrence of any needle in `text` (earliest start; longest needle on a tie), or else how many
 * characters at the start of `text` are safe to emit: those that cannot begin any needle completed by text
 * still to come.
 */
export function scanForNeedles(
  text: string,
  needles: readonly string[],
): { found: true; index: number; needle: string } | { found: false; safe: number } {
  let best: { index: number; needle: string } | undefined;
  for (const n of needles) {
    const i = text.indexOf(n);
    if (i >= 0 && (!best || i < best.index || (i === best.index && n.length > best.needle.length))) best = { index: i, needle: n };
  }
  let safe = text.length;
  for (const n of needles) {
    // The longest suffix of `text` that is a proper prefix of n.
    for (let k = Math.min(n.length - 1, text.length); k > 0; k--) {
      if (text.endsWith(n.slice(0, k))) {
        safe = Math.min(safe, text.length - k);
        break;
      }
    }
  }
  // A needle found after the start of a possible longer match is not decided yet ("ab" with "abc", "b").
  if (best && best.index <= safe) return { found: true, ...best };
  return { found: false, safe };
}

/** Cuts the stream before the first stop string; the stop string itself is never emitted. */
export class StopMatcher {
  private held = '';
  private done = false;

  constructor(private readonly stops: readonly string[]) {}

  get stopped(): boolean {
    return this.done;
  }

  /** Returns the text that is now safe to show; after a stop, nothing more. */
  push(text: string): string {
    if (this.done) return '';
    if (this.stops.length === 0) return text;
    const buf = this.held + text;
    const r = scanForNeedles(buf, this.stops);
    if (r.found) {
      this.done = true;
      this.held = '';
      return buf.slice(0, r.index);
    }
    this.held = buf.slice(r.safe);
    return buf.slice(0, r.safe);
  }

  /**
   * The end of the stream: what was held back is text after all, up to the earliest stop string inside it
   * (held text may contain a shorter stop string while a longer one could still have completed).
   */
  flush(): string {
    if (this.done) return (this.held = '');
    const held = this.held;
    this.held = '';
    let cut = held.length;
    for (const n of this.stops) {
      const i = held.indexOf(n);
      if (i >= 0 && i < cut) cut = i;
    }
    if (cut < held.length) this.done = true;
    return held.slice(0, cut);
  }
}
