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

// Tokens [t_begin, t_end) of ssm_gate_norm.
void ssm_gate_norm_avx512(const SsmDims& d, float* y, const float* z, int64_t z_stride, const float* norm_w, float eps,
                          int64_t t_begin, int64_t t_end);

}  // namespace hybrid::ops::detail
