// Hostile arguments to the native addon itself: the worker validates every request first, but the addon
// "never trusts its caller either" (native/addon/addon.cpp). Numbers that are NaN, infinite, or outside the
// range of the C++ type they become used to be converted anyway — undefined behaviour in C++ (a double to
// int64/uint64/float conversion out of range) — and now are refused with a RangeError naming the field.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { loadAddon, NativeAddon, NativeModel } from '../../src/worker/addon';
import { root, tinyModel } from './runtime-helpers';

let addon: NativeAddon;
let model: NativeModel;

before(async () => {
  addon = loadAddon(process.env.HYBRID_ADDON_PATH || path.join(root, 'native', 'build', 'Release', 'hybrid_addon.node'));
  model = await addon.loadModel(tinyModel(), { threads: 1 });
});
after(() => model?.dispose());

const range = (re: RegExp) => (e: unknown) => e instanceof RangeError && re.test((e as Error).message);

test('generate(): NaN, infinite and out-of-range numbers are refused, naming the field', () => {
  const prompt = [{ text: 'def f():' }];
  assert.throws(() => model.generate({ prompt, maxTokens: NaN }), range(/^maxTokens must be a finite number$/));
  assert.throws(() => model.generate({ prompt, maxTokens: 4, contextLength: Infinity }), range(/^contextLength must be a finite number$/));
  assert.throws(() => model.generate({ prompt, maxTokens: 4, truncateAlign: 1e300 }), range(/^truncateAlign is out of range$/));
  assert.throws(() => model.generate({ prompt, maxTokens: 4, sampling: { temperature: 1e300 } }), range(/^temperature is out of range$/));
  assert.throws(() => model.generate({ prompt, maxTokens: 4, sampling: { topK: -Infinity } }), range(/^topK must be a finite number$/));
  assert.throws(() => model.generate({ prompt, maxTokens: 4, sampling: { seed: 2 ** 80 } }), range(/^seed is out of range$/));
  assert.throws(() => model.generate({ prompt: [{ token: NaN }], maxTokens: 4 }), range(/^token must be a finite number$/));
});

test('createSession() and loadModel(): byte budgets must be counts >= 0', () => {
  assert.throws(() => model.createSession({ contextLength: 256, checkpointBudgetBytes: -1 }), range(/^checkpointBudgetBytes must be a byte count >= 0$/));
  assert.throws(() => model.createSession({ contextLength: NaN }), range(/^contextLength must be a finite number$/));
  assert.throws(() => addon.loadModel(tinyModel(), { threads: 1, stateBudgetBytes: 1e300 }), range(/^stateBudgetBytes must be a byte count >= 0$/));
});

test('valid requests still run after refused ones', async () => {
  const r = await model.generate({ prompt: [{ text: 'def f():' }], maxTokens: 4, sampling: { temperature: 0.5, topK: 10, seed: 1 } }).done;
  assert.ok(r.generatedTokens >= 0 && r.promptTokens > 0);
});
