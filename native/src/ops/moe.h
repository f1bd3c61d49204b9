// Mixture-of-experts routing as llama.cpp's build_moe_ffn does it for granitehybrid (src/llama-graph.cpp:
// LLAMA_EXPERT_GATING_FUNC_TYPE_SOFTMAX, norm_w = true, no weight scale, no expert groups):
//   p   = softmax(router logits)                       over all n_expert experts
//   ids = the k experts with the largest p, largest first (ggml_argsort_top_k; ties: lower id first)
//   w   = p[ids] / max(sum(p[ids]), 2^-14)              (the clamp is ggml's 6.103515625e-5)
// The experts' outputs are then summed in the order of ids, each times its weight.
#pragma once
#include <cstdint>

namespace hybrid::ops {

// logits [n_tokens][n_expert] -> ids, weights [n_tokens][k].
void moe_route(const float* logits, int64_t n_tokens, int64_t n_expert, int64_t k, int32_t* ids, float* weights);

}  // namespace hybrid::ops
