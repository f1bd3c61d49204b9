// The weight-tile decoders of the prefill GEMMs (gemm.cu, gemm_mma.cu): a thread loads 16 values (one
// half of a 32-wide k tile) of one weight row into registers (tile_load) and decodes them to f32
// (tile_decode), to be rounded to f16 into shared memory.
#pragma once
#include "backend/cuda/mm_common.cuh"

namespace hybrid::cuda::mm {

constexpr int BK = 32;  // k per tile: one Q8_0/Q5_0 block, one Q4_K sub-block, two Q6_K sub-blocks

__device__ __forceinline__ uint4 mm_ld16(const void* p) { return __ldg(reinterpret_cast<const uint4*>(p)); }

// Register-path weight tiles: thread (row = tid / 2, half = tid % 2) decodes 16 values of its row.
template <Format F>
struct Tile;

template <>
struct Tile<Format::F32> {
  struct Raw { float4 v[4]; };
  __device__ static Raw load(const Layout& L, int64_t r, int kt, int half) {
    const float4* p = reinterpret_cast<const float4*>(L.q + r * L.row_bytes) + (kt * BK + 16 * half) / 4;
    return {{__ldg(p), __ldg(p + 1), __ldg(p + 2), __ldg(p + 3)}};
  }
  __device__ static void decode(const Raw& w, int, float o[16]) {
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      o[4 * i] = w.v[i].x; o[4 * i + 1] = w.v[i].y; o[4 * i + 2] = w.v[i].z; o[4 * i + 3] = w.v[i].w;
    }
  }
};

template <>
struct Tile<Format::Q8_0> {
  struct Raw { uint4 q; float d; };
  __device__ static Raw load(const Layout& L, int64_t r, int kt, int half) {
    return {mm_ld16(L.q + r * L.row_bytes + kt * BK + 16 * half), h2f(__ldg(L.d + r * L.nb + kt))};
  }
  __device__ static void decode(const Raw& w, int, float o[16]) {
    const uint32_t a[4] = {w.q.x, w.q.y, w.q.z, w.q.w};
#pragma unroll
    for (int i = 0; i < 16; ++i) o[i] = w.d * static_cast<float>(static_cast<int8_t>((a[i / 4] >> (8 * (i % 4))) & 0xFF));
  }
};

template <>
struct Tile<Format::Q5_0> {
  struct Raw { uint4 q; uint32_t qh; float d; };
  __device__ static Raw load(const Layout& L, int64_t r, int kt, int) {
    return {mm_ld16(L.q + r * L.row_bytes + 16 * kt), __ldg(L.qh + r * L.nb + kt), h2f(__ldg(L.d + r * L.nb + kt))};
  }
  __device__ static void decode(const Raw& w, int half, float o[16]) {
    const uint32_t a[4] = {w.q.x, w.q.y, w.q.z, w.q.w};
    const int sh = 4 * half;
    const uint32_t hb = w.qh >> (16 * half);
#pragma unroll
    for (int i = 0; i < 16; ++i) {
      const int q = static_cast<int>(((a[i / 4] >> (8 * (i % 4) + sh)) & 0xF) | (((hb >> i) & 1) << 4)) - 16;
      o[i] = w.d * static_cast<float>(q);
    }
  }
};

template <>
struct Tile<Format::Q4_K> {
  struct Raw { uint4 q; float d, m; };
  __device__ static Raw load(const Layout& L, int64_t r, int kt, int half) {
    const int k0 = kt * BK;
    const uint8_t* blk = L.q + r * L.row_bytes + static_cast<int64_t>(k0 / 256) * 144;
    const int s = (k0 % 256) / 32, c = s >> 1;
    const uint4 hd = mm_ld16(blk);
    Raw w;
    w.q = mm_ld16(blk + 16 + 32 * c + 16 * half);
    float sc, m;
    k4_scale_min(hd.y, hd.z, hd.w, s, &sc, &m);
    w.d = h2f(static_cast<uint16_t>(hd.x & 0xffff)) * sc;
    w.m = h2f(static_cast<uint16_t>(hd.x >> 16)) * m;
    // the nibble (low for even sub-blocks) is applied in decode via kt
    return w;
  }
  __device__ static void decode_kt(const Raw& w, int kt, float o[16]) {
    const int sh = ((kt * BK % 256) / 32 & 1) * 4;
    const uint32_t a[4] = {w.q.x, w.q.y, w.q.z, w.q.w};
#pragma unroll
    for (int i = 0; i < 16; ++i) o[i] = w.d * static_cast<float>((a[i / 4] >> (8 * (i % 4) + sh)) & 0xF) - w.m;
  }
};

template <>
struct Tile<Format::Q6_K> {
  struct Raw { uint4 ql, qh; float s; };
  __device__ static Raw load(const Layout& L, int64_t r, int kt, int half) {
    const int k0 = kt * BK;
    const int64_t b = k0 / 256;
    const int e0 = k0 % 256, h = e0 / 128, q = (e0 % 128) / 32;
    const uint8_t* blk = L.q + r * L.row_bytes + b * 208;
    Raw w;
    w.ql = mm_ld16(blk + 64 * h + (q & 1) * 32 + 16 * half);
    w.qh = mm_ld16(blk + 128 + 32 * h + 16 * half);
    w.s = h2f(__ldg(L.d + r * L.nb + b)) * static_cast<float>(reinterpret_cast<const int8_t*>(blk + 192)[8 * h + 2 * q + half]);
    return w;
  }
  __device__ static void decode_kt(const Raw& w, int kt, float o[16]) {
    const int q = ((kt * BK) % 128) / 32;
    const int sh = (q >> 1) * 4, hs = 2 * q;
    const uint32_t a[4] = {w.ql.x, w.ql.y, w.ql.z, w.ql.w};
    const uint32_t hh[4] = {w.qh.x, w.qh.y, w.qh.z, w.qh.w};
#pragma unroll
    for (int i = 0; i < 16; ++i) {
      const int v = static_cast<int>(((a[i / 4] >> (8 * (i % 4) + sh)) & 0xF) | (((hh[i / 4] >> (8 * (i % 4) + hs)) & 3) << 4)) - 32;
      o[i] = w.s * static_cast<float>(v);
    }
  }
};


template <Format F>
struct TileRaw { using type = typename Tile<F>::Raw; };
template <>
struct TileRaw<Format::F16> { using type = int; };  // F16/BF16 tiles are copied, never decoded
template <>
struct TileRaw<Format::BF16> { using type = int; };

template <Format F>
__device__ __forceinline__ typename TileRaw<F>::type tile_load(const Layout& L, int64_t r, int kt, int half) {
  if constexpr (F == Format::F16 || F == Format::BF16) return 0;
  else return Tile<F>::load(L, r, kt, half);
}

template <Format F>
__device__ __forceinline__ void tile_decode(const typename TileRaw<F>::type& w, int kt, int half, float o[16]) {
  if constexpr (F == Format::F16 || F == Format::BF16) {
#pragma unroll
    for (int i = 0; i < 16; ++i) o[i] = 0.0f;
  } else if constexpr (F == Format::Q4_K || F == Format::Q6_K) {
    Tile<F>::decode_kt(w, kt, o);
  } else {
    Tile<F>::decode(w, half, o);
  }
}

}  // namespace hybrid::cuda::mm
