#include "ops/ssm.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
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

void ssm_scan_sequential(const SsmDims& d, const float* xbc, int64_t xbc_stride, const float* dt, int64_t dt_stride,
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

namespace {

// Portable forms of ssd_gemm_avx512 / ssd_mask_avx512 (ssm_kernels.h has their contracts). The product
// runs in tiles of R rows by 8 columns in GCC/Clang vector types (SSE2 on any x86-64, NEON on arm64).
typedef float v4f __attribute__((vector_size(16)));

inline v4f load4(const float* p) {
  v4f v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <int R>
void ssd_tile_portable(int64_t K, const float* A, int64_t lda, int64_t ak, const float* B, int64_t ldb, float* O,
                       int64_t ldo, int64_t w, const float* rs) {
  if (w < 8) {  // a column tail: plain loops
    for (int r = 0; r < R; ++r) {
      float acc[8] = {};
      for (int64_t k = 0; k < K; ++k)
        for (int64_t c = 0; c < w; ++c) acc[c] += A[r * lda + k * ak] * B[k * ldb + c];
      float* o = O + r * ldo;
      for (int64_t c = 0; c < w; ++c) o[c] = rs ? rs[r] * o[c] + acc[c] : acc[c];
    }
    return;
  }
  v4f acc[R][2];
  for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = v4f{0, 0, 0, 0};
  for (int64_t k = 0; k < K; ++k) {
    const v4f b0 = load4(B + k * ldb), b1 = load4(B + k * ldb + 4);
    for (int r = 0; r < R; ++r) {
      const float av = A[r * lda + k * ak];
      const v4f a4 = {av, av, av, av};
      acc[r][0] += a4 * b0;
      acc[r][1] += a4 * b1;
    }
  }
  for (int r = 0; r < R; ++r) {
    float* o = O + r * ldo;
    if (rs) {
      const v4f s4 = {rs[r], rs[r], rs[r], rs[r]};
      acc[r][0] += s4 * load4(o);
      acc[r][1] += s4 * load4(o + 4);
    }
    std::memcpy(o, &acc[r][0], 16);
    std::memcpy(o + 4, &acc[r][1], 16);
  }
}

void ssd_gemm_portable(int64_t rows, int64_t cols, int64_t K, const float* A, int64_t lda, int64_t ak,
                       const float* B, int64_t ldb, float* O, int64_t ldo, const float* row_scale,
                       detail::SsdTri tri) {
  for (int64_t c0 = 0; c0 < cols; c0 += 8) {
    const int64_t w = std::min<int64_t>(8, cols - c0);
    int64_t r0 = tri == detail::SsdTri::OnlyLower ? std::min(rows, c0) : 0;
    for (; r0 < rows; r0 += 4) {
      const int64_t nr = std::min<int64_t>(4, rows - r0);
      const int64_t kr = tri == detail::SsdTri::ZeroAboveDiag ? std::min(K, r0 + nr) : K;
      const float* a = A + r0 * lda;
      float* o = O + r0 * ldo + c0;
      const float* rs = row_scale ? row_scale + r0 : nullptr;
      switch (nr) {
        case 4: ssd_tile_portable<4>(kr, a, lda, ak, B + c0, ldb, o, ldo, w, rs); break;
        case 3: ssd_tile_portable<3>(kr, a, lda, ak, B + c0, ldb, o, ldo, w, rs); break;
        case 2: ssd_tile_portable<2>(kr, a, lda, ak, B + c0, ldb, o, ldo, w, rs); break;
        default: ssd_tile_portable<1>(kr, a, lda, ak, B + c0, ldb, o, ldo, w, rs); break;
      }
    }
  }
}

void ssd_mask_portable(int64_t n, const float* cb, int64_t ldcb, const double* cs, const float* dsp, float dskip,
                       float* m, int64_t ldm) {
  for (int64_t t = 0; t < n; ++t) {
    float* mt = m + t * ldm;
    for (int64_t s = 0; s <= t; ++s)
      mt[s] = cb[t * ldcb + s] * std::exp(static_cast<float>(cs[t] - cs[s])) * dsp[s];
    for (int64_t s = t + 1; s < n; ++s) mt[s] = 0.0f;
    mt[t] += dskip;
  }
}

}  // namespace

void ssm_scan_chunked(const SsmDims& d, const float* xbc, int64_t xbc_stride, const float* dt, int64_t dt_stride,
                      const float* dt_bias, const float* a, const float* d_skip, float* state, float* y,
                      int64_t n_tokens, cpu::ThreadPool& pool, int64_t chunk, SsdIsa isa) {
  const int64_t H = d.n_head, N = d.d_state, G = d.n_group, P = d.head_dim(), Din = d.d_inner, GN = G * N;
  const int64_t hpg = H / G, L = std::max<int64_t>(1, std::min(chunk, n_tokens));
  const bool avx512 = isa == SsdIsa::Best && detail::ssm_avx512();
  const bool avx2 = isa != SsdIsa::Portable && !avx512 && detail::ssm_avx2();
  const auto gemm = avx512 ? detail::ssd_gemm_avx512 : avx2 ? detail::ssd_gemm_avx2 : ssd_gemm_portable;
  const auto mask = avx512 ? detail::ssd_mask_avx512 : avx2 ? detail::ssd_mask_avx2 : ssd_mask_portable;
  // Work units: `hs` heads of one group (hs divides the group's heads). The group's C·Bᵀ is computed once
  // per unit and chunk, so units are as large as the thread count allows.
  int64_t hs = hpg;
  while (hs % 2 == 0 && (H / hs) < 2 * pool.size()) hs /= 2;
  const int64_t units = H / hs;
  pool.parallel_for(units, 1, [&](int64_t ub, int64_t ue, int) {
    // scratch: ST (hs heads of [N][P], the state transposed) | BT [N][L] | CB [L][L] | M [L][L] | Xw [L][P] |
    // e_t [L] | dsp [L] | e_last [N];  cs [L] doubles
    thread_local std::vector<float> f;
    thread_local std::vector<double> cs;
    const size_t need = static_cast<size_t>(hs * N * P + N * L + 2 * L * L + L * P + 2 * L + N);
    if (f.size() < need) f.resize(need);
    if (cs.size() < static_cast<size_t>(L)) cs.resize(L);
    float* ST = f.data();
    float* BT = ST + hs * N * P;
    float* CB = BT + N * L;
    float* M = CB + L * L;
    float* Xw = M + L * L;
    float* et = Xw + L * P;
    float* dsp = et + L;
    float* elast = dsp + L;
    for (int64_t u = ub; u < ue; ++u) {
      const int64_t h0 = u * hs, g = h0 / hpg;
      for (int64_t j = 0; j < hs; ++j) {  // state[h][i][n] -> ST_j[n][i]
        const float* s = state + (h0 + j) * P * N;
        float* st = ST + j * N * P;
        for (int64_t i = 0; i < P; ++i)
          for (int64_t n = 0; n < N; ++n) st[n * P + i] = s[i * N + n];
      }
      for (int64_t c0 = 0; c0 < n_tokens; c0 += L) {
        const int64_t Lc = std::min(L, n_tokens - c0);
        const float* Bp = xbc + c0 * xbc_stride + Din + g * N;
        const float* Cp = Bp + GN;
        for (int64_t s = 0; s < Lc; ++s)
          for (int64_t n = 0; n < N; ++n) BT[n * L + s] = Bp[s * xbc_stride + n];
        // CB[t][s] = C_t · B_s for s <= t
        gemm(Lc, Lc, N, Cp, xbc_stride, 1, BT, L, CB, L, nullptr, detail::SsdTri::OnlyLower);
        for (int64_t j = 0; j < hs; ++j) {
          const int64_t h = h0 + j;
          float* st = ST + j * N * P;
          double acc = 0.0;
          for (int64_t s = 0; s < Lc; ++s) {
            dsp[s] = softplus(dt[(c0 + s) * dt_stride + h] + dt_bias[h]);
            acc += static_cast<double>(dsp[s]) * a[h];
            cs[s] = acc;
            et[s] = static_cast<float>(std::exp(acc));
          }
          mask(Lc, CB, L, cs.data(), dsp, d_skip[h], M, L);
          const float* X = xbc + c0 * xbc_stride + h * P;
          float* Y = y + c0 * Din + h * P;
          // Y = exp(cs_t) (C_t · S) + sum_s M[t][s] x_s   (M holds D on its diagonal)
          gemm(Lc, P, N, Cp, xbc_stride, 1, st, P, Y, Din, nullptr, detail::SsdTri::None);
          gemm(Lc, P, Lc, M, L, 1, X, xbc_stride, Y, Din, et, detail::SsdTri::ZeroAboveDiag);
          // S' = exp(cs_last) S + sum_s B_s (x_s exp(cs_last - cs_s) dt_s)
          const double last = cs[Lc - 1];
          for (int64_t s = 0; s < Lc; ++s) {
            const float w = static_cast<float>(std::exp(last - cs[s])) * dsp[s];
            const float* xs = X + s * xbc_stride;
            for (int64_t i = 0; i < P; ++i) Xw[s * P + i] = xs[i] * w;
          }
          const float el = static_cast<float>(std::exp(last));
          for (int64_t n = 0; n < N; ++n) elast[n] = el;
          gemm(N, P, Lc, BT, L, 1, Xw, P, st, P, elast, detail::SsdTri::None);
        }
      }
      for (int64_t j = 0; j < hs; ++j) {  // ST_j -> state[h]
        float* s = state + (h0 + j) * P * N;
        const float* st = ST + j * N * P;
        for (int64_t i = 0; i < P; ++i)
          for (int64_t n = 0; n < N; ++n) s[i * N + n] = st[n * P + i];
      }
    }
  });
}

// Measured with `hybrid opbench --op scan` at Nano-9B shapes (128 heads x 80, state 128, 8 groups), one
// thread: with AVX-512 the sequential scan wins below about 24 tokens (the chunked form reads and writes
// each head's state a few times per chunk), the chunked form from 32 on (1.4x at 32 tokens, 2x at 64,
// 4-8x at 512-2048, where the sequential scan's strided reads of B and C fall out of cache). The AVX2
// chunked form beats the portable sequential scan from 4 tokens on (4.5x at 512); both use 32. The
// portable chunked form only matches the portable sequential one, so without AVX2 the scan stays
// sequential. HYBRID_SSD_MIN_TOKENS overrides (benchmarks: a huge value keeps the sequential scan).
int64_t ssm_scan_chunked_min_tokens() {
  static const int64_t v = [] {
    const char* e = std::getenv("HYBRID_SSD_MIN_TOKENS");
    if (e && *e) return std::max<int64_t>(1, std::atoll(e));
    return detail::ssm_avx512() || detail::ssm_avx2() ? int64_t{32} : std::numeric_limits<int64_t>::max();
  }();
  return v;
}

void ssm_scan(const SsmDims& d, const float* xbc, int64_t xbc_stride, const float* dt, int64_t dt_stride,
              const float* dt_bias, const float* a, const float* d_skip, float* state, float* y,
              int64_t n_tokens, cpu::ThreadPool& pool) {
  if (n_tokens >= ssm_scan_chunked_min_tokens())
    ssm_scan_chunked(d, xbc, xbc_stride, dt, dt_stride, dt_bias, a, d_skip, state, y, n_tokens, pool, kSsdChunk);
  else
    ssm_scan_sequential(d, xbc, xbc_stride, dt, dt_stride, dt_bias, a, d_skip, state, y, n_tokens, pool);
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
