// The pure parts of a resumable download: what to ask for after an interruption (an HTTP range from the
// bytes already on disk), what the answer means (RFC 9110 §14.4 Content-Range: a 206 must continue exactly
// where the partial file ends; a 200 starts over), which SHA-256 the file must have (the catalogue's, else
// the server's X-Linked-Etag / ETag when it is one), and the progress line (bytes, rate, time left).
import { formatBytes } from '../format';

export interface ContentRange {
  start: number;
  end: number;
  /** undefined when the server says `*`. */
  total?: number;
}

/** `bytes 100-199/1000` (or `/*`); undefined when malformed. */
export function parseContentRange(header: string | undefined): ContentRange | undefined {
  const m = /^\s*bytes\s+(\d+)-(\d+)\/(\d+|\*)\s*$/i.exec(header ?? '');
  if (!m) return undefined;
  const start = Number(m[1]);
  const end = Number(m[2]);
  const total = m[3] === '*' ? undefined : Number(m[3]);
  if (end < start || (total !== undefined && end >= total)) return undefined;
  return { start, end, total };
}

export type ResumeDecision =
  | { kind: 'append'; total?: number }
  | { kind: 'restart'; total?: number; reason: string }
  | { kind: 'complete'; total: number }
  | { kind: 'fail'; reason: string };

/**
 * What a response to a request for bytes `have-` means. `status`: the HTTP status; `contentLength` of
 * the body; `contentRange` header.
 */
export function resumeDecision(have: number, status: number, contentLength: number | undefined, contentRange: string | undefined): ResumeDecision {
  if (status === 200) {
    return have > 0
      ? { kind: 'restart', total: contentLength, reason: 'the server sent the whole file again (no range support)' }
      : { kind: 'append', total: contentLength };
  }
  if (status === 206) {
    const r = parseContentRange(contentRange);
    if (!r) return { kind: 'fail', reason: `the server answered a range request with a malformed Content-Range "${contentRange ?? ''}"` };
    if (r.start !== have) return { kind: 'fail', reason: `the server resumed at byte ${r.start}, not at ${have}` };
    return { kind: 'append', total: r.total };
  }
  if (status === 416) {
    const r = /\/(\d+)\s*$/.exec(contentRange ?? '');
    const total = r ? Number(r[1]) : undefined;
    if (total !== undefined && total === have) return { kind: 'complete', total };
    return { kind: 'restart', total, reason: `the partial file (${have} bytes) does not fit the server's file${total !== undefined ? ` (${total} bytes)` : ''}` };
  }
  return { kind: 'fail', reason: `HTTP ${status}` };
}

/** Whether an HTTP status is worth retrying (the server's trouble, not the request's). */
export function retryableStatus(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || status >= 500;
}

const SHA256 = /^[0-9a-f]{64}$/;

/**
 * The SHA-256 the file must have: the catalogue's, else the one the server states. Hugging Face sends the
 * LFS object id (its SHA-256) as X-Linked-Etag on a /resolve/ redirect, and as the ETag of LFS files.
 */
export function expectedSha256(catalog: string | undefined, headers: Readonly<Record<string, string | string[] | undefined>>): { sha256?: string; source: 'catalog' | 'server' | 'none' } {
  if (catalog) return { sha256: catalog.toLowerCase(), source: 'catalog' };
  for (const name of ['x-linked-etag', 'etag']) {
    const raw = headers[name];
    const v = (Array.isArray(raw) ? raw[0] : raw)?.replace(/^W\//, '').replace(/"/g, '').trim().toLowerCase();
    if (v && SHA256.test(v)) return { sha256: v, source: 'server' };
  }
  return { source: 'none' };
}

/** Bytes per second over the last few seconds, and the time left at that rate. */
export class ProgressMeter {
  private readonly samples: { t: number; bytes: number }[] = [];

  constructor(private readonly windowMs = 5000) {}

  /** `bytes`: received so far (in this file, resumed bytes included); `t`: ms. */
  update(bytes: number, t: number): void {
    this.samples.push({ t, bytes });
    while (this.samples.length > 2 && t - this.samples[0].t > this.windowMs) this.samples.shift();
  }

  /** Bytes per second; 0 until two samples. */
  rate(): number {
    if (this.samples.length < 2) return 0;
    const a = this.samples[0];
    const b = this.samples[this.samples.length - 1];
    return b.t > a.t ? ((b.bytes - a.bytes) * 1000) / (b.t - a.t) : 0;
  }

  /** Seconds left, or undefined when the rate or total is unknown. */
  eta(total: number | undefined): number | undefined {
    const r = this.rate();
    const last = this.samples[this.samples.length - 1];
    if (!total || !last || r <= 0) return undefined;
    return Math.max(0, (total - last.bytes) / r);
  }
}

export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${Math.ceil(seconds)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
}

/** "1.2 GiB of 4.6 GiB (26%), 24.1 MiB/s, 2 min 30 s left" */
export function progressLine(received: number, total: number | undefined, rate: number, eta: number | undefined): string {
  const parts = [total ? `${formatBytes(received)} of ${formatBytes(total)} (${Math.floor((received / total) * 100)}%)` : formatBytes(received)];
  if (rate > 0) parts.push(`${formatBytes(rate)}/s`);
  if (eta !== undefined) parts.push(`${formatDuration(eta)} left`);
  return parts.join(', ');
}
