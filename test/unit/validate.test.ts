import assert from 'node:assert/strict';
import { test } from 'node:test';
import { paramValidators } from '../../src/shared/protocol';
import { parseWebviewMessage } from '../../src/shared/webviewProtocol';
import { arrayOf, int, object, optional, str, ValidationError } from '../../src/shared/validate';

test('object validator accepts exact shapes and names the bad field', () => {
  const check = object({ a: int({ min: 0 }), b: optional(str()), c: arrayOf(int(), { maxLength: 2 }) });
  assert.deepEqual(check({ a: 1, c: [1, 2] }, 'm'), { a: 1, c: [1, 2] });
  assert.throws(() => check({ a: -1, c: [] }, 'm'), /m\.a: must be >= 0/);
  assert.throws(() => check({ a: 1, c: [1, 'x'] }, 'm'), /m\.c\[1\]: expected an integer, got string/);
  assert.throws(() => check({ a: 1, c: [1, 2, 3] }, 'm'), /more than 2 items/);
  assert.throws(() => check({ a: 1, c: [], evil: true }, 'm'), /m\.evil: unknown field/);
  assert.throws(() => check(null, 'm'), ValidationError);
  assert.throws(() => check([], 'm'), /expected an object, got array/);
});

test('worker protocol params are validated per method', () => {
  const ok = { device: 'auto', threads: 0, contextLength: 4096, stateMemoryBudgetMB: 512 };
  assert.deepEqual(paramValidators.initialize(ok, 'params'), ok);
  assert.throws(() => paramValidators.initialize({ ...ok, device: 'tpu' }, 'params'), /params\.device: expected one of auto\|cuda\|cpu/);
  assert.throws(() => paramValidators.initialize({ ...ok, threads: 1.5 }, 'params'), /params\.threads/);
  assert.throws(() => paramValidators.ping({ seq: '1' }, 'params'), /params\.seq/);
  assert.throws(() => paramValidators.info({ x: 1 }, 'params'), /unknown field/);
});

test('webview messages: only known, well-formed messages pass', () => {
  assert.deepEqual(parseWebviewMessage({ type: 'ready' }), { type: 'ready' });
  assert.deepEqual(parseWebviewMessage({ type: 'command', command: 'restartRuntime' }), { type: 'command', command: 'restartRuntime' });
  assert.throws(() => parseWebviewMessage({ type: 'command', command: 'workbench.action.terminal.new' }), /command/);
  assert.throws(() => parseWebviewMessage({ type: '__proto__' }), /unknown type/);
  assert.throws(() => parseWebviewMessage({ type: 'toString' }), /unknown type/);
  assert.throws(() => parseWebviewMessage('ready'), /unknown type/);
  assert.throws(() => parseWebviewMessage({ type: 'ready', html: '<img onerror=alert(1)>' }), /unknown field/);
});
