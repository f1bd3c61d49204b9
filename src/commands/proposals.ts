// Proposed changes shown as a diff before anything is written: the right side is a read-only virtual
// document (scheme hybrid-copilot-edit) whose text is updated as the model streams, the left side the file
// (or an empty document for a file that does not exist yet). Accept makes the change with one workspace edit
// (checked against the version the proposal was made for), reject closes the diff; both are commands, on
// the diff editor's title bar and in the notification that asks.
import * as path from 'path';
import * as vscode from 'vscode';
import { applyEdit, lineChanges, TextEdit } from '../shared/commands/edits';

export const PROPOSAL_SCHEME = 'hybrid-copilot-edit';

export type ProposalState = 'streaming' | 'ready' | 'accepted' | 'rejected';

export class Proposal {
  state: ProposalState = 'streaming';
  /** The edit of `original` shown now (an existing file), or the whole new text (`newFile`). */
  private edit: TextEdit;
  private settle!: (accepted: boolean) => void;
  /** Resolves when the user accepts (true) or rejects (false). */
  readonly decided: Promise<boolean>;

  constructor(
    private readonly manager: ProposalManager,
    readonly id: string,
    /** The file the change goes to. */
    readonly target: vscode.Uri,
    /** Its text when the proposal was made ('' for a new file). */
    readonly original: string,
    /** The open document's version then (undefined for a file not open or not existing). */
    readonly version: number | undefined,
    readonly newFile: boolean,
    readonly title: string,
  ) {
    this.edit = { start: 0, end: 0, text: '' };
    this.decided = new Promise((r) => (this.settle = r));
  }

  /** The virtual document holding the proposed text. */
  get uri(): vscode.Uri {
    return vscode.Uri.from({ scheme: PROPOSAL_SCHEME, path: `/${path.basename(this.target.path)}`, query: this.id });
  }

  /** The left side of the diff: the file, or an empty virtual document when it does not exist yet. */
  get left(): vscode.Uri {
    return this.newFile && !this.original ? vscode.Uri.from({ scheme: PROPOSAL_SCHEME, path: `/${path.basename(this.target.path)}`, query: `${this.id}-empty` }) : this.target;
  }

  get text(): string {
    return applyEdit(this.original, this.edit);
  }

  get currentEdit(): TextEdit {
    return this.edit;
  }

  /** Replaces the proposed change (streaming: called as the answer grows). */
  update(edit: TextEdit): void {
    this.edit = edit;
    this.manager.changed(this);
  }

  changes(): { added: number; removed: number } {
    return lineChanges(this.original, this.text);
  }

  /** @internal */
  resolve(accepted: boolean): void {
    this.state = accepted ? 'accepted' : 'rejected';
    this.settle(accepted);
  }
}

export class ProposalManager implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly proposals = new Map<string, Proposal>();
  private readonly emitter = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.emitter.event;
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private next = 1;
  private readonly disposables: vscode.Disposable[];

  constructor(private readonly log: vscode.LogOutputChannel) {
    this.disposables = [
      vscode.workspace.registerTextDocumentContentProvider(PROPOSAL_SCHEME, this),
      this.emitter,
      vscode.commands.registerCommand('hybridCopilot.acceptProposal', (uri?: vscode.Uri) => this.decide(uri, true)),
      vscode.commands.registerCommand('hybridCopilot.rejectProposal', (uri?: vscode.Uri) => this.decide(uri, false)),
    ];
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    if (uri.query.endsWith('-empty')) return '';
    return this.proposals.get(uri.query)?.text ?? '';
  }

  create(o: { target: vscode.Uri; original: string; version?: number; newFile?: boolean; title: string }): Proposal {
    const p = new Proposal(this, String(this.next++), o.target, o.original, o.version, !!o.newFile, o.title);
    this.proposals.set(p.id, p);
    // Keep the last few: a diff left open still shows its text.
    for (const [id, old] of this.proposals) {
      if (this.proposals.size <= 10) break;
      if (old.state === 'accepted' || old.state === 'rejected') this.proposals.delete(id);
    }
    void vscode.commands.executeCommand('setContext', 'hybridCopilot.proposalOpen', true);
    return p;
  }

  /** @internal: a proposal's text changed; the diff is told at most every 100 ms. */
  changed(p: Proposal): void {
    if (this.timers.has(p.id)) return;
    this.timers.set(
      p.id,
      setTimeout(() => {
        this.timers.delete(p.id);
        this.emitter.fire(p.uri);
      }, 100),
    );
  }

  /** Shows the latest text now (at the end of a stream). */
  flush(p: Proposal): void {
    clearTimeout(this.timers.get(p.id));
    this.timers.delete(p.id);
    this.emitter.fire(p.uri);
  }

  async showDiff(p: Proposal): Promise<void> {
    await vscode.commands.executeCommand('vscode.diff', p.left, p.uri, p.title, { preview: true, preserveFocus: false });
  }

  /** The proposal of the active diff editor, the one named, or the latest still open. */
  find(uri?: vscode.Uri): Proposal | undefined {
    if (uri?.scheme === PROPOSAL_SCHEME) return this.proposals.get(uri.query.replace(/-empty$/, ''));
    const open = [...this.proposals.values()].filter((p) => p.state === 'ready' || p.state === 'streaming');
    if (uri) return open.reverse().find((p) => p.target.toString() === uri.toString());
    return open[open.length - 1];
  }

  async decide(uri: vscode.Uri | undefined, accept: boolean): Promise<boolean> {
    const p = this.find(uri);
    if (!p) {
      void vscode.window.showInformationMessage('Hybrid Copilot: there is no proposed change to ' + (accept ? 'accept.' : 'reject.'));
      return false;
    }
    if (p.state === 'streaming' && accept) {
      void vscode.window.showInformationMessage('Hybrid Copilot: the change is still being written; accept it when it is complete.');
      return false;
    }
    if (!accept) {
      p.resolve(false);
      await this.close(p);
      return true;
    }
    const ok = await this.apply(p);
    if (ok) {
      p.resolve(true);
      await this.close(p);
    }
    return ok;
  }

  /** Makes the change; false (with a message) when the file changed so that it no longer fits. */
  private async apply(p: Proposal): Promise<boolean> {
    const edit = new vscode.WorkspaceEdit();
    const name = path.basename(p.target.path);
    const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === p.target.toString());
    if (p.newFile && !doc) {
      let exists = false;
      try {
        await vscode.workspace.fs.stat(p.target);
        exists = true;
      } catch {
        exists = false;
      }
      if (!exists) {
        edit.createFile(p.target, { ignoreIfExists: false, contents: new TextEncoder().encode(p.text) });
        const ok = await vscode.workspace.applyEdit(edit);
        this.log.info(`commands: created ${p.target.toString()} (${ok ? 'done' : 'refused'})`);
        if (ok) await vscode.window.showTextDocument(p.target, { preview: false });
        return ok;
      }
    }
    const current = doc ?? (await vscode.workspace.openTextDocument(p.target));
    const text = current.getText();
    let at = p.currentEdit;
    if (text !== p.original) {
      // The file changed since: the edit still applies where the text it replaces is found once, unchanged.
      const replaced = p.original.slice(at.start, at.end);
      const before = p.original.slice(Math.max(0, at.start - 200), at.start);
      const anchor = before + replaced;
      const i = anchor ? text.indexOf(anchor) : -1;
      if (!anchor || i < 0 || text.indexOf(anchor, i + 1) >= 0) {
        void vscode.window.showWarningMessage(`Hybrid Copilot: ${name} changed where the proposal goes; run the command again.`);
        return false;
      }
      at = { start: i + before.length, end: i + before.length + replaced.length, text: at.text };
    }
    edit.replace(current.uri, new vscode.Range(current.positionAt(at.start), current.positionAt(at.end)), at.text);
    const ok = await vscode.workspace.applyEdit(edit);
    this.log.info(`commands: applied "${p.title}" to ${p.target.toString()} (${ok ? 'done' : 'refused'})`);
    if (ok && p.newFile) await vscode.window.showTextDocument(current, { preview: false });
    return ok;
  }

  async close(p: Proposal): Promise<void> {
    for (const group of vscode.window.tabGroups.all) {
      for (const tab of group.tabs) {
        const input = tab.input;
        if (input instanceof vscode.TabInputTextDiff && input.modified.toString() === p.uri.toString()) {
          await vscode.window.tabGroups.close(tab).then(undefined, () => undefined);
        }
      }
    }
    if (![...this.proposals.values()].some((x) => x.state === 'ready' || x.state === 'streaming')) {
      void vscode.commands.executeCommand('setContext', 'hybridCopilot.proposalOpen', false);
    }
  }

  dispose(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    for (const p of this.proposals.values()) if (p.state === 'ready' || p.state === 'streaming') p.resolve(false);
    for (const d of this.disposables) d.dispose();
  }
}
