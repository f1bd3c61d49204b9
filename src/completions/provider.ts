// VS Code's side of inline completions: an InlineCompletionItemProvider for the documents the runtime
// mirrors (file-like schemes, languages enabled in hybridCopilot.completions.enable), feeding the
// engine. Accepting goes through VS Code's own commands: Tab (editor.action.inlineSuggest.commit), next
// word (editor.action.inlineSuggest.acceptNextWord, Ctrl+Right), next line (…acceptNextLine); after a
// partial accept the engine's cache serves the rest without asking the model.
import * as vscode from 'vscode';
import type { CompletionSync, CompletionTransport } from '../runtime/backend';
import type { Logger } from '../runtime/client';
import { adapt } from '../runtime/documentSyncVscode';
import { completionsEnabled } from '../shared/completions/status';
import { CompletionEngine, CompletionOutcome } from './engine';

const SECTION = 'hybridCopilot';

/** Schemes of documents a person edits (the ones DocumentSync mirrors). */
const SELECTOR: vscode.DocumentFilter[] = ['file', 'untitled', 'vscode-remote', 'vscode-vfs', 'vscode-notebook-cell', 'vsls'].map((scheme) => ({ scheme }));

export function languageEnabled(languageId: string): boolean {
  return completionsEnabled(vscode.workspace.getConfiguration(SECTION).get<Record<string, boolean>>('completions.enable'), languageId);
}

export class InlineCompletionProvider implements vscode.InlineCompletionItemProvider {
  constructor(private readonly engine: CompletionEngine) {}

  async provideInlineCompletionItems(
    document: vscode.TextDocument,
    position: vscode.Position,
    context: vscode.InlineCompletionContext,
    token: vscode.CancellationToken,
  ): Promise<vscode.InlineCompletionItem[] | undefined> {
    if (!languageEnabled(document.languageId)) return undefined;
    // The suggest widget is open: VS Code would only show a completion that extends its selection.
    if (context.selectedCompletionInfo) return undefined;
    const outcome = await this.engine.complete({
      doc: { ...adapt(document), path: vscode.workspace.asRelativePath(document.uri, false) },
      offset: document.offsetAt(position),
      explicit: context.triggerKind === vscode.InlineCompletionTriggerKind.Invoke,
      token,
    });
    if (!outcome?.text || token.isCancellationRequested) return undefined;
    return [new vscode.InlineCompletionItem(outcome.text, new vscode.Range(position, position))];
  }
}

export interface Completions {
  engine: CompletionEngine;
  disposables: vscode.Disposable[];
}

export function registerCompletions(
  client: CompletionTransport,
  sync: CompletionSync,
  logger: Logger,
  onOutcome?: (o: CompletionOutcome) => void,
): Completions {
  const engine = new CompletionEngine({
    client,
    sync,
    logger,
    debounceMs: () => vscode.workspace.getConfiguration(SECTION).get<number>('completions.debounceMs', 200),
    onOutcome,
  });
  const disposables = [
    vscode.languages.registerInlineCompletionItemProvider(SELECTOR, new InlineCompletionProvider(engine)),
    vscode.workspace.onDidCloseTextDocument((d) => engine.forget(d.uri.toString())),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration(`${SECTION}.modelPath`) || e.affectsConfiguration(`${SECTION}.completions.model`)) engine.forget();
    }),
  ];
  return { engine, disposables };
}
