// Hostile input through the real worker (dist/worker.js, the tiny fixture model, context 2048): documents
// far larger than the context, one line of megabytes, binary content, odd encodings and cursors inside a
// surrogate pair; prompts over the context; and the worker's limits — context, tokens per request, time per
// request, state memory — each ending with a clear error (or a clear stop) and the worker still serving.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { RuntimeError } from '../../src/runtime/client';
import { DocumentSync } from '../../src/runtime/documentSync';
import { arr, GgufType, u32 } from '../fixtures/gguf-writer';
import { buildNemotronH } from '../fixtures/nemotron-h';
import { ErrorCode, InitializeParams } from '../../src/shared/protocol';
import { disposeClients, FakeEditor, makeClient, root, tinyModel } from './runtime-helpers';

after(disposeClients);

function setup(init: Partial<InitializeParams> = {}) {
  const t = makeClient({ heartbeat: { intervalMs: 500, timeoutMs: 20_000 } }, { modelPath: tinyModel(), ...init });
  const editor = new FakeEditor();
  const sync = new DocumentSync({ client: t.c, logger: t.logger, documents: () => editor.list(), isEnabled: () => true });
  const complete = async (uri: string, offset?: number, maxTokens = 8) => {
    const d = editor.get(uri);
    await sync.ensure(d);
    const t0 = Date.now();
    const r = await t.c.stream('complete', { uri, version: d.version, offset: offset ?? d.getText().length, maxTokens }, () => undefined);
    return { ...r, ms: Date.now() - t0 };
  };
  const type = (uri: string, text: string) => {
    const d = editor.get(uri);
    const ch = editor.edit(uri, d.getText().length, 0, text);
    sync.didChange(editor.get(uri), [ch]);
  };
  return { ...t, editor, sync, complete, type };
}

const code = (e: unknown) => (e as RuntimeError).code;
/** A lone surrogate: text a UTF-16 editor can hold but UTF-8 cannot. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function corpusText(chars: number): string {
  const dir = path.join(root, 'test', 'corpus', 'tokenizer');
  const parts = fs.readdirSync(dir).filter((f) => f.startsWith('code.')).map((f) => fs.readFileSync(path.join(dir, f), 'utf8'));
  let s = '';
  while (s.length < chars) s += parts[s.length % parts.length];
  return s.slice(0, chars);
}

test('a document 1000x larger than the context: completions read a window of it, fast, and the worker lives', async () => {
  const t = setup();
  const text = corpusText(4_000_000); // ~1M tokens for a context of 2048
  t.editor.open('file:///huge.py', text, 'python');
  const info = await t.c.start();
  const end = await t.complete('file:///huge.py');
  assert.ok(end.stats.promptTokens <= 2048, JSON.stringify(end.stats));
  assert.ok(end.ms < 30_000, `first completion at the end of a 4 MB document took ${end.ms} ms`);
  const middle = await t.complete('file:///huge.py', 2_000_000);
  assert.ok(middle.stats.promptTokens <= 2048);
  const start = await t.complete('file:///huge.py', 10);
  assert.ok(start.stats.promptTokens <= 2048);
  // Typing at the end of the huge document stays fast (the window and the session are reused).
  for (const s of ['x', ' = ', 'y']) {
    t.type('file:///huge.py', s);
    const r = await t.complete('file:///huge.py');
    assert.ok(r.ms < 5000, `a keystroke completion took ${r.ms} ms`);
  }
  assert.equal(t.c.pid, info.worker.pid);
});

test('one 2 MB line (minified code, no line break): completions stay bounded in time', async () => {
  const t = setup();
  const line = corpusText(2_000_000).replace(/\n/g, ';');
  t.editor.open('file:///min.js', line, 'javascript');
  const info = await t.c.start();
  const first = await t.complete('file:///min.js');
  assert.ok(first.stats.promptTokens <= 2048);
  for (const s of ['a', 'b', '(']) {
    t.type('file:///min.js', s);
    const r = await t.complete('file:///min.js');
    assert.ok(r.ms < 5000, `a keystroke completion on a 2 MB line took ${r.ms} ms`);
  }
  assert.equal(t.c.pid, info.worker.pid);
});

test('binary content and odd encodings: every completion answers with well-formed text; the worker lives', async () => {
  const t = setup();
  let bytes = '';
  let x = 12345;
  for (let i = 0; i < 200_000; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    bytes += String.fromCharCode((x >>> 16) & 0xff); // a binary file read as latin1
  }
  const docs: [string, string][] = [
    ['file:///bin.dat', bytes],
    ['file:///nul.txt', 'a\u0000b\u0000'.repeat(10_000)],
    ['file:///lone.ts', 'let s = "\ud800";\nlet t = "\udfff\ud800\ud800";\n'.repeat(500)],
    ['file:///bom16.txt', '\ufeffh\u0000e\u0000l\u0000l\u0000o\u0000'.repeat(2000)],
    ['file:///cr.txt', 'line one\rline two\r\r'.repeat(2000)],
    ['file:///seps.txt', 'a\u2028b\u2029c\u0085d\u000be\u000cf'.repeat(2000)],
    ['file:///bidi.ts', 'const s = "\u202eevil\u202c"; // \u2066x\u2069\n'.repeat(1000)],
    ['file:///marks.txt', 'e\u0301\u0302\u0303\u0304'.repeat(5000) + 'Z\u0336'.repeat(5000)],
    ['file:///emoji.md', '👨‍👩‍👧‍👦🏳️‍🌈'.repeat(3000)],
    ['file:///replacement.txt', '\ufffd\ufffe\uffff'.repeat(5000)],
  ];
  for (const [uri, text] of docs) t.editor.open(uri, text, 'plaintext');
  const info = await t.c.start();
  for (const [uri, text] of docs) {
    const r = await t.complete(uri);
    assert.ok(['eog', 'maxTokens', 'stop'].includes(r.stopReason), `${uri}: ${r.stopReason}`);
    assert.ok(!LONE_SURROGATE.test(r.text), `${uri}: the completion holds a lone surrogate: ${JSON.stringify(r.text)}`);
    // A cursor between the two halves of a surrogate pair, and at 0.
    const inside = text.search(/[\ud800-\udbff][\udc00-\udfff]/);
    if (inside >= 0) await t.complete(uri, inside + 1);
    await t.complete(uri, 0);
  }
  // The same texts as chat prompts (1000 characters: within the context of 2048 even for binary text at
  // ~1.5 tokens a character; a chat prompt over the context is refused, see the limits test below).
  for (const [, text] of docs.slice(0, 4)) {
    const r = await t.c.stream('chat', { prompt: text.slice(0, 1000), maxTokens: 8 }, () => undefined);
    assert.ok(!LONE_SURROGATE.test(r.answer + r.reasoning));
  }
  assert.equal(t.c.pid, info.worker.pid);
});

// Found by fuzz_gguf (test/fuzz-regressions/gguf/crash-chat-template-wrong-type.hex): a model whose
// general.name or tokenizer.chat_template is not a string loaded, then Model.info() threw a C++ exception
// through N-API, which aborted the worker — and the supervisor's reload crashed it again, until it gave up.
test('a model file whose name or chat template is not a string: a clear load error, and the worker lives', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hybrid-hostile-model-'));
  const micro = { nEmbd: 32, pattern: 'M*-', ssmHeads: 2, ssmHeadDim: 16, dState: 4, nGroup: 1, dConv: 4, nHead: 2, nHeadKv: 1, headDim: 16, nFf: 32, nCtx: 256 };
  const files: [string, RegExp][] = [];
  for (const [name, key, value] of [
    ['name-u32.gguf', 'general.name', u32(7)],
    ['template-array.gguf', 'tokenizer.chat_template', arr(GgufType.U8, [123, 123])],
  ] as const) {
    const w = buildNemotronH('tiny', { seed: 1, format: 'q8_0', dims: micro });
    w.set(key, value);
    fs.writeFileSync(path.join(dir, name), w.toBuffer());
    files.push([path.join(dir, name), new RegExp(`metadata key '${key.replace('.', '\\.')}' has type (u32|array\\[u8\\]), expected string`)]);
  }
  const t = makeClient();
  const info = await t.c.start();
  try {
    for (const [file, message] of files) {
      await assert.rejects(t.c.request('loadModel', { path: file }), (e) => code(e) === ErrorCode.BadInput && message.test((e as Error).message), file);
      assert.equal(t.c.pid, info.worker.pid, `loading ${path.basename(file)} killed the worker`);
    }
    const now = await t.c.request('info', {});
    assert.equal(now.model.load.state, 'failed');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('limits: a prompt over the context and too many tokens per request end with clear errors', async () => {
  const t = setup();
  t.editor.open('file:///a.py', 'def f():\n    return 1\n', 'python');
  const info = await t.c.start();
  // Tokens per request: past the protocol's maximum, and more than the context holds.
  await assert.rejects(t.c.stream('chat', { prompt: 'hi', maxTokens: 2 ** 21 }, () => undefined), (e) =>
    code(e) === ErrorCode.InvalidParams && /params\.maxTokens: must be <= 1048576/.test((e as Error).message),
  );
  await assert.rejects(t.c.stream('complete', { uri: 'file:///a.py', version: 1, offset: 5, maxTokens: 4096 }, () => undefined), (e) =>
    code(e) === ErrorCode.BadInput && /maxTokens 4096 leaves no room for a prompt in a context of 2048/.test((e as Error).message),
  );
  // A stop list or a document past the protocol's sizes.
  await assert.rejects(t.c.stream('complete', { uri: 'file:///a.py', version: 1, offset: 5, maxTokens: 4, stop: Array(17).fill('x') }, () => undefined), /params\.stop: more than 16 items/);
  await assert.rejects(t.c.request('openDocument', { uri: 'file:///' + 'u'.repeat(9000), languageId: 'x', version: 1, text: '' }), /params\.uri: string longer than 8192/);
  // Whatever was refused, the worker serves the next request.
  const ok = await t.complete('file:///a.py');
  assert.ok(ok.stats.promptTokens > 0);
  assert.equal(t.c.pid, info.worker.pid);
});

// A conversation longer than the context: today the worker cuts the rendered prompt's start to fit — the
// system prompt, the template's first turn markers, the oldest turns — and answers as if nothing happened
// (only stats.truncatedTokens tells). This test FAILS until the limit gives a clear error instead. The
// one-line change (worker owner's, src/worker/service.ts chat()): read the prompt as
// `{ text: p.prompt, parseSpecial: true, keep: 'head' }`: the addon never cuts a head-kept part, so an
// over-long prompt ends in BadInput "the prompt needs N tokens, more than the M left in a context of C after
// K tokens to generate". (The chat view may then drop its oldest turns and retry: chat owner's.)
test('limits: a chat prompt over the context is refused with a clear error, not cut silently', async () => {
  const t = setup();
  const info = await t.c.start();
  const prompt = `<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n${corpusText(200_000)}<|im_end|>\n`;
  let r: Awaited<ReturnType<typeof t.c.stream<'chat'>>>;
  try {
    r = await t.c.stream('chat', { prompt, maxTokens: 16 }, () => undefined);
  } catch (e) {
    assert.equal(code(e), ErrorCode.BadInput, (e as Error).message);
    assert.match((e as Error).message, /the prompt needs \d+ tokens, more than the \d+ left in a context of 2048/);
    assert.equal(t.c.pid, info.worker.pid);
    return;
  }
  assert.fail(
    `the chat prompt was cut silently: ${r.stats.truncatedTokens} of its tokens (the system prompt among them) were left out, ` +
      `${r.stats.promptTokens} read, and the answer came as if nothing happened. See the comment above this test.`,
  );
});

test('limits: state memory stays within its budget over many documents; evicted ones are read again', async () => {
  const t = setup({ stateMemoryBudgetMB: 1 });
  const n = 20; // more documents than the 16 sessions the worker keeps
  for (let i = 0; i < n; i++) t.editor.open(`file:///doc${i}.py`, corpusText(2500 + 100 * i), 'python');
  const info = await t.c.start();
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < (round === 0 ? n : 4); i++) {
      const r = await t.complete(`file:///doc${i}.py`, undefined, 2);
      assert.ok(r.stats.promptTokens > 0);
    }
  }
  const now = await t.c.request('info', {});
  const sessions = now.documents.filter((d) => d.session);
  assert.ok(sessions.length <= 16, `${sessions.length} sessions held (at most 16)`);
  assert.ok(now.worker.rssBytes < 512 * 1048576, `worker RSS ${Math.round(now.worker.rssBytes / 1048576)} MiB after ${n} documents`);
  assert.equal(t.c.pid, info.worker.pid);
});

// The per-request time limit the issue asks for does not exist yet: a request runs until maxTokens or the
// context is used up, however long that takes (a 9B model on a laptop CPU: many minutes for a long answer,
// holding the only compute slot, so every completion queues behind it). This test FAILS until the worker
// has one. Suggested shape (worker owner's: src/shared/protocol.ts + src/worker/):
//  - InitializeParams.requestTimeoutMs (validated int, 0 = none; a default such as 120000), or per request
//    `timeoutMs` on CompleteParams/ChatParams (the completion engine would pass ~10 s);
//  - Generation.start() arms a timer that calls this.cancel('timeLimit') (job.cancel() stops the native loop
//    within one decode step), cleared in its finally;
//  - StopReason gains 'timeLimit': the result keeps the output so far, and the log says
//    "#id stopped after N ms: the request time limit (hybridCopilot.…)".
// The tiny model reaches end-of-generation within a few hundred tokens, so the run that must be cut is a
// `bench` (it ignores end-of-generation): 200k tokens take ~40 s here.
test('limits: a request that runs past the per-request time limit stops, with a clear reason', async () => {
  const t = makeClient({}, { modelPath: tinyModel(), ...({ requestTimeoutMs: 500 } as object) });
  let started: Error | undefined;
  await t.c.start().catch((e: Error) => (started = e));
  assert.equal(
    started,
    undefined,
    `the worker has no per-request time limit: initialize refused requestTimeoutMs (${started?.message}). See the comment above this test.`,
  );
  const t0 = Date.now();
  const r = await t.c.stream('bench', { promptTokens: 8, genTokens: 200_000, stream: false }, () => undefined);
  const ms = Date.now() - t0;
  assert.ok(ms < 3000 && r.genTokens < 200_000, `the request ran ${ms} ms (${r.genTokens} tokens) with a 500 ms limit`);
  assert.ok(t.logger.lines.some((l) => /time limit/.test(l)), 'the log does not say that the time limit ended the request');
});
