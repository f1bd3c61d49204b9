// Bundles the TypeScript: the extension (dist/extension.js), the runtime worker (dist/worker.js) and the
// chat webview (dist/webview/), each separately with esbuild; then type-checks everything and compiles
// the sources and tests with tsc into out/ (what the unit tests run).
import fs from 'node:fs';
import path from 'node:path';
import * as esbuild from 'esbuild';
import { npx, root, run } from './lib.mjs';

export async function bundle({ typecheck = true } = {}) {
  const production = process.env.NODE_ENV === 'production';
  fs.rmSync(path.join(root, 'dist'), { recursive: true, force: true });
  const common = { bundle: true, sourcemap: !production, minify: production, logLevel: 'warning', absWorkingDir: root };
  await Promise.all([
    esbuild.build({ ...common, entryPoints: ['src/extension.ts'], outfile: 'dist/extension.js', platform: 'node', format: 'cjs', target: 'node20', external: ['vscode'] }),
    esbuild.build({ ...common, entryPoints: ['src/worker/main.ts'], outfile: 'dist/worker.js', platform: 'node', format: 'cjs', target: 'node20' }),
    esbuild.build({ ...common, entryPoints: ['src/serve/main.ts'], outfile: 'dist/serve.js', platform: 'node', format: 'cjs', target: 'node20' }),
    esbuild.build({ ...common, entryPoints: ['webview/chat/main.ts'], outfile: 'dist/webview/chat.js', platform: 'browser', format: 'iife', target: 'es2022' }),
  ]);
  const webviewDir = path.join(root, 'dist', 'webview');
  fs.copyFileSync(path.join(root, 'webview', 'chat', 'chat.css'), path.join(webviewDir, 'chat.css'));
  for (const f of ['codicon.css', 'codicon.ttf']) {
    fs.copyFileSync(path.join(root, 'node_modules', '@vscode', 'codicons', 'dist', f), path.join(webviewDir, f));
  }
  if (typecheck) {
    await run(npx('tsc'), ['-p', '.'], { cwd: root });
    await run(npx('tsc'), ['-p', 'webview'], { cwd: root });
  }
  const suiteBuilder = path.join(root, 'test', 'e2e', 'build-suite.mjs');
  if (fs.existsSync(suiteBuilder)) {
    const { buildSuite } = await import(suiteBuilder);
    await buildSuite();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  bundle().catch((e) => {
    console.error(e.message);
    process.exit(1);
  });
}
