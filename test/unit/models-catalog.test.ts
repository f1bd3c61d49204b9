// Model management's pure parts: the catalogue and URL policy, Content-Range and resume decisions, which
// SHA-256 a download must have, progress lines, memory fit; the GGUF header reader on fixture models and on
// files that are not GGUF; the model list of a folder.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { deleteDownloadedModel, describeModel, listModels } from '../../src/models/modelStore';
import { CATALOG, checkDownloadUrl, fileNameFromUrl } from '../../src/shared/models/catalog';
import { expectedSha256, parseContentRange, ProgressMeter, progressLine, resumeDecision, retryableStatus } from '../../src/shared/models/download';
import { modelFit } from '../../src/shared/models/fit';
import { formatParameters, GgufHeaderError, readGgufSummary } from '../../src/shared/models/gguf';
import { buildNemotronH, countParameters } from '../fixtures/nemotron-h';

const GiB = 1024 ** 3;

test('catalogue: https URLs to .gguf files, unique ids and names, pinned hashes are SHA-256', () => {
  assert.ok(CATALOG.length >= 3);
  assert.equal(new Set(CATALOG.map((e) => e.id)).size, CATALOG.length);
  for (const e of CATALOG) {
    assert.equal(checkDownloadUrl(e.url), undefined, e.url);
    assert.equal(fileNameFromUrl(e.url), e.fileName);
    if (e.sha256) assert.match(e.sha256, /^[0-9a-f]{64}$/);
    if (e.sha256) assert.ok(!e.approximate, `${e.id}: a pinned file has an exact size`);
    assert.ok(['nemotron_h', 'granitehybrid'].includes(e.architecture), e.architecture);
    assert.equal(!!e.fim, e.architecture === 'granitehybrid', `${e.id}: the Granite entries are the FIM (completion) models`);
  }
  assert.ok(CATALOG.some((e) => /granite-4\.0-h-350m/.test(e.url)) && CATALOG.some((e) => /granite-4\.0-h-1b/.test(e.url)));
  assert.ok(CATALOG.some((e) => /Nano-9B-v2/.test(e.url) && e.quantization === 'Q4_K_M'));
  assert.ok(CATALOG.some((e) => /Nemotron-H-8B/.test(e.url) && e.sha256));
});

test('URL policy: https anywhere, plain http only to this machine; file names from URLs', () => {
  assert.equal(checkDownloadUrl('http://127.0.0.1:8080/m.gguf'), undefined);
  assert.equal(checkDownloadUrl('http://localhost/m.gguf'), undefined);
  assert.match(checkDownloadUrl('http://example.com/m.gguf')!, /only https/);
  assert.match(checkDownloadUrl('ftp://example.com/m.gguf')!, /only https/);
  assert.match(checkDownloadUrl('not a url')!, /not a URL/);
  assert.equal(fileNameFromUrl('https://h/x/resolve/main/My%20Model-Q8_0.gguf?download=true'), 'My Model-Q8_0.gguf');
  assert.equal(fileNameFromUrl('https://h/x/model.bin'), undefined);
  assert.equal(fileNameFromUrl('https://h/x/..%2F..%2Fevil.gguf'), undefined);
});

test('Content-Range and the resume decision', () => {
  assert.deepEqual(parseContentRange('bytes 100-199/1000'), { start: 100, end: 199, total: 1000 });
  assert.deepEqual(parseContentRange('bytes 0-9/*'), { start: 0, end: 9, total: undefined });
  assert.equal(parseContentRange('bytes 10-5/100'), undefined);
  assert.equal(parseContentRange('bytes 0-100/100'), undefined);
  assert.equal(parseContentRange(undefined), undefined);
  assert.deepEqual(resumeDecision(0, 200, 1000, undefined), { kind: 'append', total: 1000 });
  assert.equal(resumeDecision(500, 200, 1000, undefined).kind, 'restart', 'no range support: start over');
  assert.deepEqual(resumeDecision(500, 206, 500, 'bytes 500-999/1000'), { kind: 'append', total: 1000 });
  assert.equal(resumeDecision(500, 206, 500, 'bytes 400-999/1000').kind, 'fail', 'resumed at the wrong byte');
  assert.equal(resumeDecision(500, 206, 500, 'garbage').kind, 'fail');
  assert.deepEqual(resumeDecision(1000, 416, 0, 'bytes */1000'), { kind: 'complete', total: 1000 });
  assert.equal(resumeDecision(1200, 416, 0, 'bytes */1000').kind, 'restart');
  assert.equal(resumeDecision(0, 404, 0, undefined).kind, 'fail');
  assert.ok(retryableStatus(503) && retryableStatus(429) && !retryableStatus(404) && !retryableStatus(403));
});

test('expected SHA-256: the catalogue first, else the server-stated X-Linked-Etag or ETag', () => {
  const sha = 'a'.repeat(64);
  assert.deepEqual(expectedSha256('B'.repeat(64), { 'x-linked-etag': `"${sha}"` }), { sha256: 'b'.repeat(64), source: 'catalog' });
  assert.deepEqual(expectedSha256(undefined, { 'x-linked-etag': `"${sha}"` }), { sha256: sha, source: 'server' });
  assert.deepEqual(expectedSha256(undefined, { etag: `W/"${sha.toUpperCase()}"` }), { sha256: sha, source: 'server' });
  assert.deepEqual(expectedSha256(undefined, { etag: '"5d41402abc4b2a76b9719d911017c592"' }), { source: 'none' }, 'an MD5-like ETag is not a SHA-256');
  assert.deepEqual(expectedSha256(undefined, {}), { source: 'none' });
});

test('progress: rate over a window, time left, one line', () => {
  const m = new ProgressMeter(5000);
  assert.equal(m.rate(), 0);
  m.update(0, 0);
  m.update(10 * 1024 * 1024, 1000);
  assert.equal(m.rate(), 10 * 1024 * 1024);
  assert.equal(m.eta(30 * 1024 * 1024), 2);
  m.update(20 * 1024 * 1024, 7000); // the first sample leaves the window
  assert.equal(Math.round(m.rate()), Math.round((10 * 1024 * 1024 * 1000) / 6000));
  assert.equal(progressLine(1.5 * GiB, 6 * GiB, 25 * 1024 * 1024, 150), '1.5 GiB of 6.0 GiB (25%), 25.0 MiB/s, 2 min 30 s left');
  assert.equal(progressLine(1024, undefined, 0, undefined), '1.0 KiB');
});

test('memory fit: GPU, CPU, tight, no', () => {
  const gpu = { name: 'RTX 4070', freeMemory: 11 * GiB, totalMemory: 12 * GiB };
  assert.equal(modelFit(6 * GiB, { gpus: [gpu], ramTotal: 32 * GiB, ramFree: 20 * GiB }).verdict, 'gpu');
  assert.match(modelFit(6 * GiB, { gpus: [gpu], ramTotal: 32 * GiB, ramFree: 20 * GiB }).label, /fits the GPU \(RTX 4070, 11\.0 GiB free\)/);
  assert.equal(modelFit(11 * GiB, { gpus: [gpu], ramTotal: 32 * GiB, ramFree: 20 * GiB }).verdict, 'cpu');
  assert.equal(modelFit(11 * GiB, { gpus: [], ramTotal: 16 * GiB, ramFree: 4 * GiB }).verdict, 'tight');
  assert.equal(modelFit(30 * GiB, { gpus: [], ramTotal: 16 * GiB, ramFree: 4 * GiB }).verdict, 'no');
});

async function summarize(buf: Buffer) {
  return readGgufSummary(async (o, n) => buf.subarray(o, o + n), buf.length);
}

test('GGUF header: a fixture model described without reading its weights', async () => {
  for (const format of ['q8_0', 'f16', 'q4_k'] as const) {
    const w = buildNemotronH('tiny', { format, name: `tiny ${format}` });
    const buf = w.toBuffer();
    const reads: [number, number][] = [];
    const s = await readGgufSummary(async (o, n) => {
      reads.push([o, n]);
      return buf.subarray(o, o + n);
    }, buf.length);
    assert.equal(s.architecture, 'nemotron_h');
    assert.equal(s.name, `tiny ${format}`);
    assert.equal(s.quantization, { q8_0: 'Q8_0', f16: 'F16', q4_k: 'Q4_K_S' }[format]);
    assert.equal(s.parameters, countParameters(w));
    assert.equal(s.tensorCount, w.tensors.length);
    assert.ok(s.blockCount && s.blockCount > 0);
    assert.ok(s.vocabSize && s.vocabSize > 100);
    assert.ok(s.contextLength && s.contextLength > 0);
    assert.ok(reads.length >= 1);
  }
  // Without general.file_type: the weights' commonest type.
  const w = buildNemotronH('tiny', { format: 'q8_0' });
  w.delete('general.file_type');
  assert.equal((await summarize(w.toBuffer())).quantization, 'Q8_0');
  assert.equal(formatParameters(8.9e9), '8.9B');
  assert.equal(formatParameters(350e6), '350M');
});

test('GGUF header: files that are not GGUF, truncated or of an old version fail with a message', async () => {
  await assert.rejects(summarize(Buffer.from('PK\u0003\u0004 this is a zip file really')), (e: Error) => e instanceof GgufHeaderError && /not a GGUF file \(it starts with 50 4b 03 04/.test(e.message));
  await assert.rejects(summarize(Buffer.alloc(10)), /too small/);
  const good = buildNemotronH('tiny', {}).toBuffer();
  await assert.rejects(summarize(good.subarray(0, 4000)), /ends early|runs past the end/);
  const v1 = Buffer.from(good);
  v1.writeUInt32LE(1, 4);
  await assert.rejects(summarize(v1), /version 1 is not supported/);
});

test('model list: GGUF files of a folder described, a bad one with its error; delete only inside the folder', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hybrid-models-'));
  try {
    const good = path.join(dir, 'tiny.gguf');
    buildNemotronH('tiny', { format: 'q8_0' }).writeFile(good);
    fs.writeFileSync(path.join(dir, 'broken.gguf'), 'not a model');
    fs.writeFileSync(path.join(dir, 'partial.gguf.part'), 'xx');
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'x');
    const list = await listModels({ downloadDir: dir, added: [good, path.join(dir, 'gone.gguf')] });
    assert.deepEqual(list.map((m) => m.name).sort(), ['broken.gguf', 'tiny.gguf']);
    const tiny = list.find((m) => m.name === 'tiny.gguf')!;
    assert.equal(tiny.supported, true);
    assert.equal(tiny.origin, 'downloaded', 'found in the folder first; the same file added is not listed twice');
    assert.equal(tiny.summary?.quantization, 'Q8_0');
    const broken = list.find((m) => m.name === 'broken.gguf')!;
    assert.equal(broken.supported, false);
    assert.match(broken.error!, /too small|not a GGUF/);
    assert.equal((await describeModel(path.join(dir, 'gone.gguf'), 'added')).error?.includes('ENOENT'), true);
    assert.throws(() => deleteDownloadedModel('/etc/hostname', dir), /not in the extension's models folder/);
    deleteDownloadedModel(good, dir);
    assert.equal(fs.existsSync(good), false);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
