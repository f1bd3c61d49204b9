// The remote backend inside a real VS Code: `hybrid serve` (dist/serve.js) runs on 127.0.0.1 with the tiny
// Nano-2-like chat fixture model, the extension is switched to hybridCopilot.backend = "remote" with its
// endpoint and the bearer token (through "Set Remote API Key", into SecretStorage); then a chat message and an
// inline completion are served over HTTP, the status bar shows the latency, a wrong key is reported
// in the chat's availability, and switching back to local leaves the local runtime serving.
import * as assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { HybridCopilotApi } from '../../../src/extension';
import type { RuntimeInfo } from '../../../src/shared/protocol';
import { writeChatFixtureModel } from './chatModel';
import { activeExtension, sleep, until } from './util';

suite('remote backend through hybrid serve', () => {
  let api: HybridCopilotApi;
  let dir: string;
  let serve: ChildProcess | undefined;
  let token = '';
  let stderr = '';
  const config = () => vscode.workspace.getConfiguration('hybridCopilot');
  const G = vscode.ConfigurationTarget.Global;
  const keys = ['backend', 'remote.endpoint', 'remote.fim', 'remote.timeoutMs', 'chat.thinkingBudget', 'chat.maxAnswerTokens'];

  suiteSetup(async function () {
    this.timeout(120_000);
    const ext = await activeExtension();
    api = ext.exports as HybridCopilotApi;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hybrid-e2e-remote-'));
    const model = writeChatFixtureModel(path.join(dir, 'served.gguf'), ext.extensionPath);
    const serveJs = path.join(ext.extensionPath, 'dist', 'serve.js');
    assert.ok(fs.existsSync(serveJs), `${serveJs} is built`);
    const tokenFile = path.join(dir, 'token');
    serve = spawn(
      process.execPath,
      [serveJs, '--model', model, '--port', '0', '--device', 'cpu', '--threads', '1', '--context', '4096', '--thinking-budget', '8', '--token-file', tokenFile],
      { env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    serve.stderr!.on('data', (d) => (stderr += d));
    let out = '';
    serve.stdout!.on('data', (d) => (out += d));
    const url = await until('hybrid serve to listen', () => /listening (\S+)/.exec(out)?.[1], 90_000).catch((e: Error) => {
      throw new Error(`${e.message}; stderr: ${stderr}`);
    });
    token = fs.readFileSync(tokenFile, 'utf8').trim();
    assert.equal(fs.statSync(tokenFile).mode & 0o777, 0o600);
    await config().update('chat.thinkingBudget', 8, G);
    await config().update('chat.maxAnswerTokens', 16, G);
    await config().update('remote.endpoint', url, G);
    await config().update('remote.fim', 'suffix', G);
    await config().update('remote.timeoutMs', 30_000, G);
    await vscode.commands.executeCommand('hybridCopilot.setRemoteApiKey', token);
    await config().update('backend', 'remote', G);
  });

  suiteTeardown(async () => {
    for (const k of keys) await config().update(k, undefined, G);
    await vscode.commands.executeCommand('hybridCopilot.setRemoteApiKey', '');
    serve?.kill('SIGTERM');
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('chat: a message is answered by the served model, with its trace; the status bar shows the endpoint latency', async function () {
    this.timeout(120_000);
    const ready = await until('the remote chat to be ready', async () => {
      const s = await api.chat.refreshAvailability();
      return s.ready ? s : undefined;
    }, 60_000);
    assert.match(ready.detail, /served\.gguf/);
    await api.chat.newChat();
    const turn = await api.chat.send('Say hello');
    assert.ok(turn, 'a turn');
    assert.equal(turn.status, 'done', `turn ended ${turn.status}: ${turn.error ?? ''}`);
    assert.ok(turn.reasoning.length + turn.answer.length > 0, 'text streamed over HTTP');
    assert.ok(turn.reasoning.length > 0, 'the served model thinks first: its trace arrives as reasoning_content');
    assert.ok(turn.reasoningTokens + turn.answerTokens > 0);
    const status = await until('the status bar to show the endpoint latency', () => (/Hybrid · Remote \d+ ms/.test(api.statusText()) ? api.statusText() : undefined), 10_000);
    console.log(`remote e2e: chat over hybrid serve: reasoning ${turn.reasoningTokens} tokens, answer ${turn.answerTokens}; status "${status}"`);
  });

  test('an inline completion is served through /v1/completions', async function () {
    this.timeout(120_000);
    const ws = vscode.workspace.workspaceFolders?.[0];
    assert.ok(ws, 'a workspace');
    const file = vscode.Uri.joinPath(ws.uri, 'src', 'remote_completion.py');
    await vscode.workspace.fs.writeFile(file, Buffer.from('def add(a, b):\n    return \n\nprint(add(1, 2))\n'));
    const doc = await vscode.workspace.openTextDocument(file);
    const editor = await vscode.window.showTextDocument(doc);
    const pos = new vscode.Position(1, 11);
    editor.selection = new vscode.Selection(pos, pos);
    const before = api.completions.last;
    const outcome = await until('a completion outcome', async () => {
      await vscode.commands.executeCommand('editor.action.inlineSuggest.trigger');
      await sleep(300);
      const o = api.completions.last;
      return o !== before && o && !o.fromCache ? o : undefined;
    }, 60_000);
    assert.ok(outcome.stats, 'the request ran on the endpoint');
    assert.ok((outcome.generated ?? '').length > 0, 'the endpoint generated text');
    console.log(`remote e2e: completion ${JSON.stringify(outcome.text)} (generated ${JSON.stringify(outcome.generated)}), ${Math.round(outcome.latencyMs - outcome.waitMs)} ms`);
  });

  test('a wrong API key is reported in the chat availability; the right one restores it', async function () {
    this.timeout(60_000);
    await vscode.commands.executeCommand('hybridCopilot.setRemoteApiKey', 'wrong-token');
    const a = await until('the 401 to be reported', async () => {
      const s = await api.chat.refreshAvailability();
      return !s.ready && /refused the API key/.test(s.detail) ? s : undefined;
    }, 40_000);
    assert.match(a.detail, /401/);
    await vscode.commands.executeCommand('hybridCopilot.setRemoteApiKey', token);
  });

  test('back to local: the local runtime still serves', async function () {
    this.timeout(60_000);
    await config().update('backend', 'local', G);
    await until('the status bar to show the local runtime again', () => (api.remoteStatusText() === '' && !/Remote/.test(api.statusText()) ? true : undefined), 10_000);
    const info = await vscode.commands.executeCommand<RuntimeInfo>('hybridCopilot.showRuntimeInfo');
    assert.ok(info && info.worker.pid > 0, 'the local worker answers');
  });
});
