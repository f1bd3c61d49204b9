// Mirrors the editor's open text documents (of enabled languages) into the runtime worker: the whole text
// once when a document opens or a new worker starts, then only VS Code's content changes. The host owns
// the text, so a worker crash loses nothing: the start hook re-sends every open document to the next
// worker before it serves. A change the worker refuses (its copy is at another version) is answered by
// re-sending the whole text. No `vscode` import: documentSyncVscode.ts adapts the editor's events.
import { ContentChange, ErrorCode, MAX_DOCUMENT_CHARS, Method, RequestMap } from '../shared/protocol';
import { Logger, RuntimeClient, RuntimeError, StartContext } from './client';

export interface SyncDocument {
  uri: string;
  languageId: string;
  version: number;
  getText(): string;
}

export interface DocumentSyncOptions {
  client: RuntimeClient;
  /** The editor's open text documents. */
  documents(): readonly SyncDocument[];
  /** Whether a document is mirrored (enabled language, a file-like scheme). */
  isEnabled(doc: SyncDocument): boolean;
  logger: Logger;
}

export interface DocumentSyncStats {
  /** Whole texts sent: first opens, start re-syncs, repairs. */
  opens: number;
  edits: number;
  closes: number;
  /** Whole texts sent because the worker refused an edit or a version did not follow. */
  repairs: number;
}

export class DocumentSync {
  /** What the worker of `generation` holds: uri -> version. */
  private readonly sent = new Map<string, number>();
  /** The worker generation whose start hook has taken its snapshot of the documents. */
  private syncedGeneration = -1;
  private readonly hook: { dispose(): void };
  readonly stats: DocumentSyncStats = { opens: 0, edits: 0, closes: 0, repairs: 0 };

  constructor(private readonly opts: DocumentSyncOptions) {
    this.hook = opts.client.addStartHook((ctx) => this.resyncAll(ctx));
  }

  dispose(): void {
    this.hook.dispose();
  }

  didOpen(doc: SyncDocument): void {
    if (!this.opts.isEnabled(doc)) return;
    if (this.current()) this.sendOpen(doc);
  }

  didChange(doc: SyncDocument, changes: readonly ContentChange[]): void {
    if (!this.current()) return; // the next worker's start hook sends the text as it then is
    const version = this.sent.get(doc.uri);
    if (version === undefined) {
      // Not mirrored yet: a document that was too large, or became enabled.
      if (this.opts.isEnabled(doc)) this.sendOpen(doc);
      return;
    }
    if (changes.length === 0 || doc.version === version) return;
    if (doc.version !== version + 1) {
      // An event we did not see: the whole text is the only safe edit.
      this.opts.logger.debug(`document ${doc.uri}: version ${version} -> ${doc.version}, re-sending the text`);
      this.stats.repairs++;
      this.sendOpen(doc);
      return;
    }
    const params = { uri: doc.uri, version: doc.version, changes: changes.map(copyChange) };
    this.sent.set(doc.uri, doc.version);
    this.stats.edits++;
    this.send('editDocument', params)?.catch((e: unknown) => this.repair(doc, e));
  }

  didClose(uri: string): void {
    if (!this.sent.delete(uri)) return;
    if (!this.current()) return;
    this.stats.closes++;
    this.send('closeDocument', { uri })?.catch(() => undefined);
  }

  /** The enablement changed: mirror what is now enabled, drop what is not. */
  refresh(): void {
    if (!this.current()) return;
    const open = new Set<string>();
    for (const doc of this.opts.documents()) {
      open.add(doc.uri);
      const enabled = this.opts.isEnabled(doc);
      if (enabled && !this.sent.has(doc.uri)) this.sendOpen(doc);
      else if (!enabled && this.sent.has(doc.uri)) this.didClose(doc.uri);
    }
    for (const uri of [...this.sent.keys()]) if (!open.has(uri)) this.didClose(uri);
  }

  /**
   * Makes sure the worker holds this document at its current version (e.g. before a request for it, or
   * after the worker answered DocumentOutOfSync): re-sends the whole text if not.
   */
  async ensure(doc: SyncDocument): Promise<void> {
    if (this.current() && this.sent.get(doc.uri) === doc.version) return;
    await this.opts.client.start();
    if (this.sent.get(doc.uri) !== doc.version && this.opts.isEnabled(doc)) {
      this.stats.repairs++;
      await this.sendOpen(doc);
    }
  }

  /** Whether the current worker has taken its snapshot (else its start hook will send the documents). */
  private current(): boolean {
    const g = this.opts.client.generation;
    return g >= 0 && g === this.syncedGeneration;
  }

  private send<M extends Method>(method: M, params: RequestMap[M]['params']): Promise<RequestMap[M]['result']> | undefined {
    return this.opts.client.sendToGeneration(this.syncedGeneration, method, params);
  }

  private sendOpen(doc: SyncDocument): Promise<void> {
    const text = doc.getText();
    if (text.length > MAX_DOCUMENT_CHARS) {
      this.sent.delete(doc.uri);
      this.opts.logger.info(`document ${doc.uri} is too large to mirror (${text.length} characters)`);
      return Promise.resolve();
    }
    this.sent.set(doc.uri, doc.version);
    this.stats.opens++;
    const p = this.send('openDocument', { uri: doc.uri, languageId: doc.languageId, version: doc.version, text });
    return (p ?? Promise.resolve()).then(
      () => undefined,
      (e: unknown) => {
        if (this.sent.get(doc.uri) === doc.version) this.sent.delete(doc.uri);
        this.opts.logger.warn(`document ${doc.uri} could not be sent to the runtime: ${(e as Error).message}`);
      },
    );
  }

  private repair(doc: SyncDocument, e: unknown): void {
    const code = e instanceof RuntimeError ? e.code : undefined;
    if (code !== ErrorCode.DocumentOutOfSync && code !== ErrorCode.DocumentNotOpen) return; // a crash: the restart re-syncs
    this.opts.logger.warn(`the runtime refused an edit (${(e as Error).message}); re-sending ${doc.uri}`);
    this.stats.repairs++;
    this.sent.delete(doc.uri);
    const latest = this.opts.documents().find((d) => d.uri === doc.uri);
    if (latest && this.opts.isEnabled(latest)) void this.sendOpen(latest);
  }

  /** Start hook: a new worker gets every enabled open document's whole text, before it serves. */
  private async resyncAll(ctx: StartContext): Promise<void> {
    this.sent.clear();
    this.syncedGeneration = ctx.generation;
    const docs = this.opts.documents().filter((d) => this.opts.isEnabled(d));
    const sends = docs.map((doc) => {
      const text = doc.getText();
      if (text.length > MAX_DOCUMENT_CHARS) return Promise.resolve();
      this.sent.set(doc.uri, doc.version);
      this.stats.opens++;
      return ctx
        .request('openDocument', { uri: doc.uri, languageId: doc.languageId, version: doc.version, text })
        .then(() => undefined);
    });
    await Promise.all(sends);
    if (docs.length > 0) this.opts.logger.info(`sent ${docs.length} open document(s) to the runtime worker`);
  }
}

function copyChange(c: ContentChange): ContentChange {
  return {
    range: { start: { line: c.range.start.line, character: c.range.start.character }, end: { line: c.range.end.line, character: c.range.end.character } },
    rangeOffset: c.rangeOffset,
    rangeLength: c.rangeLength,
    text: c.text,
  };
}
