// A short fuzz run in every `npm test`: builds the libFuzzer targets of native/fuzz (scripts/fuzz.mjs,
// which installs Debian's clang through apt-get when none is found), runs each native target ~6 s and
// each JavaScript target ~2 s from the seed corpus, and fails on any crash (about a minute once built). When clang cannot be had, the
// test FAILS and says so: fuzzing that silently did not happen would read as fuzzing that found nothing.
// HYBRID_FUZZ_SMOKE=0 skips it on purpose (shown as a skip with that reason).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';

const root = path.resolve(__dirname, '..', '..', '..');
const NATIVE_SECONDS = Number(process.env.HYBRID_FUZZ_SMOKE_SECONDS ?? 6);
const JS_SECONDS = Math.max(1, Math.round(NATIVE_SECONDS / 3));
const JOBS = Math.max(1, Math.min(os.availableParallelism?.() ?? os.cpus().length, 4));

interface TargetResult {
  target: string;
  kind: 'native' | 'js';
  executions: number;
  coverage?: number;
  crashes: string[];
  skipped?: string;
}

test(
  'fuzz smoke: every fuzz target runs from its seed corpus without a crash',
  { skip: process.env.HYBRID_FUZZ_SMOKE === '0' ? 'HYBRID_FUZZ_SMOKE=0' : false, timeout: 15 * 60_000 },
  async (t) => {
    const json = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'hybrid-fuzz-smoke-')), 'fuzz.json');
    const { code, out } = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(process.execPath, [path.join(root, 'scripts', 'fuzz.mjs'), '--seconds', String(NATIVE_SECONDS), '--js-seconds', String(JS_SECONDS), '--jobs', String(JOBS), '--json', json], {
        cwd: root,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      child.on('close', (c) => resolve({ code: c, out }));
    });
    if (code === 2) {
      assert.fail(
        `FUZZING DID NOT RUN: the fuzz targets could not be built (clang with libFuzzer missing and not installable?).\n` +
          `Install clang and libclang-rt-<version>-dev (Debian), or set HYBRID_FUZZ_SMOKE=0 to skip on purpose.\n${out.slice(-3000)}`,
      );
    }
    assert.ok(fs.existsSync(json), `scripts/fuzz.mjs wrote no report (exit ${code}):\n${out.slice(-3000)}`);
    const report = JSON.parse(fs.readFileSync(json, 'utf8')) as { results: TargetResult[] };
    for (const r of report.results) {
      t.diagnostic(`${r.target}: ${r.executions} executions${r.coverage !== undefined ? `, ${r.coverage} edges` : ''}, ${r.crashes.length} crashes${r.skipped ? ` (skipped: ${r.skipped})` : ''}`);
    }
    const crashed = report.results.filter((r) => r.crashes.length > 0);
    assert.deepEqual(
      crashed.map((r) => `${r.target}: ${r.crashes.slice(0, 3).join('; ')}`),
      [],
      `fuzzing found crashes; reproduce with \`npm run fuzz -- --targets ${crashed.map((r) => r.target).join(',')}\`:\n${out.slice(-4000)}`,
    );
    for (const r of report.results) {
      if (r.kind === 'native') assert.ok(r.executions > 10, `${r.target} ran only ${r.executions} inputs`);
    }
    assert.equal(code, 0, out.slice(-3000));
  },
);
