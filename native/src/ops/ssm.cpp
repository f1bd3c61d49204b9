#include "ops/ssm.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "ops/elementwise.h"

namespace hybrid::ops {

void ssm_conv(const SsmDims& d, float* xbc, int64_t n_tokens, int64_t stride, const float* weight,
              const float* bias, float* conv_state, cpu::ThreadPool& pool) {
  const int64_t K = d.d_conv, C = d.channels;
  // A thread only pays off for tens of microseconds of work: one decode token's conv (C*K MACs) stays on
  // one thread, a prefill chunk spreads out.
  const int64_t grain = std::max<int64_t>(64, (1 << 16) / std::max<int64_t>(1, n_tokens * K));
  pool.parallel_for(C, grain, [&](int64_t cb, int64_t ce, int) {
    float window[16];  // K <= 16 (checked at load)
    for (int64_t c = cb; c < ce; ++c) {
      float* st = conv_state + c * (K - 1);
      const float* wc = weight + c * K;
      for (int64_t k = 0; k < K - 1; ++k) window[k] = st[k];
      for (int64_t t = 0; t < n_tokens; ++t) {
        float& v = xbc[t * stride + c];
        window[K - 1] = v;
        float acc = 0.0f;
        for (int64_t k = 0; k < K; ++k) acc += window[k] * wc[k];
        for (int64_t k = 0; k < K - 1; ++k) window[k] = window[k + 1];
        v = silu(acc + bias[c]);
      }
      for (int64_t k = 0; k < K - 1; ++k) st[k] = window[k];
    }
  });
}

void ssm_scan(const SsmDims& d, const float* xbc, int64_t xbc_stride, const float* dt, int64_t dt_stride,
              const float* dt_bias, const float* a, const float* d_skip, float* state, float* y,
              int64_t n_tokens, cpu::ThreadPool& pool) {
  const int64_t H = d.n_head, N = d.d_state, G = d.n_group, P = d.head_dim(), Din = d.d_inner;
  const int64_t heads_per_group = H / G;
  const int64_t grain = std::max<int64_t>(1, (1 << 16) / std::max<int64_t>(1, n_tokens * P * N));
  pool.parallel_for(H, grain, [&](int64_t hb, int64_t he, int) {
    for (int64_t t = 0; t < n_tokens; ++t) {
      const float* xt = xbc + t * xbc_stride;
      const float* B = xt + Din;
      const float* Cm = xt + Din + G * N;
      for (int64_t h = hb; h < he; ++h) {
        const int64_t g = h / heads_per_group;
        const float dt_sp = softplus(dt[t * dt_stride + h] + dt_bias[h]);
        const float dA = std::exp(dt_sp * a[h]);
        const float* Bg = B + g * N;
        const float* Cg = Cm + g * N;
        for (int64_t i = 0; i < P; ++i) {
          const float x = xt[h * P + i];
          const float x_dt = x * dt_sp;
          float* s = state + (h * P + i) * N;
          float sum = 0.0f;
          for (int64_t n = 0; n < N; ++n) {
            const float v = s[n] * dA + Bg[n] * x_dt;
            s[n] = v;
            sum += v * Cg[n];
          }
          y[t * Din + h * P + i] = sum + x * d_skip[h];
        }
      }
    }
  });
}

}  // namespace hybrid::ops
