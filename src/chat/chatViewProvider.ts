// The chat view in the side bar (a WebviewView). The webview talks to the host only through the typed
// messages of src/shared/webviewProtocol.ts; everything it sends is validated here first.
import * as vscode from 'vscode';
import { HostMessage, parseWebviewMessage, RuntimeSummary } from '../shared/webviewProtocol';

export class ChatViewProvider implements vscode.WebviewViewProvider, vscode.Disposable {
  static readonly viewId = 'hybridCopilot.chat';
  private view: vscode.WebviewView | undefined;
  private runtime: RuntimeSummary = { state: 'stopped' };
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    const dist = vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview');
    view.webview.options = { enableScripts: true, localResourceRoots: [dist] };
    view.webview.html = this.html(view.webview, dist);
    this.disposables.push(
      view.webview.onDidReceiveMessage((raw: unknown) => this.onMessage(raw)),
      view.onDidDispose(() => (this.view = undefined)),
    );
  }

  setRuntime(runtime: RuntimeSummary): void {
    this.runtime = runtime;
    this.post({ type: 'runtime', runtime });
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }

  private post(message: HostMessage): void {
    void this.view?.webview.postMessage(message);
  }

  private onMessage(raw: unknown): void {
    let message;
    try {
      message = parseWebviewMessage(raw);
    } catch (e) {
      this.log.warn(`chat view: ignored a malformed message: ${(e as Error).message}`);
      return;
    }
    switch (message.type) {
      case 'ready':
        this.post({ type: 'runtime', runtime: this.runtime });
        break;
      case 'command':
        void vscode.commands.executeCommand(`hybridCopilot.${message.command}`);
        break;
    }
  }

  private html(webview: vscode.Webview, dist: vscode.Uri): string {
    const nonce = makeNonce();
    const script = webview.asWebviewUri(vscode.Uri.joinPath(dist, 'chat.js'));
    const style = webview.asWebviewUri(vscode.Uri.joinPath(dist, 'chat.css'));
    const codicons = webview.asWebviewUri(vscode.Uri.joinPath(dist, 'codicon.css'));
    // Strict CSP: only our own bundled script (with this nonce), our styles and fonts; no inline script,
    // no eval, no remote content.
    const csp = [
      "default-src 'none'",
      `script-src 'nonce-${nonce}'`,
      `style-src ${webview.cspSource} 'nonce-${nonce}'`,
      `font-src ${webview.cspSource}`,
      `img-src ${webview.cspSource} data:`,
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

function makeNonce(): string {
  const bytes = new Uint8Array(24);
  crypto.getRandomValues(bytes);
  return Buffer.from(bytes).toString('base64').replace(/[^A-Za-z0-9]/g, '');
}
