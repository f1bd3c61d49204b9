// The completion engine against a real runtime worker and the printable fixture models (prefix-only and
// FIM): typing at the cursor reads only what was typed (the worker's stats and its log line say so), the
// FIM suffix window is read in a fork and bounded, typed-through characters are served by the cache
// without a request, a newer request supersedes an older one (during the debounce and during generation),
// cancellation reaches the worker's generation, and the host's stop rules end a generation early.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { CompletionEngine, CompletionOutcome, EngineOptions } from '../../src/completions/engine';
import { DocumentSync } from '../../src/runtime/documentSync';
import { CancelSource } from '../../src/shared/completions/cancel';
import type { CompleteResult, StreamPart } from '../../src/shared/protocol';
import { writeCompletionFixtureModel } from '../e2e/suite/completionModel';
import { disposeClients, FakeEditor, makeClient } from './runtime-helpers';

after(disposeClients);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'completion-engine-test-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
const models = new Map<boolean, string>();
function model(fim: boolean): string {
  if (!models.has(fim)) models.set(fim, writeCompletionFixtureModel(path.join(dir, `completion-${fim ? 'fim' : 'prefix'}.gguf`), { fim }));
  return models.get(fim)!;
}

const SOURCE = `// Orders: totals, discounts and a summary line per customer.
export interface Item {
  name: string;
  price: number;
  quantity: number;
}

export interface Order {
  customer: string;
  items: Item[];
  coupon?: string;
}

export function subtotal(order: Order): number {
  let sum = 0;
  for (const item of order.items) {
    sum += item.price * item.quantity;
  }
  return sum;
}

export function discount(order: Order): number {
  CURSOR
}

export function summary(order: Order): string {
  const total = subtotal(order) - discount(order);
  return \`\${order.customer}: \${order.items.length} items, \${total.toFixed(2)}\`;
}
`;
const CURSOR_AT = SOURCE.indexOf('CURSOR');
const TEXT = SOURCE.replace('CURSOR', '');

interface Call {
  params: Record<string, unknown>;
  result?: CompleteResult;
}

function setup(fim: boolean, extra: Partial<EngineOptions> = {}) {
  const t = makeClient({}, { modelPath: model(fim), contextLength: 8192 });
  const editor = new FakeEditor();
  const sync = new DocumentSync({ client: t.c, logger: t.logger, documents: () => editor.list(), isEnabled: () => true });
  const calls: Call[] = [];
  /** Runs inside the first stream callback of the next request, before the engine sees the parts. */
  let onFirstPart: (() => void) | undefined;
  // The client as the engine sees it, recording each `complete` request and its result.
  const client = {
    get generation() {
      return t.c.generation;
    },
    request: t.c.request.bind(t.c),
    stream: (async (method: 'complete', params: Record<string, unknown>, onStream: (p: StreamPart[], n: number) => void, token?: CancelSource) => {
      const call: Call = { params };
      calls.push(call);
      let first = onFirstPart;
      onFirstPart = undefined;
      const result = await t.c.stream(
        method,
        params as never,
        (parts, n) => {
          if (first) {
            const f = first;
            first = undefined;
            f();
          }
          onStream(parts, n);
        },
        token,
      );
      call.result = result as CompleteResult;
      return result;
    }) as never,
  };
  const engine = new CompletionEngine({ client, sync, logger: t.logger, debounceMs: () => 0, ...extra });
  const uri = 'file:///work/orders.ts';
  editor.open(uri, TEXT, 'typescript');
  let cursor = CURSOR_AT;
  const type = (text: string) => {
    const ch = editor.edit(uri, cursor, 0, text);
    sync.didChange(editor.get(uri), [ch]);
    cursor += text.length;
  };
  const complete = (opts: { explicit?: boolean; token?: CancelSource; offset?: number } = {}) =>
    engine.complete({ doc: { ...editor.get(uri), path: 'orders.ts' }, offset: opts.offset ?? cursor, explicit: opts.explicit ?? true, token: opts.token });
  return { ...t, editor, sync, engine, calls, uri, type, complete, setCursor: (c: number) => (cursor = c), onFirstPart: (f: () => void) => (onFirstPart = f) };
}

/** Tokens the request read into the document's session (new and re-read) and in the fork. */
function reads(r: CompleteResult) {
  const s = r.stats;
  const session = s.keptTokens + s.readTokens - s.rereadTokens;
  return { session, fork: s.promptTokens - session, read: s.readTokens, kept: s.keptTokens, prompt: s.promptTokens };
}

for (const fim of [false, true]) {
  test(`${fim ? 'FIM' : 'prefix-only'} model: the first request reads the document up to the cursor; typing there reads only what was typed`, async () => {
    const t = setup(fim);
    await t.c.start();
    const first = await t.complete();
    assert.ok(first && !first.fromCache, 'a completion from the model');
    const r0 = reads(t.calls[0].result!);
    assert.equal(r0.kept, 0);
    assert.ok(r0.read > CURSOR_AT / 2, `the prefix is read once: ${JSON.stringify(r0)}`);
    if (fim) {
      const suffixTokens = t.calls[0].params.suffixTokens as number;
      assert.ok(suffixTokens > 0 && suffixTokens <= 128, `suffix window ${suffixTokens}`);
      assert.ok(r0.fork > 2 && r0.fork <= suffixTokens + 2, `suffix window and FIM tokens read in the fork: ${JSON.stringify(r0)}`);
    } else {
      assert.equal(t.calls[0].params.suffixTokens, 0);
      assert.equal(r0.fork, 0, 'prefix-only: nothing but the prefix');
    }
    let requests = 1;
    for (const typed of ['i', 'f', ' (', 'order', '.coupon', ' === ', '"SAVE10"', ') {']) {
      const shown = t.engine.last?.text ?? '';
      t.type(typed);
      const o = await t.complete();
      assert.ok(o, `an outcome after typing ${JSON.stringify(typed)}`);
      if (shown.startsWith(typed) && shown.length > typed.length) {
        assert.ok(o.fromCache, 'typed through the shown completion: from the cache');
        continue;
      }
      requests++;
      assert.equal(t.calls.length, requests);
      const r = reads(t.calls[t.calls.length - 1].result!);
      // What was typed, plus a few tokens before it (BPE merges across the cursor), from a pinned checkpoint
      assert.ok(r.read <= typed.length + 8, `typed ${JSON.stringify(typed)}: ${JSON.stringify(r)}`);
      assert.ok(r.kept >= r.session - typed.length - 8, `typed ${JSON.stringify(typed)}: ${JSON.stringify(r)}`);
      if (fim) assert.ok(r.fork <= (t.calls[t.calls.length - 1].params.suffixTokens as number) + 2, JSON.stringify(r));
    }
    // The worker's own log says the same: the last request kept the document and read a few tokens
    const line = t.logger.lines.filter((l) => /complete #\d+ file:\/\/\/work\/orders\.ts/.test(l)).pop();
    assert.ok(line, t.logger.lines.join('\n'));
    const m = /kept (\d+), re-read (\d+), read (\d+)/.exec(line);
    assert.ok(m && Number(m[1]) > CURSOR_AT / 2 && Number(m[3]) <= 11, line);
  });
}

test('typing the characters of a shown completion: its rest comes from the cache, without a request', async () => {
  const t = setup(false);
  await t.c.start();
  // the printable fixture's completion at the cursor (gibberish, but a real one)
  let shown: CompletionOutcome | undefined;
  for (const start of ['const rate = ', 'return order.', 'if (']) {
    t.type(start);
    shown = await t.complete();
    if (shown && shown.text.length >= 3) break;
  }
  assert.ok(shown && shown.text.length >= 3, `a completion of at least 3 characters: ${JSON.stringify(shown)}`);
  const requests = t.calls.length;
  t.type(shown.text[0]);
  const rest = await t.complete({ explicit: false });
  assert.deepEqual({ text: rest?.text, fromCache: rest?.fromCache }, { text: shown.text.slice(1), fromCache: true });
  t.type(shown.text.slice(1, 2));
  assert.equal((await t.complete())?.text, shown.text.slice(2));
  assert.equal(t.calls.length, requests, 'no request while typing through');
  // a character that is not the completion's: the model is asked again
  t.type(shown.text[2] === '~' ? '^' : '~');
  const next = await t.complete();
  assert.equal(next?.fromCache, false);
  assert.equal(t.calls.length, requests + 1);
});

test('a newer request for the same document supersedes the older: during the debounce, and while generating', async () => {
  const t = setup(false, { debounceMs: () => 150, shape: { maxTokensLine: 4000, maxTokensBlock: 4000 } });
  await t.c.start();
  t.type('return ');
  // during the debounce: the older one never reaches the worker
  const a = t.complete({ explicit: false });
  await new Promise((r) => setTimeout(r, 20));
  t.type('o');
  const b = t.complete({ explicit: true });
  assert.equal(await a, undefined);
  assert.ok(await b);
  assert.equal(t.calls.length, 1, 'only the newer request went to the worker');
  assert.equal(t.engine.counts.superseded, 1);
  // while generating: the first streamed part of the older one starts the newer one
  t.type('r');
  let newer: Promise<CompletionOutcome | undefined> | undefined;
  t.onFirstPart(() => {
    t.type('d');
    newer = t.complete();
  });
  const older = await t.complete();
  assert.equal(older, undefined, 'the superseded request shows nothing');
  assert.ok(await newer);
  const stopped = t.calls[1].result!;
  assert.ok(['cancelled', 'superseded'].includes(stopped.stopReason), stopped.stopReason);
  assert.ok(stopped.stats.generatedTokens < 4000, `the worker stopped it: ${stopped.stats.generatedTokens} tokens`);
});

test("VS Code's cancellation reaches the worker: the generation stops, nothing is shown or cached", async () => {
  const t = setup(true, { shape: { maxTokensLine: 4000, maxTokensBlock: 4000 } });
  await t.c.start();
  t.type('const rate = order.coupon ? ');
  const token = new CancelSource();
  t.onFirstPart(() => token.cancel('keystroke'));
  const t0 = Date.now();
  const o = await t.complete({ token });
  assert.equal(o, undefined);
  const r = t.calls[0].result!;
  assert.equal(r.stopReason, 'cancelled');
  assert.ok(r.stats.generatedTokens < 4000, `${r.stats.generatedTokens} tokens`);
  assert.ok(Date.now() - t0 < 20_000);
  assert.equal(t.engine.cache.size, 0, 'a cancelled completion is not cached');
  // a token cancelled before the request: no request at all
  const gone = new CancelSource();
  gone.cancel('keystroke');
  assert.equal(await t.complete({ token: gone }), undefined);
  assert.equal(t.calls.length, 1);
});

test("the host's stop rules end the generation early (the worker is told to stop)", async () => {
  const t = setup(false, { shape: { maxTokensLine: 1000, maxTokensBlock: 1000 } });
  await t.c.start();
  // a single-line completion inside `(…)` the document already closes: it ends at the model's first `)`,
  // `]` or `}` outside a string, or at a newline
  const line = 'const label = format(';
  t.type(line + ')');
  t.setCursor(CURSOR_AT + line.length);
  const o = await t.complete();
  assert.ok(o, 'an outcome');
  const r = t.calls[0].result!;
  assert.ok(o.stoppedByRules || r.stopReason === 'stop', `${r.stopReason}: ${JSON.stringify(o.generated)}`);
  assert.ok(r.stats.generatedTokens < 1000, `${r.stats.generatedTokens} tokens generated`);
  assert.ok(!o.text.includes('\n'), JSON.stringify(o.text));
});
