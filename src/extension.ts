// Entry point: wires the features together and nothing more. Every feature lives in its own folder.
import * as path from 'path';
import * as vscode from 'vscode';
import { RuntimeChatBackend } from './chat/chatBackend';
import { chatSettings, ChatViewProvider } from './chat/chatViewProvider';
import { registerActionCommands } from './commands/actionCommands';
import { registerActionCodeActions } from './commands/codeActions';
import { registerRuntimeCommands } from './commands/runtimeCommands';
import type { CompletionEngine } from './completions/engine';
import { registerCompletions } from './completions/provider';
import { RUNTIME_SETTINGS, runtimeSettings } from './config';
import { HybridLanguageModelProvider, registerLanguageModelProvider } from './lmProvider/provider';
import { registerModelCommands } from './models/modelCommands';
import { RuntimeClient } from './runtime/client';
import { registerDocumentSync } from './runtime/documentSyncVscode';
import type { LogLevel } from './shared/protocol';
import { registerStatusMenu, StatusBar } from './statusBar';

let runtime: RuntimeClient | undefined;

/** What activate() returns: the chat's host side, for the end-to-end tests. */
export interface HybridCopilotApi {
  chat: ChatViewProvider['controller'];
  chatCode: ChatViewProvider['code'];
  completions: CompletionEngine;
  statusText(): string;
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
      lm.refresh();
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
  const backend = new RuntimeChatBackend(client, () => runtimeSettings(context.extensionPath).contextLength);
  const chat = new ChatViewProvider(context.extensionUri, log, backend, context.globalState);
  const lm = new HybridLanguageModelProvider(backend, () => ({ maxOutputTokens: chatSettings().maxTokens, thinkingBudget: chatSettings().thinkingBudget }), log);
  const actions = registerActionCommands({
    backend,
    chat: { controller: chat.controller, context: chat.context, focus: () => vscode.commands.executeCommand(`${ChatViewProvider.viewId}.focus`) },
    log,
    settings: () => {
      const c = chatSettings();
      return { thinking: c.thinking, thinkingBudget: c.thinkingBudget, maxAnswerTokens: c.maxTokens };
    },
  });
  const documents = registerDocumentSync(client, log);
  const completions = registerCompletions(client, documents.sync, log, (o) => {
    if (!o.fromCache) status.setCompletion({ latencyMs: o.latencyMs - o.waitMs, fromCache: false, stats: o.stats });
  });

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
    )
    // A restart that overtakes this one stops the worker while 'info' is in flight: not an error to report.
    .catch((e: Error) => log.warn(`runtime info after start: ${e.message}`));

  context.subscriptions.push(
    log,
    status,
    chat,
    vscode.window.registerWebviewViewProvider(ChatViewProvider.viewId, chat),
    ...documents.disposables,
    ...completions.disposables,
    registerStatusMenu(),
    ...registerRuntimeCommands(client, log, documents.sync),
    ...actions.disposables,
    registerActionCodeActions(),
    ...registerModelCommands({ context, runtime: client, log }),
    lm,
    registerLanguageModelProvider(lm),
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
  return { chat: chat.controller, chatCode: chat.code, completions: completions.engine, statusText: () => status.text };
}

/** The worker sends log lines at the channel's level and above (vscode.LogLevel: Off 0 … Error 5). */
function workerLogLevel(level: vscode.LogLevel): LogLevel {
  return (['error', 'trace', 'debug', 'info', 'warn', 'error'] as const)[level] ?? 'info';
}

export async function deactivate(): Promise<void> {
  await runtime?.dispose();
  runtime = undefined;
}
