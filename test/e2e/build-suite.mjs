#!/usr/bin/env node
// Bundles the in-extension-host e2e suite (test/e2e/suite/index.ts + *.test.ts + mocha) into one
// CommonJS file, so nothing has to be resolved from node_modules inside the extension host.
//
//   node test/e2e/build-suite.mjs [--outfile out/e2e/suite/index.js]
//   import { buildSuite } from './test/e2e/build-suite.mjs'; await buildSuite({ outfile });
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(here, '..', '..');
export const DEFAULT_OUTFILE = path.join(REPO_ROOT, 'out', 'e2e', 'suite', 'index.js');

/**
 * @param {{ outfile?: string, logLevel?: string }} [opts]
 * @returns {Promise<string>} absolute path of the bundle (an extensionTestsPath)
 */
export async function buildSuite(opts = {}) {
  const outfile = path.resolve(opts.outfile ?? DEFAULT_OUTFILE);
  const { build } = await import('esbuild');
  await build({
    absWorkingDir: REPO_ROOT,
    entryPoints: [path.join(here, 'suite', 'index.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['vscode'],
    sourcemap: 'linked',
    logLevel: opts.logLevel ?? 'warning',
    // mocha is ESM with `import.meta` in code paths the programmatic API never reaches
    // (and require.resolve of its parallel-mode worker files, which only run with --parallel)
    logOverride: { 'empty-import-meta': 'silent', 'require-resolve-not-external': 'silent' },
  });
  return outfile;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--outfile');
  const outfile = i > 0 ? process.argv[i + 1] : undefined;
  buildSuite({ outfile }).then(
    (f) => console.log(`[e2e] suite bundled: ${path.relative(process.cwd(), f) || f}`),
    (e) => {
      console.error(e?.message ?? e);
      process.exit(1);
    },
  );
}
