// The model files the picker offers: GGUF files in the extension's models folder (global storage, where
// downloads go), the bundled `models/` folder, and the files the user added by path; each described from
// its header (architecture, quantization, size) without loading it. Node only; no vscode import.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { GgufSummary, readGgufSummary, SUPPORTED_ARCHITECTURES } from '../shared/models/gguf';
import { partPaths, removePartial } from './downloader';

export interface ModelFile {
  path: string;
  name: string;
  sizeBytes: number;
  /** Where it was found. */
  origin: 'downloaded' | 'bundled' | 'added';
  summary?: GgufSummary;
  /** Why the header could not be read. */
  error?: string;
  supported: boolean;
}

export async function describeModel(file: string, origin: ModelFile['origin']): Promise<ModelFile> {
  const name = path.basename(file);
  let handle: fs.promises.FileHandle | undefined;
  try {
    handle = await fs.promises.open(file, 'r');
    const { size } = await handle.stat();
    const h = handle;
    const summary = await readGgufSummary(async (offset, length) => {
      const buf = Buffer.alloc(length);
      const { bytesRead } = await h.read(buf, 0, length, offset);
      return buf.subarray(0, bytesRead);
    }, size);
    return { path: file, name, sizeBytes: size, origin, summary, supported: SUPPORTED_ARCHITECTURES.includes(summary.architecture) };
  } catch (e) {
    const sizeBytes = fs.existsSync(file) ? fs.statSync(file).size : 0;
    return { path: file, name, sizeBytes, origin, error: (e as Error).message, supported: false };
  } finally {
    await handle?.close();
  }
}

/** `.gguf` files directly in `dir` (not the partial downloads). */
export function ggufFilesIn(dir: string): string[] {
  try {
    return fs
      .readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isFile() && /\.gguf$/i.test(e.name))
      .map((e) => path.join(dir, e.name))
      .sort();
  } catch {
    return [];
  }
}

/** Downloads that stopped before the end: `<name>.gguf.part` with its bytes so far. */
export function partialDownloads(dir: string): { dest: string; bytes: number }[] {
  try {
    return fs
      .readdirSync(dir)
      .filter((n) => /\.gguf\.part$/i.test(n))
      .map((n) => {
        const dest = path.join(dir, n.slice(0, -'.part'.length));
        return { dest, bytes: fs.statSync(partPaths(dest).part).size };
      });
  } catch {
    return [];
  }
}

export async function listModels(o: { downloadDir: string; bundledDir?: string; added: readonly string[] }): Promise<ModelFile[]> {
  const seen = new Set<string>();
  const jobs: Promise<ModelFile>[] = [];
  const add = (file: string, origin: ModelFile['origin']) => {
    const key = path.resolve(file);
    if (seen.has(key)) return;
    seen.add(key);
    jobs.push(describeModel(file, origin));
  };
  for (const f of ggufFilesIn(o.downloadDir)) add(f, 'downloaded');
  if (o.bundledDir) for (const f of ggufFilesIn(o.bundledDir)) add(f, 'bundled');
  for (const f of o.added) if (fs.existsSync(f)) add(f, 'added');
  return Promise.all(jobs);
}

/** Deletes a downloaded model file and any partial download of it. Files outside `downloadDir` are refused. */
export function deleteDownloadedModel(file: string, downloadDir: string): void {
  const rel = path.relative(path.resolve(downloadDir), path.resolve(file));
  if (rel.startsWith('..') || path.isAbsolute(rel)) {
    throw new Error(`${file} is not in the extension's models folder (${downloadDir}); only downloaded models are deleted (remove your own files yourself)`);
  }
  fs.rmSync(file, { force: true });
  removePartial(file);
}
