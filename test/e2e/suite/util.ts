import * as vscode from 'vscode';
import type { RuntimeInfo as FullRuntimeInfo } from '../../../src/shared/protocol';

export const EXTENSION_ID = 'hybrid-copilot.hybrid-copilot';

export async function activeExtension(): Promise<vscode.Extension<unknown>> {
  const ext = vscode.extensions.getExtension(EXTENSION_ID);
  if (!ext) {
    const ids = vscode.extensions.all.filter((e) => !e.id.startsWith('vscode.')).map((e) => e.id);
    throw new Error(`extension ${EXTENSION_ID} not found (loaded: ${ids.join(', ') || 'none'})`);
  }
  await ext.activate();
  return ext;
}

export interface RuntimeInfo {
  addonVersion: string;
  cpu: { features: string[] };
  cuda: unknown;
  worker: { pid: number };
  [key: string]: unknown;
}

export async function runtimeInfo(): Promise<RuntimeInfo> {
  const info = await vscode.commands.executeCommand<RuntimeInfo>('hybridCopilot.showRuntimeInfo');
  if (!info || typeof info !== 'object') {
    throw new Error(`hybridCopilot.showRuntimeInfo returned ${JSON.stringify(info)}`);
  }
  return info;
}

/** The runtime's info as the extension reports it (Hybrid: Show Runtime Info), fully typed. */
export const info = () => vscode.commands.executeCommand<FullRuntimeInfo>('hybridCopilot.showRuntimeInfo') as Thenable<FullRuntimeInfo>;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` every 100 ms until it returns a value (not undefined); its errors are retried and the last one is reported on timeout. */
export async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms = 30_000): Promise<T> {
  const t0 = Date.now();
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await sleep(100);
  }
}
