// Where the actions that write into a diff show the model's reasoning while it streams. Explain answers in
// the chat view, trace included (it is a chat turn). The chat view has no entry point yet for a turn that a
// command runs itself (see the note in src/commands/README.md), so these traces stream into an output
// channel of their own, one section per action, which the progress notification offers to open.
import * as vscode from 'vscode';
import type { TraceHandle, TraceView } from './runner';

export class OutputTraceView implements TraceView, vscode.Disposable {
  private channel: vscode.OutputChannel | undefined;

  begin(o: { title: string; detail: string }): TraceHandle {
    let started = false;
    const channel = () => (this.channel ??= vscode.window.createOutputChannel('Hybrid Copilot Reasoning'));
    return {
      parts: (parts) => {
        const text = parts.filter((p) => p.kind === 'reasoning').map((p) => p.text).join('');
        if (!text) return;
        if (!started) {
          started = true;
          channel().appendLine(`\n── ${o.title}: ${o.detail} ── ${new Date().toLocaleTimeString()}`);
        }
        channel().append(text);
      },
      end: (r) => {
        if (!started) return;
        channel().appendLine(
          `\n── reasoning: ${r.result ? `${r.result.reasoningTokens} tokens${r.result.budgetReached ? ' (budget reached)' : ''}; ended: ${r.result.stopReason}` : `failed: ${r.error}`}`,
        );
      },
    };
  }

  show(): void {
    this.channel?.show(true);
  }

  get hasOutput(): boolean {
    return this.channel !== undefined;
  }

  dispose(): void {
    this.channel?.dispose();
  }
}
