// The chat view's UI. Talks to the extension host only through the typed messages of
// src/shared/webviewProtocol.ts.
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import type { HostMessage, RuntimeSummary, WebviewMessage } from '../../src/shared/webviewProtocol';

declare function acquireVsCodeApi(): { postMessage(message: WebviewMessage): void };
const vscode = acquireVsCodeApi();

function el(tag: string, attrs: Record<string, string> = {}, text?: string): HTMLElement {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text; // textContent only: nothing from outside becomes HTML
  return node;
}

const app = document.getElementById('app')!;
const status = el('div', { class: 'runtime', id: 'runtime-status', role: 'status' });
const actions = el('div', { class: 'actions' });
const infoButton = el('vscode-button', { secondary: '', icon: 'info' }, 'Runtime info');
infoButton.addEventListener('click', () => vscode.postMessage({ type: 'command', command: 'showRuntimeInfo' }));
const restartButton = el('vscode-button', { secondary: '', icon: 'debug-restart' }, 'Restart');
restartButton.addEventListener('click', () => vscode.postMessage({ type: 'command', command: 'restartRuntime' }));
actions.append(infoButton, restartButton);
const note = el(
  'p',
  { class: 'note' },
  'A local hybrid Mamba-2/Transformer model answers here. The runtime status is below; chat arrives with the model runtime.',
);
app.append(note, status, actions);

function renderRuntime(r: RuntimeSummary): void {
  status.replaceChildren();
  const row = (label: string, value: string) => {
    const line = el('div', { class: 'row' });
    line.append(el('span', { class: 'label' }, label), el('span', { class: 'value' }, value));
    status.append(line);
  };
  const badge = el('vscode-badge', { variant: r.state === 'failed' ? 'activity-bar-counter' : 'default' }, r.state);
  const stateLine = el('div', { class: 'row' });
  stateLine.append(el('span', { class: 'label' }, 'Runtime'), badge);
  status.append(stateLine);
  if (r.device) row('Device', r.device);
  if (r.model) row('Model', r.model);
  if (r.addonVersion) row('Native', r.addonVersion);
  if (r.detail) row('Detail', r.detail);
}

window.addEventListener('message', (event: MessageEvent<HostMessage>) => {
  const m = event.data;
  if (m && m.type === 'runtime') renderRuntime(m.runtime);
});
renderRuntime({ state: 'starting' });
vscode.postMessage({ type: 'ready' });
