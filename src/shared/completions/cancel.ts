// A cancellation source that follows a parent token (VS Code's) and can also be cancelled on its own (a
// newer request for the same document supersedes this one; the stop rules need no more tokens). It is
// what the runtime client takes as a token: cancelling it cancels the worker's generation.

/** The part of vscode.CancellationToken used here (structurally the client's CancellationLike). */
export interface CancellationLike {
  readonly isCancellationRequested: boolean;
  onCancellationRequested(listener: () => unknown): { dispose(): unknown };
}

export class CancelSource implements CancellationLike {
  private listeners: Array<() => unknown> = [];
  private parentSub: { dispose(): unknown } | undefined;
  /** Why it was cancelled: 'parent' (VS Code), or the reason given to cancel(). */
  reason: string | undefined;

  constructor(parent?: CancellationLike) {
    if (parent?.isCancellationRequested) this.reason = 'parent';
    else this.parentSub = parent?.onCancellationRequested(() => this.cancel('parent'));
  }

  get isCancellationRequested(): boolean {
    return this.reason !== undefined;
  }

  onCancellationRequested(listener: () => unknown): { dispose(): unknown } {
    if (this.reason !== undefined) {
      queueMicrotask(() => listener());
      return { dispose: () => undefined };
    }
    this.listeners.push(listener);
    return { dispose: () => (this.listeners = this.listeners.filter((l) => l !== listener)) };
  }

  cancel(reason: string): void {
    if (this.reason !== undefined) return;
    this.reason = reason;
    const ls = this.listeners;
    this.listeners = [];
    this.dispose();
    for (const l of ls) l();
  }

  dispose(): void {
    this.parentSub?.dispose();
    this.parentSub = undefined;
  }
}
