// Command palette actions about the runtime itself: show its info, restart it, show the logs.
import * as vscode from 'vscode';
import { describeRuntime } from '../shared/format';
import type { RuntimeInfo } from '../shared/protocol';
import type { RuntimeClient } from '../runtime/client';
import type { DocumentSync } from '../runtime/documentSync';
import { adapt } from '../runtime/documentSyncVscode';

/** The worker that serves completions (the main one, or a second one with the completion model) and its documents. */
export interface CompletionsRuntime {
  runtime: RuntimeClient;
  documents: DocumentSync;
}

export function registerRuntimeCommands(runtime: RuntimeClient, log: vscode.LogOutputChannel, completions: () => CompletionsRuntime): vscode.Disposable[] {
  return [
    // Returns the info object so that other extensions and tests can read it.
    vscode.commands.registerCommand('hybridCopilot.showRuntimeInfo', async (): Promise<RuntimeInfo | undefined> => {
      try {
        const info = await runtime.request('info', {});
        const lines = describeRuntime(info);
        for (const line of lines) log.info(line);
        const second = completions().runtime;
        if (second !== runtime) {
          const c = await second.request('info', {}).then(describeRuntime, (e: Error) => [`does not answer: ${e.message}`]);
          for (const line of c) log.info(`completion worker: ${line}`);
        }
        const device = info.device.using === 'cuda' ? `GPU (${info.cuda.devices[0]?.name})` : 'CPU';
        const model = info.model.status === 'found' ? info.model.path.split(/[\\/]/).pop() : 'no model';
        void vscode.window
          .showInformationMessage(`Hybrid Copilot ${info.addonVersion} on ${device}, ${model}.`, 'Show Details')
          .then((choice) => choice && log.show(true));
        return info;
      } catch (e) {
        const message = `Hybrid Copilot: the runtime did not answer: ${(e as Error).message}`;
        log.error(message);
        void vscode.window.showErrorMessage(message, 'Restart Runtime', 'Show Logs').then((choice) => {
          if (choice === 'Restart Runtime') void vscode.commands.executeCommand('hybridCopilot.restartRuntime');
          if (choice === 'Show Logs') log.show();
        });
        throw e;
      }
    }),
    vscode.commands.registerCommand('hybridCopilot.restartRuntime', async (): Promise<RuntimeInfo> => {
      log.info('restarting the runtime worker');
      return vscode.window.withProgress(
        { location: vscode.ProgressLocation.Window, title: 'Hybrid Copilot: restarting runtime' },
        async () => {
          const second = completions().runtime;
          const [info] = await Promise.all([runtime.restart(), second !== runtime ? second.restart() : undefined]);
          return info;
        },
      );
    }),
    vscode.commands.registerCommand('hybridCopilot.showLogs', () => log.show()),
    // Internal (not in the palette): a completion straight from the runtime, for tests and diagnostics.
    // Args: { uri?, offset?, maxTokens? }; default the active editor's cursor. Returns CompleteResult.
    vscode.commands.registerCommand(
      'hybridCopilot.runtime.complete',
      async (args: { uri?: string; offset?: number; maxTokens?: number } = {}) => {
        const editor = vscode.window.activeTextEditor;
        const doc = args.uri ? vscode.workspace.textDocuments.find((d) => d.uri.toString() === args.uri) : editor?.document;
        if (!doc) throw new Error(`hybridCopilot.runtime.complete: no document ${args.uri ?? '(no active editor)'}`);
        const offset = args.offset ?? (editor?.document === doc ? doc.offsetAt(editor.selection.active) : doc.getText().length);
        const { runtime: worker, documents } = completions();
        await documents.ensure(adapt(doc));
        return worker.stream('complete', { uri: doc.uri.toString(), version: doc.version, offset, maxTokens: args.maxTokens ?? 16 }, () => undefined);
      },
    ),
  ];
}
