#include "ops/attention.h"

#include <algorithm>
#include <cmath>

namespace hybrid::ops {

void attention(const float* q, int64_t n_tokens, int64_t n_past, const float* k_cache, const float* v_cache,
               int64_t n_head, int64_t n_kv, int64_t head_dim, float scale, float* out, cpu::ThreadPool& pool,
               AttentionScratch& scratch) {
  const int64_t kv_stride = n_kv * head_dim;
  const int64_t q_stride = n_head * head_dim;
  const int64_t n_ctx = n_past + n_tokens;
  const int64_t group = n_head / n_kv;
  const size_t per_thread = static_cast<size_t>(n_ctx);
  if (scratch.scores.size() < per_thread * pool.size()) scratch.scores.resize(per_thread * pool.size());
  // Work items: (token, head) pairs.
  // Work per (token, head) item is about (n_past + t) * head_dim * 2 MACs: short contexts stay on one thread.
  const int64_t per_item = std::max<int64_t>(1, n_ctx * head_dim * 2);
  const int64_t grain = std::max<int64_t>(1, (1 << 16) / per_item);
  pool.parallel_for(n_tokens * n_head, grain, [&](int64_t b, int64_t e, int thread) {
    float* scores = scratch.scores.data() + per_thread * thread;
    for (int64_t item = b; item < e; ++item) {
      const int64_t t = item / n_head, h = item % n_head, kvh = h / group;
      const float* qh = q + t * q_stride + h * head_dim;
      const int64_t len = n_past + t + 1;  // causal: keys 0..n_past+t
      float max = -INFINITY;
      for (int64_t j = 0; j < len; ++j) {
        const float* kj = k_cache + j * kv_stride + kvh * head_dim;
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
      float* oh = out + t * q_stride + h * head_dim;
      std::fill(oh, oh + head_dim, 0.0f);
      for (int64_t j = 0; j < len; ++j) {
        const float w = scores[j] * inv;
        const float* vj = v_cache + j * kv_stride + kvh * head_dim;
        for (int64_t i = 0; i < head_dim; ++i) oh[i] += w * vj[i];
      }
    }
  });
}

}  // namespace hybrid::ops
