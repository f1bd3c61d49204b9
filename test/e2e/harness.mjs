// End-to-end harness: a real VS Code workbench (code-server, run by Node 24) driven in Debian's
// chromium through playwright-core.
//
//   import { runE2E } from './test/e2e/harness.mjs';
//   const { passed, failed, durationMs, results } = await runE2E({
//     extensionPath, workspace, resultsDir, testsPath,
//   });
//
// Phase "suite": opens a window with extensionDevelopmentPath + extensionTestsPath (through the
//   smoke-test driver's URL payload); the suite's console lines come back through codeAutomationLog,
//   its exit code through codeAutomationExit; "ok - name" / "FAIL - name: err" lines are counted.
// Phase "ui": opens a fresh window with extensionDevelopmentPath only and checks it as a person would:
//   title, command palette commands, the chat webview (screenshot resultsDir/e2e-chat-view.png), the chat
//   on a tiny fixture model (send, trace, stop, hostile markdown, history across a reload; screenshots
//   e2e-chat-dark.png, e2e-chat-light.png, e2e-chat-hostile.png), inline completions on a tiny fixture model
//   (ghost text while typing, Tab inserts it: e2e-completion-ghost.png, e2e-completion-accepted.png; the
//   status bar item and its menu), no error notifications. Every check counts as one test; a failing one
//   saves a screenshot. Suite tests can ask for screenshots too (a log line `e2e-screenshot: NAME.png`):
//   the Fix diff preview is e2e-fix-diff.png.
// code-server and chromium run in their own process groups/sessions and are killed in every exit path
// (normal end, errors, phase time-outs, SIGINT/SIGTERM/SIGHUP).

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-crash-reporter',
  '--disable-breakpad',
];

export const USER_SETTINGS = {
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'editor.quickSuggestions': false,
  'telemetry.telemetryLevel': 'off',
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'update.mode': 'none',
  'security.workspace.trust.enabled': false,
  'git.enabled': false,
  'chat.disableAIFeatures': true,
};

const EXT_DEV_HOST = '[Extension Development Host]';

function defaultLog(line) {
  process.stdout.write(line + '\n');
}

// ---------------------------------------------------------------- processes

/** All processes in the session / process group led by `leader`, plus their descendants. */
function processTree(leader) {
  const found = new Set();
  const byParent = new Map();
  let entries = [];
  try {
    entries = fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return [leader];
  }
  for (const d of entries) {
    let stat;
    try {
      stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
    } catch {
      continue;
    }
    // pid (comm) state ppid pgrp session ...
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const pid = Number(d);
    const ppid = Number(rest[1]);
    const pgrp = Number(rest[2]);
    const sid = Number(rest[3]);
    if (pid === process.pid) continue;
    if (pgrp === leader || sid === leader || pid === leader) found.add(pid);
    if (!byParent.has(ppid)) byParent.set(ppid, []);
    byParent.get(ppid).push(pid);
  }
  const queue = [...found];
  while (queue.length) {
    const p = queue.pop();
    for (const c of byParent.get(p) ?? []) {
      if (!found.has(c) && c !== process.pid) {
        found.add(c);
        queue.push(c);
      }
    }
  }
  return [...found];
}

class ProcessJanitor {
  constructor(log) {
    this.log = log;
    this.leaders = new Set();
    this.cleanups = [];
    this.onSignal = (sig) => {
      this.log(`e2e: received ${sig}, stopping code-server and chromium`);
      this.killAllSync();
      process.exit(128 + (os.constants.signals[sig] ?? 1));
    };
    this.onExit = () => this.killAllSync();
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(s, this.onSignal);
    process.on('exit', this.onExit);
  }
  add(pid) {
    if (pid) this.leaders.add(pid);
  }
  onCleanup(fn) {
    this.cleanups.push(fn);
  }
  killAllSync() {
    for (const leader of this.leaders) {
      for (const pid of processTree(leader)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {}
      }
      try {
        process.kill(-leader, 'SIGKILL');
      } catch {}
    }
    this.leaders.clear();
    for (const fn of this.cleanups.splice(0)) {
      try {
        fn();
      } catch {}
    }
  }
  /** SIGTERM the tree, wait up to graceMs, then SIGKILL what is left. */
  async stop(leader, graceMs = 3000) {
    if (!this.leaders.has(leader)) return;
    for (const pid of processTree(leader)) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {}
    }
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && processTree(leader).length) await sleep(100);
    for (const pid of processTree(leader)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
    this.leaders.delete(leader);
  }
  dispose() {
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.off(s, this.onSignal);
    process.off('exit', this.onExit);
  }
}

// ---------------------------------------------------------------- helpers

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function httpStatus(url) {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => {
      req.destroy();
      resolve(0);
    });
  });
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} timed out after ${Math.round(ms / 1000)} s`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function slug(s) {
  return s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 60);
}

function cleanEnv(extra) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(npm_|VSCODE_|ELECTRON_)/i.test(k)) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

function formatArg(a) {
  if (typeof a === 'string') return a;
  try {
    return JSON.stringify(a);
  } catch {
    return String(a);
  }
}

// ---------------------------------------------------------------- code-server

async function startCodeServer({ node24, codeServerEntry, dirs, workspace, janitor, log, logFile, resultsDir }) {
  const port = await freePort();
  const args = [
    codeServerEntry,
    '--bind-addr',
    `127.0.0.1:${port}`,
    '--auth',
    'none',
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    '--disable-getting-started-override',
    '--ignore-last-opened',
    '--vscode-option',
    'enable-smoke-test-driver',
    '--user-data-dir',
    dirs.userData,
    '--extensions-dir',
    dirs.extensions,
    workspace,
  ];
  const env = cleanEnv({
    HOME: process.env.HOME || dirs.root,
    XDG_CONFIG_HOME: dirs.config,
    XDG_DATA_HOME: dirs.data,
    XDG_CACHE_HOME: dirs.cache,
    XDG_STATE_HOME: dirs.state,
    XDG_RUNTIME_DIR: dirs.runtime,
    TMPDIR: dirs.tmp,
    // the extension host inherits these (its tests can tell they run under the harness)
    HYBRID_E2E: '1',
    // where suite tests find the screenshots they ask for (see suitePhase)
    HYBRID_E2E_RESULTS: resultsDir,
    // no marketplace: there is no network, and its failing queries only add noise and delay
    EXTENSIONS_GALLERY: JSON.stringify({ serviceUrl: '', itemUrl: '', resourceUrlTemplate: '' }),
  });
  const out = fs.openSync(logFile, 'w');
  const child = spawn(node24, args, { detached: true, stdio: ['ignore', out, out], env, cwd: dirs.root });
  fs.closeSync(out);
  janitor.add(child.pid);
  let exited = null;
  child.on('exit', (code, signal) => {
    exited = { code, signal };
  });
  child.on('error', (e) => {
    exited = { error: e.message };
  });
  const started = Date.now();
  const deadline = started + 60_000;
  for (;;) {
    if (exited) {
      throw new Error(
        `code-server exited during start-up (${JSON.stringify(exited)}); log:\n${tail(logFile, 30)}`,
      );
    }
    if ((await httpStatus(`http://127.0.0.1:${port}/healthz`)) === 200) break;
    if (Date.now() > deadline) throw new Error(`code-server /healthz not up after 60 s; log:\n${tail(logFile, 30)}`);
    await sleep(200);
  }
  log(`e2e: code-server up on 127.0.0.1:${port} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return { port, pid: child.pid, child };
}

function tail(file, n) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-n).join('\n');
  } catch {
    return '';
  }
}

function workbenchUrl(port, workspace, payload) {
  const q = [`folder=${encodeURIComponent(workspace)}`];
  if (payload) q.push(`payload=${encodeURIComponent(JSON.stringify(payload))}`);
  return `http://127.0.0.1:${port}/?${q.join('&')}`;
}

function remoteUri(port, absPath) {
  return `vscode-remote://127.0.0.1:${port}${path.resolve(absPath)}`;
}

async function newPage(browser, consoleLog, label) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  page.on('dialog', (d) => d.dismiss().catch(() => {}));
  page.on('console', (m) => consoleLog.write(`[${label}] ${m.type()}: ${m.text()}\n`));
  page.on('pageerror', (e) => consoleLog.write(`[${label}] pageerror: ${e.message}\n`));
  return { context, page };
}

// ---------------------------------------------------------------- phase (a): in-host suite

async function suitePhase({ browser, port, extensionPath, testsPath, workspace, log, resultsDir, consoleLog, results, state }) {
  const own = [];
  const hostLog = fs.createWriteStream(path.join(resultsDir, 'e2e-suite.log'));
  const { context, page } = await newPage(browser, consoleLog, 'suite');
  try {
    let resolveExit;
    const exited = new Promise((r) => (resolveExit = r));
    const seen = new Set();
    let afterFail = false; // the suite prints a FAIL line's stack frames on the next line
    await page.exposeFunction('codeAutomationLog', (type, args) => {
      const text = (Array.isArray(args) ? args : [args]).map(formatArg).join(' ');
      hostLog.write(`${type}: ${text}\n`);
      for (const raw of text.split('\n')) {
        const line = raw.trimEnd();
        if (!line) continue;
        // A suite test asks for a screenshot of the window as it is now (e.g. the diff after Fix): taken
        // into resultsDir under that name; the test waits for the file (HYBRID_E2E_RESULTS tells it where).
        const shot = /e2e-screenshot: ([\w.-]+\.png)$/.exec(line);
        if (shot) {
          const file = path.join(resultsDir, shot[1]);
          const tmp = `${file}.part`;
          void page
            .screenshot({ path: tmp, type: 'png' })
            .then(() => fs.renameSync(tmp, file), (e) => log(`e2e: screenshot ${shot[1]} failed: ${e.message}`));
          continue;
        }
        const m = /^(?:\w+: )?(ok|FAIL|skip) - (.*)$/.exec(line.trim());
        if (m) {
          const key = `${m[1]} ${m[2]}`;
          if (seen.has(key)) continue; // the same line can arrive through two loggers
          seen.add(key);
          afterFail = m[1] === 'FAIL';
          const record = (r) => {
            if (state.aborted) return;
            own.push(r);
            results.push(r);
          };
          if (m[1] === 'ok') record({ name: m[2].replace(/ \(\d+ ms\)$/, ''), ok: true });
          else if (m[1] === 'FAIL') {
            const i = m[2].indexOf(': ');
            record({
              name: i > 0 ? m[2].slice(0, i) : m[2],
              ok: false,
              error: i > 0 ? m[2].slice(i + 2) : '',
            });
          }
          log(`e2e: ${m[1]} - ${m[2]}`);
          continue;
        }
        const frames = afterFail && /^\s+at /.test(line);
        afterFail = false;
        if (
          frames ||
          /e2e-suite:|hybrid-copilot|hybridCopilot/i.test(line) ||
          process.env.HYBRID_E2E_VERBOSE
        ) {
          // suite lines and anything about the extension; the rest only goes to e2e-suite.log
          log(`  [host] ${line.slice(0, 1000)}`);
        }
      }
    });
    await page.exposeFunction('codeAutomationExit', (code) => resolveExit(Number(code)));
    const payload = [
      ['extensionDevelopmentPath', remoteUri(port, extensionPath)],
      ['extensionTestsPath', remoteUri(port, testsPath)],
      ['skipWelcome', 'true'],
    ];
    const started = Date.now();
    await page.goto(workbenchUrl(port, workspace, payload));
    const crashed = new Promise((_, reject) => page.once('crash', () => reject(new Error('page crashed'))));
    const code = await Promise.race([exited, crashed]);
    log(`e2e: in-host suite exited with code ${code} after ${((Date.now() - started) / 1000).toFixed(1)} s`);
    if (code !== 0 && !own.some((r) => !r.ok)) {
      results.push({ name: 'in-host suite', ok: false, error: `exited with code ${code}` });
      log(`e2e: FAIL - in-host suite: exited with code ${code} (see test-results/e2e-suite.log)`);
    }
    if (code === 0 && own.length === 0) {
      results.push({ name: 'in-host suite', ok: false, error: 'no test ran' });
      log('e2e: FAIL - in-host suite: exited 0 but reported no test');
    }
  } catch (e) {
    await page.screenshot({ path: path.join(resultsDir, 'e2e-fail-suite.png') }).catch(() => {});
    throw e;
  } finally {
    hostLog.end();
    await context.close().catch(() => {});
  }
}

// ---------------------------------------------------------------- phase (b): UI

async function waitForWorkbench(page, timeoutMs = 60_000) {
  await page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: timeoutMs });
  const deadline = Date.now() + timeoutMs;
  let title = '';
  while (Date.now() < deadline) {
    title = await page.title();
    if (title.includes(EXT_DEV_HOST)) return title;
    await sleep(250);
  }
  throw new Error(`window title is "${title}", expected it to contain "${EXT_DEV_HOST}"`);
}

async function openPalette(page) {
  const widget = page.locator('.quick-input-widget');
  for (let attempt = 0; attempt < 3; attempt++) {
    await page.keyboard.press('Escape').catch(() => {});
    await page.keyboard.press(attempt === 1 ? 'F1' : 'Control+Shift+P');
    try {
      await widget.waitFor({ state: 'visible', timeout: 5000 });
      return widget;
    } catch {
      // focus may still be in the page body before the workbench is ready: click and retry
      await page.locator('.monaco-workbench .part.statusbar').click({ timeout: 2000 }).catch(() => {});
    }
  }
  throw new Error('command palette did not open');
}

/**
 * Runs a command by its palette title, e.g. "Hybrid Copilot: Open Chat". An extension's commands
 * appear only once the extension host has registered it, so this retries until `timeoutMs`.
 */
async function runCommand(page, title, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  let rows = [];
  for (;;) {
    const widget = await openPalette(page);
    const input = widget.locator('.quick-input-box input, input').first();
    await input.fill(`>${title}`);
    const row = widget.locator('.monaco-list-row').filter({ hasText: title }).first();
    try {
      await row.waitFor({ state: 'visible', timeout: 3000 });
      await row.click();
      await widget.waitFor({ state: 'hidden', timeout: 10_000 });
      return;
    } catch (e) {
      if (await row.isVisible().catch(() => false)) throw e; // found but could not be run
      rows = await widget.locator('.monaco-list-row').allInnerTexts().catch(() => []);
      await page.keyboard.press('Escape').catch(() => {});
    }
    if (Date.now() > deadline) break;
    await sleep(1000);
  }
  throw new Error(
    `command "${title}" not found in the command palette after ${Math.round(timeoutMs / 1000)} s ` +
      `(rows: ${rows.map((r) => r.replace(/\s+/g, ' ')).join(' | ') || 'none'})`,
  );
}

async function findAppInWebviews(page, text, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let lastSeen = '';
  while (Date.now() < deadline) {
    const frames = page.locator('iframe.webview.ready');
    const n = await frames.count();
    for (let i = 0; i < n; i++) {
      const app = frames.nth(i).contentFrame().locator('#active-frame').contentFrame().locator('#app');
      try {
        if ((await app.count()) === 0) continue;
        const t = await app.first().innerText({ timeout: 2000 });
        lastSeen = t;
        if (t.includes(text)) return t;
      } catch {}
    }
    await sleep(300);
  }
  throw new Error(
    lastSeen
      ? `#app found in a webview but its text is "${lastSeen.replace(/\s+/g, ' ').slice(0, 200)}" (no "${text}")`
      : `no webview (iframe.webview.ready > #active-frame) has an element #app containing "${text}"`,
  );
}

/** A modal message (showInformationMessage({modal:true})) would block the next steps: log and close it. */
async function closeModalDialog(page, log) {
  const dialog = page.locator('.monaco-dialog-box');
  try {
    await dialog.waitFor({ state: 'visible', timeout: 1500 });
  } catch {
    return;
  }
  const text = (await dialog.innerText().catch(() => '')).replace(/\s+/g, ' ').slice(0, 300);
  log(`e2e:   modal dialog: ${text}`);
  await page.keyboard.press('Escape').catch(() => {});
  await dialog.waitFor({ state: 'hidden', timeout: 5000 }).catch(() => {});
}

async function errorNotifications(page) {
  await runCommand(page, 'Notifications: Show Notifications');
  const center = page.locator('.notifications-center');
  await center.waitFor({ state: 'visible', timeout: 5000 }).catch(() => {});
  await sleep(300);
  const items = center.locator('.notification-list-item');
  const n = await items.count();
  const all = [];
  const errors = [];
  for (let i = 0; i < n; i++) {
    const item = items.nth(i);
    const text = (await item.locator('.notification-list-item-message').innerText().catch(() => '')).trim();
    const isError = (await item.locator('.codicon-error').count()) > 0;
    all.push(`${isError ? 'error' : 'info'}: ${text}`);
    if (isError) errors.push(text);
  }
  await page.keyboard.press('Escape').catch(() => {});
  return { all, errors };
}

// ---------------------------------------------------------------- chat view checks (UI phase)

/**
 * A chat model for the UI phase: the tiny Nano-2-like fixture (test/e2e/suite/chatModel.ts, compiled to out/
 * by `npm run build`) written into the private temp folder, and workspace settings that load it with a
 * small thinking budget and short answers. Returns an error string when the fixture module is not built.
 */
async function prepareChatModel(workspace) {
  const repo = path.resolve(here, '..', '..');
  const mod = path.join(repo, 'out', 'test', 'e2e', 'suite', 'chatModel.js');
  if (!fs.existsSync(mod)) return `${path.relative(repo, mod)} missing: run \`npm run build\``;
  const { createRequire } = await import('node:module');
  const { writeChatFixtureModel } = createRequire(import.meta.url)(mod);
  const model = writeChatFixtureModel(path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'chat-model-')), 'chat.gguf'), repo);
  const file = path.join(workspace, '.vscode', 'settings.json');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const settings = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : {};
  Object.assign(settings, {
    'hybridCopilot.modelPath': model,
    'hybridCopilot.chat.thinking': true,
    'hybridCopilot.chat.thinkingBudget': 8,
    'hybridCopilot.chat.maxAnswerTokens': 24,
  });
  fs.writeFileSync(file, JSON.stringify(settings, null, 2));
  return null;
}

/** The chat webview's inner document as a Playwright Frame (for evaluate): the frame holding #app and #input. */
async function chatFrame(page, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const f of page.frames()) {
      try {
        if (await f.$('#app #input')) return f;
      } catch {}
    }
    await sleep(250);
  }
  throw new Error('no webview frame holds the chat (#app #input)');
}

/** Waits until there are at least `count` turns and none streams, then returns what the last turn shows. */
async function lastTurn(frame, count = 1, timeoutMs = 60_000) {
  await frame.waitForFunction((n) => document.querySelectorAll('.turn').length >= n && !document.querySelector('.turn.streaming'), count, { timeout: timeoutMs });
  return frame.evaluate(() => {
    const turns = document.querySelectorAll('.turn');
    const t = turns[turns.length - 1];
    const trace = t.querySelector('details.trace');
    return {
      count: turns.length,
      user: t.querySelector('.user-message')?.textContent ?? '',
      traceShown: !!trace && !trace.hidden,
      traceOpen: !!trace?.open,
      heading: t.querySelector('.trace-heading')?.textContent ?? '',
      answer: t.querySelector('.answer')?.textContent ?? '',
      meta: t.querySelector('.turn-meta')?.textContent ?? '',
      firstPaintMs: t.getAttribute('data-first-paint-ms'),
      workerFirstTokenMs: t.getAttribute('data-worker-first-token-ms'),
      hostFirstPartMs: t.getAttribute('data-host-first-part-ms'),
      arrivedMs: t.getAttribute('data-first-part-arrived-ms'),
      prepMs: t.getAttribute('data-host-prep-ms'),
      renderMs: t.getAttribute('data-first-render-ms'),
    };
  });
}

/** Enter -> first token painted in the view, beside the worker's own first-token time (ms). */
function logTimings(log, t) {
  if (t.firstPaintMs === null || t.workerFirstTokenMs === null) {
    log(`e2e:   (no first-token timings for this turn: ${t.meta.trim() || 'no text'})`);
    return;
  }
  const view = Number(t.firstPaintMs);
  const worker = Number(t.workerFirstTokenMs);
  log(
    `e2e:   Enter -> first token painted ${view} ms in the view; the worker's own first-token time ${worker.toFixed(1)} ms; ` +
      `host send -> first part ${Number(t.hostFirstPartMs).toFixed(1)} ms (of which preparing the request ${t.prepMs} ms); first part reached the view ${t.arrivedMs} ms after Enter, painted ${(view - Number(t.arrivedMs)).toFixed(1)} ms later (rendering it took ${t.renderMs} ms; the rest is waiting for the frame); ` +
      `added by the view, the host and the transport: ${(view - worker).toFixed(1)} ms`,
  );
}

async function sendChat(frame, text) {
  await frame.waitForSelector('#availability', { state: 'hidden', timeout: 60_000 }).catch(async () => {
    const why = await frame.$eval('#availability', (e) => e.textContent).catch(() => '');
    throw new Error(`the chat is not ready: ${why}`);
  });
  const before = await frame.$$eval('.turn', (e) => e.length);
  await frame.fill('#input', text);
  await frame.press('#input', 'Enter');
  return before + 1;
}

/** Picks a color theme through "Preferences: Color Theme" (its picker stays open after the command). */
async function setColorTheme(page, theme) {
  const widget = await openPalette(page);
  const input = widget.locator('.quick-input-box input, input').first();
  await input.fill('>Preferences: Color Theme');
  await widget.locator('.monaco-list-row').filter({ hasText: 'Preferences: Color Theme' }).first().click();
  const row = widget.locator('.monaco-list-row').filter({ hasText: theme }).first();
  await row.waitFor({ state: 'visible', timeout: 10_000 });
  await input.fill(theme);
  await row.click();
  await widget.waitFor({ state: 'hidden', timeout: 10_000 });
}

async function chatChecks({ page, check, log, resultsDir, chatSetupError }) {
  const needModel = () => {
    if (chatSetupError) throw new Error(`no chat model: ${chatSetupError}`);
  };
  await check('ui: chat: Enter sends; the trace streams with its token count and folds when the answer starts', async () => {
    needModel();
    const frame = await chatFrame(page);
    await frame.fill('#input', 'first line');
    await frame.press('#input', 'Shift+Enter');
    await frame.type('#input', 'second line');
    const value = await frame.$eval('#input', (e) => e.value);
    if (value !== 'first line\nsecond line') throw new Error(`Shift+Enter should insert a new line, input is ${JSON.stringify(value)}`);
    const n = await sendChat(frame, 'Hello! What does `sample.py` do?');
    await frame.waitForFunction(() => /Reasoning — \d+ tokens?, /.test(document.querySelector('.turn:last-of-type .trace-heading')?.textContent ?? ''), null, { timeout: 60_000 });
    const t = await lastTurn(frame, n);
    log(`e2e:   turn: ${JSON.stringify({ ...t, answer: t.answer.slice(0, 60) })}`);
    if (!/^Reasoning — \d+ tokens?, [\d.]+ s, [\d.]+ tok\/s/.test(t.heading)) throw new Error(`trace heading "${t.heading}"`);
    if (!t.answer.trim()) throw new Error(`no answer text (meta: ${t.meta})`);
    if (t.traceOpen) throw new Error('the trace is still open after the answer started');
    if ((await frame.$eval('#input', (e) => e.value)) !== '') throw new Error('the input was not cleared');
    logTimings(log, t);
    // the trace opens on a click and folds again
    await frame.click('.turn:last-of-type .trace-summary');
    if (!(await frame.$eval('.turn:last-of-type details.trace', (d) => d.open))) throw new Error('the trace does not open on a click');
    await frame.click('.turn:last-of-type .trace-summary');
  });
  await check('ui: chat: Stop cancels a long answer', async () => {
    needModel();
    const frame = await chatFrame(page);
    // a large budget: the fixture never ends a turn by itself, so it reasons for thousands of tokens
    await frame.fill('#budget input', '3000');
    await frame.press('#budget input', 'Tab');
    await frame.waitForSelector('#app[data-thinking-budget="3000"]', { timeout: 10_000 });
    const n = await sendChat(frame, 'Write a very long story');
    // Stop while the trace streams: the check and the click happen in one step in the page, so the click can
    // not land after the turn already ended by itself (the fixture's turns end at the token limit, which a
    // fast machine reaches between a separate wait and click).
    await frame.waitForFunction((k) => {
      const last = document.querySelector('.turn:last-of-type');
      if (document.querySelectorAll('.turn').length < k || !last?.classList.contains('streaming')) return false;
      if (!/Reasoning — \d+ tokens?/.test(last.querySelector('.trace-heading')?.textContent ?? '')) return false;
      const stop = document.getElementById('stop');
      if (!stop || stop.hidden) return false;
      stop.click();
      return true;
    }, n, { timeout: 30_000 });
    const t = await lastTurn(frame, n);
    logTimings(log, t);
    await frame.fill('#budget input', '8');
    await frame.press('#budget input', 'Tab');
    await frame.waitForSelector('#app[data-thinking-budget="8"]', { timeout: 10_000 });
    if (!/Stopped/.test(t.meta)) throw new Error(`the turn did not stop (meta: "${t.meta}")`);
    if (!(await frame.$('#send:not([hidden])'))) throw new Error('the Send button did not come back');
  });
  await check('ui: chat: a hostile markdown payload renders inert', async () => {
    needModel();
    const frame = await chatFrame(page);
    const dialogs = [];
    const onDialog = (d) => dialogs.push(d.message());
    page.on('dialog', onDialog);
    const payload = [
      '<img src=x onerror="window.__xss=1"> <script>window.__xss=2</script>',
      '[click me](javascript:window.__xss=3) <iframe src="javascript:window.__xss=4"></iframe>',
      '```svg',
      '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40" onload="window.__xss=5"><script>window.__xss=6</script><circle cx="20" cy="20" r="15" fill="teal"/></svg>',
      '```',
    ].join('\n');
    logTimings(log, await lastTurn(frame, await sendChat(frame, payload)));
    await sleep(300);
    page.off('dialog', onDialog);
    const found = await frame.evaluate(() => {
      const m = document.getElementById('messages');
      const bad = [];
      if (window.__xss !== undefined) bad.push(`window.__xss = ${window.__xss}`);
      for (const e of m.querySelectorAll('*')) {
        const tag = e.tagName.toLowerCase();
        if (['script', 'iframe', 'object', 'embed', 'svg', 'form', 'style'].includes(tag)) bad.push(`<${tag}>`);
        for (const a of e.attributes) {
          if (/^on/i.test(a.name)) bad.push(`${tag}[${a.name}]`);
          if ((a.name === 'href' || a.name === 'src') && /^\s*javascript:/i.test(a.value)) bad.push(`${tag}[${a.name}=javascript:]`);
        }
      }
      return { bad, pictures: m.querySelectorAll('img.svg-picture').length, text: m.querySelector('.turn:last-of-type .user-message')?.textContent ?? '' };
    });
    if (found.bad.length) throw new Error(`active content in the view: ${found.bad.join(', ')}`);
    if (dialogs.length) throw new Error(`dialogs opened: ${dialogs.join(' | ')}`);
    if (found.pictures < 1) throw new Error('the sanitized SVG drawing was not shown');
    if (!found.text.includes('<img src=x')) throw new Error(`the payload is not shown as text: ${found.text.slice(0, 120)}`);
    await page.screenshot({ path: path.join(resultsDir, 'e2e-chat-hostile.png') });
  });
  await check('ui: chat: history survives a window reload', async () => {
    needModel();
    let frame = await chatFrame(page);
    const before = await lastTurn(frame, 1);
    await page.reload();
    await waitForWorkbench(page);
    await runCommand(page, 'Hybrid Copilot: Open Chat');
    frame = await chatFrame(page);
    await frame.waitForFunction((n) => document.querySelectorAll('.turn').length === n, before.count, { timeout: 30_000 });
    const after = await lastTurn(frame, before.count);
    if (after.user !== before.user) throw new Error(`last message after the reload: ${after.user.slice(0, 80)}`);
    await frame.click('#history-button');
    const items = await frame.$$eval('.history-item', (els) => els.map((e) => e.textContent));
    if (items.length < 1) throw new Error('the history list is empty');
    log(`e2e:   history: ${items.map((s) => s.replace(/\s+/g, ' ').slice(0, 50)).join(' | ')}`);
    await frame.click('#history-button');
  });
  await check('ui: chat view in a dark and a light theme', async () => {
    for (const [theme, file] of [['Dark Modern', 'e2e-chat-dark.png'], ['Light Modern', 'e2e-chat-light.png']]) {
      await setColorTheme(page, theme);
      await sleep(1000);
      await page.screenshot({ path: path.join(resultsDir, file) });
    }
  });
}

async function uiPhase({ browser, port, extensionPath, workspace, log, resultsDir, consoleLog, stepTimeoutMs, results, state }) {
  let windowFailed = false;
  const { context, page } = await newPage(browser, consoleLog, 'ui');
  const check = async (name, fn) => {
    if (state.aborted) return;
    if (windowFailed) {
      results.push({ name, ok: false, error: 'not run: the window did not open' });
      log(`e2e: FAIL - ${name}: not run (the window did not open)`);
      return;
    }
    const started = Date.now();
    try {
      await withTimeout(fn(), stepTimeoutMs, name);
      if (state.aborted) return;
      results.push({ name, ok: true });
      log(`e2e: ok - ${name} (${Date.now() - started} ms)`);
    } catch (e) {
      if (state.aborted) return;
      const shot = path.join(resultsDir, `e2e-fail-${slug(name)}.png`);
      await page.screenshot({ path: shot }).catch(() => {});
      const msg = String(e?.message ?? e).split('\n')[0];
      results.push({ name, ok: false, error: msg });
      if (name === WINDOW_CHECK) windowFailed = true;
      log(`e2e: FAIL - ${name}: ${msg} (screenshot ${path.relative(process.cwd(), shot)})`);
    }
  };
  const WINDOW_CHECK = 'ui: window opens as Extension Development Host';
  try {
    const payload = [
      ['extensionDevelopmentPath', remoteUri(port, extensionPath)],
      ['skipWelcome', 'true'],
    ];
    const chatSetupError = await prepareChatModel(workspace).catch((e) => String(e?.message ?? e));
    await page.goto(workbenchUrl(port, workspace, payload));
    await check(WINDOW_CHECK, async () => {
      const title = await waitForWorkbench(page);
      log(`e2e:   title: ${title}`);
    });
    await check('ui: "Hybrid Copilot: Show Runtime Info" runs from the command palette', async () => {
      await runCommand(page, 'Hybrid Copilot: Show Runtime Info');
      await closeModalDialog(page, log);
    });
    await check('ui: "Hybrid Copilot: Open Chat" shows the chat webview', async () => {
      await runCommand(page, 'Hybrid Copilot: Open Chat');
      const text = await findAppInWebviews(page, 'Hybrid Copilot', 30_000);
      log(`e2e:   #app text: ${text.replace(/\s+/g, ' ').slice(0, 120)}`);
      await sleep(500); // let the view finish painting
      await page.screenshot({ path: path.join(resultsDir, 'e2e-chat-view.png') });
    });
    await chatChecks({ page, check, log, resultsDir, chatSetupError });
    await completionChecks({ page, check, log, resultsDir, workspace });
    await check('ui: no error notifications', async () => {
      const { all, errors } = await errorNotifications(page);
      for (const a of all) log(`e2e:   notification ${a.replace(/\s+/g, ' ').slice(0, 200)}`);
      if (errors.length) throw new Error(`error notification(s): ${errors.join(' | ').slice(0, 500)}`);
    });
  } finally {
    await context.close().catch(() => {});
  }
}

// ---------------------------------------------------------------- inline completion checks (UI phase)

/**
 * The printable FIM completion fixture (test/e2e/suite/completionModel.ts, compiled to out/ by `npm run build`)
 * written into a temp folder and set as the workspace's model: the extension restarts the runtime with it.
 */
async function prepareCompletionModel(workspace) {
  const repo = path.resolve(here, '..', '..');
  const mod = path.join(repo, 'out', 'test', 'e2e', 'suite', 'completionModel.js');
  if (!fs.existsSync(mod)) throw new Error(`${path.relative(repo, mod)} missing: run \`npm run build\``);
  const { createRequire } = await import('node:module');
  const { writeCompletionFixtureModel } = createRequire(import.meta.url)(mod);
  const model = writeCompletionFixtureModel(path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'completion-model-')), 'completion-fim.gguf'), { fim: true });
  const file = path.join(workspace, '.vscode', 'settings.json');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const settings = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : {};
  settings['hybridCopilot.modelPath'] = model;
  fs.writeFileSync(file, JSON.stringify(settings, null, 2));
}

/** Text of the ghost text shown in the editor ('' when none), spaces normalized. */
async function ghostText(page) {
  const parts = await page.locator('.monaco-editor .ghost-text-decoration, .monaco-editor .ghost-text-decoration-preview').allInnerTexts().catch(() => []);
  return parts.join('').replace(/\u00a0/g, ' ');
}

async function completionChecks({ page, check, log, resultsDir, workspace }) {
  await check('ui: completions: ghost text appears while typing in a TypeScript file; Tab inserts it', async () => {
    await prepareCompletionModel(workspace);
    await page.keyboard.press('Escape');
    await page.keyboard.press('Control+P');
    await page.locator('.quick-input-widget input').fill('sample.ts');
    await page.locator('.quick-input-widget .monaco-list-row').filter({ hasText: 'sample.ts' }).first().click();
    await page.locator('.monaco-editor .view-lines').filter({ hasText: 'fibonacci' }).first().waitFor({ timeout: 15_000 });
    // the end of main()'s loop, then a new statement: `const last = `
    await page.keyboard.press('Control+G');
    await page.locator('.quick-input-widget input').waitFor({ state: 'visible', timeout: 5000 });
    await page.keyboard.type('12');
    await page.keyboard.press('Enter');
    await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: 5000 });
    await sleep(200);
    await page.keyboard.press('End');
    await page.keyboard.press('Enter');
    await sleep(200);
    await page.keyboard.type('const last = ', { delay: 60 });
    // The runtime may still be loading the model: ask again (Alt+\ triggers an inline suggestion) until one shows.
    const ghost = page.locator('.monaco-editor .ghost-text-decoration').first();
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        await ghost.waitFor({ state: 'visible', timeout: 4000 });
        break;
      } catch (e) {
        if (Date.now() > deadline) throw new Error('no ghost text within 60 s of typing');
        await page.keyboard.press('Alt+Backslash');
      }
    }
    const shown = await ghostText(page);
    log(`e2e:   ghost text: ${JSON.stringify(shown.slice(0, 80))}`);
    await page.screenshot({ path: path.join(resultsDir, 'e2e-completion-ghost.png') });
    if (!shown.trim()) throw new Error('the ghost text is empty');
    const start = shown.trim().slice(0, 12);
    // The text of the editor's lines without ghost text (Monaco renders it inside the line as injected spans).
    const realLines = () =>
      page.evaluate(() =>
        [...document.querySelectorAll('.monaco-editor .view-lines .view-line')].map((l) => {
          const c = l.cloneNode(true);
          for (const g of c.querySelectorAll('[class*="ghost-text"]')) g.remove();
          return (c.textContent ?? '').replace(/\u00a0/g, ' ');
        }),
      );
    const before = await realLines();
    if (before.some((l) => l.includes('const last =') && l.includes(start))) throw new Error('the completion is in the text before Tab');
    await page.keyboard.press('Tab');
    const t0 = Date.now();
    let lines = before;
    while (!lines.some((l) => l.includes('const last =') && l.includes(start))) {
      if (Date.now() - t0 > 10_000) throw new Error(`after Tab no line holds "const last = … ${start}" (lines: ${lines.join(' | ').slice(0, 400)})`);
      await sleep(100);
      lines = await realLines();
    }
    await page.screenshot({ path: path.join(resultsDir, 'e2e-completion-accepted.png') });
  });
  await check('ui: completions: the status bar shows the latency; its menu toggles the language, shows logs, restarts', async () => {
    const item = page.locator('.part.statusbar .statusbar-item').filter({ hasText: 'Hybrid' }).first();
    const text = (await item.innerText()).replace(/\s+/g, ' ');
    log(`e2e:   status bar: ${text}`);
    if (!/Hybrid · (CPU|GPU) · \d+ ms/.test(text)) throw new Error(`status bar item "${text}" shows no completion latency`);
    await item.click();
    const widget = page.locator('.quick-input-widget');
    await widget.waitFor({ state: 'visible', timeout: 5000 });
    const rows = (await widget.locator('.monaco-list-row').allInnerTexts()).map((r) => r.replace(/\s+/g, ' '));
    await page.keyboard.press('Escape');
    for (const want of ["Disable Completions for 'typescript'", 'Show Logs', 'Restart Runtime']) {
      if (!rows.some((r) => r.includes(want))) throw new Error(`the menu has no "${want}" (rows: ${rows.join(' | ')})`);
    }
  });
}

// ---------------------------------------------------------------- entry

/**
 * Run the end-to-end tests.
 * @param {object} o
 * @param {string} o.extensionPath   folder with the extension's package.json (built: its "main" exists)
 * @param {string} o.workspace       folder opened in the window (use a throwaway copy)
 * @param {string} o.resultsDir      screenshots and logs go here (created)
 * @param {string} [o.testsPath]     bundled in-host suite (extensionTestsPath); no suite phase without it
 * @param {('suite'|'ui')[]} [o.phases]  default both
 * @param {number} [o.phaseTimeoutMs]    hard limit per phase, default 180000 (HYBRID_E2E_PHASE_TIMEOUT_MS)
 * @param {{node24:string, codeServerEntry:string, chromium:string}} [o.tools]  default: ensureE2E()
 * @param {(line:string)=>void} [o.log]
 * @returns {Promise<{passed:number, failed:number, durationMs:number, results:{name:string, ok:boolean, error?:string}[]}>}
 */
export async function runE2E({
  extensionPath,
  workspace,
  resultsDir,
  testsPath,
  phases = ['suite', 'ui'],
  phaseTimeoutMs = Number(process.env.HYBRID_E2E_PHASE_TIMEOUT_MS) || 180_000,
  tools,
  log = defaultLog,
}) {
  const started = Date.now();
  if (!tools) {
    const { ensureE2E } = await import(path.join(here, '..', '..', 'scripts', 'setup-e2e.mjs'));
    tools = await ensureE2E();
  }
  extensionPath = path.resolve(extensionPath);
  workspace = path.resolve(workspace);
  resultsDir = path.resolve(resultsDir);
  fs.mkdirSync(resultsDir, { recursive: true });
  for (const f of fs.readdirSync(resultsDir)) {
    if (/^e2e-.*\.(png|log|json)$/.test(f)) fs.rmSync(path.join(resultsDir, f), { force: true });
  }

  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'hybrid-e2e-'));
  const dirs = { root };
  for (const d of ['userData', 'extensions', 'config', 'data', 'cache', 'state', 'runtime', 'tmp']) {
    dirs[d] = path.join(root, d);
    fs.mkdirSync(dirs[d], { recursive: true, mode: 0o700 });
  }
  fs.mkdirSync(path.join(dirs.userData, 'User'), { recursive: true });
  fs.writeFileSync(path.join(dirs.userData, 'User', 'settings.json'), JSON.stringify(USER_SETTINGS, null, 2));

  const janitor = new ProcessJanitor(log);
  const keep = !!process.env.HYBRID_E2E_KEEP_TMP;
  janitor.onCleanup(() => {
    if (!keep) fs.rmSync(root, { recursive: true, force: true });
  });
  // playwright puts its chromium profile under os.tmpdir(): keep that inside the private folder too
  const savedTmp = process.env.TMPDIR;
  process.env.TMPDIR = dirs.tmp;

  const consoleLog = fs.createWriteStream(path.join(resultsDir, 'e2e-browser-console.log'));
  const results = [];
  let cs;
  let browserServer;
  let browser;
  try {
    cs = await startCodeServer({
      ...tools,
      dirs,
      workspace,
      janitor,
      log,
      logFile: path.join(resultsDir, 'e2e-code-server.log'),
      resultsDir,
    });
    const { chromium } = await import('playwright-core');
    browserServer = await chromium.launchServer({
      executablePath: tools.chromium,
      args: CHROMIUM_ARGS,
      headless: true,
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
      env: cleanEnv({
        HOME: dirs.root, // chromium writes ~/.pki and the like
        XDG_CONFIG_HOME: dirs.config,
        XDG_CACHE_HOME: dirs.cache,
        XDG_DATA_HOME: dirs.data,
        XDG_RUNTIME_DIR: dirs.runtime,
        TMPDIR: dirs.tmp,
      }),
    });
    janitor.add(browserServer.process()?.pid);
    browser = await chromium.connect(browserServer.wsEndpoint());

    const common = { browser, port: cs.port, extensionPath, workspace, log, resultsDir, consoleLog, results };
    let state = { aborted: false };
    const phaseList = [];
    if (phases.includes('suite')) {
      if (!testsPath) throw new Error('testsPath is required for the suite phase');
      if (!fs.existsSync(testsPath)) throw new Error(`testsPath ${testsPath} does not exist (build the suite first)`);
      phaseList.push(['suite', (state) => suitePhase({ ...common, state, testsPath: path.resolve(testsPath) })]);
    }
    if (phases.includes('ui')) {
      phaseList.push(['ui', (state) => uiPhase({ ...common, state, stepTimeoutMs: Math.min(90_000, phaseTimeoutMs) })]);
    }
    for (const [name, fn] of phaseList) {
      log(`e2e: --- phase ${name} ---`);
      state = { aborted: false }; // set when the phase times out: late results are dropped
      const p = fn(state);
      try {
        await withTimeout(p, phaseTimeoutMs, `phase ${name}`);
      } catch (e) {
        state.aborted = true;
        p.catch(() => {}); // the phase may still settle after its time-out
        const msg = String(e?.message ?? e).split('\n')[0];
        results.push({ name: `phase ${name}`, ok: false, error: msg });
        log(`e2e: FAIL - phase ${name}: ${msg}`);
      }
    }
  } catch (e) {
    const msg = String(e?.message ?? e);
    results.push({ name: 'harness', ok: false, error: msg });
    log(`e2e: FAIL - harness: ${msg}`);
  } finally {
    await withTimeout(
      (async () => {
        await browser?.close().catch(() => {});
        await browserServer?.close().catch(() => {});
      })(),
      10_000,
      'closing chromium',
    ).catch(() => {});
    if (cs) await janitor.stop(cs.pid);
    janitor.killAllSync();
    janitor.dispose();
    consoleLog.end();
    if (savedTmp === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = savedTmp;
  }
  const passed = results.filter((r) => r.ok).length;
  const failed = results.length - passed;
  const durationMs = Date.now() - started;
  try {
    fs.writeFileSync(
      path.join(resultsDir, 'e2e-results.json'),
      JSON.stringify({ passed, failed, durationMs, results }, null, 2) + '\n',
    );
  } catch {}
  return { passed, failed, durationMs, results };
}
