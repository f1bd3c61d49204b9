// `npm run convert -- --in HF_DIR --out FILE.gguf --type q8_0`: runs the compiled converter
// (out/tools/convert/cli.js), compiling the TypeScript first when it is missing or older than its sources.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = path.join(root, 'out', 'tools', 'convert', 'cli.js');
const sources = ['convert.ts', 'cli.ts', 'safetensors.ts', 'hf-tokenizer.ts'].map((f) => path.join(root, 'tools', 'convert', f));
const mtime = (p) => (fs.existsSync(p) ? fs.statSync(p).mtimeMs : 0);
if (!fs.existsSync(cli) || sources.some((s) => mtime(s) > mtime(cli))) {
  console.error('convert: compiling (tsc -p .)');
  // Type errors elsewhere in the project do not stop tsc from emitting; only a missing output does.
  spawnSync(process.platform === 'win32' ? 'npx.cmd' : 'npx', ['tsc', '-p', '.'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  if (!fs.existsSync(cli)) {
    console.error(`convert: ${cli} was not produced; run npx tsc -p . and fix what it reports`);
    process.exit(1);
  }
}
const r = spawnSync(process.execPath, [cli, ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(r.status ?? 1);
