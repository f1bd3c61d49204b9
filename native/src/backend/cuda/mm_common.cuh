// Shared pieces of the CUDA matrix multiply (matmul.cu, gemv.cu, gemm.cu): the device layout of each
// weight format, CUDA error checks and the per-value decoders.
//
// Device layouts (DeviceMatrix::data; row_bytes is the size of one row of the first array):
//  - F32, F16, BF16, Q4_K: ggml's rows byte for byte (Q4_K blocks are 144 bytes: 16-byte aligned).
//  - Q8_0: repacked (34-byte blocks are not even 4-byte aligned): qs[M][K] int8 (row_bytes = K), then at
//    offset align256(M*K) the scales d[M][K/32] (f16 bits).
//  - Q6_K: repacked: per block 208 bytes {ql[128], qh[64], scales[16]} (row_bytes = K/256*208), then at
//    align256(M*row_bytes) d[M][K/256] (f16 bits).
//  - Q5_0: repacked: qs[M][K/32][16] (row_bytes = K/2), then qh[M][K/32] (u32) at align256(M*row_bytes),
//    then d[M][K/32] (f16 bits) at align256 after that.
//  - every other format: decoded on the host and stored as F16 (DeviceMatrix::format says F16).
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "backend/cuda/cuda_matmul.h"

namespace hybrid::cuda::mm {

using formats::Format;

// Throws std::runtime_error naming the call and the CUDA error.
inline void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess)
    throw std::runtime_error(std::string("CUDA error in ") + what + ": " + cudaGetErrorString(e));
}
#define MM_CHECK(x) ::hybrid::cuda::mm::check((x), #x)
// After a kernel launch: launch-configuration errors (not the kernel's own faults, which are asynchronous).
#define MM_CHECK_LAUNCH(name) ::hybrid::cuda::mm::check(cudaGetLastError(), name)

inline size_t align256(size_t x) { return (x + 255) & ~size_t(255); }

// Multiprocessors of the current device (read once; 132, an H100's, when the query fails): GEMV and GEMM
// size their grids and K splits by it.
inline int sm_count() {
  static const int sms = [] {
    int dev = 0, v = 0;
    if (cudaGetDevice(&dev) != cudaSuccess || cudaDeviceGetAttribute(&v, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess) {
      cudaGetLastError();
      return 132;
    }
    return v;
  }();
  return sms;
}

// Pointers into a device matrix, derived from DeviceMatrix (see the layouts above).
struct Layout {
  const uint8_t* q = nullptr;    // M rows of row_bytes
  const uint16_t* d = nullptr;   // Q8_0, Q6_K, Q5_0: per-block f16 scales [M][nb]
  const uint32_t* qh = nullptr;  // Q5_0: per-block high bits [M][nb]
  size_t row_bytes = 0;
  int64_t K = 0, M = 0, nb = 0;  // nb: blocks per row (scale entries per row)
};

inline int64_t blocks_per_row(Format f, int64_t K) {
  switch (f) {
    case Format::Q8_0:
    case Format::Q5_0: return K / 32;
    case Format::Q4_K:
    case Format::Q6_K: return K / 256;
    default: return 0;
  }
}

// Row bytes of the first array of the device layout.
inline size_t device_row_bytes(Format f, int64_t K) {
  switch (f) {
    case Format::F32: return static_cast<size_t>(K) * 4;
    case Format::F16:
    case Format::BF16: return static_cast<size_t>(K) * 2;
    case Format::Q8_0: return static_cast<size_t>(K);
    case Format::Q4_K: return static_cast<size_t>(K / 256) * 144;
    case Format::Q6_K: return static_cast<size_t>(K / 256) * 208;
    case Format::Q5_0: return static_cast<size_t>(K / 2);
    default: throw std::invalid_argument("device_row_bytes: not a device format");
  }
}

// Total device bytes of an M x K matrix stored as device format f.
inline size_t device_bytes(Format f, int64_t K, int64_t M) {
  const size_t main = align256(device_row_bytes(f, K) * static_cast<size_t>(M));
  const size_t nbm = static_cast<size_t>(blocks_per_row(f, K)) * static_cast<size_t>(M);
  switch (f) {
    case Format::Q8_0:
    case Format::Q6_K: return main + align256(nbm * 2);
    case Format::Q5_0: return main + align256(nbm * 4) + align256(nbm * 2);
    default: return main;
  }
}

inline Layout layout_of(const DeviceMatrix& w) {
  Layout L;
  L.q = static_cast<const uint8_t*>(w.data);
  L.row_bytes = w.row_bytes;
  L.K = w.K;
  L.M = w.M;
  L.nb = blocks_per_row(w.format, w.K);
  const size_t main = align256(w.row_bytes * static_cast<size_t>(w.M));
  const size_t nbm = static_cast<size_t>(L.nb) * static_cast<size_t>(w.M);
  switch (w.format) {
    case Format::Q8_0:
    case Format::Q6_K: L.d = reinterpret_cast<const uint16_t*>(L.q + main); break;
    case Format::Q5_0:
      L.qh = reinterpret_cast<const uint32_t*>(L.q + main);
      L.d = reinterpret_cast<const uint16_t*>(L.q + main + align256(nbm * 4));
      break;
    default: break;
  }
  return L;
}

// ---- device helpers ----

__device__ __forceinline__ float h2f(uint16_t h) { return __half2float(__ushort_as_half(h)); }
__device__ __forceinline__ float bf2f(uint16_t h) { return __uint_as_float(static_cast<uint32_t>(h) << 16); }

// Byte b (0..11) of the 12 Q4_K scale bytes held in three words.
__device__ __forceinline__ uint32_t k4_byte(uint32_t s0, uint32_t s1, uint32_t s2, int b) {
  const uint32_t w = b < 4 ? s0 : (b < 8 ? s1 : s2);
  return (w >> (8 * (b & 3))) & 0xFF;
}
// ggml's get_scale_min_k4 on the scale bytes in registers.
__device__ __forceinline__ void k4_scale_min(uint32_t s0, uint32_t s1, uint32_t s2, int j, float* sc, float* m) {
  if (j < 4) {
    *sc = static_cast<float>(k4_byte(s0, s1, s2, j) & 63);
    *m = static_cast<float>(k4_byte(s0, s1, s2, j + 4) & 63);
  } else {
    *sc = static_cast<float>((k4_byte(s0, s1, s2, j + 4) & 0xF) | ((k4_byte(s0, s1, s2, j - 4) >> 6) << 4));
    *m = static_cast<float>((k4_byte(s0, s1, s2, j + 4) >> 4) | ((k4_byte(s0, s1, s2, j) >> 6) << 4));
  }
}

// One value (row r, column k) of a device matrix, decoded to f32: the slow, obviously-right path
// (get_rows and reference checks).
template <Format F>
__device__ __forceinline__ float decode_value(const Layout& L, int64_t r, int64_t k) {
  const uint8_t* row = L.q + r * L.row_bytes;
  if constexpr (F == Format::F32) {
    return reinterpret_cast<const float*>(row)[k];
  } else if constexpr (F == Format::F16) {
    return h2f(reinterpret_cast<const uint16_t*>(row)[k]);
  } else if constexpr (F == Format::BF16) {
    return bf2f(reinterpret_cast<const uint16_t*>(row)[k]);
  } else if constexpr (F == Format::Q8_0) {
    return h2f(L.d[r * L.nb + k / 32]) * static_cast<float>(reinterpret_cast<const int8_t*>(row)[k]);
  } else if constexpr (F == Format::Q5_0) {
    const int64_t b = k / 32;
    const int j = static_cast<int>(k % 32);
    const uint8_t qs = row[b * 16 + (j & 15)];
    const uint32_t qh = L.qh[r * L.nb + b];
    const int q = static_cast<int>(((j < 16) ? (qs & 0xF) : (qs >> 4)) | (((qh >> j) & 1) << 4)) - 16;
    return h2f(L.d[r * L.nb + b]) * static_cast<float>(q);
  } else if constexpr (F == Format::Q4_K) {
    const uint8_t* blk = row + (k / 256) * 144;
    const int e = static_cast<int>(k % 256);
    const int c = e / 64, hi = (e % 64) / 32, l = e % 32;
    const uint32_t* s = reinterpret_cast<const uint32_t*>(blk + 4);
    float sc, m;
    k4_scale_min(s[0], s[1], s[2], 2 * c + hi, &sc, &m);
    const uint8_t qb = blk[16 + 32 * c + l];
    const float q = static_cast<float>(hi ? (qb >> 4) : (qb & 0xF));
    const uint16_t* dd = reinterpret_cast<const uint16_t*>(blk);
    return h2f(dd[0]) * sc * q - h2f(dd[1]) * m;
  } else if constexpr (F == Format::Q6_K) {
    const int64_t b = k / 256;
    const uint8_t* blk = row + b * 208;
    const int e = static_cast<int>(k % 256);
    const int h = e / 128, q4 = (e % 128) / 32, l = e % 32;
    const uint8_t* ql = blk + 64 * h;
    const uint8_t* qh = blk + 128 + 32 * h;
    const int8_t* sc = reinterpret_cast<const int8_t*>(blk + 192) + 8 * h;
    const uint8_t lb = ql[l + ((q4 & 1) ? 32 : 0)];
    const int lo = (q4 >> 1) ? (lb >> 4) : (lb & 0xF);
    const int q = (lo | (((qh[l] >> (2 * q4)) & 3) << 4)) - 32;
    return h2f(L.d[r * L.nb + b]) * static_cast<float>(sc[l / 16 + 2 * q4]) * static_cast<float>(q);
  } else {
    return 0.0f;
  }
}

// Launchers (gemv.cu, gemm.cu). x: f32 [n][K], y: f32 [n][M].
void gemv(Format f, const Layout& L, const float* x, int64_t n, float* y, bool accumulate, cudaStream_t stream);
void gemm(Format f, const Layout& L, const float* x, int64_t n, float* y, bool accumulate, void* scratch,
          cudaStream_t stream);
size_t gemm_scratch_bytes(Format f, int64_t K, int64_t n);
// The tensor-core GEMM on activations already converted (xa: f16, or bf16 for BF16 weights), gemm_mma.cu.
// part: split-K partial sums, kSplitPartFloats floats of scratch (used when too few blocks fill the device).
constexpr int64_t kSplitPartFloats = int64_t{8} << 20;
void gemm_mma(Format f, const Layout& L, const void* xa, int64_t n, float* y, bool accumulate, float* part,
              cudaStream_t stream);
void set_gemm_splits(int s);  // 0: automatic split-K; s > 0: exactly s splits (tests)
void gemm_mma_prepare();  // kernel attributes, once (called by upload_matrix, before any graph capture)
// GEMM kernel: 0 = mma.sync (default), 1 = wmma (HYBRID_MM_GEMM=wmma); for tests and cuda-opbench.
void set_gemm_variant(int v);
// The integer GEMV (gemv_dp4a.cu): activations quantized to int8 per 32 into scratch, dp4a products.
bool gemv_dp4a_applies(Format f, int64_t n);  // n <= 2 and f in the chosen variant (set_gemv_variant / HYBRID_MM_GEMV)
size_t gemv_dp4a_scratch_bytes(int64_t K, int64_t n);
void gemv_dp4a(Format f, const Layout& L, const float* x, int64_t n, float* y, bool accumulate, void* scratch,
               cudaStream_t stream);
// GEMV kernel: 0 = f32 everywhere (HYBRID_MM_GEMV=f32), 1 = dp4a for Q8_0/Q5_0/Q4_K/Q6_K (HYBRID_MM_GEMV=dp4a),
// 2 = dp4a for Q8_0 only (the default), -1 = back to HYBRID_MM_GEMV / the default; tests and cuda-opbench.
void set_gemv_variant(int v);
// Tuning (cuda-opbench): GEMV rows per warp for n <= 2 (2 or 4; anything else: the default).
void set_gemv_rows_per_warp(int r);

}  // namespace hybrid::cuda::mm
