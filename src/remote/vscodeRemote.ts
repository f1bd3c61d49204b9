// VS Code's side of the remote backend: the settings (hybridCopilot.backend, hybridCopilot.remote.*), the API
// key in SecretStorage per endpoint origin (command "Hybrid Copilot: Set Remote API Key"; never in settings),
// a status bar item while the backend is remote (endpoint, latency of the last request or of a periodic
// /v1/models ping, the last error), and the switch every feature goes through.
import * as vscode from 'vscode';
import type { ChatBackend } from '../chat/chatBackend';
import { BackendKind, BackendSwitch } from '../runtime/backend';
import { baseUrl, RemoteError } from './client';
import { RemoteBackend, RemoteFim, RemoteSettings } from './backend';

const SECTION = 'hybridCopilot';
export const SET_API_KEY_COMMAND = 'hybridCopilot.setRemoteApiKey';
const PING_MS = 60_000;

export function backendKind(): BackendKind {
  return vscode.workspace.getConfiguration(SECTION).get<string>('backend', 'local') === 'remote' ? 'remote' : 'local';
}

export function remoteSettings(): RemoteSettings {
  const c = vscode.workspace.getConfiguration(SECTION);
  return {
    endpoint: c.get<string>('remote.endpoint', 'http://127.0.0.1:8080/v1'),
    model: c.get<string>('remote.model', '').trim(),
    timeoutMs: c.get<number>('remote.timeoutMs', 30_000),
    fim: c.get<RemoteFim>('remote.fim', 'off'),
    fimTemplate: c.get<string>('remote.fimTemplate', '<fim_prefix>{prefix}<fim_suffix>{suffix}<fim_middle>'),
  };
}

function secretKey(endpoint: string): string {
  let origin = endpoint;
  try {
    origin = new URL(baseUrl(endpoint)).origin;
  } catch {
    // an invalid endpoint: its own key, never used
  }
  return `${SECTION}.remote.apiKey/${origin}`;
}

class RemoteStatusItem implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('hybridCopilot.remote', vscode.StatusBarAlignment.Right, 99);
  private last: { endpoint: string; latencyMs?: number; error?: RemoteError; at: number } | undefined;

  constructor() {
    this.item.name = 'Hybrid Copilot Remote';
    this.item.command = SET_API_KEY_COMMAND;
  }

  report(r: { endpoint: string; latencyMs?: number; error?: RemoteError }): void {
    this.last = { ...r, at: Date.now() };
    this.render();
  }

  render(): void {
    if (backendKind() !== 'remote') {
      this.item.hide();
      return;
    }
    const s = remoteSettings();
    const l = this.last;
    const bad = l?.error && l.error.kind !== 'cut';
    const latency = l?.latencyMs !== undefined ? `${Math.round(l.latencyMs)} ms` : '…';
    this.item.text = `${bad ? '$(warning)' : '$(remote)'} Remote · ${bad ? l!.error!.kind : latency}`;
    this.item.tooltip = [
      `Hybrid Copilot: backend remote — ${s.endpoint}`,
      `Model: ${s.model || '(the first the endpoint lists)'}`,
      l ? `Last request ${new Date(l.at).toLocaleTimeString()}: ${l.error ? l.error.message : `answered in ${latency}`}` : 'No request yet',
      'Inline completions, chat and the code actions go to this endpoint; the local runtime stays loaded.',
      'Click to set the API key',
    ].join('\n');
    this.item.backgroundColor = bad ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
    this.item.show();
  }

  get text(): string {
    return backendKind() === 'remote' ? this.item.text : '';
  }

  dispose(): void {
    this.item.dispose();
  }
}

export interface RemoteSetup {
  backends: BackendSwitch;
  remote: RemoteBackend;
  statusText(): string;
  disposables: vscode.Disposable[];
}

/** Creates the switch over the local chat backend and the remote endpoint, its command and status item. */
export function setupRemote(context: vscode.ExtensionContext, log: vscode.LogOutputChannel, local: ChatBackend, onBackendChange: () => void): RemoteSetup {
  const item = new RemoteStatusItem();
  const remote = new RemoteBackend({
    settings: remoteSettings,
    apiKey: (endpoint) => Promise.resolve(context.secrets.get(secretKey(endpoint))),
    onRequest: (r) => {
      item.report(r);
      if (r.error) log.warn(`remote ${r.endpoint}: ${r.error.message}`);
    },
    log,
  });
  const backends = new BackendSwitch(backendKind, local, () => remote);
  const ping = () => {
    if (backendKind() !== 'remote') return;
    remote.ping().then(
      (models) => log.debug(`remote ${remote.client().endpoint}: ${models.map((m) => m.id).join(', ')}`),
      () => undefined, // reported through onRequest
    );
  };
  const timer = setInterval(ping, PING_MS);
  item.render();
  if (backendKind() === 'remote') {
    log.info(`backend: remote ${remoteSettings().endpoint}`);
    ping();
  }
  const disposables: vscode.Disposable[] = [
    item,
    { dispose: () => clearInterval(timer) },
    vscode.commands.registerCommand(SET_API_KEY_COMMAND, async (given?: unknown) => {
      const endpoint = remoteSettings().endpoint;
      const key = secretKey(endpoint);
      let value = typeof given === 'string' ? given : undefined;
      if (value === undefined) {
        value = await vscode.window.showInputBox({
          title: 'Hybrid Copilot: Remote API Key',
          prompt: `API key (bearer token) for ${endpoint}; kept in VS Code's secret storage. Empty: remove it.`,
          password: true,
          ignoreFocusOut: true,
        });
        if (value === undefined) return;
      }
      if (value.trim() === '') await context.secrets.delete(key);
      else await context.secrets.store(key, value.trim());
      log.info(`remote API key for ${key.split('/').slice(1).join('/')} ${value.trim() ? 'set' : 'removed'}`);
      ping();
      onBackendChange();
    }),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration(`${SECTION}.backend`) || e.affectsConfiguration(`${SECTION}.remote`)) {
        log.info(`backend: ${backendKind()}${backendKind() === 'remote' ? ` ${remoteSettings().endpoint}` : ''}`);
        item.render();
        ping();
        onBackendChange();
      }
    }),
  ];
  return { backends, remote, statusText: () => item.text, disposables };
}
