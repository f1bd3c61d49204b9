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

// The same computation vectorised, for a block of query tokens and all the query heads that share one KV
// head (GQA), so that each key and value row is read from memory once for all of them rather than once
// per (token, head) pair; keys are visited in blocks small enough to stay in L2 between the pairs.
// Per pair the arithmetic is fixed, whatever the block: a key's score is reduce16(sum over 16-value
// chunks, fma left to right) * scale; softmax with exp512 and the sum in double; the output accumulates
// each value row in key order (kept in memory between key blocks, which does not round). NC = chunks of
// 16 in head_dim, a compile-time constant so that accumulators stay in registers; kFull: head_dim == 16
// NC, so no load needs a mask.
struct GroupArgs {
  const float* q;        // the first pair's query row; pair (token i, head g) at q + i * q_stride + g * head_dim
  int64_t q_stride;
  int64_t n_tok, group;  // pairs = n_tok * group
  int64_t len0;          // keys seen by the block's first token (causal: one more per later token)
  const float* k;        // the KV head's first key row; key j at k + j * kv_stride
  const float* v;
  int64_t kv_stride, head_dim;
  float scale;
  float* scores;         // [pairs][score_stride]
  int64_t score_stride;
  float* out;            // pair (i, g) at out + i * q_stride + g * head_dim
};

constexpr int64_t kKeyBlock = 256;

template <int NC, bool kFull>
HYBRID_AVX512_FN void attend_group_avx512(const GroupArgs& a) {
  const int64_t pairs = a.n_tok * a.group, hd = a.head_dim;
  __mmask16 m[NC];
  for (int c = 0; c < NC; ++c) m[c] = kFull ? static_cast<__mmask16>(0xFFFF) : x86::tail_mask(hd - 16 * c);
  auto load = [&](int c, const float* p) HYBRID_AVX512_LAMBDA {
    return kFull ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(m[c], p);
  };
  auto pair_len = [&](int64_t p) { return a.len0 + p / a.group; };
  auto pair_q = [&](int64_t p) { return a.q + (p / a.group) * a.q_stride + (p % a.group) * hd; };
  auto pair_out = [&](int64_t p) { return a.out + (p / a.group) * a.q_stride + (p % a.group) * hd; };
  const int64_t max_len = pair_len(pairs - 1);
  // scores
  for (int64_t kb = 0; kb < max_len; kb += kKeyBlock) {
    for (int64_t p = 0; p < pairs; ++p) {
      const int64_t len = std::min(pair_len(p), kb + kKeyBlock);
      if (kb >= len) continue;
      const float* qh = pair_q(p);
      float* sc = a.scores + p * a.score_stride;
      __m512 q[NC];
      for (int c = 0; c < NC; ++c) q[c] = load(c, qh + 16 * c);
      int64_t j = kb;
      for (; j + 4 <= len; j += 4) {
        const float* k0 = a.k + j * a.kv_stride;
        __m512 a0 = _mm512_mul_ps(q[0], load(0, k0));
        __m512 a1 = _mm512_mul_ps(q[0], load(0, k0 + a.kv_stride));
        __m512 a2 = _mm512_mul_ps(q[0], load(0, k0 + 2 * a.kv_stride));
        __m512 a3 = _mm512_mul_ps(q[0], load(0, k0 + 3 * a.kv_stride));
        for (int c = 1; c < NC; ++c) {
          a0 = _mm512_fmadd_ps(q[c], load(c, k0 + 16 * c), a0);
          a1 = _mm512_fmadd_ps(q[c], load(c, k0 + a.kv_stride + 16 * c), a1);
          a2 = _mm512_fmadd_ps(q[c], load(c, k0 + 2 * a.kv_stride + 16 * c), a2);
          a3 = _mm512_fmadd_ps(q[c], load(c, k0 + 3 * a.kv_stride + 16 * c), a3);
        }
        sc[j] = x86::reduce512(a0) * a.scale;
        sc[j + 1] = x86::reduce512(a1) * a.scale;
        sc[j + 2] = x86::reduce512(a2) * a.scale;
        sc[j + 3] = x86::reduce512(a3) * a.scale;
      }
      for (; j < len; ++j) {
        const float* kj = a.k + j * a.kv_stride;
        __m512 acc = _mm512_mul_ps(q[0], load(0, kj));
        for (int c = 1; c < NC; ++c) acc = _mm512_fmadd_ps(q[c], load(c, kj + 16 * c), acc);
        sc[j] = x86::reduce512(acc) * a.scale;
      }
    }
  }
  // softmax per pair; the weights (exp / sum) replace the scores
  for (int64_t p = 0; p < pairs; ++p) {
    const int64_t len = pair_len(p);
    float* sc = a.scores + p * a.score_stride;
    __m512 vmax = _mm512_set1_ps(-INFINITY);
    for (int64_t j = 0; j < len; j += 16) vmax = _mm512_mask_max_ps(vmax, x86::tail_mask(len - j), vmax, _mm512_loadu_ps(sc + j));
    const __m512 mx = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
    __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd();
    for (int64_t j = 0; j < len; j += 16) {
      const __mmask16 mj = x86::tail_mask(len - j);
      const __m512 e = _mm512_maskz_mov_ps(mj, x86::exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(mj, sc + j), mx)));
      _mm512_mask_storeu_ps(sc + j, mj, e);
      s0 = _mm512_add_pd(s0, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
      s1 = _mm512_add_pd(s1, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
    }
    const __m512 inv = _mm512_set1_ps(static_cast<float>(1.0 / _mm512_reduce_add_pd(_mm512_add_pd(s0, s1))));
    for (int64_t j = 0; j < len; j += 16) {
      const __mmask16 mj = x86::tail_mask(len - j);
      _mm512_mask_storeu_ps(sc + j, mj, _mm512_mul_ps(_mm512_maskz_loadu_ps(mj, sc + j), inv));
    }
  }
  // weighted sum of the values, in key order per pair
  for (int64_t p = 0; p < pairs; ++p) {
    float* oh = pair_out(p);
    for (int c = 0; c < NC; ++c) _mm512_mask_storeu_ps(oh + 16 * c, m[c], _mm512_setzero_ps());
  }
  for (int64_t kb = 0; kb < max_len; kb += kKeyBlock) {
    for (int64_t p = 0; p < pairs; ++p) {
      const int64_t len = std::min(pair_len(p), kb + kKeyBlock);
      if (kb >= len) continue;
      const float* w = a.scores + p * a.score_stride;
      float* oh = pair_out(p);
      __m512 o[NC];
      for (int c = 0; c < NC; ++c) o[c] = load(c, oh + 16 * c);
      for (int64_t j = kb; j < len; ++j) {
        const __m512 wj = _mm512_set1_ps(w[j]);
        const float* vj = a.v + j * a.kv_stride;
        for (int c = 0; c < NC; ++c) o[c] = _mm512_fmadd_ps(wj, load(c, vj + 16 * c), o[c]);
      }
      for (int c = 0; c < NC; ++c) _mm512_mask_storeu_ps(oh + 16 * c, m[c], o[c]);
    }
  }
}

using GroupFn = void (*)(const GroupArgs&);

GroupFn attend_group_for(int64_t head_dim) {
  const bool full = head_dim % 16 == 0;
  switch ((head_dim + 15) / 16) {
#define HYBRID_ATTEND_CASE(NC) \
  case NC: return full ? attend_group_avx512<NC, true> : attend_group_avx512<NC, false>;
    HYBRID_ATTEND_CASE(1) HYBRID_ATTEND_CASE(2) HYBRID_ATTEND_CASE(3) HYBRID_ATTEND_CASE(4) HYBRID_ATTEND_CASE(5)
    HYBRID_ATTEND_CASE(6) HYBRID_ATTEND_CASE(7) HYBRID_ATTEND_CASE(8) HYBRID_ATTEND_CASE(10) HYBRID_ATTEND_CASE(12)
    HYBRID_ATTEND_CASE(16)
#undef HYBRID_ATTEND_CASE
    default: return nullptr;  // the portable loop
  }
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
#if HYBRID_X86_KERNELS
  if (const GroupFn simd = attention_avx512() ? attend_group_for(head_dim) : nullptr) {
    // Work items: (block of up to kTokBlock tokens, KV head); each runs its tokens x `group` query heads.
    constexpr int64_t kTokBlock = 4;
    const int64_t score_stride = n_ctx + 16;  // + room for a vector tail
    const size_t per_thread = static_cast<size_t>(score_stride) * kTokBlock * group;
    if (scratch.scores.size() < per_thread * pool.size()) scratch.scores.resize(per_thread * pool.size());
    const int64_t blocks = (n_tokens + kTokBlock - 1) / kTokBlock;
    const int64_t per_item = std::max<int64_t>(1, n_ctx * head_dim * 2 * group * std::min(n_tokens, kTokBlock));
    const int64_t grain = std::max<int64_t>(1, (1 << 16) / per_item);
    pool.parallel_for(blocks * n_kv, grain, [&](int64_t b, int64_t e, int thread) {
      for (int64_t item = b; item < e; ++item) {
        const int64_t tb = item / n_kv, kvh = item % n_kv, t0 = tb * kTokBlock;
        GroupArgs g;
        g.q = q + t0 * q_stride + kvh * group * head_dim;
        g.q_stride = q_stride;
        g.n_tok = std::min(kTokBlock, n_tokens - t0);
        g.group = group;
        g.len0 = n_past + t0 + 1;
        g.k = k_cache + kvh * head_dim;
        g.v = v_cache + kvh * head_dim;
        g.kv_stride = kv_stride;
        g.head_dim = head_dim;
        g.scale = scale;
        g.scores = scratch.scores.data() + per_thread * thread;
        g.score_stride = score_stride;
        g.out = out + t0 * q_stride + kvh * group * head_dim;
        simd(g);
      }
    });
    return;
  }
#endif
  const size_t per_thread = static_cast<size_t>(n_ctx);
  if (scratch.scores.size() < per_thread * pool.size()) scratch.scores.resize(per_thread * pool.size());
  // Work items: (token, head) pairs; per item about (n_past + t) * head_dim * 2 MACs: short contexts stay
  // on one thread.
  const int64_t per_item = std::max<int64_t>(1, n_ctx * head_dim * 2);
  const int64_t grain = std::max<int64_t>(1, (1 << 16) / per_item);
  pool.parallel_for(n_tokens * n_head, grain, [&](int64_t b, int64_t e, int thread) {
    float* scores = scratch.scores.data() + per_thread * thread;
    for (int64_t item = b; item < e; ++item) {
      const int64_t t = item / n_head, h = item % n_head, kvh = h / group;
      attend_scalar(q + t * q_stride + h * head_dim, n_past + t + 1, k_cache + kvh * head_dim, v_cache + kvh * head_dim,
                    kv_stride, head_dim, scale, scores, out + t * q_stride + h * head_dim);
    }
  });
}

}  // namespace hybrid::ops
