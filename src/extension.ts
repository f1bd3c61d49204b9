// Entry point: wires the features together and nothing more. Every feature lives in its own folder.
import * as path from 'path';
import * as vscode from 'vscode';
import { RuntimeChatBackend } from './chat/chatBackend';
import { chatSettings, ChatViewProvider } from './chat/chatViewProvider';
import { registerActionCommands } from './commands/actionCommands';
import { registerActionCodeActions } from './commands/codeActions';
import { registerRuntimeCommands } from './commands/runtimeCommands';
import type { CompletionEngine, CompletionOutcome } from './completions/engine';
import { Completions, registerCompletions } from './completions/provider';
import { RUNTIME_SETTINGS, runtimePlan, runtimeSettings, SECTION, workerSettings } from './config';
import { HybridLanguageModelProvider, registerLanguageModelProvider } from './lmProvider/provider';
import { registerModelCommands } from './models/modelCommands';
import { setupRemote } from './remote/vscodeRemote';
import { RuntimeClient } from './runtime/client';
import type { DocumentSync } from './runtime/documentSync';
import { registerDocumentSync } from './runtime/documentSyncVscode';
import type { LogLevel } from './shared/protocol';
import { describePlan } from './shared/runtimePlan';
import { registerStatusMenu, StatusBar } from './statusBar';

let runtime: RuntimeClient | undefined;
let completionsRuntime: RuntimeClient | undefined;

/** What activate() returns: the chat's host side, for the end-to-end tests. */
export interface HybridCopilotApi {
  chat: ChatViewProvider['controller'];
  chatCode: ChatViewProvider['code'];
  completions: CompletionEngine;
  statusText(): string;
  /** The remote backend's status bar item ('' while the backend is local). */
  remoteStatusText(): string;
}

export function activate(context: vscode.ExtensionContext): HybridCopilotApi {
  const log = vscode.window.createOutputChannel('Hybrid Copilot', { log: true });
  const status = new StatusBar();
  const workerPath = path.join(context.extensionPath, 'dist', 'worker.js');
  const loadFailed = (setting: string) => (r: { ok: true } | { ok: false; path: string; error: string }) => {
    if (r.ok) return;
    void vscode.window
      .showErrorMessage(`Hybrid Copilot: the model ${r.path} could not be loaded: ${r.error}`, 'Open Settings', 'Show Logs')
      .then((choice) => {
        if (choice === 'Open Settings') void vscode.commands.executeCommand('workbench.action.openSettings', setting);
        if (choice === 'Show Logs') log.show();
      });
  };
  // The main worker: chat, the code actions, VS Code's chat, and completions unless they have a model of their
  // own (hybridCopilot.completions.model naming another file than chat's: then a second worker, below).
  const client = new RuntimeClient({
    workerPath,
    settings: () => ({ ...workerSettings(context.extensionPath, (p) => p.main), logLevel: workerLogLevel(log.logLevel) }),
    logger: log,
    onModelLoad: (r) => loadFailed(vscode.workspace.getConfiguration(SECTION).get<string>('chat.model', '').trim() ? 'hybridCopilot.chat.model' : 'hybridCopilot.modelPath')(r),
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
  // Chat, the code actions, VS Code's chat and completions go through the backend switch (hybridCopilot.backend):
  // this worker, or a remote OpenAI-compatible endpoint.
  const remote = setupRemote(context, log, backend, status, () => {
    lm.refresh();
    void chat.controller.refreshAvailability();
  });
  const chat = new ChatViewProvider(context.extensionUri, log, remote.backends.chat, context.globalState);
  const lm = new HybridLanguageModelProvider(remote.backends.chat, () => ({ maxOutputTokens: chatSettings().maxTokens, thinkingBudget: chatSettings().thinkingBudget }), log);
  const actions = registerActionCommands({
    backend: remote.backends.chat,
    chat: { controller: chat.controller, context: chat.context, focus: () => vscode.commands.executeCommand(`${ChatViewProvider.viewId}.focus`) },
    log,
    settings: () => {
      const c = chatSettings();
      return { thinking: c.thinking, thinkingBudget: c.thinkingBudget, maxAnswerTokens: c.maxTokens };
    },
  });
  // Completions: the documents mirrored into the worker that completes, and the engine on that worker. Built
  // again on the other worker when a settings change adds or removes the completion worker.
  const onOutcome = (o: CompletionOutcome) => {
    if (!o.fromCache) status.setCompletion({ latencyMs: o.latencyMs - o.waitMs, fromCache: false, stats: o.stats });
  };
  interface Pipeline {
    client: RuntimeClient;
    own: boolean;
    documents: { sync: DocumentSync; disposables: vscode.Disposable[] };
    completions: Completions;
  }
  const completionWorker = () =>
    new RuntimeClient({
      workerPath,
      settings: () => ({ ...workerSettings(context.extensionPath, (p) => p.completions ?? p.main), logLevel: workerLogLevel(log.logLevel) }),
      logger: log,
      onModelLoad: loadFailed('hybridCopilot.completions.model'),
      onStateChange: (state, detail) => status.setCompletionsRuntime({ state, detail }),
    });
  const buildPipeline = (): Pipeline => {
    const own = !!runtimePlan(context.extensionPath).completions;
    const c = own ? completionWorker() : client;
    completionsRuntime = own ? c : undefined;
    const documents = registerDocumentSync(c, log);
    const routed = remote.backends.completions(c, documents.sync);
    return { client: c, own, documents, completions: registerCompletions(routed.transport, routed.sync, log, onOutcome) };
  };
  const disposePipeline = async (p: Pipeline) => {
    for (const d of [...p.completions.disposables, ...p.documents.disposables]) d.dispose();
    if (p.own) await p.client.dispose();
  };
  let pipeline = buildPipeline();
  const refreshCompletions = (p: Promise<unknown>, c: RuntimeClient) =>
    p.then(
      () => c.request('info', {}).then((info) => status.setCompletionsRuntime({ state: 'ready', info })),
      (e: Error) => log.error(`completion runtime start failed: ${e.message}`),
    ).catch((e: Error) => log.warn(`completion runtime info after start: ${e.message}`));

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
    ...remote.disposables,
    log,
    status,
    chat,
    vscode.window.registerWebviewViewProvider(ChatViewProvider.viewId, chat),
    registerStatusMenu(),
    ...registerRuntimeCommands(client, log, () => ({ runtime: pipeline.client, documents: pipeline.documents.sync })),
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
        const plan = runtimePlan(context.extensionPath);
        log.info(`runtime settings changed: restarting the runtime worker${plan.completions ? 's' : ''}: ${describePlan(plan).join('; ')}`);
        if (!!plan.completions !== pipeline.own) {
          // A completion worker to add or to remove: completions move to the other worker with their documents.
          const old = pipeline;
          pipeline = buildPipeline();
          void disposePipeline(old);
          if (pipeline.own) void refreshCompletions(pipeline.client.start(), pipeline.client);
          else status.setCompletionsRuntime(undefined);
        } else if (pipeline.own) {
          void refreshCompletions(pipeline.client.restart(), pipeline.client);
        }
        void refresh(client.restart());
      }
    }),
    { dispose: () => void disposePipeline(pipeline) },
    { dispose: () => void client.dispose() },
  );
  log.info(`Hybrid Copilot ${context.extension.packageJSON.version} activating: ${describePlan(runtimePlan(context.extensionPath)).join('; ')}`);
  // Start the workers in the background: activation never waits on native code.
  void refresh(client.start());
  if (pipeline.own) void refreshCompletions(pipeline.client.start(), pipeline.client);
  return {
    chat: chat.controller,
    chatCode: chat.code,
    get completions() {
      return pipeline.completions.engine;
    },
    statusText: () => status.text,
    remoteStatusText: () => remote.statusText(),
  };
}

/** The worker sends log lines at the channel's level and above (vscode.LogLevel: Off 0 … Error 5). */
function workerLogLevel(level: vscode.LogLevel): LogLevel {
  return (['error', 'trace', 'debug', 'info', 'warn', 'error'] as const)[level] ?? 'info';
}

export async function deactivate(): Promise<void> {
  await Promise.all([runtime?.dispose(), completionsRuntime?.dispose()]);
  runtime = undefined;
  completionsRuntime = undefined;
}
