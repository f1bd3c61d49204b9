// Internal to ops/: the SIMD bodies of ssm.cpp's ops, per instruction set, each over a slice of channels
// or heads (ssm.cpp splits the work over threads). Same semantics as the portable loops in ssm.cpp.
#pragma once
#include <cstdint>

#include "ops/ssm.h"

namespace hybrid::ops::detail {

// True when this CPU runs the AVX-512 bodies below.
bool ssm_avx512();

// Channels [c_begin, c_end) of ssm_conv.
void ssm_conv_avx512(const SsmDims& d, float* xbc, int64_t n_tokens, int64_t stride, const float* weight,
                     const float* bias, float* conv_state, int64_t c_begin, int64_t c_end);

// Heads [h_begin, h_end) of ssm_scan; `tmp` holds 2 * n_tokens floats.
void ssm_scan_avx512(const SsmDims& d, const float* xbc, int64_t xbc_stride, const float* dt, int64_t dt_stride,
                     const float* dt_bias, const float* a, const float* d_skip, float* state, float* y,
                     int64_t n_tokens, int64_t h_begin, int64_t h_end, float* tmp);

// The small matrix product of the chunked scan (ssm_scan_chunked), for r < rows and c < cols:
//   O[r*ldo + c] = (row_scale ? row_scale[r] * O[r*ldo + c] : 0) + sum_k A[r*lda + k*ak] * B[k*ldb + c]
// tri: None; ZeroAboveDiag: A[r][k] is 0 for k > r (those k may be skipped); OnlyLower: only the entries
// c <= r are wanted (others may or may not be written).
enum class SsdTri { None, ZeroAboveDiag, OnlyLower };
void ssd_gemm_avx512(int64_t rows, int64_t cols, int64_t K, const float* A, int64_t lda, int64_t ak, const float* B,
                     int64_t ldb, float* O, int64_t ldo, const float* row_scale, SsdTri tri);
// The decay mask of one head and chunk of n tokens: for t < n, s <= t
//   m[t*ldm + s] = cb[t*ldcb + s] * exp(float(cs[t] - cs[s])) * dsp[s]   (+ dskip where s == t),
// m[t*ldm + s] = 0 for t < s < n.
void ssd_mask_avx512(int64_t n, const float* cb, int64_t ldcb, const double* cs, const float* dsp, float dskip,
                     float* m, int64_t ldm);

// The same two for CPUs with AVX2 and FMA but not AVX-512 (ssm_avx2.cpp).
bool ssm_avx2();
void ssd_gemm_avx2(int64_t rows, int64_t cols, int64_t K, const float* A, int64_t lda, int64_t ak, const float* B,
                   int64_t ldb, float* O, int64_t ldo, const float* row_scale, SsdTri tri);
void ssd_mask_avx2(int64_t n, const float* cb, int64_t ldcb, const double* cs, const float* dsp, float dskip,
                   float* m, int64_t ldm);

// Tokens [t_begin, t_end) of ssm_gate_norm.
void ssm_gate_norm_avx512(const SsmDims& d, float* y, const float* z, int64_t z_stride, const float* norm_w, float eps,
                          int64_t t_begin, int64_t t_end);

}  // namespace hybrid::ops::detail
