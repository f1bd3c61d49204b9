// Reads Hugging Face safetensors checkpoints: one model.safetensors, or shards named by
// model.safetensors.index.json (or model-0000x-of-0000y.safetensors without an index). Format: an u64 LE
// header length N, N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?}, then
// the data section; offsets are relative to it. Every header is validated (types, sizes, offsets inside
// the file) before any tensor is read, so a truncated or corrupt file fails with a message naming it.
import * as fs from 'node:fs';
import * as path from 'node:path';

export class ConvertError extends Error {
  override name = 'ConvertError';
}

export type SafeDtype = 'F32' | 'F16' | 'BF16' | 'F64';
const DTYPE_SIZE: Record<SafeDtype, number> = { F32: 4, F16: 2, BF16: 2, F64: 8 };

export interface SafeTensor {
  name: string;
  file: string;
  dtype: SafeDtype;
  shape: number[];
  /** Absolute byte offset of the data in `file`. */
  offset: number;
  nbytes: number;
}

export interface SafeFileHeader {
  tensors: SafeTensor[];
  metadata: Record<string, string>;
}

/** Parses and validates one file's header. */
export function readSafetensorsHeader(file: string): SafeFileHeader {
  const base = path.basename(file);
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    throw new ConvertError(`${base}: cannot open (${(e as Error).message})`);
  }
  try {
    const size = fs.fstatSync(fd).size;
    if (size < 8) throw new ConvertError(`${base}: truncated safetensors header (${size} bytes, the header length alone needs 8)`);
    const lenBuf = Buffer.alloc(8);
    fs.readSync(fd, lenBuf, 0, 8, 0);
    const n = lenBuf.readBigUInt64LE(0);
    if (n > BigInt(size - 8)) throw new ConvertError(`${base}: truncated safetensors header (it says ${n} bytes, the file has ${size - 8} after the length)`);
    if (n > 100_000_000n) throw new ConvertError(`${base}: safetensors header of ${n} bytes is implausibly large`);
    const headerLen = Number(n);
    const hbuf = Buffer.alloc(headerLen);
    fs.readSync(fd, hbuf, 0, headerLen, 8);
    let json: unknown;
    try {
      json = JSON.parse(hbuf.toString('utf8'));
    } catch (e) {
      throw new ConvertError(`${base}: the safetensors header is not valid JSON (${(e as Error).message}); the file may be truncated or not a safetensors file`);
    }
    if (!json || typeof json !== 'object' || Array.isArray(json)) throw new ConvertError(`${base}: the safetensors header is not a JSON object`);
    const dataStart = 8 + headerLen;
    const dataLen = size - dataStart;
    const tensors: SafeTensor[] = [];
    let metadata: Record<string, string> = {};
    for (const [name, v] of Object.entries(json as Record<string, any>)) {
      if (name === '__metadata__') {
        if (v && typeof v === 'object') metadata = v as Record<string, string>;
        continue;
      }
      if (!v || typeof v !== 'object') throw new ConvertError(`${base}: tensor ${name}: malformed header entry`);
      const dtype = v.dtype as SafeDtype;
      if (!(dtype in DTYPE_SIZE)) throw new ConvertError(`${base}: tensor ${name}: dtype ${String(v.dtype)} is not supported (F32, F16, BF16, F64)`);
      const shape = v.shape;
      if (!Array.isArray(shape) || !shape.every((d: unknown) => Number.isSafeInteger(d) && (d as number) >= 0)) {
        throw new ConvertError(`${base}: tensor ${name}: bad shape ${JSON.stringify(shape)}`);
      }
      const off = v.data_offsets;
      if (!Array.isArray(off) || off.length !== 2 || !off.every((d: unknown) => Number.isSafeInteger(d) && (d as number) >= 0) || off[1] < off[0]) {
        throw new ConvertError(`${base}: tensor ${name}: bad data_offsets ${JSON.stringify(off)}`);
      }
      const count = (shape as number[]).reduce((a, b) => a * b, 1);
      const nbytes = count * DTYPE_SIZE[dtype];
      if (off[1] - off[0] !== nbytes) {
        throw new ConvertError(`${base}: tensor ${name}: ${off[1] - off[0]} bytes of data for shape [${shape.join(', ')}] ${dtype} (${nbytes} expected)`);
      }
      if (off[1] > dataLen) {
        throw new ConvertError(`${base}: tensor ${name}: data ends at ${off[1]} but the data section has ${dataLen} bytes (truncated file?)`);
      }
      tensors.push({ name, file, dtype, shape: shape as number[], offset: dataStart + off[0], nbytes });
    }
    return { tensors, metadata };
  } finally {
    fs.closeSync(fd);
  }
}

/** The safetensors files of a checkpoint folder, in order. */
export function checkpointFiles(dir: string): string[] {
  const index = path.join(dir, 'model.safetensors.index.json');
  if (fs.existsSync(index)) {
    let json: any;
    try {
      json = JSON.parse(fs.readFileSync(index, 'utf8'));
    } catch (e) {
      throw new ConvertError(`model.safetensors.index.json: not valid JSON (${(e as Error).message})`);
    }
    const map = json?.weight_map;
    if (!map || typeof map !== 'object') throw new ConvertError('model.safetensors.index.json: no weight_map');
    const files = [...new Set(Object.values(map as Record<string, string>))].sort();
    for (const f of files) {
      if (typeof f !== 'string' || f.includes('/') || f.includes('\\')) throw new ConvertError(`model.safetensors.index.json: bad file name ${JSON.stringify(f)}`);
      if (!fs.existsSync(path.join(dir, f))) throw new ConvertError(`model.safetensors.index.json names ${f}, which is missing`);
    }
    return files.map((f) => path.join(dir, f));
  }
  const single = path.join(dir, 'model.safetensors');
  if (fs.existsSync(single)) return [single];
  const shards = fs.readdirSync(dir).filter((f) => /^model-\d+-of-\d+\.safetensors$/.test(f)).sort();
  if (shards.length) {
    const total = Number(/-of-(\d+)\./.exec(shards[0])![1]);
    if (shards.length !== total) throw new ConvertError(`found ${shards.length} of ${total} shards (model-*-of-${String(total).padStart(5, '0')}.safetensors) and no index`);
    return shards.map((f) => path.join(dir, f));
  }
  throw new ConvertError(`${dir}: no model.safetensors, model.safetensors.index.json or model-*-of-*.safetensors`);
}

/** All tensors of a checkpoint by name; a name in two files is an error. */
export function readCheckpointTensors(dir: string): Map<string, SafeTensor> {
  const out = new Map<string, SafeTensor>();
  for (const file of checkpointFiles(dir)) {
    for (const t of readSafetensorsHeader(file).tensors) {
      if (out.has(t.name)) throw new ConvertError(`tensor ${t.name} is in both ${path.basename(out.get(t.name)!.file)} and ${path.basename(file)}`);
      out.set(t.name, t);
    }
  }
  return out;
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  if (exp === 0) return sign * mant * 2 ** -24;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** The tensor's values as float32 (F16 and BF16 widen exactly; F64 rounds). */
export function readTensorF32(t: SafeTensor): Float32Array {
  const buf = Buffer.alloc(t.nbytes);
  const fd = fs.openSync(t.file, 'r');
  try {
    let done = 0;
    while (done < t.nbytes) {
      const n = fs.readSync(fd, buf, done, t.nbytes - done, t.offset + done);
      if (n <= 0) throw new ConvertError(`${path.basename(t.file)}: tensor ${t.name}: unexpected end of file`);
      done += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  const count = t.nbytes / DTYPE_SIZE[t.dtype];
  const out = new Float32Array(count);
  switch (t.dtype) {
    case 'F32':
      for (let i = 0; i < count; i++) out[i] = buf.readFloatLE(4 * i);
      break;
    case 'F64':
      for (let i = 0; i < count; i++) out[i] = buf.readDoubleLE(8 * i);
      break;
    case 'F16':
      for (let i = 0; i < count; i++) out[i] = halfToFloat(buf.readUInt16LE(2 * i));
      break;
    case 'BF16': {
      const u = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) u[i] = buf.readUInt16LE(2 * i) << 16;
      break;
    }
  }
  return out;
}
