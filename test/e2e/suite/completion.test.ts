// Inline completions inside a real VS Code, over the real runtime worker and the printable FIM fixture model
// (completionModel.ts): VS Code asks the provider, the completion is accepted with VS Code's own commands
// (whole, next word), typing on reads only the new tokens (the worker's stats), typed-through characters come
// from the cache, a disabled language gets nothing, the status bar shows latency and tok/s. The ghost text
// itself (DOM) is checked by the harness's UI phase.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { CompletionOutcome } from '../../../src/completions/engine';
import type { HybridCopilotApi } from '../../../src/extension';
import { writeCompletionFixtureModel } from './completionModel';
import { activeExtension, info, sleep, until } from './util';

suite('inline completions', () => {
  let api: HybridCopilotApi;
  let modelDir: string;
  let editor: vscode.TextEditor;
  let file: vscode.Uri;
  const config = () => vscode.workspace.getConfiguration('hybridCopilot');
  let previousModel: string | undefined;

  /** Asks VS Code for an inline completion at the cursor; resolves with the engine's next outcome. */
  async function trigger(what: string): Promise<CompletionOutcome> {
    const before = api.completions.last;
    await vscode.commands.executeCommand('editor.action.inlineSuggest.trigger');
    return until(what, () => (api.completions.last !== before ? api.completions.last : undefined));
  }

  /** Places the cursor at the end of `line` (0-based) after inserting `text` there. */
  async function typeAt(line: number, text: string): Promise<void> {
    const end = editor.document.lineAt(line).range.end;
    await editor.edit((b) => b.insert(end, text));
    const pos = editor.document.positionAt(editor.document.offsetAt(end) + text.length);
    editor.selection = new vscode.Selection(pos, pos);
  }

  /** Runs an accept command until it changes the document (VS Code shows the ghost text asynchronously). */
  async function acceptWith(command: string): Promise<string> {
    const before = editor.document.getText();
    const at = editor.document.offsetAt(editor.selection.active);
    await until(`${command} to insert the completion`, async () => {
      await vscode.commands.executeCommand(command);
      return editor.document.getText() !== before ? true : undefined;
    }, 10_000);
    const after = editor.document.getText();
    return after.slice(at, at + after.length - before.length);
  }

  suiteSetup(async function () {
    this.timeout(120_000);
    const ext = await activeExtension();
    api = ext.exports as HybridCopilotApi;
    assert.ok(api?.completions, 'activate() returns the completion engine');
    previousModel = config().inspect<string>('modelPath')?.globalValue;
    modelDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hybrid-e2e-completion-'));
    const model = writeCompletionFixtureModel(path.join(modelDir, 'completion-fim.gguf'), { fim: true });
    await config().update('modelPath', model, vscode.ConfigurationTarget.Global);
    await until('the completion model to load', async () => {
      const i = await info();
      return i.model.load.state === 'loaded' && i.model.path === model ? true : undefined;
    }, 60_000);
    // A file of its own (a copy of the workspace's sample.ts), deleted afterwards: the UI phase uses sample.ts.
    const folder = vscode.workspace.workspaceFolders?.[0];
    assert.ok(folder, 'a workspace folder is open');
    const sample = await vscode.workspace.fs.readFile(vscode.Uri.joinPath(folder.uri, 'src', 'sample.ts'));
    file = vscode.Uri.joinPath(folder.uri, 'src', 'completion-e2e.ts');
    await vscode.workspace.fs.writeFile(file, sample);
    editor = await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(file));
  });

  suiteTeardown(async () => {
    await vscode.window.showTextDocument(editor.document);
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
    await vscode.workspace.fs.delete(file).then(undefined, () => undefined);
    await config().update('modelPath', previousModel, vscode.ConfigurationTarget.Global);
    await config().update('completions.enable', undefined, vscode.ConfigurationTarget.Global);
    fs.rmSync(modelDir, { recursive: true, force: true });
  });

  test('a completion is shown and Tab (inlineSuggest.commit) inserts it; typing on reads only the new tokens', async function () {
    this.timeout(90_000);
    // a new statement in main(), after the loop: a blank line in a function body
    await typeAt(11, '\n  const last = ');
    const first = await trigger('a completion');
    assert.ok(first.text.length > 0, `a completion to show: ${JSON.stringify(first)}`);
    assert.ok(first.stats && first.stats.promptTokens > 100, JSON.stringify(first.stats));
    const inserted = await acceptWith('editor.action.inlineSuggest.commit');
    assert.equal(inserted, first.text, 'Tab inserts the completion as shown');

    // Typing on: each request reads what was typed (plus the last few tokens before it), not the file.
    for (const typed of [';', '\n  ', 'r']) {
      const next = api.completions.last?.text ?? '';
      await vscode.commands.executeCommand('type', { text: typed });
      const o = await trigger(`a completion after typing ${JSON.stringify(typed)}`);
      if (o.fromCache) {
        assert.ok(next.startsWith(typed), 'from the cache only when typing through the shown completion');
        continue;
      }
      const s = o.stats!;
      console.log(`e2e-completion: typed ${JSON.stringify(typed)}: prompt ${s.promptTokens} tokens, kept ${s.keptTokens}, read ${s.readTokens} (re-read ${s.rereadTokens}), first token ${s.firstTokenMs.toFixed(1)} ms`);
      assert.ok(s.keptTokens > 100, `the document's session was kept: ${JSON.stringify(s)}`);
      // the first request after the commit reads the accepted text too
      const expected = typed === ';' ? inserted.length + 9 : typed.length + 8;
      assert.ok(s.readTokens <= expected, `read ${s.readTokens} tokens after typing ${JSON.stringify(typed)} (at most ${expected}): ${JSON.stringify(s)}`);
    }
  });

  test('next word (inlineSuggest.acceptNextWord) inserts a word; the rest then comes from the cache', async function () {
    this.timeout(60_000);
    await typeAt(editor.selection.active.line, ' = fibonacci(');
    await vscode.commands.executeCommand('editor.action.inlineSuggest.hide');
    let shown: CompletionOutcome | undefined;
    for (const more of ['', 'n', ' + 1']) {
      if (more) await vscode.commands.executeCommand('type', { text: more });
      shown = await trigger('a completion');
      if (/\w[^\w]/.test(shown.text)) break;
    }
    assert.ok(shown && shown.text.length > 1, JSON.stringify(shown));
    const word = await acceptWith('editor.action.inlineSuggest.acceptNextWord');
    assert.ok(word.length > 0 && word.length < shown.text.length && shown.text.startsWith(word), `${JSON.stringify(word)} is the start of ${JSON.stringify(shown.text)}`);
    const rest = await trigger('the rest of the completion');
    assert.deepEqual({ text: rest.text, fromCache: rest.fromCache }, { text: shown.text.slice(word.length), fromCache: true });
  });

  test('the status bar shows the last completion latency and tok/s', async () => {
    const text = api.statusText();
    assert.match(text, /Hybrid · (CPU|GPU) · \d+ ms · \d+ tok\/s/);
  });

  test('a language turned off gets no completions', async function () {
    this.timeout(30_000);
    await config().update('completions.enable', { '*': true, typescript: false }, vscode.ConfigurationTarget.Global);
    const before = api.completions.last;
    await vscode.commands.executeCommand('type', { text: ' ' });
    await vscode.commands.executeCommand('editor.action.inlineSuggest.trigger');
    await sleep(1500);
    assert.equal(api.completions.last, before, 'the engine was not asked');
    await config().update('completions.enable', undefined, vscode.ConfigurationTarget.Global);
  });
});
