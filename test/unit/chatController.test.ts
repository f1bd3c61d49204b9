// The chat's host logic (src/chat/chatController.ts) against a scripted backend (a test double of the
// ChatBackend interface, not shipped) and an in-memory store: prompts, streaming to the view, stop, history
// across a "reload", the not-ready state, template errors.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import type { ChatBackend, ChatBackendStatus, ChatRequest } from '../../src/chat/chatBackend';
import { ChatController } from '../../src/chat/chatController';
import { ChatHistory, MementoLike } from '../../src/chat/chatHistory';
import type { ChatModelInfo } from '../../src/shared/chatPrompt';
import type { ChatResult, StreamPart } from '../../src/shared/protocol';
import type { HostMessage } from '../../src/shared/webviewProtocol';

const NANO_TEMPLATE = fs.readFileSync(path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'chat-templates', 'nemotron-nano-v2.jinja'), 'utf8');
const MODEL: ChatModelInfo = { name: 'nano.gguf', chatTemplate: NANO_TEMPLATE, addBos: true, hasThinkTags: true, contextLength: 8192 };

class MapMemento implements MementoLike {
  readonly data = new Map<string, unknown>();
  get<T>(key: string): T | undefined {
    return structuredClone(this.data.get(key)) as T | undefined;
  }
  async update(key: string, value: unknown): Promise<void> {
    this.data.set(key, structuredClone(value));
  }
}

type Script = { batches: [StreamPart[], number][]; result: Partial<ChatResult>; holdUntilCancel?: boolean };

class ScriptedBackend implements ChatBackend {
  requests: ChatRequest[] = [];
  status_: ChatBackendStatus = { ready: true, model: MODEL };
  scripts: Script[] = [];
  async status(): Promise<ChatBackendStatus> {
    return this.status_;
  }
  async chat(request: ChatRequest, onParts: (p: StreamPart[], t: number) => void, token: { isCancellationRequested: boolean; onCancellationRequested(l: () => unknown): { dispose(): unknown } }): Promise<ChatResult> {
    this.requests.push(request);
    const s = this.scripts.shift()!;
    for (const [parts, tokens] of s.batches) {
      await new Promise((r) => setImmediate(r));
      onParts(parts, tokens);
    }
    if (s.holdUntilCancel && !token.isCancellationRequested) await new Promise<void>((r) => token.onCancellationRequested(() => r()));
    const stats = { promptTokens: 10, truncatedTokens: 0, generatedTokens: 0, keptTokens: 0, rereadTokens: 0, readTokens: 10, queueMs: 0, prefillMs: 3, decodeMs: 5, firstTokenMs: 4, totalMs: 9 };
    return { id: 1, reasoning: '', answer: '', reasoningTokens: 0, answerTokens: 0, stopReason: token.isCancellationRequested ? 'cancelled' : 'eog', stats, ...s.result };
  }
}

function cancellation() {
  const listeners: (() => unknown)[] = [];
  const token = {
    isCancellationRequested: false,
    onCancellationRequested(l: () => unknown) {
      listeners.push(l);
      return { dispose() {} };
    },
  };
  return {
    token,
    cancel() {
      token.isCancellationRequested = true;
      for (const l of listeners) l();
    },
    dispose() {},
  };
}

function setup(memento = new MapMemento(), backend = new ScriptedBackend()) {
  const posted: HostMessage[] = [];
  const logs: string[] = [];
  const controller = new ChatController({
    backend,
    history: new ChatHistory(memento),
    context: { items: () => ({ items: [{ kind: 'selection', path: 'a.py', languageId: 'python', text: 'x = 1', startLine: 2, endLine: 2 }], labels: [{ kind: 'selection', label: 'a.py:2' }] }) },
    settings: () => ({ thinking: true, thinkingBudget: 16, foldTrace: true, maxTokens: 100 }),
    post: (m) => posted.push(m),
    log: { info: (m) => logs.push(m), warn: (m) => logs.push(m), error: (m) => logs.push(m) },
    cancellation,
  });
  return { controller, posted, memento, backend, logs };
}

test('a turn: prompt through the template with context and thinking, parts streamed, counts and history kept', async () => {
  const { controller, posted, backend, memento } = setup();
  backend.scripts.push({
    batches: [
      [[{ kind: 'reasoning', text: 'Let me see' }], 3],
      [[{ kind: 'reasoning', text: '.\n' }, { kind: 'answer', text: '\n\nIt is ' }], 4],
      [[{ kind: 'answer', text: '**one**.' }], 2],
    ],
    result: { reasoningTokens: 5, answerTokens: 4, stopReason: 'eog' },
  });
  const turn = await controller.send('What is x?');
  assert.ok(turn);
  const req = backend.requests[0];
  assert.ok(req.prompt.startsWith('<SPECIAL_10>System\nYou are Hybrid Copilot'), req.prompt.slice(0, 60));
  assert.ok(req.prompt.endsWith('<SPECIAL_11>User\nSelected code from a.py (lines 2-2):\n```python\nx = 1\n```\n\nWhat is x?\n<SPECIAL_11>Assistant\n<think>\n'), req.prompt);
  assert.deepEqual(req.thinking, { startsInside: true, open: '<think>', close: '</think>', budget: 16, inject: '.\n</think>\n\n' });
  assert.equal(req.maxTokens, 116);
  assert.deepEqual(req.stop, ['<SPECIAL_12>']);
  assert.equal(req.addBos, true);
  const types = posted.map((m) => m.type);
  assert.ok(types.includes('turnStart') && types.includes('turnEnd'));
  const parts = posted.filter((m): m is Extract<HostMessage, { type: 'turnParts' }> => m.type === 'turnParts');
  assert.equal(parts.length, 3);
  assert.equal(parts[0].reasoningTokens, 3);
  assert.equal(turn.reasoning, 'Let me see.\n');
  assert.equal(turn.answer, '\n\nIt is **one**.');
  assert.equal(turn.reasoningTokens, 5, 'final counts from the result');
  assert.equal(turn.status, 'done');
  assert.equal(turn.workerFirstTokenMs, 4);
  assert.deepEqual(turn.context, [{ kind: 'selection', label: 'a.py:2' }]);
  // a reload: a new controller on the same storage shows the same conversation
  const again = setup(memento);
  assert.equal(again.controller.current.id, controller.current.id);
  assert.equal(again.controller.current.turns[0].answer, '\n\nIt is **one**.');
  assert.equal(again.controller.current.title, 'What is x?');
  // the next turn sends the history: answer only (no trace), the user message with its context
  again.backend.scripts.push({ batches: [[[{ kind: 'answer', text: 'ok' }], 1]], result: {} });
  await again.controller.send('And y?');
  const p2 = again.backend.requests[0].prompt;
  assert.ok(p2.includes('<SPECIAL_11>Assistant\nIt is **one**.\n<SPECIAL_12>\n<SPECIAL_11>User\nSelected code from a.py'), p2);
  assert.ok(!p2.includes('Let me see'), 'the trace is not sent back');
});

test('stop cancels the stream; the turn is kept as stopped', async () => {
  const { controller, backend } = setup();
  backend.scripts.push({ batches: [[[{ kind: 'reasoning', text: 'hmm' }], 1]], result: {}, holdUntilCancel: true });
  const sending = controller.send('long one');
  while (!controller.busy) await new Promise((r) => setImmediate(r));
  await new Promise((r) => setTimeout(r, 5));
  controller.stop();
  const turn = await sending;
  assert.equal(turn?.status, 'stopped');
  assert.equal(turn?.stopReason, 'cancelled');
  assert.equal(turn?.reasoning, 'hmm');
  assert.equal(controller.busy, false);
});

test('not ready: nothing is sent, the view is told why', async () => {
  const backend = new ScriptedBackend();
  backend.status_ = { ready: false, reason: 'No model is configured.' };
  const { controller, posted } = setup(undefined, backend);
  assert.equal(await controller.send('hi'), undefined);
  assert.equal(backend.requests.length, 0);
  assert.ok(posted.some((m) => m.type === 'availability' && !m.availability.ready && m.availability.detail === 'No model is configured.'));
  assert.ok(posted.some((m) => m.type === 'notice' && /Model runtime not ready: No model is configured/.test(m.message)));
});

test('a template that fails ends the turn with an error naming it', async () => {
  const backend = new ScriptedBackend();
  backend.status_ = { ready: true, model: { ...MODEL, name: 'broken.gguf', chatTemplate: '{{ raise_exception("no system role") }}' } };
  const { controller } = setup(undefined, backend);
  const turn = await controller.send('hi');
  assert.equal(turn?.status, 'error');
  assert.match(turn?.error ?? '', /chat template of model broken\.gguf failed to render: no system role/);
  assert.equal(backend.requests.length, 0);
});

test('budget reached is recognized; new chat, open and delete in history', async () => {
  const { controller, backend } = setup();
  backend.scripts.push({
    batches: [[[{ kind: 'reasoning', text: 'a b c d e f g h i j k l m n o p.\n' }, { kind: 'answer', text: '\n\nA' }], 18]],
    result: { reasoningTokens: 16, answerTokens: 2 },
  });
  const t1 = await controller.send('first');
  assert.equal(t1?.budgetReached, true);
  const firstId = controller.current.id;
  await controller.newChat();
  assert.notEqual(controller.current.id, firstId);
  assert.equal(controller.current.turns.length, 0);
  await controller.openChat(firstId);
  assert.equal(controller.current.id, firstId);
  await controller.deleteChat(firstId);
  assert.notEqual(controller.current.id, firstId);
});

test('a turn interrupted by a reload shows as stopped', async () => {
  const memento = new MapMemento();
  const { controller, backend } = setup(memento);
  backend.scripts.push({ batches: [[[{ kind: 'answer', text: 'partial' }], 1]], result: {}, holdUntilCancel: true });
  const sending = controller.send('q');
  while (!controller.busy) await new Promise((r) => setImmediate(r));
  const reloaded = setup(memento);
  const t = reloaded.controller.current.turns[0];
  assert.equal(t.status, 'stopped');
  assert.match(t.error ?? '', /interrupted/);
  controller.stop();
  await sending;
});
