// `hybrid complete-bench` and `hybrid edit-bench` on the tiny fixture, in the release and the ASan+UBSan
// builds: the JSON shape, what each request reads (deterministic: ours reads the suffix window and the
// keystroke, the full read the whole prompt; no timing asserted), and --device: cpu runs on the CPU, cuda
// without a usable GPU is an error naming why (exit 2), auto falls back to the CPU.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hybridClis, runSync } from '../fixtures/hybrid-cli';
import { tinyModel } from './runtime-helpers';

const clis = hybridClis();

test('complete-bench: per keystroke the document session reads the suffix window and the new token; a fresh one reads it all', () => {
  assert.ok(clis.length > 0, 'the hybrid CLI is not built');
  for (const { label, bin, env } of clis) {
    const args = ['complete-bench', tinyModel(), '--doc-tokens', '600', '--suffix-tokens', '64', '--keystrokes', '8', '--max-tokens', '4', '--baseline-every', '4', '--threads', '1', '--json'];
    const r = runSync(bin, args, env);
    assert.equal(r.status, 0, `${label}: ${r.stderr}`);
    const j = JSON.parse(r.stdout);
    assert.equal(j.device, 'cpu');
    assert.equal(j.ours.requests, 8);
    assert.equal(j.full_read.requests, 2);
    // Typing one token (or a backspace) re-reads at most the last few tokens before the cursor plus the
    // suffix window; a fresh session reads the prompt (600 - 64 - 8 tokens +- typing) and the window.
    assert.ok(j.ours.tokens_read_mean >= 64 && j.ours.tokens_read_mean <= 64 + 8, `${label}: ${j.ours.tokens_read_mean}`);
    assert.ok(j.full_read.tokens_read_mean >= 590, `${label}: ${j.full_read.tokens_read_mean}`);
    assert.ok(j.session.checkpoints >= 1);
    assert.equal(j.session.forks_in_place, 0, 'the CPU shares KV caches with its forks');
  }
});

test('edit-bench and complete-bench --device: cpu runs there; cuda without a GPU is exit 2 naming why; auto falls back', () => {
  const { bin, env } = clis[0];
  const gpu = JSON.parse(runSync(bin, ['--version', '--json'], env).stdout).cuda.devices.length > 0;
  const edit = (device: string) => runSync(bin, ['edit-bench', tinyModel(), '--doc-tokens', '300', '--edits', '2', '--device', device, '--json'], env);
  const cpu = edit('cpu');
  assert.equal(cpu.status, 0, cpu.stderr);
  assert.equal(JSON.parse(cpu.stdout).device, 'cpu');
  const auto = edit('auto');
  assert.equal(auto.status, 0, auto.stderr);
  const cuda = edit('cuda');
  if (gpu) {
    assert.equal(cuda.status, 0, cuda.stderr);
    assert.notEqual(JSON.parse(cuda.stdout).device, 'cpu');
  } else {
    assert.equal(JSON.parse(auto.stdout).device, 'cpu');
    assert.match(auto.stderr, /CUDA is not usable .*; running on the CPU/);
    assert.equal(cuda.status, 2);
    assert.match(cuda.stderr, /--device cuda: /);
    const cb = runSync(bin, ['complete-bench', tinyModel(), '--doc-tokens', '200', '--suffix-tokens', '16', '--keystrokes', '1', '--device', 'cuda', '--json'], env);
    assert.equal(cb.status, 2);
    assert.match(cb.stderr, /--device cuda: falling back to the CPU: /);
  }
  assert.equal(edit('tpu').status, 2);
});
