// The prompt of each action (task, language, code, diagnostics, fixed output format), the translation
// reformulation (source, target and task stated explicitly), the prose/code split that checks a comment
// translation, the human language guess, and the LM provider's message normalization.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildChatPrompt, ChatModelInfo } from '../../src/shared/chatPrompt';
import { CHATML_TEMPLATE } from '../../src/shared/chatTemplate';
import { docStyleFor } from '../../src/shared/commands/docStyle';
import { guessHumanLanguage, languageName } from '../../src/shared/commands/languages';
import { estimateTokens, toConversation } from '../../src/shared/commands/lmMessages';
import {
  ACTION_SYSTEM_PROMPT,
  documentPrompt,
  editPrompt,
  explainQuestion,
  fixPrompt,
  Snippet,
  splitProse,
  surroundings,
  testsPrompt,
  translateCodePrompt,
  translateTextPrompt,
} from '../../src/shared/commands/prompts';

const TS: Snippet = {
  path: 'src/math.ts',
  languageId: 'typescript',
  code: 'export function add(a: number, b: number): number {\n  return a - b;\n}',
  startLine: 3,
  endLine: 5,
  name: 'add',
};

const FORMAT = /Output format: exactly one fenced code block tagged `(\w+)` containing (.+), and nothing before or after it\.$/;

test('every diff prompt ends with the fixed output format in the right language', () => {
  const prompts = [
    fixPrompt(TS, []),
    documentPrompt(TS, docStyleFor('typescript')),
    testsPrompt(TS, { framework: 'Vitest', guidance: 'g', testPath: 'src/math.test.ts', extend: false }, './math'),
    editPrompt(TS, 'use early returns'),
    translateCodePrompt(TS, 'python'),
    translateTextPrompt(TS, 'French', 'English'),
  ];
  for (const p of prompts) {
    assert.equal(p.system, ACTION_SYSTEM_PROMPT);
    const m = FORMAT.exec(p.user);
    assert.ok(m, `no output format line in:\n${p.user}`);
  }
  assert.equal(FORMAT.exec(prompts[4].user)![1], 'python', 'a translation answers in the target language');
  assert.equal(FORMAT.exec(prompts[0].user)![1], 'typescript');
});

test('fix: the diagnostics at the code are listed with line, severity, source and code', () => {
  const p = fixPrompt(TS, [
    { line: 4, severity: 'error', message: "Operator '-' is suspicious", source: 'ts', code: '2362' },
    { line: 5, severity: 'warning', message: 'missing semicolon' },
  ]);
  assert.match(p.user, /^Task: fix the problems in this TypeScript code from `add` in src\/math\.ts, lines 3-5\./);
  assert.match(p.user, /- line 4: error \(ts 2362\): Operator '-' is suspicious\n- line 5: warning: missing semicolon/);
  assert.ok(p.user.includes('```typescript\nexport function add(a: number, b: number): number {\n  return a - b;\n}\n```'));
  assert.match(fixPrompt(TS, []).user, /No problems are reported by the language tools/);
});

test('fix and edit: the surrounding code is given for reference only', () => {
  const file = ['// header', 'import x from "y";', '', ...TS.code.split('\n'), '', 'export const z = 1;'].join('\n');
  const around = surroundings(file, 3, 5);
  assert.equal(around.before, '// header\nimport x from "y";');
  assert.equal(around.after, '\nexport const z = 1;');
  const p = editPrompt(TS, '  rename b to other  ', around);
  assert.match(p.user, /Instruction: rename b to other\n/);
  assert.match(p.user, /For reference only \(do not repeat it\), the code around it in src\/math\.ts:\nBefore:\n```typescript\n\/\/ header/);
  // A window cut to its limit starts at a whole line.
  const long = surroundings(Array.from({ length: 100 }, (_, i) => `line ${i}`).join('\n'), 50, 50, 40);
  assert.deepEqual(long.before.split('\n'), ['line 45', 'line 46', 'line 47', 'line 48', 'line 49']);
});

test('fences in the code get a longer fence', () => {
  const md: Snippet = { ...TS, languageId: 'markdown', code: 'Example:\n```js\nx()\n```' };
  const p = editPrompt(md, 'shorter');
  assert.ok(p.user.includes('````markdown\nExample:\n```js\nx()\n```\n````'));
});

test('document: the convention and its form for the language', () => {
  const py: Snippet = { ...TS, path: 'a.py', languageId: 'python', code: 'def add(a, b):\n    return a + b', name: 'add' };
  const p = documentPrompt(py, docStyleFor('python'));
  assert.match(p.user, /Convention: a PEP 257 docstring/);
  assert.match(p.user, /only the comment \(the docstring\), not the code/);
  assert.match(documentPrompt(TS, docStyleFor('typescript')).user, /Convention: a JSDoc comment/);
  assert.match(documentPrompt({ ...TS, languageId: 'rust' }, docStyleFor('rust')).user, /rustdoc comment \(\/\/\/ lines/);
  assert.match(documentPrompt({ ...TS, languageId: 'go' }, docStyleFor('go')).user, /Go doc comment/);
  assert.match(documentPrompt({ ...TS, languageId: 'csharp' }, docStyleFor('csharp')).user, /<summary>/);
});

test('tests: framework, file, import and (when extending) the file so far', () => {
  const plan = { framework: 'Vitest', guidance: "Vitest: import { describe, it, expect } from 'vitest'.", testPath: 'src/math.test.ts', extend: true };
  const p = testsPrompt(TS, plan, './math', "import { add } from './math';\n");
  assert.match(p.user, /Framework: Vitest\. Vitest: import/);
  assert.match(p.user, /Test file: src\/math\.test\.ts \(it exists; the new tests are appended to it\)\./);
  assert.match(p.user, /imported from `\.\/math`/);
  assert.match(p.user, /The test file so far/);
  assert.match(p.user, /containing only the new tests to append/);
  const fresh = testsPrompt(TS, { ...plan, extend: false }, './math');
  assert.match(fresh.user, /\(a new file\)/);
  assert.match(fresh.user, /containing the complete test file/);
  assert.doesNotMatch(fresh.user, /so far/);
});

test('translate code: source language, target language and task each stated on a line of their own', () => {
  const p = translateCodePrompt(TS, 'rust');
  const [l1, l2, l3] = p.user.split('\n');
  assert.equal(l1, 'Source language: TypeScript');
  assert.equal(l2, 'Target language: Rust');
  assert.match(l3, /^Task: translate the TypeScript code below into idiomatic Rust with the same behaviour\./);
  assert.match(p.user, /TypeScript code \(`add` in src\/math\.ts, lines 3-5\):\n```typescript\n/);
});

test('translate text: human languages stated, placeholders and code kept', () => {
  const p = translateTextPrompt({ ...TS, code: '// Additionne deux nombres\nconst s = `Résultat : ${x}`;' }, 'French', 'English');
  const [l1, l2, l3] = p.user.split('\n');
  assert.equal(l1, 'Source language: French');
  assert.equal(l2, 'Target language: English');
  assert.match(l3, /^Task: translate the comments, doc comments and user-facing string literals of the TypeScript code below from French into English\./);
  assert.match(p.user, /format placeholders \(such as \{0\}, %s, \$\{name\}\)/);
});

test('explain: the question names the code; the code itself travels as the chat selection chip', () => {
  assert.equal(
    explainQuestion(TS),
    'Explain the selected code (`add` in src/math.ts, lines 3-5): what it is for, how it works step by step, its inputs, outputs and side effects, and anything surprising or risky in it.',
  );
  assert.match(explainQuestion({ ...TS, name: undefined, startLine: 7, endLine: 7 }), /\(src\/math\.ts, line 7\)/);
});

test('splitProse: comments and strings apart from the code, for each comment syntax', () => {
  const ts = splitProse('// Bonjour\nconst a = "le monde"; /* fin */ const b = `x ${y}`;', 'typescript');
  assert.equal(ts.code, 'const a = ""; const b = ``;');
  assert.deepEqual(ts.prose.split('\n'), [' Bonjour', 'le monde', ' fin ', 'x ${y}']);
  const py = splitProse('def f():\n    """Renvoie un."""\n    return 1  # un\n', 'python');
  assert.equal(py.code, 'def f(): "" return 1');
  assert.match(py.prose, /Renvoie un\./);
  assert.match(py.prose, / un/);
  const lua = splitProse('-- commentaire\nlocal x = 1', 'lua');
  assert.equal(lua.code, 'local x = 1');
  // A translation that changed only comments and strings has the same code part; one that renamed did not.
  const before = splitProse('// Ajoute\nfunction add(a, b) { return a + b; } // fin', 'javascript').code;
  assert.equal(splitProse('// Adds\nfunction add(a, b) { return a + b; } // end', 'javascript').code, before);
  assert.notEqual(splitProse('// Adds\nfunction sum(a, b) { return a + b; }', 'javascript').code, before);
});

test('guessHumanLanguage: scripts and common words; unsure on little evidence', () => {
  assert.deepEqual(guessHumanLanguage('Renvoie la somme des deux nombres et le reste de la division'), { language: 'French', confident: true });
  assert.deepEqual(guessHumanLanguage('Gibt die Summe der beiden Zahlen zurück, wenn die Liste nicht leer ist'), { language: 'German', confident: true });
  assert.deepEqual(guessHumanLanguage('Returns the sum of the two numbers and the rest of the division'), { language: 'English', confident: true });
  assert.equal(guessHumanLanguage('二つの数の合計を返します').language, 'Japanese');
  assert.equal(guessHumanLanguage('返回两个数的和').language, 'Chinese (Simplified)');
  assert.equal(guessHumanLanguage('Возвращает сумму двух чисел').language, 'Russian');
  assert.equal(guessHumanLanguage('x').confident, false);
  assert.equal(languageName('typescript'), 'TypeScript');
  assert.equal(languageName('unknownlang'), 'unknownlang');
});

test('LM messages: roles merged, tool parts as text, a trailing assistant message dropped, system apart', () => {
  const conv = toConversation([
    { role: 'system', parts: [{ kind: 'text', text: 'Be brief.' }] },
    { role: 'user', parts: [{ kind: 'text', text: 'Hi' }] },
    { role: 'user', parts: [{ kind: 'text', text: 'there' }] },
    { role: 'assistant', parts: [{ kind: 'text', text: 'Hello' }, { kind: 'toolCall', text: 'search({"q":"x"})' }] },
    { role: 'user', parts: [{ kind: 'toolResult', text: 'found' }, { kind: 'other', text: '' }] },
    { role: 'assistant', parts: [{ kind: 'text', text: 'prefill' }] },
  ]);
  assert.equal(conv.system, 'Be brief.');
  assert.deepEqual(conv.history, [{ user: 'Hi\n\nthere', answer: 'Hello\n[tool call: search({"q":"x"})]' }]);
  assert.equal(conv.text, '[tool result: found]');
  // Starting with an assistant message: an empty user turn before it keeps the template's alternation.
  const odd = toConversation([
    { role: 'assistant', parts: [{ kind: 'text', text: 'Welcome' }] },
    { role: 'user', parts: [{ kind: 'text', text: 'Q' }] },
  ]);
  assert.deepEqual(odd.history, [{ user: '', answer: 'Welcome' }]);
  assert.equal(odd.text, 'Q');
  assert.deepEqual(toConversation([]), { system: undefined, history: [], text: '' });
});

test('LM messages render through the chat template like a chat turn', () => {
  const model: ChatModelInfo = { name: 'm.gguf', chatTemplate: CHATML_TEMPLATE, addBos: false, hasThinkTags: false, contextLength: 4096 };
  const conv = toConversation([
    { role: 'user', parts: [{ kind: 'text', text: 'A' }] },
    { role: 'assistant', parts: [{ kind: 'text', text: 'B' }] },
    { role: 'user', parts: [{ kind: 'text', text: 'C' }] },
  ]);
  const built = buildChatPrompt({ model, history: conv.history, text: conv.text, context: [], thinking: false, budget: 0, systemPrompt: 'S' });
  assert.equal(
    built.prompt,
    '<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nA<|im_end|>\n<|im_start|>assistant\nB<|im_end|>\n<|im_start|>user\nC<|im_end|>\n<|im_start|>assistant\n',
  );
});

test('token estimate: UTF-8 bytes over 3, rounded up', () => {
  assert.equal(estimateTokens(''), 0);
  assert.equal(estimateTokens('abc'), 1);
  assert.equal(estimateTokens('abcd'), 2);
  assert.equal(estimateTokens('é'), 1); // 2 bytes
  assert.equal(estimateTokens('日本語'), 3); // 9 bytes
});
