// The chat view's UI. Talks to the extension host only through the typed messages of
// src/shared/webviewProtocol.ts. Every text from outside (model output, history, file names) is set with
// textContent or goes through the markdown renderer's sanitizer (src/shared/chatMarkdown.ts); nothing else
// becomes HTML.
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import '@vscode-elements/elements/dist/vscode-toolbar-button/index.js';
import { createMarkdownRenderer } from '../../src/shared/chatMarkdown';
import type { ChatTurn, Conversation, ConversationSummary } from '../../src/shared/chatSession';
import { formatTraceHeading } from '../../src/shared/reasoning';
import type { ChatAvailability, ChatSettings, ContextChip, HostMessage, RuntimeSummary, WebviewMessage } from '../../src/shared/webviewProtocol';

declare function acquireVsCodeApi(): { postMessage(message: WebviewMessage): void };
const vscode = acquireVsCodeApi();
const post = (m: WebviewMessage) => vscode.postMessage(m);
const markdown = createMarkdownRenderer(window as unknown as Parameters<typeof createMarkdownRenderer>[0]);

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Record<string, string>, text?: string): HTMLElementTagNameMap[K];
function el(tag: string, attrs?: Record<string, string>, text?: string): HTMLElement;
function el(tag: string, attrs: Record<string, string> = {}, text?: string): HTMLElement {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text; // textContent only: nothing from outside becomes HTML
  return node;
}

function iconButton(icon: string, label: string, onClick: () => void, cls = ''): HTMLButtonElement {
  const b = el('button', { class: `icon-button ${cls}`.trim(), title: label, 'aria-label': label, type: 'button' });
  b.append(el('span', { class: `codicon codicon-${icon}`, 'aria-hidden': 'true' }));
  b.addEventListener('click', (e) => {
    e.stopPropagation();
    onClick();
  });
  return b;
}

// ---- state ----

let settings: ChatSettings = { thinking: true, thinkingBudget: 2048, foldTrace: true };
let availability: ChatAvailability = { ready: false, detail: 'The model runtime is starting…' };
let conversation: Conversation | undefined;
let streamingTurnId: string | undefined;
/** performance.now() of the Enter that sent the message whose turn has not started yet. */
let pendingEnterAt: number | undefined;
const turnViews = new Map<string, TurnView>();

// ---- layout ----

const app = document.getElementById('app')!;
app.replaceChildren();
const header = el('header', { class: 'header' });
const title = el('h2', { class: 'title' }, 'Hybrid Copilot');
const headerActions = el('div', { class: 'header-actions' });
const historyButton = iconButton('history', 'Past chats', () => toggleHistory(), 'history-button');
historyButton.id = 'history-button';
const newChatButton = iconButton('add', 'New chat', () => post({ type: 'newChat' }));
newChatButton.id = 'new-chat';
headerActions.append(historyButton, newChatButton);
header.append(title, headerActions);

const status = el('div', { class: 'runtime', id: 'runtime-status', role: 'status' });
const banner = el('div', { class: 'banner', id: 'availability', role: 'alert' });
const notice = el('div', { class: 'notice', id: 'notice', role: 'alert' });
const historyPanel = el('section', { class: 'history', id: 'history', hidden: '' });
const messages = el('main', { class: 'messages', id: 'messages', 'aria-live': 'polite' });
const empty = el('div', { class: 'empty', id: 'empty' });
empty.append(
  el('span', { class: 'codicon codicon-hubot empty-icon', 'aria-hidden': 'true' }),
  el('p', {}, 'Ask about your code. The active file and the selection go with your message (toggle the chips below).'),
);

const composer = el('footer', { class: 'composer' });
const chips = el('div', { class: 'chips', id: 'chips' });
const input = el('textarea', { id: 'input', rows: '3', placeholder: 'Ask Hybrid Copilot (Enter to send, Shift+Enter for a new line)', 'aria-label': 'Message' });
const controls = el('div', { class: 'controls' });
const thinking = el('vscode-checkbox', { id: 'thinking', label: 'Thinking', title: 'Let the model reason before it answers (/think, /no_think)' });
const budgetLabel = el('label', { class: 'budget-label', for: 'budget' }, 'Budget');
const budget = el('vscode-textfield', { id: 'budget', type: 'number', min: '0', max: '65536', title: 'Reasoning tokens at most (0: no limit)' }) as HTMLElement & { value: string };
const spacer = el('span', { class: 'spacer' });
const stopButton = el('vscode-button', { id: 'stop', secondary: '', icon: 'debug-stop', hidden: '' }, 'Stop');
const sendButton = el('vscode-button', { id: 'send', icon: 'send' }, 'Send');
controls.append(thinking, budgetLabel, budget, spacer, stopButton, sendButton);
composer.append(chips, input, controls);
app.append(header, status, banner, notice, historyPanel, messages, composer);

// ---- runtime and availability ----

function renderRuntime(r: RuntimeSummary): void {
  status.replaceChildren();
  const badge = el('vscode-badge', { variant: r.state === 'failed' ? 'activity-bar-counter' : 'default' }, r.state);
  const line = el('div', { class: 'row' });
  line.append(el('span', { class: 'label' }, 'Runtime'), badge);
  if (r.device) line.append(el('span', { class: 'value' }, r.device));
  status.append(line);
  status.title = [r.model && `Model: ${r.model}`, r.addonVersion && `Native: ${r.addonVersion}`, r.detail].filter(Boolean).join('\n');
  if (r.detail && r.state !== 'ready') status.append(el('div', { class: 'detail' }, r.detail));
}

function renderAvailability(a: ChatAvailability): void {
  availability = a;
  banner.replaceChildren();
  banner.hidden = a.ready;
  if (!a.ready) {
    banner.append(el('span', { class: 'codicon codicon-warning', 'aria-hidden': 'true' }), el('strong', {}, 'Model runtime not ready. '), el('span', {}, a.detail));
    const actions = el('div', { class: 'actions' });
    const b = (icon: string, label: string, command: 'showRuntimeInfo' | 'restartRuntime' | 'showLogs') => {
      const btn = el('vscode-button', { secondary: '', icon }, label);
      btn.addEventListener('click', () => post({ type: 'command', command }));
      return btn;
    };
    actions.append(b('info', 'Runtime info', 'showRuntimeInfo'), b('debug-restart', 'Restart', 'restartRuntime'), b('output', 'Logs', 'showLogs'));
    banner.append(actions);
  }
  updateComposer();
}

function showNotice(level: 'info' | 'error', text: string): void {
  notice.textContent = text;
  notice.className = `notice ${level}`;
  notice.hidden = false;
  clearTimeout((showNotice as unknown as { timer?: number }).timer);
  (showNotice as unknown as { timer?: number }).timer = window.setTimeout(() => (notice.hidden = true), 8000);
}
notice.hidden = true;

// ---- settings controls ----

function renderSettings(s: ChatSettings): void {
  settings = s;
  app.dataset.thinkingBudget = String(s.thinkingBudget); // what the host has in force (for tests)
  (thinking as HTMLElement & { checked: boolean }).checked = s.thinking;
  if (document.activeElement !== budget) budget.value = String(s.thinkingBudget);
  budget.toggleAttribute('disabled', !s.thinking);
}
thinking.addEventListener('change', () => post({ type: 'setThinking', enabled: (thinking as HTMLElement & { checked: boolean }).checked }));
budget.addEventListener('change', () => {
  const n = Math.round(Number(budget.value));
  if (Number.isFinite(n) && n >= 0 && n <= 65536) post({ type: 'setBudget', budget: n });
  else budget.value = String(settings.thinkingBudget);
});

// ---- context chips ----

function renderChips(list: ContextChip[]): void {
  chips.replaceChildren();
  for (const c of list) {
    const chip = el('button', { class: `chip${c.enabled ? '' : ' off'}`, type: 'button', title: `${c.detail}${c.enabled ? '' : ' (not sent)'}`, 'data-chip': c.id, 'aria-pressed': String(c.enabled) });
    chip.append(el('span', { class: `codicon codicon-${c.id === 'file' ? 'file' : 'selection'}`, 'aria-hidden': 'true' }), el('span', {}, c.label));
    chip.addEventListener('click', () => post({ type: 'toggleChip', id: c.id, enabled: !c.enabled }));
    chips.append(chip);
  }
  chips.hidden = list.length === 0;
}

// ---- history ----

let historyItems: ConversationSummary[] = [];
function renderHistory(items: ConversationSummary[]): void {
  historyItems = items;
  historyPanel.replaceChildren(el('h3', {}, 'Past chats'));
  if (items.length === 0) historyPanel.append(el('p', { class: 'muted' }, 'No past chats yet.'));
  const list = el('ul', { class: 'history-list' });
  for (const item of items) {
    const li = el('li', { class: `history-item${item.id === conversation?.id ? ' current' : ''}`, 'data-id': item.id });
    const open = el('button', { class: 'history-open', type: 'button', title: new Date(item.updatedAt).toLocaleString() });
    open.append(el('span', { class: 'history-title' }, item.title), el('span', { class: 'muted' }, ` · ${item.turns} ${item.turns === 1 ? 'message' : 'messages'}`));
    open.addEventListener('click', () => {
      post({ type: 'openChat', id: item.id });
      historyPanel.hidden = true;
    });
    li.append(open, iconButton('trash', 'Delete this chat', () => post({ type: 'deleteChat', id: item.id })));
    list.append(li);
  }
  historyPanel.append(list);
}
function toggleHistory(): void {
  historyPanel.hidden = !historyPanel.hidden;
  if (!historyPanel.hidden) renderHistory(historyItems);
}

// ---- turns ----

class TurnView {
  readonly root = el('article', { class: 'turn' });
  private readonly user = el('div', { class: 'user-message' });
  private readonly assistant = el('div', { class: 'assistant' });
  private readonly trace = el('details', { class: 'trace' });
  private readonly heading = el('span', { class: 'trace-heading' });
  private readonly traceBody = el('div', { class: 'trace-body markdown' });
  private readonly answerEl = el('div', { class: 'answer markdown' });
  private readonly meta = el('div', { class: 'turn-meta' });
  private readonly waiting = el('div', { class: 'waiting' });
  private dirty = false;
  private traceStart: number | undefined;
  private traceEnd: number | undefined;
  /** The user opened or folded the trace while it streamed: leave it so. */
  private userToggled = false;
  /** The state the view last set itself (its toggle event is not the user's). */
  private setOpen: boolean | undefined;
  private ticker: number | undefined;
  enterAt: number | undefined;
  private painted = false;

  constructor(public turn: ChatTurn) {
    this.root.dataset.turnId = turn.id;
    const userBody = el('div', { class: 'markdown' });
    userBody.innerHTML = markdown.render(turn.text); // sanitized
    this.user.append(userBody);
    if (turn.context.length) {
      const ctx = el('div', { class: 'turn-context' });
      for (const c of turn.context) {
        const tag = el('span', { class: 'context-tag', title: c.kind === 'file' ? 'file sent with the message' : 'selection sent with the message' });
        tag.append(el('span', { class: `codicon codicon-${c.kind === 'file' ? 'file' : 'selection'}`, 'aria-hidden': 'true' }), el('span', {}, c.label));
        ctx.append(tag);
      }
      this.user.append(ctx);
    }
    const summary = el('summary', { class: 'trace-summary' });
    summary.append(el('span', { class: 'codicon codicon-lightbulb', 'aria-hidden': 'true' }), this.heading);
    summary.append(iconButton('copy', 'Copy the reasoning', () => post({ type: 'copy', text: this.turn.reasoning }), 'trace-copy'));
    this.trace.append(summary, this.traceBody);
    this.trace.addEventListener('toggle', () => {
      if (this.trace.open === this.setOpen) this.setOpen = undefined;
      else this.userToggled = true;
    });
    this.waiting.append(el('span', { class: 'codicon codicon-loading codicon-modifier-spin', 'aria-hidden': 'true' }), el('span', {}, ' Waiting for the model…'));
    this.assistant.append(this.trace, this.answerEl, this.waiting, this.meta);
    this.root.append(this.user, this.assistant);
    this.trace.hidden = true;
    // open while it streams; a finished turn (from history) shows it folded
    this.setTraceOpen(turn.status === 'streaming');
    this.update(turn);
  }

  /** The host's final (or restored) turn. */
  update(turn: ChatTurn): void {
    this.turn = turn;
    this.dirty = true;
    this.render();
  }

  addParts(parts: { kind: 'reasoning' | 'answer'; text: string }[], reasoningTokens: number): void {
    const now = performance.now();
    if (this.enterAt !== undefined && this.root.dataset.firstPartArrivedMs === undefined) this.root.dataset.firstPartArrivedMs = (now - this.enterAt).toFixed(1);
    for (const p of parts) {
      if (p.kind === 'reasoning') {
        this.traceStart ??= now;
        this.turn.reasoning += p.text;
      } else {
        if (this.traceStart !== undefined && this.traceEnd === undefined && p.text.trim()) {
          this.traceEnd = now;
          if (settings.foldTrace && !this.userToggled) this.setTraceOpen(false);
        }
        this.turn.answer += p.text;
      }
    }
    this.turn.reasoningTokens = reasoningTokens;
    if (this.traceStart !== undefined) this.turn.reasoningMs = (this.traceEnd ?? now) - this.traceStart;
    this.dirty = true;
    if (!this.painted && this.enterAt !== undefined && (this.turn.reasoning || this.turn.answer)) {
      // First text of the turn: paint now, then report Enter -> painted (after the frame is drawn).
      this.painted = true;
      const r0 = performance.now();
      this.render();
      this.root.dataset.firstRenderMs = (performance.now() - r0).toFixed(1);
      const enterAt = this.enterAt;
      requestAnimationFrame(() =>
        setTimeout(() => {
          const ms = Math.round(performance.now() - enterAt);
          this.root.dataset.firstPaintMs = String(ms);
          post({ type: 'firstPaint', turnId: this.turn.id, ms });
        }, 0),
      );
      return;
    }
    scheduleRender();
  }

  startTicker(): void {
    this.ticker ??= window.setInterval(() => {
      if (this.traceStart !== undefined && this.traceEnd === undefined) {
        this.turn.reasoningMs = performance.now() - this.traceStart;
        this.renderHeading();
      }
    }, 250);
  }

  stopTicker(): void {
    clearInterval(this.ticker);
    this.ticker = undefined;
  }

  private setTraceOpen(open: boolean): void {
    if (this.trace.open === open) return;
    this.setOpen = open;
    this.trace.open = open;
  }

  renderIfDirty(): void {
    if (this.dirty) this.render();
  }

  private renderHeading(): void {
    this.heading.textContent = formatTraceHeading(this.turn.reasoningTokens, this.turn.reasoningMs) + (this.turn.budgetReached ? ' (budget reached)' : '') + (this.turn.unterminated ? ' (no end of reasoning)' : '');
  }

  private render(): void {
    this.dirty = false;
    const t = this.turn;
    const hasTrace = t.reasoning.length > 0;
    this.trace.hidden = !hasTrace;
    this.root.classList.toggle('streaming', t.status === 'streaming');
    if (hasTrace) {
      this.renderHeading();
      this.traceBody.innerHTML = markdown.render(t.reasoning); // sanitized
      decorateCode(this.traceBody);
    }
    this.answerEl.innerHTML = markdown.render(t.answer.replace(/^\s+/, '')); // sanitized
    decorateCode(this.answerEl);
    this.waiting.hidden = !(t.status === 'streaming' && !t.reasoning && !t.answer);
    // timings, for the tooltip and the e2e tests: host send -> first part, the worker's own first token
    if (t.firstPartMs !== undefined) this.root.dataset.hostFirstPartMs = t.firstPartMs.toFixed(1);
    if (t.prepMs !== undefined) this.root.dataset.hostPrepMs = t.prepMs.toFixed(1);
    if (t.workerFirstTokenMs !== undefined) {
      this.root.dataset.workerFirstTokenMs = t.workerFirstTokenMs.toFixed(1);
      this.meta.title = `first token: worker ${t.workerFirstTokenMs.toFixed(0)} ms` + (this.root.dataset.firstPaintMs ? `, shown ${this.root.dataset.firstPaintMs} ms after Enter` : '');
    }
    this.meta.replaceChildren();
    const metaText: string[] = [];
    if (t.status === 'stopped') metaText.push(t.error ? `Stopped: ${t.error}` : 'Stopped.');
    if (t.status === 'error') metaText.push(`Error: ${t.error ?? 'unknown'}`);
    if (t.status !== 'streaming' && t.budgetReached) metaText.push(`The thinking budget (${t.budget} tokens) ended the reasoning.`);
    if (t.status === 'done' && !t.answer.trim() && !t.reasoning) metaText.push('The model gave no answer.');
    this.meta.hidden = metaText.length === 0;
    this.meta.className = `turn-meta ${t.status}`;
    for (const m of metaText) this.meta.append(el('div', {}, m));
    if (t.status !== 'streaming') {
      if (!hasTrace) this.trace.hidden = true;
      this.stopTicker();
    }
  }
}

/** Toolbars on code blocks: copy, insert at cursor, apply (diff preview); SVG source folded under its picture. */
function decorateCode(root: HTMLElement): void {
  for (const block of Array.from(root.querySelectorAll<HTMLElement>('.code-block'))) {
    const code = block.querySelector('code')?.textContent ?? '';
    const bar = el('div', { class: 'code-toolbar' });
    bar.append(el('span', { class: 'code-lang' }, block.dataset.lang || 'text'));
    const sourceToggle = block.classList.contains('code-source');
    if (sourceToggle) {
      block.classList.add('folded');
      bar.append(iconButton('code', 'Show the SVG source', () => block.classList.toggle('folded'), 'code-source-toggle'));
    }
    bar.append(
      iconButton('copy', 'Copy', () => post({ type: 'copy', text: code }), 'code-copy'),
      iconButton('insert', 'Insert at the cursor', () => post({ type: 'insertCode', code }), 'code-insert'),
      iconButton('diff', 'Apply to the file (shows a diff first)', () => post({ type: 'applyCode', code, language: block.dataset.lang || undefined }), 'code-apply'),
    );
    block.prepend(bar);
  }
}

let renderQueued = false;
function scheduleRender(): void {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    const atBottom = messages.scrollHeight - messages.scrollTop - messages.clientHeight < 40;
    for (const v of turnViews.values()) v.renderIfDirty();
    if (atBottom) messages.scrollTop = messages.scrollHeight;
  });
}

function renderConversation(c: Conversation): void {
  conversation = c;
  for (const v of turnViews.values()) v.stopTicker();
  turnViews.clear();
  messages.replaceChildren();
  for (const t of c.turns) addTurn(t);
  messages.append(empty);
  empty.hidden = c.turns.length > 0;
  streamingTurnId = c.turns.find((t) => t.status === 'streaming')?.id;
  updateComposer();
  renderHistory(historyItems);
  messages.scrollTop = messages.scrollHeight;
}

function addTurn(t: ChatTurn): TurnView {
  const v = new TurnView({ ...t });
  turnViews.set(t.id, v);
  messages.insertBefore(v.root, empty.parentNode === messages ? empty : null);
  return v;
}

function updateComposer(): void {
  const streaming = streamingTurnId !== undefined;
  stopButton.hidden = !streaming;
  sendButton.hidden = streaming;
  sendButton.toggleAttribute('disabled', !availability.ready);
}

// ---- sending ----

function send(): void {
  const text = input.value;
  if (!text.trim() || streamingTurnId !== undefined) return;
  if (!availability.ready) {
    showNotice('error', `Model runtime not ready: ${availability.detail}`);
    return;
  }
  pendingEnterAt = performance.now();
  post({ type: 'send', text });
  input.value = '';
}

input.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    send();
  }
});
sendButton.addEventListener('click', () => send());
stopButton.addEventListener('click', () => post({ type: 'stop' }));

// ---- host messages ----

window.addEventListener('message', (event: MessageEvent<HostMessage>) => {
  const m = event.data;
  if (!m || typeof m !== 'object') return;
  switch (m.type) {
    case 'runtime':
      renderRuntime(m.runtime);
      break;
    case 'availability':
      renderAvailability(m.availability);
      break;
    case 'settings':
      renderSettings(m.settings);
      break;
    case 'context':
      renderChips(m.chips);
      break;
    case 'history':
      renderHistory(m.items);
      break;
    case 'conversation':
      renderConversation(m.conversation);
      break;
    case 'turnStart': {
      if (conversation?.id !== m.conversationId) break;
      conversation.turns.push(m.turn);
      empty.hidden = true;
      const v = addTurn(m.turn);
      v.enterAt = pendingEnterAt;
      pendingEnterAt = undefined;
      if (m.turn.status === 'streaming') {
        streamingTurnId = m.turn.id;
        v.startTicker();
      }
      updateComposer();
      messages.scrollTop = messages.scrollHeight;
      break;
    }
    case 'turnParts':
      turnViews.get(m.turnId)?.addParts(m.parts, m.reasoningTokens);
      break;
    case 'turnEnd': {
      const v = turnViews.get(m.turn.id);
      v?.update({ ...m.turn });
      if (conversation) {
        const i = conversation.turns.findIndex((t) => t.id === m.turn.id);
        if (i >= 0) conversation.turns[i] = m.turn;
      }
      if (streamingTurnId === m.turn.id) streamingTurnId = undefined;
      updateComposer();
      break;
    }
    case 'notice':
      showNotice(m.level, m.message);
      break;
  }
});

// Warm the markdown renderer and highlighter while idle, so the first answer does not pay for it.
setTimeout(() => markdown.render('**x** `y`\n\n```ts\nconst z = 1;\n```'), 0);
renderRuntime({ state: 'starting' });
renderAvailability(availability);
renderChips([]);
renderHistory([]);
messages.append(empty);
post({ type: 'ready' });
