// The SSE parser (src/remote/sse.ts) against the WHATWG standard's rules: every stream is fed whole, split
// at every byte boundary (inside UTF-8 sequences and between CR and LF), and in random chunks; all must give
// the same events.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { parseSse, SseEvent, SseParser } from '../../src/remote/sse';

const fixtures = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'sse');

/** Every way of feeding `bytes` this test uses: whole, each 2-way split, byte by byte, random chunks. */
function feeds(bytes: Buffer): Buffer[][] {
  const out: Buffer[][] = [[bytes], [...bytes].map((b) => Buffer.from([b]))];
  for (let i = 1; i < bytes.length; i++) out.push([bytes.subarray(0, i), bytes.subarray(i)]);
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let r = 0; r < 50; r++) {
    const chunks: Buffer[] = [];
    for (let i = 0; i < bytes.length; ) {
      const n = 1 + Math.floor(rand() * 9);
      chunks.push(bytes.subarray(i, i + n));
      i += n;
    }
    out.push(chunks);
  }
  return out;
}

function sameForEveryFeed(bytes: Buffer): ReturnType<typeof parseSse> {
  const whole = parseSse([bytes]);
  for (const f of feeds(bytes)) assert.deepEqual(parseSse(f), whole, `split into ${f.map((c) => c.length).join('+')}`);
  return whole;
}

test('the standard corner cases: comments, CRLF/CR endings, fields, dispatch rules', () => {
  const r = sameForEveryFeed(fs.readFileSync(path.join(fixtures, 'spec-corner-cases.sse')));
  assert.deepEqual(r.comments, ['this is a test stream']);
  const ev = (event: string, data: string, id = '', retry?: number): SseEvent => (retry === undefined ? { event, data, id } : { event, data, id, retry });
  assert.deepEqual(r.events, [
    ev('message', 'some text'),
    ev('message', 'another message\nwith two lines'),
    ev('add', '73857293'),
    ev('message', 'no space\n two spaces', '42', 1500),
    // "data" without a colon: an empty data line, which still dispatches an empty event
    ev('message', '', '42', 1500),
    // an id holding NUL is ignored (42 stays); unknown fields are ignored
    ev('message', 'id kept', '42', 1500),
  ]);
  assert.deepEqual(r.end, { unterminated: true, partialLine: 'data: unterminated at the end' });
});

test('a UTF-8 sequence split across chunks decodes once; a BOM at the start is dropped', () => {
  const text = '\ufeffdata: π 😀 €\n\n';
  const r = sameForEveryFeed(Buffer.from(text, 'utf8'));
  assert.deepEqual(r.events, [{ event: 'message', data: 'π 😀 €', id: '' }]);
  assert.equal(r.end.unterminated, false);
});

test('CR at the end of one chunk and LF at the start of the next are one line ending', () => {
  const events: SseEvent[] = [];
  const p = new SseParser((e) => events.push(e));
  p.push('data: a\r');
  p.push('\ndata: b\r');
  p.push('\n\r');
  p.push('\n');
  assert.deepEqual(events, [{ event: 'message', data: 'a\nb', id: '' }]);
  assert.deepEqual(p.end(), { unterminated: false, partialLine: '' });
});

test('an event type without data is reset at the blank line', () => {
  const r = parseSse(['event: x\n\ndata: y\n\n']);
  assert.deepEqual(r.events, [{ event: 'message', data: 'y', id: '' }]);
});

test('the end of a stream in the middle of an event discards it and says so', () => {
  const r = parseSse(['data: {"a":1}\n\ndata: {"b"', ':2}\n']);
  assert.deepEqual(r.events, [{ event: 'message', data: '{"a":1}', id: '' }]);
  assert.deepEqual(r.end, { unterminated: true, partialLine: '' });
});

test('push after end is refused', () => {
  const p = new SseParser(() => undefined);
  p.end();
  assert.throws(() => p.push('data: x\n\n'), /after end/);
});
