// Write tests: which test framework the workspace already uses, and where the tests for a source file go
// (an existing test file for it, found anywhere in the workspace, is extended; otherwise a new one is
// created next to the source, named the way the workspace names its tests).

export interface WorkspaceFacts {
  /** Workspace-relative paths of files (a sample: node_modules and build output left out). */
  files: readonly string[];
  /** The nearest package.json's dependencies and devDependencies, merged (JS/TS). */
  packageDeps?: Readonly<Record<string, string>>;
  /** The nearest package.json's `scripts.test`. */
  testScript?: string;
  /** Text of pyproject.toml, setup.cfg, tox.ini, requirements*.txt (Python), concatenated. */
  pythonConfig?: string;
  /** Text of existing test files' first lines, for import style (a few). */
  testSamples?: readonly string[];
}

export interface TestPlan {
  framework: string;
  /** Workspace-relative path of the test file. */
  testPath: string;
  /** The test file exists: new tests are appended. */
  extend: boolean;
  /** How the prompt describes the framework's conventions. */
  guidance: string;
}

const posix = {
  dirname: (p: string) => (p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : ''),
  basename: (p: string) => p.slice(p.lastIndexOf('/') + 1),
  join: (...parts: string[]) => parts.filter(Boolean).join('/'),
};

function splitExt(name: string): { stem: string; ext: string } {
  const i = name.lastIndexOf('.');
  return i > 0 ? { stem: name.slice(0, i), ext: name.slice(i) } : { stem: name, ext: '' };
}

const JS_LANGS = new Set(['typescript', 'typescriptreact', 'javascript', 'javascriptreact']);

export function detectFramework(languageId: string, ws: WorkspaceFacts): { framework: string; guidance: string } {
  const deps = ws.packageDeps ?? {};
  const script = ws.testScript ?? '';
  const samples = (ws.testSamples ?? []).join('\n');
  if (JS_LANGS.has(languageId)) {
    if ('vitest' in deps || /\bvitest\b/.test(script) || /from ['"]vitest['"]/.test(samples)) {
      return { framework: 'Vitest', guidance: "Vitest: import { describe, it, expect } from 'vitest'; use describe/it/expect." };
    }
    if ('jest' in deps || 'ts-jest' in deps || /\bjest\b/.test(script) || /@jest\/globals/.test(samples)) {
      return { framework: 'Jest', guidance: 'Jest: describe/it/expect globals (no import needed unless the samples import @jest/globals).' };
    }
    if ('mocha' in deps || /\bmocha\b/.test(script)) {
      const tdd = /\bsuite\(|\btest\(/.test(samples) && !/\bdescribe\(/.test(samples);
      return {
        framework: 'Mocha',
        guidance: `Mocha (${tdd ? 'TDD interface: suite/test' : 'BDD interface: describe/it'}) with node:assert/strict.`,
      };
    }
    if (/node --test|node:test/.test(script + samples)) {
      return { framework: 'node:test', guidance: "Node's built-in runner: import { test } from 'node:test' and assert from 'node:assert/strict'." };
    }
    return { framework: 'node:test', guidance: "No test framework found in package.json: use Node's built-in runner, import { test } from 'node:test' and assert from 'node:assert/strict'." };
  }
  switch (languageId) {
    case 'python': {
      const cfg = ws.pythonConfig ?? '';
      const pytest = /\bpytest\b/.test(cfg) || ws.files.some((f) => posix.basename(f) === 'conftest.py') || /^\s*import pytest|^\s*from pytest/m.test(samples);
      if (pytest || !/unittest/.test(samples)) {
        return { framework: 'pytest', guidance: 'pytest: plain test_* functions with assert statements; pytest.raises for exceptions; import the module under test.' };
      }
      return { framework: 'unittest', guidance: 'unittest: a unittest.TestCase subclass with test_* methods and self.assert* calls.' };
    }
    case 'go':
      return { framework: 'testing', guidance: "Go's testing package: func TestXxx(t *testing.T) in the same package, table-driven where it fits." };
    case 'rust':
      return { framework: 'cargo test', guidance: 'Rust: a #[cfg(test)] mod tests { use super::*; #[test] fn ... } module with assert_eq!.' };
    case 'java': {
      const junit4 = /org\.junit\.Test\b/.test(samples);
      return { framework: junit4 ? 'JUnit 4' : 'JUnit 5', guidance: junit4 ? 'JUnit 4: @Test methods, org.junit.Assert.' : 'JUnit 5: @Test methods, org.junit.jupiter.api.Assertions.' };
    }
    case 'kotlin':
      return { framework: 'kotlin.test', guidance: 'kotlin.test with JUnit 5: @Test functions and assertEquals.' };
    case 'csharp':
      return /Xunit|\[Fact\]/.test(samples)
        ? { framework: 'xUnit', guidance: 'xUnit: [Fact] and [Theory] methods, Assert.Equal.' }
        : { framework: 'NUnit', guidance: 'NUnit: [TestFixture], [Test] methods, Assert.That.' };
    case 'c':
    case 'cpp':
      return /catch2|TEST_CASE\(/.test(samples)
        ? { framework: 'Catch2', guidance: 'Catch2: TEST_CASE and REQUIRE.' }
        : { framework: 'GoogleTest', guidance: 'GoogleTest: TEST(Suite, Name) with EXPECT_EQ / ASSERT_*.' };
    case 'ruby':
      return ws.files.some((f) => f.endsWith('_spec.rb'))
        ? { framework: 'RSpec', guidance: 'RSpec: describe/it with expect(...).to.' }
        : { framework: 'Minitest', guidance: 'Minitest: a Minitest::Test subclass with test_* methods.' };
    case 'php':
      return { framework: 'PHPUnit', guidance: 'PHPUnit: a TestCase subclass with test* methods and $this->assert*.' };
    case 'swift':
      return { framework: 'XCTest', guidance: 'XCTest: an XCTestCase subclass with test* methods and XCTAssert*.' };
    default:
      return { framework: 'the usual test framework of the language', guidance: 'Use the test framework most common for this language.' };
  }
}

/** Candidate names of a test file for `source` (workspace-relative), in the workspace's naming first. */
export function testFileNames(source: string, languageId: string, files: readonly string[]): string[] {
  const { stem, ext } = splitExt(posix.basename(source));
  if (JS_LANGS.has(languageId)) {
    const spec = files.filter((f) => /\.spec\.[cm]?[jt]sx?$/.test(f)).length;
    const test = files.filter((f) => /\.test\.[cm]?[jt]sx?$/.test(f)).length;
    const order = spec > test ? ['spec', 'test'] : ['test', 'spec'];
    return order.map((k) => `${stem}.${k}${ext}`);
  }
  switch (languageId) {
    case 'python': {
      const suffix = files.filter((f) => /_test\.py$/.test(f)).length > files.filter((f) => /(^|\/)test_[^/]*\.py$/.test(f)).length;
      return suffix ? [`${stem}_test.py`, `test_${stem}.py`] : [`test_${stem}.py`, `${stem}_test.py`];
    }
    case 'go':
      return [`${stem}_test.go`];
    case 'java':
    case 'kotlin':
    case 'csharp':
    case 'swift':
    case 'php':
      return [`${stem}Test${ext}`, `${stem}Tests${ext}`];
    case 'ruby':
      return files.some((f) => f.endsWith('_spec.rb')) ? [`${stem}_spec.rb`, `${stem}_test.rb`] : [`${stem}_test.rb`, `test_${stem}.rb`];
    case 'rust':
      return [posix.basename(source)];
    default:
      return [`${stem}_test${ext}`, `test_${stem}${ext}`];
  }
}

/**
 * Where the tests go: an existing test file for the source (next to it first, then anywhere in the
 * workspace's test folders by name), else a new file next to the source. Rust keeps unit tests in the
 * source file itself, in a `#[cfg(test)]` module.
 */
export function planTests(source: string, languageId: string, ws: WorkspaceFacts): TestPlan {
  const { framework, guidance } = detectFramework(languageId, ws);
  const names = testFileNames(source, languageId, ws.files);
  const dir = posix.dirname(source);
  const existing = new Set(ws.files);
  if (languageId === 'rust') return { framework, guidance, testPath: source, extend: true };
  for (const n of names) {
    const next = posix.join(dir, n);
    if (existing.has(next)) return { framework, guidance, testPath: next, extend: true };
  }
  for (const n of names) {
    const found = ws.files.find((f) => posix.basename(f) === n && /(^|\/)(tests?|__tests__|spec)(\/|$)/.test(posix.dirname(f)));
    if (found) return { framework, guidance, testPath: found, extend: true };
  }
  // A __tests__ folder beside the source is where this workspace keeps them.
  const inTestsDir = ws.files.some((f) => posix.dirname(f) === posix.join(dir, '__tests__'));
  return { framework, guidance, testPath: posix.join(inTestsDir ? posix.join(dir, '__tests__') : dir, names[0]), extend: false };
}

/** How the test file imports the source: a relative module path without extension (JS/TS, Python module name). */
export function importPath(testPath: string, source: string, languageId: string): string {
  const from = posix.dirname(testPath).split('/').filter(Boolean);
  const to = source.split('/').filter(Boolean);
  let i = 0;
  while (i < from.length && i < to.length - 1 && from[i] === to[i]) i++;
  const up = from.length - i;
  const rel = [...Array(up).fill('..'), ...to.slice(i)].join('/');
  const noExt = rel.replace(/\.[^./]+$/, '');
  if (languageId === 'python') return noExt.split('/').pop()!;
  return up === 0 ? `./${noExt}` : noExt;
}
