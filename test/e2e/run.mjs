#!/usr/bin/env node
// CLI entry for the end-to-end tests. Expects a built extension (npm run build: its "main" exists)
// and a bundled suite (node test/e2e/build-suite.mjs -> out/e2e/suite/index.js); builds nothing.
//
//   node test/e2e/run.mjs [--phase suite|ui] [--extension DIR] [--tests FILE] [--results DIR] [--desktop]
//
// Default: code-server + chromium (installed on first use by scripts/setup-e2e.mjs), both phases.
// --desktop (or HYBRID_E2E_MODE=desktop): run only the in-host suite in a desktop VS Code found as
//   `code` on PATH, through @vscode/test-electron (no UI phase there).
// Last line printed: "N passed, N failed"; exit status 1 on any failure or when nothing ran.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');

function parseArgs(argv) {
  const o = { phases: ['suite', 'ui'], desktop: process.env.HYBRID_E2E_MODE === 'desktop' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--phase') o.phases = val().split(',');
    else if (a === '--extension') o.extensionPath = path.resolve(val());
    else if (a === '--tests') o.testsPath = path.resolve(val());
    else if (a === '--results') o.resultsDir = path.resolve(val());
    else if (a === '--desktop') o.desktop = true;
    else if (a === '-h' || a === '--help') {
      console.log(fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 11).join('\n'));
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

function finish(passed, failed) {
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed > 0 || passed === 0 ? 1 : 0);
}

function copyWorkspace() {
  const dest = fs.mkdtempSync(path.join(os.tmpdir(), 'hybrid-e2e-ws-'));
  fs.cpSync(path.join(here, 'workspace'), dest, { recursive: true });
  return dest;
}

function findDesktopCode() {
  const r = spawnSync('sh', ['-c', 'command -v code'], { encoding: 'utf8' });
  const cli = (r.stdout || '').trim();
  if (r.status !== 0 || !cli) return null;
  // `code` on PATH is usually the CLI wrapper script; test-electron wants the Electron binary beside it
  const real = fs.realpathSync(cli);
  for (const cand of [path.join(path.dirname(real), '..', 'code'), path.join(path.dirname(real), '..', 'Code')]) {
    if (fs.existsSync(cand) && fs.statSync(cand).isFile()) return path.resolve(cand);
  }
  return real;
}

async function runDesktop({ extensionPath, testsPath, workspace }) {
  const exe = findDesktopCode();
  if (!exe) throw new Error('--desktop: no `code` on PATH');
  const { runTests } = await import('@vscode/test-electron');
  const userData = fs.mkdtempSync(path.join(os.tmpdir(), 'hybrid-e2e-desktop-'));
  const resultsFile = path.join(userData, 'results.jsonl');
  let passed = 0;
  let failed = 0;
  try {
    const code = await runTests({
      vscodeExecutablePath: exe,
      extensionDevelopmentPath: extensionPath,
      extensionTestsPath: testsPath,
      extensionTestsEnv: { HYBRID_E2E: '1', HYBRID_E2E_RESULTS_FILE: resultsFile },
      launchArgs: [
        workspace,
        '--disable-extensions',
        `--user-data-dir=${path.join(userData, 'ud')}`,
        `--extensions-dir=${path.join(userData, 'ext')}`,
      ],
    }).catch((e) => {
      console.log(`e2e: FAIL - desktop VS Code: ${e?.message ?? e}`);
      return 1;
    });
    const lines = fs.existsSync(resultsFile) ? fs.readFileSync(resultsFile, 'utf8').trim().split('\n') : [];
    for (const l of lines.filter(Boolean)) {
      const r = JSON.parse(l);
      if (r.ok) passed++;
      else failed++;
    }
    if (code !== 0 && failed === 0) failed++;
  } finally {
    fs.rmSync(userData, { recursive: true, force: true });
  }
  return { passed, failed };
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const extensionPath = o.extensionPath ?? repo;
  const testsPath = o.testsPath ?? path.join(repo, 'out', 'e2e', 'suite', 'index.js');
  const resultsDir = o.resultsDir ?? path.join(repo, 'test-results');

  const pkg = JSON.parse(fs.readFileSync(path.join(extensionPath, 'package.json'), 'utf8'));
  const main = pkg.main ? path.resolve(extensionPath, pkg.main) : null;
  if (main && !fs.existsSync(main) && !fs.existsSync(`${main}.js`)) {
    console.log(`e2e: FAIL - setup: ${path.relative(repo, main)} missing; run \`npm run build\` first`);
    return { passed: 0, failed: 1 };
  }
  if (o.phases.includes('suite') && !fs.existsSync(testsPath)) {
    console.log(`e2e: FAIL - setup: ${testsPath} missing; run \`node test/e2e/build-suite.mjs\` first`);
    return { passed: 0, failed: 1 };
  }

  const workspace = copyWorkspace();
  // also on process.exit() from the harness's signal handlers, where `finally` does not run
  const removeWorkspace = () => fs.rmSync(workspace, { recursive: true, force: true });
  process.on('exit', removeWorkspace);
  try {
    if (o.desktop) {
      return await runDesktop({ extensionPath, testsPath, workspace });
    }
    const { ensureE2E } = await import(path.join(repo, 'scripts', 'setup-e2e.mjs'));
    const t0 = Date.now();
    const tools = await ensureE2E();
    if (Date.now() - t0 > 2000) console.log(`e2e: environment installed in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    const { runE2E } = await import(path.join(here, 'harness.mjs'));
    const { passed, failed, durationMs } = await runE2E({
      extensionPath,
      workspace,
      resultsDir,
      testsPath,
      phases: o.phases,
      tools,
    });
    console.log(`e2e: finished in ${(durationMs / 1000).toFixed(1)} s; screenshots and logs in ${path.relative(process.cwd(), resultsDir) || '.'}`);
    return { passed, failed };
  } finally {
    removeWorkspace();
    process.off('exit', removeWorkspace);
  }
}

main().then(
  ({ passed, failed }) => finish(passed, failed),
  (e) => {
    console.log(`e2e: FAIL - ${e?.stack ?? e}`);
    finish(0, 1);
  },
);
