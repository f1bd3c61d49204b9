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

enum class SsdIsa { Best, Avx2, Portable };

// The two forms behind ssm_scan (same arguments). Sequential: the recurrence token by token, the state in
// registers; a token's result does not depend on how tokens were batched (decode, short prefills).
// Chunked: the state-space-duality form of the Mamba-2 paper. Per group and chunk of `chunk` tokens
// CB = C·Bᵀ (masked to s <= t), per head M = CB ∘ exp(cs_t - cs_s) · dt_s (cs: cumulative dt·A in the
// chunk), Y = exp(cs_t)·(C·S) + M·X and S' = exp(cs_last)·S + Bᵀ·(X ∘ exp(cs_last - cs_s) dt_s): small
// dense matrix products, parallel over heads. Equals the sequential scan within float rounding (not bit
// for bit). `isa` caps the instruction set (tests and benchmarks of each path; Best: what the CPU has).
void ssm_scan_sequential(const SsmDims& d, const float* xbc, int64_t xbc_stride, const float* dt, int64_t dt_stride,
                         const float* dt_bias, const float* a, const float* d_skip, float* state, float* y,
                         int64_t n_tokens, cpu::ThreadPool& pool);
void ssm_scan_chunked(const SsmDims& d, const float* xbc, int64_t xbc_stride, const float* dt, int64_t dt_stride,
                      const float* dt_bias, const float* a, const float* d_skip, float* state, float* y,
                      int64_t n_tokens, cpu::ThreadPool& pool, int64_t chunk, SsdIsa isa = SsdIsa::Best);
// ssm_scan runs the chunked form from this many tokens on (chunks of kSsdChunk), below it the sequential:
// 32 with AVX-512 or AVX2, never on other CPUs (the environment variable HYBRID_SSD_MIN_TOKENS overrides
// it, read once).
int64_t ssm_scan_chunked_min_tokens();
inline constexpr int64_t kSsdChunk = 64;

// The gate and norm after the scan (llama.cpp: ggml_swiglu_split(z, y) then the grouped RMSNorm):
// y[t] = y[t] * silu(z[t]), then each of the n_group contiguous groups of d_inner / n_group values is
// RMS-normalised (eps) and multiplied by norm_w (the ssm_norm weight, [d_inner]). In place on y[t][D_in].
void ssm_gate_norm(const SsmDims& d, float* y, int64_t n_tokens, const float* z, int64_t z_stride, const float* norm_w,
                   float eps, cpu::ThreadPool& pool);

}  // namespace hybrid::ops
