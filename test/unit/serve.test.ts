// `hybrid serve` (src/serve/): the HTTP server over the real runtime worker and the tiny fixture model, driven
// by the extension's own remote client and by raw HTTP: auth (constant-time token), routes and their JSON
// errors (400/401/404/405/413), /v1/models, streamed and whole chat and text completions (FIM with a suffix),
// client disconnects cancelling the generation; then dist/serve.js as a process: the token printed and
// written 0600, loopback only, and killed mid-stream (the client keeps what arrived, marked incomplete).
import assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { RemoteClient, RemoteError } from '../../src/remote/client';
import { WorkerEngine } from '../../src/serve/engine';
import { HybridServer, isLoopback, tokenMatches } from '../../src/serve/server';
import type { StreamPart } from '../../src/shared/protocol';
import { writeChatFixtureModel } from '../e2e/suite/chatModel';
import { disposeClients, makeClient, root, tinyModel, waitFor } from './runtime-helpers';

/** The Nano-2-like chat fixture: its end-of-turn logits are zero, so every answer runs to max_tokens (a long stream). */
let endless: string | undefined;
function endlessModel(): string {
  if (!endless) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hybrid-serve-endless-'));
    process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
    endless = writeChatFixtureModel(path.join(dir, 'endless.gguf'), root);
  }
  return endless;
}

let server: HybridServer;
let url: string;
const token = 'test-token-0123456789';
let jobs: () => Promise<{ running: number; queued: number }>;

before(async () => {
  const { c } = makeClient({}, { modelPath: tinyModel() });
  await c.start();
  jobs = async () => (await c.request('info', {})).jobs;
  server = new HybridServer({ engine: new WorkerEngine({ client: c, contextLength: 2048 }), token, maxBodyBytes: 64 * 1024 });
  url = (await server.listen()).url;
});

after(async () => {
  await server?.close();
  await disposeClients();
});

const remote = (extra: Partial<ConstructorParameters<typeof RemoteClient>[0]> = {}) => new RemoteClient({ endpoint: url, apiKey: () => token, timeoutMs: 30_000, ...extra });

async function http(method: string, p: string, body?: unknown, auth: string | null = `Bearer ${token}`, raw?: string) {
  const res = await fetch(url.replace(/\/v1$/, '') + p, {
    method,
    headers: { ...(auth ? { authorization: auth } : {}), 'content-type': 'application/json' },
    body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
  });
  const text = await res.text();
  let json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

test('token comparison and loopback detection', () => {
  assert.equal(tokenMatches('abc', 'abc'), true);
  assert.equal(tokenMatches('abd', 'abc'), false);
  assert.equal(tokenMatches('abc ', 'abc'), false);
  assert.equal(tokenMatches('', 'abc'), false);
  for (const h of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) assert.equal(isLoopback(h), true, h);
  for (const h of ['0.0.0.0', '192.168.1.2', '::', 'example.com']) assert.equal(isLoopback(h), false, h);
});

test('every route needs the bearer token: 401 with a JSON error', async () => {
  for (const auth of [null, 'Bearer wrong', `Basic ${token}`, `Bearer ${token}x`]) {
    const r = await http('GET', '/v1/models', undefined, auth);
    assert.equal(r.status, 401, String(auth));
    assert.equal(r.json.error.type, 'authentication_error');
    assert.equal(r.headers.get('www-authenticate'), 'Bearer');
  }
  const e = await remote({ apiKey: () => 'nope' }).models().catch((x) => x);
  assert.ok(e instanceof RemoteError && e.kind === 'auth', String(e));
});

test('404 for unknown routes, 405 with Allow for the wrong method, 400 for bad bodies, 413 for big ones', async () => {
  assert.equal((await http('GET', '/v1/nothing')).status, 404);
  assert.equal((await http('GET', '/v1/nothing')).json.error.code, 'not_found');
  const m = await http('GET', '/v1/chat/completions');
  assert.equal(m.status, 405);
  assert.equal(m.headers.get('allow'), 'POST');
  assert.equal((await http('POST', '/v1/models', {})).status, 405);
  assert.equal((await http('POST', '/v1/chat/completions', undefined, null)).status, 401, 'auth comes before the route checks');
  const bad = [
    [undefined, '{"messages": ['],
    [[1, 2], undefined],
    [{ messages: [] }, undefined],
    [{ messages: [{ role: 'tool', content: 'x' }] }, undefined],
    [{ messages: [{ role: 'user', content: [{ type: 'image_url' }] }] }, undefined],
    [{ messages: [{ role: 'user', content: 'x' }], max_tokens: -1 }, undefined],
    [{ messages: [{ role: 'user', content: 'x' }], stream: 'yes' }, undefined],
    [{ messages: [{ role: 'user', content: 'x' }], stop: [''] }, undefined],
  ] as const;
  for (const [body, raw] of bad) {
    const r = await http('POST', '/v1/chat/completions', body, undefined, raw);
    assert.equal(r.status, 400, JSON.stringify(body ?? raw));
    assert.equal(typeof r.json.error.message, 'string');
  }
  assert.equal((await http('POST', '/v1/completions', { prompt: 3 })).status, 400);
  const big = await http('POST', '/v1/completions', { prompt: 'x'.repeat(70 * 1024) });
  assert.equal(big.status, 413);
  assert.equal(big.json.error.code, 'body_too_large');
});

test('GET /v1/models lists the loaded model with its context', async () => {
  const list = await remote().models();
  assert.equal(list.length, 1);
  assert.equal(list[0].id, path.basename(tinyModel()));
  assert.equal(list[0].contextLength, 2048);
});

test('a streamed chat completion through the remote client; the usage chunk counts tokens', async () => {
  const parts: StreamPart[] = [];
  const r = await remote().chat({ messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello' }], maxTokens: 12 }, (p) => parts.push(...p));
  assert.ok(r.answer.length + r.reasoning.length > 0, 'some text streamed');
  assert.equal(parts.map((p) => p.text).join(''), r.reasoning + r.answer);
  assert.ok(r.reasoningTokens + r.answerTokens > 0 && r.reasoningTokens + r.answerTokens <= 12, `${r.reasoningTokens}+${r.answerTokens}`);
  assert.ok(r.stats.promptTokens > 0, 'prompt tokens from the usage chunk');
  assert.ok(['eog', 'maxTokens'].includes(r.stopReason));
});

test('raw SSE of a chat stream: role first, then deltas, a finish chunk, usage, [DONE]', async () => {
  const r = await http('POST', '/v1/chat/completions', { messages: [{ role: 'user', content: 'Hi' }], stream: true, max_tokens: 4, stream_options: { include_usage: true } });
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type') ?? '', /^text\/event-stream/);
  const events = r.text.split('\n\n').filter(Boolean).map((e) => e.replace(/^data: /, ''));
  assert.equal(events[events.length - 1], '[DONE]');
  const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
  assert.deepEqual(chunks[0].choices[0].delta, { role: 'assistant', content: '' });
  const usage = chunks[chunks.length - 1];
  assert.deepEqual(usage.choices, []);
  assert.equal(usage.usage.completion_tokens, 4);
  const finish = chunks[chunks.length - 2];
  assert.equal(finish.choices[0].finish_reason, 'length');
  for (const c of chunks) assert.equal(c.object, 'chat.completion.chunk');
});

test('a whole (non-streamed) chat completion', async () => {
  const r = await http('POST', '/v1/chat/completions', { messages: [{ role: 'user', content: 'Hi' }], max_tokens: 5, chat_template_kwargs: { enable_thinking: false } });
  assert.equal(r.status, 200);
  assert.equal(r.json.object, 'chat.completion');
  assert.equal(r.json.choices[0].message.role, 'assistant');
  assert.equal(typeof r.json.choices[0].message.content, 'string');
  assert.equal(r.json.usage.completion_tokens, 5);
  assert.equal(r.json.choices[0].finish_reason, 'length');
});

test('text completions: a prompt, and a prompt with a suffix (FIM), streamed and whole', async () => {
  const pieces: string[] = [];
  const r = await remote().complete({ prompt: 'def add(a, b):\n    return', maxTokens: 6 }, (t) => pieces.push(t));
  assert.equal(pieces.join(''), r.text);
  assert.ok(r.stats.generatedTokens > 0);
  const fim = await remote().complete({ prompt: 'x = ', suffix: '\nprint(x)\n', maxTokens: 4 }, () => undefined);
  assert.ok(fim.stats.promptTokens > 0);
  const whole = await http('POST', '/v1/completions', { prompt: ['abc'], max_tokens: 3 });
  assert.equal(whole.status, 200);
  assert.equal(whole.json.object, 'text_completion');
  assert.equal(whole.json.usage.completion_tokens, 3);
});

test('max_tokens beyond the context is cut to the room the prompt leaves', async () => {
  const { c } = makeClient({}, { modelPath: endlessModel(), contextLength: 512 });
  await c.start();
  const server = new HybridServer({ engine: new WorkerEngine({ client: c, contextLength: 512 }), token });
  const url = (await server.listen()).url;
  const r = await new RemoteClient({ endpoint: url, apiKey: () => token, timeoutMs: 60_000 }).chat({ messages: [{ role: 'user', content: 'Hi' }], maxTokens: 100_000, thinking: false }, () => undefined);
  assert.equal(r.stopReason, 'maxTokens');
  assert.ok(r.stats.promptTokens + r.reasoningTokens + r.answerTokens <= 512, `${r.stats.promptTokens} + ${r.reasoningTokens} + ${r.answerTokens}`);
  await server.close();
});

test('a client that disconnects mid-stream cancels its generation; the server serves the next request', async () => {
  const { c } = makeClient({}, { modelPath: endlessModel() });
  await c.start();
  const server = new HybridServer({ engine: new WorkerEngine({ client: c, contextLength: 2048 }), token });
  const url = (await server.listen()).url;
  const jobs = async () => (await c.request('info', {})).jobs;
  const before = server.disconnects;
  const abort = new AbortController();
  const res = await fetch(`${url}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ messages: [{ role: 'user', content: 'Tell a long story' }], stream: true, max_tokens: 100000 }),
    signal: abort.signal,
  });
  const reader = res.body!.getReader();
  await reader.read();
  await reader.read();
  abort.abort();
  // Generous limits: on a loaded 2-core CI machine the worker can be slow to yield (not a speed assertion).
  await waitFor(() => server.disconnects > before, 30_000, 'the server to see the disconnect');
  let idle = false;
  await waitFor(() => {
    void jobs().then((j) => (idle = j.running === 0 && j.queued === 0));
    return idle;
  }, 30_000, 'the generation to stop');
  const r = await new RemoteClient({ endpoint: url, apiKey: () => token, timeoutMs: 30_000 }).chat({ messages: [{ role: 'user', content: 'again' }], maxTokens: 3 }, () => undefined);
  assert.ok(r.answerTokens + r.reasoningTokens > 0);
  await server.close();
});

// ---- dist/serve.js as a process ----

const serveJs = path.join(root, 'dist', 'serve.js');

function startServe(args: string[]): Promise<{ child: ChildProcess; url: string; token: string; stdout: () => string; stderr: () => string }> {
  const child = spawn(process.execPath, [serveJs, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      const u = /listening (\S+)/.exec(out);
      const t = /token (\S+)/.exec(out);
      if (u && t) resolve({ child, url: u[1], token: t[1], stdout: () => out, stderr: () => err });
    });
    child.once('exit', (code) => reject(new Error(`hybrid serve exited with ${code}: ${err}`)));
  });
}

test('dist/serve.js: prints the URL and a random token, writes it 0600 on request, binds loopback', { skip: !fs.existsSync(serveJs) && 'dist/serve.js not built' }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hybrid-serve-test-'));
  const tokenFile = path.join(dir, 'token');
  const s = await startServe(['--model', tinyModel(), '--port', '0', '--device', 'cpu', '--threads', '1', '--context', '2048', '--token-file', tokenFile]);
  try {
    assert.match(s.url, /^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    assert.match(s.token, /^hyb-[A-Za-z0-9_-]{32}$/);
    assert.equal(fs.readFileSync(tokenFile, 'utf8').trim(), s.token);
    assert.equal(fs.statSync(tokenFile).mode & 0o777, 0o600);
    const models = await new RemoteClient({ endpoint: s.url, apiKey: () => s.token, timeoutMs: 10_000 }).models();
    assert.equal(models[0].id, path.basename(tinyModel()));
  } finally {
    s.child.kill('SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('dist/serve.js: refuses bad arguments; a non-loopback --host gets a warning', { skip: !fs.existsSync(serveJs) && 'dist/serve.js not built' }, async () => {
  const run = (args: string[]) =>
    new Promise<{ code: number | null; err: string }>((resolve) => {
      const c = spawn(process.execPath, [serveJs, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      c.stderr!.on('data', (d) => (err += d));
      c.on('exit', (code) => resolve({ code, err }));
    });
  assert.match((await run([])).err, /--model PATH is required/);
  assert.match((await run(['--model', '/nonexistent.gguf'])).err, /does not exist/);
  assert.match((await run(['--model', tinyModel(), '--port', 'x'])).err, /--port takes an integer/);
  const s = await startServe(['--model', tinyModel(), '--port', '0', '--device', 'cpu', '--threads', '1', '--context', '2048', '--host', '0.0.0.0']);
  try {
    assert.match(s.stderr(), /WARNING: binding 0\.0\.0\.0/);
    assert.match(s.url, /^http:\/\/0\.0\.0\.0:\d+\/v1$/);
  } finally {
    s.child.kill('SIGTERM');
  }
});

test('dist/serve.js killed mid-stream: the client keeps what arrived and reports the answer incomplete', { skip: !fs.existsSync(serveJs) && 'dist/serve.js not built' }, async () => {
  const s = await startServe(['--model', endlessModel(), '--port', '0', '--device', 'cpu', '--threads', '1', '--context', '2048', '--thinking-budget', '0']);
  const client = new RemoteClient({ endpoint: s.url, apiKey: () => s.token, timeoutMs: 10_000 });
  const parts: StreamPart[] = [];
  const e = await client
    .chat({ messages: [{ role: 'user', content: 'Write a long essay' }], maxTokens: 1500 }, (p) => {
      parts.push(...p);
      if (parts.length === 3) s.child.kill('SIGKILL');
    })
    .then(
      () => undefined,
      (x) => x,
    );
  assert.ok(e instanceof RemoteError, `a RemoteError (got ${e})`);
  assert.equal(e.kind, 'cut', e.message);
  assert.match(e.message, /incomplete/);
  assert.ok(e.partial, 'what arrived is kept');
  assert.equal(e.partial.reasoning, parts.filter((p) => p.kind === 'reasoning').map((p) => p.text).join(''));
  assert.equal(e.partial.answer, parts.filter((p) => p.kind === 'answer').map((p) => p.text).join(''));
  assert.ok(parts.length >= 3);
});
