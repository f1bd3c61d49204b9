// AVX2/FMA bodies of the chunked scan (ssm_kernels.h), for CPUs without AVX-512: the same register-tiled
// product as ssm_avx512.cpp with 8-lane vectors and 16 registers, and the decay mask with an 8-lane exp.
#include <algorithm>
#include <cmath>

#include "core/system_info.h"
#include "ops/simd_x86.h"
#include "ops/ssm_kernels.h"

namespace hybrid::ops::detail {

#if HYBRID_X86_KERNELS

#define FN HYBRID_AVX2_FN

bool ssm_avx2() {
  static const bool ok = [] {
    const CpuInfo cpu = query_cpu();
    return cpu_has(cpu, "avx2") && cpu_has(cpu, "fma");
  }();
  return ok;
}

namespace {

// Lanes [0, n) set (n in 1..8), as _mm256_maskload_ps wants them.
FN inline __m256i lane_mask(int64_t n) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(std::min<int64_t>(n, 8))), lane);
}

// Cephes expf as exp512 (vec_math_x86.h), with 2^k built in the exponent bits: the input is clamped to
// [-87, 88], so results below e^-87 (~1.6e-38, far below anything a decay mask adds) stay at that value.
FN inline __m256 exp256(__m256 x) {
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.0f)), _mm256_set1_ps(88.0f));
  const __m256 k = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(k, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  // k in [-126, 127]: 2^k = (k + 127) << 23; p in [0.5, 2) keeps the product normal except at the ends
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

// acc[r][v] += A[r][k] * B[k][8v..8v+7]; the last vector masked (m).
template <int V, int R>
FN void tile(int64_t K, const float* A, int64_t lda, int64_t ak, const float* B, int64_t ldb, float* O, int64_t ldo,
             __m256i m, const float* rs) {
  __m256 acc[R][V];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 16
    for (int v = 0; v < V; ++v) acc[r][v] = _mm256_setzero_ps();
  for (int64_t k = 0; k < K; ++k) {
    const float* bk = B + k * ldb;
    __m256 b[V];
#pragma GCC unroll 16
    for (int v = 0; v < V - 1; ++v) b[v] = _mm256_loadu_ps(bk + 8 * v);
    b[V - 1] = _mm256_maskload_ps(bk + 8 * (V - 1), m);
    const float* a = A + k * ak;
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const __m256 av = _mm256_broadcast_ss(a + r * lda);
#pragma GCC unroll 16
      for (int v = 0; v < V; ++v) acc[r][v] = _mm256_fmadd_ps(av, b[v], acc[r][v]);
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
    float* o = O + r * ldo;
    if (rs) {
      const __m256 sc = _mm256_set1_ps(rs[r]);
#pragma GCC unroll 16
      for (int v = 0; v < V - 1; ++v) acc[r][v] = _mm256_fmadd_ps(sc, _mm256_loadu_ps(o + 8 * v), acc[r][v]);
      acc[r][V - 1] = _mm256_fmadd_ps(sc, _mm256_maskload_ps(o + 8 * (V - 1), m), acc[r][V - 1]);
    }
#pragma GCC unroll 16
    for (int v = 0; v < V - 1; ++v) _mm256_storeu_ps(o + 8 * v, acc[r][v]);
    _mm256_maskstore_ps(o + 8 * (V - 1), m, acc[r][V - 1]);
  }
}

// Rows per tile: 12 of the 16 registers hold accumulators.
template <int V>
constexpr int rows_for() {
  return V == 1 ? 8 : V == 2 ? 6 : V == 3 ? 4 : 3;
}

template <int V, int R>
FN void tail(int rem, int64_t K, const float* A, int64_t lda, int64_t ak, const float* B, int64_t ldb, float* O,
             int64_t ldo, __m256i m, const float* rs) {
  if constexpr (R > 1) {
    if (rem == R - 1) tile<V, R - 1>(K, A, lda, ak, B, ldb, O, ldo, m, rs);
    else tail<V, R - 1>(rem, K, A, lda, ak, B, ldb, O, ldo, m, rs);
  }
}

template <int V>
FN void slice(int64_t r_begin, int64_t rows, int64_t K, const float* A, int64_t lda, int64_t ak, const float* B,
              int64_t ldb, float* O, int64_t ldo, __m256i m, const float* rs, SsdTri tri) {
  constexpr int R = rows_for<V>();
  const auto k_for = [&](int64_t r_end) { return tri == SsdTri::ZeroAboveDiag ? std::min(K, r_end) : K; };
  int64_t r0 = r_begin;
  for (; r0 + R <= rows; r0 += R)
    tile<V, R>(k_for(r0 + R), A + r0 * lda, lda, ak, B, ldb, O + r0 * ldo, ldo, m, rs ? rs + r0 : nullptr);
  if (r0 < rows)
    tail<V, R>(static_cast<int>(rows - r0), k_for(rows), A + r0 * lda, lda, ak, B, ldb, O + r0 * ldo, ldo, m,
               rs ? rs + r0 : nullptr);
}

}  // namespace

FN void ssd_gemm_avx2(int64_t rows, int64_t cols, int64_t K, const float* A, int64_t lda, int64_t ak, const float* B,
                      int64_t ldb, float* O, int64_t ldo, const float* row_scale, SsdTri tri) {
  for (int64_t c0 = 0; c0 < cols; c0 += 32) {
    const int64_t w = std::min<int64_t>(32, cols - c0);
    const __m256i m = lane_mask(w - 8 * ((w - 1) / 8));
    const int64_t r_begin = tri == SsdTri::OnlyLower ? std::min(rows, c0) : 0;
    switch ((w + 7) / 8) {
      case 1: slice<1>(r_begin, rows, K, A, lda, ak, B + c0, ldb, O + c0, ldo, m, row_scale, tri); break;
      case 2: slice<2>(r_begin, rows, K, A, lda, ak, B + c0, ldb, O + c0, ldo, m, row_scale, tri); break;
      case 3: slice<3>(r_begin, rows, K, A, lda, ak, B + c0, ldb, O + c0, ldo, m, row_scale, tri); break;
      default: slice<4>(r_begin, rows, K, A, lda, ak, B + c0, ldb, O + c0, ldo, m, row_scale, tri); break;
    }
  }
}

FN void ssd_mask_avx2(int64_t n, const float* cb, int64_t ldcb, const double* cs, const float* dsp, float dskip,
                      float* m, int64_t ldm) {
  for (int64_t t = 0; t < n; ++t) {
    const __m256d ct = _mm256_set1_pd(cs[t]);
    const float* cbt = cb + t * ldcb;
    float* mt = m + t * ldm;
    int64_t s0 = 0;
    for (; s0 + 8 <= t + 1; s0 += 8) {
      const __m128 lo = _mm256_cvtpd_ps(_mm256_sub_pd(ct, _mm256_loadu_pd(cs + s0)));
      const __m128 hi = _mm256_cvtpd_ps(_mm256_sub_pd(ct, _mm256_loadu_pd(cs + s0 + 4)));
      const __m256 e = exp256(_mm256_insertf128_ps(_mm256_castps128_ps256(lo), hi, 1));
      _mm256_storeu_ps(mt + s0, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(cbt + s0), e), _mm256_loadu_ps(dsp + s0)));
    }
    for (int64_t s = s0; s <= t; ++s) mt[s] = cbt[s] * std::exp(static_cast<float>(cs[t] - cs[s])) * dsp[s];
    for (int64_t s = t + 1; s < n; ++s) mt[s] = 0.0f;
    mt[t] += dskip;
  }
}

#undef FN

#else

bool ssm_avx2() { return false; }
void ssd_gemm_avx2(int64_t, int64_t, int64_t, const float*, int64_t, int64_t, const float*, int64_t, float*, int64_t,
                   const float*, SsdTri) {}
void ssd_mask_avx2(int64_t, const float*, int64_t, const double*, const float*, float, float*, int64_t) {}

#endif

}  // namespace hybrid::ops::detail
