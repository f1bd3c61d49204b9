// The command palette actions, model management and the Language Model Chat Provider inside a real VS Code,
// over the real runtime worker and the tiny Nano-2-like fixture model of the chat tests (random weights:
// the answers are gibberish, but they go through the real template, worker, streaming, extraction and diff).
// Each action's result must reach its place: Explain a chat turn about the function around the cursor; Edit
// and Fix a diff whose right side is the file with the target replaced, and the file after Accept; Document
// a comment above the function; Translate and Write Tests a new file next to the source.
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ActionResult } from '../../../src/commands/actionCommands';
import type { HybridCopilotApi } from '../../../src/extension';
import { writeChatFixtureModel } from './chatModel';
import { activeExtension, info, until } from './util';

function diffTabFor(proposal: string): vscode.Tab | undefined {
  return vscode.window.tabGroups.all.flatMap((g) => g.tabs).find((t) => t.input instanceof vscode.TabInputTextDiff && t.input.modified.toString() === proposal);
}

suite('commands', () => {
  let api: HybridCopilotApi;
  let modelDir = '';
  let model = '';
  let ws: vscode.Uri;
  const config = () => vscode.workspace.getConfiguration('hybridCopilot');
  const created: vscode.Uri[] = [];

  async function file(name: string, text: string): Promise<vscode.TextEditor> {
    const uri = vscode.Uri.joinPath(ws, 'src', name);
    await vscode.workspace.fs.writeFile(uri, Buffer.from(text));
    created.push(uri);
    const doc = await vscode.workspace.openTextDocument(uri);
    return vscode.window.showTextDocument(doc);
  }

  suiteSetup(async function () {
    this.timeout(150_000);
    api = (await activeExtension()).exports as HybridCopilotApi;
    ws = vscode.workspace.workspaceFolders![0].uri;
    modelDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hybrid-e2e-commands-'));
    const root = vscode.extensions.getExtension('hybrid-copilot.hybrid-copilot')!.extensionPath;
    model = writeChatFixtureModel(path.join(modelDir, 'commands.gguf'), root, 11);
    const c = config();
    await c.update('chat.thinkingBudget', 4, vscode.ConfigurationTarget.Global);
    await c.update('chat.maxAnswerTokens', 24, vscode.ConfigurationTarget.Global);
    await c.update('modelPath', model, vscode.ConfigurationTarget.Global);
    await until('the fixture model to load', async () => {
      const i = await info();
      return i.model.load.state === 'loaded' && i.model.path === model ? true : undefined;
    }, 120_000);
    await until('chat to be ready', async () => ((await api.chat.refreshAvailability()).ready ? true : undefined));
  });

  suiteTeardown(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    for (const u of created) await vscode.workspace.fs.delete(u).then(undefined, () => undefined);
    const c = config();
    await c.update('modelPath', undefined, vscode.ConfigurationTarget.Global);
    await c.update('chat.thinkingBudget', undefined, vscode.ConfigurationTarget.Global);
    await c.update('chat.maxAnswerTokens', undefined, vscode.ConfigurationTarget.Global);
    fs.rmSync(modelDir, { recursive: true, force: true });
  });

  test('Edit with instruction streams the rewrite into a diff; Accept changes only the target', async function () {
    this.timeout(90_000);
    const original = '// header\nexport function twice(x: number): number {\n  return x + x;\n}\n\nexport const after = 1;\n';
    const editor = await file('commands-edit.ts', original);
    const r = await vscode.commands.executeCommand<ActionResult>('hybridCopilot.editWithInstruction', {
      uri: editor.document.uri.toString(),
      range: [1, 0, 3, 1],
      instruction: 'multiply instead of adding',
      maxTokens: 16,
    });
    assert.ok(r && r.proposal && r.proposedText !== undefined, `result: ${JSON.stringify(r)}`);
    assert.match(r.prompt, /Instruction: multiply instead of adding/);
    assert.match(r.prompt, /```typescript\nexport function twice/);
    assert.ok(diffTabFor(r.proposal), 'the diff preview is open');
    const right = await vscode.workspace.openTextDocument(vscode.Uri.parse(r.proposal));
    // The diff's right side refreshes from the provider's change event (asynchronously).
    await until('the diff to show the proposed text', () => (right.getText() === r.proposedText ? true : undefined), 5000);
    assert.ok(r.proposedText!.startsWith('// header\n'), 'the line before the target is kept');
    assert.ok(r.proposedText!.endsWith('\n\nexport const after = 1;\n'), 'the lines after the target are kept');
    assert.notEqual(r.proposedText, original, `the model's text went in: ${JSON.stringify(r.answer)}`);
    assert.equal(editor.document.getText(), original, 'nothing changes before Accept');
    console.log(`commands e2e: edit answer ${JSON.stringify(r.answer.slice(0, 120))} (${r.stopReason}); warnings: ${r.warnings.join('; ')}`);
    assert.equal(await vscode.commands.executeCommand('hybridCopilot.acceptProposal', vscode.Uri.parse(r.proposal)), true);
    assert.equal(editor.document.getText(), r.proposedText);
    await until('the diff to close', () => (diffTabFor(r.proposal!) ? undefined : true), 5000);
  });

  test('Fix: the diff is shown, Reject leaves the file, a second Fix is accepted', async function () {
    this.timeout(90_000);
    const original = 'def half(n):\n    return n / 0\n';
    const editor = await file('commands-fix.py', original);
    editor.selection = new vscode.Selection(1, 4, 1, 4);
    const r = await vscode.commands.executeCommand<ActionResult>('hybridCopilot.fix', { maxTokens: 12 });
    assert.ok(r?.proposal, `result: ${JSON.stringify(r)}`);
    assert.match(r.prompt, /Task: fix the problems in this Python code from `half` in src\/commands-fix\.py, lines 1-2\./);
    assert.ok(diffTabFor(r.proposal));
    const right = await vscode.workspace.openTextDocument(vscode.Uri.parse(r.proposal));
    await until('the Fix diff to show the proposed text', () => (right.getText() === r.proposedText ? true : undefined), 5000);
    // The diff preview as the user sees it (issue 11): the harness saves the window as test-results/e2e-fix-diff.png.
    const results = process.env.HYBRID_E2E_RESULTS;
    if (results) {
      const shot = path.join(results, 'e2e-fix-diff.png');
      fs.rmSync(shot, { force: true });
      await new Promise((done) => setTimeout(done, 500)); // let the diff editor paint
      console.log('e2e-screenshot: e2e-fix-diff.png');
      await until('the screenshot of the Fix diff', () => (fs.existsSync(shot) ? true : undefined), 15_000);
    }
    assert.equal(await vscode.commands.executeCommand('hybridCopilot.rejectProposal', vscode.Uri.parse(r.proposal)), true);
    assert.equal(editor.document.getText(), original);
    const r2 = await vscode.commands.executeCommand<ActionResult>('hybridCopilot.fix', { uri: editor.document.uri.toString(), range: [0, 0, 1, 16], maxTokens: 12, autoAccept: true });
    assert.equal(r2?.accepted, true, JSON.stringify(r2));
    assert.equal(editor.document.getText(), r2.proposedText);
    assert.notEqual(editor.document.getText(), original);
  });

  test('Explain (cursor in a function) asks the chat view about the enclosing function', async function () {
    this.timeout(90_000);
    const editor = await file('commands-explain.py', 'import os\n\n\ndef fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)\n\n\nprint(fibonacci(5))\n');
    editor.selection = new vscode.Selection(5, 8, 5, 8);
    const turns = api.chat.current.turns.length;
    const r = await vscode.commands.executeCommand<ActionResult>('hybridCopilot.explain');
    assert.ok(r, 'a result');
    const sel = vscode.window.activeTextEditor?.selection ?? editor.selection;
    assert.deepEqual([sel.start.line, sel.end.line], [3, 6], 'the function is selected');
    const turn = api.chat.current.turns.at(-1)!;
    assert.equal(api.chat.current.turns.length, turns + 1, 'a chat turn');
    assert.match(turn.text, /^Explain the selected code \(`fibonacci` in src\/commands-explain\.py, lines 4-7\)/);
    assert.match(turn.prompt, /def fibonacci\(n\):\n {4}if n < 2:/, 'the code went as the selection context');
    assert.equal(turn.status, 'done', turn.error);
    assert.equal(r.answer, turn.answer);
  });

  test('Document puts a doc comment above the function', async function () {
    this.timeout(90_000);
    const editor = await file('commands-doc.ts', 'export class K {\n  scale(v: number): number {\n    return v * 2;\n  }\n}\n');
    editor.selection = new vscode.Selection(2, 6, 2, 6);
    const r = await vscode.commands.executeCommand<ActionResult>('hybridCopilot.document', { maxTokens: 12, autoAccept: true });
    assert.equal(r?.accepted, true, JSON.stringify(r));
    const lines = editor.document.getText().split('\n');
    const decl = lines.indexOf('  scale(v: number): number {');
    assert.ok(decl > 1, editor.document.getText());
    assert.equal(lines[1], '  /**');
    assert.equal(lines[decl - 1], '   */');
    assert.equal(lines[0], 'export class K {');
  });

  test('Translate code writes a new file next to the source; Write Tests creates the test file', async function () {
    this.timeout(120_000);
    const editor = await file('commands-tr.ts', 'export function inc(x: number): number {\n  return x + 1;\n}\n');
    const r = await vscode.commands.executeCommand<ActionResult>('hybridCopilot.translate', { mode: 'code', target: 'python', maxTokens: 12, autoAccept: true });
    assert.equal(r?.accepted, true, JSON.stringify(r));
    assert.match(r.prompt, /^Source language: TypeScript\nTarget language: Python\nTask: translate/);
    const py = vscode.Uri.joinPath(ws, 'src', 'commands-tr.py');
    created.push(py);
    assert.equal(new TextDecoder().decode(await vscode.workspace.fs.readFile(py)).length > 0, true);
    assert.equal((await vscode.workspace.openTextDocument(py)).getText(), r.proposedText);
    await vscode.window.showTextDocument(editor.document);
    const t = await vscode.commands.executeCommand<ActionResult>('hybridCopilot.writeTests', { uri: editor.document.uri.toString(), range: [0, 0, 2, 1], maxTokens: 12, autoAccept: true });
    assert.equal(t?.accepted, true, JSON.stringify(t));
    const testFile = vscode.Uri.joinPath(ws, 'src', 'commands-tr.test.ts');
    created.push(testFile);
    assert.equal(t.target, testFile.toString());
    assert.match(t.prompt, /Framework: node:test/);
    assert.equal((await vscode.workspace.openTextDocument(testFile)).getText(), t.proposedText);
  });

  test('code actions: Fix and Explain for a problem, the rewrites for a selection', async () => {
    const editor = await file('commands-ca.ts', 'const a = 1;\nconst b = 2;\n');
    const selection = new vscode.Range(0, 0, 1, 12);
    const actions = await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', editor.document.uri, selection);
    const titles = actions.map((a) => a.title);
    for (const t of ['Edit with Hybrid Copilot…', 'Document with Hybrid Copilot', 'Explain with Hybrid Copilot']) assert.ok(titles.includes(t), titles.join(', '));
  });

  test('the local model answers through vscode.lm (Language Model Chat Provider)', async function () {
    this.timeout(60_000);
    const models = await until('the provider to list the model', async () => {
      const m = await vscode.lm.selectChatModels({ vendor: 'hybrid-copilot' });
      return m.length ? m : undefined;
    }, 20_000);
    const m = models[0];
    assert.equal(m.vendor, 'hybrid-copilot');
    assert.match(m.name, /commands \(local\)/);
    assert.ok(m.maxInputTokens > 0);
    const cts = new vscode.CancellationTokenSource();
    const res = await m.sendRequest([vscode.LanguageModelChatMessage.User('Say hi')], { modelOptions: { maxTokens: 8 } }, cts.token);
    let text = '';
    for await (const chunk of res.text) text += chunk;
    assert.ok(text.length > 0, 'streamed text');
    // Exact counts from the loaded model's tokenizer (the worker's tokenize request): the fixture's vocabulary
    // has no merges among these letters, so one token each (the old UTF-8 estimate said 2); a message adds
    // 4 for its turn markers.
    assert.equal(await m.countTokens('abcdef'), 6);
    assert.equal(await m.countTokens(vscode.LanguageModelChatMessage.User('abcdef')), 10);
  });

  test('models: download from a server on 127.0.0.1 with SHA-256, select, delete', async function () {
    this.timeout(90_000);
    const bytes = fs.readFileSync(model);
    const sha = createHash('sha256').update(bytes).digest('hex');
    const server = http.createServer((req, res) => {
      if (req.url !== '/m/e2e-download.gguf') {
        res.writeHead(404);
        res.end();
        return;
      }
      res.writeHead(200, { 'content-length': bytes.length });
      res.end(bytes);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as AddressInfo).port;
      const downloaded = await vscode.commands.executeCommand<string>('hybridCopilot.downloadModel', { url: `http://127.0.0.1:${port}/m/e2e-download.gguf`, sha256: sha, use: false });
      assert.ok(downloaded && fs.existsSync(downloaded), `downloaded: ${downloaded}`);
      assert.ok(fs.readFileSync(downloaded).equals(bytes));
      assert.equal(await vscode.commands.executeCommand('hybridCopilot.selectModel', { path: downloaded }), downloaded);
      assert.equal(config().get('modelPath'), downloaded);
      await until('the runtime to load the downloaded model', async () => {
        const i = await info();
        return i.model.load.state === 'loaded' && i.model.path === downloaded ? true : undefined;
      }, 60_000);
      assert.equal(await vscode.commands.executeCommand('hybridCopilot.deleteModel', { path: downloaded, confirm: false }), downloaded);
      assert.equal(fs.existsSync(downloaded), false);
      assert.ok(!config().get<string>('modelPath'), 'deleting the current model unsets it');
    } finally {
      server.close();
      await config().update('modelPath', model, vscode.ConfigurationTarget.Global);
    }
  });
});
