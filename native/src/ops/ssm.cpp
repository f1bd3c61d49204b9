#include "ops/ssm.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "ops/elementwise.h"
#include "ops/ssm_kernels.h"

// Portable loops, and the dispatch to the SIMD bodies of ssm_kernels.h. A thread only pays off for tens
// of microseconds of work: one decode token's conv or gate stays on one thread, a prefill chunk spreads.
namespace hybrid::ops {

void ssm_conv(const SsmDims& d, float* xbc, int64_t n_tokens, int64_t stride, const float* weight,
              const float* bias, float* conv_state, cpu::ThreadPool& pool) {
  const int64_t K = d.d_conv, C = d.channels;
  if (detail::ssm_avx512()) {
    // Slices of 16 channels; about 64K multiply-adds per thread at least.
    const int64_t blocks = (C + 15) / 16;
    const int64_t grain = std::max<int64_t>(1, (1 << 16) / std::max<int64_t>(1, 16 * n_tokens * K));
    pool.parallel_for(blocks, grain, [&](int64_t b, int64_t e, int) {
      detail::ssm_conv_avx512(d, xbc, n_tokens, stride, weight, bias, conv_state, b * 16, std::min(C, e * 16));
    });
    return;
  }
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
        float acc = window[0] * wc[0];
        for (int64_t k = 1; k < K; ++k) acc = std::fma(window[k], wc[k], acc);
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
  if (detail::ssm_avx512() && N % 16 == 0 && N <= 256 && ((N / 16) & (N / 16 - 1)) == 0) {
    pool.parallel_for(H, grain, [&](int64_t hb, int64_t he, int) {
      thread_local std::vector<float> tmp;
      if (tmp.size() < static_cast<size_t>(2 * n_tokens)) tmp.resize(2 * n_tokens);
      detail::ssm_scan_avx512(d, xbc, xbc_stride, dt, dt_stride, dt_bias, a, d_skip, state, y, n_tokens, hb, he, tmp.data());
    });
    return;
  }
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

void ssm_gate_norm(const SsmDims& d, float* y, int64_t n_tokens, const float* z, int64_t z_stride, const float* norm_w,
                   float eps, cpu::ThreadPool& pool) {
  const int64_t Din = d.d_inner, gs = Din / d.n_group;
  const int64_t grain = std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(1, Din));
  pool.parallel_for(n_tokens, grain, [&](int64_t b, int64_t e, int) {
    if (detail::ssm_avx512()) {
      detail::ssm_gate_norm_avx512(d, y, z, z_stride, norm_w, eps, b, e);
      return;
    }
    for (int64_t t = b; t < e; ++t) {
      float* yt = y + t * Din;
      const float* zt = z + t * z_stride;
      for (int64_t i = 0; i < Din; ++i) yt[i] = silu(zt[i]) * yt[i];
      for (int64_t g = 0; g < d.n_group; ++g) rms_norm(yt + g * gs, norm_w + g * gs, gs, eps, yt + g * gs);
    }
  });
}

}  // namespace hybrid::ops
