// Entry point: wires the features together and nothing more. Every feature lives in its own folder.
import * as path from 'path';
import * as vscode from 'vscode';
import { RuntimeChatBackend } from './chat/chatBackend';
import { ChatViewProvider } from './chat/chatViewProvider';
import { registerRuntimeCommands } from './commands/runtimeCommands';
import { RUNTIME_SETTINGS, runtimeSettings } from './config';
import { RuntimeClient } from './runtime/client';
import { registerDocumentSync } from './runtime/documentSyncVscode';
import type { LogLevel } from './shared/protocol';
import { StatusBar } from './statusBar';

let runtime: RuntimeClient | undefined;

/** What activate() returns: the chat's host side, for the end-to-end tests. */
export interface HybridCopilotApi {
  chat: ChatViewProvider['controller'];
  chatCode: ChatViewProvider['code'];
}

export function activate(context: vscode.ExtensionContext): HybridCopilotApi {
  const log = vscode.window.createOutputChannel('Hybrid Copilot', { log: true });
  const status = new StatusBar();
  const client = new RuntimeClient({
    workerPath: path.join(context.extensionPath, 'dist', 'worker.js'),
    settings: () => ({ ...runtimeSettings(context.extensionPath), logLevel: workerLogLevel(log.logLevel) }),
    logger: log,
    onModelLoad: (r) => {
      if (r.ok) return;
      void vscode.window
        .showErrorMessage(`Hybrid Copilot: the model ${r.path} could not be loaded: ${r.error}`, 'Open Settings', 'Show Logs')
        .then((choice) => {
          if (choice === 'Open Settings') void vscode.commands.executeCommand('workbench.action.openSettings', 'hybridCopilot.modelPath');
          if (choice === 'Show Logs') log.show();
        });
    },
    onStateChange: (state, detail) => {
      status.setState(state, detail);
      chat.setRuntime({ state, detail });
      if (state === 'failed') {
        void vscode.window
          .showErrorMessage(`Hybrid Copilot: the runtime keeps crashing (${detail}).`, 'Restart Runtime', 'Show Logs')
          .then((choice) => {
            if (choice === 'Restart Runtime') void vscode.commands.executeCommand('hybridCopilot.restartRuntime');
            if (choice === 'Show Logs') log.show();
          });
      }
    },
  });
  runtime = client;
  const chat = new ChatViewProvider(
    context.extensionUri,
    log,
    new RuntimeChatBackend(client, () => runtimeSettings(context.extensionPath).contextLength),
    context.globalState,
  );
  const documents = registerDocumentSync(client, log);

  const refresh = (p: Promise<unknown>) =>
    p.then(
      () => client.request('info', {}).then((info) => {
        status.setInfo(info);
        chat.setRuntime({
          state: 'ready',
          device: info.device.using === 'cuda' ? `GPU: ${info.cuda.devices[0]?.name}` : `CPU (${info.cpu.logicalCores} threads)`,
          model: info.model.status === 'found' ? info.model.path : info.model.status === 'missing' ? `${info.model.path} (missing)` : 'none',
          addonVersion: info.addonVersion,
        });
      }),
      (e: Error) => log.error(`runtime start failed: ${e.message}`),
    );

  context.subscriptions.push(
    log,
    status,
    chat,
    vscode.window.registerWebviewViewProvider(ChatViewProvider.viewId, chat),
    ...documents.disposables,
    ...registerRuntimeCommands(client, log, documents.sync),
    vscode.commands.registerCommand('hybridCopilot.openChat', () =>
      vscode.commands.executeCommand(`${ChatViewProvider.viewId}.focus`),
    ),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (RUNTIME_SETTINGS.some((s) => e.affectsConfiguration(s))) {
        log.info('runtime settings changed: restarting the runtime worker');
        void refresh(client.restart());
      }
    }),
    { dispose: () => void client.dispose() },
  );
  log.info(`Hybrid Copilot ${context.extension.packageJSON.version} activating`);
  // Start the worker in the background: activation never waits on native code.
  void refresh(client.start());
  return { chat: chat.controller, chatCode: chat.code };
}

/** The worker sends log lines at the channel's level and above (vscode.LogLevel: Off 0 … Error 5). */
function workerLogLevel(level: vscode.LogLevel): LogLevel {
  return (['error', 'trace', 'debug', 'info', 'warn', 'error'] as const)[level] ?? 'info';
}

export async function deactivate(): Promise<void> {
  await runtime?.dispose();
  runtime = undefined;
}
