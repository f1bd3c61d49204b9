// In-extension-host test suite entry (VS Code's extensionTestsPath module).
// Bundled with mocha by test/e2e/build-suite.mjs into out/e2e/suite/index.js.
// Prints one line per test: "ok - <title>" or "FAIL - <title>: <error>", then a summary line
// "e2e-suite: done (N ok, N failed)"; the harness parses the per-test lines.
import * as fs from 'node:fs';
import Mocha from 'mocha';

type Runner = Mocha.Runner;

/** Minimal line reporter; console output reaches the harness through codeAutomationLog. */
class LineReporter {
  constructor(runner: Runner) {
    let passed = 0;
    let failed = 0;
    // Desktop runs (test/e2e/run.mjs --desktop) cannot read the console: results also go to a file.
    const resultsFile = process.env.HYBRID_E2E_RESULTS_FILE;
    const record = (r: { name: string; ok: boolean; error?: string }) => {
      if (resultsFile) fs.appendFileSync(resultsFile, JSON.stringify(r) + '\n');
    };
    const oneLine = (s: string) => s.replace(/\s*\n\s*/g, ' | ').slice(0, 2000);
    runner.on(Mocha.Runner.constants.EVENT_TEST_PASS, (t: Mocha.Test) => {
      passed++;
      record({ name: t.fullTitle(), ok: true });
      console.log(`ok - ${t.fullTitle()} (${t.duration ?? 0} ms)`);
    });
    runner.on(Mocha.Runner.constants.EVENT_TEST_FAIL, (t: Mocha.Runnable, err: Error) => {
      failed++;
      const msg = err && (err.stack || err.message) ? String(err.message || err.stack) : String(err);
      record({ name: t.fullTitle(), ok: false, error: oneLine(msg) });
      console.log(`FAIL - ${t.fullTitle()}: ${oneLine(msg)}`);
      const frames = err && err.stack ? err.stack.split('\n').filter((l) => /^\s+at /.test(l)) : [];
      if (frames.length) console.log(`    ${frames.slice(0, 4).map((l) => l.trim()).join(' | ')}`);
    });
    runner.on(Mocha.Runner.constants.EVENT_TEST_PENDING, (t: Mocha.Test) => {
      console.log(`skip - ${t.fullTitle()}`);
    });
    runner.once(Mocha.Runner.constants.EVENT_RUN_END, () => {
      // worded so that no runner takes it for the run's closing "N passed, N failed" line
      console.log(`e2e-suite: done (${passed} ok, ${failed} failed)`);
    });
  }
}

export function run(): Promise<void> {
  const mocha = new Mocha({
    ui: 'tdd',
    timeout: Number(process.env.HYBRID_E2E_TEST_TIMEOUT_MS) || 60_000,
    color: false,
    reporter: LineReporter as unknown as typeof Mocha.reporters.Base,
  });
  // Test files are bundled, not loaded from disk: define the TDD globals, then evaluate each file.
  mocha.suite.emit(Mocha.Suite.constants.EVENT_FILE_PRE_REQUIRE, globalThis, 'e2e', mocha);
  require('./extension.test');
  require('./runtime.test');
  require('./worker.test');
  require('./chat.test');
  require('./commands.test');
  require('./completion.test');
  require('./remote.test');
  require('./builtin.test');
  return new Promise((resolve, reject) => {
    try {
      mocha.run((failures) => {
        if (failures > 0) reject(new Error(`${failures} e2e test(s) failed`));
        else resolve();
      });
    } catch (err) {
      console.log(`FAIL - suite setup: ${err}`);
      reject(err);
    }
  });
}
