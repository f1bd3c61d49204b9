// What an action works on when nothing is selected: the function (method, constructor) around the cursor,
// from the language's document symbols when it has a symbol provider, else from the text (a function
// header above the cursor whose block holds the cursor line: by indentation, braces, or an `end` word).
import { languageFacts } from '../completions/languages';

/** vscode.SymbolKind values (0-based, as the API numbers them). */
export const SymbolKind = {
  File: 0,
  Module: 1,
  Namespace: 2,
  Package: 3,
  Class: 4,
  Method: 5,
  Property: 6,
  Field: 7,
  Constructor: 8,
  Enum: 9,
  Interface: 10,
  Function: 11,
  Variable: 12,
  Constant: 13,
  Object: 18,
  Struct: 22,
  Operator: 24,
} as const;

export interface LineRange {
  /** 0-based, inclusive. */
  startLine: number;
  endLine: number;
}

export interface SymbolLike {
  name: string;
  kind: number;
  range: { start: { line: number; character: number }; end: { line: number; character: number } };
  children?: readonly SymbolLike[];
}

export interface EnclosingTarget extends LineRange {
  name?: string;
  /** 'function': a function-like symbol or header; 'block': a class or other container. */
  kind: 'function' | 'block';
  source: 'symbols' | 'text';
}

const FUNCTION_KINDS = new Set<number>([SymbolKind.Method, SymbolKind.Constructor, SymbolKind.Function, SymbolKind.Operator]);
const BLOCK_KINDS = new Set<number>([SymbolKind.Class, SymbolKind.Struct, SymbolKind.Interface, SymbolKind.Enum, SymbolKind.Object]);

/**
 * The innermost function-like symbol whose range holds `line`; else the innermost class-like one. A
 * variable holding an arrow function is reported by TypeScript as a Variable with the function's range:
 * a multi-line Variable or Constant counts as a function too.
 */
export function enclosingSymbol(symbols: readonly SymbolLike[], line: number): EnclosingTarget | undefined {
  let fn: SymbolLike | undefined;
  let block: SymbolLike | undefined;
  const visit = (list: readonly SymbolLike[]) => {
    for (const s of list) {
      if (line < s.range.start.line || line > s.range.end.line) continue;
      const multiLine = s.range.end.line > s.range.start.line;
      if (FUNCTION_KINDS.has(s.kind) || ((s.kind === SymbolKind.Variable || s.kind === SymbolKind.Constant) && multiLine)) fn = s;
      else if (BLOCK_KINDS.has(s.kind)) block = s;
      if (s.children?.length) visit(s.children);
    }
  };
  visit(symbols);
  const s = fn ?? block;
  if (!s) return undefined;
  return { startLine: s.range.start.line, endLine: s.range.end.line, name: s.name, kind: fn ? 'function' : 'block', source: 'symbols' };
}

const HEADERS: RegExp[] = [
  /^\s*(?:export\s+)?(?:default\s+)?(?:async\s+)?function\b\s*\*?\s*([\w$]*)/, // JS/TS function
  /^\s*(?:export\s+)?(?:const|let|var)\s+([\w$]+)\s*(?::[^=]+)?=\s*(?:async\s+)?(?:function\b|\([^)]*\)\s*(?::[^=]+)?=>|[\w$]+\s*=>)/, // arrow
  /^\s*(?:async\s+)?def\s+(\w+)/, // Python
  /^\s*func\s+(?:\([^)]*\)\s*)?(\w+)/, // Go, Swift
  /^\s*(?:pub(?:\([^)]*\))?\s+)?(?:const\s+)?(?:async\s+)?(?:unsafe\s+)?(?:extern\s+"[^"]*"\s+)?fn\s+(\w+)/, // Rust
  /^\s*(?:def|fun|function|sub|proc)\s+([\w.?!]+)/, // Ruby, Kotlin, Lua, Perl, Nim
  /^\s*(?:local\s+)?function\s+([\w.:]+)/, // Lua
  // C, C++, Java, C#, TS methods: a return type or modifiers, a name, type parameters, parameters, a TS return
  // type annotation, then `{` or nothing.
  /^\s*(?:(?:public|private|protected|internal|static|final|virtual|override|abstract|async|inline|constexpr|export|extern|unsafe|synchronized|readonly)\s+)*(?:[\w$<>[\],.:*&?]+\s+)*?([\w$~]+)\s*(?:<[^>]*>)?\s*\([^;]*\)\s*(?::\s*[^{;=]+?)?\s*(?:const\s*)?(?:noexcept\s*)?(?:->\s*[\w:<>*&\s]+)?(?:throws\s+[\w.,\s]+)?\{?\s*$/,
];
const NOT_A_HEADER = /^\s*(?:if|for|while|switch|catch|return|else|do|try|with|elif|except|match|case|using|lock|foreach)\b/;

function indentOf(line: string): number {
  let n = 0;
  for (const ch of line) {
    if (ch === ' ') n++;
    else if (ch === '\t') n += 4;
    else break;
  }
  return n;
}

/** Whether the line may open a function, and its name. */
export function functionHeader(line: string): { name: string } | undefined {
  if (NOT_A_HEADER.test(line) || !line.trim()) return undefined;
  for (const re of HEADERS) {
    const m = re.exec(line);
    if (m) return { name: m[1] ?? '' };
  }
  return undefined;
}

/** The last line of the block a header on `start` opens, or undefined when it does not close. */
export function blockEnd(lines: readonly string[], start: number, languageId: string): number | undefined {
  const facts = languageFacts(languageId);
  const base = indentOf(lines[start]);
  if (facts.indentBlocks) {
    // The header may span lines (parameters): its body starts after the line ending with ':'.
    let body = start;
    while (body < lines.length && !/:\s*(#.*)?$/.test(lines[body])) body++;
    let last = body;
    for (let i = body + 1; i < lines.length; i++) {
      if (!lines[i].trim()) continue;
      if (indentOf(lines[i]) <= base) break;
      last = i;
    }
    return last > start || body > start ? last : undefined;
  }
  if (facts.closingWords.length > 0 && !/[{]\s*$/.test(lines[start])) {
    const words = new RegExp(`^\\s*(?:${facts.closingWords.join('|')})\\b`);
    for (let i = start + 1; i < lines.length; i++) {
      if (words.test(lines[i]) && indentOf(lines[i]) <= base) return i;
    }
    return undefined;
  }
  // Brackets: count { and } outside strings and comments from the header on.
  let depth = 0;
  let opened = false;
  let inBlockComment = false;
  for (let i = start; i < lines.length; i++) {
    const line = lines[i];
    let quote: string | undefined;
    for (let j = 0; j < line.length; j++) {
      const ch = line[j];
      if (inBlockComment) {
        if (ch === '*' && line[j + 1] === '/') {
          inBlockComment = false;
          j++;
        }
        continue;
      }
      if (quote) {
        if (ch === '\\') j++;
        else if (ch === quote) quote = undefined;
        continue;
      }
      if (ch === '/' && line[j + 1] === '/') break;
      if (ch === '/' && line[j + 1] === '*') {
        inBlockComment = true;
        j++;
        continue;
      }
      if (ch === '"' || ch === "'" || ch === '`') quote = ch;
      else if (ch === '{') {
        depth++;
        opened = true;
      } else if (ch === '}') {
        depth--;
        if (opened && depth === 0) return i;
      } else if (ch === ';' && !opened && depth === 0 && i > start + 3) return undefined; // a declaration, not a definition
    }
    // A header whose body has not opened after a few lines is no definition.
    if (!opened && i > start + 4) return undefined;
  }
  return undefined;
}

/** The function around `line` found from the text alone (no symbol provider). */
export function enclosingFromText(text: string, line: number, languageId: string): EnclosingTarget | undefined {
  const lines = text.split(/\r?\n/);
  if (line < 0 || line >= lines.length) return undefined;
  const cursorIndent = lines[line].trim() ? indentOf(lines[line]) : Infinity;
  for (let i = line; i >= 0 && line - i < 2000; i--) {
    const h = functionHeader(lines[i]);
    if (!h) continue;
    if (i !== line && cursorIndent !== Infinity && indentOf(lines[i]) > cursorIndent) continue;
    const end = blockEnd(lines, i, languageId);
    if (end === undefined || end < line) continue;
    // Decorators and attributes directly above belong to the function.
    let start = i;
    while (start > 0 && /^\s*(@[\w.]+|#\[)/.test(lines[start - 1])) start--;
    return { startLine: start, endLine: end, name: h.name || undefined, kind: 'function', source: 'text' };
  }
  return undefined;
}

/** Symbols first (when the language has a provider), then the text. */
export function enclosingFunction(
  o: { symbols?: readonly SymbolLike[]; text: string; line: number; languageId: string },
): EnclosingTarget | undefined {
  const fromSymbols = o.symbols?.length ? enclosingSymbol(o.symbols, o.line) : undefined;
  if (fromSymbols?.kind === 'function') return fromSymbols;
  return enclosingFromText(o.text, o.line, o.languageId) ?? fromSymbols;
}
