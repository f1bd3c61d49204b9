// Small element-wise ops with llama.cpp's float semantics (ggml-cpu vec.h / ops.cpp), so that our
// activations round the same way as llama.cpp's. The scalar forms are the definitions; the row ops below
// use AVX-512 where the CPU has it (same formulas; sums of squares in double, summed in a different order).
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

// rms_norm of each of n_rows rows of n values (x and y with row stride n).
void rms_norm_rows(const float* x, const float* w, int64_t n_rows, int64_t n, float eps, float* y);
// x[i] = max(x[i], 0)^2 (LLM_FFN_RELU_SQR).
void relu_sqr(float* x, int64_t n);
// h[i] += d[i] (the residual stream).
void add_to(float* h, const float* d, int64_t n);

}  // namespace hybrid::ops
