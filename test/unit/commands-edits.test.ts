// The pure steps between a model's answer and the diff preview: the code taken out of a streamed answer,
// the enclosing function chosen from symbols or from the text, the edit assembled with the target's
// indentation (whole lines, mid-line selections, doc comments above or inside), and the line counts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dedentCommon, extractCode } from '../../src/shared/commands/codeBlock';
import { docStyleFor, existingDocComment, normalizeDocComment } from '../../src/shared/commands/docStyle';
import { applyEdit, docCommentEdit, lineChanges, reindent, replaceLinesEdit, replaceSelectionEdit } from '../../src/shared/commands/edits';
import { blockEnd, enclosingFromText, enclosingFunction, enclosingSymbol, functionHeader, SymbolKind, SymbolLike } from '../../src/shared/commands/enclosing';

test('extractCode: the first fenced block, also while it streams', () => {
  const answer = 'Here it is:\n```ts\nconst a = 1;\nconst b = 2;\n```\nDone.';
  assert.deepEqual(extractCode(answer, true), { code: 'const a = 1;\nconst b = 2;', complete: true, unfenced: false, tag: 'ts' });
  // Streaming: every prefix gives a prefix of the code (or nothing yet), never a fence character.
  let last = '';
  for (let i = 0; i <= answer.length; i++) {
    const r = extractCode(answer.slice(0, i), false);
    if (!r) continue;
    assert.ok(!r.code.includes('`'), `prefix ${i}: ${JSON.stringify(r.code)}`);
    assert.ok('const a = 1;\nconst b = 2;'.startsWith(r.code), `prefix ${i}: ${JSON.stringify(r.code)}`);
    assert.ok(r.code.length >= last.length);
    last = r.code;
  }
  assert.equal(last, 'const a = 1;\nconst b = 2;');
  // The partial last line is held back (it might be the closing fence).
  assert.deepEqual(extractCode('```py\nx = 1\ny =', false), { code: 'x = 1', complete: false, unfenced: false, tag: 'py' });
  // An unclosed fence at the end of the answer: all of it.
  assert.equal(extractCode('```\nx = 1\ny = 2', true)?.code, 'x = 1\ny = 2');
  // Line breaks of any kind come out as \n (a lone \r is a line break to an editor).
  assert.equal(extractCode('```\r\nx\ry\r\n```', true)?.code, 'x\ny');
  assert.equal(extractCode('```\na\u0000b\u001b[0m\tc\n```', true)?.code, 'ab[0m\tc', 'control characters dropped, tabs kept');
  // Tildes and longer fences; a shorter fence inside does not close it.
  assert.equal(extractCode('~~~~md\n```js\nz\n```\n~~~~', true)?.code, '```js\nz\n```');
});

test('extractCode: an answer without a fence is taken whole at its end, or once long', () => {
  assert.equal(extractCode('  return a + b;\n', false), undefined);
  assert.deepEqual(extractCode('\n  return a + b;\n', true), { code: 'return a + b;', complete: true, unfenced: true });
  const long = 'word '.repeat(60) + '\nmore';
  const r = extractCode(long, false);
  assert.ok(r && r.unfenced && !r.complete && r.code.startsWith('word'));
  assert.equal(extractCode('', true), undefined);
  assert.equal(extractCode('   \n', true), undefined);
});

test('dedentCommon and reindent keep relative indentation', () => {
  assert.equal(dedentCommon('    a\n      b\n\n    c'), 'a\n  b\n\nc');
  assert.equal(dedentCommon('\ta\n\t\tb'), 'a\n\tb');
  assert.equal(reindent('a\n  b\n\nc', '    '), '    a\n      b\n\n    c');
  assert.equal(reindent('  x\n    y', '\t', '\r\n'), '\tx\r\n\t  y');
});

const FILE = ['class A {', '  add(a, b) {', '    return a - b;', '  }', '', '  sub(a, b) {', '    return a - b;', '  }', '}', ''].join('\n');

test('replaceLinesEdit: whole lines, re-indented to the first line, the line break after kept', () => {
  const e = replaceLinesEdit(FILE, { startLine: 1, endLine: 3 }, 'add(a, b) {\n  return a + b;\n}\n');
  assert.equal(applyEdit(FILE, e), FILE.replace('    return a - b;\n  }\n\n  sub', '    return a + b;\n  }\n\n  sub'));
  // The model indented its answer differently: the same result.
  const e2 = replaceLinesEdit(FILE, { startLine: 1, endLine: 3 }, '      add(a, b) {\n        return a + b;\n      }');
  assert.deepEqual(e2, e);
  // CRLF files get CRLF lines.
  const crlf = FILE.replace(/\n/g, '\r\n');
  const e3 = replaceLinesEdit(crlf, { startLine: 1, endLine: 3 }, 'add(a, b) {\n  return 0;\n}');
  assert.equal(applyEdit(crlf, e3).split('\r\n')[2], '    return 0;');
  assert.ok(!applyEdit(crlf, e3).replace(/\r\n/g, '').includes('\n'));
});

test('replaceSelectionEdit: a selection of whole lines is re-indented; a mid-line one goes in as is', () => {
  const start = FILE.indexOf('  add');
  const end = FILE.indexOf('  }\n') + 3;
  const whole = replaceSelectionEdit(FILE, start, end, 'add(a, b) {\n  return a + b;\n}');
  assert.equal(applyEdit(FILE, whole).split('\n').slice(1, 4).join('\n'), '  add(a, b) {\n    return a + b;\n  }');
  // From the line's first column, or ending at the start of the next line: whole lines too.
  const fromCol0 = replaceSelectionEdit(FILE, FILE.indexOf('  add'), FILE.indexOf('  }\n') + 4, 'add(a, b) {\n  return 0;\n}');
  assert.equal(applyEdit(FILE, fromCol0).split('\n').slice(1, 5).join('\n'), '  add(a, b) {\n    return 0;\n  }\n');
  // Mid-line: `a - b` in the first return.
  const s = FILE.indexOf('a - b');
  const mid = replaceSelectionEdit(FILE, s, s + 5, ' a + b ');
  assert.equal(applyEdit(FILE, mid).split('\n')[2], '    return a + b;');
  // A multi-line answer into a mid-line selection: later lines under the line's indentation.
  const multi = replaceSelectionEdit(FILE, s, s + 5, 'f(\n  a,\n  b)');
  assert.deepEqual(applyEdit(FILE, multi).split('\n').slice(2, 5), ['    return f(', '      a,', '      b);']);
});

test('doc comments: above the declaration (and its decorators), inside for Python, replacing an existing one', () => {
  const ts = ['export class A {', '  @memo()', '  add(a: number) {', '    return a;', '  }', '}'].join('\n');
  const style = docStyleFor('typescript');
  const comment = normalizeDocComment('Adds.\n\n@param a - the number', style);
  assert.equal(comment, '/**\n * Adds.\n *\n * @param a - the number\n */');
  const out = applyEdit(ts, docCommentEdit(ts, 2, comment, style));
  assert.equal(out.split('\n').slice(1, 7).join('\n'), '  /**\n   * Adds.\n   *\n   * @param a - the number\n   */\n  @memo()');
  // Run again: the comment above is replaced, not doubled.
  const again = applyEdit(out, docCommentEdit(out, out.split('\n').indexOf('  add(a: number) {'), '/** Adds a number. */', style));
  assert.equal(again.split('\n').filter((l) => l.includes('/**')).length, 1);
  assert.match(again, /  \/\*\* Adds a number\. \*\/\n  @memo\(\)\n  add/);

  const py = ['def add(a, b):', '    return a + b', ''].join('\n');
  const ds = docStyleFor('python');
  const doc = normalizeDocComment('Adds two numbers.', ds);
  assert.equal(doc, '"""Adds two numbers."""');
  const pyOut = applyEdit(py, docCommentEdit(py, 0, doc, ds));
  assert.equal(pyOut, 'def add(a, b):\n    """Adds two numbers."""\n    return a + b\n');
  const pyAgain = applyEdit(pyOut, docCommentEdit(pyOut, 0, '"""Return a + b.\n\nArgs:\n    a: first.\n"""', ds));
  assert.equal(pyAgain, 'def add(a, b):\n    """Return a + b.\n\n    Args:\n        a: first.\n    """\n    return a + b\n');

  const rs = ['/// Old.', 'pub fn f() {}'].join('\n');
  const rsStyle = docStyleFor('rust');
  assert.deepEqual(existingDocComment(rs.split('\n'), 1, rsStyle), { startLine: 0, endLine: 0 });
  assert.equal(applyEdit(rs, docCommentEdit(rs, 1, normalizeDocComment('New text.\nMore.', rsStyle), rsStyle)), '/// New text.\n/// More.\npub fn f() {}');
});

test('normalizeDocComment: a whole declaration returned by mistake is cut to its comment', () => {
  assert.equal(normalizeDocComment('/** Adds. */\nfunction add() {}', docStyleFor('javascript')), '/** Adds. */');
  assert.equal(normalizeDocComment('def f():\n    """Doc."""\n    pass', docStyleFor('python')), '"""Doc."""');
  assert.equal(normalizeDocComment('// F does x.\nfunc F() {}', docStyleFor('go')), '// F does x.');
  assert.equal(normalizeDocComment('Does x.', docStyleFor('go')), '// Does x.');
  assert.equal(normalizeDocComment('Summary', docStyleFor('csharp')), '/// Summary');
});

test('lineChanges counts added and removed lines', () => {
  assert.deepEqual(lineChanges('a\nb\nc', 'a\nb\nc'), { added: 0, removed: 0 });
  assert.deepEqual(lineChanges('a\nb\nc', 'a\nx\nc'), { added: 1, removed: 1 });
  assert.deepEqual(lineChanges('a\nc', 'a\nb1\nb2\nc'), { added: 2, removed: 0 });
  assert.deepEqual(lineChanges('', 'x\ny'), { added: 2, removed: 1 });
  assert.deepEqual(lineChanges('a\nb\nc\nd', 'b\nd\ne'), { added: 1, removed: 2 });
});

const sym = (name: string, kind: number, s: number, e: number, children: SymbolLike[] = []): SymbolLike => ({
  name,
  kind,
  range: { start: { line: s, character: 0 }, end: { line: e, character: 1 } },
  children,
});

test('enclosingSymbol: the innermost function-like symbol, else the innermost class', () => {
  const symbols = [
    sym('A', SymbolKind.Class, 0, 20, [sym('field', SymbolKind.Field, 1, 1), sym('m', SymbolKind.Method, 2, 10, [sym('inner', SymbolKind.Function, 4, 6)])]),
    sym('handler', SymbolKind.Variable, 22, 30),
    sym('ONE', SymbolKind.Constant, 31, 31),
  ];
  assert.deepEqual(enclosingSymbol(symbols, 5), { startLine: 4, endLine: 6, name: 'inner', kind: 'function', source: 'symbols' });
  assert.equal(enclosingSymbol(symbols, 8)?.name, 'm');
  assert.deepEqual(enclosingSymbol(symbols, 1), { startLine: 0, endLine: 20, name: 'A', kind: 'block', source: 'symbols' });
  assert.equal(enclosingSymbol(symbols, 25)?.name, 'handler', 'a multi-line variable (an arrow function) counts');
  assert.equal(enclosingSymbol(symbols, 31), undefined, 'a one-line constant does not');
  assert.equal(enclosingSymbol(symbols, 40), undefined);
});

test('enclosingFromText: Python by indentation, with decorators', () => {
  const py = ['import x', '', '@cache', 'def fib(n):', '    if n < 2:', '        return n', '', '    return fib(n - 1) + fib(n - 2)', '', 'def main():', '    pass'].join('\n');
  assert.deepEqual(enclosingFromText(py, 5, 'python'), { startLine: 2, endLine: 7, name: 'fib', kind: 'function', source: 'text' });
  assert.equal(enclosingFromText(py, 10, 'python')?.name, 'main');
  assert.equal(enclosingFromText(py, 0, 'python'), undefined);
  // Parameters over several lines.
  const multi = ['def f(', '    a,', '    b,', '):', '    return a', 'x = 1'].join('\n');
  assert.deepEqual(enclosingFromText(multi, 4, 'python'), { startLine: 0, endLine: 4, name: 'f', kind: 'function', source: 'text' });
});

test('enclosingFromText: braces (strings and comments ignored), nested functions, Go, Rust, Ruby', () => {
  const ts = [
    'export function outer(a: string): number {',
    '  const s = "}"; // }',
    '  function inner() {',
    '    return 1;',
    '  }',
    "  return a.length + inner(); /* } */",
    '}',
    'const arrow = (x: number) => {',
    '  return x * 2;',
    '};',
  ].join('\n');
  assert.deepEqual(enclosingFromText(ts, 1, 'typescript'), { startLine: 0, endLine: 6, name: 'outer', kind: 'function', source: 'text' });
  assert.equal(enclosingFromText(ts, 3, 'typescript')?.name, 'inner');
  assert.equal(enclosingFromText(ts, 5, 'typescript')?.name, 'outer');
  assert.deepEqual(enclosingFromText(ts, 8, 'typescript'), { startLine: 7, endLine: 9, name: 'arrow', kind: 'function', source: 'text' });
  const go = ['func (s *Server) Handle(w http.ResponseWriter) {', '\tif x {', '\t\treturn', '\t}', '}'].join('\n');
  assert.equal(enclosingFromText(go, 2, 'go')?.name, 'Handle');
  const rs = ['#[inline]', 'pub async fn run(x: u32) -> u32 {', '    x + 1', '}'].join('\n');
  assert.deepEqual(enclosingFromText(rs, 2, 'rust'), { startLine: 0, endLine: 3, name: 'run', kind: 'function', source: 'text' });
  const rb = ['def greet(name)', '  puts "hi #{name}"', 'end', 'greet(1)'].join('\n');
  assert.deepEqual(enclosingFromText(rb, 1, 'ruby'), { startLine: 0, endLine: 2, name: 'greet', kind: 'function', source: 'text' });
  const tsClass = ['export class K {', '  private async scale<T>(v: number): Promise<number> {', '    return v * 2;', '  }', '}'].join('\n');
  assert.deepEqual(enclosingFromText(tsClass, 2, 'typescript'), { startLine: 1, endLine: 3, name: 'scale', kind: 'function', source: 'text' });
  const java = ['public class A {', '  public static int twice(int x) {', '    return 2 * x;', '  }', '}'].join('\n');
  assert.equal(enclosingFromText(java, 2, 'java')?.name, 'twice');
});

test('functionHeader and blockEnd refuse statements and declarations', () => {
  assert.equal(functionHeader('  if (x) {'), undefined);
  assert.equal(functionHeader('  return foo(x);'), undefined);
  assert.equal(functionHeader('  } else if (y) {'), undefined);
  assert.equal(functionHeader('int add(int a, int b);')?.name, undefined, 'a prototype ends with ;');
  assert.equal(blockEnd(['void f(int a)', ';'], 0, 'c'), undefined);
});

test('enclosingFunction: symbols first, the text when they have only a class', () => {
  const text = ['class A:', '    def m(self):', '        return 1'].join('\n');
  const onlyClass = [sym('A', SymbolKind.Class, 0, 2)];
  assert.equal(enclosingFunction({ symbols: onlyClass, text, line: 2, languageId: 'python' })?.name, 'm');
  const withMethod = [sym('A', SymbolKind.Class, 0, 2, [sym('m', SymbolKind.Method, 1, 2)])];
  assert.equal(enclosingFunction({ symbols: withMethod, text, line: 2, languageId: 'python' })?.source, 'symbols');
  assert.equal(enclosingFunction({ symbols: undefined, text, line: 0, languageId: 'python' }), undefined, 'the class line itself: no function');
  assert.equal(enclosingFunction({ symbols: onlyClass, text, line: 0, languageId: 'python' })?.kind, 'block');
});
