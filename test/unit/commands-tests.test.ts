// Write tests: the framework the workspace uses and where the test file goes (an existing one extended,
// else a new one next to the source named as the workspace names its tests), and the import path.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { detectFramework, importPath, planTests, testFileNames } from '../../src/shared/commands/testFramework';

test('JS/TS: the framework from package.json, the test script, or the existing tests', () => {
  assert.equal(detectFramework('typescript', { files: [], packageDeps: { vitest: '^2' } }).framework, 'Vitest');
  assert.equal(detectFramework('typescript', { files: [], packageDeps: { 'ts-jest': '^29' } }).framework, 'Jest');
  assert.equal(detectFramework('javascript', { files: [], testScript: 'jest --ci' }).framework, 'Jest');
  const mocha = detectFramework('typescript', { files: [], packageDeps: { mocha: '12' }, testSamples: ["suite('x', () => { test('y', () => {}) })"] });
  assert.equal(mocha.framework, 'Mocha');
  assert.match(mocha.guidance, /TDD interface/);
  assert.match(detectFramework('typescript', { files: [], packageDeps: { mocha: '12' } }).guidance, /BDD interface/);
  assert.equal(detectFramework('typescript', { files: [], testScript: 'node --test out/' }).framework, 'node:test');
  assert.match(detectFramework('typescript', { files: [] }).guidance, /No test framework found/);
});

test('other languages: pytest or unittest, Go, Rust, JUnit, xUnit, GoogleTest, RSpec', () => {
  assert.equal(detectFramework('python', { files: ['conftest.py'] }).framework, 'pytest');
  assert.equal(detectFramework('python', { files: [], pythonConfig: '[tool.pytest.ini_options]' }).framework, 'pytest');
  assert.equal(detectFramework('python', { files: [], testSamples: ['import unittest\nclass T(unittest.TestCase):'] }).framework, 'unittest');
  assert.equal(detectFramework('go', { files: [] }).framework, 'testing');
  assert.equal(detectFramework('rust', { files: [] }).framework, 'cargo test');
  assert.equal(detectFramework('java', { files: [], testSamples: ['import org.junit.Test;'] }).framework, 'JUnit 4');
  assert.equal(detectFramework('java', { files: [] }).framework, 'JUnit 5');
  assert.equal(detectFramework('csharp', { files: [], testSamples: ['[Fact]'] }).framework, 'xUnit');
  assert.equal(detectFramework('cpp', { files: [] }).framework, 'GoogleTest');
  assert.equal(detectFramework('ruby', { files: ['spec/a_spec.rb'] }).framework, 'RSpec');
});

test('test file names follow the workspace: .spec vs .test, test_x.py vs x_test.py', () => {
  assert.deepEqual(testFileNames('src/a.ts', 'typescript', []), ['a.test.ts', 'a.spec.ts']);
  assert.deepEqual(testFileNames('src/a.ts', 'typescript', ['src/b.spec.ts', 'src/c.spec.ts', 'src/d.test.ts']), ['a.spec.ts', 'a.test.ts']);
  assert.deepEqual(testFileNames('pkg/a.py', 'python', []), ['test_a.py', 'a_test.py']);
  assert.deepEqual(testFileNames('pkg/a.py', 'python', ['x_test.py', 'y_test.py', 'test_z.py']), ['a_test.py', 'test_a.py']);
  assert.deepEqual(testFileNames('a.go', 'go', []), ['a_test.go']);
  assert.deepEqual(testFileNames('src/Foo.java', 'java', []), ['FooTest.java', 'FooTests.java']);
});

test('planTests: extend the test file next to the source, or one in a test folder; else a new one next to it', () => {
  const ws = { files: ['src/math.ts', 'src/math.test.ts', 'package.json'], packageDeps: { vitest: '2' } };
  assert.deepEqual(planTests('src/math.ts', 'typescript', ws), {
    framework: 'Vitest',
    guidance: "Vitest: import { describe, it, expect } from 'vitest'; use describe/it/expect.",
    testPath: 'src/math.test.ts',
    extend: true,
  });
  const inTests = { files: ['src/math.ts', 'test/unit/math.test.ts'] };
  assert.equal(planTests('src/math.ts', 'typescript', inTests).testPath, 'test/unit/math.test.ts');
  assert.equal(planTests('src/math.ts', 'typescript', inTests).extend, true);
  const fresh = planTests('src/geo.ts', 'typescript', inTests);
  assert.deepEqual([fresh.testPath, fresh.extend], ['src/geo.test.ts', false]);
  assert.equal(planTests('src/ui/x.tsx', 'typescriptreact', { files: ['src/ui/__tests__/y.test.tsx'] }).testPath, 'src/ui/__tests__/x.test.tsx');
  assert.deepEqual(planTests('lib/calc.py', 'python', { files: ['lib/calc.py'] }).testPath, 'lib/test_calc.py');
  const rust = planTests('src/lib.rs', 'rust', { files: ['src/lib.rs'] });
  assert.deepEqual([rust.testPath, rust.extend], ['src/lib.rs', true]);
});

test('importPath: relative module paths without extension; Python module names', () => {
  assert.equal(importPath('src/math.test.ts', 'src/math.ts', 'typescript'), './math');
  assert.equal(importPath('test/unit/math.test.ts', 'src/math.ts', 'typescript'), '../../src/math');
  assert.equal(importPath('src/ui/__tests__/x.test.tsx', 'src/ui/x.tsx', 'typescriptreact'), '../x');
  assert.equal(importPath('lib/test_calc.py', 'lib/calc.py', 'python'), 'calc');
  assert.equal(importPath('a.test.js', 'a.js', 'javascript'), './a');
});
