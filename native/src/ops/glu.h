// Gated linear unit activations (llama.cpp ggml_swiglu_split, ggml-cpu vec.h ggml_vec_swiglu_f32):
// the FFN of Granite 4.0 and of every Granite expert is down(silu(gate(x)) * up(x)).
#pragma once
#include <cstdint>

#include "ops/elementwise.h"

namespace hybrid::ops {

// out[i] = silu(gate[i]) * up[i]; out may alias gate or up.
inline void swiglu(const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = silu(gate[i]) * up[i];
}

}  // namespace hybrid::ops
