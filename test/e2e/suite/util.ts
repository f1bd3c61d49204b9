import * as vscode from 'vscode';

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
