// Float64 reference decoders of ggml's tensor formats, written from the block layouts one value at a time
// (the plainest formula, value = f(block bytes, index)), independently of the C++ decoders and of the
// fixture encoders. Every product involved is exact in float64, so Math.fround(value) is what an exact
// f32 decoder must produce, bit for bit. Layouts: ggml/src/ggml-common.h, dequantize_row_* in
// ggml/src/ggml-quants.c.
import { encode, FORMATS } from '../fixtures/ggml-formats';

// ggml_type id -> [values per block, bytes per block]
const LAYOUT: Record<number, [number, number]> = {
  0: [1, 4], // F32
  1: [1, 2], // F16
  30: [1, 2], // BF16
  8: [32, 34], // Q8_0
  2: [32, 18], // Q4_0
  3: [32, 20], // Q4_1
  6: [32, 22], // Q5_0
  7: [32, 24], // Q5_1
  9: [32, 36], // Q8_1 (activations)
  12: [256, 144], // Q4_K
  13: [256, 176], // Q5_K
  14: [256, 210], // Q6_K
  15: [256, 292], // Q8_K (activations)
};

/** IEEE half -> value. */
export function half(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  if (exponent === 0) return sign * mantissa * Math.pow(2, -24);
  return sign * (1 + mantissa / 1024) * Math.pow(2, exponent - 15);
}

function u16(b: Uint8Array, o: number): number {
  return b[o] | (b[o + 1] << 8);
}
function i8(b: Uint8Array, o: number): number {
  return b[o] >= 128 ? b[o] - 256 : b[o];
}

// Scale and min of sub-block j of a Q4_K/Q5_K block: 6 bits each in the 12 `scales` bytes at o.
// Sub-blocks 0..3: low 6 bits of bytes j and j+4; 4..7: low/high nibble of byte j+4 plus the top 2 bits of
// bytes j-4 (scale) and j (min).
function scaleMin(b: Uint8Array, o: number, j: number): [number, number] {
  if (j < 4) return [b[o + j] & 63, b[o + j + 4] & 63];
  return [(b[o + j + 4] & 15) | ((b[o + j - 4] >> 6) << 4), (b[o + j + 4] >> 4) | ((b[o + j] >> 6) << 4)];
}

/** Value `e` of the block at byte offset o. */
function blockValue(type: number, b: Uint8Array, o: number, e: number): number {
  switch (type) {
    case 0: return new DataView(b.buffer, b.byteOffset + o, 4).getFloat32(0, true);
    case 1: return half(u16(b, o));
    case 30: {
      // bfloat16 is the top half of an f32
      const dv = new DataView(new ArrayBuffer(4));
      dv.setUint32(0, u16(b, o) << 16 >>> 0, true);
      return dv.getFloat32(0, true);
    }
    case 8: // Q8_0 {f16 d; i8 qs[32]}: d * qs[e]
      return half(u16(b, o)) * i8(b, o + 2 + e);
    case 2: { // Q4_0 {f16 d; u8 qs[16]}: values 0..15 are low nibbles, 16..31 high nibbles, minus 8
      const byte = b[o + 2 + (e % 16)];
      const q = e < 16 ? byte & 15 : byte >> 4;
      return half(u16(b, o)) * (q - 8);
    }
    case 3: { // Q4_1 {f16 d; f16 m; u8 qs[16]}: d * nibble + m
      const byte = b[o + 4 + (e % 16)];
      return half(u16(b, o)) * (e < 16 ? byte & 15 : byte >> 4) + half(u16(b, o + 2));
    }
    case 6: { // Q5_0 {f16 d; u8 qh[4]; u8 qs[16]}: the fifth bit of value e is bit e of qh; minus 16
      const byte = b[o + 6 + (e % 16)];
      const high = (b[o + 2 + (e >> 3)] >> (e & 7)) & 1;
      return half(u16(b, o)) * ((e < 16 ? byte & 15 : byte >> 4) + 16 * high - 16);
    }
    case 7: { // Q5_1 {f16 d; f16 m; u8 qh[4]; u8 qs[16]}: d * (nibble + 16 * bit) + m
      const byte = b[o + 8 + (e % 16)];
      const high = (b[o + 4 + (e >> 3)] >> (e & 7)) & 1;
      return half(u16(b, o)) * ((e < 16 ? byte & 15 : byte >> 4) + 16 * high) + half(u16(b, o + 2));
    }
    case 9: // Q8_1 {f16 d; f16 s; i8 qs[32]}: d * qs[e]
      return half(u16(b, o)) * i8(b, o + 4 + e);
    case 12: { // Q4_K {f16 d; f16 dmin; u8 scales[12]; u8 qs[128]}
      const chunk = Math.floor(e / 64); // 64 values share 32 bytes of qs
      const upper = e % 64 >= 32; // first 32 from low nibbles, next 32 from high nibbles
      const byte = b[o + 16 + 32 * chunk + (e % 32)];
      const q = upper ? byte >> 4 : byte & 15;
      const [sc, m] = scaleMin(b, o + 4, 2 * chunk + (upper ? 1 : 0));
      return half(u16(b, o)) * sc * q - half(u16(b, o + 2)) * m;
    }
    case 13: { // Q5_K {f16 d; f16 dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]}
      const chunk = Math.floor(e / 64);
      const upper = e % 64 >= 32;
      const l = e % 32;
      const byte = b[o + 48 + 32 * chunk + l];
      const low = upper ? byte >> 4 : byte & 15;
      const high = (b[o + 16 + l] >> (2 * chunk + (upper ? 1 : 0))) & 1; // bit (2*chunk + upper) of qh[l]
      const [sc, m] = scaleMin(b, o + 4, 2 * chunk + (upper ? 1 : 0));
      return half(u16(b, o)) * sc * (low + 16 * high) - half(u16(b, o + 2)) * m;
    }
    case 14: { // Q6_K {u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d}
      const h = Math.floor(e / 128); // two halves of 128
      const r = e % 128;
      const quarter = Math.floor(r / 32);
      const l = r % 32;
      const qlByte = b[o + 64 * h + l + (quarter % 2 === 1 ? 32 : 0)];
      const low = quarter < 2 ? qlByte & 15 : qlByte >> 4; // quarters 0,1 low nibbles; 2,3 high
      const high = (b[o + 128 + 32 * h + l] >> (2 * quarter)) & 3;
      const scale = i8(b, o + 192 + 8 * h + Math.floor(r / 16));
      return half(u16(b, o + 208)) * scale * ((low | (high << 4)) - 32);
    }
    case 15: // Q8_K {f32 d; i8 qs[256]; i16 bsums[16]}
      return new DataView(b.buffer, b.byteOffset + o, 4).getFloat32(0, true) * i8(b, o + 4 + e);
  }
  throw new Error(`reference decoder: ggml type ${type} is not supported`);
}

/** n values of a row in ggml type `type` starting at byte `offset` of `bytes`. */
export function decodeRow(type: number, bytes: Uint8Array, n: number, offset = 0): Float64Array {
  const layout = LAYOUT[type];
  if (!layout) throw new Error(`reference decoder: ggml type ${type} is not supported`);
  const [bs, ts] = layout;
  if (n % bs !== 0) throw new Error(`reference decoder: ${n} values are not whole blocks of ${bs}`);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = blockValue(type, bytes, offset + Math.floor(i / bs) * ts, i % bs);
  return out;
}

/** A whole tensor ({type, ne, data}), row after row; compatible with test/reference/nemotron-h.ts's Decode. */
export function decodeTensor(t: { type: number; ne: number[]; data: Uint8Array }): Float64Array {
  const n = t.ne.reduce((a, b) => a * b, 1);
  return decodeRow(t.type, t.data, n, 0);
}

/** Bytes of one row of n values. */
export function rowSize(type: number, n: number): number {
  const [bs, ts] = LAYOUT[type];
  return (n / bs) * ts;
}

// The weight's vec_dot type: what llama.cpp converts activations to (ggml-cpu/ggml-cpu.c type_traits_cpu).
function activationFormat(weightType: number) {
  switch (weightType) {
    case 0: return undefined;
    case 1: return FORMATS.f16;
    case 30: return FORMATS.bf16;
    case 8: case 2: case 6: return FORMATS.q8_0;
    case 3: case 7: return FORMATS.q8_1;
    case 12: case 13: case 14: return FORMATS.q8_k;
  }
  throw new Error(`reference: ggml type ${weightType} is not supported`);
}

/**
 * What llama.cpp's matmul multiplies a weight row of `weightType` with: the activations converted to the
 * weight's vec_dot type (F16 -> f16, BF16 -> bf16, Q8_0/Q4_0/Q5_0 -> Q8_0 blocks, Q4_1/Q5_1 -> Q8_1,
 * K-quants -> Q8_K blocks), decoded back to values. ggml-cpu/ggml-cpu.c ggml_compute_forward_mul_mat.
 */
export function referenceActivations(weightType: number, x: Float32Array): Float64Array {
  const fmt = activationFormat(weightType);
  return fmt ? decodeRow(fmt.type, encode(fmt, x), x.length) : Float64Array.from(x);
}

/**
 * llama.cpp's dot product of one weight row (n values at `offset` of `bytes`) with activations x, in
 * float64: decoded weights times decoded converted activations -- except that for Q4_1/Q5_1 the offset m
 * of each weight block multiplies the Q8_1 block's stored sum s = f16(d * sum q), as ggml's
 * vec_dot_q4_1_q8_1 does, instead of the sum of the decoded activations.
 */
export function referenceVecDot(weightType: number, bytes: Uint8Array, offset: number, x: Float32Array): { value: number; scale: number } {
  const w = decodeRow(weightType, bytes, x.length, offset);
  const a = referenceActivations(weightType, x);
  const r = dot(w, a);
  if (weightType === 3 || weightType === 7) {
    const q81 = encode(FORMATS.q8_1, x);
    const [, ts] = LAYOUT[weightType];
    for (let blk = 0; blk < x.length / 32; blk++) {
      const m = half(u16(bytes, offset + blk * ts + 2));
      let sum = 0;
      for (let j = 0; j < 32; j++) sum += a[blk * 32 + j];
      r.value += m * (half(u16(q81, blk * 36 + 2)) - sum);
    }
  }
  return r;
}

/** Exact dot product and the scale to judge its error by (sum of |w_i * x_i|). */
export function dot(w: ArrayLike<number>, x: ArrayLike<number>): { value: number; scale: number } {
  let value = 0;
  let scale = 0;
  for (let i = 0; i < w.length; i++) {
    value += w[i] * x[i];
    scale += Math.abs(w[i] * x[i]);
  }
  return { value, scale };
}
