// Decode-time matrix multiply (n <= 8 input rows): memory-bound, so the weight is streamed once for all n
// rows. A warp owns R consecutive weight rows; each lane takes "units" of the row (16- to 48-byte slices
// loaded with 16-byte loads), dequantizes them in registers, 8 values at a time, and multiplies them with
// the n activation rows (f32, read through the read-only cache, shared by the R rows of the warp).
// f32 accumulation, one warp-shuffle reduction per output at the end.
#include <cstdlib>

#include "backend/cuda/mm_blocks.cuh"

namespace hybrid::cuda::mm {

namespace {


__device__ __forceinline__ void unpack_h8(uint4 v, float w[8]) {
  const uint32_t a[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float2 f = __half22float2(*reinterpret_cast<const __half2*>(&a[i]));
    w[2 * i] = f.x;
    w[2 * i + 1] = f.y;
  }
}
__device__ __forceinline__ void unpack_bf8(uint4 v, float w[8]) {
  const uint32_t a[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    w[2 * i] = __uint_as_float(a[i] << 16);
    w[2 * i + 1] = __uint_as_float(a[i] & 0xffff0000u);
  }
}
// A unit: V consecutive-in-storage weight values of one row, decoded in G = V/8 groups of 8 values that
// are consecutive in the row (pos(u, g) is the first one's column).
template <Format F>
struct Unit;

template <>
struct Unit<Format::F32> {
  static constexpr int V = 8;
  static constexpr bool kScaled = false, kOffset = false;
  struct Raw { float4 a, b; };
  __device__ static Raw load(const Layout& L, int64_t r, int u) {
    const float4* p = reinterpret_cast<const float4*>(L.q + r * L.row_bytes) + 2 * u;
    return {__ldg(p), __ldg(p + 1)};
  }
  __device__ static int pos(int u, int) { return 8 * u; }
  __device__ static void decode_q(const Raw& w, int, float o[8], float&, float&) {
    o[0] = w.a.x; o[1] = w.a.y; o[2] = w.a.z; o[3] = w.a.w;
    o[4] = w.b.x; o[5] = w.b.y; o[6] = w.b.z; o[7] = w.b.w;
  }
};

template <>
struct Unit<Format::F16> {
  static constexpr int V = 8;
  static constexpr bool kScaled = false, kOffset = false;
  struct Raw { uint4 v; };
  __device__ static Raw load(const Layout& L, int64_t r, int u) { return {ld16(L.q + r * L.row_bytes + 16 * u)}; }
  __device__ static int pos(int u, int) { return 8 * u; }
  __device__ static void decode_q(const Raw& w, int, float o[8], float&, float&) { unpack_h8(w.v, o); }
};

template <>
struct Unit<Format::BF16> {
  static constexpr int V = 8;
  static constexpr bool kScaled = false, kOffset = false;
  struct Raw { uint4 v; };
  __device__ static Raw load(const Layout& L, int64_t r, int u) { return {ld16(L.q + r * L.row_bytes + 16 * u)}; }
  __device__ static int pos(int u, int) { return 8 * u; }
  __device__ static void decode_q(const Raw& w, int, float o[8], float&, float&) { unpack_bf8(w.v, o); }
};

// Quantized units decode to exact small integers q (as f32) with a per-group scale s (and, for Q4_K, an
// offset o): value = s * q + o. The kernel sums q * x over the group of 8 and applies s (and o * sum(x))
// once per group. Integer -> float without I2F: the byte goes into the low bits of 2^23's mantissa
// (byte_perm with 0x4B000000) and one FADD removes 2^23 plus the format's bias, exactly.
__device__ __forceinline__ float byte_as_float(uint32_t w, int i, float bias) {
  return __int_as_float(static_cast<int>(__byte_perm(w, 0x4B000000u, 0x7440u + i))) - bias;
}
constexpr float k2p23 = 8388608.0f;

template <>
struct Unit<Format::Q8_0> : BlockLoad<Format::Q8_0> {  // one block: 32 int8 (two 16-byte loads) and its scale
  static constexpr int V = 32;
  static constexpr bool kScaled = true, kOffset = false;
  __device__ static int pos(int u, int g) { return 32 * u + 8 * g; }
  __device__ static void decode_q(const Raw& w, int g, float q[8], float& s, float& o) {
    const uint32_t a = (g == 0 ? w.a.x : g == 1 ? w.a.z : g == 2 ? w.b.x : w.b.z) ^ 0x80808080u;
    const uint32_t b = (g == 0 ? w.a.y : g == 1 ? w.a.w : g == 2 ? w.b.y : w.b.w) ^ 0x80808080u;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      q[i] = byte_as_float(a, i, k2p23 + 128.0f);
      q[4 + i] = byte_as_float(b, i, k2p23 + 128.0f);
    }
    s = w.d;
    o = 0.0f;
  }
};

template <>
struct Unit<Format::Q5_0> : BlockLoad<Format::Q5_0> {  // one block: 16 bytes of nibbles, 32 high bits, the scale
  static constexpr int V = 32;
  static constexpr bool kScaled = true, kOffset = false;
  __device__ static int pos(int u, int g) { return 32 * u + 8 * g; }
  __device__ static void decode_q(const Raw& w, int g, float q[8], float& s, float& o) {
    // g 0/1: low nibbles of bytes 0-7 / 8-15 (values 0-15); g 2/3: high nibbles (values 16-31)
    const int sh = (g >> 1) * 4;
    const uint32_t hb = w.qh >> (8 * g);
    const uint32_t a = ((((g & 1) ? w.qs.z : w.qs.x) >> sh) & 0x0F0F0F0Fu) | spread4(hb);
    const uint32_t b = ((((g & 1) ? w.qs.w : w.qs.y) >> sh) & 0x0F0F0F0Fu) | spread4(hb >> 4);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      q[i] = byte_as_float(a, i, k2p23 + 16.0f);
      q[4 + i] = byte_as_float(b, i, k2p23 + 16.0f);
    }
    s = w.d;
    o = 0.0f;
  }
};

template <>
struct Unit<Format::Q4_K> : BlockLoad<Format::Q4_K> {  // 16 bytes of one 32-byte chunk's nibbles: 16 values of two sub-blocks each
  static constexpr int V = 32;
  static constexpr bool kScaled = true, kOffset = true;
  __device__ static int pos(int u, int g) {
    const int i = u & 7, c = i >> 1, half = i & 1;
    return (u >> 3) * 256 + 64 * c + 16 * half + (g >> 1) * 32 + (g & 1) * 8;
  }
  __device__ static void decode_q(const Raw& w, int g, float q[8], float& s, float& o) {
    const int sh = (g >> 1) * 4;
    const uint32_t a = ((((g & 1) ? w.qs.z : w.qs.x)) >> sh) & 0x0F0F0F0Fu;
    const uint32_t b = ((((g & 1) ? w.qs.w : w.qs.y)) >> sh) & 0x0F0F0F0Fu;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      q[i] = byte_as_float(a, i, k2p23);
      q[4 + i] = byte_as_float(b, i, k2p23);
    }
    s = (g >> 1) ? w.d2 : w.d1;
    o = -((g >> 1) ? w.m2 : w.m1);
  }
};

template <>
struct Unit<Format::Q6_K> : BlockLoad<Format::Q6_K> {  // a quarter block: l in [16j, 16j+16) of half h, its 4 values each (64 values)
  static constexpr int V = 64;
  static constexpr bool kScaled = true, kOffset = false;
  __device__ static int pos(int u, int g) {
    const int i = u & 3, h = i >> 1, j = i & 1;
    return (u >> 2) * 256 + 128 * h + 32 * (g >> 1) + 16 * j + 8 * (g & 1);
  }
  __device__ static uint32_t six(uint32_t lo, uint32_t hi, int sh, int hs) {
    // 4 values: low 4 bits from lo's nibbles at sh, high 2 bits from hi's 2-bit fields at hs
    return ((lo >> sh) & 0x0F0F0F0Fu) | (((hi >> hs) & 0x03030303u) << 4);
  }
  __device__ static void decode_q(const Raw& w, int g, float q[8], float& s, float& o) {
    const int qi = g >> 1, sub = g & 1;
    const uint4& ql = (qi & 1) ? w.qb : w.qa;
    const int sh = (qi >> 1) * 4, hs = 2 * qi;
    const uint32_t a = six(sub ? ql.z : ql.x, sub ? w.qh.z : w.qh.x, sh, hs);
    const uint32_t b = six(sub ? ql.w : ql.y, sub ? w.qh.w : w.qh.y, sh, hs);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      q[i] = byte_as_float(a, i, k2p23 + 32.0f);
      q[4 + i] = byte_as_float(b, i, k2p23 + 32.0f);
    }
    s = w.s[qi];
    o = 0.0f;
  }
};

constexpr int kWarps = 4;  // warps per block

int g_forced_ks = 0;  // 0: automatic; 1 or 4: forced (tests, cuda-opbench)

// Warps per row group: 4 (K split in the block) when one warp per group would leave fewer than 16 warps
// per multiprocessor, else 1.
int k_split(int64_t groups) {
  if (g_forced_ks) return g_forced_ks;
  return groups < 16 * static_cast<int64_t>(sm_count()) ? kWarps : 1;
}

template <Format F, int N, int R>
__global__ void __launch_bounds__(kWarps * 32) gemv_kernel(Layout L, const float* __restrict__ x,
                                                           float* __restrict__ y, int n, int accumulate, int ks) {
  // ks (1 or 4) warps share R rows, each taking every ks-th 32-unit stretch of K: with few rows (M small
  // against the device) that keeps enough loads in flight. All ks warps of a group have the same row0.
  using U = Unit<F>;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int part = warp % ks;
  const int64_t row0 = (static_cast<int64_t>(blockIdx.x) * (kWarps / ks) + warp / ks) * R;
  if (row0 >= L.M) return;
  int64_t rows[R];
#pragma unroll
  for (int r = 0; r < R; ++r) rows[r] = min(row0 + r, L.M - 1);
  float acc[R][N];
#pragma unroll
  for (int r = 0; r < R; ++r)
#pragma unroll
    for (int t = 0; t < N; ++t) acc[r][t] = 0.0f;

  const int units = static_cast<int>(L.K / U::V);
  // Units in flight per lane: 16-bit weights with one activation row carry half the bytes of F32 per unit
  // (F32 reached 83% of copy bandwidth on an H200, F16/BF16 59-69% with 2), so they unroll 4; registers run
  // out for larger N.
  constexpr int kUnroll = (N == 1 && (F == Format::F16 || F == Format::BF16)) ? 4 : N <= 2 ? 2 : 1;
#pragma unroll kUnroll
  for (int u = part * 32 + lane; u < units; u += 32 * ks) {
    typename U::Raw raw[R];
#pragma unroll
    for (int r = 0; r < R; ++r) raw[r] = U::load(L, rows[r], u);
#pragma unroll
    for (int g = 0; g < U::V / 8; ++g) {
      const int p = U::pos(u, g);
      float xv[N][8];
#pragma unroll
      for (int t = 0; t < N; ++t) {  // N >= n: rows t >= n are zeros (never written out)
        const float4* xp = reinterpret_cast<const float4*>(x + min(t, n - 1) * L.K + p);
        float4 a = make_float4(0.f, 0.f, 0.f, 0.f), b = a;
        if (t < n) {
          a = __ldg(xp);
          b = __ldg(xp + 1);
        }
        xv[t][0] = a.x; xv[t][1] = a.y; xv[t][2] = a.z; xv[t][3] = a.w;
        xv[t][4] = b.x; xv[t][5] = b.y; xv[t][6] = b.z; xv[t][7] = b.w;
      }
      float sx[N];  // sum of the group's x (for the Q4_K offset), shared by the R rows
      if constexpr (U::kOffset) {
#pragma unroll
        for (int t = 0; t < N; ++t) {
          sx[t] = 0.0f;
#pragma unroll
          for (int e = 0; e < 8; ++e) sx[t] += xv[t][e];
        }
      }
#pragma unroll
      for (int r = 0; r < R; ++r) {
        float w[8], sc = 1.0f, off = 0.0f;
        U::decode_q(raw[r], g, w, sc, off);
#pragma unroll
        for (int t = 0; t < N; ++t) {
          if constexpr (U::kScaled) {
            float p = w[0] * xv[t][0];
#pragma unroll
            for (int e = 1; e < 8; ++e) p = fmaf(w[e], xv[t][e], p);
            acc[r][t] = fmaf(sc, p, acc[r][t]);
            if constexpr (U::kOffset) acc[r][t] = fmaf(off, sx[t], acc[r][t]);
          } else {
#pragma unroll
            for (int e = 0; e < 8; ++e) acc[r][t] = fmaf(w[e], xv[t][e], acc[r][t]);
          }
        }
      }
    }
  }
#pragma unroll
  for (int r = 0; r < R; ++r)
#pragma unroll
    for (int t = 0; t < N; ++t) {
      float v = acc[r][t];
#pragma unroll
      for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
      acc[r][t] = v;
    }
  if (ks > 1) {  // one group per block (ks == kWarps): sum the warps' parts in a fixed order
    __shared__ float red[kWarps][R * N];
    if (lane == 0) {
#pragma unroll
      for (int r = 0; r < R; ++r)
#pragma unroll
        for (int t = 0; t < N; ++t) red[warp][r * N + t] = acc[r][t];
    }
    __syncthreads();
    if (warp == 0 && lane == 0) {
#pragma unroll
      for (int r = 0; r < R; ++r)
#pragma unroll
        for (int t = 0; t < N; ++t) {
          float v = red[0][r * N + t];
          for (int w = 1; w < kWarps; ++w) v += red[w][r * N + t];
          acc[r][t] = v;
        }
    }
  }
  if (lane == 0 && part == 0) {
#pragma unroll
    for (int r = 0; r < R; ++r) {
      if (row0 + r >= L.M) break;
#pragma unroll
      for (int t = 0; t < N; ++t) {
        if (t >= n) break;
        float* o = y + t * L.M + row0 + r;
        *o = accumulate ? *o + acc[r][t] : acc[r][t];
      }
    }
  }
}

template <Format F, int N, int R>
void launch_nr(const Layout& L, const float* x, int n, float* y, bool acc, cudaStream_t s) {
  const int64_t groups = (L.M + R - 1) / R;
  const int ks = k_split(groups);
  const dim3 grid(static_cast<unsigned>((groups + kWarps / ks - 1) / (kWarps / ks))), block(kWarps * 32);
  gemv_kernel<F, N, R><<<grid, block, 0, s>>>(L, x, y, n, acc ? 1 : 0, ks);
  MM_CHECK_LAUNCH("gemv");
}

// Rows per warp: 4 for n <= 2 (HYBRID_MM_GEMV_R=2 overrides, for tuning with cuda-opbench), else 2.
// (Only these variants are compiled: every (format, n, R) is a kernel for each of the 4 architectures.)
int g_forced_r = -1;  // -1: not read yet; 0: default; 2 or 4: forced
int rows_per_warp(int64_t n) {
  if (g_forced_r < 0) {
    const char* e = std::getenv("HYBRID_MM_GEMV_R");
    const int v = e ? std::atoi(e) : 0;
    g_forced_r = (v == 2 || v == 4) ? v : 0;
  }
  if (n > 2) return 2;
  return g_forced_r ? g_forced_r : 4;
}

template <Format F, int N>
void launch_n(const Layout& L, const float* x, int n, float* y, bool acc, cudaStream_t s, int R) {
  if constexpr (N <= 2) {
    if (R == 4) {
      launch_nr<F, N, 4>(L, x, n, y, acc, s);
      return;
    }
  }
  launch_nr<F, N, 2>(L, x, n, y, acc, s);
}

template <Format F>
void launch(const Layout& L, const float* x, int64_t n, float* y, bool acc, cudaStream_t s) {
  const int R = rows_per_warp(n);
  // kernels for N = 1, 2, 4, 8 activation rows; n = 3 runs as 4, n = 5..7 as 8 (fewer kernels to compile)
  const int ni = static_cast<int>(n);
  if (n == 1) launch_n<F, 1>(L, x, ni, y, acc, s, R);
  else if (n == 2) launch_n<F, 2>(L, x, ni, y, acc, s, R);
  else if (n <= 4) launch_n<F, 4>(L, x, ni, y, acc, s, R);
  else if (n <= 8) launch_n<F, 8>(L, x, ni, y, acc, s, R);
  else throw std::invalid_argument("gemv: n must be 1..8");
}

}  // namespace

void set_gemv_rows_per_warp(int r) { g_forced_r = (r == 2 || r == 4) ? r : 0; }
void set_gemv_k_split(int ks) { g_forced_ks = (ks == 1 || ks == kWarps) ? ks : 0; }

void gemv(Format f, const Layout& L, const float* x, int64_t n, float* y, bool accumulate, cudaStream_t stream) {
  switch (f) {
    case Format::F32: launch<Format::F32>(L, x, n, y, accumulate, stream); break;
    case Format::F16: launch<Format::F16>(L, x, n, y, accumulate, stream); break;
    case Format::BF16: launch<Format::BF16>(L, x, n, y, accumulate, stream); break;
    case Format::Q8_0: launch<Format::Q8_0>(L, x, n, y, accumulate, stream); break;
    case Format::Q5_0: launch<Format::Q5_0>(L, x, n, y, accumulate, stream); break;
    case Format::Q4_K: launch<Format::Q4_K>(L, x, n, y, accumulate, stream); break;
    case Format::Q6_K: launch<Format::Q6_K>(L, x, n, y, accumulate, stream); break;
    default: throw std::invalid_argument("gemv: unsupported device format");
  }
}

}  // namespace hybrid::cuda::mm
