// The model downloader against a real HTTP server on 127.0.0.1 started here (no other host is contacted):
// a plain download checked against its SHA-256; a dropped connection, a stalled server and a cancel, each
// resumed with a range request; a server without range support; a wrong checksum, a 404, a 503, a
// Hugging-Face-like redirect stating the hash; too little disk. After a failure no file has the final name.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { DownloadError, downloadFile, partialBytes, partPaths } from '../../src/models/downloader';

const SIZE = 3 * 1024 * 1024 + 123;
const content = randomBytes(SIZE);
const sha = createHash('sha256').update(content).digest('hex');

interface Seen {
  path: string;
  range?: string;
}

let server: http.Server;
let base = '';
const seen: Seen[] = [];
/** Per path: how many times it was asked for. */
const hits = new Map<string, number>();
let dir = '';

function sendRange(req: http.IncomingMessage, res: http.ServerResponse, opts: { chunk?: number; delayMs?: number; cutAt?: number; stallAt?: number } = {}): void {
  const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  const start = m ? Number(m[1]) : 0;
  if (start >= SIZE) {
    res.writeHead(416, { 'content-range': `bytes */${SIZE}` });
    res.end();
    return;
  }
  const headers: http.OutgoingHttpHeaders = { 'content-length': SIZE - start, 'accept-ranges': 'bytes' };
  if (m) headers['content-range'] = `bytes ${start}-${SIZE - 1}/${SIZE}`;
  res.writeHead(m ? 206 : 200, headers);
  const chunk = opts.chunk ?? 256 * 1024;
  let at = start;
  const step = () => {
    if (res.destroyed) return;
    if (opts.cutAt !== undefined && at >= opts.cutAt) {
      res.socket?.destroy(); // a dropped connection mid-file
      return;
    }
    if (opts.stallAt !== undefined && at >= opts.stallAt) return; // never another byte
    const end = Math.min(SIZE, at + chunk, opts.cutAt ?? SIZE, opts.stallAt ?? SIZE);
    const ok = res.write(content.subarray(at, end));
    at = end;
    if (at >= SIZE) {
      res.end();
      return;
    }
    const next = () => (opts.delayMs ? setTimeout(step, opts.delayMs) : setImmediate(step));
    if (ok) next();
    else res.once('drain', next);
  };
  step();
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hybrid-download-'));
  server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    seen.push({ path: url, range: req.headers.range });
    const n = (hits.get(url) ?? 0) + 1;
    hits.set(url, n);
    if (url === '/model.gguf') return sendRange(req, res);
    if (url === '/drop/model.gguf') return sendRange(req, res, n === 1 ? { cutAt: Math.floor(SIZE / 2) } : {});
    if (url === '/stall/model.gguf') return sendRange(req, res, n === 1 ? { stallAt: SIZE / 3 } : {});
    if (url === '/slow/model.gguf') return sendRange(req, res, { chunk: 64 * 1024, delayMs: 15 });
    if (url === '/norange/model.gguf') {
      res.writeHead(200, { 'content-length': SIZE });
      res.end(content);
      return;
    }
    if (url === '/flaky/model.gguf') {
      if (n === 1) {
        res.writeHead(503);
        res.end('busy');
        return;
      }
      return sendRange(req, res);
    }
    if (url === '/hf/resolve/main/model.gguf' || url === '/hf-wrong/resolve/main/model.gguf') {
      // Hugging Face answers /resolve/ with a redirect to its CDN and states the LFS SHA-256 on it.
      const stated = url.startsWith('/hf-wrong') ? 'f'.repeat(64) : sha;
      res.writeHead(302, { location: '/cdn/blob?sig=1', 'x-linked-etag': `"${stated}"`, 'x-linked-size': String(SIZE) });
      res.end();
      return;
    }
    if (url === '/cdn/blob?sig=1') return sendRange(req, res);
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => {
  server.close();
  server.closeAllConnections();
  fs.rmSync(dir, { recursive: true, force: true });
});

const dest = (name: string) => path.join(dir, name, 'model.gguf');
const leftovers = (d: string) => ({ final: fs.existsSync(d), part: fs.existsSync(partPaths(d).part), meta: fs.existsSync(partPaths(d).meta) });
const fast = { retryDelayMs: 10, stallTimeoutMs: 2000 };

test('downloads, checks the SHA-256, renames into place and reports progress', async () => {
  const d = dest('plain');
  const progress: number[] = [];
  const r = await downloadFile({ url: `${base}/model.gguf`, dest: d, sha256: sha, ...fast, onProgress: (p) => progress.push(p.received) });
  assert.deepEqual({ bytes: r.bytes, sha256: r.sha256, checksum: r.checksum, resumedFrom: r.resumedFrom }, { bytes: SIZE, sha256: sha, checksum: 'catalog', resumedFrom: 0 });
  assert.ok(fs.readFileSync(d).equals(content));
  assert.deepEqual(leftovers(d), { final: true, part: false, meta: false });
  assert.equal(progress.at(-1), SIZE);
  assert.ok(progress.every((v, i) => i === 0 || v >= progress[i - 1]));
});

test('a connection dropped mid-file is resumed with a range request', async () => {
  const d = dest('drop');
  const lines: string[] = [];
  const r = await downloadFile({ url: `${base}/drop/model.gguf`, dest: d, sha256: sha, ...fast, log: (l) => lines.push(l) });
  assert.equal(r.sha256, sha);
  assert.equal(r.attempts, 2);
  const asked = seen.filter((s) => s.path === '/drop/model.gguf');
  assert.equal(asked.length, 2);
  assert.equal(asked[0].range, undefined);
  assert.match(asked[1].range ?? '', /^bytes=\d+-$/);
  assert.ok(Number(/\d+/.exec(asked[1].range!)![0]) > 0);
  assert.ok(lines.some((l) => /interrupted at .*resuming/.test(l)), lines.join('\n'));
  assert.ok(fs.readFileSync(d).equals(content));
});

test('a stalled server is dropped after the stall timeout and resumed', async () => {
  const d = dest('stall');
  const t0 = Date.now();
  const r = await downloadFile({ url: `${base}/stall/model.gguf`, dest: d, sha256: sha, retryDelayMs: 10, stallTimeoutMs: 300 });
  assert.equal(r.sha256, sha);
  assert.ok(Date.now() - t0 < 10_000);
  assert.match(seen.filter((s) => s.path === '/stall/model.gguf')[1]?.range ?? '', /^bytes=\d+-$/);
});

test('cancel keeps the partial file; the next download resumes from it', async () => {
  const d = dest('cancel');
  const abort = new AbortController();
  await assert.rejects(
    downloadFile({
      url: `${base}/slow/model.gguf`,
      dest: d,
      sha256: sha,
      ...fast,
      signal: abort.signal,
      onProgress: (p) => {
        if (p.received > SIZE / 3) abort.abort();
      },
    }),
    (e: Error) => e instanceof DownloadError && e.kind === 'cancelled',
  );
  assert.deepEqual(leftovers(d), { final: false, part: true, meta: true });
  const have = partialBytes(d, `${base}/slow/model.gguf`);
  assert.ok(have > SIZE / 3 && have < SIZE, `partial ${have}`);
  assert.equal(partialBytes(d, `${base}/other.gguf`), 0, 'a partial file belongs to its URL');
  const before = seen.length;
  const r = await downloadFile({ url: `${base}/slow/model.gguf`, dest: d, sha256: sha, ...fast });
  assert.equal(r.resumedFrom, have);
  assert.equal(seen[before].range, `bytes=${have}-`);
  assert.equal(r.sha256, sha);
  assert.deepEqual(leftovers(d), { final: true, part: false, meta: false });
});

test('a server without range support: the download starts over and still verifies', async () => {
  const d = dest('norange');
  fs.mkdirSync(path.dirname(d), { recursive: true });
  fs.writeFileSync(partPaths(d).part, content.subarray(0, 1000));
  fs.writeFileSync(partPaths(d).meta, JSON.stringify({ url: `${base}/norange/model.gguf`, total: SIZE }));
  const lines: string[] = [];
  const r = await downloadFile({ url: `${base}/norange/model.gguf`, dest: d, sha256: sha, ...fast, log: (l) => lines.push(l) });
  assert.equal(r.sha256, sha);
  assert.ok(lines.some((l) => /starting over/.test(l)));
  assert.ok(fs.readFileSync(d).equals(content));
});

test('a wrong checksum: an error, and neither the file nor the partial file stays', async () => {
  const d = dest('wrongsha');
  await assert.rejects(
    downloadFile({ url: `${base}/model.gguf`, dest: d, sha256: '0'.repeat(64), ...fast }),
    (e: Error) => e instanceof DownloadError && e.kind === 'checksum' && e.message.includes(sha),
  );
  assert.deepEqual(leftovers(d), { final: false, part: false, meta: false });
  // A corrupt partial file from an earlier run fails the same way, and is removed.
  fs.writeFileSync(partPaths(d).part, Buffer.alloc(1000, 7));
  fs.writeFileSync(partPaths(d).meta, JSON.stringify({ url: `${base}/model.gguf`, total: SIZE }));
  await assert.rejects(downloadFile({ url: `${base}/model.gguf`, dest: d, sha256: sha, ...fast }), /SHA-256/);
  assert.deepEqual(leftovers(d), { final: false, part: false, meta: false });
});

test('404: an error with the status; nothing is left', async () => {
  const d = dest('missing');
  await assert.rejects(
    downloadFile({ url: `${base}/nothing-here.gguf`, dest: d, ...fast }),
    (e: Error) => e instanceof DownloadError && e.kind === 'http' && e.status === 404 && /HTTP 404 \(not found\)/.test(e.message),
  );
  assert.deepEqual(leftovers(d), { final: false, part: false, meta: false });
});

test('503 is retried', async () => {
  const r = await downloadFile({ url: `${base}/flaky/model.gguf`, dest: dest('flaky'), sha256: sha, ...fast });
  assert.equal(r.attempts, 2);
});

test('a Hugging-Face-like redirect states the SHA-256; a wrong stated hash is refused', async () => {
  const r = await downloadFile({ url: `${base}/hf/resolve/main/model.gguf`, dest: dest('hf'), ...fast });
  assert.equal(r.checksum, 'server');
  assert.equal(r.sha256, sha);
  const d = dest('hf-wrong');
  await assert.rejects(downloadFile({ url: `${base}/hf-wrong/resolve/main/model.gguf`, dest: d, ...fast }), (e: Error) => e instanceof DownloadError && e.kind === 'checksum');
  assert.deepEqual(leftovers(d), { final: false, part: false, meta: false });
  // Without any hash it downloads, unless a checksum is required.
  const plain = await downloadFile({ url: `${base}/model.gguf`, dest: dest('nohash'), ...fast });
  assert.equal(plain.checksum, 'none');
  await assert.rejects(downloadFile({ url: `${base}/model.gguf`, dest: dest('required'), requireChecksum: true, ...fast }), /no checksum is known/);
  assert.equal(fs.existsSync(dest('required')), false);
});

test('too little free disk space: refused before writing', async () => {
  const d = dest('disk');
  await assert.rejects(
    downloadFile({ url: `${base}/model.gguf`, dest: d, sha256: sha, ...fast, freeBytes: async () => 1024 }),
    (e: Error) => e instanceof DownloadError && e.kind === 'disk' && /not enough free disk space/.test(e.message),
  );
  assert.equal(fs.existsSync(d), false);
  assert.equal(fs.existsSync(partPaths(d).part), false);
});

test('plain http to another host is refused without connecting', async () => {
  const count = seen.length;
  await assert.rejects(downloadFile({ url: 'http://example.invalid/m.gguf', dest: dest('policy'), ...fast }), (e: Error) => e instanceof DownloadError && e.kind === 'url');
  assert.equal(seen.length, count);
});
