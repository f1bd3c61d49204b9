#include "ops/rope.h"

#include <cmath>
#include <vector>

namespace hybrid::ops {

void rope_norm(float* x, int64_t n_tokens, int64_t n_head, int64_t head_dim, int64_t pos0, const RopeParams& p) {
  const float theta_scale = std::pow(p.freq_base, -2.0f / static_cast<float>(p.n_rot));
  std::vector<float> cache(static_cast<size_t>(p.n_rot));
  for (int64_t t = 0; t < n_tokens; ++t) {
    float theta = static_cast<float>(pos0 + t);
    for (int64_t i0 = 0; i0 < p.n_rot; i0 += 2) {
      const float th = p.freq_scale * theta;
      cache[i0] = std::cos(th) * p.attn_factor;
      cache[i0 + 1] = std::sin(th) * p.attn_factor;
      theta *= theta_scale;
    }
    for (int64_t h = 0; h < n_head; ++h) {
      float* v = x + (t * n_head + h) * head_dim;
      for (int64_t i0 = 0; i0 < p.n_rot; i0 += 2) {
        const float c = cache[i0], s = cache[i0 + 1];
        const float x0 = v[i0], x1 = v[i0 + 1];
        v[i0] = x0 * c - x1 * s;
        v[i0 + 1] = x0 * s + x1 * c;
      }
    }
  }
}

}  // namespace hybrid::ops
