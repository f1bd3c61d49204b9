// A plain GGUF reader for the float64 reference and the tests (not the product's reader, which is C++):
// header, metadata and tensor infos, with each tensor's bytes as a Buffer view. Trusts the file — it only
// reads fixtures the tests wrote.
import * as fs from 'node:fs';
import { rowSize } from './formats';

export type GgufValue = number | bigint | boolean | string | GgufValue[];

export interface GgufTensor {
  name: string;
  type: number; // ggml_type
  ne: number[]; // ggml order: ne[0] is the contiguous dimension
  data: Buffer;
}

export interface GgufContents {
  version: number;
  kv: Map<string, GgufValue>;
  tensors: Map<string, GgufTensor>;
}


export function readGguf(path: string): GgufContents {
  const buf = fs.readFileSync(path);
  let off = 0;
  const u32 = () => { const v = buf.readUInt32LE(off); off += 4; return v; };
  const u64 = () => { const v = buf.readBigUInt64LE(off); off += 8; return v; };
  const str = () => { const n = Number(u64()); const s = buf.toString('utf8', off, off + n); off += n; return s; };
  const value = (type: number): GgufValue => {
    switch (type) {
      case 0: return buf.readUInt8(off++);
      case 1: return buf.readInt8(off++);
      case 2: { const v = buf.readUInt16LE(off); off += 2; return v; }
      case 3: { const v = buf.readInt16LE(off); off += 2; return v; }
      case 4: return u32();
      case 5: { const v = buf.readInt32LE(off); off += 4; return v; }
      case 6: { const v = buf.readFloatLE(off); off += 4; return v; }
      case 7: return buf.readUInt8(off++) !== 0;
      case 8: return str();
      case 9: {
        const t = u32();
        const n = Number(u64());
        const out: GgufValue[] = [];
        for (let i = 0; i < n; i++) out.push(value(t));
        return out;
      }
      case 10: return u64();
      case 11: { const v = buf.readBigInt64LE(off); off += 8; return v; }
      case 12: { const v = buf.readDoubleLE(off); off += 8; return v; }
      default: throw new Error(`${path}: unknown metadata type ${type}`);
    }
  };
  if (buf.toString('latin1', 0, 4) !== 'GGUF') throw new Error(`${path}: not a GGUF file`);
  off = 4;
  const version = u32();
  const nTensors = Number(u64());
  const nKv = Number(u64());
  const kv = new Map<string, GgufValue>();
  for (let i = 0; i < nKv; i++) {
    const key = str();
    kv.set(key, value(u32()));
  }
  const infos: { name: string; ne: number[]; type: number; offset: number }[] = [];
  for (let i = 0; i < nTensors; i++) {
    const name = str();
    const nDims = u32();
    const ne: number[] = [];
    for (let d = 0; d < nDims; d++) ne.push(Number(u64()));
    const type = u32();
    infos.push({ name, ne, type, offset: Number(u64()) });
  }
  const alignment = Number(kv.get('general.alignment') ?? 32);
  const dataStart = Math.ceil(off / alignment) * alignment;
  const tensors = new Map<string, GgufTensor>();
  for (const t of infos) {
    const rows = t.ne.slice(1).reduce((a, b) => a * b, 1);
    const bytes = rowSize(t.type, t.ne[0]) * rows; // throws for a type the reference decoders lack
    const start = dataStart + t.offset;
    tensors.set(t.name, { name: t.name, type: t.type, ne: t.ne, data: buf.subarray(start, start + bytes) });
  }
  return { version, kv, tensors };
}
