// The reasoning splitter and the thinking budget: every stream is split at every position (and into random
// chunks) and must give the same parts as when it arrives whole.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  budgetBridge,
  formatTraceHeading,
  mergeParts,
  promptEndsInsideThink,
  ReasoningPart,
  ReasoningSplitter,
  splitBatchTokens,
  ThinkingBudget,
} from '../../src/shared/reasoning';

const TAGS = { open: '<think>', close: '</think>' };

function run(chunks: string[], startsInside: boolean): { parts: ReasoningPart[]; unterminated: boolean } {
  const s = new ReasoningSplitter({ ...TAGS, startsInside });
  const parts: ReasoningPart[] = [];
  for (const c of chunks) mergeParts(parts, s.push(c, 1));
  mergeParts(parts, s.flush());
  return { parts, unterminated: s.unterminated };
}

interface Case {
  name: string;
  stream: string;
  startsInside: boolean;
  reasoning: string;
  answer: string;
  unterminated?: boolean;
}

const CASES: Case[] = [
  { name: 'prompt opened the trace', stream: 'Let me think.\n</think>\n\nThe answer is 4.', startsInside: true, reasoning: 'Let me think.\n', answer: '\n\nThe answer is 4.' },
  { name: 'model opens the trace', stream: '<think>\nplan</think>Answer', startsInside: false, reasoning: '\nplan', answer: 'Answer' },
  { name: 'whitespace before the open tag', stream: '\n  <think>plan</think>A', startsInside: false, reasoning: 'plan', answer: 'A' },
  { name: 'no trace at all', stream: 'Just an answer with </think> and <think> inside.', startsInside: false, reasoning: '', answer: 'Just an answer with </think> and <think> inside.' },
  { name: 'missing end tag', stream: 'thinking forever… and ever', startsInside: true, reasoning: 'thinking forever… and ever', answer: '', unterminated: true },
  { name: 'missing end tag, partial tag at the end', stream: 'still thinking </thi', startsInside: true, reasoning: 'still thinking </thi', answer: '', unterminated: true },
  { name: 'look-alike </thinking> inside the trace', stream: 'a </thinking> b </think>c', startsInside: true, reasoning: 'a </thinking> b ', answer: 'c' },
  { name: 'look-alike <thinking> at the start is answer', stream: '<thinking>x</thinking>', startsInside: false, reasoning: '', answer: '<thinking>x</thinking>' },
  { name: '<think in code after the trace', stream: 'r</think>```html\n<think>\n</think>\n```', startsInside: true, reasoning: 'r', answer: '```html\n<think>\n</think>\n```' },
  { name: 'open tag inside the trace is trace text', stream: 'x <think> y</think>z', startsInside: true, reasoning: 'x <think> y', answer: 'z' },
  { name: 'second close tag is answer text', stream: 'r</think>a</think>b', startsInside: true, reasoning: 'r', answer: 'a</think>b' },
  { name: 'empty trace (thinking off)', stream: '<think></think>Answer', startsInside: false, reasoning: '', answer: 'Answer' },
  { name: 'budget bridge', stream: `cut off${budgetBridge()}Answer`, startsInside: true, reasoning: 'cut off.\n', answer: '\n\nAnswer' },
  { name: 'unicode around tags', stream: 'ü😀</think>日本語 😀', startsInside: true, reasoning: 'ü😀', answer: '日本語 😀' },
  { name: 'repeated partial tags', stream: '<<</</t</think>></think', startsInside: true, reasoning: '<<</</t', answer: '></think' },
  { name: 'only whitespace', stream: ' \n ', startsInside: false, reasoning: '', answer: ' \n ' },
  { name: 'partial open tag then text', stream: ' <thi nk>', startsInside: false, reasoning: '', answer: ' <thi nk>' },
];

function joined(parts: ReasoningPart[], kind: 'reasoning' | 'answer'): string {
  return parts.filter((p) => p.kind === kind).map((p) => p.text).join('');
}

function check(c: Case, chunks: string[], how: string): void {
  const r = run(chunks, c.startsInside);
  assert.equal(joined(r.parts, 'reasoning'), c.reasoning, `${c.name} (${how}): reasoning`);
  assert.equal(joined(r.parts, 'answer'), c.answer, `${c.name} (${how}): answer`);
  assert.equal(r.unterminated, !!c.unterminated, `${c.name} (${how}): unterminated`);
  // one trace at most, before the answer
  const kinds = r.parts.map((p) => p.kind).join(',');
  assert.ok(/^(reasoning)?(,?answer)?$/.test(kinds), `${c.name} (${how}): parts in order, got ${kinds}`);
}

test('splitter: each stream whole', () => {
  for (const c of CASES) check(c, [c.stream], 'whole');
});

test('splitter: each stream split at every position', () => {
  for (const c of CASES) {
    for (let i = 0; i <= c.stream.length; i++) check(c, [c.stream.slice(0, i), c.stream.slice(i)], `split at ${i}`);
  }
});

test('splitter: each stream one character at a time, and in every pair of cuts', () => {
  for (const c of CASES) {
    check(c, [...c.stream.split('')], 'per UTF-16 unit');
    for (let i = 0; i <= c.stream.length; i++) {
      for (let j = i; j <= c.stream.length; j++) check(c, [c.stream.slice(0, i), c.stream.slice(i, j), c.stream.slice(j)], `cuts ${i},${j}`);
    }
  }
});

test('splitter: every UTF-8 byte boundary (chunks as a streaming decoder gives them)', () => {
  for (const c of CASES) {
    const bytes = Buffer.from(c.stream, 'utf8');
    for (let i = 0; i <= bytes.length; i++) {
      const dec = new TextDecoder('utf-8');
      const chunks = [dec.decode(bytes.subarray(0, i), { stream: true }), dec.decode(bytes.subarray(i), { stream: true }), dec.decode()];
      check(c, chunks, `byte ${i}`);
    }
  }
});

test('splitter: random chunkings', () => {
  let seed = 12345;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  for (const c of CASES) {
    for (let k = 0; k < 50; k++) {
      const chunks: string[] = [];
      let i = 0;
      while (i < c.stream.length) {
        const n = 1 + rnd(5);
        chunks.push(c.stream.slice(i, i + n));
        i += n;
      }
      check(c, chunks, `random ${k}`);
    }
  }
});

test('splitter: tokens counted by the kind in force when they arrive; nothing is taken back', () => {
  const s = new ReasoningSplitter({ ...TAGS, startsInside: true });
  assert.deepEqual(s.push('abc', 1), [{ kind: 'reasoning', text: 'abc' }]);
  assert.deepEqual(s.push(' </th', 1), [{ kind: 'reasoning', text: ' ' }], 'a possible tag is held back');
  assert.deepEqual(s.push('ink>', 1), []);
  assert.equal(s.closed, true);
  assert.deepEqual(s.push('Hi', 1), [{ kind: 'answer', text: 'Hi' }]);
  assert.deepEqual(s.tokens, { reasoning: 3, answer: 1 });
  assert.deepEqual(s.flush(), []);
});

test('promptEndsInsideThink', () => {
  assert.equal(promptEndsInsideThink('<SPECIAL_11>Assistant\n<think>\n'), true);
  assert.equal(promptEndsInsideThink('<SPECIAL_11>Assistant\n<think></think>'), false);
  assert.equal(promptEndsInsideThink('<|im_start|>assistant\n'), false);
  assert.equal(promptEndsInsideThink('<think>a</think> ... <think>\nresume'), true);
});

test('budget: injects the bridge once, at the budget, unless the model closed the trace', () => {
  const b = new ThinkingBudget({ budget: 3, close: '</think>' });
  assert.deepEqual(b.onToken('a'), { inject: false });
  assert.deepEqual(b.onToken('b'), { inject: false });
  assert.deepEqual(b.onToken('c'), { inject: true, text: '.\n</think>\n\n', reason: 'budget' });
  assert.equal(b.finished, true);
  assert.deepEqual(b.onToken('d'), { inject: false });

  const closed = new ThinkingBudget({ budget: 4, close: '</think>' });
  for (const t of ['x', '</', 'think', '>']) assert.deepEqual(closed.onToken(t), { inject: false });
  assert.equal(closed.finished, true, 'a close tag split over tokens ends the budget');
  assert.deepEqual(closed.onToken('more'), { inject: false });

  const none = new ThinkingBudget({ budget: 0, close: '</think>' });
  for (let i = 0; i < 100; i++) assert.deepEqual(none.onToken('t'), { inject: false });

  const custom = new ThinkingBudget({ budget: 1, close: '</think>', inject: '</think>\nFinal answer:' });
  assert.deepEqual(custom.onToken('x'), { inject: true, text: '</think>\nFinal answer:', reason: 'budget' });
});

test('budget: a grace window waits for the end of a line, then cuts', () => {
  const b = new ThinkingBudget({ budget: 2, close: '</think>', graceTokens: 3 });
  assert.deepEqual(b.onToken('a'), { inject: false });
  assert.deepEqual(b.onToken('b'), { inject: false }, 'at the budget, mid-line: wait');
  assert.deepEqual(b.onToken('c\n'), { inject: true, text: budgetBridge(), reason: 'newline' });
  const never = new ThinkingBudget({ budget: 2, close: '</think>', graceTokens: 2 });
  const decisions = ['a', 'b', 'c', 'd', 'e'].map((t) => never.onToken(t).inject);
  assert.deepEqual(decisions, [false, false, false, true, false], 'cut when the grace runs out');
});

test('budget + splitter: the injected bridge ends the trace and the answer follows', () => {
  const b = new ThinkingBudget({ budget: 4, close: '</think>' });
  const s = new ReasoningSplitter({ ...TAGS, startsInside: true });
  const parts: ReasoningPart[] = [];
  const model = ['I', ' need', ' to', ' think', ' a', ' lot'];
  let i = 0;
  let injected = 0;
  while (i < model.length && !s.closed) {
    const t = model[i++];
    mergeParts(parts, s.push(t, 1));
    const d = b.onToken(t);
    if (d.inject) {
      injected++;
      mergeParts(parts, s.push(d.text));
    }
  }
  mergeParts(parts, s.push('Answer.', 1));
  mergeParts(parts, s.flush());
  assert.equal(injected, 1);
  assert.deepEqual(parts, [
    { kind: 'reasoning', text: 'I need to think.\n' },
    { kind: 'answer', text: '\n\nAnswer.' },
  ]);
  assert.equal(s.tokens.reasoning, 4);
});

test('live token attribution and the trace heading', () => {
  assert.deepEqual(splitBatchTokens([{ kind: 'reasoning', text: 'abc' }], 3), { reasoning: 3, answer: 0 });
  assert.deepEqual(splitBatchTokens([{ kind: 'answer', text: 'abc' }], 2), { reasoning: 0, answer: 2 });
  assert.deepEqual(splitBatchTokens([{ kind: 'reasoning', text: 'ab' }, { kind: 'answer', text: 'cd' }], 4), { reasoning: 2, answer: 2 });
  assert.equal(formatTraceHeading(312, 4100), 'Reasoning — 312 tokens, 4.1 s, 76.1 tok/s');
  assert.equal(formatTraceHeading(1, 0), 'Reasoning — 1 token, 0.0 s, 0 tok/s');
  assert.equal(formatTraceHeading(2400, 12000), 'Reasoning — 2400 tokens, 12 s, 200 tok/s');
});
