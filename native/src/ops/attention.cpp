#include "ops/attention.h"

#include <algorithm>
#include <cmath>

#include "core/system_info.h"
#include "ops/vec_math_x86.h"

namespace hybrid::ops {

namespace {

// One query head of one token against keys 0..len-1: the portable form.
void attend_scalar(const float* qh, int64_t len, const float* k, const float* v, int64_t kv_stride, int64_t head_dim,
                   float scale, float* scores, float* oh) {
  float max = -INFINITY;
  for (int64_t j = 0; j < len; ++j) {
    const float* kj = k + j * kv_stride;
    float dot = 0.0f;
    for (int64_t i = 0; i < head_dim; ++i) dot += qh[i] * kj[i];
    scores[j] = dot * scale;
    max = std::max(max, scores[j]);
  }
  double sum = 0.0;
  for (int64_t j = 0; j < len; ++j) {
    scores[j] = std::exp(scores[j] - max);
    sum += scores[j];
  }
  const float inv = static_cast<float>(1.0 / sum);
  std::fill(oh, oh + head_dim, 0.0f);
  for (int64_t j = 0; j < len; ++j) {
    const float w = scores[j] * inv;
    const float* vj = v + j * kv_stride;
    for (int64_t i = 0; i < head_dim; ++i) oh[i] += w * vj[i];
  }
}

#if HYBRID_X86_KERNELS
bool attention_avx512() {
  static const bool ok = [] {
    const CpuInfo cpu = query_cpu();
    return cpu_has(cpu, "avx2") && cpu_has(cpu, "fma") && cpu_has(cpu, "avx512f") && cpu_has(cpu, "avx512bw") &&
           cpu_has(cpu, "avx512vl") && cpu_has(cpu, "avx512vnni");
  }();
  return ok;
}

constexpr int kMaxChunks = 16;  // head_dim <= 256 on this path

// The same computation vectorised: a key's score is reduce16(sum over 16-value chunks, fma left to right)
// * scale, four keys at a time; softmax with exp512 and the sum in double; the output accumulates each
// value row in order.
HYBRID_AVX512_FN void attend_avx512(const float* qh, int64_t len, const float* k, const float* v, int64_t kv_stride,
                                    int64_t head_dim, float scale, float* scores, float* oh) {
  const int nc = static_cast<int>((head_dim + 15) / 16);
  __m512 q[kMaxChunks];
  __mmask16 m[kMaxChunks];
  for (int c = 0; c < nc; ++c) {
    m[c] = x86::tail_mask(head_dim - 16 * c);
    q[c] = _mm512_maskz_loadu_ps(m[c], qh + 16 * c);
  }
  __m512 vmax = _mm512_set1_ps(-INFINITY);
  int64_t j = 0;
  for (; j + 4 <= len; j += 4) {
    const float* k0 = k + j * kv_stride;
    __m512 a0 = _mm512_mul_ps(q[0], _mm512_maskz_loadu_ps(m[0], k0));
    __m512 a1 = _mm512_mul_ps(q[0], _mm512_maskz_loadu_ps(m[0], k0 + kv_stride));
    __m512 a2 = _mm512_mul_ps(q[0], _mm512_maskz_loadu_ps(m[0], k0 + 2 * kv_stride));
    __m512 a3 = _mm512_mul_ps(q[0], _mm512_maskz_loadu_ps(m[0], k0 + 3 * kv_stride));
    for (int c = 1; c < nc; ++c) {
      a0 = _mm512_fmadd_ps(q[c], _mm512_maskz_loadu_ps(m[c], k0 + 16 * c), a0);
      a1 = _mm512_fmadd_ps(q[c], _mm512_maskz_loadu_ps(m[c], k0 + kv_stride + 16 * c), a1);
      a2 = _mm512_fmadd_ps(q[c], _mm512_maskz_loadu_ps(m[c], k0 + 2 * kv_stride + 16 * c), a2);
      a3 = _mm512_fmadd_ps(q[c], _mm512_maskz_loadu_ps(m[c], k0 + 3 * kv_stride + 16 * c), a3);
    }
    scores[j] = x86::reduce512(a0) * scale;
    scores[j + 1] = x86::reduce512(a1) * scale;
    scores[j + 2] = x86::reduce512(a2) * scale;
    scores[j + 3] = x86::reduce512(a3) * scale;
  }
  for (; j < len; ++j) {
    const float* kj = k + j * kv_stride;
    __m512 a = _mm512_mul_ps(q[0], _mm512_maskz_loadu_ps(m[0], kj));
    for (int c = 1; c < nc; ++c) a = _mm512_fmadd_ps(q[c], _mm512_maskz_loadu_ps(m[c], kj + 16 * c), a);
    scores[j] = x86::reduce512(a) * scale;
  }
  for (j = 0; j < len; j += 16) vmax = _mm512_mask_max_ps(vmax, x86::tail_mask(len - j), vmax, _mm512_loadu_ps(scores + j));
  const __m512 mx = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
  __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd();
  for (j = 0; j < len; j += 16) {
    const __mmask16 mj = x86::tail_mask(len - j);
    const __m512 e = _mm512_maskz_mov_ps(mj, x86::exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(mj, scores + j), mx)));
    _mm512_mask_storeu_ps(scores + j, mj, e);
    s0 = _mm512_add_pd(s0, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
    s1 = _mm512_add_pd(s1, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
  }
  const float inv = static_cast<float>(1.0 / _mm512_reduce_add_pd(_mm512_add_pd(s0, s1)));
  __m512 o[kMaxChunks];
  for (int c = 0; c < nc; ++c) o[c] = _mm512_setzero_ps();
  for (j = 0; j < len; ++j) {
    const __m512 w = _mm512_set1_ps(scores[j] * inv);
    const float* vj = v + j * kv_stride;
    for (int c = 0; c < nc; ++c) o[c] = _mm512_fmadd_ps(w, _mm512_maskz_loadu_ps(m[c], vj + 16 * c), o[c]);
  }
  for (int c = 0; c < nc; ++c) _mm512_mask_storeu_ps(oh + 16 * c, m[c], o[c]);
}
#endif

}  // namespace

void attention(const float* q, int64_t n_tokens, int64_t n_past, const float* k_cache, const float* v_cache,
               int64_t n_head, int64_t n_kv, int64_t head_dim, float scale, float* out, cpu::ThreadPool& pool,
               AttentionScratch& scratch) {
  const int64_t kv_stride = n_kv * head_dim;
  const int64_t q_stride = n_head * head_dim;
  const int64_t n_ctx = n_past + n_tokens;
  const int64_t group = n_head / n_kv;
  const size_t per_thread = static_cast<size_t>(n_ctx + 16);  // + room for a vector tail
  if (scratch.scores.size() < per_thread * pool.size()) scratch.scores.resize(per_thread * pool.size());
  bool simd = false;
#if HYBRID_X86_KERNELS
  simd = attention_avx512() && head_dim <= 16 * kMaxChunks;
#endif
  // Work items: (token, head) pairs; per item about (n_past + t) * head_dim * 2 MACs: short contexts stay
  // on one thread.
  const int64_t per_item = std::max<int64_t>(1, n_ctx * head_dim * 2);
  const int64_t grain = std::max<int64_t>(1, (1 << 16) / per_item);
  pool.parallel_for(n_tokens * n_head, grain, [&](int64_t b, int64_t e, int thread) {
    float* scores = scratch.scores.data() + per_thread * thread;
    for (int64_t item = b; item < e; ++item) {
      const int64_t t = item / n_head, h = item % n_head, kvh = h / group;
      const float* qh = q + t * q_stride + h * head_dim;
      const int64_t len = n_past + t + 1;  // causal: keys 0..n_past+t
      float* oh = out + t * q_stride + h * head_dim;
      const float* k = k_cache + kvh * head_dim;
      const float* v = v_cache + kvh * head_dim;
#if HYBRID_X86_KERNELS
      if (simd) {
        attend_avx512(qh, len, k, v, kv_stride, head_dim, scale, scores, oh);
        continue;
      }
#endif
      attend_scalar(qh, len, k, v, kv_stride, head_dim, scale, scores, oh);
    }
  });
}

}  // namespace hybrid::ops
