// The remote client (src/remote/client.ts) against tiny local HTTP servers that misbehave on purpose:
// unreachable, 401, 429 with Retry-After (honoured once), streams cut mid-answer, malformed SSE, silence
// (timeouts), errors inside the stream, cancellation; and recorded vLLM/SGLang/llama-server streams replayed.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { baseUrl, RemoteClient, RemoteError, retryAfterMs } from '../../src/remote/client';
import type { StreamPart } from '../../src/shared/protocol';

const fixtures = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'sse');

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void;
const servers: http.Server[] = [];
after(() => {
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
});

async function serve(handler: Handler): Promise<{ url: string; requests: { path: string; body: string; auth?: string }[] }> {
  const requests: { path: string; body: string; auth?: string }[] = [];
  const s = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      requests.push({ path: req.url ?? '', body, auth: req.headers.authorization });
      handler(req, res, body);
    });
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}/v1`, requests };
}

const sse = (res: http.ServerResponse) => res.writeHead(200, { 'content-type': 'text/event-stream' });
const delta = (d: Record<string, unknown>, finish: string | null = null) =>
  `data: ${JSON.stringify({ object: 'chat.completion.chunk', choices: [{ index: 0, delta: d, finish_reason: finish }] })}\n\n`;
const client = (url: string, extra: Partial<ConstructorParameters<typeof RemoteClient>[0]> = {}) =>
  new RemoteClient({ endpoint: url, model: 'm', timeoutMs: 2000, ...extra });
const chatOf = (c: RemoteClient, parts: StreamPart[] = []) =>
  c.chat({ messages: [{ role: 'user', content: 'hi' }], maxTokens: 64 }, (p) => parts.push(...p));

async function rejects(p: Promise<unknown>, kind: string, message: RegExp): Promise<RemoteError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof RemoteError, `a RemoteError, got ${e}`);
    assert.equal(e.kind, kind, e.message);
    assert.match(e.message, message);
    return e;
  }
  assert.fail('expected a rejection');
}

test('endpoint URLs are normalised to their /v1 base; bad ones are refused', () => {
  assert.equal(baseUrl('http://h:8000'), 'http://h:8000/v1');
  assert.equal(baseUrl('http://h:8000/v1/'), 'http://h:8000/v1');
  assert.equal(baseUrl('https://h/api/v1'), 'https://h/api/v1');
  assert.equal(baseUrl('https://h/openai'), 'https://h/openai/v1');
  assert.throws(() => baseUrl('not a url'), /not a URL/);
  assert.throws(() => baseUrl('ftp://h/v1'), /http\(s\)/);
});

test('Retry-After: seconds or an HTTP date', () => {
  assert.equal(retryAfterMs('2'), 2000);
  assert.equal(retryAfterMs('0.5'), 500);
  assert.equal(retryAfterMs(new Date(10_000).toUTCString(), 4000), 6000);
  assert.equal(retryAfterMs('soon'), undefined);
  assert.equal(retryAfterMs(null), undefined);
});

test('an unreachable endpoint is reported as such', async () => {
  const s = await serve(() => undefined);
  const port = new URL(s.url).port;
  for (const srv of servers.splice(0)) (srv.closeAllConnections(), srv.close());
  await new Promise((r) => setTimeout(r, 50));
  await rejects(chatOf(client(`http://127.0.0.1:${port}/v1`)), 'unreachable', /unreachable \(ECONNREFUSED\)/);
});

test('401: the API key is sent as a bearer token and its refusal says how to set one', async () => {
  const s = await serve((_q, res) => {
    res.writeHead(401, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { message: 'Invalid API key', type: 'authentication_error' } }));
  });
  const e = await rejects(chatOf(client(s.url, { apiKey: () => 'sk-wrong' })), 'auth', /refused the API key \(401: Invalid API key\).*Set Remote API Key/);
  assert.equal(e.status, 401);
  assert.equal(s.requests[0].auth, 'Bearer sk-wrong');
});

test('429 with Retry-After is honoured once, then the request succeeds', async () => {
  let n = 0;
  const s = await serve((_q, res) => {
    if (n++ === 0) {
      res.writeHead(429, { 'retry-after': '1' });
      return res.end('{"error":{"message":"slow down"}}');
    }
    sse(res);
    res.end(delta({ content: 'ok' }, 'stop') + 'data: [DONE]\n\n');
  });
  const t0 = Date.now();
  const r = await chatOf(client(s.url));
  assert.equal(r.answer, 'ok');
  assert.equal(s.requests.length, 2);
  assert.ok(Date.now() - t0 >= 900, 'waited for the Retry-After');
});

test('429 twice: reported after the one retry; a Retry-After beyond the cap is reported at once', async () => {
  const s = await serve((_q, res) => {
    res.writeHead(429, { 'retry-after': '0' });
    res.end('{"error":{"message":"rate limit"}}');
  });
  await rejects(chatOf(client(s.url)), 'rateLimited', /rate-limiting requests \(429: rate limit\); still limited after waiting the Retry-After once/);
  assert.equal(s.requests.length, 2);
  const s2 = await serve((_q, res) => {
    res.writeHead(429, { 'retry-after': '3600' });
    res.end();
  });
  await rejects(chatOf(client(s2.url)), 'rateLimited', /retry after 3600 s/);
  assert.equal(s2.requests.length, 1);
});

test('a stream cut mid-answer keeps what arrived and says the answer is incomplete', async () => {
  const s = await serve((_q, res) => {
    sse(res);
    res.write(delta({ reasoning_content: 'thinking' }) + delta({ content: 'The answer is' }));
    setTimeout(() => res.socket?.destroy(), 50);
  });
  const parts: StreamPart[] = [];
  const e = await rejects(chatOf(client(s.url), parts), 'cut', /cut mid-answer|ended before the answer did/);
  assert.deepEqual(e.partial, { reasoning: 'thinking', answer: 'The answer is' });
  assert.deepEqual(parts, [
    { kind: 'reasoning', text: 'thinking' },
    { kind: 'answer', text: 'The answer is' },
  ]);
});

test('a stream that ends cleanly but without [DONE] or a finish reason is incomplete', async () => {
  const s = await serve((_q, res) => {
    sse(res);
    res.end(delta({ content: 'half' }) + 'data: {"choices":[{"delta":{"content":" an'); // the connection closes inside an event
  });
  const e = await rejects(chatOf(client(s.url)), 'cut', /ended before the answer did \(in the middle of an event\)/);
  assert.equal(e.partial?.answer, 'half');
});

test('a finish reason without [DONE] is a complete answer', async () => {
  const s = await serve((_q, res) => {
    sse(res);
    res.end(delta({ content: 'done' }, 'length'));
  });
  const r = await chatOf(client(s.url));
  assert.equal(r.answer, 'done');
  assert.equal(r.stopReason, 'maxTokens');
});

test('malformed SSE data is reported with what arrived kept', async () => {
  const s = await serve((_q, res) => {
    sse(res);
    res.end(delta({ content: 'a' }) + 'data: {not json}\n\n' + 'data: [DONE]\n\n');
  });
  const e = await rejects(chatOf(client(s.url)), 'malformed', /malformed stream event \(not JSON/);
  assert.equal(e.partial?.answer, 'a');
});

test('an error object inside the stream is reported', async () => {
  const s = await serve((_q, res) => {
    sse(res);
    res.end(delta({ content: 'a' }) + 'data: {"error":{"message":"CUDA error: out of memory"}}\n\n');
  });
  await rejects(chatOf(client(s.url)), 'http', /reported an error in the stream: CUDA error: out of memory/);
});

test('no response headers within the timeout: a timeout error', async () => {
  const s = await serve(() => undefined); // never answers
  await rejects(chatOf(client(s.url, { timeoutMs: 300 })), 'timeout', /did not answer within 300 ms/);
});

test('a stream that goes silent longer than the timeout: a timeout error, what arrived kept', async () => {
  const s = await serve((_q, res) => {
    sse(res);
    res.write(delta({ content: 'slow' }));
  });
  const e = await rejects(chatOf(client(s.url, { timeoutMs: 300 })), 'timeout', /sent nothing for 300 ms/);
  assert.equal(e.partial?.answer, 'slow');
});

test('a slow stream whose gaps stay under the timeout completes', async () => {
  const s = await serve((_q, res) => {
    sse(res);
    let i = 0;
    const t = setInterval(() => {
      if (i < 4) res.write(delta({ content: `${i++}` }));
      else {
        clearInterval(t);
        res.end(delta({}, 'stop') + 'data: [DONE]\n\n');
      }
    }, 150);
  });
  const r = await chatOf(client(s.url, { timeoutMs: 400 }));
  assert.equal(r.answer, '0123');
});

test('cancelling mid-stream resolves with "cancelled" and what arrived', async () => {
  const s = await serve((_q, res) => {
    sse(res);
    res.write(delta({ content: 'partial' }));
  });
  const listeners: Array<() => void> = [];
  const token = { isCancellationRequested: false, onCancellationRequested: (l: () => void) => (listeners.push(l), { dispose: () => undefined }) };
  const r = await client(s.url).chat({ messages: [{ role: 'user', content: 'x' }], maxTokens: 8 }, () => {
    token.isCancellationRequested = true;
    for (const l of listeners) l();
  }, token);
  assert.equal(r.stopReason, 'cancelled');
  assert.equal(r.answer, 'partial');
});

test('the request: model, messages, stream with usage, max_tokens, thinking switch; the model from /v1/models when unset', async () => {
  const s = await serve((q, res) => {
    if (q.url === '/v1/models') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ object: 'list', data: [{ id: 'served-model', object: 'model', max_model_len: 32768 }] }));
    }
    sse(res);
    res.end(delta({ content: 'x' }, 'stop') + 'data: [DONE]\n\n');
  });
  const c = new RemoteClient({ endpoint: s.url.replace(/\/v1$/, ''), timeoutMs: 2000 });
  assert.deepEqual(await c.models(), [{ id: 'served-model', ownedBy: undefined, contextLength: 32768 }]);
  await c.chat({ messages: [{ role: 'user', content: 'q' }], maxTokens: 10, thinking: false, stop: ['\n\n'] }, () => undefined);
  const body = JSON.parse(s.requests.find((r) => r.path === '/v1/chat/completions')!.body);
  assert.deepEqual(body, {
    model: 'served-model',
    messages: [{ role: 'user', content: 'q' }],
    stream: true,
    stream_options: { include_usage: true },
    max_tokens: 10,
    temperature: 0,
    stop: ['\n\n'],
    chat_template_kwargs: { enable_thinking: false, thinking: false },
  });
  assert.ok(c.lastLatencyMs !== undefined && c.lastLatencyMs >= 0);
});

for (const [file, reasoning, answer] of [
  ['vllm-chat-reasoning_content.sse', 'The user asks which is greater: 9.11 or 9.8. Compare 9.80 × 1 with 9.11 — 9.8 is greater.\n', '\n\n**9.8** is greater than 9.11 (9.80 > 9.11).'],
  ['sglang-chat-reasoning.sse', 'Okay, sorting in place: use list.sort() — 😀 stable.', 'Call `xs.sort()`; it sorts in place.'],
  ['llama-server-chat-think-tags.sse', '\nTwo plus two… is four.\n', '\n\n2 + 2 = **4**.'],
] as const) {
  test(`a recorded stream replayed in small writes: ${file}`, async () => {
    const bytes = fs.readFileSync(path.join(fixtures, file));
    const s = await serve((_q, res) => {
      sse(res);
      let i = 0;
      const next = () => {
        if (i >= bytes.length) return res.end();
        res.write(bytes.subarray(i, (i += 7)));
        setImmediate(next);
      };
      next();
    });
    const r = await chatOf(client(s.url));
    assert.equal(r.reasoning, reasoning);
    assert.equal(r.answer, answer);
    assert.equal(r.stopReason, 'eog');
  });
}

test('text completions: prompt and suffix sent, text streamed', async () => {
  const bytes = fs.readFileSync(path.join(fixtures, 'vllm-completions.sse'));
  const s = await serve((_q, res) => {
    sse(res);
    res.end(bytes);
  });
  const pieces: string[] = [];
  const r = await client(s.url).complete({ prompt: 'int add(int a, int b) { ', suffix: ' }', maxTokens: 16, stop: ['\n'] }, (t) => pieces.push(t));
  assert.equal(r.text, 'return a + b;');
  assert.deepEqual(pieces, ['return ', 'a + b', ';']);
  const body = JSON.parse(s.requests[0].body);
  assert.equal(body.prompt, 'int add(int a, int b) { ');
  assert.equal(body.suffix, ' }');
  assert.deepEqual(body.stop, ['\n']);
});

test('a template that opens the trace in the prompt: the orphan </think> splits the result, and later answers start inside', async () => {
  const s = await serve((_q, res) => {
    sse(res);
    res.end(delta({ content: 'The user greets' }) + delta({ content: '.\n</think>\n\nHello!' }, 'stop') + 'data: [DONE]\n\n');
  });
  const c = client(s.url);
  const first: StreamPart[] = [];
  const r1 = await c.chat({ messages: [{ role: 'user', content: 'hi' }], maxTokens: 32, thinking: true }, (p) => first.push(...p));
  assert.equal(r1.reasoning, 'The user greets.\n');
  assert.equal(r1.answer, '\n\nHello!');
  assert.deepEqual(first.map((p) => p.kind), ['answer', 'answer'], 'the first answer streamed as text');
  const second: StreamPart[] = [];
  const r2 = await c.chat({ messages: [{ role: 'user', content: 'hi' }], maxTokens: 32, thinking: true }, (p) => second.push(...p));
  assert.equal(r2.reasoning, 'The user greets.\n');
  assert.equal(r2.answer, '\n\nHello!');
  assert.equal(second.filter((p) => p.kind === 'reasoning').map((p) => p.text).join(''), 'The user greets.\n', 'later answers stream their trace as reasoning');
});
