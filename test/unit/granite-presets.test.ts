// The whole-model Granite presets (benchmarks) and the fixture writer's FIM / printable options.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { TOKEN_TYPE } from '../fixtures/default-vocab';
import { buildGraniteHybrid, GRANITE_PRESETS, granitePattern } from '../fixtures/granite-hybrid';
import { FIM_TOKENS, graniteFixtureVocab, printableIds, writeGraniteFixture } from '../fixtures/make-granite';
import { countParameters } from '../fixtures/nemotron-h';

test('granite presets h350m / h1b: layer patterns, dimensions and parameter counts of the real models', () => {
  const a = GRANITE_PRESETS.h350m;
  assert.equal(a.pattern.length, 32);
  assert.deepEqual([...a.pattern].flatMap((c, i) => (c === '*' ? [i] : [])), [10, 13, 17, 27]);
  assert.equal(a.ssmHeads * a.ssmHeadDim, 2 * a.nEmbd, 'd_inner = 2 x hidden');
  assert.equal(a.vocab, 100352);
  const b = GRANITE_PRESETS.h1b;
  assert.equal(b.pattern, granitePattern(40, [5, 15, 25, 35]));
  assert.equal(b.ssmHeads * b.ssmHeadDim, 2 * b.nEmbd);
  assert.equal(b.nHead * b.headDim, b.nEmbd);
  // IBM states 350M (0.34B) and 1.5B (1.46B) parameters; tied embedding, so counted once.
  const p350 = countParameters(buildGraniteHybrid('h350m'));
  const p1b = countParameters(buildGraniteHybrid('h1b'));
  assert.ok(p350 > 330e6 && p350 < 350e6, `h350m: ${p350}`);
  assert.ok(p1b > 1.4e9 && p1b < 1.5e9, `h1b: ${p1b}`);
});

test('granite fixture vocabulary: FIM tokens as control tokens, padded to the size; printable ids', () => {
  const v = graniteFixtureVocab(1000, true);
  assert.equal(v.tokens.length, 1000);
  for (const t of FIM_TOKENS) assert.equal(v.tokenTypes![v.tokens.indexOf(t)], TOKEN_TYPE.control);
  const keep = printableIds(v);
  for (const t of FIM_TOKENS) assert.ok(!keep.has(v.tokens.indexOf(t)));
  assert.ok(!keep.has(v.eos!));
  assert.ok(!keep.has(v.tokens.indexOf('[PAD0]')));
  assert.equal(keep.size, 95 + 1 + 10, 'printable ASCII, the newline, the 10 merges');
  assert.equal(graniteFixtureVocab(10, true).tokens.length, 5 + 256 + 10 + 3, 'never smaller than what it needs');
});

test('granite fixture file with --fim --printable: the runtime sees FIM ids and zero rows', (t) => {
  const cli = ['native/build-cli/hybrid', 'native/build/hybrid'].map((p) => path.resolve(p)).find((p) => fs.existsSync(p));
  if (!cli) return t.skip('no hybrid CLI built');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'granite-fixture-'));
  try {
    const file = path.join(dir, 'm.gguf');
    writeGraniteFixture(file, { preset: 'tiny-dense', format: 'q8_0', fim: true, printable: true });
    const info = JSON.parse(execFileSync(cli, ['tokenize', file, '--info', '--json'], { encoding: 'utf8' }));
    const v = graniteFixtureVocab(GRANITE_PRESETS['tiny-dense'].vocab, true);
    assert.deepEqual([info.fim_pre, info.fim_suf, info.fim_mid], FIM_TOKENS.map((t) => v.tokens.indexOf(t)));
    const row = (id: number): number[] =>
      JSON.parse(execFileSync(cli, ['dump-tensor', file, 'token_embd.weight', '--rows', `${id}:${id + 1}`, '--json'], { encoding: 'utf8', maxBuffer: 16 << 20 })).values;
    assert.ok(row(v.tokens.indexOf('a')).some((x) => x !== 0), 'a printable token keeps its row');
    assert.ok(row(v.tokens.indexOf('<|fim_middle|>')).every((x) => x === 0), 'a control token has a zero row');
    assert.ok(row(v.eos!).every((x) => x === 0), 'EOS has a zero row: never generated');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
