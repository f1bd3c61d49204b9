// Actions on a code block of an answer: copy, insert at the cursor, and apply to the file through a diff
// preview (vscode.diff between the file and a read-only virtual document holding the proposed text), which
// the user accepts or discards.
import * as path from 'path';
import * as vscode from 'vscode';

export const PROPOSAL_SCHEME = 'hybrid-copilot-proposal';

export interface Proposal {
  id: string;
  target: vscode.Uri;
  /** The document version the proposal was made against. */
  version: number;
  range: vscode.Range;
  newText: string;
  uri: vscode.Uri;
}

export class CodeActions implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly proposals = new Map<string, { proposal: Proposal; content: string }>();
  private next = 1;
  private readonly registration: vscode.Disposable;

  constructor(
    private readonly editor: () => vscode.TextEditor | undefined,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.registration = vscode.workspace.registerTextDocumentContentProvider(PROPOSAL_SCHEME, this);
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.proposals.get(uri.query)?.content ?? '';
  }

  async copy(text: string): Promise<void> {
    await vscode.env.clipboard.writeText(text);
    vscode.window.setStatusBarMessage('$(copy) Copied', 2000);
  }

  /** Replaces the selection of the last editor (or inserts at its cursor); no editor: a new untitled file. */
  async insert(code: string): Promise<void> {
    const e = this.editor();
    if (!e) {
      const doc = await vscode.workspace.openTextDocument({ content: code });
      await vscode.window.showTextDocument(doc);
      return;
    }
    await vscode.window.showTextDocument(e.document, e.viewColumn);
    const ok = await e.edit((b) => b.replace(e.selection, code));
    if (!ok) void vscode.window.showWarningMessage('Hybrid Copilot: the code could not be inserted (the editor changed meanwhile).');
  }

  /**
   * The proposed file: the selection replaced by the code, or the whole file when nothing is selected.
   * Shown as a diff; the change is made only when the user accepts it.
   */
  propose(code: string): Proposal | undefined {
    const e = this.editor();
    if (!e) return undefined;
    const doc = e.document;
    const range = e.selection.isEmpty ? new vscode.Range(doc.positionAt(0), doc.positionAt(doc.getText().length)) : new vscode.Range(e.selection.start, e.selection.end);
    const id = String(this.next++);
    const content = doc.getText(new vscode.Range(doc.positionAt(0), range.start)) + code + doc.getText(new vscode.Range(range.end, doc.positionAt(doc.getText().length)));
    const uri = vscode.Uri.from({ scheme: PROPOSAL_SCHEME, path: `/${path.basename(doc.uri.path)}`, query: id });
    const proposal: Proposal = { id, target: doc.uri, version: doc.version, range, newText: code, uri };
    this.proposals.set(id, { proposal, content });
    if (this.proposals.size > 20) this.proposals.delete(this.proposals.keys().next().value as string);
    return proposal;
  }

  async showDiff(p: Proposal): Promise<void> {
    const name = path.basename(p.target.path);
    await vscode.commands.executeCommand('vscode.diff', p.target, p.uri, `${name} ↔ proposed change (Hybrid Copilot)`, { preview: true });
  }

  /** Makes the proposed change if the file did not change since; returns whether it was made. */
  async apply(p: Proposal): Promise<boolean> {
    const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === p.target.toString());
    if (!doc || doc.version !== p.version) {
      void vscode.window.showWarningMessage(`Hybrid Copilot: ${path.basename(p.target.path)} changed since the proposal; apply the code block again.`);
      return false;
    }
    const edit = new vscode.WorkspaceEdit();
    edit.replace(p.target, p.range, p.newText);
    const ok = await vscode.workspace.applyEdit(edit);
    this.proposals.delete(p.id);
    this.log.info(`chat: applied a code block to ${p.target.toString()} (${ok ? 'done' : 'refused'})`);
    return ok;
  }

  /** The whole flow from the view's "Apply" button: diff, then ask. */
  async applyWithPreview(code: string): Promise<void> {
    const p = this.propose(code);
    if (!p) {
      void vscode.window.showInformationMessage('Hybrid Copilot: open the file to apply the code to, then press Apply again.');
      return;
    }
    await this.showDiff(p);
    const choice = await vscode.window.showInformationMessage(`Apply the proposed change to ${path.basename(p.target.path)}?`, 'Apply', 'Discard');
    if (choice === 'Apply') {
      if (await this.apply(p)) await closeDiff(p.uri);
    } else {
      this.proposals.delete(p.id);
      await closeDiff(p.uri);
    }
  }

  dispose(): void {
    this.registration.dispose();
    this.proposals.clear();
  }
}

async function closeDiff(proposal: vscode.Uri): Promise<void> {
  for (const group of vscode.window.tabGroups.all) {
    for (const tab of group.tabs) {
      const input = tab.input;
      if (input instanceof vscode.TabInputTextDiff && input.modified.toString() === proposal.toString()) {
        await vscode.window.tabGroups.close(tab).then(undefined, () => undefined);
      }
    }
  }
}
