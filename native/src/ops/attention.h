// Causal grouped-query attention over a KV cache (nemotron_h: no positional encoding at all).
// q[t][n_head*hd] for the n_tokens new tokens at positions n_past..n_past+n_tokens-1; the cache already
// holds their keys/values. out[t][n_head*hd]. Query head h reads KV head h / (n_head / n_kv).
#pragma once
#include <cstdint>
#include <vector>

#include "backend/cpu/thread_pool.h"

namespace hybrid::ops {

struct AttentionScratch {
  std::vector<float> scores;  // per thread: n_ctx
};

void attention(const float* q, int64_t n_tokens, int64_t n_past, const float* k_cache, const float* v_cache,
               int64_t n_head, int64_t n_kv, int64_t head_dim, float scale, float* out, cpu::ThreadPool& pool,
               AttentionScratch& scratch);

}  // namespace hybrid::ops
