// A GGUF file's header, read for the model picker: architecture, name, quantization, context length, layer
// count, tokenizer size, parameter count. Only the header is read (key/value metadata and tensor infos,
// through a caller's `read(offset, length)`), never the weights; big arrays (the 131k-token vocabulary) are
// skipped, not kept. Layout: ggml/docs/gguf.md (magic, version, tensor count, kv count, kvs, tensor infos).
// The native core validates files fully when it loads them; this reader only describes them, and refuses
// what does not look like GGUF with a message saying what it found.

export type ReadAt = (offset: number, length: number) => Promise<Uint8Array>;

export interface GgufSummary {
  version: number;
  architecture: string;
  name?: string;
  /** llama.cpp's ftype name (Q4_K_M, Q8_0, F16…), from general.file_type or the weights' commonest type. */
  quantization: string;
  contextLength?: number;
  blockCount?: number;
  vocabSize?: number;
  tensorCount: number;
  /** Elements of all tensors. */
  parameters: number;
  /** The file has a chat template (tokenizer.chat_template). */
  hasChatTemplate: boolean;
}

export class GgufHeaderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GgufHeaderError';
  }
}

/** llama.cpp's llama_ftype (include/llama.h). */
const FTYPES: Record<number, string> = {
  0: 'F32', 1: 'F16', 2: 'Q4_0', 3: 'Q4_1', 7: 'Q8_0', 8: 'Q5_0', 9: 'Q5_1', 10: 'Q2_K', 11: 'Q3_K_S', 12: 'Q3_K_M',
  13: 'Q3_K_L', 14: 'Q4_K_S', 15: 'Q4_K_M', 16: 'Q5_K_S', 17: 'Q5_K_M', 18: 'Q6_K', 19: 'IQ2_XXS', 20: 'IQ2_XS',
  21: 'Q2_K_S', 22: 'IQ3_XS', 23: 'IQ3_XXS', 24: 'IQ1_S', 25: 'IQ4_NL', 26: 'IQ3_S', 27: 'IQ3_M', 28: 'IQ2_S',
  29: 'IQ2_M', 30: 'IQ4_XS', 31: 'IQ1_M', 32: 'BF16', 36: 'TQ1_0', 37: 'TQ2_0',
};
/** ggml_type (ggml/include/ggml.h), for files without general.file_type. */
const GGML_TYPES: Record<number, string> = {
  0: 'F32', 1: 'F16', 2: 'Q4_0', 3: 'Q4_1', 6: 'Q5_0', 7: 'Q5_1', 8: 'Q8_0', 9: 'Q8_1', 10: 'Q2_K', 11: 'Q3_K',
  12: 'Q4_K', 13: 'Q5_K', 14: 'Q6_K', 15: 'Q8_K', 16: 'IQ2_XXS', 17: 'IQ2_XS', 18: 'IQ3_XXS', 19: 'IQ1_S', 20: 'IQ4_NL',
  21: 'IQ3_S', 22: 'IQ2_S', 23: 'IQ4_XS', 24: 'I8', 25: 'I16', 26: 'I32', 27: 'I64', 28: 'F64', 29: 'IQ1_M', 30: 'BF16',
};

const enum T {
  U8 = 0, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64,
}
const SCALAR_SIZE: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };

/** Strings longer than this are skipped rather than decoded (metadata we show is short). */
const MAX_KEPT_STRING = 1 << 16;
const MAX_COUNT = 2 ** 40;

class Cursor {
  private buf: Uint8Array = new Uint8Array(0);
  private bufAt = 0;
  pos = 0;
  constructor(
    private readonly readAt: ReadAt,
    private readonly fileSize: number,
    private readonly chunk = 1 << 20,
  ) {}

  private async ensure(n: number): Promise<void> {
    if (this.pos >= this.bufAt && this.pos + n <= this.bufAt + this.buf.length) return;
    if (this.pos + n > this.fileSize) throw new GgufHeaderError(`the header ends early: ${this.pos + n} bytes needed, the file has ${this.fileSize}`);
    const len = Math.min(Math.max(n, this.chunk), this.fileSize - this.pos);
    this.buf = await this.readAt(this.pos, len);
    this.bufAt = this.pos;
    if (this.buf.length < n) throw new GgufHeaderError(`short read at byte ${this.pos}`);
  }
  private view(n: number): DataView {
    const o = this.pos - this.bufAt;
    return new DataView(this.buf.buffer, this.buf.byteOffset + o, n);
  }
  async u32(): Promise<number> {
    await this.ensure(4);
    const v = this.view(4).getUint32(0, true);
    this.pos += 4;
    return v;
  }
  async u64(): Promise<number> {
    await this.ensure(8);
    const v = this.view(8).getBigUint64(0, true);
    this.pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new GgufHeaderError(`a 64-bit count at byte ${this.pos - 8} is too large (${v})`);
    return Number(v);
  }
  async scalar(type: number): Promise<number | boolean> {
    const size = SCALAR_SIZE[type];
    await this.ensure(size);
    const v = this.view(size);
    this.pos += size;
    switch (type) {
      case T.U8: return v.getUint8(0);
      case T.I8: return v.getInt8(0);
      case T.U16: return v.getUint16(0, true);
      case T.I16: return v.getInt16(0, true);
      case T.U32: return v.getUint32(0, true);
      case T.I32: return v.getInt32(0, true);
      case T.F32: return v.getFloat32(0, true);
      case T.BOOL: return v.getUint8(0) !== 0;
      case T.U64: return Number(v.getBigUint64(0, true));
      case T.I64: return Number(v.getBigInt64(0, true));
      default: return v.getFloat64(0, true);
    }
  }
  async string(): Promise<string | undefined> {
    const len = await this.u64();
    if (this.pos + len > this.fileSize) throw new GgufHeaderError(`a string of ${len} bytes at byte ${this.pos} runs past the end of the file`);
    if (len > MAX_KEPT_STRING) {
      this.pos += len;
      return undefined;
    }
    await this.ensure(len);
    const o = this.pos - this.bufAt;
    const s = new TextDecoder().decode(this.buf.subarray(o, o + len));
    this.pos += len;
    return s;
  }
  skip(n: number): void {
    this.pos += n;
  }
}

type Value = number | boolean | string | undefined | { arrayOf: number; count: number };

async function readValue(c: Cursor, type: number): Promise<Value> {
  if (type === T.STRING) return c.string();
  if (type === T.ARRAY) {
    const itemType = await c.u32();
    const count = await c.u64();
    if (count > MAX_COUNT) throw new GgufHeaderError(`an array of ${count} items`);
    if (itemType === T.STRING) {
      for (let i = 0; i < count; i++) c.skip(await c.u64());
    } else if (itemType === T.ARRAY) {
      for (let i = 0; i < count; i++) await readValue(c, T.ARRAY);
    } else if (SCALAR_SIZE[itemType] !== undefined) {
      c.skip(SCALAR_SIZE[itemType] * count);
    } else throw new GgufHeaderError(`unknown array item type ${itemType}`);
    return { arrayOf: itemType, count };
  }
  if (SCALAR_SIZE[type] === undefined) throw new GgufHeaderError(`unknown value type ${type}`);
  return c.scalar(type);
}

export async function readGgufSummary(readAt: ReadAt, fileSize: number): Promise<GgufSummary> {
  if (fileSize < 24) throw new GgufHeaderError(`the file is ${fileSize} bytes: too small for a GGUF header`);
  const c = new Cursor(readAt, fileSize);
  const magic = await c.u32();
  if (magic !== 0x46554747) {
    const bytes = [magic & 0xff, (magic >> 8) & 0xff, (magic >> 16) & 0xff, magic >>> 24];
    throw new GgufHeaderError(`not a GGUF file (it starts with ${bytes.map((b) => b.toString(16).padStart(2, '0')).join(' ')}, not "GGUF")`);
  }
  const version = await c.u32();
  if (version < 2 || version > 3) throw new GgufHeaderError(`GGUF version ${version} is not supported (2 and 3 are)`);
  const tensorCount = await c.u64();
  const kvCount = await c.u64();
  if (kvCount > 1 << 20 || tensorCount > 1 << 24) throw new GgufHeaderError(`implausible counts: ${kvCount} keys, ${tensorCount} tensors`);
  const kv = new Map<string, Value>();
  for (let i = 0; i < kvCount; i++) {
    const key = (await c.string()) ?? '';
    const type = await c.u32();
    kv.set(key, await readValue(c, type));
  }
  let parameters = 0;
  const bytesByType = new Map<number, number>();
  for (let i = 0; i < tensorCount; i++) {
    await c.string();
    const nDims = await c.u32();
    if (nDims > 8) throw new GgufHeaderError(`tensor ${i} has ${nDims} dimensions`);
    let elements = 1;
    for (let d = 0; d < nDims; d++) elements *= await c.u64();
    const type = await c.u32();
    await c.u64(); // data offset
    parameters += elements;
    if (nDims >= 2) bytesByType.set(type, (bytesByType.get(type) ?? 0) + elements);
  }
  const str = (k: string) => (typeof kv.get(k) === 'string' ? (kv.get(k) as string) : undefined);
  const num = (k: string) => (typeof kv.get(k) === 'number' ? (kv.get(k) as number) : undefined);
  const architecture = str('general.architecture');
  if (!architecture) throw new GgufHeaderError('general.architecture is missing');
  const ftype = num('general.file_type');
  let quantization = ftype !== undefined ? FTYPES[ftype] ?? `ftype ${ftype}` : undefined;
  if (!quantization) {
    const commonest = [...bytesByType.entries()].sort((a, b) => b[1] - a[1])[0];
    quantization = commonest ? GGML_TYPES[commonest[0]] ?? `type ${commonest[0]}` : 'unknown';
  }
  const tokens = kv.get('tokenizer.ggml.tokens');
  return {
    version,
    architecture,
    name: str('general.name'),
    quantization,
    contextLength: num(`${architecture}.context_length`),
    blockCount: num(`${architecture}.block_count`),
    vocabSize: typeof tokens === 'object' && tokens ? tokens.count : undefined,
    tensorCount,
    parameters,
    hasChatTemplate: kv.has('tokenizer.chat_template'),
  };
}

/** Architectures the runtime runs (native/src/model/); others are listed but marked unsupported. */
export const SUPPORTED_ARCHITECTURES: readonly string[] = ['nemotron_h', 'granitehybrid'];

export function formatParameters(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(0)}M`;
  return `${Math.round(n / 1e3)}K`;
}
