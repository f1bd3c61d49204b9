// The worker's mirror of the editor's documents: VS Code content changes applied in order, versions
// checked, refused edits leave the copy untouched.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DocumentError, DocumentStore, textHash } from '../../src/worker/documents';
import type { ContentChange } from '../../src/shared/protocol';

const zero = { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };
const change = (rangeOffset: number, rangeLength: number, text: string): ContentChange => ({ range: zero, rangeOffset, rangeLength, text });

test('edits are applied in order and note the first changed offset', () => {
  const s = new DocumentStore();
  s.open({ uri: 'u', languageId: 'ts', version: 1, text: 'hello world' });
  s.get('u')!.staleFrom = -1; // as after a request read it
  // Three cursors typing "!" — VS Code lists such changes last-first, so each offset holds as applied.
  const d = s.edit({ uri: 'u', version: 2, changes: [change(11, 0, '!'), change(5, 0, '!'), change(0, 0, '!')] });
  assert.equal(d.text, '!hello! world!');
  assert.equal(d.version, 2);
  assert.equal(d.staleFrom, 0);
  s.get('u')!.staleFrom = -1;
  assert.equal(s.edit({ uri: 'u', version: 3, changes: [change(7, 6, 'there')] }).text, '!hello!there!');
  assert.equal(s.get('u')!.staleFrom, 7);
  assert.equal(s.edit({ uri: 'u', version: 4, changes: [change(0, 13, '')] }).text, '');
});

test('astral characters count as two UTF-16 units, as VS Code counts them', () => {
  const s = new DocumentStore();
  s.open({ uri: 'u', languageId: 'ts', version: 1, text: 'a😀b' });
  assert.equal(s.edit({ uri: 'u', version: 2, changes: [change(1, 2, 'é')] }).text, 'aéb');
});

test('refused edits: unknown document, stale version, range past the end; the copy is unchanged', () => {
  const s = new DocumentStore();
  assert.throws(() => s.edit({ uri: 'nope', version: 2, changes: [] }), (e: unknown) => e instanceof DocumentError && e.kind === 'notOpen');
  s.open({ uri: 'u', languageId: 'ts', version: 5, text: 'abc' });
  assert.throws(() => s.edit({ uri: 'u', version: 5, changes: [change(0, 0, 'x')] }), /already has version 5/);
  assert.throws(
    () => s.edit({ uri: 'u', version: 6, changes: [change(0, 0, 'x'), change(2, 5, 'y')] }),
    (e: unknown) => e instanceof DocumentError && e.kind === 'outOfSync' && /change 1 replaces \[2, 7\)/.test(e.message),
  );
  assert.equal(s.get('u')!.text, 'abc');
  assert.equal(s.get('u')!.version, 5);
  assert.throws(() => s.require('u', 4), /request is for version 4, the worker has version 5/);
  assert.equal(s.require('u', 5).text, 'abc');
});

test('open replaces, close forgets, summaries carry a hash of the text', () => {
  const s = new DocumentStore();
  s.open({ uri: 'u', languageId: 'ts', version: 1, text: 'abc' });
  s.open({ uri: 'u', languageId: 'ts', version: 9, text: 'abcd' });
  assert.equal(s.size, 1);
  assert.equal(s.totalChars, 4);
  const sum = s.summary(s.get('u')!);
  assert.deepEqual(sum, { uri: 'u', languageId: 'ts', version: 9, length: 4, staleFrom: 0, hash: textHash('abcd') });
  assert.notEqual(textHash('abcd'), textHash('abce'));
  assert.equal(s.close('u'), true);
  assert.equal(s.close('u'), false);
});
