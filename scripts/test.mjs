// `npm test`: builds everything, then runs every suite and ends with one line `N passed, N failed`
// summing them all. Suites: TypeScript unit/integration tests (node:test), native unit tests (ctest), the
// same native tests under ASan+UBSan, and end-to-end tests in a real VS Code (code-server + chromium).
// HYBRID_TEST_SUITES=unit,native (comma list) runs a subset while developing; CI runs all.
import fs from 'node:fs';
import path from 'node:path';
import { buildNative } from './build-native.mjs';
import { bundle } from './bundle.mjs';
import { root, run, seconds } from './lib.mjs';

const ALL = ['unit', 'native', 'native-asan', 'e2e'];
const selected = (process.env.HYBRID_TEST_SUITES ?? ALL.join(',')).split(',').map((s) => s.trim()).filter(Boolean);
for (const s of selected) if (!ALL.includes(s)) throw new Error(`unknown suite '${s}' (known: ${ALL.join(', ')})`);

function findTests(dir, out = []) {
  if (!fs.existsSync(dir)) return out;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'e2e') findTests(p, out);
    } else if (entry.name.endsWith('.test.js')) out.push(p);
  }
  return out.sort();
}

function tapCounts(out) {
  const n = (re) => Number(out.match(re)?.[1] ?? NaN);
  const pass = n(/^# pass (\d+)$/m);
  const fail = n(/^# fail (\d+)$/m) + (n(/^# cancelled (\d+)$/m) || 0);
  return Number.isNaN(pass) || Number.isNaN(fail) ? undefined : { passed: pass, failed: fail };
}

// Counts individual test cases: each native test executable ends with `N passed, N failed` (ctest -V
// prefixes its lines with `K: `); an executable that crashed before its summary still counts as failed.
function ctestCounts(out) {
  const m = out.match(/(\d+)% tests passed, (\d+) tests? failed out of (\d+)/);
  if (!m) return /No tests were found/.test(out) ? { passed: 0, failed: 0 } : undefined;
  let passed = 0, failed = 0;
  for (const line of out.matchAll(/^\d+: (\d+) passed, (\d+) failed$/gm)) {
    passed += Number(line[1]);
    failed += Number(line[2]);
  }
  return { passed, failed: Math.max(failed, Number(m[2])) };
}

function plainCounts(out) {
  const lines = out.trim().split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const m = lines[i].match(/^(?:\w+: )?(\d+) passed, (\d+) failed/);
    if (m) return { passed: Number(m[1]), failed: Number(m[2]) };
  }
  return undefined;
}

const suites = {
  unit: async () => {
    const files = findTests(path.join(root, 'out', 'test'));
    if (files.length === 0) throw new Error('no unit test files found under out/test');
    const r = await run(process.execPath, ['--test', '--test-reporter=tap', '--test-concurrency=1', ...files], { capture: 'tee', allowFail: true });
    return { ...r, counts: tapCounts(r.out) };
  },
  native: async () => {
    const r = await run('ctest', ['--test-dir', 'native/build', '-V'], { capture: 'tee', allowFail: true });
    return { ...r, counts: ctestCounts(r.out) };
  },
  'native-asan': async () => {
    const env = { ...process.env, ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=0', UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1' };
    const r = await run('ctest', ['--test-dir', 'native/build-asan', '-V'], { capture: 'tee', allowFail: true, env });
    return { ...r, counts: ctestCounts(r.out) };
  },
  e2e: async () => {
    const r = await run(process.execPath, [path.join('test', 'e2e', 'run.mjs')], { capture: 'tee', allowFail: true });
    return { ...r, counts: plainCounts(r.out) };
  },
};

async function main() {
  const tStart = Date.now();
  const results = [];
  try {
    const t0 = Date.now();
    await buildNative();
    if (selected.includes('native-asan')) await buildNative({ sanitize: true });
    await bundle();
    console.log(`\nbuild: ${seconds(Date.now() - t0)}`);
  } catch (e) {
    console.error(`\nbuild failed: ${e.message}`);
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
  for (const name of selected) {
    console.log(`\n=== suite: ${name} ===`);
    const t0 = Date.now();
    let passed = 0, failed = 0, note = '';
    try {
      const r = await suites[name]();
      if (!r.counts) {
        failed = 1;
        note = `no test summary found (exit ${r.code})`;
      } else {
        ({ passed, failed } = r.counts);
        // A suite that exits non-zero with no failed test counted (a crash, a signal) counts as one failure.
        if (r.code !== 0 && failed === 0) {
          failed = 1;
          note = `exited with ${r.signal ?? `code ${r.code}`} though no test failed`;
        }
      }
    } catch (e) {
      failed = 1;
      note = e.message;
    }
    results.push({ name, passed, failed, ms: Date.now() - t0, note });
  }
  console.log('\n=== summary ===');
  for (const r of results) {
    console.log(`${r.name.padEnd(12)} ${String(r.passed).padStart(4)} passed ${String(r.failed).padStart(3)} failed  ${seconds(r.ms).padStart(8)}${r.note ? `  (${r.note})` : ''}`);
  }
  const passed = results.reduce((a, r) => a + r.passed, 0);
  const failed = results.reduce((a, r) => a + r.failed, 0);
  console.log(`total wall time ${seconds(Date.now() - tStart)}`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed > 0 ? 1 : 0);
}

main();
