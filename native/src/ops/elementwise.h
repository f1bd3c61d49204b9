// Small element-wise ops with llama.cpp's exact float semantics (ggml-cpu vec.h / ops.cpp), so that
// our activations round the same way as llama.cpp's.
#pragma once
#include <cmath>
#include <cstdint>

namespace hybrid::ops {

inline float silu(float x) { return x / (1.0f + std::exp(-x)); }                 // ggml_silu_f32
inline float softplus(float x) { return x > 20.0f ? x : std::log1p(std::exp(x)); }  // ggml_softplus

// y = (x / sqrt(mean(x^2) + eps)) * w: ggml_rms_norm (sum in double) followed by ggml_mul.
inline void rms_norm(const float* x, const float* w, int64_t n, float eps, float* y) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i]) * x[i];
  const float mean = static_cast<float>(sum / n);
  const float scale = 1.0f / std::sqrt(mean + eps);
  for (int64_t i = 0; i < n; ++i) y[i] = (x[i] * scale) * w[i];
}

}  // namespace hybrid::ops
