// The test vocabularies (test/fixtures/tokenizer/): the BPE trainer is deterministic and valid, and the
// Nemotron-style and Granite-style layouts put the special tokens where the real files have them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { llamaCppReading } from '../fixtures/tokenizer/corpus';
import { encodeBytes, trainMerges } from '../fixtures/tokenizer/train-bpe';
import { GRANITE_VOCAB_SIZE, graniteTokenizer, NEMOTRON_THINK_IDS, NEMOTRON_VOCAB_SIZE, nemotronTokenizer } from '../fixtures/tokenizer/vocabs';
import type { TokenizerSpec } from '../fixtures/default-vocab';

const small = [{ rel: 'a', text: 'the cat sat on the mat; the cat ate the rat. function f(x) { return x + 1; }\n'.repeat(20) }];

test('BPE trainer: deterministic, one new token per merge, sides learned before', () => {
  const a = trainMerges(small, 60);
  const b = trainMerges(small, 60);
  assert.deepEqual(a.merges, b.merges);
  assert.equal(a.merges.length, 60);
  const known = new Set<string>();
  for (let i = 0; i < 256; i++) known.add(encodeBytes(Uint8Array.of(i)));
  for (const m of a.merges) {
    const [l, r, extra] = m.split(' ');
    assert.equal(extra, undefined, `merge '${m}' has one space`);
    assert.ok(known.has(l) && known.has(r), `merge '${m}' uses a token not yet learned`);
    assert.ok(!known.has(l + r), `merge '${m}' makes a token that exists`);
    known.add(l + r);
  }
  assert.equal(a.merges[0], 'a t', 'the most frequent pair first ("at": cat sat mat cat ate rat)');
});

test('BPE trainer: keeps going on pseudo-words when the corpus runs out of pairs', () => {
  const r = trainMerges([{ rel: 'x', text: 'alpha beta gamma delta epsilon zeta eta theta iota kappa lambda' }], 400);
  assert.equal(r.merges.length, 400);
  assert.ok(r.stats.pseudoWords > 0);
});

function checkValid(spec: TokenizerSpec, firstMergeId: number): void {
  assert.equal(new Set(spec.tokens).size, spec.tokens.length, 'token texts are unique (llama.cpp asserts it)');
  const id = new Map(spec.tokens.map((t, i) => [t, i]));
  spec.merges!.forEach((m, rank) => {
    const [l, r] = m.split(' ');
    const li = id.get(l)!;
    const ri = id.get(r)!;
    assert.ok(li !== undefined && ri !== undefined, `merge ${rank} '${m}': a side is not a token`);
    assert.equal(id.get(l + r), firstMergeId + rank, `merge ${rank} '${m}': its result is token ${firstMergeId + rank}`);
    assert.ok(li < firstMergeId + rank && ri < firstMergeId + rank, `merge ${rank} '${m}': sides come first`);
  });
}

test('Nemotron-style vocabulary: 131072 tokens in the Tekken layout', () => {
  const v = nemotronTokenizer({ pre: 'tekken' });
  assert.equal(v.tokens.length, NEMOTRON_VOCAB_SIZE);
  assert.deepEqual(v.tokens.slice(0, 4), ['<unk>', '<s>', '</s>', '[INST]']);
  assert.equal(v.tokens[10], '<SPECIAL_10>');
  assert.equal(v.tokens[12], '<SPECIAL_12>');
  assert.equal(v.tokens[999], '<SPECIAL_999>');
  assert.equal(v.tokens[NEMOTRON_THINK_IDS.open], '<think>');
  assert.equal(v.tokens[NEMOTRON_THINK_IDS.close], '</think>');
  assert.equal(v.tokens[1000 + 0x20], 'Ġ');
  assert.ok(v.tokenTypes!.slice(0, 1000).every((t) => t === 3));
  assert.ok(v.tokenTypes!.slice(1000).every((t) => t === 1));
  assert.equal(v.pre, 'tekken');
  assert.equal(v.addBos, true);
  assert.equal(v.bos, 1);
  checkValid(v, 1256);
});

test('Granite-style vocabulary: 100352 tokens, 100000 merges, specials from 100256', () => {
  const v = graniteTokenizer();
  assert.equal(v.tokens.length, GRANITE_VOCAB_SIZE);
  assert.equal(v.merges!.length, 100000);
  assert.equal(v.tokens[100256], '<|pad|>');
  assert.equal(v.tokens[100257], '<|end_of_text|>');
  assert.equal(v.tokens[100269], '<|unk|>');
  assert.equal(v.tokens[100351], '<|unused_77|>');
  assert.equal(v.bos, 100257);
  assert.equal(v.eos, 100257);
  assert.equal(v.addBos, false);
  assert.equal(v.pre, 'dbrx');
  checkValid(v, 256);
});

test('llamaCppReading mirrors llama.cpp lenient UTF-8 decoding', () => {
  assert.equal(llamaCppReading(Buffer.from('héllo')), 'héllo');
  assert.equal(llamaCppReading(Buffer.from([0x61, 0xff, 0x62])), 'a\ufffdb');
  assert.equal(llamaCppReading(Buffer.from([0xe2, 0x82])), '\ufffd\ufffd');
  assert.equal(llamaCppReading(Buffer.from([0xc0, 0x80])), '\u0000');
  assert.equal(llamaCppReading(Buffer.from([0xed, 0xa0, 0x80])), undefined);
  assert.equal(llamaCppReading(Buffer.from([0xf4, 0x90, 0x80, 0x80])), undefined);
});
