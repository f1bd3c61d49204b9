// The CUDA engine's own kernels (everything but the matmul, see cuda_matmul.h), as host launchers on a
// stream. Semantics of the CPU ops in ops/ (elementwise, ssm, attention, rope); f32 throughout. Every
// launcher checks its launch. Pointers are device pointers; n_past arguments point to device memory so
// that a captured CUDA graph stays valid as the sequence grows.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace hybrid::cuda::kernels {

constexpr int kMaxSsmState = 256;   // d_state handled by ssm_scan (8 values per lane)
constexpr int kMaxHeadDim = 256;    // attention head_dim (8 values per lane)
constexpr int kMaxConv = 16;        // ssm conv kernel width

// y[r] = (x[r] / sqrt(mean(x[r]^2) + eps)) * w, rows of n values.
void rms_norm_rows(const float* x, const float* w, int64_t rows, int64_t n, float eps, float* y, cudaStream_t s);
// x[i] *= a
void scale(float* x, int64_t n, float a, cudaStream_t s);
// h[i] += (scale == 0 ? d[i] : d[i] * scale)   (the residual add, with granite's µP residual scale)
void residual_add(float* h, const float* d, int64_t n, float scale, cudaStream_t s);
// y[r][i] += b[i]
void add_bias_rows(float* y, const float* b, int64_t rows, int64_t dim, cudaStream_t s);
// x[r][i] = max(x[r][i] + (b ? b[i] : 0), 0)^2
void bias_relu_sqr(float* x, const float* b, int64_t rows, int64_t dim, cudaStream_t s);
// g[i] = silu(g[i]) * u[i]
void swiglu(float* g, const float* u, int64_t n, cudaStream_t s);

// Mamba-2 causal depthwise conv (ops::ssm_conv): xbc[t * stride + c] for t < n, c < C, in place ->
// silu(conv + bias); conv_state [C][K-1] updated to the last K-1 inputs. n == 1 (or tmp null, or
// HYBRID_CUDA_CONV=seq): one thread per channel, sequential over the tokens. Else parallel over (token,
// channel) into tmp (n * C floats, device), then the state update and a copy back into xbc (same bits).
void ssm_conv(float* xbc, int64_t n, int64_t stride, int64_t C, int64_t K, const float* weight, const float* bias,
              float* conv_state, float* tmp, cudaStream_t s);
// Selective scan (ops::ssm_scan), sequential over the n tokens, one warp per (head, head_dim row). n > 1:
// the staged kernel (a block per head stages chunks of steps in shared memory); n == 1: the plain one.
// HYBRID_CUDA_SCAN=seq / =staged force one kernel for every n.
void ssm_scan(const float* xbc, int64_t xbc_stride, const float* dt, int64_t dt_stride, const float* dt_bias,
              const float* a, const float* d_skip, float* state, float* y, int64_t n, int64_t H, int64_t P, int64_t N,
              int64_t G, cudaStream_t s);
// y[t] = y[t] * silu(z[t]), then RMSNorm per group of Din / G values times w (ops::ssm_gate_norm).
void ssm_gate_norm(float* y, int64_t n, const float* z, int64_t z_stride, const float* w, int64_t Din, int64_t G,
                   float eps, cudaStream_t s);

struct RopeArgs {
  bool on = false;
  int64_t n_rot = 0;
  float theta_scale = 1.0f;  // freq_base^(-2 / n_rot), computed on the host as ops::rope_norm does
  float freq_scale = 1.0f;
  float attn_factor = 1.0f;
};
// For t < n, heads < nh: v = src[t][h][:] + bias; RoPE (NORM mode, position *n_past + t) when rope.on;
// written to dst row (dst_at_n_past ? *n_past + t : t) (row stride nh * hd). src may equal dst.
void bias_rope_store(const float* src, int64_t n, int64_t nh, int64_t hd, const float* bias, const RopeArgs& rope,
                     const int32_t* n_past, float* dst, bool dst_at_n_past, cudaStream_t s);

// Causal GQA attention of n query tokens at positions *n_past + t over the caches (rows 0..*n_past + t),
// split over `splits` chunks of keys per (token, head) with a combine pass. ws: n * nh * splits * (hd + 2)
// floats. out[t][nh * hd].
void attention(const float* q, const float* k_cache, const float* v_cache, int64_t n, const int32_t* n_past, int64_t nh,
               int64_t nkv, int64_t hd, float scale, int splits, float* ws, float* out, cudaStream_t s);

// *out = argmax of x[n] (the first of equal maxima, as Sampler::argmax).
void argmax(const float* x, int64_t n, int32_t* out, cudaStream_t s);
// *p = v
void set_i32(int32_t* p, int32_t v, cudaStream_t s);

}  // namespace hybrid::cuda::kernels
