// What an action works on: the selection, or the function around the cursor (document symbols first, the
// text when the language has no symbol provider), or a small file as a whole.
import * as vscode from 'vscode';
import { enclosingFunction, SymbolLike } from '../shared/commands/enclosing';
import type { Snippet } from '../shared/commands/prompts';

/** Files up to this many lines are taken whole when no function is found around the cursor. */
const WHOLE_FILE_LINES = 300;
/** The symbol provider may be slow on a cold language server: the text heuristic answers after this. */
const SYMBOLS_TIMEOUT_MS = 2000;

export interface Target {
  editor: vscode.TextEditor;
  document: vscode.TextDocument;
  range: vscode.Range;
  kind: 'selection' | 'function' | 'block' | 'file';
  snippet: Snippet;
}

export async function documentSymbols(uri: vscode.Uri): Promise<SymbolLike[] | undefined> {
  const request = Promise.resolve(
    vscode.commands.executeCommand<(vscode.DocumentSymbol | vscode.SymbolInformation)[] | undefined>('vscode.executeDocumentSymbolProvider', uri),
  ).catch(() => undefined);
  const timeout = new Promise<undefined>((r) => setTimeout(() => r(undefined), SYMBOLS_TIMEOUT_MS));
  const symbols = await Promise.race([request, timeout]);
  if (!symbols?.length) return undefined;
  // SymbolInformation (a flat list with locations) from older providers; DocumentSymbol trees otherwise.
  return symbols.map((s) => ('location' in s ? { name: s.name, kind: s.kind, range: s.location.range } : s));
}

/** The editor an action applies to: the one named by `uri` (shown if needed), else the active one. */
export async function targetEditor(uri?: vscode.Uri): Promise<vscode.TextEditor | undefined> {
  if (!uri) return vscode.window.activeTextEditor;
  const open = vscode.window.visibleTextEditors.find((e) => e.document.uri.toString() === uri.toString());
  if (open) return open;
  const doc = await vscode.workspace.openTextDocument(uri);
  return vscode.window.showTextDocument(doc);
}

/**
 * The target of an action in `editor`: `range` when given, else the selection when not empty, else the
 * enclosing function, else the whole file when it is small. Undefined: nothing to work on (the caller says so).
 */
export async function resolveTarget(editor: vscode.TextEditor, range?: vscode.Range): Promise<Target | undefined> {
  const document = editor.document;
  const make = (r: vscode.Range, kind: Target['kind'], name?: string): Target => ({
    editor,
    document,
    range: r,
    kind,
    snippet: {
      path: vscode.workspace.asRelativePath(document.uri, false),
      languageId: document.languageId,
      code: document.getText(r),
      startLine: r.start.line + 1,
      endLine: r.end.line + 1,
      name,
    },
  });
  if (range && !range.isEmpty) return make(range, 'selection');
  if (!range && !editor.selection.isEmpty) return make(editor.selection, 'selection');
  const line = range ? range.start.line : editor.selection.active.line;
  const symbols = await documentSymbols(document.uri);
  const found = enclosingFunction({ symbols, text: document.getText(), line, languageId: document.languageId });
  if (found) {
    const r = new vscode.Range(found.startLine, 0, found.endLine, document.lineAt(found.endLine).text.length);
    return make(r, found.kind === 'function' ? 'function' : 'block', found.name);
  }
  if (document.lineCount <= WHOLE_FILE_LINES && document.getText().trim()) {
    const last = document.lineAt(document.lineCount - 1);
    return make(new vscode.Range(0, 0, last.lineNumber, last.text.length), 'file');
  }
  return undefined;
}

export function describeTarget(t: Target): string {
  const lines = t.snippet.startLine === t.snippet.endLine ? `line ${t.snippet.startLine}` : `lines ${t.snippet.startLine}-${t.snippet.endLine}`;
  switch (t.kind) {
    case 'function':
    case 'block':
      return `${t.snippet.name ? `\`${t.snippet.name}\`` : 'the function'} (${lines})`;
    case 'file':
      return `${t.snippet.path}`;
    default:
      return `the selection (${lines})`;
  }
}
