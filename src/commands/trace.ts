// Where the actions that write into a diff show the model's reasoning while it streams: the chat view,
// as a turn the command runs itself (ChatController.externalTrace). Explain is a chat turn anyway.
import * as vscode from 'vscode';
import type { TraceHandle, TraceView } from './runner';

/**
 * The reasoning of an action that streams into a diff (Fix, Document, …) shown in the chat view as a turn
 * of its own, with its trace block and token counts, and kept in the chat history.
 */
export class ChatTraceView implements TraceView, vscode.Disposable {
  private used = false;

  constructor(
    private readonly chat: { externalTrace(): TraceView },
    private readonly focus: () => Thenable<unknown>,
  ) {}

  begin(o: { title: string; detail: string }): TraceHandle {
    this.used = true;
    return this.chat.externalTrace().begin(o);
  }

  show(): void {
    void this.focus();
  }

  get hasOutput(): boolean {
    return this.used;
  }

  dispose(): void {}
}
