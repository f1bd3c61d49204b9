// Decode GEMV, integer variant (n = 1, 2; Q8_0, Q5_0, Q4_K, Q6_K): the activations are first quantized to
// int8 per 32 values (scale amax/127, like llama.cpp's q8_1 activations), then each weight unit is
// multiplied with dp4a (4 int8 products per instruction) and scaled once per block. About 1 instruction
// per weight value instead of ~4 for the f32 path, for formats where that path may be instruction-bound;
// the price is the activations' int8 rounding (results within ~1e-2 of the exact product relative to the
// largest output, as with the CPU's Q8 activations). The default for Q8_0 (H200: decode 216 vs 179 tok/s on
// Nemotron-Nano-9B Q8_0; opbench n=1 faster on 2 of 3 shapes for Q5_0/Q6_K/Q4_K, which keep the f32 GEMV).
// HYBRID_MM_GEMV=dp4a: for all four formats; HYBRID_MM_GEMV=f32: never. set_gemv_variant overrides both.
#include <cstdlib>
#include <string>

#include "backend/cuda/mm_blocks.cuh"

namespace hybrid::cuda::mm {

namespace {


// Scratch layout for n rows of K: xq int8 [n][K], dx f32 [n][K/32] (scale of each 32 values),
// sx f32 [n][K/16] (exact f32 sum of each 16 values, for the Q4_K minimum term).
struct Xq {
  const int8_t* q;
  const float* d;
  const float* s;
};
inline size_t xq_bytes(int64_t n, int64_t K) {
  return align256(static_cast<size_t>(n) * K) + align256(static_cast<size_t>(n) * (K / 32) * 4) +
         align256(static_cast<size_t>(n) * (K / 16) * 4);
}

// One warp per 32 values.
__global__ void quantize_x_kernel(const float* __restrict__ x, int64_t blocks, int8_t* __restrict__ q,
                                  float* __restrict__ d, float* __restrict__ s) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * (blockDim.x >> 5);
  for (int64_t b = static_cast<int64_t>(blockIdx.x) * (blockDim.x >> 5) + (threadIdx.x >> 5); b < blocks; b += warps) {
    const float v = x[b * 32 + lane];
    float amax = fabsf(v), sum = v;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, o));
#pragma unroll
    for (int o = 8; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);  // sums of lanes 0-15, 16-31
    const float dd = amax / 127.0f;
    const float id = amax > 0.0f ? 127.0f / amax : 0.0f;
    q[b * 32 + lane] = static_cast<int8_t>(__float2int_rn(v * id));
    if (lane == 0) d[b] = dd;
    if ((lane & 15) == 0) s[2 * b + (lane >> 4)] = sum;
  }
}

__device__ __forceinline__ int dot16(uint4 w0, uint4 x0, int acc) {
  acc = __dp4a(static_cast<int>(w0.x), static_cast<int>(x0.x), acc);
  acc = __dp4a(static_cast<int>(w0.y), static_cast<int>(x0.y), acc);
  acc = __dp4a(static_cast<int>(w0.z), static_cast<int>(x0.z), acc);
  return __dp4a(static_cast<int>(w0.w), static_cast<int>(x0.w), acc);
}

template <Format F>
struct DUnit;

template <>
struct DUnit<Format::Q8_0> : BlockLoad<Format::Q8_0> {  // one block of 32
  static constexpr int V = 32;
  struct X { uint4 a, b; float d; };
  __device__ static X load_x(const Xq& x, int64_t K, int t, int u) {
    const int8_t* p = x.q + t * K + 32 * u;
    return {ld16(p), ld16(p + 16), __ldg(x.d + t * (K / 32) + u)};
  }
  __device__ static float dot(const Raw& w, const X& x) {
    const int s = dot16(w.b, x.b, dot16(w.a, x.a, 0));
    return w.d * x.d * static_cast<float>(s);
  }
};

template <>
struct DUnit<Format::Q5_0> : BlockLoad<Format::Q5_0> {  // one block of 32
  static constexpr int V = 32;
  using X = DUnit<Format::Q8_0>::X;
  __device__ static X load_x(const Xq& x, int64_t K, int t, int u) { return DUnit<Format::Q8_0>::load_x(x, K, t, u); }
  __device__ static float dot(const Raw& w, const X& x) {
    const uint32_t qs[4] = {w.qs.x, w.qs.y, w.qs.z, w.qs.w};
    uint32_t lo[4], hi[4];
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      lo[k] = __vsub4((qs[k] & 0x0F0F0F0Fu) | spread4(w.qh >> (4 * k)), 0x10101010u);
      hi[k] = __vsub4(((qs[k] >> 4) & 0x0F0F0F0Fu) | spread4(w.qh >> (16 + 4 * k)), 0x10101010u);
    }
    const int s = dot16(make_uint4(hi[0], hi[1], hi[2], hi[3]), x.b, dot16(make_uint4(lo[0], lo[1], lo[2], lo[3]), x.a, 0));
    return w.d * x.d * static_cast<float>(s);
  }
};

template <>
struct DUnit<Format::Q4_K> : BlockLoad<Format::Q4_K> {  // 16 bytes of a 32-byte chunk: 16 values of sub-block 2c and 16 of 2c+1
  static constexpr int V = 32;
  struct X { uint4 lo, hi; float dlo, dhi, slo, shi; };
  __device__ static X load_x(const Xq& x, int64_t K, int t, int u) {
    const int i = u & 7;
    const int64_t p = static_cast<int64_t>(u >> 3) * 256 + 64 * (i >> 1) + 16 * (i & 1);  // first low-nibble value
    const int8_t* q = x.q + t * K + p;
    const float* d = x.d + t * (K / 32);
    const float* s = x.s + t * (K / 16);
    return {ld16(q), ld16(q + 32), __ldg(d + p / 32), __ldg(d + p / 32 + 1), __ldg(s + p / 16), __ldg(s + p / 16 + 2)};
  }
  __device__ static float dot(const Raw& w, const X& x) {
    const uint4 lo = make_uint4(w.qs.x & 0x0F0F0F0Fu, w.qs.y & 0x0F0F0F0Fu, w.qs.z & 0x0F0F0F0Fu, w.qs.w & 0x0F0F0F0Fu);
    const uint4 hi = make_uint4((w.qs.x >> 4) & 0x0F0F0F0Fu, (w.qs.y >> 4) & 0x0F0F0F0Fu, (w.qs.z >> 4) & 0x0F0F0F0Fu,
                                (w.qs.w >> 4) & 0x0F0F0F0Fu);
    const float slo = static_cast<float>(dot16(lo, x.lo, 0)), shi = static_cast<float>(dot16(hi, x.hi, 0));
    return w.d1 * x.dlo * slo - w.m1 * x.slo + w.d2 * x.dhi * shi - w.m2 * x.shi;
  }
};

template <>
struct DUnit<Format::Q6_K> : BlockLoad<Format::Q6_K> {  // a quarter block: l in [16j, 16j+16) of half h, values l, l+32, l+64, l+96
  static constexpr int V = 64;
  struct X { uint4 v[4]; float d[4]; };
  __device__ static X load_x(const Xq& x, int64_t K, int t, int u) {
    const int i = u & 3, h = i >> 1, j = i & 1;
    const int64_t p = (u >> 2) * 256 + 128 * h + 16 * j;
    X o;
#pragma unroll
    for (int q = 0; q < 4; ++q) {
      o.v[q] = ld16(x.q + t * K + p + 32 * q);
      o.d[q] = __ldg(x.d + t * (K / 32) + (p + 32 * q) / 32);
    }
    return o;
  }
  __device__ static uint32_t six(uint32_t lo, uint32_t hi, int sh, int hs) {
    return __vsub4(((lo >> sh) & 0x0F0F0F0Fu) | (((hi >> hs) & 0x03030303u) << 4), 0x20202020u);
  }
  __device__ static float dot(const Raw& w, const X& x) {
    float r = 0.0f;
#pragma unroll
    for (int q = 0; q < 4; ++q) {
      const uint4& ql = (q & 1) ? w.qb : w.qa;
      const int sh = (q >> 1) * 4, hs = 2 * q;
      const uint4 v = make_uint4(six(ql.x, w.qh.x, sh, hs), six(ql.y, w.qh.y, sh, hs), six(ql.z, w.qh.z, sh, hs),
                                 six(ql.w, w.qh.w, sh, hs));
      r = fmaf(w.s[q] * x.d[q], static_cast<float>(dot16(v, x.v[q], 0)), r);
    }
    return r;
  }
};

constexpr int kWarps = 4;

template <Format F, int N, int R>
__global__ void __launch_bounds__(kWarps * 32) gemv_dp4a_kernel(Layout L, Xq x, float* __restrict__ y, int accumulate) {
  using U = DUnit<F>;
  const int lane = threadIdx.x & 31;
  const int64_t row0 = (static_cast<int64_t>(blockIdx.x) * kWarps + (threadIdx.x >> 5)) * R;
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
#pragma unroll 2
  for (int u = lane; u < units; u += 32) {
    typename U::Raw raw[R];
#pragma unroll
    for (int r = 0; r < R; ++r) raw[r] = U::load(L, rows[r], u);
#pragma unroll
    for (int t = 0; t < N; ++t) {
      const typename U::X xv = U::load_x(x, L.K, t, u);
#pragma unroll
      for (int r = 0; r < R; ++r) acc[r][t] += U::dot(raw[r], xv);
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
  if (lane == 0) {
#pragma unroll
    for (int r = 0; r < R; ++r) {
      if (row0 + r >= L.M) break;
#pragma unroll
      for (int t = 0; t < N; ++t) {
        float* o = y + t * L.M + row0 + r;
        *o = accumulate ? *o + acc[r][t] : acc[r][t];
      }
    }
  }
}

template <Format F, int N, int R>
void launch(const Layout& L, const Xq& x, float* y, bool acc, cudaStream_t s) {
  const int64_t warps = (L.M + R - 1) / R;
  gemv_dp4a_kernel<F, N, R><<<static_cast<unsigned>((warps + kWarps - 1) / kWarps), kWarps * 32, 0, s>>>(L, x, y, acc ? 1 : 0);
  MM_CHECK_LAUNCH("gemv_dp4a");
}

template <Format F>
void launch_f(const Layout& L, const Xq& x, int64_t n, float* y, bool acc, cudaStream_t s) {
  if (n == 1) launch<F, 1, 4>(L, x, y, acc, s);
  else launch<F, 2, 2>(L, x, y, acc, s);
}

int g_variant = -1;  // -1: not read yet; 0: f32 everywhere; 1: dp4a for all four formats; 2: dp4a for Q8_0 (default)

}  // namespace

void set_gemv_variant(int v) { g_variant = (v == 0 || v == 1 || v == 2) ? v : -1; }

bool gemv_dp4a_applies(Format f, int64_t n) {
  if (g_variant < 0) {
    const char* e = std::getenv("HYBRID_MM_GEMV");
    g_variant = !e ? 2 : std::string(e) == "dp4a" ? 1 : std::string(e) == "f32" ? 0 : 2;
  }
  if (n > 2) return false;
  if (g_variant == 2) return f == Format::Q8_0;
  return g_variant == 1 && (f == Format::Q8_0 || f == Format::Q5_0 || f == Format::Q4_K || f == Format::Q6_K);
}

size_t gemv_dp4a_scratch_bytes(int64_t K, int64_t n) { return xq_bytes(n, K); }

void gemv_dp4a(Format f, const Layout& L, const float* x, int64_t n, float* y, bool accumulate, void* scratch,
               cudaStream_t stream) {
  const int64_t K = L.K;
  auto* base = static_cast<uint8_t*>(scratch);
  int8_t* q = reinterpret_cast<int8_t*>(base);
  float* d = reinterpret_cast<float*>(base + align256(static_cast<size_t>(n) * K));
  float* s = reinterpret_cast<float*>(base + align256(static_cast<size_t>(n) * K) + align256(static_cast<size_t>(n) * (K / 32) * 4));
  const int64_t blocks = n * K / 32;
  const int64_t grid = std::min<int64_t>((blocks + 7) / 8, 1024);
  quantize_x_kernel<<<static_cast<unsigned>(grid), 256, 0, stream>>>(x, blocks, q, d, s);
  MM_CHECK_LAUNCH("quantize_x");
  const Xq xq{q, d, s};
  switch (f) {
    case Format::Q8_0: launch_f<Format::Q8_0>(L, xq, n, y, accumulate, stream); break;
    case Format::Q5_0: launch_f<Format::Q5_0>(L, xq, n, y, accumulate, stream); break;
    case Format::Q4_K: launch_f<Format::Q4_K>(L, xq, n, y, accumulate, stream); break;
    case Format::Q6_K: launch_f<Format::Q6_K>(L, xq, n, y, accumulate, stream); break;
    default: throw std::invalid_argument("gemv_dp4a: unsupported format");
  }
}

}  // namespace hybrid::cuda::mm
