// Context chips: the active file and its selection, offered to the next chat message. Tracks the last text
// editor (focus moving into the chat view does not clear it) and reads the text only when a message is sent.
import * as path from 'path';
import * as vscode from 'vscode';
import type { ContextItem } from '../shared/chatPrompt';
import type { ContextChip } from '../shared/webviewProtocol';

/** Characters of a file sent at most: a window around the cursor when the file is longer. */
const MAX_FILE_CHARS = 24_000;
const MAX_SELECTION_CHARS = 24_000;

export class ChatContextTracker implements vscode.Disposable {
  private editor: vscode.TextEditor | undefined;
  private readonly enabled = { file: true, selection: true };
  private readonly disposables: vscode.Disposable[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly onChange: (chips: ContextChip[]) => void) {
    this.editor = usable(vscode.window.activeTextEditor);
    this.disposables.push(
      vscode.window.onDidChangeActiveTextEditor((e) => {
        // Focus in a webview or a panel leaves `undefined`: keep the last text editor.
        if (usable(e)) this.editor = e;
        else if (e === undefined && this.editor && !vscode.window.visibleTextEditors.includes(this.editor)) this.editor = undefined;
        this.changed();
      }),
      vscode.window.onDidChangeTextEditorSelection((e) => {
        if (e.textEditor === this.editor) this.changed();
      }),
      vscode.workspace.onDidCloseTextDocument((d) => {
        if (this.editor?.document === d) {
          this.editor = undefined;
          this.changed();
        }
      }),
    );
  }

  /** The editor whose file and selection the chips name (for insert and apply too). */
  get lastEditor(): vscode.TextEditor | undefined {
    return this.editor;
  }

  setEnabled(id: 'file' | 'selection', enabled: boolean): void {
    this.enabled[id] = enabled;
    this.onChange(this.chips());
  }

  chips(): ContextChip[] {
    const e = this.editor;
    if (!e) return [];
    const rel = vscode.workspace.asRelativePath(e.document.uri, false);
    const name = path.basename(e.document.uri.path) || rel;
    const chips: ContextChip[] = [{ id: 'file', label: name, detail: `${rel} (the file, or the part around the cursor)`, enabled: this.enabled.file }];
    const s = e.selection;
    if (!s.isEmpty) {
      const lines = s.start.line === s.end.line ? `${s.start.line + 1}` : `${s.start.line + 1}-${s.end.line + 1}`;
      chips.push({ id: 'selection', label: `${name}:${lines}`, detail: `selection in ${rel}, lines ${lines}`, enabled: this.enabled.selection });
    }
    return chips;
  }

  /** The text of the enabled chips, for the prompt; the labels for history. */
  items(): { items: ContextItem[]; labels: { kind: 'file' | 'selection'; label: string }[] } {
    const e = this.editor;
    if (!e) return { items: [], labels: [] };
    const doc = e.document;
    const rel = vscode.workspace.asRelativePath(doc.uri, false);
    const items: ContextItem[] = [];
    const labels: { kind: 'file' | 'selection'; label: string }[] = [];
    for (const chip of this.chips()) {
      if (!chip.enabled) continue;
      if (chip.id === 'file') {
        const { text, truncated } = windowAround(doc.getText(), doc.offsetAt(e.selection.active), MAX_FILE_CHARS);
        items.push({ kind: 'file', path: rel, languageId: doc.languageId, text, truncated });
      } else {
        const text = doc.getText(e.selection);
        items.push({
          kind: 'selection',
          path: rel,
          languageId: doc.languageId,
          text: text.slice(0, MAX_SELECTION_CHARS),
          truncated: text.length > MAX_SELECTION_CHARS,
          startLine: e.selection.start.line + 1,
          endLine: e.selection.end.line + 1,
        });
      }
      labels.push({ kind: chip.id, label: chip.label });
    }
    return { items, labels };
  }

  dispose(): void {
    clearTimeout(this.timer);
    for (const d of this.disposables) d.dispose();
  }

  private changed(): void {
    // Selections change on every cursor move: tell the view at most every 150 ms.
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.onChange(this.chips());
    }, 150);
  }
}

function usable(e: vscode.TextEditor | undefined): vscode.TextEditor | undefined {
  if (!e) return undefined;
  const scheme = e.document.uri.scheme;
  return scheme === 'output' || scheme === 'vscode-chat-code-block' ? undefined : e;
}

/** At most `max` characters of `text`, centred on `offset` when it must be cut, starting at a line start. */
export function windowAround(text: string, offset: number, max: number): { text: string; truncated: boolean } {
  if (text.length <= max) return { text, truncated: false };
  let start = Math.max(0, Math.min(offset - Math.floor(max / 2), text.length - max));
  const nl = text.lastIndexOf('\n', start);
  if (nl >= 0 && start - nl < 200) start = nl + 1;
  return { text: text.slice(start, start + max), truncated: true };
}
