// Loads the native addon (native/build/Release/hybrid_addon.node) into the worker process. Only the
// worker ever loads it: a crash in native code takes down this process, never the extension host.
import * as fs from 'fs';
import * as path from 'path';

export interface NativeAddon {
  version(): string;
  systemInfo(): string;
}

/** Where the addon lives relative to the bundled worker (dist/worker.js) or the compiled sources (out/src/worker/). */
export function defaultAddonPath(fromDir: string): string {
  const candidates = [
    path.resolve(fromDir, '..', 'native', 'build', 'Release', 'hybrid_addon.node'),
    path.resolve(fromDir, '..', '..', '..', 'native', 'build', 'Release', 'hybrid_addon.node'),
  ];
  return candidates.find((p) => fs.existsSync(p)) ?? candidates[0];
}

export function loadAddon(addonPath: string): NativeAddon {
  if (!fs.existsSync(addonPath)) {
    throw new Error(`native addon not found at ${addonPath}: build it with \`npm run build\``);
  }
  let mod: unknown;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    mod = require(addonPath);
  } catch (e) {
    throw new Error(`native addon at ${addonPath} failed to load: ${(e as Error).message}`);
  }
  const addon = mod as Partial<NativeAddon>;
  if (typeof addon.version !== 'function' || typeof addon.systemInfo !== 'function') {
    throw new Error(`native addon at ${addonPath} does not export the expected functions (version, systemInfo)`);
  }
  return addon as NativeAddon;
}
