// The host <-> worker protocol's validators: every method's params and every notification are checked on
// arrival; what is malformed is refused with a message naming the field.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { methods, notifications, notificationValidators, paramValidators } from '../../src/shared/protocol';

const good = {
  initialize: { device: 'cpu', threads: 0, contextLength: 4096, stateMemoryBudgetMB: 256, modelPath: '/m.gguf', logLevel: 'debug' },
  loadModel: { path: '/m.gguf', progressId: 3 },
  info: {},
  ping: { seq: 1 },
  openDocument: { uri: 'file:///a.ts', languageId: 'typescript', version: 1, text: 'let x = 1;\n' },
  editDocument: {
    uri: 'file:///a.ts',
    version: 2,
    changes: [{ range: { start: { line: 0, character: 4 }, end: { line: 0, character: 5 } }, rangeOffset: 4, rangeLength: 1, text: 'y' }],
  },
  closeDocument: { uri: 'file:///a.ts' },
  complete: { id: 1, uri: 'file:///a.ts', version: 2, offset: 3, maxTokens: 16, stop: ['\n\n'], sampling: { temperature: 0.2, topK: 40 } },
  chat: { id: 2, prompt: '<|im_start|>user\nhi<|im_end|>\n', maxTokens: 64, thinking: { startsInside: true, open: '<think>', close: '</think>', budget: 32 } },
  cancel: { id: 2 },
  bench: { id: 3, promptTokens: 64, genTokens: 16, stream: true },
  tokenize: { text: '<|im_start|>user\nhi', parseSpecial: true, ids: true },
  shutdown: {},
} as const;

test('every method has a validator and a well-formed example passes it', () => {
  assert.deepEqual([...methods].sort(), Object.keys(good).sort());
  for (const m of methods) assert.deepEqual(paramValidators[m](good[m], 'params'), good[m], m);
});

test('malformed params are refused with the field named', () => {
  const bad: [keyof typeof good, unknown, RegExp][] = [
    ['ping', { seq: 'x' }, /params\.seq: expected an integer, got string/],
    ['info', { extra: 1 }, /params\.extra: unknown field/],
    ['initialize', { ...good.initialize, device: 'tpu' }, /params\.device: expected one of auto\|cuda\|cpu/],
    ['initialize', { ...good.initialize, logLevel: 'loud' }, /params\.logLevel/],
    ['initialize', { ...good.initialize, requestTimeoutMs: -1 }, /params\.requestTimeoutMs: must be >= 0/],
    ['chat', { ...good.chat, timeoutMs: 1.5 }, /params\.timeoutMs: expected an integer/],
    ['tokenize', { text: 3 }, /params\.text: expected a string/],
    ['tokenize', { text: 'x', extra: true }, /params\.extra: unknown field/],
    ['openDocument', { ...good.openDocument, uri: '' }, /params\.uri: must not be empty/],
    ['openDocument', { ...good.openDocument, text: 5 }, /params\.text: expected a string/],
    ['editDocument', { ...good.editDocument, changes: [{ ...good.editDocument.changes[0], rangeOffset: -1 }] }, /changes\[0\]\.rangeOffset: must be >= 0/],
    ['editDocument', { ...good.editDocument, changes: [{ text: 'x' }] }, /changes\[0\]\.range: expected an object/],
    ['editDocument', { ...good.editDocument, changes: 'x' }, /params\.changes: expected an array/],
    ['complete', { ...good.complete, id: -1 }, /params\.id: must be >= 0/],
    ['complete', { ...good.complete, offset: 1.5 }, /params\.offset: expected an integer/],
    ['complete', { ...good.complete, stop: [''] }, /params\.stop\[0\]: must not be empty/],
    ['complete', { ...good.complete, sampling: { temperature: Infinity } }, /sampling\.temperature: expected a finite number/],
    ['complete', { ...good.complete, sampling: { topP: 2 } }, /sampling\.topP: must be <= 1/],
    ['chat', { ...good.chat, thinking: { ...good.chat.thinking, budget: -1 } }, /thinking\.budget: must be >= 0/],
    ['bench', { ...good.bench, stream: 'yes' }, /params\.stream: expected a boolean/],
    ['cancel', null, /params: expected an object, got null/],
    ['cancel', [1], /params: expected an object, got array/],
  ];
  for (const [m, params, re] of bad) assert.throws(() => paramValidators[m](params as never, 'params'), re, `${m} ${JSON.stringify(params)}`);
});

test('notifications from the worker are validated too', () => {
  const ok = {
    log: { level: 'info', message: 'hello' },
    progress: { id: 1, stage: 'read', done: 10, total: 100, message: 'reading weights 10%' },
    stream: { id: 4, parts: [{ kind: 'reasoning', text: 'hm' }, { kind: 'answer', text: 'yes' }], tokens: 2 },
    memory: { rssBytes: 1, heapUsedBytes: 2, externalBytes: 3, modelBytes: 4, sessions: 1, sessionBytes: 5, documents: 2, documentChars: 9 },
  };
  assert.deepEqual([...notifications].sort(), Object.keys(ok).sort());
  for (const n of notifications) assert.deepEqual(notificationValidators[n](ok[n], n), ok[n]);
  assert.throws(() => notificationValidators.stream({ id: 1, parts: [{ kind: 'other', text: '' }], tokens: 1 }, 'stream'), /parts\[0\]\.kind/);
  assert.throws(() => notificationValidators.log({ level: 'fatal', message: '' }, 'log'), /log\.level/);
});
