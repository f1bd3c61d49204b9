// `npm run build`: the native core (cmake-js) and the TypeScript bundles.
import { buildNative } from './build-native.mjs';
import { bundle } from './bundle.mjs';
import { seconds } from './lib.mjs';

export async function buildAll() {
  const t0 = Date.now();
  await buildNative();
  const t1 = Date.now();
  await bundle();
  console.log(`build: native ${seconds(t1 - t0)}, typescript ${seconds(Date.now() - t1)}`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  buildAll().catch((e) => {
    console.error(e.message);
    process.exit(1);
  });
}
