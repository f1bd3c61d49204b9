// VS Code's side of the remote backend: the settings (hybridCopilot.backend, hybridCopilot.remote.*), the API
// key in SecretStorage per endpoint origin (command "Hybrid Copilot: Set Remote API Key"; never in settings),
// what the status bar item shows while the backend is remote (endpoint, latency of the last request or of a
// periodic /v1/models ping, the last error), and the switch every feature goes through.
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

/** What the main status bar item shows while the backend is remote (StatusBar.setBackend). */
export interface BackendStatusSink {
  setBackend(b: { label: string; tooltip: string[]; warning: boolean } | undefined): void;
  readonly text: string;
}

/** The endpoint, the latency of its last request (or ping), its last error: on the main status bar item. */
class RemoteStatus {
  private last: { endpoint: string; latencyMs?: number; error?: RemoteError; at: number } | undefined;

  constructor(private readonly sink: BackendStatusSink) {}

  report(r: { endpoint: string; latencyMs?: number; error?: RemoteError }): void {
    this.last = { ...r, at: Date.now() };
    this.render();
  }

  render(): void {
    if (backendKind() !== 'remote') {
      this.sink.setBackend(undefined);
      return;
    }
    const s = remoteSettings();
    const l = this.last;
    const bad = !!l?.error && l.error.kind !== 'cut';
    const latency = l?.latencyMs !== undefined ? `${Math.round(l.latencyMs)} ms` : '…';
    this.sink.setBackend({
      label: `Remote ${bad ? l!.error!.kind : latency}`,
      warning: bad,
      tooltip: [
        `Backend: remote — ${s.endpoint}`,
        `Model: ${s.model || '(the first the endpoint lists)'}`,
        l ? `Last request ${new Date(l.at).toLocaleTimeString()}: ${l.error ? l.error.message : `answered in ${latency}`}` : 'No request yet',
        'Chat, the actions on code and inline completions go to this endpoint ("Set Remote API Key" for its key).',
      ],
    });
  }

  get text(): string {
    return backendKind() === 'remote' ? this.sink.text : '';
  }
}

export interface RemoteSetup {
  backends: BackendSwitch;
  remote: RemoteBackend;
  statusText(): string;
  disposables: vscode.Disposable[];
}

/** Creates the switch over the local chat backend and the remote endpoint, its command and status item. */
export function setupRemote(
  context: vscode.ExtensionContext,
  log: vscode.LogOutputChannel,
  local: ChatBackend,
  status: BackendStatusSink,
  onBackendChange: () => void,
): RemoteSetup {
  const item = new RemoteStatus(status);
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
      remote.invalidate();
      ping();
      onBackendChange();
    }),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration(`${SECTION}.backend`) || e.affectsConfiguration(`${SECTION}.remote`)) {
        log.info(`backend: ${backendKind()}${backendKind() === 'remote' ? ` ${remoteSettings().endpoint}` : ''}`);
        remote.invalidate();
        item.render();
        ping();
        onBackendChange();
      }
    }),
  ];
  return { backends, remote, statusText: () => item.text, disposables };
}
