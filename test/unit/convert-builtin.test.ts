// The built-in model's plumbing (src/models/builtin.ts): which model `npm start` opens, the picker's order
// and label, and that git tracks the shipped file (models/builtin/ is not matched by /models/*.gguf).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import {
  BUILTIN_MODEL_REL, builtinModelPath, chooseStartModel, isBuiltinModel, RANDOM_DEFAULT_REL, withBuiltinFirst,
} from '../../src/models/builtin';
import { describeModel, listModels } from '../../src/models/modelStore';
import { repoRoot } from '../fixtures/hybrid-cli';
import { writeNemotronH } from '../fixtures/nemotron-h';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hybrid-builtin-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('npm start: a given model wins, else the built-in model when present, else the random-weights default', () => {
  const root = path.join(dir, 'repo1');
  fs.mkdirSync(root);
  assert.deepEqual(chooseStartModel({ root }), { path: path.join(root, RANDOM_DEFAULT_REL), kind: 'random-default' });
  const builtin = builtinModelPath(root);
  assert.equal(builtin, path.join(root, 'models', 'builtin', 'hybrid-code-small-q8_0.gguf'));
  fs.mkdirSync(path.dirname(builtin), { recursive: true });
  fs.writeFileSync(builtin, 'x');
  assert.deepEqual(chooseStartModel({ root }), { path: builtin, kind: 'builtin' });
  assert.deepEqual(chooseStartModel({ root, given: '/tmp/other.gguf' }), { path: '/tmp/other.gguf', kind: 'given' });
  assert.deepEqual(chooseStartModel({ root, given: undefined, exists: () => false }).kind, 'random-default');
});

test('picker: the built-in model is listed first (added from models/builtin/ or moved to the front)', async () => {
  const ext = path.join(dir, 'ext');
  const models = path.join(ext, 'models');
  fs.mkdirSync(path.join(models, 'builtin'), { recursive: true });
  writeNemotronH('tiny', path.join(models, 'a-other.gguf'), { format: 'q8_0', seed: 1 });
  const listed = await listModels({ downloadDir: path.join(dir, 'downloads'), bundledDir: models, added: [] });
  assert.deepEqual(listed.map((m) => m.name), ['a-other.gguf']);
  // No built-in file: the list is unchanged.
  assert.deepEqual(await withBuiltinFirst(listed, [builtinModelPath(ext)], (f) => describeModel(f, 'bundled')), listed);
  // With the file: it comes first, described from its header.
  const builtin = builtinModelPath(ext);
  writeNemotronH('tiny', builtin, { format: 'q8_0', seed: 2, name: 'hybrid-code-small' });
  const withIt = await withBuiltinFirst(listed, [builtin], (f) => describeModel(f, 'bundled'));
  assert.deepEqual(withIt.map((m) => m.path), [builtin, path.join(models, 'a-other.gguf')]);
  assert.equal(withIt[0].supported, true);
  assert.equal(withIt[0].summary?.architecture, 'nemotron_h');
  // Listed already (e.g. added by the user): moved to the front, not duplicated.
  const added = await listModels({ downloadDir: path.join(dir, 'downloads'), bundledDir: models, added: [builtin] });
  assert.equal(added.at(-1)!.path, builtin);
  const moved = await withBuiltinFirst(added, [], async () => assert.fail('not described twice'));
  assert.deepEqual(moved.map((m) => m.path), [builtin, path.join(models, 'a-other.gguf')]);
  // The configured model (npm start points at the repository's copy) counts when the extension has none.
  const repoCopy = path.join(dir, 'repo2', BUILTIN_MODEL_REL);
  fs.mkdirSync(path.dirname(repoCopy), { recursive: true });
  fs.copyFileSync(builtin, repoCopy);
  const fromCurrent = await withBuiltinFirst(listed, [path.join(dir, 'nowhere', BUILTIN_MODEL_REL), repoCopy], (f) => describeModel(f, 'bundled'));
  assert.equal(fromCurrent[0].path, repoCopy);
  assert.ok(isBuiltinModel(repoCopy));
  assert.ok(!isBuiltinModel(path.join(models, 'a-other.gguf')));
  assert.ok(!isBuiltinModel(path.join(dir, 'hybrid-code-small-q8_0.gguf')), 'only the models/builtin/ copy is the built-in model');
});

test('git tracks models/builtin/*.gguf (the random default stays ignored)', (t) => {
  const r = spawnSync('git', ['check-ignore', '-q', BUILTIN_MODEL_REL], { cwd: repoRoot });
  if (r.error || r.status === 128) return t.skip('not a git checkout');
  assert.equal(r.status, 1, `${BUILTIN_MODEL_REL} is ignored by git`);
  assert.equal(spawnSync('git', ['check-ignore', '-q', RANDOM_DEFAULT_REL], { cwd: repoRoot }).status, 0, 'models/default.gguf should stay ignored');
});
