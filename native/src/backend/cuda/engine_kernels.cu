// The CUDA engine's kernels (see engine_kernels.cuh). Simple, obviously correct forms first: grid-stride
// loops for elementwise work, one block per row for norms, one warp per (head, row) for the scan, a
// split-K online-softmax attention with a combine pass.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "backend/cuda/cuda_check.cuh"
#include "backend/cuda/engine_kernels.cuh"

namespace hybrid::cuda::kernels {

namespace {

constexpr int kWarp = 32;

__device__ __forceinline__ float silu_f(float x) { return x / (1.0f + expf(-x)); }
__device__ __forceinline__ float softplus_f(float x) { return x > 20.0f ? x : log1pf(expf(x)); }

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Sum over the block (blockDim.x a multiple of 32, <= 1024); every thread gets the result.
__device__ float block_sum(float v) {
  __shared__ float part[32];
  __shared__ float total;
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp, nw = (blockDim.x + kWarp - 1) / kWarp;
  v = warp_sum(v);
  __syncthreads();  // part[] may still be read by a previous call
  if (lane == 0) part[warp] = v;
  __syncthreads();
  if (warp == 0) {
    float s = lane < nw ? part[lane] : 0.0f;
    s = warp_sum(s);
    if (lane == 0) total = s;
  }
  __syncthreads();
  return total;
}

unsigned grid_for(int64_t n, int threads) {
  const int64_t b = (n + threads - 1) / threads;
  return static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>(b, 65535)));
}

void check_positive(int64_t v, const char* what) {
  if (v <= 0) throw std::runtime_error(std::string("CUDA kernel launch with ") + what + " <= 0");
}

// ---- elementwise ----

__global__ void rms_norm_kernel(const float* __restrict__ x, const float* __restrict__ w, int64_t n, float eps,
                                float* __restrict__ y) {
  const int64_t r = blockIdx.x;
  const float* xr = x + r * n;
  float* yr = y + r * n;
  float s = 0.0f;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += xr[i] * xr[i];
  s = block_sum(s);
  const float mean = s / static_cast<float>(n);
  const float sc = 1.0f / sqrtf(mean + eps);
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) yr[i] = (xr[i] * sc) * w[i];
}

__global__ void scale_kernel(float* x, int64_t n, float a) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    x[i] *= a;
}

__global__ void residual_add_kernel(float* __restrict__ h, const float* __restrict__ d, int64_t n, float scale) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    h[i] = h[i] + (scale == 0.0f ? d[i] : __fmul_rn(d[i], scale));
}

__global__ void add_bias_kernel(float* __restrict__ y, const float* __restrict__ b, int64_t total, int64_t dim) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x)
    y[i] += b[i % dim];
}

__global__ void bias_relu_sqr_kernel(float* __restrict__ x, const float* __restrict__ b, int64_t total, int64_t dim) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    float v = x[i];
    if (b) v += b[i % dim];
    const float r = v > 0.0f ? v : 0.0f;
    x[i] = r * r;
  }
}

__global__ void swiglu_kernel(float* __restrict__ g, const float* __restrict__ u, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    g[i] = silu_f(g[i]) * u[i];
}

// ---- Mamba-2 ----

__global__ void ssm_conv_kernel(float* __restrict__ xbc, int64_t n, int64_t stride, int64_t C, int K,
                                const float* __restrict__ weight, const float* __restrict__ bias,
                                float* __restrict__ state) {
  const int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (c >= C) return;
  float window[kMaxConv];
  float* st = state + c * (K - 1);
  const float* wc = weight + c * K;
  for (int k = 0; k < K - 1; ++k) window[k] = st[k];
  const float bc = bias[c];
  for (int64_t t = 0; t < n; ++t) {
    float* v = xbc + t * stride + c;
    window[K - 1] = *v;
    float acc = window[0] * wc[0];
    for (int k = 1; k < K; ++k) acc = fmaf(window[k], wc[k], acc);
    for (int k = 0; k < K - 1; ++k) window[k] = window[k + 1];
    *v = silu_f(acc + bc);
  }
  for (int k = 0; k < K - 1; ++k) st[k] = window[k];
}

// The same conv, parallel over (token, channel) for a batch (default for n > 1; HYBRID_CUDA_CONV=seq selects
// ssm_conv_kernel). Reads the pre-conv inputs xbc and the old state (input at position j < 0 is
// state[c][K-1+j]), writes silu(conv + bias) to out[t * C + c]; the products are summed in the order of
// ssm_conv_kernel, so the results are the same bits.
__global__ void ssm_conv_par_kernel(const float* __restrict__ xbc, int64_t n, int64_t stride, int64_t C, int K,
                                    const float* __restrict__ weight, const float* __restrict__ bias,
                                    const float* __restrict__ state, float* __restrict__ out) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n * C; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t t = i / C, c = i % C;
    const float* st = state + c * (K - 1);
    const float* wc = weight + c * K;
    float acc = 0.0f;
    for (int k = 0; k < K; ++k) {
      const int64_t j = t - (K - 1) + k;  // input position
      const float v = j >= 0 ? xbc[j * stride + c] : st[(K - 1) + j];
      acc = k == 0 ? v * wc[0] : fmaf(v, wc[k], acc);
    }
    out[i] = silu_f(acc + bias[c]);
  }
}

// Conv state after n inputs: the last K-1 of [old state (K-1) | inputs (n)], per channel. Runs before the
// outputs are copied over xbc. In place: entry k reads old entry n + k > k, never one already rewritten.
__global__ void ssm_conv_state_kernel(const float* __restrict__ xbc, int64_t n, int64_t stride, int64_t C, int K,
                                      float* __restrict__ state) {
  const int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (c >= C) return;
  float* st = state + c * (K - 1);
  for (int k = 0; k < K - 1; ++k) {
    const int64_t j = n + k;  // position in the concatenation
    st[k] = j < K - 1 ? st[j] : xbc[(j - (K - 1)) * stride + c];
  }
}

// xbc[t * stride + c] = src[t * C + c]
__global__ void copy_rows_kernel(const float* __restrict__ src, int64_t n, int64_t C, int64_t stride,
                                 float* __restrict__ dst) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n * C; i += int64_t(gridDim.x) * blockDim.x)
    dst[(i / C) * stride + (i % C)] = src[i];
}

constexpr int kScanWarps = 4;
constexpr int kScanPerLane = kMaxSsmState / kWarp;  // 8

__global__ void ssm_scan_kernel(const float* __restrict__ xbc, int64_t xbc_stride, const float* __restrict__ dt,
                                int64_t dt_stride, const float* __restrict__ dt_bias, const float* __restrict__ a,
                                const float* __restrict__ d_skip, float* __restrict__ state, float* __restrict__ y,
                                int64_t n, int64_t H, int64_t P, int64_t N, int64_t G) {
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  const int64_t pair = blockIdx.x * int64_t(kScanWarps) + warp;  // h * P + i
  if (pair >= H * P) return;  // whole warp leaves together
  const int64_t h = pair / P, i = pair % P;
  const int64_t Din = H * P, g = h / (H / G);
  float* s = state + pair * N;
  float reg[kScanPerLane];
#pragma unroll
  for (int k = 0; k < kScanPerLane; ++k) {
    const int64_t nn = lane + k * kWarp;
    reg[k] = nn < N ? s[nn] : 0.0f;
  }
  const float bias = dt_bias[h], ah = a[h], dh = d_skip[h];
  for (int64_t t = 0; t < n; ++t) {
    const float* xt = xbc + t * xbc_stride;
    const float* Bg = xt + Din + g * N;
    const float* Cg = xt + Din + G * N + g * N;
    const float dt_sp = softplus_f(dt[t * dt_stride + h] + bias);
    const float dA = expf(dt_sp * ah);
    const float x = xt[h * P + i];
    const float x_dt = x * dt_sp;
    float sum = 0.0f;
#pragma unroll
    for (int k = 0; k < kScanPerLane; ++k) {
      const int64_t nn = lane + k * kWarp;
      if (nn < N) {
        const float v = reg[k] * dA + Bg[nn] * x_dt;
        reg[k] = v;
        sum += v * Cg[nn];
      }
    }
    sum = warp_sum(sum);
    if (lane == 0) y[t * Din + h * P + i] = sum + x * dh;
  }
#pragma unroll
  for (int k = 0; k < kScanPerLane; ++k) {
    const int64_t nn = lane + k * kWarp;
    if (nn < N) s[nn] = reg[k];
  }
}

// The same recurrence, the default for batches (n > 1; HYBRID_CUDA_SCAN=seq selects ssm_scan_kernel): one
// block per (head, 8 head rows), one warp per row as above; the block stages a chunk of kStagedT time steps
// (B and C of the head's group, softplus(dt), exp(dt*A), the 8 rows' x) in shared memory with coalesced
// loads, then each warp runs the chunk's steps from shared memory. Same arithmetic per step as ssm_scan_kernel.
constexpr int kStagedWarps = 8;
constexpr int kStagedT = 16;  // 2 x 16 x kMaxSsmState(256) floats = 32 KiB of shared memory

__global__ void __launch_bounds__(kStagedWarps * kWarp)
    ssm_scan_staged_kernel(const float* __restrict__ xbc, int64_t xbc_stride, const float* __restrict__ dt,
                           int64_t dt_stride, const float* __restrict__ dt_bias, const float* __restrict__ a,
                           const float* __restrict__ d_skip, float* __restrict__ state, float* __restrict__ y,
                           int64_t n, int64_t H, int64_t P, int64_t N, int64_t G) {
  __shared__ float sB[kStagedT][kMaxSsmState];
  __shared__ float sC[kStagedT][kMaxSsmState];
  __shared__ float sdt[kStagedT], sdA[kStagedT];
  __shared__ float sx[kStagedT][kStagedWarps];
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  const int64_t h = blockIdx.x;
  const int64_t i = static_cast<int64_t>(blockIdx.y) * kStagedWarps + warp;
  const bool active = i < P;  // the same for the whole warp
  const int64_t Din = H * P, g = h / (H / G);
  float* s = state + (h * P + (active ? i : 0)) * N;
  float reg[kScanPerLane];
#pragma unroll
  for (int k = 0; k < kScanPerLane; ++k) {
    const int64_t nn = lane + k * kWarp;
    reg[k] = (active && nn < N) ? s[nn] : 0.0f;
  }
  const float bias = dt_bias[h], ah = a[h], dh = d_skip[h];
  for (int64_t t0 = 0; t0 < n; t0 += kStagedT) {
    const int T = static_cast<int>(min(static_cast<int64_t>(kStagedT), n - t0));
    __syncthreads();  // every warp is done with the previous chunk
    for (int e = threadIdx.x; e < T * static_cast<int>(N); e += blockDim.x) {
      const int tt = e / static_cast<int>(N), nn = e % static_cast<int>(N);
      const float* xt = xbc + (t0 + tt) * xbc_stride;
      sB[tt][nn] = xt[Din + g * N + nn];
      sC[tt][nn] = xt[Din + G * N + g * N + nn];
    }
    for (int tt = threadIdx.x; tt < T; tt += blockDim.x) {
      const float dsp = softplus_f(dt[(t0 + tt) * dt_stride + h] + bias);
      sdt[tt] = dsp;
      sdA[tt] = expf(dsp * ah);
    }
    for (int e = threadIdx.x; e < T * kStagedWarps; e += blockDim.x) {
      const int tt = e / kStagedWarps, w = e % kStagedWarps;
      const int64_t ii = static_cast<int64_t>(blockIdx.y) * kStagedWarps + w;
      sx[tt][w] = ii < P ? xbc[(t0 + tt) * xbc_stride + h * P + ii] : 0.0f;
    }
    __syncthreads();
    if (active) {
      for (int tt = 0; tt < T; ++tt) {
        const float dt_sp = sdt[tt], dA = sdA[tt], x = sx[tt][warp];
        const float x_dt = x * dt_sp;
        float sum = 0.0f;
#pragma unroll
        for (int k = 0; k < kScanPerLane; ++k) {
          const int nn = lane + k * kWarp;
          if (nn < N) {
            const float v = reg[k] * dA + sB[tt][nn] * x_dt;
            reg[k] = v;
            sum += v * sC[tt][nn];
          }
        }
        sum = warp_sum(sum);
        if (lane == 0) y[(t0 + tt) * Din + h * P + i] = sum + x * dh;
      }
    }
  }
  if (active) {
#pragma unroll
    for (int k = 0; k < kScanPerLane; ++k) {
      const int64_t nn = lane + k * kWarp;
      if (nn < N) s[nn] = reg[k];
    }
  }
}

__global__ void ssm_gate_norm_kernel(float* __restrict__ y, const float* __restrict__ z, int64_t z_stride,
                                     const float* __restrict__ w, int64_t Din, int64_t gs, float eps) {
  const int64_t g = blockIdx.x, t = blockIdx.y;
  float* yt = y + t * Din + g * gs;
  const float* zt = z + t * z_stride + g * gs;
  const float* wg = w + g * gs;
  float s = 0.0f;
  for (int64_t i = threadIdx.x; i < gs; i += blockDim.x) {
    const float v = silu_f(zt[i]) * yt[i];
    yt[i] = v;
    s += v * v;
  }
  s = block_sum(s);  // also orders the writes above before the reads below
  const float mean = s / static_cast<float>(gs);
  const float sc = 1.0f / sqrtf(mean + eps);
  for (int64_t i = threadIdx.x; i < gs; i += blockDim.x) yt[i] = (yt[i] * sc) * wg[i];
}

// ---- attention ----

__global__ void bias_rope_store_kernel(const float* src, int64_t n, int64_t nh, int64_t hd, const float* bias,
                                       RopeArgs rope, const int32_t* n_past, float* dst, bool dst_at_n_past) {
  const int64_t half = hd / 2, total = n * nh * half;
  const int64_t pos0 = *n_past;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t p = e % half, th = e / half, h = th % nh, t = th / nh;
    const int64_t col = h * hd + 2 * p;
    const float* s = src + t * nh * hd + col;
    float x0 = s[0], x1 = s[1];
    if (bias) {
      x0 += bias[col];
      x1 += bias[col + 1];
    }
    if (rope.on && 2 * p < rope.n_rot) {
      float theta = static_cast<float>(pos0 + t);
      for (int64_t k = 0; k < p; ++k) theta *= rope.theta_scale;
      const float ang = rope.freq_scale * theta;
      const float c = cosf(ang) * rope.attn_factor, sn = sinf(ang) * rope.attn_factor;
      const float r0 = x0 * c - x1 * sn, r1 = x0 * sn + x1 * c;
      x0 = r0;
      x1 = r1;
    }
    float* d = dst + (dst_at_n_past ? pos0 + t : t) * nh * hd + col;
    d[0] = x0;
    d[1] = x1;
  }
}

constexpr int kAttnWarps = 4;
constexpr int kAttnPerLane = kMaxHeadDim / kWarp;  // 8

__global__ void attn_partial_kernel(const float* __restrict__ q, const float* __restrict__ kc,
                                    const float* __restrict__ vc, const int32_t* n_past, int64_t nh, int64_t nkv,
                                    int64_t hd, float scale, int splits, float* __restrict__ ws) {
  const int split = blockIdx.x;
  const int64_t h = blockIdx.y, t = blockIdx.z;
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  const int64_t len = static_cast<int64_t>(*n_past) + t + 1;
  const int64_t chunk = (len + splits - 1) / splits;
  const int64_t j0 = split * chunk, j1 = min(len, j0 + chunk);
  const int64_t kvh = h / (nh / nkv), kv_stride = nkv * hd;
  const float* qh = q + t * nh * hd + h * hd;
  float qr[kAttnPerLane], acc[kAttnPerLane];
#pragma unroll
  for (int k = 0; k < kAttnPerLane; ++k) {
    const int64_t d = lane + k * kWarp;
    qr[k] = d < hd ? qh[d] : 0.0f;
    acc[k] = 0.0f;
  }
  float m = -INFINITY, l = 0.0f;
  for (int64_t j = j0 + warp; j < j1; j += kAttnWarps) {
    const float* kj = kc + j * kv_stride + kvh * hd;
    const float* vj = vc + j * kv_stride + kvh * hd;
    float dot = 0.0f;
#pragma unroll
    for (int k = 0; k < kAttnPerLane; ++k) {
      const int64_t d = lane + k * kWarp;
      if (d < hd) dot += qr[k] * kj[d];
    }
    const float sc = warp_sum(dot) * scale;
    const float m_new = fmaxf(m, sc);
    const float corr = expf(m - m_new);
    const float p = expf(sc - m_new);
    l = l * corr + p;
#pragma unroll
    for (int k = 0; k < kAttnPerLane; ++k) {
      const int64_t d = lane + k * kWarp;
      if (d < hd) acc[k] = acc[k] * corr + p * vj[d];
    }
    m = m_new;
  }
  __shared__ float sm[kAttnWarps], sl[kAttnWarps];
  __shared__ float sacc[kAttnWarps][kMaxHeadDim];
  if (lane == 0) {
    sm[warp] = m;
    sl[warp] = l;
  }
#pragma unroll
  for (int k = 0; k < kAttnPerLane; ++k) {
    const int64_t d = lane + k * kWarp;
    if (d < hd) sacc[warp][d] = acc[k];
  }
  __syncthreads();
  float M = -INFINITY;
  for (int w = 0; w < kAttnWarps; ++w) M = fmaxf(M, sm[w]);
  float* dst = ws + ((t * nh + h) * splits + split) * (hd + 2);
  if (threadIdx.x == 0) {
    float L = 0.0f;
    for (int w = 0; w < kAttnWarps; ++w)
      if (sm[w] != -INFINITY) L += sl[w] * expf(sm[w] - M);
    dst[0] = M;
    dst[1] = L;
  }
  for (int64_t d = threadIdx.x; d < hd; d += blockDim.x) {
    float o = 0.0f;
    for (int w = 0; w < kAttnWarps; ++w)
      if (sm[w] != -INFINITY) o += sacc[w][d] * expf(sm[w] - M);
    dst[2 + d] = o;
  }
}

__global__ void attn_combine_kernel(const float* __restrict__ ws, int64_t nh, int64_t hd, int splits,
                                    float* __restrict__ out) {
  const int64_t h = blockIdx.x, t = blockIdx.y;
  const float* base = ws + (t * nh + h) * splits * (hd + 2);
  float M = -INFINITY;
  for (int s = 0; s < splits; ++s) M = fmaxf(M, base[s * (hd + 2)]);
  float L = 0.0f;
  for (int s = 0; s < splits; ++s) {
    const float ms = base[s * (hd + 2)];
    if (ms != -INFINITY) L += base[s * (hd + 2) + 1] * expf(ms - M);
  }
  const float inv = 1.0f / L;
  for (int64_t d = threadIdx.x; d < hd; d += blockDim.x) {
    float o = 0.0f;
    for (int s = 0; s < splits; ++s) {
      const float ms = base[s * (hd + 2)];
      if (ms != -INFINITY) o += base[s * (hd + 2) + 2 + d] * expf(ms - M);
    }
    out[t * nh * hd + h * hd + d] = o * inv;
  }
}

// ---- sampling / misc ----

constexpr int kArgmaxThreads = 1024;

__global__ void argmax_kernel(const float* __restrict__ x, int64_t n, int32_t* out) {
  __shared__ float sv[kArgmaxThreads];
  __shared__ int64_t si[kArgmaxThreads];
  float bv = -INFINITY;
  int64_t bi = -1;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    const float v = x[i];
    if (bi < 0 || v > bv) {
      bv = v;
      bi = i;
    }
  }
  sv[threadIdx.x] = bv;
  si[threadIdx.x] = bi;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride >>= 1) {
    if (threadIdx.x < stride) {
      const float ov = sv[threadIdx.x + stride];
      const int64_t oi = si[threadIdx.x + stride];
      const int64_t mi = si[threadIdx.x];
      if (oi >= 0 && (mi < 0 || ov > sv[threadIdx.x] || (ov == sv[threadIdx.x] && oi < mi))) {
        sv[threadIdx.x] = ov;
        si[threadIdx.x] = oi;
      }
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) *out = static_cast<int32_t>(si[0] < 0 ? 0 : si[0]);
}

__global__ void set_i32_kernel(int32_t* p, int32_t v) { *p = v; }

}  // namespace

void rms_norm_rows(const float* x, const float* w, int64_t rows, int64_t n, float eps, float* y, cudaStream_t s) {
  if (rows <= 0) return;
  check_positive(n, "rms_norm width");
  if (rows > 0x7fffffff) throw std::runtime_error("rms_norm_rows: too many rows");
  rms_norm_kernel<<<static_cast<unsigned>(rows), 256, 0, s>>>(x, w, n, eps, y);
  HYBRID_CUDA_LAUNCH_CHECK();
}

void scale(float* x, int64_t n, float a, cudaStream_t s) {
  if (n <= 0) return;
  scale_kernel<<<grid_for(n, 256), 256, 0, s>>>(x, n, a);
  HYBRID_CUDA_LAUNCH_CHECK();
}

void residual_add(float* h, const float* d, int64_t n, float sc, cudaStream_t s) {
  if (n <= 0) return;
  residual_add_kernel<<<grid_for(n, 256), 256, 0, s>>>(h, d, n, sc);
  HYBRID_CUDA_LAUNCH_CHECK();
}

void add_bias_rows(float* y, const float* b, int64_t rows, int64_t dim, cudaStream_t s) {
  if (!b || rows <= 0) return;
  check_positive(dim, "bias width");
  add_bias_kernel<<<grid_for(rows * dim, 256), 256, 0, s>>>(y, b, rows * dim, dim);
  HYBRID_CUDA_LAUNCH_CHECK();
}

void bias_relu_sqr(float* x, const float* b, int64_t rows, int64_t dim, cudaStream_t s) {
  if (rows <= 0) return;
  check_positive(dim, "relu_sqr width");
  bias_relu_sqr_kernel<<<grid_for(rows * dim, 256), 256, 0, s>>>(x, b, rows * dim, dim);
  HYBRID_CUDA_LAUNCH_CHECK();
}

void swiglu(float* g, const float* u, int64_t n, cudaStream_t s) {
  if (n <= 0) return;
  swiglu_kernel<<<grid_for(n, 256), 256, 0, s>>>(g, u, n);
  HYBRID_CUDA_LAUNCH_CHECK();
}

void ssm_conv(float* xbc, int64_t n, int64_t stride, int64_t C, int64_t K, const float* weight, const float* bias,
              float* conv_state, float* tmp, cudaStream_t s) {
  if (n <= 0) return;
  if (K < 1 || K > kMaxConv) throw std::runtime_error("ssm_conv: conv kernel width " + std::to_string(K) + " unsupported");
  check_positive(C, "conv channels");
  const int threads = 128;
  const int64_t blocks = (C + threads - 1) / threads;
  const char* mode = std::getenv("HYBRID_CUDA_CONV");  // read per call: tests switch it between engines
  if (n > 1 && tmp && !(mode && std::strcmp(mode, "seq") == 0)) {
    ssm_conv_par_kernel<<<grid_for(n * C, 256), 256, 0, s>>>(xbc, n, stride, C, static_cast<int>(K), weight, bias,
                                                             conv_state, tmp);
    HYBRID_CUDA_LAUNCH_CHECK();
    ssm_conv_state_kernel<<<static_cast<unsigned>(blocks), threads, 0, s>>>(xbc, n, stride, C, static_cast<int>(K),
                                                                            conv_state);
    HYBRID_CUDA_LAUNCH_CHECK();
    copy_rows_kernel<<<grid_for(n * C, 256), 256, 0, s>>>(tmp, n, C, stride, xbc);
    HYBRID_CUDA_LAUNCH_CHECK();
    return;
  }
  ssm_conv_kernel<<<static_cast<unsigned>(blocks), threads, 0, s>>>(xbc, n, stride, C, static_cast<int>(K), weight,
                                                                     bias, conv_state);
  HYBRID_CUDA_LAUNCH_CHECK();
}

void ssm_scan(const float* xbc, int64_t xbc_stride, const float* dt, int64_t dt_stride, const float* dt_bias,
              const float* a, const float* d_skip, float* state, float* y, int64_t n, int64_t H, int64_t P, int64_t N,
              int64_t G, cudaStream_t s) {
  if (n <= 0) return;
  if (N < 1 || N > kMaxSsmState) throw std::runtime_error("ssm_scan: d_state " + std::to_string(N) + " unsupported");
  if (H < 1 || P < 1 || G < 1 || H % G != 0) throw std::runtime_error("ssm_scan: bad head/group dimensions");
  // Default: the staged kernel for a batch (n > 1), the sequential one for a decode step (n == 1: nothing to
  // stage). HYBRID_CUDA_SCAN=seq / =staged force one kernel for every n. Read per call: tests switch it.
  const char* mode = std::getenv("HYBRID_CUDA_SCAN");
  const bool force_seq = mode && std::strcmp(mode, "seq") == 0;
  const bool force_staged = mode && std::strcmp(mode, "staged") == 0;
  if (force_staged || (!force_seq && n > 1)) {
    const int64_t ry = (P + kStagedWarps - 1) / kStagedWarps;
    if (H > 0x7fffffff || ry > 65535) throw std::runtime_error("ssm_scan: too many heads or head rows");
    ssm_scan_staged_kernel<<<dim3(static_cast<unsigned>(H), static_cast<unsigned>(ry)), kStagedWarps * kWarp, 0, s>>>(
        xbc, xbc_stride, dt, dt_stride, dt_bias, a, d_skip, state, y, n, H, P, N, G);
    HYBRID_CUDA_LAUNCH_CHECK();
    return;
  }
  const int64_t blocks = (H * P + kScanWarps - 1) / kScanWarps;
  if (blocks > 0x7fffffff) throw std::runtime_error("ssm_scan: too many heads");
  ssm_scan_kernel<<<static_cast<unsigned>(blocks), kScanWarps * kWarp, 0, s>>>(xbc, xbc_stride, dt, dt_stride, dt_bias,
                                                                              a, d_skip, state, y, n, H, P, N, G);
  HYBRID_CUDA_LAUNCH_CHECK();
}

void ssm_gate_norm(float* y, int64_t n, const float* z, int64_t z_stride, const float* w, int64_t Din, int64_t G,
                   float eps, cudaStream_t s) {
  if (n <= 0) return;
  if (G < 1 || Din % G != 0) throw std::runtime_error("ssm_gate_norm: bad group count");
  if (n > 65535 || G > 0x7fffffff) throw std::runtime_error("ssm_gate_norm: too many tokens per launch");
  ssm_gate_norm_kernel<<<dim3(static_cast<unsigned>(G), static_cast<unsigned>(n)), 256, 0, s>>>(y, z, z_stride, w, Din,
                                                                                              Din / G, eps);
  HYBRID_CUDA_LAUNCH_CHECK();
}

void bias_rope_store(const float* src, int64_t n, int64_t nh, int64_t hd, const float* bias, const RopeArgs& rope,
                     const int32_t* n_past, float* dst, bool dst_at_n_past, cudaStream_t s) {
  if (n <= 0) return;
  if (hd < 2 || hd % 2 != 0) throw std::runtime_error("bias_rope_store: head_dim must be even");
  const int64_t total = n * nh * (hd / 2);
  bias_rope_store_kernel<<<grid_for(total, 256), 256, 0, s>>>(src, n, nh, hd, bias, rope, n_past, dst, dst_at_n_past);
  HYBRID_CUDA_LAUNCH_CHECK();
}

void attention(const float* q, const float* k_cache, const float* v_cache, int64_t n, const int32_t* n_past, int64_t nh,
               int64_t nkv, int64_t hd, float scale, int splits, float* ws, float* out, cudaStream_t s) {
  if (n <= 0) return;
  if (hd < 1 || hd > kMaxHeadDim) throw std::runtime_error("attention: head_dim " + std::to_string(hd) + " unsupported");
  if (nkv < 1 || nh % nkv != 0) throw std::runtime_error("attention: n_head must be a multiple of n_head_kv");
  if (splits < 1 || splits > 65535 || nh > 65535 || n > 65535)
    throw std::runtime_error("attention: launch dimensions out of range");
  attn_partial_kernel<<<dim3(static_cast<unsigned>(splits), static_cast<unsigned>(nh), static_cast<unsigned>(n)),
                        kAttnWarps * kWarp, 0, s>>>(q, k_cache, v_cache, n_past, nh, nkv, hd, scale, splits, ws);
  HYBRID_CUDA_LAUNCH_CHECK();
  attn_combine_kernel<<<dim3(static_cast<unsigned>(nh), static_cast<unsigned>(n)), 128, 0, s>>>(ws, nh, hd, splits, out);
  HYBRID_CUDA_LAUNCH_CHECK();
}

void argmax(const float* x, int64_t n, int32_t* out, cudaStream_t s) {
  check_positive(n, "argmax length");
  argmax_kernel<<<1, kArgmaxThreads, 0, s>>>(x, n, out);
  HYBRID_CUDA_LAUNCH_CHECK();
}

void set_i32(int32_t* p, int32_t v, cudaStream_t s) {
  set_i32_kernel<<<1, 1, 0, s>>>(p, v);
  HYBRID_CUDA_LAUNCH_CHECK();
}

}  // namespace hybrid::cuda::kernels
