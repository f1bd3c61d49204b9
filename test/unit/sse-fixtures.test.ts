// Recorded stream shapes of vLLM, SGLang and llama-server (test/fixtures/sse/, sources in its README), read
// as the remote client reads them: the SSE parser, then each chunk's reasoning / content / finish / usage, then
// the think-tag splitter for servers that leave the tags in the text. Each fixture is split at every byte.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { ChunkUsage, MalformedChunkError, readChunk } from '../../src/remote/chunks';
import { parseSse } from '../../src/remote/sse';
import { NEMOTRON_THINK_TAGS, ReasoningSplitter } from '../../src/shared/reasoning';

const fixtures = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'sse');

interface Read {
  reasoning: string;
  answer: string;
  finish?: string;
  usage?: ChunkUsage;
  done: boolean;
}

function read(chunks: Buffer[], kind: 'chat' | 'completion'): Read {
  const { events, end } = parseSse(chunks);
  assert.equal(end.unterminated, false);
  const out: Read = { reasoning: '', answer: '', done: false };
  const splitter = new ReasoningSplitter({ ...NEMOTRON_THINK_TAGS, startsInside: false });
  let fieldReasoning = false;
  for (const e of events) {
    assert.equal(out.done, false, 'nothing after [DONE]');
    if (e.data === '[DONE]') {
      out.done = true;
      continue;
    }
    const v = readChunk(e.data, kind);
    if (v.reasoning) {
      fieldReasoning = true;
      out.reasoning += v.reasoning;
    }
    const parts = fieldReasoning ? [{ kind: 'answer', text: v.content }] : splitter.push(v.content);
    for (const p of parts) out[p.kind === 'reasoning' ? 'reasoning' : 'answer'] += p.text;
    if (v.finishReason) out.finish = v.finishReason;
    if (v.usage) out.usage = v.usage;
  }
  for (const p of splitter.flush()) out[p.kind === 'reasoning' ? 'reasoning' : 'answer'] += p.text;
  return out;
}

function check(file: string, kind: 'chat' | 'completion', want: Read): void {
  const bytes = fs.readFileSync(path.join(fixtures, file));
  assert.deepEqual(read([bytes], kind), want);
  for (let i = 1; i < bytes.length; i++) {
    assert.deepEqual(read([bytes.subarray(0, i), bytes.subarray(i)], kind), want, `${file} split at byte ${i}`);
  }
  assert.deepEqual(read([...bytes].map((b) => Buffer.from([b])), kind), want, `${file} byte by byte`);
}

test('older vLLM: delta.reasoning_content, then content; usage in a trailing chunk with choices []', () => {
  check('vllm-chat-reasoning_content.sse', 'chat', {
    reasoning: 'The user asks which is greater: 9.11 or 9.8. Compare 9.80 × 1 with 9.11 — 9.8 is greater.\n',
    answer: '\n\n**9.8** is greater than 9.11 (9.80 > 9.11).',
    finish: 'stop',
    usage: { promptTokens: 31, completionTokens: 20, reasoningTokens: undefined },
    done: true,
  });
});

test('current vLLM: delta.reasoning; finish "length"; reasoning_tokens in the usage details', () => {
  check('vllm-chat-reasoning.sse', 'chat', {
    reasoning: 'Résumé: the function leaks a file handle.',
    answer: 'Use `with open(p) as f:` so the file is closed',
    finish: 'length',
    usage: { promptTokens: 120, completionTokens: 6, reasoningTokens: 2 },
    done: true,
  });
});

test('vLLM /v1/completions: choices[0].text', () => {
  check('vllm-completions.sse', 'completion', { reasoning: '', answer: 'return a + b;', finish: 'stop', done: true });
});

test('SGLang: null fields everywhere, reasoning_content, matched_stop, usage chunk', () => {
  check('sglang-chat-reasoning.sse', 'chat', {
    reasoning: 'Okay, sorting in place: use list.sort() — 😀 stable.',
    answer: 'Call `xs.sort()`; it sorts in place.',
    finish: 'stop',
    usage: { promptTokens: 40, completionTokens: 18, reasoningTokens: undefined },
    done: true,
  });
});

test('llama-server --reasoning-format deepseek: reasoning_content, timings on each chunk, usage on the last', () => {
  check('llama-server-chat-reasoning_content.sse', 'chat', {
    reasoning: 'Greeting — answer briefly.',
    answer: 'Hello! 👋',
    finish: 'stop',
    usage: { promptTokens: 25, completionTokens: 4, reasoningTokens: undefined },
    done: true,
  });
});

test('llama-server without reasoning extraction: <think> tags in the text, split across chunks', () => {
  check('llama-server-chat-think-tags.sse', 'chat', {
    reasoning: '\nTwo plus two… is four.\n',
    answer: '\n\n2 + 2 = **4**.',
    finish: 'stop',
    usage: { promptTokens: 25, completionTokens: 6, reasoningTokens: undefined },
    done: true,
  });
});

test('malformed chunks are reported, an error object is read as an error', () => {
  assert.throws(() => readChunk('{"choices":[{"delta":', 'chat'), MalformedChunkError);
  assert.throws(() => readChunk('[1,2]', 'chat'), MalformedChunkError);
  assert.throws(() => readChunk('{"id":"x"}', 'chat'), /without choices/);
  assert.throws(() => readChunk('{"choices":{}}', 'chat'), /not an array/);
  assert.equal(readChunk('{"error":{"message":"CUDA out of memory","type":"server_error"}}', 'chat').error, 'CUDA out of memory');
  assert.equal(readChunk('{"object":"error","error":"bad"}', 'chat').error, 'bad');
});
