// Rotary position embedding, ggml's GGML_ROPE_TYPE_NORMAL (adjacent pairs (x[2i], x[2i+1]) rotate; the
// llama.cpp converter permutes q/k rows into that layout), with linear frequency scaling and no YaRN
// correction (ext_factor 0): theta_i = pos * freq_scale * freq_base^(-2i/n_rot) for pairs i < n_rot/2,
// dimensions >= n_rot pass through; cos and sin are multiplied by attn_factor.
// The angle is accumulated in float exactly as ggml-cpu ops.cpp ggml_rope_cache_init does (theta *=
// theta_scale per pair), so the rotations match llama.cpp's to the last bit of cosf/sinf.
#pragma once
#include <cstdint>

namespace hybrid::ops {

struct RopeParams {
  int64_t n_rot = 0;
  float freq_base = 10000.0f;
  float freq_scale = 1.0f;
  float attn_factor = 1.0f;
};

// x: [n_tokens][n_head][head_dim] in place; token t is at position pos0 + t.
void rope_norm(float* x, int64_t n_tokens, int64_t n_head, int64_t head_dim, int64_t pos0, const RopeParams& p);

}  // namespace hybrid::ops
