// The prompt of each action: a system message, and a user message that states the task, the language, the
// code (with the lines around it for reference) and a fixed output format: exactly one fenced code block
// and nothing after it, which extractCode() takes out of the answer. Translation follows the explicit
// reformulation the translation fine-tuning seed reports helps: the source language, the target language
// and the task are each stated on a line of their own in the input, and the output format never varies.
import { fenceFor } from '../chatPrompt';
import type { DocStyle } from './docStyle';
import { fenceTag, languageName } from './languages';
import type { TestPlan } from './testFramework';

export type ActionId = 'explain' | 'fix' | 'document' | 'tests' | 'edit' | 'translate';

export interface Snippet {
  /** Workspace-relative path. */
  path: string;
  languageId: string;
  code: string;
  /** 1-based lines of the code in its file. */
  startLine: number;
  endLine: number;
  /** The function's name, when the target is a function. */
  name?: string;
}

/** The file's text around the snippet, for reference. */
export interface Surroundings {
  before: string;
  after: string;
}

export interface DiagnosticInfo {
  /** 1-based. */
  line: number;
  severity: 'error' | 'warning' | 'info' | 'hint';
  message: string;
  source?: string;
  code?: string;
}

export interface ActionPrompt {
  system: string;
  user: string;
}

export const ACTION_SYSTEM_PROMPT =
  'You are Hybrid Copilot, a coding assistant running locally inside VS Code. You change code exactly as asked and ' +
  'follow the requested output format to the letter: one fenced code block, no explanation before or after it.';

/** Characters of surrounding text given for reference, on each side. */
export const SURROUNDING_CHARS = 2000;

/** Up to `max` characters of the text before and after lines [startLine, endLine] (0-based), cut at line starts. */
export function surroundings(text: string, startLine: number, endLine: number, max = SURROUNDING_CHARS): Surroundings {
  const lines = text.split('\n');
  const before: string[] = [];
  let n = 0;
  for (let i = startLine - 1; i >= 0; i--) {
    n += lines[i].length + 1;
    if (n > max) break;
    before.unshift(lines[i]);
  }
  const after: string[] = [];
  n = 0;
  for (let i = endLine + 1; i < lines.length; i++) {
    n += lines[i].length + 1;
    if (n > max) break;
    after.push(lines[i]);
  }
  return { before: before.join('\n').replace(/\s+$/, ''), after: after.join('\n').replace(/\s+$/, '') };
}

function block(code: string, languageId: string): string {
  const fence = fenceFor(code);
  return `${fence}${fenceTag(languageId)}\n${code}\n${fence}`;
}

function where(s: Snippet): string {
  const lines = s.startLine === s.endLine ? `line ${s.startLine}` : `lines ${s.startLine}-${s.endLine}`;
  return `${s.name ? `\`${s.name}\` in ` : ''}${s.path}, ${lines}`;
}

function contextSection(s: Snippet, around?: Surroundings): string {
  if (!around || (!around.before && !around.after)) return '';
  const parts = [`For reference only (do not repeat it), the code around it in ${s.path}:`];
  if (around.before) parts.push(`Before:\n${block(around.before, s.languageId)}`);
  if (around.after) parts.push(`After:\n${block(around.after, s.languageId)}`);
  return `\n\n${parts.join('\n')}`;
}

function outputFormat(languageId: string, what: string): string {
  return `Output format: exactly one fenced code block tagged \`${fenceTag(languageId)}\` containing ${what}, and nothing before or after it.`;
}

/** Explain goes through the chat view: the code arrives as the selection's context chip; this is the question. */
export function explainQuestion(s: Snippet): string {
  return (
    `Explain the selected code (${where(s)}): what it is for, how it works step by step, its inputs, outputs and side ` +
    `effects, and anything surprising or risky in it.`
  );
}

export function fixPrompt(s: Snippet, diagnostics: readonly DiagnosticInfo[], around?: Surroundings): ActionPrompt {
  const lang = languageName(s.languageId);
  const problems = diagnostics.length
    ? `Problems reported at this code:\n${diagnostics
        .map((d) => `- line ${d.line}: ${d.severity}${d.source ? ` (${d.source}${d.code ? ` ${d.code}` : ''})` : ''}: ${d.message}`)
        .join('\n')}`
    : 'No problems are reported by the language tools: find the bugs yourself (wrong logic, edge cases, crashes).';
  const user =
    `Task: fix the problems in this ${lang} code from ${where(s)}.\n` +
    `${problems}\n\n` +
    `Code to fix:\n${block(s.code, s.languageId)}` +
    contextSection(s, around) +
    `\n\nChange only what the fix needs; keep names, formatting and comments.\n` +
    outputFormat(s.languageId, 'the corrected version of the code to fix, complete, as it should replace it');
  return { system: ACTION_SYSTEM_PROMPT, user };
}

export function documentPrompt(s: Snippet, style: DocStyle): ActionPrompt {
  const lang = languageName(s.languageId);
  const user =
    `Task: write the documentation comment for this ${lang} code from ${where(s)}.\n` +
    `Convention: ${style.convention}. Its form:\n${block(style.example, s.languageId)}\n\n` +
    `Code to document:\n${block(s.code, s.languageId)}\n\n` +
    `Describe what it does, each parameter, the return value and the errors it raises, from the code itself; no filler.\n` +
    outputFormat(s.languageId, `only the comment${style.placement === 'inside' ? ' (the docstring)' : ''}, not the code`);
  return { system: ACTION_SYSTEM_PROMPT, user };
}

export function testsPrompt(s: Snippet, plan: TestPlan, importFrom: string, existingTests?: string): ActionPrompt {
  const lang = languageName(s.languageId);
  const extend = plan.extend && existingTests !== undefined;
  const user =
    `Task: write unit tests for this ${lang} code from ${where(s)}.\n` +
    `Framework: ${plan.framework}. ${plan.guidance}\n` +
    `Test file: ${plan.testPath}${extend ? ' (it exists; the new tests are appended to it)' : ' (a new file)'}.\n` +
    (s.languageId === 'rust' ? '' : `The code under test is imported from \`${importFrom}\`.\n`) +
    `\nCode under test:\n${block(s.code, s.languageId)}\n` +
    (extend ? `\nThe test file so far (reuse its imports and helpers, do not repeat it):\n${block(existingTests, s.languageId)}\n` : '') +
    `\nCover the normal cases, the edge cases and the errors.\n` +
    outputFormat(s.languageId, extend ? 'only the new tests to append (with any import they need that the file lacks)' : 'the complete test file');
  return { system: ACTION_SYSTEM_PROMPT, user };
}

export function editPrompt(s: Snippet, instruction: string, around?: Surroundings): ActionPrompt {
  const lang = languageName(s.languageId);
  const user =
    `Task: rewrite this ${lang} code from ${where(s)} as the instruction says.\n` +
    `Instruction: ${instruction.trim()}\n\n` +
    `Code to rewrite:\n${block(s.code, s.languageId)}` +
    contextSection(s, around) +
    `\n\nKeep everything the instruction does not ask to change.\n` +
    outputFormat(s.languageId, 'the rewritten code, complete, as it should replace the code to rewrite');
  return { system: ACTION_SYSTEM_PROMPT, user };
}

/** Code from one programming language to another (the explicit source/target/task reformulation). */
export function translateCodePrompt(s: Snippet, targetLanguageId: string): ActionPrompt {
  const source = languageName(s.languageId);
  const target = languageName(targetLanguageId);
  const user =
    `Source language: ${source}\n` +
    `Target language: ${target}\n` +
    `Task: translate the ${source} code below into idiomatic ${target} with the same behaviour. Use ${target}'s ` +
    `standard library and naming conventions; keep the comments, translated into ${target} comment syntax; where ` +
    `something has no ${target} equivalent, write the closest construct and say so in a comment.\n\n` +
    `${source} code (${where(s)}):\n${block(s.code, s.languageId)}\n\n` +
    outputFormat(targetLanguageId, `the complete ${target} translation`);
  return { system: ACTION_SYSTEM_PROMPT, user };
}

/** Comments and string literals from one human language to another; the code itself unchanged. */
export function translateTextPrompt(s: Snippet, sourceLanguage: string, targetLanguage: string): ActionPrompt {
  const lang = languageName(s.languageId);
  const user =
    `Source language: ${sourceLanguage}\n` +
    `Target language: ${targetLanguage}\n` +
    `Task: translate the comments, doc comments and user-facing string literals of the ${lang} code below from ` +
    `${sourceLanguage} into ${targetLanguage}. Keep every other character as it is: identifiers, keywords, ` +
    `punctuation, format placeholders (such as {0}, %s, \${name}), indentation and line breaks.\n\n` +
    `${lang} code (${where(s)}):\n${block(s.code, s.languageId)}\n\n` +
    outputFormat(s.languageId, `the whole code with the ${targetLanguage} comments and strings`);
  return { system: ACTION_SYSTEM_PROMPT, user };
}

/**
 * The code split into its two parts: `code`, without comments and with string literals emptied, whitespace
 * collapsed (a comment and string translation must leave it unchanged: the command warns when the model
 * changed it); and `prose`, the comments' and strings' text (what the source language is guessed from).
 */
export function splitProse(source: string, languageId: string): { code: string; prose: string } {
  const hash = ['python', 'ruby', 'shellscript', 'perl', 'r', 'yaml', 'toml', 'powershell', 'julia', 'elixir', 'makefile', 'dockerfile'].includes(languageId);
  const dash = ['lua', 'sql', 'haskell'].includes(languageId);
  let code = '';
  const prose: string[] = [];
  let i = 0;
  const until = (end: string, from: number, skip: number) => {
    const j = source.indexOf(end, from);
    prose.push(source.slice(i + skip, j < 0 ? source.length : j));
    i = j < 0 ? source.length : j + (end === '\n' ? 0 : end.length);
  };
  while (i < source.length) {
    const c = source[i];
    const two = source.slice(i, i + 2);
    const three = source.slice(i, i + 3);
    if ((three === '"""' || three === "'''") && languageId === 'python') {
      code += '""';
      until(three, i + 3, 3);
    } else if (!hash && !dash && two === '//') {
      until('\n', i, 2);
    } else if (!hash && two === '/*') {
      until('*/', i + 2, 2);
    } else if ((hash && c === '#') || (dash && two === '--')) {
      until('\n', i, hash ? 1 : 2);
    } else if (c === '"' || c === "'" || c === '`') {
      let j = i + 1;
      while (j < source.length && source[j] !== c && !(c !== '`' && source[j] === '\n')) j += source[j] === '\\' ? 2 : 1;
      prose.push(source.slice(i + 1, j));
      code += c + c;
      i = j + 1;
    } else {
      code += c;
      i++;
    }
  }
  return { code: code.replace(/\s+/g, ' ').trim(), prose: prose.join('\n') };
}
