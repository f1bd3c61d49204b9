// Streaming text filters of the worker, pure and incremental: stop strings and the split of a reasoning
// model's output into reasoning and answer by its think tags. Both see the text as it streams, token by
// token, and hold back only what may still turn into a tag or a stop string, so nothing is shown that has
// to be taken back.
import type { StreamPart, StreamPartKind } from '../shared/protocol';

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

  /** The end of the stream: what was held back is text after all. */
  flush(): string {
    const rest = this.done ? '' : this.held;
    this.held = '';
    return rest;
  }
}

export interface ThinkTags {
  open: string;
  close: string;
  /** The prompt already opened the reasoning block. */
  startsInside: boolean;
}

/**
 * Splits a reasoning model's output into reasoning and answer parts by its think tags (Nemotron Nano 2:
 * "<think>" ... "</think>"); the tags themselves are dropped. Counts tokens per kind by the kind in force
 * when each token's text arrived.
 */
export class ReasoningSplitter {
  private held = '';
  private inside: boolean;
  readonly tokens = { reasoning: 0, answer: 0 };

  constructor(private readonly tags: ThinkTags) {
    this.inside = tags.startsInside;
  }

  get kind(): StreamPartKind {
    return this.inside ? 'reasoning' : 'answer';
  }

  push(text: string, tokens = 0): StreamPart[] {
    if (this.inside) this.tokens.reasoning += tokens;
    else this.tokens.answer += tokens;
    const parts: StreamPart[] = [];
    let buf = this.held + text;
    for (;;) {
      const tag = this.inside ? this.tags.close : this.tags.open;
      const r = scanForNeedles(buf, [tag]);
      if (!r.found) {
        if (r.safe > 0) parts.push({ kind: this.kind, text: buf.slice(0, r.safe) });
        this.held = buf.slice(r.safe);
        return parts;
      }
      if (r.index > 0) parts.push({ kind: this.kind, text: buf.slice(0, r.index) });
      buf = buf.slice(r.index + r.needle.length);
      this.inside = !this.inside;
    }
  }

  flush(): StreamPart[] {
    const rest = this.held;
    this.held = '';
    return rest ? [{ kind: this.kind, text: rest }] : [];
  }
}

/** Appends parts, merging neighbours of the same kind. */
export function appendParts(into: StreamPart[], parts: readonly StreamPart[]): void {
  for (const p of parts) {
    if (!p.text) continue;
    const last = into[into.length - 1];
    if (last && last.kind === p.kind) last.text += p.text;
    else into.push({ kind: p.kind, text: p.text });
  }
}
