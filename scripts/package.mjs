// `npm run package`: a platform-specific VSIX (the native addon inside) with @vscode/vsce.
// Target from the machine (linux-x64, darwin-arm64, win32-x64, ...) or `npm run package -- --target T`.
import fs from 'node:fs';
import path from 'node:path';
import { buildNative } from './build-native.mjs';
import { bundle } from './bundle.mjs';
import { npx, root, run } from './lib.mjs';

/** Builds and packages; returns the VSIX path. `build: false` packages what is already built. */
export async function packageVsix({ target = `${process.platform}-${process.arch}`, outDir = root, build = true } = {}) {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const out = path.join(outDir, `${pkg.name}-${target}-${pkg.version}.vsix`);
  if (build) {
    const prev = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production';
    await buildNative();
    await bundle({ typecheck: false });
    process.env.NODE_ENV = prev;
  }
  await run(npx('vsce'), ['package', '--target', target, '--no-dependencies', '--allow-missing-repository', '--skip-license', '-o', out]);
  const addon = path.join(root, 'native', 'build', 'Release', 'hybrid_addon.node');
  console.log(`packaged ${path.relative(root, out)} (${(fs.statSync(out).size / 1048576).toFixed(1)} MiB; addon ${(fs.statSync(addon).size / 1024).toFixed(0)} KiB)`);
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const i = process.argv.indexOf('--target');
  packageVsix(i > 0 ? { target: process.argv[i + 1] } : {}).catch((e) => {
    console.error(e.message);
    process.exit(1);
  });
}
