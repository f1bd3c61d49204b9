// Downloads a model file resumably: into `<dest>.part` (with `<dest>.part.json` saying which URL it is from),
// continuing with an HTTP range request after a dropped connection, a stalled server or a cancel; the
// SHA-256 is computed over the whole file (the partial bytes re-read on resume) and checked before an
// atomic rename to `dest`. A failure never leaves a file under the final name; a wrong checksum deletes the
// partial file too, since its bytes cannot be trusted. Node only (http, https, fs, crypto); no vscode import,
// so the tests drive it against a server of their own on 127.0.0.1.
import { createHash, Hash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import { checkDownloadUrl } from '../shared/models/catalog';
import { expectedSha256, ProgressMeter, resumeDecision, retryableStatus } from '../shared/models/download';
import { formatBytes } from '../shared/format';

export type DownloadErrorKind = 'http' | 'checksum' | 'size' | 'disk' | 'cancelled' | 'network' | 'url';

export class DownloadError extends Error {
  constructor(
    readonly kind: DownloadErrorKind,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'DownloadError';
  }
}

export interface DownloadProgress {
  received: number;
  total?: number;
  /** Bytes per second. */
  rate: number;
  /** Seconds left. */
  eta?: number;
  /** Bytes that were already on disk when this download started. */
  resumedFrom: number;
}

export interface DownloadOptions {
  url: string;
  /** The final path. */
  dest: string;
  /** Lowercase hex; else the server's stated hash (X-Linked-Etag / ETag) is used when it gives one. */
  sha256?: string;
  /** Refuse a file whose hash cannot be checked (no catalogue hash, none from the server). Default false. */
  requireChecksum?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: DownloadProgress) => void;
  /** Attempts after an interruption (dropped connection, stall, 5xx); default 5. */
  retries?: number;
  /** No byte for this long: the connection is dropped and resumed; default 30 s. */
  stallTimeoutMs?: number;
  /** First back-off delay, doubled per retry (at most 10 s); default 1 s. */
  retryDelayMs?: number;
  /** Free bytes on the destination's disk (default: fs.statfs); undefined when unknown. */
  freeBytes?: (dir: string) => Promise<number | undefined>;
  /** Log lines (each attempt, resumes, the checksum). */
  log?: (line: string) => void;
}

export interface DownloadResult {
  path: string;
  bytes: number;
  sha256: string;
  checksum: 'catalog' | 'server' | 'none';
  resumedFrom: number;
  attempts: number;
}

interface PartMeta {
  url: string;
  total?: number;
  sha256?: string;
}

export function partPaths(dest: string): { part: string; meta: string } {
  return { part: `${dest}.part`, meta: `${dest}.part.json` };
}

/** Bytes already downloaded toward `dest` from `url` (0 when none, or when the partial file is from another URL). */
export function partialBytes(dest: string, url?: string): number {
  const { part, meta } = partPaths(dest);
  try {
    const m = JSON.parse(fs.readFileSync(meta, 'utf8')) as PartMeta;
    if (url !== undefined && m.url !== url) return 0;
    return fs.statSync(part).size;
  } catch {
    return 0;
  }
}

export function removePartial(dest: string): void {
  const { part, meta } = partPaths(dest);
  fs.rmSync(part, { force: true });
  fs.rmSync(meta, { force: true });
}

async function statfsFree(dir: string): Promise<number | undefined> {
  try {
    const s = await fs.promises.statfs(dir);
    return Number(s.bavail) * Number(s.bsize);
  } catch {
    return undefined;
  }
}

async function hashFile(file: string, hash: Hash, signal?: AbortSignal): Promise<void> {
  const stream = fs.createReadStream(file, { highWaterMark: 1 << 20 });
  for await (const chunk of stream) {
    if (signal?.aborted) {
      stream.destroy();
      throw new DownloadError('cancelled', 'the download was cancelled');
    }
    hash.update(chunk as Buffer);
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(new DownloadError('cancelled', 'the download was cancelled'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: http.IncomingMessage;
  /** Headers of the redirects on the way (Hugging Face states the hash on its redirect). */
  redirectHeaders: http.IncomingHttpHeaders[];
  finalUrl: string;
}

/** GET with redirects followed (at most 8), a Range header when `from` > 0. */
function get(url: string, from: number, signal: AbortSignal | undefined, stallMs: number): Promise<Response> {
  const redirectHeaders: http.IncomingHttpHeaders[] = [];
  const attempt = (current: string, hops: number): Promise<Response> =>
    new Promise((resolve, reject) => {
      const u = new URL(current);
      const bad = checkDownloadUrl(current);
      if (bad) return reject(new DownloadError('url', bad));
      const lib = u.protocol === 'https:' ? https : http;
      const headers: Record<string, string> = { 'user-agent': 'hybrid-copilot', 'accept-encoding': 'identity' };
      if (from > 0) headers.range = `bytes=${from}-`;
      const req = lib.get(u, { headers, signal, timeout: stallMs }, (res) => {
        const status = res.statusCode ?? 0;
        if ([301, 302, 303, 307, 308].includes(status) && res.headers.location) {
          res.resume();
          if (hops >= 8) return reject(new DownloadError('http', `too many redirects from ${url}`));
          redirectHeaders.push(res.headers);
          attempt(new URL(res.headers.location, current).toString(), hops + 1).then(resolve, reject);
          return;
        }
        resolve({ status, headers: res.headers, body: res, redirectHeaders, finalUrl: current });
      });
      req.on('timeout', () => req.destroy(new DownloadError('network', `no answer from ${u.host} for ${Math.round(stallMs / 1000)} s`)));
      req.on('error', (e) => reject(e));
    });
  return attempt(url, 0);
}

export async function downloadFile(o: DownloadOptions): Promise<DownloadResult> {
  const bad = checkDownloadUrl(o.url);
  if (bad) throw new DownloadError('url', bad);
  const retries = o.retries ?? 5;
  const stallMs = o.stallTimeoutMs ?? 30_000;
  const log = o.log ?? (() => undefined);
  const { part, meta } = partPaths(o.dest);
  fs.mkdirSync(path.dirname(o.dest), { recursive: true });
  const cancelled = () => new DownloadError('cancelled', 'the download was cancelled; run it again to resume');
  const backoff = (failures: number) => sleep(Math.min(10_000, (o.retryDelayMs ?? 1000) * 2 ** (failures - 1)), o.signal);

  // A partial file from another URL is not this file.
  let saved: PartMeta | undefined;
  try {
    saved = JSON.parse(fs.readFileSync(meta, 'utf8')) as PartMeta;
  } catch {
    saved = undefined;
  }
  if (!saved || saved.url !== o.url) removePartial(o.dest);
  let have = fs.existsSync(part) ? fs.statSync(part).size : 0;
  const resumedFrom = have;
  if (have > 0) log(`resuming ${path.basename(o.dest)} at ${formatBytes(have)}`);

  // The hash always covers exactly the bytes in the partial file.
  let hash = createHash('sha256');
  if (have > 0) await hashFile(part, hash, o.signal);
  let total = saved?.total;
  let sha = o.sha256?.toLowerCase() ?? saved?.sha256;
  let checksum: DownloadResult['checksum'] = o.sha256 ? 'catalog' : saved?.sha256 ? 'server' : 'none';
  const meter = new ProgressMeter();
  meter.update(have, performance.now());
  const freeBytes = o.freeBytes ?? statfsFree;
  let attempts = 0;
  let failures = 0;
  let diskChecked = false;

  for (;;) {
    if (o.signal?.aborted) throw cancelled();
    if (total !== undefined && have === total) break;
    attempts++;
    let res: Response;
    try {
      res = await get(o.url, have, o.signal, stallMs);
    } catch (e) {
      if (o.signal?.aborted) throw cancelled();
      if (e instanceof DownloadError && e.kind !== 'network') throw e;
      if (++failures > retries) throw new DownloadError('network', `the download failed after ${attempts} attempts: ${(e as Error).message}`);
      log(`attempt ${attempts} failed (${(e as Error).message}); retrying`);
      await backoff(failures);
      continue;
    }
    const length = res.headers['content-length'] !== undefined ? Number(res.headers['content-length']) : undefined;
    if (res.status >= 400 && res.status !== 416) {
      res.body.resume();
      if (retryableStatus(res.status) && ++failures <= retries) {
        log(`attempt ${attempts}: HTTP ${res.status}; retrying`);
        await backoff(failures);
        continue;
      }
      throw new DownloadError('http', `the server answered HTTP ${res.status}${res.status === 404 ? ' (not found)' : ''} for ${res.finalUrl}`, res.status);
    }
    const decision = resumeDecision(have, res.status, length, res.headers['content-range'] as string | undefined);
    if (decision.kind === 'fail') {
      res.body.resume();
      throw new DownloadError('http', `the download cannot continue: ${decision.reason}`, res.status);
    }
    if (decision.kind === 'complete') {
      res.body.resume();
      total = decision.total;
      break;
    }
    if (decision.kind === 'restart') {
      // This response is the whole file (or the partial one is unusable): start over from byte 0.
      log(`starting over: ${decision.reason}`);
      removePartial(o.dest);
      have = 0;
      hash = createHash('sha256');
      if (res.status !== 200) {
        res.body.resume();
        total = undefined;
        continue;
      }
      total = decision.total;
    } else if (decision.total !== undefined) {
      if (total !== undefined && decision.total !== total) {
        res.body.resume();
        removePartial(o.dest);
        throw new DownloadError('size', `the file on the server changed size (${total} -> ${decision.total} bytes); run the download again`);
      }
      total = decision.total;
    }
    if (!sha) {
      const stated = expectedSha256(undefined, Object.assign({}, ...res.redirectHeaders, res.headers));
      if (stated.sha256) {
        sha = stated.sha256;
        checksum = 'server';
      }
    }
    if (!diskChecked && total !== undefined) {
      diskChecked = true;
      const free = await freeBytes(path.dirname(o.dest));
      const needed = total - have + 64 * 1024 * 1024;
      if (free !== undefined && free < needed) {
        res.body.resume();
        throw new DownloadError('disk', `not enough free disk space in ${path.dirname(o.dest)}: ${formatBytes(total - have)} needed, ${formatBytes(free)} free`);
      }
    }
    fs.writeFileSync(meta, JSON.stringify({ url: o.url, total, sha256: checksum === 'server' ? sha : undefined } satisfies PartMeta));
    let counted = have;
    try {
      have = await receive(res.body, part, hash, have, stallMs, o.signal, (received) => {
        counted = received;
        meter.update(received, performance.now());
        o.onProgress?.({ received, total, rate: meter.rate(), eta: meter.eta(total), resumedFrom });
      });
    } catch (e) {
      if (e instanceof DownloadError && e.kind === 'disk') throw e;
      have = fs.existsSync(part) ? fs.statSync(part).size : 0;
      if (have !== counted) {
        hash = createHash('sha256');
        await hashFile(part, hash, o.signal);
      }
      if (o.signal?.aborted) throw cancelled();
      if (++failures > retries) {
        throw new DownloadError('network', `the download failed after ${attempts} attempts at ${formatBytes(have)}: ${(e as Error).message}; run it again to resume`);
      }
      log(`attempt ${attempts} interrupted at ${formatBytes(have)} (${(e as Error).message}); resuming`);
      await backoff(failures);
      continue;
    }
    if (total === undefined) {
      total = have;
      break;
    }
    if (have > total) {
      removePartial(o.dest);
      throw new DownloadError('size', `the server sent ${have} bytes for a ${total}-byte file`);
    }
    if (have < total) {
      // The server ended the body early without an error: resume.
      if (++failures > retries) throw new DownloadError('network', `the server keeps closing the connection early (at ${formatBytes(have)} of ${formatBytes(total)}); run the download again to resume`);
      log(`the connection closed at ${formatBytes(have)} of ${formatBytes(total)}; resuming`);
    }
  }

  const digest = hash.digest('hex');
  if (sha && digest !== sha) {
    removePartial(o.dest);
    throw new DownloadError('checksum', `the downloaded file's SHA-256 is ${digest}, not the expected ${sha} (${checksum === 'catalog' ? 'from the catalogue' : 'stated by the server'}); it was deleted`);
  }
  if (!sha && o.requireChecksum) {
    removePartial(o.dest);
    throw new DownloadError('checksum', `no checksum is known for ${o.url} (the catalogue has none and the server states none); the file was deleted`);
  }
  fs.renameSync(part, o.dest);
  fs.rmSync(meta, { force: true });
  log(`downloaded ${path.basename(o.dest)}: ${formatBytes(have)}, SHA-256 ${digest} (${sha ? `checked against the ${checksum === 'catalog' ? 'catalogue' : "server's"} hash` : 'not checked: no hash known'})`);
  return { path: o.dest, bytes: have, sha256: digest, checksum: sha ? checksum : 'none', resumedFrom, attempts };
}

/** Appends the body to the partial file, feeding the hash; returns the partial file's size after it. */
function receive(
  body: http.IncomingMessage,
  part: string,
  hash: Hash,
  have: number,
  stallMs: number,
  signal: AbortSignal | undefined,
  onBytes: (received: number) => void,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const out = fs.createWriteStream(part, { flags: have > 0 ? 'a' : 'w' });
    let received = have;
    let done = false;
    let stall: NodeJS.Timeout | undefined;
    const finish = (e?: Error) => {
      if (done) return;
      done = true;
      clearTimeout(stall);
      signal?.removeEventListener('abort', onAbort);
      body.removeAllListeners('data');
      if (e) body.destroy();
      out.end(() => (e ? reject(e) : resolve(received)));
    };
    const armStall = () => {
      clearTimeout(stall);
      stall = setTimeout(() => finish(new Error(`no data for ${Math.round(stallMs / 1000)} s`)), stallMs);
    };
    const onAbort = () => finish(new Error('cancelled'));
    signal?.addEventListener('abort', onAbort, { once: true });
    armStall();
    body.on('data', (chunk: Buffer) => {
      if (done) return;
      hash.update(chunk);
      received += chunk.length;
      armStall();
      if (!out.write(chunk)) {
        body.pause();
        out.once('drain', () => body.resume());
      }
      onBytes(received);
    });
    body.on('end', () => finish());
    body.on('aborted', () => finish(new Error('the connection was closed mid-file')));
    body.on('error', (e) => finish(e));
    out.on('error', (e) => finish(new DownloadError('disk', `cannot write ${part}: ${e.message}`)));
  });
}
