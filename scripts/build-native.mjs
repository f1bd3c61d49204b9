// Builds the native core through cmake-js: the addon (native/build/Release/hybrid_addon.node), the `hybrid`
// CLI (native/build/hybrid) and the native unit tests. CUDA is compiled when nvcc is found
// (HYBRID_CUDA=OFF to skip). Set HYBRID_SANITIZE=1 for an ASan+UBSan build in native/build-asan (no addon).
import os from 'node:os';
import { npx, root, run } from './lib.mjs';

export async function buildNative({ sanitize = process.env.HYBRID_SANITIZE === '1' } = {}) {
  const jobs = String(Math.max(1, Math.min(os.availableParallelism?.() ?? os.cpus().length, 16)));
  const cuda = process.env.HYBRID_CUDA ?? 'AUTO';
  if (sanitize) {
    // Plain CMake: the sanitized build is for the CLI and unit tests; an ASan addon cannot load into a normal node.
    await run('cmake', ['-S', 'native', '-B', 'native/build-asan', '-DCMAKE_BUILD_TYPE=Debug', '-DHYBRID_SANITIZE=ON', '-DHYBRID_CUDA=OFF', '-Wno-dev'], { cwd: root });
    await run('cmake', ['--build', 'native/build-asan', '-j', jobs], { cwd: root });
    return;
  }
  await run(npx('cmake-js'), ['build', '-d', 'native', '-O', 'native/build', '-p', jobs, '--CDHYBRID_CUDA=' + cuda, '-l', 'warn'], { cwd: root });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  buildNative().catch((e) => {
    console.error(e.message);
    process.exit(1);
  });
}
