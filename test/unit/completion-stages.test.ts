// The completion pipeline's pure stages on real-looking code in several languages: placement, request
// shapes per model (FIM / prefix-only), stop rules (indentation, brackets, closing words, unprintable
// output), suffix de-duplication, the mid-word rule, the cache with typed-through reuse, the debounce.
// A cursor is written `█` in the sources below.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CompletionCache } from '../../src/shared/completions/cache';
import { CancelSource } from '../../src/shared/completions/cancel';
import { buildContext, CompletionContext, placement, Placement } from '../../src/shared/completions/context';
import { debounceDelay, wait } from '../../src/shared/completions/debounce';
import { commentLine } from '../../src/shared/completions/languages';
import { postprocess } from '../../src/shared/completions/postprocess';
import { contextHeader, modelFacts, shapeRequest } from '../../src/shared/completions/prompt';
import { completionBadge, completionsEnabled, completionTooltip } from '../../src/shared/completions/status';
import { lineOpeners, StopRules } from '../../src/shared/completions/stop';
import { lineSuffixOverlap, trimSuffix } from '../../src/shared/completions/suffix';
import type { GenerationStats, ModelInfo } from '../../src/shared/protocol';

function at(source: string, languageId: string, path?: string): CompletionContext {
  const offset = source.indexOf('█');
  assert.ok(offset >= 0, 'the source has a cursor');
  return buildContext(source.slice(0, offset) + source.slice(offset + 1), offset, languageId, path);
}

function ok(p: Placement): Extract<Placement, { ok: true }> {
  assert.ok(p.ok, `placement refused: ${!p.ok ? p.reason : ''}`);
  return p;
}

/** What the pipeline shows for `generated` at the cursor of `source`. */
function show(source: string, languageId: string, generated: string, explicit = false): string {
  const ctx = at(source, languageId);
  return postprocess(ctx, ok(placement(ctx, explicit)), generated).text;
}

/** The document after accepting the completion. */
function accept(source: string, languageId: string, generated: string): string {
  return source.replace('█', show(source, languageId, generated));
}

// ---- placement ----

test('placement: several lines on a blank line or after a block opener, one line elsewhere, none in front of code', () => {
  const p = (s: string, lang = 'typescript', explicit = false) => placement(at(s, lang), explicit);
  assert.deepEqual(p('function f() {\n  █\n}\n'), { ok: true, multiline: true, midWord: false });
  assert.deepEqual(p('function f() {█\n}\n'), { ok: true, multiline: true, midWord: false });
  assert.deepEqual(p('const point = {█};'), { ok: true, multiline: true, midWord: false });
  assert.deepEqual(p('const total = items.█'), { ok: true, multiline: false, midWord: false });
  assert.deepEqual(p('console.log(█);'), { ok: true, multiline: false, midWord: false });
  assert.deepEqual(p('const v = get█Value();'), { ok: true, multiline: false, midWord: true });
  assert.deepEqual(p('def push(self, item):█', 'python'), { ok: true, multiline: true, midWord: false });
  assert.deepEqual(p('x = {"a": 1}█', 'python'), { ok: true, multiline: false, midWord: false });
  // `:` opens a block in Python, not in TypeScript (`case 1:` aside, an object key or a type annotation)
  assert.deepEqual(p('const o = { key:█', 'typescript'), { ok: true, multiline: false, midWord: false });
  const front = p('foo(█a, b);');
  assert.equal(front.ok, false);
  assert.deepEqual(p('foo(█a, b);', 'typescript', true), { ok: true, multiline: false, midWord: false });
  assert.deepEqual(p('let s = x█ + y;'), { ok: false, reason: 'code follows the cursor on its line' });
});

// ---- request shapes ----

function modelInfo(fim: boolean): ModelInfo {
  const tokenizer = {
    present: true as const, model: 'gpt2', pre: 'gpt-2', size: 100, addBos: true, addEos: false, bos: 1, eos: 2, eot: null,
    bosText: '<s>', eosText: '</s>', eotText: null, fimPrefix: fim ? 97 : null, fimSuffix: fim ? 98 : null, fimMiddle: fim ? 99 : null,
    eog: [2], thinkOpen: null, thinkClose: null,
  };
  return { path: '/models/granite-4.0-h-1b.gguf', name: fim ? 'Granite 4.0 H 1B' : null, tokenizer } as unknown as ModelInfo;
}

test('prompt shape: FIM where the vocabulary has FIM tokens, prefix-only otherwise; stop strings per placement', () => {
  const fim = modelFacts(modelInfo(true));
  const prefix = modelFacts(modelInfo(false));
  assert.deepEqual(fim, { shape: 'fim', name: 'Granite 4.0 H 1B' });
  assert.deepEqual(prefix, { shape: 'prefix', name: 'granite-4.0-h-1b.gguf' });

  const src = 'export function area(r: number): number {\n  █\n}\n\nexport function perimeter(r: number): number {\n  return 2 * Math.PI * r;\n}\n';
  const ctx = at(src, 'typescript', 'src/geometry.ts');
  const where = ok(placement(ctx));
  const a = shapeRequest(ctx, where, fim);
  assert.equal(a.maxTokens, 160);
  assert.deepEqual(a.stop, ['\n\n\n', '\n}'], 'two blank lines, or the next line of the document written again');
  assert.ok(a.suffixTokens > 10 && a.suffixTokens <= 128, `suffix window ${a.suffixTokens} tokens`);
  assert.equal(a.header, '// Path: src/geometry.ts\n// Language: typescript\n');
  const b = shapeRequest(ctx, where, prefix);
  assert.equal(b.suffixTokens, 0, 'prefix-only models read no suffix');
  // A long suffix: the window is bounded by lines and tokens, not the file
  const long = at('x = 1\n█\n' + 'print("line")\n'.repeat(5000), 'python');
  assert.equal(shapeRequest(long, ok(placement(long)), fim).suffixTokens, Math.ceil((16 * 14) / 3) + 2, 'the next 16 lines');
  const wide = at('x = 1\n█\n' + 'print("a fairly long line of python that goes on and on")\n'.repeat(5000), 'python');
  assert.equal(shapeRequest(wide, ok(placement(wide)), fim).suffixTokens, 128, 'at most 128 tokens');
  const line = at('const total = items.█', 'typescript');
  assert.deepEqual(shapeRequest(line, ok(placement(line)), fim).stop, ['\n']);
  assert.equal(shapeRequest(line, ok(placement(line)), fim).maxTokens, 48);
});

test('context header: path and language as a comment of the language', () => {
  assert.equal(contextHeader({ languageId: 'python', path: 'pkg/stack.py' }), '# Path: pkg/stack.py\n# Language: python\n');
  assert.equal(contextHeader({ languageId: 'html', path: 'index.html' }), '<!-- Path: index.html -->\n<!-- Language: html -->\n');
  assert.equal(contextHeader({ languageId: 'lua' }), '-- Language: lua\n');
  assert.equal(commentLine('rust', 'x'), '// x\n');
});

// ---- stop rules ----

test('stop rules, TypeScript: a block in a function body ends before the function\'s closing brace', () => {
  const src = 'function total(items: Item[]): number {\n  let sum = 0;\n  █\n}\n';
  const gen = 'for (const item of items) {\n    sum += item.price;\n  }\n  return sum;\n}\n\nexport function other() {';
  assert.equal(show(src, 'typescript', gen), 'for (const item of items) {\n    sum += item.price;\n  }\n  return sum;');
  assert.equal(
    accept(src, 'typescript', gen),
    'function total(items: Item[]): number {\n  let sum = 0;\n  for (const item of items) {\n    sum += item.price;\n  }\n  return sum;\n}\n',
  );
});

test('stop rules, TypeScript: after `{` the body ends before a `}` the document has, or with the `}` it lacks', () => {
  const closed = 'export function isEven(n: number): boolean {█\n}\n';
  const gen = '\n  return n % 2 === 0;\n}\n\nexport function isOdd(n: number): boolean {\n  return !isEven(n);\n}';
  assert.equal(accept(closed, 'typescript', gen), 'export function isEven(n: number): boolean {\n  return n % 2 === 0;\n}\n');
  const open = 'import { x } from "./x";\n\nexport function isEven(n: number): boolean {█';
  assert.equal(show(open, 'typescript', gen), '\n  return n % 2 === 0;\n}');
  // a method typed above its class's `}`: that `}` closes the class, not the method
  const method = 'class Counter {\n  private n = 0;\n  increment(): void {█\n}\n';
  assert.equal(show(method, 'typescript', '\n    this.n++;\n  }\n\n  reset(): void {'), '\n    this.n++;\n  }');
  assert.deepEqual(lineOpeners(at(method, 'typescript')), { open: ['{'], closedBySuffix: 0 });
});

test('stop rules: `{█}` on one line keeps the indentation before the `}` that follows', () => {
  const src = 'function make() {\n  const point = {█};\n  return point;\n}\n';
  assert.equal(accept(src, 'typescript', '\n    x: 1,\n    y: 2,\n  };\n  return point;'), 'function make() {\n  const point = {\n    x: 1,\n    y: 2,\n  };\n  return point;\n}\n');
  const inline = 'if (ready) {█}';
  assert.equal(accept(inline, 'javascript', '\n  start();\n}'), 'if (ready) {\n  start();\n}');
});

test('stop rules, single line: the closers the editor inserted end it; strings and comments do not count', () => {
  assert.equal(show('console.log(█);', 'typescript', '`total: ${sum} (${items.length})`);\nreturn sum;'), '`total: ${sum} (${items.length})`');
  assert.equal(show('const xs = [1, 2, █];', 'javascript', '3, 4];'), '3, 4');
  assert.equal(show('total = sum(█)', 'python', 'x for x in items if x > 0)  # )'), 'x for x in items if x > 0');
  assert.equal(show('const total = items.█', 'typescript', 'reduce((a, b) => a + b, 0);\nconsole.log(total);'), 'reduce((a, b) => a + b, 0);');
  // a closer of a bracket opened on an earlier line ends the line's completion
  assert.equal(show('foo(\n  a,\n  b█\n', 'typescript', ', c)\nbar()'), ', c');
});

test('stop rules, Python: a dedent ends the method', () => {
  const src = [
    'class Stack:',
    '    def __init__(self):',
    '        self.items = []',
    '',
    '    def push(self, item):█',
    '',
    '    def pop(self):',
    '        return self.items.pop()',
    '',
  ].join('\n');
  const gen = '\n        self.items.append(item)\n\n    def peek(self):\n        return self.items[-1]';
  assert.equal(show(src, 'python', gen), '\n        self.items.append(item)');
  // on a blank line inside a body: lines at the body's indentation go on, a dedent stops
  const body = 'def mean(xs):\n    █\n\nprint(mean([1, 2]))\n';
  assert.equal(show(body, 'python', 'if not xs:\n        return 0.0\n    return sum(xs) / len(xs)\n\ndef median(xs):'), 'if not xs:\n        return 0.0\n    return sum(xs) / len(xs)');
  // `#` starts a comment in Python: brackets there do not count
  assert.equal(show('values = [█]', 'python', 'x * 2 for x in range(10)]  # [squares'), 'x * 2 for x in range(10)');
});

test('stop rules, Go with tabs: the loop body ends before the `}` that closes it', () => {
  const src = 'func Sum(xs []int) int {\n\ttotal := 0\n\tfor _, x := range xs {█\n\t}\n\treturn total\n}\n';
  assert.equal(accept(src, 'go', '\n\t\ttotal += x\n\t}\n\treturn total\n}'), 'func Sum(xs []int) int {\n\ttotal := 0\n\tfor _, x := range xs {\n\t\ttotal += x\n\t}\n\treturn total\n}\n');
});

test('stop rules, Rust: a match arm list, and a struct literal closed by the completion', () => {
  const src = 'fn describe(n: i32) -> &\'static str {\n    match n {█\n    }\n}\n';
  assert.equal(show(src, 'rust', '\n        0 => "zero",\n        _ => "many",\n    }\n}'), '\n        0 => "zero",\n        _ => "many",');
  const lit = 'fn origin() -> Point {\n    Point {█\n';
  assert.equal(show(lit, 'rust', '\n        x: 0.0,\n        y: 0.0,\n    }\n}\n\nfn main() {'), '\n        x: 0.0,\n        y: 0.0,\n    }');
});

test('stop rules, Ruby and shell: closing words end a block', () => {
  const rb = 'def greet(name)\n  █\nend\n';
  assert.equal(show(rb, 'ruby', 'puts "Hello, #{name}!"\nend\n\ndef bye'), 'puts "Hello, #{name}!"');
  const sh = 'for f in *.txt; do\n  █\ndone\n';
  assert.equal(show(sh, 'shellscript', 'wc -l "$f"\ndone\necho finished'), 'wc -l "$f"');
});

test('stop rules: at most maxLines lines; output no source file wants ends it', () => {
  const rules = new StopRules(at('function f() {\n  █\n}', 'typescript'), { ok: true, multiline: true, midWord: false }, { maxLines: 3 });
  assert.equal(rules.push('a();\n  b();\n'), false);
  assert.equal(rules.push('  c();\n  d();\n'), true, 'stops at the fourth line');
  assert.equal(rules.finish(), 'a();\n  b();\n  c();');
  assert.equal(show('const name = █', 'typescript', '"Ada\u0011 Lovelace";'), '"Ada');
  assert.equal(show('const name = █', 'typescript', 'ab\ufffdcd'), 'ab');
  // streaming: the rules decide on the piece that ends the completion, not later
  const s = new StopRules(at('console.log(█);', 'typescript'), { ok: true, multiline: false, midWord: false });
  assert.equal(s.push('"hel'), false);
  assert.equal(s.push('lo")'), true);
  assert.equal(s.push(' more'), true);
  assert.equal(s.finish(), '"hello"');
});

// ---- suffix de-duplication and the mid-word rule ----

test('suffix: closers and quotes the document already has are not repeated', () => {
  assert.equal(lineSuffixOverlap('a, b)', ')'), 1);
  assert.equal(lineSuffixOverlap('some', 'ed;'), 0, 'no overlap that ends inside a word');
  assert.equal(lineSuffixOverlap('getUserValue', 'Value()'), 5, 're-joins a word');
  assert.equal(lineSuffixOverlap('hello world";', '";'), 2);
  assert.equal(lineSuffixOverlap('   ', '   x'), 0);
  assert.equal(show('const s = "█";', 'typescript', 'hello world";'), 'hello world');
  assert.equal(accept('render(<App title="█" />);', 'typescriptreact', 'Home" />);'), 'render(<App title="Home" />);');
});

test('suffix: lines the document has next are not repeated', () => {
  const src = 'function f() {\n  const a = 1;\n  █\n  return a;\n}\n';
  assert.equal(show(src, 'typescript', 'const b = a + 1;\n  return a;'), 'const b = a + 1;');
  const py = 'def f(xs):\n    █\n    return total\n';
  assert.equal(show(py, 'python', 'total = sum(xs)\n    return total'), 'total = sum(xs)');
  const ctx = at('if (x) {█}\nrest();', 'typescript');
  assert.deepEqual(trimSuffix('\n  go();\n}', ctx), { text: '\n  go();\n', lineOverlap: 0, lines: 1 });
});

test('mid-word: shown only when the model re-joins the rest of the word', () => {
  assert.equal(accept('const v = get█Value();', 'typescript', 'UserValue();'), 'const v = getUserValue();');
  assert.equal(show('const v = get█Value();', 'typescript', 'Foo()'), '');
  assert.equal(show('total = cal█culate(xs)', 'python', 'culate(xs)'), '', 'only the word itself: nothing to add');
  // before a word, with something in front of it: a completion that would glue onto it is dropped
  assert.equal(show('foo(█bar)', 'typescript', 'x', true), '');
  assert.equal(show('foo(█bar)', 'typescript', 'x, ', true), 'x,');
});

// ---- cache ----

test('cache: same version and cursor, typed-through characters, partial accepts; never after other edits', () => {
  const cache = new CompletionCache(4);
  const uri = 'file:///src/a.ts';
  const before = 'const total = items.';
  const after = '\nexport {};\n';
  const text = before + after;
  cache.put(uri, 1, text, before.length, 'reduce((a, b) => a + b, 0);');
  assert.equal(cache.get(uri, 1, text, before.length)?.text, 'reduce((a, b) => a + b, 0);');
  assert.equal(cache.get(uri, 1, text, before.length - 1), undefined, 'another cursor');
  // typing "red" of the completion: its rest
  const typed = before + 'red' + after;
  assert.deepEqual(
    (({ text: t, typed: n }) => ({ t, n }))(cache.get(uri, 4, typed, before.length + 3)!),
    { t: 'uce((a, b) => a + b, 0);', n: 3 },
  );
  // a partial accept (next word) is the same edit
  assert.equal(cache.get(uri, 2, before + 'reduce((' + after, before.length + 8)?.text, 'a, b) => a + b, 0);');
  // typing something else, an edit elsewhere, another document: misses
  assert.equal(cache.get(uri, 2, before + 'x' + after, before.length + 1), undefined);
  assert.equal(cache.get(uri, 2, 'X' + before + 'r' + after, before.length + 2), undefined);
  assert.equal(cache.get(uri, 2, before + 'r' + after + 'x', before.length + 1), undefined);
  assert.equal(cache.get('file:///src/b.ts', 1, text, before.length), undefined);
  // the whole completion typed: nothing left to show, ask again
  assert.equal(cache.get(uri, 9, before + 'reduce((a, b) => a + b, 0);' + after, before.length + 27), undefined);
  // typed and deleted again: back to the start
  assert.equal(cache.get(uri, 3, text, before.length)?.text, 'reduce((a, b) => a + b, 0);');
  // bounded
  for (let i = 0; i < 4; i++) cache.put(uri, 10 + i, text, i, 'x');
  assert.equal(cache.size, 4);
  assert.equal(cache.get(uri, 1, text, before.length), undefined, 'the oldest entry went');
  cache.clear(uri);
  assert.equal(cache.size, 0);
});

// ---- debounce, cancellation ----

test('debounce: explicit requests go at once; a cancelled wait ends at once with false', async () => {
  assert.equal(debounceDelay(true, 200), 0);
  assert.equal(debounceDelay(false, 200), 200);
  assert.equal(await wait(5), true);
  const parent = new CancelSource();
  const child = new CancelSource(parent);
  const t0 = Date.now();
  const waiting = wait(10_000, child);
  setTimeout(() => parent.cancel('keystroke'), 20);
  assert.equal(await waiting, false);
  assert.ok(Date.now() - t0 < 2000);
  assert.equal(child.reason, 'parent');
  const already = new CancelSource(parent);
  assert.equal(already.isCancellationRequested, true, 'a source made from a cancelled token starts cancelled');
  let called = 0;
  const s = new CancelSource();
  s.onCancellationRequested(() => called++);
  s.cancel('superseded');
  s.cancel('again');
  assert.equal(called, 1);
  assert.equal(s.reason, 'superseded');
});

// ---- status bar wording ----

test('status: latency and tok/s in the badge, prompt reuse in the tooltip, enablement per language', () => {
  const stats: GenerationStats = {
    promptTokens: 4120, truncatedTokens: 0, generatedTokens: 21, keptTokens: 4112, rereadTokens: 2, readTokens: 8,
    queueMs: 0.1, prefillMs: 12, decodeMs: 500, firstTokenMs: 20, totalMs: 530,
  };
  assert.equal(completionBadge({ latencyMs: 181.6, fromCache: false, stats }), ' · 182 ms · 40 tok/s');
  assert.equal(completionBadge(undefined), '');
  assert.match(completionTooltip({ latencyMs: 181.6, fromCache: false, stats }).join('\n'), /4112 kept from the last request, 8 read \(2 of them re-read/);
  assert.match(completionTooltip({ latencyMs: 0.2, fromCache: true }).join('\n'), /from the cache/);
  const map = { '*': true, markdown: false, plaintext: false };
  assert.equal(completionsEnabled(map, 'typescript'), true);
  assert.equal(completionsEnabled(map, 'markdown'), false);
  assert.equal(completionsEnabled({ '*': false, python: true }, 'python'), true);
  assert.equal(completionsEnabled({ '*': false }, 'go'), false);
  assert.equal(completionsEnabled(undefined, 'go'), true);
});
