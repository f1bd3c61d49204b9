// AVX-512 bodies of the Mamba-2 ops (ssm_kernels.h). Work is vectorised across channels (conv), the state
// dimension N (scan) and d_inner (gate + norm); the same code runs for one token and for many, so the
// results never depend on the batch.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/system_info.h"
#include "ops/elementwise.h"
#include "ops/ssm_kernels.h"
#include "ops/vec_math_x86.h"

namespace hybrid::ops::detail {

#if HYBRID_X86_KERNELS

#define FN HYBRID_AVX512_FN
using x86::exp512;
using x86::reduce512;
using x86::silu512;
using x86::tail_mask;

bool ssm_avx512() {
  static const bool ok = [] {
    const CpuInfo cpu = query_cpu();
    return cpu_has(cpu, "avx2") && cpu_has(cpu, "fma") && cpu_has(cpu, "f16c") && cpu_has(cpu, "avx512f") &&
           cpu_has(cpu, "avx512bw") && cpu_has(cpu, "avx512vl") && cpu_has(cpu, "avx512vnni");
  }();
  return ok;
}

// Per 16 channels: the K taps and the K-1 previous inputs live in registers while the tokens pass;
// out = silu(w_0 s_0 + w_1 s_1 + ... + w_{K-1} x_t + bias), the sum formed left to right with fmas.
template <int K>
FN void conv_block(float* xbc, int64_t n_tokens, int64_t stride, const float* weight, const float* bias,
                   float* conv_state, int64_t c0, __mmask16 m) {
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i ch = _mm512_add_epi32(lane, _mm512_set1_epi32(static_cast<int>(c0)));
  __m512 w[K], s[K > 1 ? K - 1 : 1];
  for (int k = 0; k < K; ++k)
    w[k] = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, _mm512_mullo_epi32(ch, _mm512_set1_epi32(K)), weight + k, 4);
  const __m512i sidx = _mm512_mullo_epi32(ch, _mm512_set1_epi32(K - 1));
  for (int k = 0; k < K - 1; ++k) s[k] = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, sidx, conv_state + k, 4);
  const __m512 b = _mm512_maskz_loadu_ps(m, bias + c0);
  for (int64_t t = 0; t < n_tokens; ++t) {
    float* p = xbc + t * stride + c0;
    const __m512 v = _mm512_maskz_loadu_ps(m, p);
    __m512 acc;
    if constexpr (K == 1) {
      acc = _mm512_mul_ps(w[0], v);
    } else {
      acc = _mm512_mul_ps(w[0], s[0]);
      for (int k = 1; k < K - 1; ++k) acc = _mm512_fmadd_ps(w[k], s[k], acc);
      acc = _mm512_fmadd_ps(w[K - 1], v, acc);
      for (int k = 0; k < K - 2; ++k) s[k] = s[k + 1];
      s[K - 2] = v;
    }
    _mm512_mask_storeu_ps(p, m, silu512(_mm512_add_ps(acc, b)));
  }
  for (int k = 0; k < K - 1; ++k) _mm512_mask_i32scatter_ps(conv_state + k, m, sidx, s[k], 4);
}

void ssm_conv_avx512(const SsmDims& d, float* xbc, int64_t n_tokens, int64_t stride, const float* weight,
                     const float* bias, float* conv_state, int64_t c_begin, int64_t c_end) {
  for (int64_t c0 = c_begin; c0 < c_end; c0 += 16) {
    const __mmask16 m = tail_mask(c_end - c0);
    switch (d.d_conv) {
#define HYBRID_CONV_CASE(K) \
  case K: conv_block<K>(xbc, n_tokens, stride, weight, bias, conv_state, c0, m); break;
      HYBRID_CONV_CASE(1) HYBRID_CONV_CASE(2) HYBRID_CONV_CASE(3) HYBRID_CONV_CASE(4) HYBRID_CONV_CASE(5)
      HYBRID_CONV_CASE(6) HYBRID_CONV_CASE(7) HYBRID_CONV_CASE(8) HYBRID_CONV_CASE(9) HYBRID_CONV_CASE(10)
      HYBRID_CONV_CASE(11) HYBRID_CONV_CASE(12) HYBRID_CONV_CASE(13) HYBRID_CONV_CASE(14) HYBRID_CONV_CASE(15)
      HYBRID_CONV_CASE(16)
#undef HYBRID_CONV_CASE
      default: break;  // d_conv <= 16 is checked when the model loads
    }
  }
}

// One state row (h, i) of N = 16 * Q values stays in registers for all the tokens:
//   s = fma(s, dA_t, B_t * (x_t dt_t));  y_t = reduce16(sum_q s_q C_q) + x_t D   (fma)
// Two rows at a time share the loads of B_t and C_t.
template <int Q>
FN void scan_rows2(const float* xbc, int64_t stride, int64_t Din, int64_t GN, int64_t col, const float* Bg,
                   float* s_row0, float* s_row1, float dskip, const float* dsp, const float* dA, float* y,
                   int64_t n_tokens, bool two) {
  __m512 s0[Q], s1[Q];
  for (int q = 0; q < Q; ++q) {
    s0[q] = _mm512_loadu_ps(s_row0 + 16 * q);
    s1[q] = two ? _mm512_loadu_ps(s_row1 + 16 * q) : _mm512_setzero_ps();
  }
  for (int64_t t = 0; t < n_tokens; ++t) {
    const float* xt = xbc + t * stride;
    const float* B = Bg + t * stride;
    const float* C = B + GN;
    const float x0 = xt[col], x1 = two ? xt[col + 1] : 0.0f;
    const __m512 da = _mm512_set1_ps(dA[t]);
    const __m512 xdt0 = _mm512_set1_ps(x0 * dsp[t]), xdt1 = _mm512_set1_ps(x1 * dsp[t]);
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    for (int q = 0; q < Q; ++q) {
      const __m512 b = _mm512_loadu_ps(B + 16 * q), c = _mm512_loadu_ps(C + 16 * q);
      s0[q] = _mm512_fmadd_ps(s0[q], da, _mm512_mul_ps(b, xdt0));
      s1[q] = _mm512_fmadd_ps(s1[q], da, _mm512_mul_ps(b, xdt1));
      acc0 = q == 0 ? _mm512_mul_ps(s0[q], c) : _mm512_fmadd_ps(s0[q], c, acc0);
      acc1 = q == 0 ? _mm512_mul_ps(s1[q], c) : _mm512_fmadd_ps(s1[q], c, acc1);
    }
    float* yt = y + t * Din + col;
    yt[0] = std::fma(x0, dskip, reduce512(acc0));
    if (two) yt[1] = std::fma(x1, dskip, reduce512(acc1));
  }
  for (int q = 0; q < Q; ++q) {
    _mm512_storeu_ps(s_row0 + 16 * q, s0[q]);
    if (two) _mm512_storeu_ps(s_row1 + 16 * q, s1[q]);
  }
}

void ssm_scan_avx512(const SsmDims& d, const float* xbc, int64_t xbc_stride, const float* dt, int64_t dt_stride,
                     const float* dt_bias, const float* a, const float* d_skip, float* state, float* y,
                     int64_t n_tokens, int64_t h_begin, int64_t h_end, float* tmp) {
  const int64_t N = d.d_state, G = d.n_group, P = d.head_dim(), Din = d.d_inner;
  const int64_t heads_per_group = d.n_head / G;
  float* dsp = tmp;
  float* dA = tmp + n_tokens;
  for (int64_t h = h_begin; h < h_end; ++h) {
    const int64_t g = h / heads_per_group;
    for (int64_t t = 0; t < n_tokens; ++t) {
      dsp[t] = softplus(dt[t * dt_stride + h] + dt_bias[h]);
      dA[t] = std::exp(dsp[t] * a[h]);
    }
    const float* Bg = xbc + Din + g * N;
    for (int64_t i = 0; i < P; i += 2) {
      const bool two = i + 1 < P;
      float* s0 = state + (h * P + i) * N;
      const int64_t col = h * P + i;
      switch (N / 16) {
#define HYBRID_SCAN_CASE(Q) \
  case Q: scan_rows2<Q>(xbc, xbc_stride, Din, G * N, col, Bg, s0, s0 + N, d_skip[h], dsp, dA, y, n_tokens, two); break;
        HYBRID_SCAN_CASE(1) HYBRID_SCAN_CASE(2) HYBRID_SCAN_CASE(4) HYBRID_SCAN_CASE(8) HYBRID_SCAN_CASE(16)
#undef HYBRID_SCAN_CASE
        default: break;  // ssm.cpp only calls this for N in {16, 32, 64, 128, 256}
      }
    }
  }
}

// ---- chunked scan (SSD): a register-tiled product of R rows by V vectors of 16 columns ----
// acc[r][v] += A[r][k] * B[k][16v..16v+15] for every k; the last vector is masked (m).
template <int V, int R>
FN void ssd_tile(int64_t K, const float* A, int64_t lda, int64_t ak, const float* B, int64_t ldb, float* O,
                 int64_t ldo, __mmask16 m, const float* rs) {
  __m512 acc[R][V];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 16
    for (int v = 0; v < V; ++v) acc[r][v] = _mm512_setzero_ps();
  for (int64_t k = 0; k < K; ++k) {
    const float* bk = B + k * ldb;
    __m512 b[V];
#pragma GCC unroll 16
    for (int v = 0; v < V - 1; ++v) b[v] = _mm512_loadu_ps(bk + 16 * v);
    b[V - 1] = _mm512_maskz_loadu_ps(m, bk + 16 * (V - 1));
    const float* a = A + k * ak;
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const __m512 av = _mm512_set1_ps(a[r * lda]);
#pragma GCC unroll 16
      for (int v = 0; v < V; ++v) acc[r][v] = _mm512_fmadd_ps(av, b[v], acc[r][v]);
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
    float* o = O + r * ldo;
    if (rs) {
      const __m512 sc = _mm512_set1_ps(rs[r]);
#pragma GCC unroll 16
      for (int v = 0; v < V - 1; ++v) acc[r][v] = _mm512_fmadd_ps(sc, _mm512_loadu_ps(o + 16 * v), acc[r][v]);
      acc[r][V - 1] = _mm512_fmadd_ps(sc, _mm512_maskz_loadu_ps(m, o + 16 * (V - 1)), acc[r][V - 1]);
    }
#pragma GCC unroll 16
    for (int v = 0; v < V - 1; ++v) _mm512_storeu_ps(o + 16 * v, acc[r][v]);
    _mm512_mask_storeu_ps(o + 16 * (V - 1), m, acc[r][V - 1]);
  }
}

// Rows per tile for V vectors: about 20-24 accumulators of the 32 registers.
template <int V>
constexpr int ssd_rows() {
  return V == 1 ? 12 : V == 2 ? 10 : V == 3 ? 7 : V == 4 ? 6 : V <= 6 ? 4 : 3;
}

// The last rem (< R) rows, with a tile of exactly rem rows.
template <int V, int R>
FN void ssd_tail(int rem, int64_t K, const float* A, int64_t lda, int64_t ak, const float* B, int64_t ldb, float* O,
                 int64_t ldo, __mmask16 m, const float* rs) {
  if constexpr (R > 1) {
    if (rem == R - 1) ssd_tile<V, R - 1>(K, A, lda, ak, B, ldb, O, ldo, m, rs);
    else ssd_tail<V, R - 1>(rem, K, A, lda, ak, B, ldb, O, ldo, m, rs);
  }
}

// Rows [r_begin, rows) of one column slice of V vectors starting at B / O.
template <int V>
FN void ssd_slice(int64_t r_begin, int64_t rows, int64_t K, const float* A, int64_t lda, int64_t ak, const float* B,
                  int64_t ldb, float* O, int64_t ldo, __mmask16 m, const float* rs, SsdTri tri) {
  constexpr int R = ssd_rows<V>();
  int64_t r0 = r_begin;
  auto k_for = [&](int64_t r_end) { return tri == SsdTri::ZeroAboveDiag ? std::min(K, r_end) : K; };
  for (; r0 + R <= rows; r0 += R)
    ssd_tile<V, R>(k_for(r0 + R), A + r0 * lda, lda, ak, B, ldb, O + r0 * ldo, ldo, m, rs ? rs + r0 : nullptr);
  if (r0 < rows)
    ssd_tail<V, R>(static_cast<int>(rows - r0), k_for(rows), A + r0 * lda, lda, ak, B, ldb, O + r0 * ldo, ldo, m,
                   rs ? rs + r0 : nullptr);
}

void ssd_gemm_avx512(int64_t rows, int64_t cols, int64_t K, const float* A, int64_t lda, int64_t ak, const float* B,
                     int64_t ldb, float* O, int64_t ldo, const float* row_scale, SsdTri tri) {
  for (int64_t c0 = 0; c0 < cols; c0 += 128) {
    const int64_t w = std::min<int64_t>(128, cols - c0);
    const __mmask16 m = tail_mask(w - 16 * ((w - 1) / 16));
    // OnlyLower: rows above the slice's first column need none of it
    const int64_t r_begin = tri == SsdTri::OnlyLower ? std::min(rows, c0) : 0;
    switch ((w + 15) / 16) {
#define HYBRID_SSD_CASE(V) \
  case V: ssd_slice<V>(r_begin, rows, K, A, lda, ak, B + c0, ldb, O + c0, ldo, m, row_scale, tri); break;
      HYBRID_SSD_CASE(1) HYBRID_SSD_CASE(2) HYBRID_SSD_CASE(3) HYBRID_SSD_CASE(4)
      HYBRID_SSD_CASE(5) HYBRID_SSD_CASE(6) HYBRID_SSD_CASE(7) HYBRID_SSD_CASE(8)
#undef HYBRID_SSD_CASE
      default: break;
    }
  }
}

FN void ssd_mask_avx512(int64_t n, const float* cb, int64_t ldcb, const double* cs, const float* dsp, float dskip,
                        float* m, int64_t ldm) {
  for (int64_t t = 0; t < n; ++t) {
    const __m512d ct = _mm512_set1_pd(cs[t]);
    const float* cbt = cb + t * ldcb;
    float* mt = m + t * ldm;
    for (int64_t s0 = 0; s0 < n; s0 += 16) {
      if (s0 > t) {
        _mm512_mask_storeu_ps(mt + s0, tail_mask(n - s0), _mm512_setzero_ps());
        continue;
      }
      const __mmask16 k = tail_mask(t + 1 - s0);  // s <= t
      // lanes past t: difference 0 (exp 1, times the zero-loaded cb), never exp of a large number
      const __mmask8 k0 = static_cast<__mmask8>(k), k1 = static_cast<__mmask8>(k >> 8);
      const __m256 lo = _mm512_cvtpd_ps(_mm512_maskz_sub_pd(k0, ct, _mm512_maskz_loadu_pd(k0, cs + s0)));
      const __m256 hi = _mm512_cvtpd_ps(_mm512_maskz_sub_pd(k1, ct, _mm512_maskz_loadu_pd(k1, cs + s0 + 8)));
      const __m512 diff = _mm512_castpd_ps(
          _mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(lo)), _mm256_castps_pd(hi), 1));
      const __m512 v = _mm512_mul_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(k, cbt + s0), exp512(diff)),
                                     _mm512_maskz_loadu_ps(k, dsp + s0));
      _mm512_mask_storeu_ps(mt + s0, tail_mask(n - s0), v);  // zeros past t
    }
    mt[t] += dskip;
  }
}

// y = y * silu(z), then RMSNorm over each group of d_inner / n_group values (sum of squares in double, as
// ggml_rms_norm), times the norm weight.
FN void ssm_gate_norm_avx512(const SsmDims& d, float* y, const float* z, int64_t z_stride, const float* norm_w,
                             float eps, int64_t t_begin, int64_t t_end) {
  const int64_t Din = d.d_inner, gs = Din / d.n_group;
  for (int64_t t = t_begin; t < t_end; ++t) {
    float* yt = y + t * Din;
    const float* zt = z + t * z_stride;
    for (int64_t g = 0; g < d.n_group; ++g) {
      float* yg = yt + g * gs;
      const float* zg = zt + g * gs;
      __m512d ss0 = _mm512_setzero_pd(), ss1 = _mm512_setzero_pd();
      for (int64_t i = 0; i < gs; i += 16) {
        const __mmask16 m = tail_mask(gs - i);
        const __m512 v = _mm512_mul_ps(silu512(_mm512_maskz_loadu_ps(m, zg + i)), _mm512_maskz_loadu_ps(m, yg + i));
        _mm512_mask_storeu_ps(yg + i, m, v);
        const __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
        const __m512d hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
        ss0 = _mm512_fmadd_pd(lo, lo, ss0);
        ss1 = _mm512_fmadd_pd(hi, hi, ss1);
      }
      const double sum = _mm512_reduce_add_pd(_mm512_add_pd(ss0, ss1));
      const float mean = static_cast<float>(sum / gs);
      const __m512 scale = _mm512_set1_ps(1.0f / std::sqrt(mean + eps));
      for (int64_t i = 0; i < gs; i += 16) {
        const __mmask16 m = tail_mask(gs - i);
        const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, yg + i), scale);
        _mm512_mask_storeu_ps(yg + i, m, _mm512_mul_ps(v, _mm512_maskz_loadu_ps(m, norm_w + g * gs + i)));
      }
    }
  }
}

#else

bool ssm_avx512() { return false; }
void ssm_conv_avx512(const SsmDims&, float*, int64_t, int64_t, const float*, const float*, float*, int64_t, int64_t) {}
void ssm_scan_avx512(const SsmDims&, const float*, int64_t, const float*, int64_t, const float*, const float*,
                     const float*, float*, float*, int64_t, int64_t, int64_t, float*) {}
void ssm_gate_norm_avx512(const SsmDims&, float*, const float*, int64_t, const float*, float, int64_t, int64_t) {}
void ssd_gemm_avx512(int64_t, int64_t, int64_t, const float*, int64_t, int64_t, const float*, int64_t, float*, int64_t,
                     const float*, SsdTri) {}
void ssd_mask_avx512(int64_t, const float*, int64_t, const double*, const float*, float, float*, int64_t) {}

#endif

}  // namespace hybrid::ops::detail
