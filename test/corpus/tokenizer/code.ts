// A small TypeScript module: generics, async, template strings, regexes and optional chaining.
import { EventEmitter } from 'node:events';

export interface Completion<T extends object = Record<string, unknown>> {
  readonly id: string;
  text: string;
  meta?: T;
}

type Handler = (c: Completion) => void | Promise<void>;

export class CompletionCache<K, V extends Completion> extends EventEmitter {
  private readonly map = new Map<K, { value: V; at: number }>();
  constructor(private readonly maxEntries = 256, private ttlMs = 30_000) {
    super();
  }

  get(key: K): V | undefined {
    const hit = this.map.get(key);
    if (!hit) return undefined;
    if (Date.now() - hit.at > this.ttlMs) {
      this.map.delete(key);
      this.emit('expired', key);
      return undefined;
    }
    return hit.value;
  }

  set(key: K, value: V): this {
    if (this.map.size >= this.maxEntries) {
      const oldest = this.map.keys().next().value as K;
      this.map.delete(oldest);
    }
    this.map.set(key, { value, at: Date.now() });
    return this;
  }
}

const IDENT = /^[A-Za-z_$][\w$]*$/u;
export const isIdentifier = (s: string): boolean => IDENT.test(s) && !['class', 'const', 'let'].includes(s);

export async function firstLine(texts: AsyncIterable<string>, onEach?: Handler): Promise<string> {
  for await (const t of texts) {
    const line = t.split(/\r?\n/)[0]?.trim() ?? '';
    await onEach?.({ id: `${line.length}`, text: line });
    if (line !== '') return `first: "${line}" (${line.length} chars)`;
  }
  return '';
}

enum Level { Debug = 0, Info, Warn = 0x10, Error = 1 << 5 }
const fmt = (n: number) => n.toFixed(2).padStart(8, ' ') + '%';
console.log(fmt(12.3456), Level.Warn, 0b1010, 1e-9, 9007199254740991n);
