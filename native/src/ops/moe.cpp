#include "ops/moe.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace hybrid::ops {

void moe_route(const float* logits, int64_t n_tokens, int64_t n_expert, int64_t k, int32_t* ids, float* weights) {
  std::vector<float> p(static_cast<size_t>(n_expert));
  std::vector<int32_t> order(static_cast<size_t>(n_expert));
  for (int64_t t = 0; t < n_tokens; ++t) {
    const float* l = logits + t * n_expert;
    // softmax as ggml_compute_forward_soft_max_f32: max, exp(x - max) summed in double, times 1/sum.
    float max = -INFINITY;
    for (int64_t e = 0; e < n_expert; ++e) max = std::max(max, l[e]);
    double sum = 0.0;
    for (int64_t e = 0; e < n_expert; ++e) {
      p[e] = std::exp(l[e] - max);
      sum += p[e];
    }
    const float inv = static_cast<float>(1.0 / sum);
    for (int64_t e = 0; e < n_expert; ++e) p[e] *= inv;
    // top-k, largest first; equal probabilities keep the lower expert id first.
    for (int64_t e = 0; e < n_expert; ++e) order[e] = static_cast<int32_t>(e);
    std::partial_sort(order.begin(), order.begin() + k, order.end(),
                      [&](int32_t a, int32_t b) { return p[a] > p[b] || (p[a] == p[b] && a < b); });
    // Renormalize the chosen weights (ggml_sum_rows accumulates in double; ggml_clamp; ggml_div).
    double wsum = 0.0;
    for (int64_t j = 0; j < k; ++j) wsum += p[order[j]];
    const float denom = std::max(static_cast<float>(wsum), 6.103515625e-5f);
    for (int64_t j = 0; j < k; ++j) {
      ids[t * k + j] = order[j];
      weights[t * k + j] = p[order[j]] / denom;
    }
  }
}

}  // namespace hybrid::ops
