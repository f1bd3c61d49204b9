// The inline-completion pipeline of one editor, without the editor: cache -> placement -> debounce ->
// (supersede older requests for the document) -> document sync -> `complete` in the worker, with the stop
// rules applied to the stream (the generation is cancelled as soon as they end the completion) ->
// post-processing -> cache. provider.ts adapts VS Code's InlineCompletionItemProvider to it; the tests and
// the benchmark drive it directly. No `vscode` import.
import { performance } from 'perf_hooks';
import type { CompletionTransport } from '../runtime/backend';
import { RuntimeError } from '../runtime/client';
import type { SyncDocument } from '../runtime/documentSync';
import { CompletionCache } from '../shared/completions/cache';
import { CancelSource, CancellationLike } from '../shared/completions/cancel';
import { buildContext, placement } from '../shared/completions/context';
import { debounceDelay, wait } from '../shared/completions/debounce';
import { finalize } from '../shared/completions/postprocess';
import { ModelFacts, modelFacts, ShapeOptions, shapeRequest } from '../shared/completions/prompt';
import { StopRules } from '../shared/completions/stop';
import { ErrorCode, GenerationStats, StopReason } from '../shared/protocol';
import type { Logger } from '../runtime/client';

export interface EngineDocument extends SyncDocument {
  /** Workspace-relative path, for the context header. */
  path?: string;
}

export interface EngineRequest {
  doc: EngineDocument;
  offset: number;
  /** The user asked (no debounce). */
  explicit: boolean;
  token?: CancellationLike;
}

export interface CompletionOutcome {
  /** What to show at the cursor ('' for nothing). */
  text: string;
  fromCache: boolean;
  /** From the call to the text being ready, ms; `waitMs` of it in the debounce. */
  latencyMs: number;
  waitMs: number;
  /** When the worker was asked: its stats, its stop reason, and what it generated before the host's rules. */
  stats?: GenerationStats;
  stopReason?: StopReason;
  /** The host's stop rules ended it (and cancelled the rest of the generation). */
  stoppedByRules?: boolean;
  generated?: string;
  dropped?: string;
  /** Keystroke (call) -> first streamed token arriving in the host, ms. */
  firstTokenMs?: number;
}

export interface EngineOptions {
  /** The local worker (a RuntimeClient) or a remote endpoint (src/runtime/backend.ts). */
  client: CompletionTransport;
  /** The document mirror: ensure() before a request (a no-op when the worker has this version). */
  sync: { ensure(doc: SyncDocument): Promise<void> };
  logger: Logger;
  debounceMs: () => number;
  shape?: ShapeOptions;
  /** Each request's outcome (status bar, tests). */
  onOutcome?: (o: CompletionOutcome, req: EngineRequest) => void;
}

/** Outcomes that end without a completion but are no error. */
const QUIET_ERRORS = new Set<number>([ErrorCode.Cancelled, ErrorCode.DocumentOutOfSync, ErrorCode.DocumentNotOpen, ErrorCode.NoModel]);

export class CompletionEngine {
  readonly cache = new CompletionCache();
  private readonly inflight = new Map<string, CancelSource>();
  private model: { generation: number; facts: ModelFacts | undefined } | undefined;
  /** Requests sent to the worker, and superseded before they ended. */
  readonly counts = { requests: 0, superseded: 0, cacheHits: 0, skipped: 0 };
  last: CompletionOutcome | undefined;

  constructor(private readonly opts: EngineOptions) {}

  async complete(req: EngineRequest): Promise<CompletionOutcome | undefined> {
    const t0 = performance.now();
    const { doc, offset } = req;
    const text = doc.getText();
    const version = doc.version;
    const hit = this.cache.get(doc.uri, version, text, offset);
    if (hit) {
      this.counts.cacheHits++;
      // A newer state of the document: an older request for it is pointless now.
      this.inflight.get(doc.uri)?.cancel('superseded');
      return this.report(req, { text: hit.text, fromCache: true, latencyMs: performance.now() - t0, waitMs: 0 });
    }
    const ctx = buildContext(text, offset, doc.languageId, doc.path);
    const where = placement(ctx, req.explicit);
    if (!where.ok) {
      this.counts.skipped++;
      this.opts.logger.trace(`completion skipped at ${doc.uri}@${offset}: ${where.reason}`);
      return undefined;
    }
    // A newer request for the same document supersedes the older one (the worker does the same on arrival).
    const src = new CancelSource(req.token);
    const previous = this.inflight.get(doc.uri);
    if (previous) {
      previous.cancel('superseded');
      this.counts.superseded++;
    }
    this.inflight.set(doc.uri, src);
    try {
      const waitMs = debounceDelay(req.explicit, this.opts.debounceMs());
      if (!(await wait(waitMs, src))) return undefined;
      const tWait = performance.now();
      await this.opts.sync.ensure(doc);
      const model = await this.modelFacts();
      if (!model || src.isCancellationRequested) return undefined;
      const shape = shapeRequest(ctx, where, model, this.opts.shape);
      const rules = new StopRules(ctx, where);
      let generated = '';
      let firstTokenMs: number | undefined;
      this.counts.requests++;
      const result = await this.opts.client.stream(
        'complete',
        { uri: doc.uri, version, offset, maxTokens: shape.maxTokens, stop: shape.stop, suffixTokens: shape.suffixTokens, header: shape.header || undefined },
        (parts) => {
          firstTokenMs ??= performance.now() - t0;
          for (const p of parts) {
            generated += p.text;
            if (rules.push(p.text)) src.cancel('stop rules');
          }
        },
        src,
      );
      const byRules = src.reason === 'stop rules';
      if (src.isCancellationRequested && !byRules) {
        this.opts.logger.trace(`completion at ${doc.uri}@${offset} ${src.reason === 'parent' ? 'cancelled' : src.reason}`);
        return undefined;
      }
      let cut = rules.finish();
      if (!byRules && result.text !== generated) {
        // The stream makes up the result, in order; should they ever differ, the result is the truth.
        generated = result.text;
        const again = new StopRules(ctx, where);
        again.push(generated);
        cut = again.finish();
      }
      const fin = finalize(ctx, where, cut);
      this.cache.put(doc.uri, version, text, offset, fin.text);
      const outcome: CompletionOutcome = {
        text: fin.text,
        fromCache: false,
        latencyMs: performance.now() - t0,
        waitMs: tWait - t0,
        stats: result.stats,
        stopReason: result.stopReason,
        stoppedByRules: byRules,
        generated,
        dropped: fin.dropped,
        firstTokenMs,
      };
      const s = result.stats;
      this.opts.logger.debug(
        `completion ${doc.uri}@${offset} v${version}: ${JSON.stringify(fin.text.slice(0, 80))}${fin.dropped ? ` (dropped: ${fin.dropped})` : ''}; ` +
          `${Math.round(outcome.latencyMs - outcome.waitMs)} ms after the debounce, prompt ${s.promptTokens} tokens (kept ${s.keptTokens}, read ${s.readTokens}), ` +
          `${s.generatedTokens} generated, stop: ${byRules ? 'host rules' : result.stopReason}`,
      );
      return this.report(req, outcome);
    } catch (e) {
      const code = e instanceof RuntimeError ? e.code : undefined;
      if (code !== undefined && QUIET_ERRORS.has(code)) {
        this.opts.logger.debug(`completion at ${doc.uri}@${offset}: ${(e as Error).message}`);
      } else {
        this.opts.logger.warn(`completion at ${doc.uri}@${offset} failed: ${(e as Error).message}`);
      }
      return undefined;
    } finally {
      src.dispose();
      if (this.inflight.get(doc.uri) === src) this.inflight.delete(doc.uri);
    }
  }

  /** Forget what was computed for a document (closed), or all (the model changed). */
  forget(uri?: string): void {
    this.cache.clear(uri);
    if (uri === undefined) this.model = undefined;
  }

  private report(req: EngineRequest, o: CompletionOutcome): CompletionOutcome {
    this.last = o;
    this.opts.onOutcome?.(o, req);
    return o;
  }

  /** The loaded model's prompt shape, asked once per worker (a restart may load another model). */
  private async modelFacts(): Promise<ModelFacts | undefined> {
    const generation = this.opts.client.generation;
    if (this.model && this.model.generation === generation && this.model.facts) return this.model.facts;
    // Another worker may hold another model: what was computed with the last one is stale.
    if (this.model && this.model.generation !== generation) this.cache.clear();
    if (this.opts.client.modelFacts) {
      const facts = await this.opts.client.modelFacts();
      this.model = { generation: this.opts.client.generation, facts };
      if (!facts) this.opts.logger.debug('no completion: no model serves');
      return facts;
    }
    const info = await this.opts.client.request('info', {});
    const load = info.model.load;
    const facts = load.state === 'loaded' ? modelFacts(load.info) : undefined;
    this.model = { generation: this.opts.client.generation, facts };
    if (!facts) this.opts.logger.debug(`no completion: the model is ${load.state}${load.state === 'failed' ? ` (${load.error})` : ''}`);
    return facts;
  }
}
