// The worker's copy of the editor's open documents, kept in step by VS Code's content changes (never whole
// texts after the first). Applying an edit computes nothing: it only notes the first offset that changed
// (`staleFrom`); the document's session re-reads from there when a request next needs it.
import type { ContentChange, DocumentSummary, EditDocumentParams, OpenDocumentParams } from '../shared/protocol';

export interface MirroredDocument {
  uri: string;
  languageId: string;
  version: number;
  text: string;
  /** First UTF-16 offset changed since a request last read the document; -1 when nothing changed. */
  staleFrom: number;
}

export class DocumentError extends Error {
  constructor(
    message: string,
    readonly kind: 'notOpen' | 'outOfSync',
  ) {
    super(message);
    this.name = 'DocumentError';
  }
}

/** 32-bit FNV-1a over UTF-16 code units: lets tests compare the mirror with the editor without the text. */
export function textHash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}

export class DocumentStore {
  private readonly docs = new Map<string, MirroredDocument>();

  get size(): number {
    return this.docs.size;
  }

  get totalChars(): number {
    let n = 0;
    for (const d of this.docs.values()) n += d.text.length;
    return n;
  }

  /** Opens or replaces (a re-sync after a restart or a refused edit) a document. */
  open(p: OpenDocumentParams): MirroredDocument {
    const doc: MirroredDocument = { uri: p.uri, languageId: p.languageId, version: p.version, text: p.text, staleFrom: 0 };
    this.docs.set(p.uri, doc);
    return doc;
  }

  /**
   * Applies VS Code's content changes in order (each one's offsets refer to the text the previous one left,
   * as vscode.TextDocumentContentChangeEvent and LSP incremental sync define them). All or nothing: an edit
   * that does not fit the text leaves the document as it was and throws (the host then re-opens it).
   */
  edit(p: EditDocumentParams): MirroredDocument {
    const doc = this.docs.get(p.uri);
    if (!doc) throw new DocumentError(`document ${p.uri} is not open in the runtime worker`, 'notOpen');
    if (p.version <= doc.version) {
      throw new DocumentError(
        `edit of ${p.uri} to version ${p.version}, but the worker already has version ${doc.version}`,
        'outOfSync',
      );
    }
    let text = doc.text;
    let staleFrom = doc.staleFrom;
    for (let i = 0; i < p.changes.length; i++) {
      const c: ContentChange = p.changes[i];
      if (c.rangeOffset + c.rangeLength > text.length) {
        throw new DocumentError(
          `edit of ${p.uri} to version ${p.version}: change ${i} replaces [${c.rangeOffset}, ${c.rangeOffset + c.rangeLength}) ` +
            `but the worker's copy (version ${doc.version}) has ${text.length} characters`,
          'outOfSync',
        );
      }
      text = text.slice(0, c.rangeOffset) + c.text + text.slice(c.rangeOffset + c.rangeLength);
      staleFrom = staleFrom < 0 ? c.rangeOffset : Math.min(staleFrom, c.rangeOffset);
    }
    doc.text = text;
    doc.version = p.version;
    doc.staleFrom = staleFrom;
    return doc;
  }

  close(uri: string): boolean {
    return this.docs.delete(uri);
  }

  get(uri: string): MirroredDocument | undefined {
    return this.docs.get(uri);
  }

  /** The document at exactly this version, or a DocumentError that says what the worker has. */
  require(uri: string, version: number): MirroredDocument {
    const doc = this.docs.get(uri);
    if (!doc) throw new DocumentError(`document ${uri} is not open in the runtime worker`, 'notOpen');
    if (doc.version !== version) {
      throw new DocumentError(`document ${uri}: the request is for version ${version}, the worker has version ${doc.version}`, 'outOfSync');
    }
    return doc;
  }

  all(): MirroredDocument[] {
    return [...this.docs.values()];
  }

  summary(doc: MirroredDocument): DocumentSummary {
    return {
      uri: doc.uri,
      languageId: doc.languageId,
      version: doc.version,
      length: doc.text.length,
      staleFrom: doc.staleFrom,
      hash: textHash(doc.text),
    };
  }
}
