// Feeds the editor's document events into DocumentSync: open text documents with a file-like scheme and a
// language enabled in `hybridCopilot.completions.enable` are mirrored into the runtime worker.
import * as vscode from 'vscode';
import type { ContentChange } from '../shared/protocol';
import type { Logger, RuntimeClient } from './client';
import { DocumentSync, SyncDocument } from './documentSync';

/** Schemes of documents a person edits (not output channels, git views, settings, ...). */
const SCHEMES = new Set(['file', 'untitled', 'vscode-remote', 'vscode-vfs', 'vscode-notebook-cell', 'vsls']);

function languageEnabled(languageId: string): boolean {
  const map = vscode.workspace.getConfiguration('hybridCopilot').get<Record<string, boolean>>('completions.enable', {});
  return map[languageId] ?? map['*'] ?? true;
}

export function adapt(d: vscode.TextDocument): SyncDocument {
  return { uri: d.uri.toString(), languageId: d.languageId, version: d.version, getText: () => d.getText() };
}

export function registerDocumentSync(client: RuntimeClient, logger: Logger): { sync: DocumentSync; disposables: vscode.Disposable[] } {
  const sync = new DocumentSync({
    client,
    logger,
    documents: () => vscode.workspace.textDocuments.map(adapt),
    isEnabled: (doc) => SCHEMES.has(doc.uri.slice(0, doc.uri.indexOf(':'))) && languageEnabled(doc.languageId),
  });
  const disposables = [
    vscode.workspace.onDidOpenTextDocument((d) => sync.didOpen(adapt(d))),
    vscode.workspace.onDidChangeTextDocument((e) => {
      if (e.contentChanges.length === 0) return;
      sync.didChange(adapt(e.document), e.contentChanges as readonly ContentChange[]);
    }),
    vscode.workspace.onDidCloseTextDocument((d) => sync.didClose(d.uri.toString())),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('hybridCopilot.completions.enable')) sync.refresh();
    }),
    { dispose: () => sync.dispose() },
  ];
  return { sync, disposables };
}
