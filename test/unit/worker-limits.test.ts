// The worker's `tokenize` request (exact token counts for context budgets) and the per-request time limit:
// a Generation past its timeoutMs stops with stopReason "timeLimit" and keeps its output; the worker takes
// the shorter of the request's own limit and its setting. Through the real worker and the tiny fixture model.
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { after, test } from 'node:test';
import { RuntimeError } from '../../src/runtime/client';
import { ErrorCode, MAX_TOKENIZE_CHARS } from '../../src/shared/protocol';
import type { NativeGenerateResult, NativeJob } from '../../src/worker/addon';
import { Generation } from '../../src/worker/generation';
import { disposeClients, makeClient, tinyModel } from './runtime-helpers';

after(disposeClients);

const code = (e: unknown) => (e as RuntimeError).code;

test('tokenize: exact counts and ids from the loaded model; special texts parsed only when asked', async () => {
  const { c } = makeClient({}, { modelPath: tinyModel() });
  await c.start();
  const plain = await c.request('tokenize', { text: 'def f(x):\n    return x + 1\n', ids: true });
  assert.ok(plain.count > 0);
  assert.equal(plain.ids?.length, plain.count);
  assert.equal(await c.countTokens('def f(x):\n    return x + 1\n'), plain.count);
  const empty = await c.request('tokenize', { text: '' });
  assert.deepEqual(empty, { count: 0 });
  // <think> is a control token of the fixture: one token when parsed as special, several as text.
  const special = await c.countTokens('<think>', { parseSpecial: true });
  const asText = await c.countTokens('<think>');
  assert.equal(special, 1);
  assert.ok(asText > 1, `"<think>" as text is ${asText} tokens`);
  // Past the protocol's size: refused before the worker reads it; the worker still serves.
  await assert.rejects(c.request('tokenize', { text: 'x'.repeat(MAX_TOKENIZE_CHARS + 1) }), (e) => code(e) === ErrorCode.InvalidParams && /params\.text: string longer than/.test((e as Error).message));
  assert.equal(await c.countTokens('hello'), (await c.request('tokenize', { text: 'hello', ids: true })).ids?.length);
});

test('tokenize without a model: a clear NoModel error', async () => {
  const { c } = makeClient({}, { modelPath: '' });
  await c.start();
  await assert.rejects(c.countTokens('hello'), (e) => code(e) === ErrorCode.NoModel && /no model is loaded/.test((e as Error).message));
});

/** A native job that makes a token every 5 ms until cancelled. */
function endlessJob(onChunk: (token: number, text: string) => void): NativeJob {
  let finish: (r: NativeGenerateResult) => void = () => undefined;
  let n = 0;
  const done = new Promise<NativeGenerateResult>((r) => (finish = r));
  const timer = setInterval(() => onChunk(n++, 'x'), 5);
  return {
    done,
    cancel() {
      clearInterval(timer);
      finish({ stopReason: 'cancelled', generatedTokens: n } as NativeGenerateResult);
    },
  };
}

test('a generation past its time limit stops with stopReason "timeLimit" and keeps what it generated', async () => {
  const parts: string[] = [];
  const g = new Generation({
    id: 1,
    receivedAt: performance.now(),
    stops: [],
    stream: true,
    timeoutMs: 100,
    send: (p) => parts.push(...p.map((x) => x.text)),
    begin: endlessJob,
  });
  const t0 = performance.now();
  const out = await g.start();
  assert.equal(out.stopReason, 'timeLimit');
  assert.ok(out.tokens > 0, 'tokens generated before the limit are counted');
  assert.equal(out.parts.map((p) => p.text).join(''), 'x'.repeat(out.tokens), 'the output so far is kept');
  assert.ok(performance.now() - t0 >= 100);
  // A user's cancel before the limit stays a cancel.
  const g2 = new Generation({ id: 2, receivedAt: performance.now(), stops: [], stream: false, timeoutMs: 10_000, send: () => undefined, begin: endlessJob });
  setTimeout(() => g2.cancel('cancelled'), 30);
  assert.equal((await g2.start()).stopReason, 'cancelled');
});

test("a request's own timeoutMs shortens the worker's limit; the log names the limit", async () => {
  const t = makeClient({}, { modelPath: tinyModel(), requestTimeoutMs: 600_000 });
  await t.c.start();
  // The worker's limit is 10 minutes, so a "timeLimit" here is the chat's own 1 ms (the random-weights model
  // may also end at eog before the timer fires: then only the bench below is checked).
  const r = await t.c.stream('chat', { prompt: '<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n', maxTokens: 1000, timeoutMs: 1 }, () => undefined);
  if (r.stopReason === 'timeLimit') {
    assert.ok(t.logger.lines.some((l) => /chat #\d+ stopped after .*the request time limit of 0\.001 s \(its own timeoutMs\)/.test(l)), t.logger.lines.join('\n'));
  } else {
    assert.ok(['eog', 'maxTokens'].includes(r.stopReason), r.stopReason);
  }
  const b = await t.c.stream('bench', { promptTokens: 8, genTokens: 64, stream: false }, () => undefined);
  assert.equal(b.genTokens, 64, 'a short bench under a long limit runs whole');
});
