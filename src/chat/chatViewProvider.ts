// The chat view in the side bar (a WebviewView). The webview talks to the host only through the typed
// messages of src/shared/webviewProtocol.ts; everything it sends is validated here first. The chat logic
// lives in ChatController; code-block actions in CodeActions; context chips in ChatContextTracker.
import * as vscode from 'vscode';
import { SECTION } from '../config';
import type { ChatSettings, HostMessage, RuntimeSummary, WebviewMessage } from '../shared/webviewProtocol';
import { parseWebviewMessage } from '../shared/webviewProtocol';
import type { ChatBackend } from './chatBackend';
import { ChatContextTracker } from './chatContext';
import { ChatController, DEFAULT_MAX_ANSWER_TOKENS } from './chatController';
import { ChatHistory } from './chatHistory';
import { CodeActions } from './codeActions';

export function chatSettings(): ChatSettings & { maxTokens: number } {
  const c = vscode.workspace.getConfiguration(`${SECTION}.chat`);
  return {
    thinking: c.get<boolean>('thinking', true),
    thinkingBudget: c.get<number>('thinkingBudget', 2048),
    foldTrace: c.get<boolean>('foldTraceOnAnswer', true),
    maxTokens: c.get<number>('maxAnswerTokens', DEFAULT_MAX_ANSWER_TOKENS),
  };
}

export class ChatViewProvider implements vscode.WebviewViewProvider, vscode.Disposable {
  static readonly viewId = 'hybridCopilot.chat';
  private view: vscode.WebviewView | undefined;
  private runtime: RuntimeSummary = { state: 'stopped' };
  private readonly disposables: vscode.Disposable[] = [];
  private readonly viewDisposables: vscode.Disposable[] = [];
  readonly controller: ChatController;
  readonly context: ChatContextTracker;
  readonly code: CodeActions;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly log: vscode.LogOutputChannel,
    backend: ChatBackend,
    storage: vscode.Memento,
  ) {
    this.context = new ChatContextTracker((chips) => this.post({ type: 'context', chips }));
    this.code = new CodeActions(() => this.context.lastEditor, log);
    this.controller = new ChatController({
      backend,
      history: new ChatHistory(storage),
      context: this.context,
      settings: chatSettings,
      post: (m) => this.post(m),
      log,
      cancellation: () => new vscode.CancellationTokenSource(),
    });
    this.disposables.push(
      this.context,
      this.code,
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration(`${SECTION}.chat`)) this.controller.postSettings();
      }),
      vscode.commands.registerCommand('hybridCopilot.newChat', () => this.controller.newChat()),
    );
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    for (const d of this.viewDisposables.splice(0)) d.dispose();
    this.view = view;
    const dist = vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview');
    view.webview.options = { enableScripts: true, localResourceRoots: [dist], enableCommandUris: false };
    view.webview.html = this.html(view.webview, dist);
    this.viewDisposables.push(
      view.webview.onDidReceiveMessage((raw: unknown) => this.onMessage(raw)),
      view.onDidDispose(() => {
        if (this.view === view) this.view = undefined;
      }),
    );
  }

  /** The runtime changed state: shown in the view; whether chat can run is asked again. */
  setRuntime(runtime: RuntimeSummary): void {
    // Device, model and versions arrive with 'ready' after the state change itself: keep them then.
    this.runtime = runtime.state === 'ready' && this.runtime.state === 'ready' ? { ...this.runtime, ...runtime } : { ...runtime };
    this.post({ type: 'runtime', runtime: this.runtime });
    void this.controller.refreshAvailability().catch((e: Error) => this.log.warn(`chat: availability check failed: ${e.message}`));
  }

  get visible(): boolean {
    return !!this.view?.visible;
  }

  dispose(): void {
    this.controller.stop();
    for (const d of this.viewDisposables.splice(0)) d.dispose();
    for (const d of this.disposables) d.dispose();
  }

  private post(message: HostMessage): void {
    void this.view?.webview.postMessage(message);
  }

  private onMessage(raw: unknown): void {
    let message: WebviewMessage;
    try {
      message = parseWebviewMessage(raw);
    } catch (e) {
      this.log.warn(`chat view: ignored a malformed message: ${(e as Error).message}`);
      return;
    }
    void this.handle(message).catch((e: Error) => {
      this.log.error(`chat view: '${message.type}' failed: ${e.message}`);
      this.post({ type: 'notice', level: 'error', message: e.message });
    });
  }

  private async handle(message: WebviewMessage): Promise<void> {
    const c = this.controller;
    switch (message.type) {
      case 'ready':
        this.post({ type: 'runtime', runtime: this.runtime });
        this.post({ type: 'context', chips: this.context.chips() });
        c.postAll();
        await c.refreshAvailability();
        return;
      case 'command':
        await vscode.commands.executeCommand(`hybridCopilot.${message.command}`);
        return;
      case 'send':
        await c.send(message.text);
        return;
      case 'stop':
        c.stop();
        return;
      case 'newChat':
        await c.newChat();
        return;
      case 'openChat':
        await c.openChat(message.id);
        return;
      case 'deleteChat':
        await c.deleteChat(message.id);
        return;
      case 'setThinking':
        await updateChatSetting('thinking', message.enabled);
        return;
      case 'setBudget':
        await updateChatSetting('thinkingBudget', message.budget);
        return;
      case 'toggleChip':
        this.context.setEnabled(message.id, message.enabled);
        return;
      case 'copy':
        await this.code.copy(message.text);
        return;
      case 'insertCode':
        await this.code.insert(message.code);
        return;
      case 'applyCode':
        await this.code.applyWithPreview(message.code);
        return;
      case 'firstPaint':
        c.recordFirstPaint(message.turnId, message.ms);
        return;
    }
  }

  private html(webview: vscode.Webview, dist: vscode.Uri): string {
    const nonce = makeNonce();
    const script = webview.asWebviewUri(vscode.Uri.joinPath(dist, 'chat.js'));
    const style = webview.asWebviewUri(vscode.Uri.joinPath(dist, 'chat.css'));
    const codicons = webview.asWebviewUri(vscode.Uri.joinPath(dist, 'codicon.css'));
    // Strict CSP: only our own bundled script (with this nonce), our styles and fonts, pictures only from
    // the bundle or data: URIs (the sanitized SVG drawings); no inline script, no eval, no remote content,
    // no frames, no forms.
    const csp = [
      "default-src 'none'",
      `script-src 'nonce-${nonce}'`,
      `style-src ${webview.cspSource} 'nonce-${nonce}'`,
      `font-src ${webview.cspSource}`,
      `img-src ${webview.cspSource} data:`,
      "frame-src 'none'",
      "form-action 'none'",
      "base-uri 'none'",
    ].join('; ');
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${codicons}" id="vscode-codicon-stylesheet">
<link rel="stylesheet" href="${style}">
<title>Hybrid Copilot</title>
</head>
<body>
<div id="app"><h2 class="title">Hybrid Copilot</h2></div>
<script nonce="${nonce}" src="${script}"></script>
</body>
</html>`;
  }
}

/** Changes a chat setting where it is set (a workspace value would hide a user-level change), else for the user. */
async function updateChatSetting(key: string, value: unknown): Promise<void> {
  const c = vscode.workspace.getConfiguration(`${SECTION}.chat`);
  const where = c.inspect(key);
  const target =
    where?.workspaceFolderValue !== undefined
      ? vscode.ConfigurationTarget.WorkspaceFolder
      : where?.workspaceValue !== undefined
        ? vscode.ConfigurationTarget.Workspace
        : vscode.ConfigurationTarget.Global;
  await c.update(key, value, target);
}

function makeNonce(): string {
  const bytes = new Uint8Array(24);
  crypto.getRandomValues(bytes);
  return Buffer.from(bytes).toString('base64').replace(/[^A-Za-z0-9]/g, '');
}
