// `npm start`: build everything, make sure a model is there, then open VS Code with the extension:
// desktop VS Code (`code --extensionDevelopmentPath`) where `code` is on PATH, otherwise code-server on
// 127.0.0.1 in the browser (its URL is printed; Ctrl+C stops it).
//   npm start -- --model /path/to/model.gguf   use a real GGUF (also: HYBRID_COPILOT_MODEL)
//   npm start -- --code-server                 use code-server even where `code` exists
//   PORT=8080                                  code-server's port (default 8080, or a free one)
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { buildAll } from './build.mjs';
import { packageVsix } from './package.mjs';
import { root, run } from './lib.mjs';
import { ensureE2E } from './setup-e2e.mjs';

const require = createRequire(import.meta.url);
const args = process.argv.slice(2);
const argValue = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};

async function ensureModel() {
  // --model / HYBRID_COPILOT_MODEL, else the built-in model when its file is there, else the random-weights
  // default (src/models/builtin.ts chooseStartModel; compiled by the build above).
  const { chooseStartModel, BUILTIN_CARD_REL } = require(path.join(root, 'out', 'src', 'models', 'builtin.js'));
  const choice = chooseStartModel({ root, given: argValue('--model') ?? process.env.HYBRID_COPILOT_MODEL });
  const p = choice.path;
  if (choice.kind === 'given') {
    if (!fs.existsSync(p)) throw new Error(`model file not found: ${p}`);
    console.log(`model: ${p}`);
    return p;
  }
  if (choice.kind === 'builtin') {
    console.log(`model: ${p}\n  the built-in small code model (what it can and cannot do: ${path.join(root, BUILTIN_CARD_REL)})`);
    return p;
  }
  if (!fs.existsSync(p)) {
    const maker = path.join(root, 'out', 'test', 'fixtures', 'make-model.js');
    if (!fs.existsSync(maker)) throw new Error(`no model at ${p} and no model generator at ${maker}`);
    await run(process.execPath, [maker, '--preset', 'tiny', '--format', 'q8_0', '--seed', '1', '--out', p]);
  }
  console.log(`model: ${p}\n  NOTE: this is a tiny RANDOM-WEIGHTS test model: it proves the pipeline and writes gibberish.`);
  console.log('  For real answers: npm start -- --model /path/to/Nemotron-Nano-9B-v2.Q4_K_M.gguf');
  return p;
}

function hasCode() {
  return spawnSync('sh', ['-c', 'command -v code'], { stdio: 'ignore' }).status === 0;
}

function portFree(port) {
  return new Promise((resolve) => {
    const srv = net.createServer().once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

async function pickPort() {
  const wanted = Number(process.env.PORT || 8080);
  if (await portFree(wanted)) return wanted;
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function startCodeServer(model) {
  const { node24, codeServerEntry } = await ensureE2E();
  const state = path.join(root, '.hybrid', 'code-server');
  const dirs = Object.fromEntries(['user', 'extensions', 'xdg-config', 'xdg-data', 'xdg-cache', 'tmp'].map((d) => [d, path.join(state, d)]));
  for (const d of Object.values(dirs)) fs.mkdirSync(d, { recursive: true });
  const settingsFile = path.join(dirs.user, 'User', 'settings.json');
  fs.mkdirSync(path.dirname(settingsFile), { recursive: true });
  let settings = {};
  try {
    settings = JSON.parse(fs.readFileSync(settingsFile, 'utf8'));
  } catch {
    // first start
  }
  Object.assign(settings, {
    'hybridCopilot.modelPath': model,
    'workbench.secondarySideBar.defaultVisibility': 'hidden',
    'telemetry.telemetryLevel': 'off',
  });
  fs.writeFileSync(settingsFile, JSON.stringify(settings, null, 2));

  const env = {
    ...process.env,
    XDG_CONFIG_HOME: dirs['xdg-config'],
    XDG_DATA_HOME: dirs['xdg-data'],
    XDG_CACHE_HOME: dirs['xdg-cache'],
    TMPDIR: dirs.tmp,
    EXTENSIONS_GALLERY: JSON.stringify({ serviceUrl: '', itemUrl: '', resourceUrlTemplate: '' }),
  };
  for (const k of Object.keys(env)) if (/^npm_/i.test(k)) delete env[k];
  const common = ['--user-data-dir', dirs.user, '--extensions-dir', dirs.extensions];
  // Install the packaged extension, as a user would: notifications and the chat view behave as in a release.
  const vsix = await packageVsix({ build: false, outDir: dirs.tmp });
  await run(node24, [codeServerEntry, ...common, '--install-extension', vsix, '--force'], { env });

  const port = await pickPort();
  const child = spawn(
    node24,
    [codeServerEntry, '--bind-addr', `127.0.0.1:${port}`, '--auth', 'none', '--disable-telemetry', '--disable-update-check',
      '--disable-workspace-trust', ...common, root],
    { env, stdio: ['ignore', 'inherit', 'inherit'], detached: true },
  );
  const stop = () => {
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      // already gone
    }
  };
  process.on('SIGINT', () => { stop(); process.exit(130); });
  process.on('SIGTERM', () => { stop(); process.exit(143); });
  process.on('exit', stop);
  for (let i = 0; i < 300; i++) {
    const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false);
    if (ok) break;
    if (child.exitCode !== null) throw new Error(`code-server exited with code ${child.exitCode}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  console.log(`\nHybrid Copilot is running in VS Code (code-server): http://127.0.0.1:${port}/?folder=${encodeURIComponent(root)}`);
  console.log('Open it in a browser; the Hybrid Copilot icon is in the activity bar. Ctrl+C stops it.');
  await new Promise((resolve) => child.on('exit', resolve));
}

async function main() {
  await buildAll();
  const model = await ensureModel();
  if (hasCode() && !args.includes('--code-server')) {
    console.log('opening desktop VS Code with the extension under development');
    await run('code', ['--new-window', `--extensionDevelopmentPath=${root}`, root], { env: { ...process.env, HYBRID_COPILOT_MODEL: model } });
    return;
  }
  await startCodeServer(model);
}

main().catch((e) => {
  console.error(`npm start: ${e.message}`);
  process.exit(1);
});
