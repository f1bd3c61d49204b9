// Builds test/conformance/llama-raw-tokenize.cpp against node-llama-cpp's own llama.cpp: the headers come
// from the source bundle it ships (llama/gitRelease.bundle), the library from its prebuilt
// @node-llama-cpp/linux-x64 package, so the binary runs exactly the tokenizer node-llama-cpp runs. Needs git
// and a C++ compiler (both are there wherever the native core builds). Cached in .cache/tokenizers/.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '../fixtures/tokenizer/train-bpe';

export interface RawTokenizer {
  bin: string;
  libDir: string;
}

/** node_modules folder holding node-llama-cpp (HYBRID_NODE_LLAMA_CPP or the repository's). */
export function peerNodeModules(): string {
  return process.env.HYBRID_NODE_LLAMA_CPP ?? path.join(repoRoot, 'node_modules');
}

export function buildRawTokenizer(): RawTokenizer {
  const nm = peerNodeModules();
  const bundle = path.join(nm, 'node-llama-cpp', 'llama', 'gitRelease.bundle');
  const libDir = path.join(nm, '@node-llama-cpp', 'linux-x64', 'bins', 'linux-x64');
  if (!fs.existsSync(bundle)) throw new Error(`no llama.cpp source bundle at ${bundle}`);
  const lib = fs.existsSync(libDir) ? fs.readdirSync(libDir).find((f) => /^libllama\..*so$/.test(f)) : undefined;
  if (!lib) throw new Error(`no prebuilt libllama in ${libDir}`);
  const src = path.join(repoRoot, 'test', 'conformance', 'llama-raw-tokenize.cpp');
  const stamp = `${fs.statSync(bundle).size}-${lib}-${fs.statSync(src).mtimeMs}`;
  const dir = path.join(repoRoot, '.cache', 'tokenizers', 'llama-raw');
  const bin = path.join(dir, 'llama-raw-tokenize');
  const stampFile = path.join(dir, 'stamp');
  if (fs.existsSync(bin) && fs.existsSync(stampFile) && fs.readFileSync(stampFile, 'utf8') === stamp) return { bin, libDir };
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const git = path.join(dir, 'llama.git');
  execFileSync('git', ['clone', '--quiet', '--bare', bundle, git], { stdio: 'pipe' });
  const tar = execFileSync('git', ['--git-dir', git, 'archive', 'HEAD', 'include', 'ggml/include'], { maxBuffer: 64 << 20 });
  const inc = path.join(dir, 'src');
  fs.mkdirSync(inc);
  const x = spawnSync('tar', ['-x', '-C', inc], { input: tar });
  if (x.status !== 0) throw new Error(`tar failed: ${x.stderr}`);
  fs.rmSync(git, { recursive: true, force: true });
  const cxx = process.env.CXX ?? 'c++';
  execFileSync(cxx, ['-std=c++17', '-O1', `-I${path.join(inc, 'include')}`, `-I${path.join(inc, 'ggml', 'include')}`, src, '-o', bin,
    `-L${libDir}`, `-l:${lib}`, `-Wl,-rpath,${libDir}`], { stdio: 'pipe' });
  fs.writeFileSync(stampFile, stamp);
  return { bin, libDir };
}

/** llama.cpp's tokens for raw bytes, for each item. */
export function rawTokenize(raw: RawTokenizer, gguf: string, items: Uint8Array[], special: boolean): number[][] {
  const input = items.map((b) => `${special ? 's' : 'p'} ${Buffer.from(b).toString('hex')}\n`).join('');
  const r = spawnSync(raw.bin, [gguf], { input, encoding: 'utf8', maxBuffer: 256 << 20 });
  if (r.status !== 0) throw new Error(`${raw.bin} exited with ${r.status ?? r.signal}: ${r.stderr}`);
  const lines = r.stdout.split('\n').slice(0, items.length);
  return lines.map((l) => (l === '' ? [] : l.split(',').map(Number)));
}
