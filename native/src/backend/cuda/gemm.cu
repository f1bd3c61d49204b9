// Prefill-time matrix multiply (n > 8 input rows): tensor cores through wmma, f16/bf16 inputs, f32
// accumulation. The activations are converted once into scratch (bf16 for BF16 weights, f16 otherwise);
// F16/BF16 weight tiles are copied to shared memory with cp.async, other formats are loaded into
// registers one k-tile ahead and dequantized to f16 into shared memory. Block tile: 128 tokens x 128
// weight rows x 32 k, 8 warps (2 x 4), each 64 tokens x 32 rows; two shared-memory stages.
#include <mma.h>

#include <cstdlib>
#include <string>

#include "backend/cuda/mm_common.cuh"
#include "backend/cuda/mm_tiles.cuh"

namespace hybrid::cuda::mm {

namespace {

using namespace nvcuda;

constexpr int BM = 128;  // weight rows per block
constexpr int BN = 128;  // tokens per block
constexpr int LDS = BK + 8;
constexpr int kThreads = 256;
constexpr int LDC = 36;  // epilogue staging row (floats)

__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, int src_bytes) {
  const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem), "r"(src_bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
__device__ __forceinline__ void cp_async_wait_all() { asm volatile("cp.async.wait_group 0;\n" ::: "memory"); }

template <typename T>
__device__ __forceinline__ T to_t(float v);
template <>
__device__ __forceinline__ __half to_t<__half>(float v) { return __float2half_rn(v); }
template <>
__device__ __forceinline__ __nv_bfloat16 to_t<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

template <typename T>
__global__ void convert_kernel(const float* __restrict__ x, T* __restrict__ out, int64_t count4) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < count4;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const float4 v = __ldg(reinterpret_cast<const float4*>(x) + i);
    T* o = out + 4 * i;
    o[0] = to_t<T>(v.x);
    o[1] = to_t<T>(v.y);
    o[2] = to_t<T>(v.z);
    o[3] = to_t<T>(v.w);
  }
}

// F: the weight's device format; T: the tensor-core input type (bf16 for BF16 weights, f16 otherwise).
template <Format F, typename T>
__global__ void __launch_bounds__(kThreads) gemm_kernel(Layout L, const T* __restrict__ xa, int n,
                                                        float* __restrict__ y, int accumulate) {
  constexpr bool kDirect = F == Format::F16 || F == Format::BF16;  // weights already in T
  constexpr int kStage = (BN + BM) * LDS;                            // elements of T per stage
  __shared__ __align__(128) unsigned char smem_raw[2 * kStage * sizeof(T)];
  static_assert(2 * kStage * sizeof(T) >= 8 * 16 * LDC * sizeof(float), "epilogue staging fits");
  T* smem = reinterpret_cast<T*>(smem_raw);
  auto As = [&](int stage, int row, int col) { return smem + stage * kStage + row * LDS + col; };
  auto Bs = [&](int stage, int row, int col) { return smem + stage * kStage + BN * LDS + row * LDS + col; };

  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int64_t m0 = static_cast<int64_t>(blockIdx.x) * BM;
  const int t0 = blockIdx.y * BN;
  const int64_t K = L.K;
  const int KT = static_cast<int>(K / BK);
  const int wt = warp >> 2, wm = warp & 3;  // warp tile: tokens 64*wt.., rows 32*wm..

  auto load_A = [&](int stage, int kt) {
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      const int c = tid + kThreads * i, row = c >> 2, col = (c & 3) * 8;
      const int tok = t0 + row;
      const T* src = xa + static_cast<int64_t>(min(tok, n - 1)) * K + kt * BK + col;
      cp_async16(As(stage, row, col), src, tok < n ? 16 : 0);
    }
  };
  auto load_B_direct = [&](int stage, int kt) {
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      const int c = tid + kThreads * i, row = c >> 2, col = (c & 3) * 8;
      const int64_t r = m0 + row;
      const uint8_t* src = L.q + min(r, L.M - 1) * L.row_bytes + (static_cast<int64_t>(kt) * BK + col) * 2;
      cp_async16(Bs(stage, row, col), src, r < L.M ? 16 : 0);
    }
  };
  const int brow = tid >> 1, bhalf = tid & 1;
  const int64_t br = m0 + brow;
  const bool brow_ok = br < L.M;
  const int64_t br_c = min(br, L.M - 1);

  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[4][2];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 2; ++j) wmma::fill_fragment(acc[i][j], 0.0f);

  if constexpr (kDirect) {
    load_A(0, 0);
    load_B_direct(0, 0);
    cp_async_commit();
    for (int kt = 0; kt < KT; ++kt) {
      const int cur = kt & 1;
      if (kt + 1 < KT) {
        load_A(cur ^ 1, kt + 1);
        load_B_direct(cur ^ 1, kt + 1);
        cp_async_commit();
        asm volatile("cp.async.wait_group 1;\n" ::: "memory");
      } else {
        cp_async_wait_all();
      }
      __syncthreads();
#pragma unroll
      for (int kk = 0; kk < BK; kk += 16) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> a[4];
        wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> b[2];
#pragma unroll
        for (int i = 0; i < 4; ++i) wmma::load_matrix_sync(a[i], As(cur, 64 * wt + 16 * i, kk), LDS);
#pragma unroll
        for (int j = 0; j < 2; ++j) wmma::load_matrix_sync(b[j], Bs(cur, 32 * wm + 16 * j, kk), LDS);
#pragma unroll
        for (int i = 0; i < 4; ++i)
#pragma unroll
          for (int j = 0; j < 2; ++j) wmma::mma_sync(acc[i][j], a[i], b[j], acc[i][j]);
      }
      __syncthreads();
    }
  } else {
    using Raw = typename TileRaw<F>::type;
    auto store_B = [&](int stage, int kt, const Raw& raw) {
      float v[16];
      tile_decode<F>(raw, kt, bhalf, v);
      alignas(16) T h[16];
#pragma unroll
      for (int i = 0; i < 16; ++i) h[i] = brow_ok ? to_t<T>(v[i]) : to_t<T>(0.0f);
      uint4* dst = reinterpret_cast<uint4*>(Bs(stage, brow, 16 * bhalf));
      dst[0] = reinterpret_cast<const uint4*>(h)[0];
      dst[1] = reinterpret_cast<const uint4*>(h)[1];
    };
    load_A(0, 0);
    cp_async_commit();
    Raw raw = tile_load<F>(L, br_c, 0, bhalf);
    store_B(0, 0, raw);
    cp_async_wait_all();
    __syncthreads();
    for (int kt = 0; kt < KT; ++kt) {
      const int cur = kt & 1;
      const bool more = kt + 1 < KT;
      if (more) {
        load_A(cur ^ 1, kt + 1);
        cp_async_commit();
        raw = tile_load<F>(L, br_c, kt + 1, bhalf);
      }
#pragma unroll
      for (int kk = 0; kk < BK; kk += 16) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> a[4];
        wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> b[2];
#pragma unroll
        for (int i = 0; i < 4; ++i) wmma::load_matrix_sync(a[i], As(cur, 64 * wt + 16 * i, kk), LDS);
#pragma unroll
        for (int j = 0; j < 2; ++j) wmma::load_matrix_sync(b[j], Bs(cur, 32 * wm + 16 * j, kk), LDS);
#pragma unroll
        for (int i = 0; i < 4; ++i)
#pragma unroll
          for (int j = 0; j < 2; ++j) wmma::mma_sync(acc[i][j], a[i], b[j], acc[i][j]);
      }
      if (more) {
        store_B(cur ^ 1, kt + 1, raw);
        cp_async_wait_all();
      }
      __syncthreads();
    }
  }

  // Epilogue: each warp stages 16 tokens x 32 rows at a time in (now free) shared memory.
  float* cs = reinterpret_cast<float*>(smem_raw) + warp * 16 * LDC;
  const int64_t m = m0 + 32 * wm + lane;
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    wmma::store_matrix_sync(cs, acc[i][0], LDC, wmma::mem_row_major);
    wmma::store_matrix_sync(cs + 16, acc[i][1], LDC, wmma::mem_row_major);
    __syncwarp();
    if (m < L.M) {
      for (int rr = 0; rr < 16; ++rr) {
        const int tok = t0 + 64 * wt + 16 * i + rr;
        if (tok >= n) break;
        float* o = y + static_cast<int64_t>(tok) * L.M + m;
        const float v = cs[rr * LDC + lane];
        *o = accumulate ? *o + v : v;
      }
    }
    __syncwarp();
  }
}

template <typename T>
void convert(const float* x, int64_t count, T* out, cudaStream_t s) {
  const int64_t c4 = count / 4;  // K is a multiple of 32
  const int64_t blocks = std::min<int64_t>((c4 + 255) / 256, 4096);
  convert_kernel<T><<<static_cast<unsigned>(blocks), 256, 0, s>>>(x, out, c4);
  MM_CHECK_LAUNCH("gemm convert");
}

template <Format F, typename T>
void run_wmma(const Layout& L, const T* xa, int64_t n, float* y, bool acc, cudaStream_t s) {
  const dim3 grid(static_cast<unsigned>((L.M + BM - 1) / BM), static_cast<unsigned>((n + BN - 1) / BN));
  gemm_kernel<F, T><<<grid, kThreads, 0, s>>>(L, xa, static_cast<int>(n), y, acc ? 1 : 0);
  MM_CHECK_LAUNCH("gemm");
}

void gemm_wmma(Format f, const Layout& L, const void* xa, int64_t n, float* y, bool accumulate, cudaStream_t stream) {
  const auto* h = static_cast<const __half*>(xa);
  switch (f) {
    case Format::F32: run_wmma<Format::F32, __half>(L, h, n, y, accumulate, stream); break;
    case Format::F16: run_wmma<Format::F16, __half>(L, h, n, y, accumulate, stream); break;
    case Format::BF16:
      run_wmma<Format::BF16, __nv_bfloat16>(L, static_cast<const __nv_bfloat16*>(xa), n, y, accumulate, stream);
      break;
    case Format::Q8_0: run_wmma<Format::Q8_0, __half>(L, h, n, y, accumulate, stream); break;
    case Format::Q5_0: run_wmma<Format::Q5_0, __half>(L, h, n, y, accumulate, stream); break;
    case Format::Q4_K: run_wmma<Format::Q4_K, __half>(L, h, n, y, accumulate, stream); break;
    case Format::Q6_K: run_wmma<Format::Q6_K, __half>(L, h, n, y, accumulate, stream); break;
    default: throw std::invalid_argument("cuda gemm: unsupported device format");
  }
}

int g_variant = -1;  // -1: not read yet; 0: mma.sync (default); 1: wmma

}  // namespace

void set_gemm_variant(int v) { g_variant = v == 1 ? 1 : 0; }

// Scratch: the converted activations, then the split-K partial sums.
size_t gemm_scratch_bytes(Format, int64_t K, int64_t n) {
  return align256(static_cast<size_t>(n) * K * 2) + static_cast<size_t>(kSplitPartFloats) * 4;
}

void gemm(Format f, const Layout& L, const float* x, int64_t n, float* y, bool accumulate, void* scratch,
          cudaStream_t stream) {
  if (!scratch) throw std::invalid_argument("cuda gemm: scratch is required for n > 8 (matmul_scratch_bytes)");
  if (reinterpret_cast<uintptr_t>(scratch) % 16 != 0) throw std::invalid_argument("cuda gemm: scratch must be 16-byte aligned");
  if (n > (int64_t{1} << 30)) throw std::invalid_argument("cuda gemm: n too large");
  if (g_variant < 0) {
    const char* e = std::getenv("HYBRID_MM_GEMM");
    g_variant = (e && std::string(e) == "wmma") ? 1 : 0;
  }
  // activations: bf16 for BF16 weights, f16 otherwise
  if (f == Format::BF16) convert<__nv_bfloat16>(x, n * L.K, static_cast<__nv_bfloat16*>(scratch), stream);
  else convert<__half>(x, n * L.K, static_cast<__half*>(scratch), stream);
  if (g_variant == 1) gemm_wmma(f, L, scratch, n, y, accumulate, stream);
  else {
    float* part = reinterpret_cast<float*>(static_cast<uint8_t*>(scratch) + align256(static_cast<size_t>(n) * L.K * 2));
    gemm_mma(f, L, scratch, n, y, accumulate, part, stream);
  }
}

}  // namespace hybrid::cuda::mm
