// Document sync against a real worker process: open documents are mirrored as edits, refused edits are
// repaired with the whole text, and a new worker gets every open document before it serves.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { DocumentSync } from '../../src/runtime/documentSync';
import { textHash } from '../../src/worker/documents';
import { disposeClients, FakeEditor, makeClient, waitFor } from './runtime-helpers';

after(disposeClients);

function setup() {
  const t = makeClient();
  const editor = new FakeEditor();
  const sync = new DocumentSync({
    client: t.c,
    logger: t.logger,
    documents: () => editor.list(),
    isEnabled: (d) => d.languageId !== 'plaintext',
  });
  /** The user types: the editor changes, then DocumentSync hears of it (as onDidChangeTextDocument). */
  const type = (uri: string, offset: number, length: number, text: string) => {
    const ch = editor.edit(uri, offset, length, text);
    sync.didChange(editor.get(uri), [ch]);
  };
  return { ...t, editor, sync, type };
}

async function workerDocs(t: ReturnType<typeof setup>) {
  const info = await t.c.request('info', {});
  return new Map(info.documents.map((d) => [d.uri, d]));
}

async function inStep(t: ReturnType<typeof setup>): Promise<void> {
  const docs = await workerDocs(t);
  for (const d of t.editor.docs.values()) {
    if (d.languageId === 'plaintext') {
      assert.equal(docs.has(d.uri), false, `${d.uri} is not mirrored`);
      continue;
    }
    const w = docs.get(d.uri);
    assert.ok(w, `${d.uri} is in the worker`);
    assert.equal(w.version, d.version, `${d.uri} version`);
    assert.equal(w.length, d.text.length, `${d.uri} length`);
    assert.equal(w.hash, textHash(d.text), `${d.uri} text`);
  }
}

test('open documents are mirrored, then only their changes are sent', async () => {
  const t = setup();
  t.editor.open('file:///a.ts', 'const a = 1;\n');
  t.editor.open('file:///notes.txt', 'not mirrored', 'plaintext');
  await t.c.start(); // the start hook sends what is open
  assert.equal(t.sync.stats.opens, 1);
  const b = t.editor.open('file:///b.py', 'def f():\n    pass\n', 'python');
  t.sync.didOpen(b);
  for (let i = 0; i < 50; i++) t.type('file:///a.ts', 10, 1, String(i % 10));
  t.type('file:///b.py', 0, 0, '# 😀 comment\n');
  await inStep(t);
  assert.deepEqual(t.sync.stats, { opens: 2, edits: 51, closes: 0, repairs: 0 });
  t.editor.docs.delete('file:///b.py');
  t.sync.didClose('file:///b.py');
  assert.equal((await workerDocs(t)).has('file:///b.py'), false);
});

test('a version gap or a refused edit is repaired with the whole text', async () => {
  const t = setup();
  t.editor.open('file:///a.ts', 'abc');
  await t.c.start();
  t.editor.edit('file:///a.ts', 0, 0, 'x'); // an event the sync never saw
  t.type('file:///a.ts', 0, 0, 'y');
  await inStep(t);
  assert.equal(t.sync.stats.repairs, 1);
  // The worker refuses an edit that does not fit its copy: the host re-sends the text.
  const d = t.editor.docs.get('file:///a.ts')!;
  d.text = 'yxabc!';
  d.version++;
  t.sync.didChange(t.editor.get('file:///a.ts'), [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, rangeOffset: 40, rangeLength: 2, text: '!' }]);
  await waitFor(() => t.sync.stats.repairs === 2, 5000, 'the repair');
  await waitFor(() => t.logger.lines.some((l) => /refused an edit .* re-sending file:\/\/\/a\.ts/.test(l)));
  await inStep(t);
});

test('kill -9: the next worker gets every open document, edits made meanwhile included', async () => {
  const t = setup();
  t.editor.open('file:///a.ts', 'let a = 1;\n');
  t.editor.open('file:///b.ts', 'let b = 2;\n');
  const first = await t.c.start();
  process.kill(first.worker.pid, 'SIGKILL');
  // Typing goes on while the worker is down: nothing is lost, the host owns the text.
  for (let i = 0; i < 5; i++) t.type('file:///a.ts', 0, 0, `/*${i}*/`);
  await waitFor(() => t.c.currentState === 'ready' && t.c.pid !== first.worker.pid, 15_000, 'the restart');
  t.type('file:///b.ts', 4, 1, 'bee');
  await inStep(t);
  assert.ok(t.logger.lines.some((l) => /sent 2 open document\(s\) to the runtime worker/.test(l)), t.logger.lines.join('\n'));
});
