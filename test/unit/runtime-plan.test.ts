// One model for completions and one for chat: which workers run, with which file and state budget.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describePlan, expandPath, MIN_STATE_BUDGET_MB, planRuntimes, sameModelFile } from '../../src/shared/runtimePlan';

const base = { modelPath: '/m/default.gguf', completionsModel: '', chatModel: '', stateMemoryBudgetMB: 2048 };

test('neither role set: one worker with modelPath for both roles and the whole budget', () => {
  const p = planRuntimes(base);
  assert.equal(p.completions, undefined);
  assert.deepEqual(p.main, { modelPath: '/m/default.gguf', stateMemoryBudgetMB: 2048, roles: ['chat', 'completions'] });
});

test('both roles on the same file (as set, or with a trailing slash / doubled separator): one worker', () => {
  for (const [c, h] of [
    ['/m/granite.gguf', '/m/granite.gguf'],
    ['/m//granite.gguf', '/m/granite.gguf'],
    ['C:\\m\\granite.gguf', 'C:/m/granite.gguf'],
  ]) {
    const p = planRuntimes({ ...base, completionsModel: c, chatModel: h });
    assert.equal(p.completions, undefined, `${c} / ${h}`);
    assert.equal(p.main.stateMemoryBudgetMB, 2048);
  }
  // One role set to the file modelPath already names: still one worker.
  assert.equal(planRuntimes({ ...base, completionsModel: '/m/default.gguf' }).completions, undefined);
});

test('different files: two workers, the completion worker only for completions, the budget split in two', () => {
  const p = planRuntimes({ ...base, completionsModel: '/m/granite-4.0-h-1b-Q8_0.gguf', chatModel: '/m/nemotron-nano-9b.gguf' });
  assert.deepEqual(p.main, { modelPath: '/m/nemotron-nano-9b.gguf', stateMemoryBudgetMB: 1024, roles: ['chat'] });
  assert.deepEqual(p.completions, { modelPath: '/m/granite-4.0-h-1b-Q8_0.gguf', stateMemoryBudgetMB: 1024, roles: ['completions'] });
  assert.deepEqual(describePlan(p), [
    'chat: nemotron-nano-9b.gguf (state budget 1024 MiB)',
    'completions: granite-4.0-h-1b-Q8_0.gguf (state budget 1024 MiB)',
  ]);
  const odd = planRuntimes({ ...base, completionsModel: '/a.gguf', chatModel: '/b.gguf', stateMemoryBudgetMB: 1001 });
  assert.equal(odd.main.stateMemoryBudgetMB + odd.completions!.stateMemoryBudgetMB, 1001, 'the two shares add up to the budget');
});

test('one role set to another file than modelPath: that role gets its own worker, the other keeps modelPath', () => {
  const p = planRuntimes({ ...base, completionsModel: '/m/granite.gguf' });
  assert.equal(p.main.modelPath, '/m/default.gguf');
  assert.deepEqual(p.main.roles, ['chat']);
  assert.equal(p.completions?.modelPath, '/m/granite.gguf');
  const q = planRuntimes({ ...base, chatModel: '/m/nemotron.gguf' });
  assert.equal(q.main.modelPath, '/m/nemotron.gguf');
  assert.equal(q.completions?.modelPath, '/m/default.gguf');
});

test('a small budget: each worker keeps the minimum', () => {
  const p = planRuntimes({ ...base, completionsModel: '/a.gguf', chatModel: '/b.gguf', stateMemoryBudgetMB: 100 });
  assert.equal(p.main.stateMemoryBudgetMB, MIN_STATE_BUDGET_MB);
  assert.equal(p.completions!.stateMemoryBudgetMB, MIN_STATE_BUDGET_MB);
});

test('no model anywhere: one worker with no model; one role set: that model serves the role, no second worker', () => {
  assert.deepEqual(planRuntimes({ ...base, modelPath: '' }).main.modelPath, '');
  const p = planRuntimes({ ...base, modelPath: '', completionsModel: '/m/granite.gguf' });
  assert.equal(p.completions, undefined, 'nothing else to load');
  assert.equal(p.main.modelPath, '/m/granite.gguf');
});

test('paths: ~ expanded, spaces trimmed; sameModelFile compares separators loosely', () => {
  assert.equal(expandPath('  ~/models/a.gguf ', '/home/u'), '/home/u/models/a.gguf');
  assert.equal(expandPath('~x/a.gguf', '/home/u'), '~x/a.gguf');
  assert.ok(sameModelFile('/a//b.gguf', '/a/b.gguf'));
  assert.ok(!sameModelFile('/a/b.gguf', '/a/c.gguf'));
});
