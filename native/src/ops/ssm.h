// The Mamba-2 ops: causal depthwise conv1d with its rolling state, and the selective state update
// (recurrent form), then the gated group norm. Semantics of llama.cpp's ggml_ssm_conv / ggml_ssm_scan (ggml-cpu ops.cpp) for the
// scalar-A Mamba-2 case; formulas in shared/docs/nemotron-h-gguf.md.
#pragma once
#include <cstdint>

#include "backend/cpu/thread_pool.h"

namespace hybrid::ops {

struct SsmDims {
  int64_t d_conv;    // K
  int64_t channels;  // C = d_inner + 2 * n_group * d_state
  int64_t d_inner;
  int64_t d_state;   // N
  int64_t n_head;    // H
  int64_t n_group;   // G
  int64_t head_dim() const { return d_inner / n_head; }
};

// Conv over n_tokens inputs xbc[t][C] (pre-conv), in place: xbc[t][c] becomes silu(conv + bias).
// conv_state is [C][K-1] (per channel the K-1 previous inputs, oldest first), updated to the last K-1.
void ssm_conv(const SsmDims& d, float* xbc, int64_t n_tokens, int64_t stride, const float* weight /*[C][K]*/,
              const float* bias /*[C]*/, float* conv_state, cpu::ThreadPool& pool);

// Selective scan over n_tokens: for token t, x = xbc[t][0:D_in], B = xbc[t][D_in:D_in+GN], C = next GN;
// dt_raw = dt[t][H] (before the bias). state is [H][p][N]. Writes y[t][D_in] = scan output + x * D.
void ssm_scan(const SsmDims& d, const float* xbc, int64_t xbc_stride, const float* dt, int64_t dt_stride,
              const float* dt_bias, const float* a /*[H], = -exp(A_log)*/, const float* d_skip /*[H]*/,
              float* state, float* y, int64_t n_tokens, cpu::ThreadPool& pool);

// The gate and norm after the scan (llama.cpp: ggml_swiglu_split(z, y) then the grouped RMSNorm):
// y[t] = y[t] * silu(z[t]), then each of the n_group contiguous groups of d_inner / n_group values is
// RMS-normalised (eps) and multiplied by norm_w (the ssm_norm weight, [d_inner]). In place on y[t][D_in].
void ssm_gate_norm(const SsmDims& d, float* y, int64_t n_tokens, const float* z, int64_t z_stride, const float* norm_w,
                   float eps, cpu::ThreadPool& pool);

}  // namespace hybrid::ops
