// Stage 0: how long to wait before asking the model. An explicit request (the user asked for a
// suggestion) goes at once; an automatic one waits until typing pauses (hybridCopilot.completions.debounceMs).
// A cache hit needs no wait at all (the engine checks the cache first). The wait ends early, with false,
// when the request is cancelled: VS Code cancels it at the next keystroke, so a burst of typing costs no
// model time.
import type { CancellationLike } from './cancel';

export function debounceDelay(explicit: boolean, debounceMs: number): number {
  return explicit ? 0 : Math.max(0, Math.min(debounceMs, 5000));
}

/** Resolves true after ms, or false as soon as the token is cancelled. */
export function wait(ms: number, token?: CancellationLike): Promise<boolean> {
  if (token?.isCancellationRequested) return Promise.resolve(false);
  if (ms <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const sub = token?.onCancellationRequested(() => {
      clearTimeout(timer);
      resolve(false);
    });
    const timer = setTimeout(() => {
      sub?.dispose();
      resolve(true);
    }, ms);
  });
}
