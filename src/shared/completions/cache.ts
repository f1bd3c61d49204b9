// Stage 0: completions already computed, by document and cursor. A request at the same version and cursor
// gets the same completion; a request after the user typed the first characters of a completion (the text
// is the old text with those characters inserted at the old cursor, and the cursor after them) gets the
// rest of it, without a request to the model. Also after a partial accept (next word / next line), which
// is the same edit. The comparison is exact (whole text before and after the cursor), so an edit anywhere
// else is never mistaken for typing through. (An entry's `before`/`after` are slices of the document's text:
// V8 shares the text's storage, so an entry costs about one copy of its document version; 16 entries at most.)

export interface CacheEntry {
  uri: string;
  version: number;
  offset: number;
  /** The document's text before and after the cursor when the completion was computed. */
  before: string;
  after: string;
  completion: string;
}

export interface CacheHit {
  /** What is left of the completion after the typed-through characters. */
  text: string;
  /** Characters typed through (0: same cursor and text). */
  typed: number;
  entry: CacheEntry;
}

export class CompletionCache {
  private entries: CacheEntry[] = [];
  hits = 0;
  misses = 0;

  constructor(private readonly max = 16) {}

  put(uri: string, version: number, text: string, offset: number, completion: string): void {
    this.entries = this.entries.filter((e) => !(e.uri === uri && e.version === version && e.offset === offset));
    this.entries.push({ uri, version, offset, before: text.slice(0, offset), after: text.slice(offset), completion });
    if (this.entries.length > this.max) this.entries.splice(0, this.entries.length - this.max);
  }

  /** The completion for this text and cursor, if one was computed here or typing went through one. */
  get(uri: string, version: number, text: string, offset: number): CacheHit | undefined {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const e = this.entries[i];
      if (e.uri !== uri) continue;
      const hit = match(e, version, text, offset);
      if (hit) {
        this.hits++;
        return hit;
      }
    }
    this.misses++;
    return undefined;
  }

  /** Forget a document (closed) or everything (the model changed). */
  clear(uri?: string): void {
    this.entries = uri === undefined ? [] : this.entries.filter((e) => e.uri !== uri);
  }

  get size(): number {
    return this.entries.length;
  }
}

function match(e: CacheEntry, version: number, text: string, offset: number): CacheHit | undefined {
  if (version === e.version) return offset === e.offset ? { text: e.completion, typed: 0, entry: e } : undefined;
  const typed = offset - e.offset;
  if (typed < 0 || (typed > 0 && typed >= e.completion.length)) return undefined;
  if (text.length !== e.before.length + typed + e.after.length) return undefined;
  if (!e.completion.startsWith(text.slice(e.offset, offset))) return undefined;
  if (!text.startsWith(e.before) || !text.endsWith(e.after)) return undefined;
  return { text: e.completion.slice(typed), typed, entry: e };
}
