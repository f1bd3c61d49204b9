// The remote backend end to end without VS Code: the completion engine and the chat backend interface, routed
// by the backend switch to `hybrid serve` (in-process, over the real worker and the tiny fixture model) or to
// a fake local backend; the FIM modes' requests; errors reported without touching the local side.
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import type { ChatBackend, ChatRequest } from '../../src/chat/chatBackend';
import { chatMessages, RuntimeChatBackend } from '../../src/chat/chatBackend';
import { CompletionEngine } from '../../src/completions/engine';
import { RemoteBackend, RemoteSettings } from '../../src/remote/backend';
import { BackendKind, BackendSwitch } from '../../src/runtime/backend';
import { WorkerEngine } from '../../src/serve/engine';
import { HybridServer } from '../../src/serve/server';
import type { ChatResult, StreamPart } from '../../src/shared/protocol';
import { disposeClients, makeClient, memoryLogger, tinyModel } from './runtime-helpers';

let server: HybridServer;
let url: string;
let worker: import('../../src/runtime/client').RuntimeClient;
const token = 'remote-backend-test-token';
let settings: RemoteSettings;
const requests: { latencyMs?: number; error?: string }[] = [];

before(async () => {
  const { c } = makeClient({}, { modelPath: tinyModel() });
  await c.start();
  worker = c;
  server = new HybridServer({ engine: new WorkerEngine({ client: c, contextLength: 2048 }), token });
  url = (await server.listen()).url;
  settings = { endpoint: url, model: '', timeoutMs: 20_000, fim: 'suffix', fimTemplate: '<fim_prefix>{prefix}<fim_suffix>{suffix}<fim_middle>' };
});

after(async () => {
  await server?.close();
  await disposeClients();
});

const remoteBackend = (key = token) =>
  new RemoteBackend({ settings: () => settings, apiKey: async () => key, onRequest: (r) => requests.push({ latencyMs: r.latencyMs, error: r.error?.message }) });

const localChat = (): ChatBackend & { calls: number } => {
  const b = {
    calls: 0,
    status: async () => ({ ready: false as const, reason: 'local fake' }),
    chat: async (): Promise<ChatResult> => {
      b.calls++;
      return { id: 0, reasoning: '', answer: 'local', reasoningTokens: 0, answerTokens: 1, stopReason: 'eog', stats: {} as never };
    },
  };
  return b;
};

const token0 = { isCancellationRequested: false, onCancellationRequested: () => ({ dispose: () => undefined }) };

function chatRequest(text: string): ChatRequest {
  return { prompt: '<|im_start|>user\n' + text, maxTokens: 8, remote: { messages: chatMessages('Be brief.', [], text), thinking: false, thinkingBudget: 0 } };
}

test('the switch sends chat to the local backend or to the endpoint, as the setting says now', async () => {
  let kind: BackendKind = 'local';
  const local = localChat();
  const remote = remoteBackend();
  const sw = new BackendSwitch(() => kind, local, () => remote);
  assert.deepEqual(await sw.chat.status(), { ready: false, reason: 'local fake' });
  assert.equal((await sw.chat.chat(chatRequest('hi'), () => undefined, token0)).answer, 'local');
  kind = 'remote';
  const status = await sw.chat.status();
  assert.ok(status.ready, JSON.stringify(status));
  assert.equal(status.model.contextLength, 2048, 'the context from /v1/models');
  const parts: StreamPart[] = [];
  const r = await sw.chat.chat(chatRequest('hello'), (p) => parts.push(...p), token0);
  assert.equal(local.calls, 1, 'the local backend was not asked');
  assert.ok(r.answerTokens + r.reasoningTokens > 0);
  assert.equal(parts.map((p) => p.text).join(''), r.reasoning + r.answer);
  assert.ok(requests.some((q) => q.latencyMs !== undefined && !q.error), 'latency reported');
});

test('a remote chat request without messages is refused with a clear error', async () => {
  await assert.rejects(remoteBackend().chat.chat({ prompt: 'x', maxTokens: 4 }, () => undefined, token0), /no messages for a remote endpoint/);
});

test('remote status: a wrong key or a model the endpoint does not serve says so', async () => {
  const s = await remoteBackend('wrong').chat.status();
  assert.equal(s.ready, false);
  assert.match(!s.ready ? s.reason : '', /refused the API key \(401/);
  const saved = settings;
  settings = { ...settings, model: 'no-such-model' };
  const s2 = await remoteBackend().chat.status();
  settings = saved;
  assert.match(!s2.ready ? s2.reason : '', /does not serve the model "no-such-model"/);
});

test('inline completions through the engine: the document text goes to /v1/completions with the suffix (FIM)', async () => {
  const remote = remoteBackend();
  const sw = new BackendSwitch(() => 'remote', localChat(), () => remote);
  const local = { generation: 1, stream: async () => assert.fail('local asked'), request: async () => assert.fail('local asked') } as never;
  const routed = sw.completions(local, { ensure: async () => assert.fail('local sync asked') });
  const logger = memoryLogger();
  const engine = new CompletionEngine({ client: routed.transport, sync: routed.sync, logger, debounceMs: () => 0 });
  const text = 'function add(a: number, b: number) {\n  return \n}\n';
  const doc = { uri: 'file:///w/add.ts', languageId: 'typescript', version: 3, getText: () => text, path: 'add.ts' };
  const outcome = await engine.complete({ doc, offset: text.indexOf('return ') + 7, explicit: true });
  assert.ok(outcome, logger.lines.join('\n'));
  assert.ok(outcome.stats, 'the request ran (its stats; the stop rules may have cut it before the usage chunk)');
  assert.ok((outcome.generated ?? '').length > 0, 'text was generated');
  assert.equal(engine.counts.requests, 1);
});

test('FIM modes: the template builds the prompt, "suffix" sends the suffix field, "off" the prefix only', async () => {
  const bodies: Record<string, unknown>[] = [];
  const fake = http.createServer((req, res) => {
    let b = '';
    req.on('data', (c) => (b += c));
    req.on('end', () => {
      if (req.url === '/v1/models') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end('{"data":[{"id":"granite"}]}');
      }
      bodies.push(JSON.parse(b));
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end('data: {"choices":[{"index":0,"text":"x","finish_reason":"stop"}]}\n\ndata: [DONE]\n\n');
    });
  });
  await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
  try {
    const base = `http://127.0.0.1:${(fake.address() as AddressInfo).port}/v1`;
    let s: RemoteSettings = { endpoint: base, model: '', timeoutMs: 5000, fim: 'template', fimTemplate: '<|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>' };
    const remote = new RemoteBackend({ settings: () => s, apiKey: async () => undefined });
    const doc = { uri: 'file:///a.py', languageId: 'python', version: 1, getText: () => 'def f():\n    return 1\n' };
    const run = async () => {
      await remote.sync.ensure(doc);
      return remote.transport.stream('complete', { uri: doc.uri, version: 1, offset: 13, maxTokens: 5, suffixTokens: 4, header: '# a.py\n', stop: ['\n'] }, () => undefined);
    };
    assert.equal((await remote.transport.modelFacts())?.shape, 'fim');
    assert.equal((await run()).text, 'x');
    assert.deepEqual([bodies[0].prompt, bodies[0].suffix], ['<|fim_prefix|># a.py\ndef f():\n    <|fim_suffix|>return 1\n<|fim_middle|>', undefined]);
    s = { ...s, fim: 'suffix' };
    await run();
    assert.deepEqual([bodies[1].prompt, bodies[1].suffix], ['# a.py\ndef f():\n    ', 'return 1\n']);
    s = { ...s, fim: 'off' };
    assert.equal((await remote.transport.modelFacts())?.shape, 'prefix');
    await run();
    assert.deepEqual([bodies[2].prompt, bodies[2].suffix], ['# a.py\ndef f():\n    ', undefined]);
    assert.equal(bodies[2].model, 'granite');
    assert.deepEqual(bodies[2].stop, ['\n']);
  } finally {
    fake.close();
  }
});

test('another endpoint changes the transport generation (the completion cache is dropped)', () => {
  const remote = remoteBackend();
  const g = remote.transport.generation;
  const saved = settings;
  settings = { ...settings, endpoint: 'http://127.0.0.1:1/v1' };
  assert.notEqual(remote.transport.generation, g);
  settings = saved;
});

test('exact token counts come from the local backend, and none while remote (the served tokenizer may differ)', async () => {
  let kind: BackendKind = 'local';
  const local = Object.assign(localChat(), {
    base: 10,
    async countTokens(this: { base: number }, text: string) {
      return this.base + text.length;
    },
  });
  const sw = new BackendSwitch(() => kind, local, () => remoteBackend());
  assert.equal(await sw.chat.countTokens('abc', true), 13, 'the local backend counts, called as a method');
  kind = 'remote';
  assert.equal(await sw.chat.countTokens('abc', true), undefined);
});

test('local: the real worker gets the request without the remote part (its protocol refuses unknown fields)', async () => {
  const sw = new BackendSwitch(() => 'local', new RuntimeChatBackend(worker, () => 2048), () => remoteBackend());
  const direct = await new RuntimeChatBackend(worker, () => 2048).chat(chatRequest('hi'), () => undefined, token0).then(
    () => 'accepted',
    (e: Error) => e.message,
  );
  assert.match(direct, /remote: unknown field/, 'the worker itself refuses the field');
  const r = await sw.chat.chat(chatRequest('hi'), () => undefined, token0);
  assert.ok(r.answerTokens + r.reasoningTokens > 0);
});

test('invalidate(): a key changed since the last status is seen by the next one', async () => {
  let key = token;
  const remote = new RemoteBackend({ settings: () => settings, apiKey: async () => key });
  assert.equal((await remote.chat.status()).ready, true);
  key = 'changed';
  assert.equal((await remote.chat.status()).ready, true, 'cached for a while');
  remote.invalidate();
  const s = await remote.chat.status();
  assert.match(!s.ready ? s.reason : '', /401/);
});
