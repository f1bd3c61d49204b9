#include "ops/elementwise.h"

#include "core/system_info.h"
#include "ops/vec_math_x86.h"

namespace hybrid::ops {

#if HYBRID_X86_KERNELS
namespace {

bool avx512() {
  static const bool ok = [] {
    const CpuInfo cpu = query_cpu();
    return cpu_has(cpu, "avx2") && cpu_has(cpu, "fma") && cpu_has(cpu, "avx512f") && cpu_has(cpu, "avx512bw") &&
           cpu_has(cpu, "avx512vl") && cpu_has(cpu, "avx512vnni");
  }();
  return ok;
}

HYBRID_AVX512_FN void rms_norm_avx512(const float* x, const float* w, int64_t n, float eps, float* y) {
  __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd();
  for (int64_t i = 0; i < n; i += 16) {
    const __m512 v = _mm512_maskz_loadu_ps(x86::tail_mask(n - i), x + i);
    const __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
    const __m512d hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    s0 = _mm512_fmadd_pd(lo, lo, s0);
    s1 = _mm512_fmadd_pd(hi, hi, s1);
  }
  const double sum = _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
  const float mean = static_cast<float>(sum / n);
  const __m512 scale = _mm512_set1_ps(1.0f / std::sqrt(mean + eps));
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = x86::tail_mask(n - i);
    const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), scale);
    _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(v, _mm512_maskz_loadu_ps(m, w + i)));
  }
}

HYBRID_AVX512_FN void relu_sqr_avx512(float* x, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = x86::tail_mask(n - i);
    const __m512 r = _mm512_max_ps(_mm512_maskz_loadu_ps(m, x + i), _mm512_setzero_ps());
    _mm512_mask_storeu_ps(x + i, m, _mm512_mul_ps(r, r));
  }
}

HYBRID_AVX512_FN void add_to_avx512(float* h, const float* d, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = x86::tail_mask(n - i);
    _mm512_mask_storeu_ps(h + i, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, h + i), _mm512_maskz_loadu_ps(m, d + i)));
  }
}

}  // namespace
#endif

void rms_norm_rows(const float* x, const float* w, int64_t n_rows, int64_t n, float eps, float* y) {
#if HYBRID_X86_KERNELS
  if (avx512()) {
    for (int64_t r = 0; r < n_rows; ++r) rms_norm_avx512(x + r * n, w, n, eps, y + r * n);
    return;
  }
#endif
  for (int64_t r = 0; r < n_rows; ++r) rms_norm(x + r * n, w, n, eps, y + r * n);
}

void relu_sqr(float* x, int64_t n) {
#if HYBRID_X86_KERNELS
  if (avx512()) return relu_sqr_avx512(x, n);
#endif
  for (int64_t i = 0; i < n; ++i) {
    const float r = x[i] > 0.0f ? x[i] : 0.0f;
    x[i] = r * r;
  }
}

void add_to(float* h, const float* d, int64_t n) {
#if HYBRID_X86_KERNELS
  if (avx512()) return add_to_avx512(h, d, n);
#endif
  for (int64_t i = 0; i < n; ++i) h[i] += d[i];
}

}  // namespace hybrid::ops
