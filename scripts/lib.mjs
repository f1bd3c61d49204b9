// Small helpers shared by the project's scripts (Node 20, no dependencies).
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Runs a command with inherited stdio (or captured output when `capture`), rejecting on a non-zero exit. */
export function run(cmd, args, opts = {}) {
  const { capture = false, allowFail = false, echo = true, ...spawnOpts } = opts;
  if (echo) console.log(`$ ${[cmd, ...args].join(' ')}`);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: root, stdio: capture ? ['ignore', 'pipe', 'pipe'] : 'inherit', ...spawnOpts });
    let out = '';
    if (capture) {
      const onData = (d) => {
        out += d;
        if (capture === 'tee') process.stdout.write(d);
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
    }
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if ((code === 0 || allowFail) && !signal) resolve({ code, out });
      else if (allowFail) resolve({ code: code ?? 1, out, signal });
      else reject(new Error(`${cmd} ${args.join(' ')} failed (${signal ?? `exit ${code}`})${capture ? `\n${out.slice(-4000)}` : ''}`));
    });
  });
}

export function npx(bin) {
  return path.join(root, 'node_modules', '.bin', bin);
}

export function seconds(ms) {
  return `${(ms / 1000).toFixed(1)} s`;
}
