// The status bar item: runtime state, model, device, and the last completion's latency and tok/s; with a model
// of its own for completions (a second worker), both models and the completion worker's state. A click opens
// a menu: completions on/off for the active editor's language, show logs, restart the runtime, runtime info.
import * as vscode from 'vscode';
import type { RuntimeState } from './runtime/client';
import { completionBadge, CompletionReport, completionsEnabled, completionTooltip } from './shared/completions/status';
import type { RuntimeInfo } from './shared/protocol';

export const STATUS_MENU_COMMAND = 'hybridCopilot.statusMenu';

export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('hybridCopilot.status', vscode.StatusBarAlignment.Right, 100);
  private state: RuntimeState = 'starting';
  private detail: string | undefined;
  private info: RuntimeInfo | undefined;
  private completion: CompletionReport | undefined;
  /** The completion worker, when completions have a model (and a worker) of their own. */
  private completions: { state: RuntimeState; detail?: string; info?: RuntimeInfo } | undefined;

  constructor() {
    this.item.name = 'Hybrid Copilot';
    this.item.command = STATUS_MENU_COMMAND;
    this.render();
    this.item.show();
  }

  setState(state: RuntimeState, detail?: string): void {
    this.state = state;
    this.detail = detail;
    this.render();
  }

  setInfo(info: RuntimeInfo): void {
    this.info = info;
    this.state = 'ready';
    this.detail = undefined;
    this.render();
  }

  /** The completion worker's state (undefined: completions run on the main worker). */
  setCompletionsRuntime(r: { state: RuntimeState; detail?: string; info?: RuntimeInfo } | undefined): void {
    this.completions = r && { ...r, info: r.info ?? (r.state === 'ready' || r.state === 'restarting' ? this.completions?.info : undefined) };
    this.render();
  }

  /** While a remote endpoint serves (hybridCopilot.backend = remote): shown instead of the local device. */
  private backend: { label: string; tooltip: string[]; warning: boolean } | undefined;

  setBackend(backend: { label: string; tooltip: string[]; warning: boolean } | undefined): void {
    this.backend = backend;
    this.render();
  }

  setCompletion(report: CompletionReport): void {
    this.completion = report;
    this.render();
  }

  /** What the item shows (for the end-to-end tests). */
  get text(): string {
    return this.item.text;
  }

  private render(): void {
    const icon = { starting: '$(loading~spin)', ready: '$(hubot)', restarting: '$(loading~spin)', stopped: '$(circle-slash)', failed: '$(error)' }[this.state];
    const info = this.info;
    const device = info ? (info.device.using === 'cuda' ? 'GPU' : 'CPU') : undefined;
    const model = info ? modelName(info) : undefined;
    const second = this.completions;
    // Two models: the completion worker's trouble shows on the item; its model is in the tooltip.
    const secondMark = second && second.state !== 'ready' ? ` · completions ${second.state}` : second ? ' · 2 models' : '';
    this.item.text = `${icon} Hybrid${this.state === 'ready' && device ? ` · ${device}${completionBadge(this.completion)}${secondMark}` : ''}`;
    const remote = this.backend;
    if (remote) this.item.text = `${remote.warning ? '$(warning)' : '$(remote)'} Hybrid · ${remote.label}${completionBadge(this.completion)}`;
    const lines = [`Hybrid Copilot${info ? ` ${info.addonVersion}` : ''}: ${remote ? 'local ' : ''}runtime ${this.state}${this.detail ? ` — ${this.detail}` : ''}`];
    if (remote) lines.unshift(...remote.tooltip, '');
    if (info && second) {
      lines.push(`Chat model: ${model}`);
      lines.push(`Completions model: ${second.info ? modelName(second.info) : '(starting)'} — its own worker, ${second.state}${second.detail ? ` — ${second.detail}` : ''}`);
    } else if (info) {
      lines.push(`Model (chat and completions): ${model}`);
    }
    if (info) lines.push(`Device: ${info.device.using === 'cuda' ? info.cuda.devices[0]?.name ?? 'GPU' : `CPU (${info.cpu.brand || info.cpu.arch})`} — ${info.device.reason}`);
    lines.push(...completionTooltip(this.completion), '', 'Click for the menu');
    this.item.tooltip = lines.join('\n');
    this.item.backgroundColor = this.state === 'failed' ? new vscode.ThemeColor('statusBarItem.errorBackground') : remote?.warning ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
  }

  dispose(): void {
    this.item.dispose();
  }
}

function modelName(info: RuntimeInfo): string {
  const load = info.model.load;
  const file = info.model.path.split(/[\\/]/).pop() ?? '';
  if (load.state === 'loaded') return `${load.info.name ?? file} (${file})`;
  if (load.state === 'loading') return `${file} (loading)`;
  if (load.state === 'failed') return `${file} (failed to load)`;
  return info.model.status === 'missing' ? `${file} (missing)` : 'none';
}

interface MenuItem extends vscode.QuickPickItem {
  run(): unknown;
}

/** The menu behind the status bar item. */
export function registerStatusMenu(): vscode.Disposable {
  return vscode.commands.registerCommand(STATUS_MENU_COMMAND, async () => {
    const items: MenuItem[] = [];
    const languageId = vscode.window.activeTextEditor?.document.languageId;
    if (languageId) {
      const config = vscode.workspace.getConfiguration('hybridCopilot');
      const map = config.get<Record<string, boolean>>('completions.enable') ?? {};
      const on = completionsEnabled(map, languageId);
      items.push({
        label: on ? `$(circle-slash) Disable Completions for '${languageId}'` : `$(check) Enable Completions for '${languageId}'`,
        description: on ? 'inline completions are on for this language' : 'inline completions are off for this language',
        run: () => {
          const inspect = config.inspect<Record<string, boolean>>('completions.enable');
          const target = inspect?.workspaceValue !== undefined ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
          return config.update('completions.enable', { ...map, [languageId]: !on }, target);
        },
      });
    }
    items.push(
      { label: '$(output) Show Logs', run: () => vscode.commands.executeCommand('hybridCopilot.showLogs') },
      { label: '$(debug-restart) Restart Runtime', run: () => vscode.commands.executeCommand('hybridCopilot.restartRuntime') },
      { label: '$(info) Show Runtime Info', run: () => vscode.commands.executeCommand('hybridCopilot.showRuntimeInfo') },
    );
    const pick = await vscode.window.showQuickPick(items, { title: 'Hybrid Copilot', placeHolder: 'Choose an action' });
    await pick?.run();
  });
}
