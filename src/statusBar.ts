// The status bar item: runtime state, device and model at a glance; click for runtime info.
import * as vscode from 'vscode';
import type { RuntimeInfo } from './shared/protocol';
import type { RuntimeState } from './runtime/client';

export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('hybridCopilot.status', vscode.StatusBarAlignment.Right, 100);

  constructor() {
    this.item.name = 'Hybrid Copilot';
    this.item.command = 'hybridCopilot.showRuntimeInfo';
    this.setState('starting');
    this.item.show();
  }

  setState(state: RuntimeState, detail?: string): void {
    const icon = { starting: '$(loading~spin)', ready: '$(hubot)', restarting: '$(loading~spin)', stopped: '$(circle-slash)', failed: '$(error)' }[state];
    this.item.text = `${icon} Hybrid`;
    this.item.tooltip = `Hybrid Copilot: runtime ${state}${detail ? ` — ${detail}` : ''}`;
    this.item.backgroundColor = state === 'failed' ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
  }

  setInfo(info: RuntimeInfo): void {
    const device = info.device.using === 'cuda' ? 'GPU' : 'CPU';
    const model = info.model.status === 'found' ? info.model.path.split(/[\\/]/).pop() : 'no model';
    this.item.text = `$(hubot) Hybrid · ${device}`;
    this.item.tooltip = `Hybrid Copilot ${info.addonVersion}\n${model}\n${info.device.reason}`;
  }

  dispose(): void {
    this.item.dispose();
  }
}
