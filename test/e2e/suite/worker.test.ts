// The runtime worker inside a real VS Code: documents typed into the editor are mirrored into the worker;
// after kill -9 of the worker the supervisor brings a new one, re-sends the documents (with what was
// typed meanwhile), and the next completion arrives.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { writeNemotronH } from '../../fixtures/nemotron-h';
import { textHash } from '../../../src/worker/documents';
import type { CompleteResult, RuntimeInfo } from '../../../src/shared/protocol';
import { activeExtension, info, until } from './util';

/** The worker's copy of the document, once it equals the editor's. */
function mirrored(doc: vscode.TextDocument) {
  return until(`the worker's copy of ${doc.uri.path} at version ${doc.version}`, async () => {
    const i = await info();
    const d = i.documents.find((x) => x.uri === doc.uri.toString());
    return d && d.version === doc.version && d.hash === textHash(doc.getText()) ? { info: i, doc: d } : undefined;
  });
}

suite('runtime worker', () => {
  let modelDir: string | undefined;

  suiteSetup(async function () {
    this.timeout(120_000);
    await activeExtension();
    // A model for completions: the tiny fixture, unless the runtime already has one loaded.
    const current = await until('the runtime', async () => info());
    if (current.model.load.state !== 'loaded') {
      modelDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hybrid-e2e-model-'));
      const model = path.join(modelDir, 'tiny.gguf');
      writeNemotronH('tiny', model, { seed: 1, format: 'q8_0' });
      await vscode.workspace.getConfiguration('hybridCopilot').update('modelPath', model, vscode.ConfigurationTarget.Global);
      await until('the model to load', async () => ((await info()).model.load.state === 'loaded' ? true : undefined), 60_000);
    }
  });

  suiteTeardown(async () => {
    if (!modelDir) return;
    await vscode.workspace.getConfiguration('hybridCopilot').update('modelPath', undefined, vscode.ConfigurationTarget.Global);
    fs.rmSync(modelDir, { recursive: true, force: true });
  });

  test('edit a document, kill -9 the worker: the next completion still arrives, on the edited text', async function () {
    this.timeout(120_000);
    const folder = vscode.workspace.workspaceFolders?.[0];
    assert.ok(folder, 'a workspace folder is open');
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.joinPath(folder.uri, 'src', 'sample.py'));
    const editor = await vscode.window.showTextDocument(doc);
    // A plain edit, then one event with several changes (multi-cursor style).
    await editor.edit((b) => b.insert(doc.positionAt(doc.getText().length), '\n\ndef added(x):\n    return x * 2\n'));
    const we = new vscode.WorkspaceEdit();
    we.insert(doc.uri, new vscode.Position(0, 0), '# one\n');
    we.insert(doc.uri, doc.positionAt(doc.getText().length), '# two\n');
    we.replace(doc.uri, new vscode.Range(2, 0, 2, 1), 'Z');
    assert.ok(await vscode.workspace.applyEdit(we));
    const before = await mirrored(doc);

    process.kill(before.info.worker.pid, 'SIGKILL');
    // Typing goes on while the worker is down: the host owns the text.
    await editor.edit((b) => b.insert(new vscode.Position(0, 0), '# typed after the crash\n'));
    const end = doc.getText().length;
    const result = await until('a completion from the new worker', () =>
      vscode.commands.executeCommand<CompleteResult>('hybridCopilot.runtime.complete', { uri: doc.uri.toString(), offset: end, maxTokens: 8 }) as Promise<CompleteResult>,
    );
    assert.ok(['eog', 'maxTokens', 'stop'].includes(result.stopReason), result.stopReason);
    assert.ok(result.stats.promptTokens > 0);
    const after = await mirrored(doc);
    assert.notEqual(after.info.worker.pid, before.info.worker.pid, 'a new worker serves');
    assert.equal(after.info.model.load.state, 'loaded');
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  });
});
