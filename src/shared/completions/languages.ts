// What the completion stages need to know about a language: how to write a comment (for the context
// header), whether blocks are made by indentation alone (Python, YAML: no closing bracket ends them), and
// the keywords that close a block in languages that end blocks with a word (Ruby, Lua, shell).

export interface LanguageFacts {
  /** Line comment marker, or a block comment's open and close where the language has no line comment. */
  comment: { line: string } | { open: string; close: string };
  /** Blocks end where the indentation drops, not at a closing bracket. */
  indentBlocks: boolean;
  /** Words that close a block on a line of their own (`end`, `fi`, `done`, `esac`). */
  closingWords: readonly string[];
}

const C_LIKE: LanguageFacts = { comment: { line: '//' }, indentBlocks: false, closingWords: [] };
const HASH: LanguageFacts = { comment: { line: '#' }, indentBlocks: false, closingWords: [] };

const TABLE: Record<string, LanguageFacts> = {
  python: { comment: { line: '#' }, indentBlocks: true, closingWords: [] },
  yaml: { comment: { line: '#' }, indentBlocks: true, closingWords: [] },
  coffeescript: { comment: { line: '#' }, indentBlocks: true, closingWords: [] },
  nim: { comment: { line: '#' }, indentBlocks: true, closingWords: [] },
  ruby: { comment: { line: '#' }, indentBlocks: false, closingWords: ['end'] },
  elixir: { comment: { line: '#' }, indentBlocks: false, closingWords: ['end'] },
  julia: { comment: { line: '#' }, indentBlocks: false, closingWords: ['end'] },
  shellscript: { comment: { line: '#' }, indentBlocks: false, closingWords: ['fi', 'done', 'esac'] },
  lua: { comment: { line: '--' }, indentBlocks: false, closingWords: ['end', 'until'] },
  sql: { comment: { line: '--' }, indentBlocks: false, closingWords: ['end'] },
  haskell: { comment: { line: '--' }, indentBlocks: true, closingWords: [] },
  html: { comment: { open: '<!--', close: '-->' }, indentBlocks: false, closingWords: [] },
  xml: { comment: { open: '<!--', close: '-->' }, indentBlocks: false, closingWords: [] },
  markdown: { comment: { open: '<!--', close: '-->' }, indentBlocks: false, closingWords: [] },
  css: { comment: { open: '/*', close: '*/' }, indentBlocks: false, closingWords: [] },
  r: HASH,
  perl: HASH,
  makefile: HASH,
  dockerfile: HASH,
  toml: HASH,
  powershell: HASH,
  ini: { comment: { line: ';' }, indentBlocks: false, closingWords: [] },
  clojure: { comment: { line: ';;' }, indentBlocks: false, closingWords: [] },
  lisp: { comment: { line: ';;' }, indentBlocks: false, closingWords: [] },
  erlang: { comment: { line: '%' }, indentBlocks: false, closingWords: ['end'] },
  latex: { comment: { line: '%' }, indentBlocks: false, closingWords: [] },
  vb: { comment: { line: "'" }, indentBlocks: false, closingWords: ['End'] },
};

/** Facts for a VS Code language id; C-like (`//`, brackets) for languages not listed. */
export function languageFacts(languageId: string): LanguageFacts {
  return TABLE[languageId] ?? C_LIKE;
}

/** The text as one comment line (or a block comment) of the language, with a newline. */
export function commentLine(languageId: string, text: string): string {
  const c = languageFacts(languageId).comment;
  return 'line' in c ? `${c.line} ${text}\n` : `${c.open} ${text} ${c.close}\n`;
}
