// Shared by the runtime and worker tests: a real worker process (dist/worker.js, which loads the native
// addon from native/build or HYBRID_ADDON_PATH), fixture models written by test/fixtures, and small waits.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { defaultVocab, TOKEN_TYPE } from '../fixtures/default-vocab';
import { writeNemotronH } from '../fixtures/nemotron-h';
import { Logger, RuntimeClient, RuntimeClientOptions, RuntimeState } from '../../src/runtime/client';
import type { InitializeParams } from '../../src/shared/protocol';

export const root = path.resolve(__dirname, '..', '..', '..');
export const workerPath = path.join(root, 'dist', 'worker.js');

const fixtureDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hybrid-runtime-test-'));
process.on('exit', () => fs.rmSync(fixtureDir, { recursive: true, force: true }));

/** The tiny fixture model (q8_0, seed 1): the default vocabulary plus <think> and </think> as control tokens. */
export function tinyModel(): string {
  const p = path.join(fixtureDir, 'tiny-think-q8_0.gguf');
  if (!fs.existsSync(p)) {
    const vocab = defaultVocab();
    vocab.tokens.push('<think>', '</think>');
    vocab.tokenTypes?.push(TOKEN_TYPE.control, TOKEN_TYPE.control);
    writeNemotronH('tiny', p, { seed: 1, format: 'q8_0', tokenizer: vocab });
  }
  return p;
}

/** A file that is not a model. */
export function corruptModel(): string {
  const p = path.join(fixtureDir, 'corrupt.gguf');
  fs.writeFileSync(p, Buffer.concat([Buffer.from('GGUF'), Buffer.alloc(60, 0xff)]));
  return p;
}

/** A file in this run's scratch folder (removed at exit). */
export function scratchFile(name: string, content: string): string {
  const p = path.join(fixtureDir, name);
  fs.writeFileSync(p, content);
  return p;
}

/** A worker script that crashes (SIGSEGV) as soon as it starts. */
export function crashingWorker(): string {
  return scratchFile('crashing-worker.js', "process.kill(process.pid, 'SIGSEGV');\n");
}

export function settings(extra: Partial<InitializeParams> = {}): InitializeParams {
  return { device: 'cpu', threads: 1, contextLength: 2048, stateMemoryBudgetMB: 64, ...extra };
}

export function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const push = (level: string) => (m: string) => lines.push(`${level}: ${m}`);
  return { lines, trace: push('trace'), debug: push('debug'), info: push('info'), warn: push('warn'), error: push('error') };
}

export interface TestClient {
  c: RuntimeClient;
  logger: Logger & { lines: string[] };
  states: { state: RuntimeState; detail?: string }[];
}

const clients: RuntimeClient[] = [];

/** A client with fast restarts and heartbeats; disposed by disposeClients(). */
export function makeClient(extra: Partial<RuntimeClientOptions> = {}, init: Partial<InitializeParams> = {}): TestClient {
  const logger = memoryLogger();
  const states: TestClient['states'] = [];
  const c = new RuntimeClient({
    workerPath,
    settings: () => settings(init),
    logger,
    restart: { minDelayMs: 20, maxDelayMs: 100, maxCrashes: 3, windowMs: 60_000 },
    heartbeat: { intervalMs: 200, timeoutMs: 3000 },
    onStateChange: (state, detail) => states.push({ state, detail }),
    ...extra,
  });
  clients.push(c);
  return { c, logger, states };
}

export async function disposeClients(): Promise<void> {
  await Promise.all(clients.splice(0).map((c) => c.dispose()));
}

export function waitFor(cond: () => boolean, ms = 15_000, what = 'a condition'): Promise<void> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (cond()) resolve();
      else if (Date.now() - t0 > ms) reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
      else setTimeout(tick, 5);
    };
    tick();
  });
}

/** A cancellation token like vscode's, for tests. */
export function cancellation(): { token: { isCancellationRequested: boolean; onCancellationRequested(l: () => unknown): { dispose(): void } }; cancel(): void } {
  const listeners = new Set<() => unknown>();
  const token = {
    isCancellationRequested: false,
    onCancellationRequested(l: () => unknown) {
      listeners.add(l);
      return { dispose: () => listeners.delete(l) };
    },
  };
  return {
    token,
    cancel() {
      if (token.isCancellationRequested) return;
      token.isCancellationRequested = true;
      for (const l of [...listeners]) l();
    },
  };
}

/** A stand-in for the editor's open documents, to drive DocumentSync without VS Code. */
export class FakeEditor {
  readonly docs = new Map<string, { uri: string; languageId: string; version: number; text: string }>();

  open(uri: string, text: string, languageId = 'typescript'): SyncDocumentLike {
    this.docs.set(uri, { uri, languageId, version: 1, text });
    return this.get(uri);
  }

  /** Replaces [offset, offset + length) with text, as one content change; returns it. */
  edit(uri: string, offset: number, length: number, text: string): ContentChangeLike {
    const d = this.docs.get(uri);
    if (!d) throw new Error(`no document ${uri}`);
    d.text = d.text.slice(0, offset) + text + d.text.slice(offset + length);
    d.version++;
    const pos = { line: 0, character: 0 };
    return { range: { start: pos, end: pos }, rangeOffset: offset, rangeLength: length, text };
  }

  get(uri: string): SyncDocumentLike {
    const d = this.docs.get(uri);
    if (!d) throw new Error(`no document ${uri}`);
    return { uri: d.uri, languageId: d.languageId, version: d.version, getText: () => d.text };
  }

  list(): SyncDocumentLike[] {
    return [...this.docs.keys()].map((u) => this.get(u));
  }
}

type SyncDocumentLike = { uri: string; languageId: string; version: number; getText(): string };
type ContentChangeLike = import('../../src/shared/protocol').ContentChange;
