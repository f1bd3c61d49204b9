// How the GEMV kernels read one "unit" of a quantized weight row from the device layout (mm_common.cuh's
// Layout: quants repacked for aligned 16-byte loads, scales beside them): the raw bits and the unit's scales,
// shared by the f32 GEMV (gemv.cu, which decodes them to floats) and the int8 dp4a GEMV (gemv_dp4a.cu, which
// multiplies them as integers). Units: Q8_0 and Q5_0 one 32-value block; Q4_K 16 bytes of one 32-byte chunk
// (two sub-blocks of 16 + 16 values); Q6_K a quarter block (64 values).
#pragma once
#include "backend/cuda/mm_common.cuh"

namespace hybrid::cuda::mm {

__device__ __forceinline__ uint4 ld16(const void* p) { return __ldg(reinterpret_cast<const uint4*>(p)); }

// bit k (k < 4) of h -> bit 4 of byte k
__device__ __forceinline__ uint32_t spread4(uint32_t h) { return (((h & 0xFu) * 0x00204081u) & 0x01010101u) << 4; }

template <Format F>
struct BlockLoad;

template <>
struct BlockLoad<Format::Q8_0> {  // 32 int8 (two 16-byte loads) and the block's scale
  struct Raw { uint4 a, b; float d; };
  __device__ static Raw load(const Layout& L, int64_t r, int u) {
    const uint8_t* p = L.q + r * L.row_bytes + 32 * u;
    return {ld16(p), ld16(p + 16), h2f(__ldg(L.d + r * L.nb + u))};
  }
};

template <>
struct BlockLoad<Format::Q5_0> {  // 16 bytes of nibbles, 32 high bits, the scale
  struct Raw { uint4 qs; uint32_t qh; float d; };
  __device__ static Raw load(const Layout& L, int64_t r, int u) {
    return {ld16(L.q + r * L.row_bytes + 16 * u), __ldg(L.qh + r * L.nb + u), h2f(__ldg(L.d + r * L.nb + u))};
  }
};

template <>
struct BlockLoad<Format::Q4_K> {  // the nibbles and the scale/min of the chunk's two sub-blocks
  struct Raw { uint4 qs; float d1, m1, d2, m2; };
  __device__ static Raw load(const Layout& L, int64_t r, int u) {
    const uint8_t* blk = L.q + r * L.row_bytes + static_cast<int64_t>(u >> 3) * 144;
    const int i = u & 7, c = i >> 1;
    const uint4 qs = ld16(blk + 16 + 16 * i);
    const uint4 hd = ld16(blk);
    const float d = h2f(static_cast<uint16_t>(hd.x & 0xffff)), dmin = h2f(static_cast<uint16_t>(hd.x >> 16));
    float sc, m;
    Raw w;
    w.qs = qs;
    k4_scale_min(hd.y, hd.z, hd.w, 2 * c, &sc, &m);
    w.d1 = d * sc;
    w.m1 = dmin * m;
    k4_scale_min(hd.y, hd.z, hd.w, 2 * c + 1, &sc, &m);
    w.d2 = d * sc;
    w.m2 = dmin * m;
    return w;
  }
};

template <>
struct BlockLoad<Format::Q6_K> {  // a quarter block: l in [16j, 16j+16) of half h, values l, l+32, l+64, l+96
  struct Raw { uint4 qa, qb, qh; float s[4]; };
  __device__ static Raw load(const Layout& L, int64_t r, int u) {
    const int64_t b = u >> 2;
    const int i = u & 3, h = i >> 1, j = i & 1;
    const uint8_t* blk = L.q + r * L.row_bytes + b * 208;
    Raw w;
    w.qa = ld16(blk + 64 * h + 16 * j);
    w.qb = ld16(blk + 64 * h + 32 + 16 * j);
    w.qh = ld16(blk + 128 + 32 * h + 16 * j);
    const float d = h2f(__ldg(L.d + r * L.nb + b));
    const int8_t* sc = reinterpret_cast<const int8_t*>(blk + 192 + 8 * h + j);
#pragma unroll
    for (int q = 0; q < 4; ++q) w.s[q] = d * static_cast<float>(__ldg(sc + 2 * q));
    return w;
  }
};

}  // namespace hybrid::cuda::mm
