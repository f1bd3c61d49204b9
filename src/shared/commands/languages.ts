// Programming and human languages as the actions name them: a VS Code language id's display name (prompts
// say "TypeScript", not "typescript"), the fence tag a model writes, the file extension a translation gets,
// and the human languages offered for comment and string translation.

export interface ProgrammingLanguage {
  /** VS Code language id. */
  id: string;
  /** Name for prompts and pickers. */
  name: string;
  /** Extension of a new file in this language, with the dot. */
  ext: string;
}

/** The languages offered as translation targets (and named in prompts); others fall back to their id. */
export const PROGRAMMING_LANGUAGES: readonly ProgrammingLanguage[] = [
  { id: 'typescript', name: 'TypeScript', ext: '.ts' },
  { id: 'javascript', name: 'JavaScript', ext: '.js' },
  { id: 'python', name: 'Python', ext: '.py' },
  { id: 'go', name: 'Go', ext: '.go' },
  { id: 'rust', name: 'Rust', ext: '.rs' },
  { id: 'java', name: 'Java', ext: '.java' },
  { id: 'kotlin', name: 'Kotlin', ext: '.kt' },
  { id: 'csharp', name: 'C#', ext: '.cs' },
  { id: 'cpp', name: 'C++', ext: '.cpp' },
  { id: 'c', name: 'C', ext: '.c' },
  { id: 'swift', name: 'Swift', ext: '.swift' },
  { id: 'ruby', name: 'Ruby', ext: '.rb' },
  { id: 'php', name: 'PHP', ext: '.php' },
  { id: 'scala', name: 'Scala', ext: '.scala' },
  { id: 'dart', name: 'Dart', ext: '.dart' },
  { id: 'lua', name: 'Lua', ext: '.lua' },
  { id: 'r', name: 'R', ext: '.r' },
  { id: 'julia', name: 'Julia', ext: '.jl' },
  { id: 'haskell', name: 'Haskell', ext: '.hs' },
  { id: 'shellscript', name: 'Bash', ext: '.sh' },
  { id: 'powershell', name: 'PowerShell', ext: '.ps1' },
  { id: 'sql', name: 'SQL', ext: '.sql' },
];

const EXTRA_NAMES: Record<string, string> = {
  typescriptreact: 'TypeScript (React)',
  javascriptreact: 'JavaScript (React)',
  objectivec: 'Objective-C',
  fsharp: 'F#',
  vb: 'Visual Basic',
  perl: 'Perl',
  elixir: 'Elixir',
  erlang: 'Erlang',
  clojure: 'Clojure',
  zig: 'Zig',
  cuda: 'CUDA C++',
  'cuda-cpp': 'CUDA C++',
  html: 'HTML',
  css: 'CSS',
  json: 'JSON',
  yaml: 'YAML',
  markdown: 'Markdown',
  plaintext: 'plain text',
};

export function languageName(id: string): string {
  return PROGRAMMING_LANGUAGES.find((l) => l.id === id)?.name ?? EXTRA_NAMES[id] ?? id;
}

/** The tag of a fenced code block in this language (what models write after the backticks). */
export function fenceTag(id: string): string {
  const tags: Record<string, string> = { shellscript: 'bash', typescriptreact: 'tsx', javascriptreact: 'jsx', csharp: 'csharp', cpp: 'cpp', 'cuda-cpp': 'cuda', plaintext: 'text' };
  return tags[id] ?? id;
}

/** Human languages offered for comment and string translation; Nemotron Nano 2's six first (its model card). */
export const HUMAN_LANGUAGES: readonly string[] = [
  'English',
  'German',
  'Spanish',
  'French',
  'Italian',
  'Japanese',
  'Portuguese',
  'Dutch',
  'Polish',
  'Russian',
  'Ukrainian',
  'Chinese (Simplified)',
  'Korean',
  'Turkish',
  'Swedish',
];

/**
 * A guess at the human language of some prose (comments, strings), from its script and its most frequent
 * short words. Used to state the source language in a translation prompt; `confident` is false when the
 * text is short or the evidence weak (the command then asks).
 */
export function guessHumanLanguage(text: string): { language: string; confident: boolean } {
  const letters = text.replace(/[^\p{L}]/gu, '');
  if (letters.length === 0) return { language: 'English', confident: false };
  const share = (re: RegExp) => (letters.match(re)?.length ?? 0) / letters.length;
  if (share(/[\u3040-\u30ff]/g) > 0.05) return { language: 'Japanese', confident: true };
  if (share(/[\uac00-\ud7af]/g) > 0.2) return { language: 'Korean', confident: true };
  if (share(/[\u4e00-\u9fff]/g) > 0.2) return { language: 'Chinese (Simplified)', confident: true };
  if (share(/[\u0400-\u04ff]/g) > 0.3) {
    return /[іїєґ]/i.test(text) ? { language: 'Ukrainian', confident: true } : { language: 'Russian', confident: true };
  }
  const words = text.toLowerCase().match(/\p{L}+/gu) ?? [];
  const markers: Record<string, string[]> = {
    English: ['the', 'and', 'is', 'of', 'to', 'a', 'in', 'this', 'that', 'it', 'for', 'with', 'if', 'returns', 'not'],
    French: ['le', 'la', 'les', 'et', 'est', 'des', 'un', 'une', 'du', 'pour', 'que', 'dans', 'pas', 'avec', 'si', 'renvoie'],
    German: ['der', 'die', 'das', 'und', 'ist', 'nicht', 'ein', 'eine', 'mit', 'für', 'zu', 'den', 'wenn', 'gibt', 'zurück'],
    Spanish: ['el', 'la', 'los', 'las', 'y', 'es', 'de', 'un', 'una', 'para', 'que', 'con', 'si', 'devuelve', 'no', 'del'],
    Italian: ['il', 'lo', 'la', 'gli', 'e', 'è', 'di', 'un', 'una', 'per', 'che', 'con', 'se', 'restituisce', 'non', 'del'],
    Portuguese: ['o', 'a', 'os', 'as', 'e', 'é', 'de', 'um', 'uma', 'para', 'que', 'com', 'se', 'retorna', 'não', 'do'],
    Dutch: ['de', 'het', 'een', 'en', 'is', 'van', 'voor', 'met', 'niet', 'als', 'geeft', 'dat', 'op'],
  };
  const scores = Object.entries(markers).map(([language, list]) => {
    const set = new Set(list);
    return { language, hits: words.filter((w) => set.has(w)).length };
  });
  scores.sort((a, b) => b.hits - a.hits);
  const [best, second] = scores;
  const confident = best.hits >= 3 && best.hits >= 2 * (second?.hits ?? 0);
  return { language: best.hits > 0 ? best.language : 'English', confident };
}
