// The chat's host side inside a real VS Code, over the real runtime worker and a tiny Nano-2-like fixture
// model (chatModel.ts): without a model the chat says the runtime is not ready; with one a message streams a
// trace the thinking budget closes and an answer; stop cancels; code blocks apply through a diff preview.
// The webview itself is checked by the harness's UI phase (Playwright).
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { HybridCopilotApi } from '../../../src/extension';
import { writeChatFixtureModel } from './chatModel';
import { activeExtension, info, until } from './util';

/** The repository (the extension under test): this bundle runs from <repo>/out/e2e/suite/. */
function repoRoot(): string {
  const ext = vscode.extensions.getExtension('hybrid-copilot.hybrid-copilot');
  if (!ext) throw new Error('extension not found');
  return ext.extensionPath;
}

suite('chat', () => {
  let api: HybridCopilotApi;
  let modelDir: string | undefined;
  const config = () => vscode.workspace.getConfiguration('hybridCopilot');
  let previousModel: string | undefined;

  suiteSetup(async function () {
    this.timeout(120_000);
    const ext = await activeExtension();
    api = ext.exports as HybridCopilotApi;
    assert.ok(api && api.chat, 'activate() returns the chat API');
    previousModel = config().inspect<string>('modelPath')?.globalValue;
  });

  suiteTeardown(async () => {
    const c = config();
    await c.update('modelPath', previousModel, vscode.ConfigurationTarget.Global);
    await c.update('chat.thinkingBudget', undefined, vscode.ConfigurationTarget.Global);
    await c.update('chat.maxAnswerTokens', undefined, vscode.ConfigurationTarget.Global);
    if (modelDir) fs.rmSync(modelDir, { recursive: true, force: true });
  });

  test('without a loadable model the chat says the runtime is not ready, and why', async function () {
    this.timeout(90_000);
    const missing = path.join(os.tmpdir(), 'hybrid-e2e-no-such-model.gguf');
    await config().update('modelPath', missing, vscode.ConfigurationTarget.Global);
    await until('the runtime to report the missing model', async () => ((await info()).model.path === missing ? true : undefined), 60_000);
    const a = await until('a not-ready state', async () => {
      const s = await api.chat.refreshAvailability();
      return !s.ready && /does not exist|could not be loaded/.test(s.detail) ? s : undefined;
    });
    assert.match(a.detail, /hybrid-e2e-no-such-model\.gguf/);
    assert.equal(await api.chat.send('hello?'), undefined, 'nothing is sent');
  });

  test('a message streams a trace that the thinking budget closes, then an answer', async function () {
    this.timeout(120_000);
    modelDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hybrid-e2e-chat-model-'));
    const model = writeChatFixtureModel(path.join(modelDir, 'chat.gguf'), repoRoot());
    const c = config();
    await c.update('chat.thinkingBudget', 8, vscode.ConfigurationTarget.Global);
    await c.update('chat.maxAnswerTokens', 24, vscode.ConfigurationTarget.Global);
    await c.update('modelPath', model, vscode.ConfigurationTarget.Global);
    await until('the chat model to load', async () => {
      const i = await info();
      return i.model.load.state === 'loaded' && i.model.path === model ? true : undefined;
    }, 90_000);
    const ready = await until('chat to be ready', async () => {
      const s = await api.chat.refreshAvailability();
      return s.ready ? s : undefined;
    });
    assert.equal(ready.reasoning, true, 'the fixture has think tags');
    await api.chat.newChat();
    const turn = await api.chat.send('Say hello');
    assert.ok(turn, 'a turn');
    assert.equal(turn.status, 'done', `turn ended ${turn.status}: ${turn.error ?? ''}`);
    assert.ok(turn.reasoningTokens >= 1, `reasoning tokens: ${turn.reasoningTokens}`);
    assert.ok(turn.reasoning.length > 0, 'the trace has text');
    if (turn.reasoningTokens >= 8) assert.equal(turn.budgetReached, true, `budget 8, trace ${JSON.stringify(turn.reasoning)}`);
    assert.ok(turn.workerFirstTokenMs !== undefined && turn.firstPartMs !== undefined);
    console.log(
      `chat e2e: reasoning ${turn.reasoningTokens} tokens, answer ${turn.answerTokens}; host send -> first part ${turn.firstPartMs?.toFixed(1)} ms, ` +
        `worker first token ${turn.workerFirstTokenMs?.toFixed(1)} ms, total ${turn.totalMs?.toFixed(0)} ms`,
    );
    assert.equal(api.chat.current.turns.at(-1)?.id, turn.id, 'kept in the conversation');
  });

  test('stop cancels a long answer', async function () {
    this.timeout(120_000);
    const c = config();
    await c.update('chat.thinkingBudget', 0, vscode.ConfigurationTarget.Global);
    await c.update('chat.maxAnswerTokens', 60_000, vscode.ConfigurationTarget.Global);
    const sending = api.chat.send('Write forever');
    await until('the first streamed text', async () => {
      const t = api.chat.current.turns.at(-1);
      return api.chat.busy && t && (t.reasoning || t.answer) ? true : undefined;
    });
    api.chat.stop();
    const turn = await sending;
    assert.ok(turn);
    assert.equal(turn.status, 'stopped', `status ${turn.status} (${turn.stopReason}, ${turn.error ?? ''})`);
    assert.equal(api.chat.busy, false);
  });

  test('a code block applies to the file through a diff preview; insert at the cursor', async function () {
    this.timeout(60_000);
    const ws = vscode.workspace.workspaceFolders?.[0];
    assert.ok(ws, 'a workspace');
    const file = vscode.Uri.joinPath(ws.uri, 'src', 'chat-apply.py');
    await vscode.workspace.fs.writeFile(file, Buffer.from('def f():\n    return 1\n'));
    const doc = await vscode.workspace.openTextDocument(file);
    const editor = await vscode.window.showTextDocument(doc);
    editor.selection = new vscode.Selection(1, 4, 1, 12);
    await until('the chat to see the editor', async () => (api.chatCode.propose('x') ? true : undefined), 5000);
    const p = api.chatCode.propose('return 2');
    assert.ok(p);
    await api.chatCode.showDiff(p);
    const diffTab = vscode.window.tabGroups.all.flatMap((g) => g.tabs).find((t) => t.input instanceof vscode.TabInputTextDiff && t.input.modified.toString() === p.uri.toString());
    assert.ok(diffTab, 'the diff preview is open');
    const proposed = await vscode.workspace.openTextDocument(p.uri);
    assert.equal(proposed.getText(), 'def f():\n    return 2\n');
    assert.equal(doc.getText(), 'def f():\n    return 1\n', 'nothing changes before the user accepts');
    assert.equal(await api.chatCode.apply(p), true);
    assert.equal(doc.getText(), 'def f():\n    return 2\n');
    await vscode.window.showTextDocument(doc);
    const e2 = vscode.window.activeTextEditor!;
    e2.selection = new vscode.Selection(0, 0, 0, 0);
    await api.chatCode.insert('# added\n');
    assert.equal(doc.getText(), '# added\ndef f():\n    return 2\n');
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  });
});
