// Prefill GEMM, the fast path: mma.sync m16n8k16 (f16 or bf16 -> f32) fed by ldmatrix from padded shared
// memory, a 3-stage cp.async pipeline. Block tile: 128 tokens x 256 weight rows x 32 k; 8 warps (2 x 4),
// each 64 tokens x 64 rows (4 x 8 mma tiles, 128 f32 accumulators per thread). F16/BF16 weight tiles are
// copied with cp.async; other formats are loaded into registers two k-tiles ahead and dequantized to f16
// into shared memory (the Tile decoders shared with the wmma kernel, gemm_tiles). The grid runs the token
// tiles fastest so that blocks in flight share one weight tile: each weight byte comes from DRAM once and
// the activations (f16, already converted) stay in L2. Epilogue straight from the accumulators.
#include <algorithm>
#include <type_traits>

#include "backend/cuda/mm_common.cuh"
#include "backend/cuda/mm_tiles.cuh"

namespace hybrid::cuda::mm {

namespace {

constexpr int TN = 128;  // tokens per block
constexpr int TM = 256;  // weight rows per block
constexpr int TK = 32;
constexpr int LD = TK + 8;  // padded row (elements): 80 bytes, ldmatrix rows hit distinct banks
constexpr int kStages = 3;
constexpr int kThreads = 256;
constexpr int kStageElems = (TN + TM) * LD;
constexpr size_t kSmemBytes = static_cast<size_t>(kStages) * kStageElems * 2;
static_assert(TK == BK, "the Tile decoders work on 32-wide k tiles");

__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, int src_bytes) {
  const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem), "r"(src_bytes));
}
__device__ __forceinline__ void ldsm_x4(uint32_t r[4], const void* smem) {
  const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(s));
}
template <typename T>
__device__ __forceinline__ void mma16816(float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  } else {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
}

template <Format F, typename T>
__global__ void __launch_bounds__(kThreads, 1)
    gemm_mma_kernel(Layout L, const T* __restrict__ xa, int n, float* __restrict__ y, int accumulate, int kt_per,
                    float* __restrict__ part) {
  constexpr bool kDirect = F == Format::F16 || F == Format::BF16;
  extern __shared__ __align__(128) unsigned char smem_raw[];
  T* smem = reinterpret_cast<T*>(smem_raw);

  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int t0 = blockIdx.x * TN;
  const int64_t m0 = static_cast<int64_t>(blockIdx.y) * TM;
  const int64_t K = L.K;
  const int KT = static_cast<int>(K / TK);
  // split-K: this block's k tiles [kt0, kt0 + nkt); with a split, partial sums go to part[z][n][M]
  const int kt0 = blockIdx.z * kt_per;
  const int nkt = min(KT - kt0, kt_per);
  if (part) {
    y = part + static_cast<int64_t>(blockIdx.z) * n * L.M;
    accumulate = 0;
  }
  const int wt = warp >> 2, wm = warp & 3;

  auto a_tile = [&](int stage) { return smem + stage * kStageElems; };
  auto b_tile = [&](int stage) { return smem + stage * kStageElems + TN * LD; };

  auto load_async = [&](int stage, int kt) {
    T* as = a_tile(stage);
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      const int c = tid + kThreads * i, row = c >> 2, col = (c & 3) * 8;
      const int tok = t0 + row;
      cp_async16(as + row * LD + col, xa + static_cast<int64_t>(min(tok, n - 1)) * K + kt * TK + col, tok < n ? 16 : 0);
    }
    if constexpr (kDirect) {
      T* bs = b_tile(stage);
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const int c = tid + kThreads * i, row = c >> 2, col = (c & 3) * 8;
        const int64_t r = m0 + row;
        cp_async16(bs + row * LD + col, L.q + min(r, L.M - 1) * L.row_bytes + (static_cast<int64_t>(kt) * TK + col) * 2,
                   r < L.M ? 16 : 0);
      }
    }
  };

  // register path (quantized / F32 weights): thread -> rows (tid / 2) and (tid / 2 + 128), half tid % 2
  const int qrow = tid >> 1, qhalf = tid & 1;
  int64_t qr[2];
  bool qok[2];
#pragma unroll
  for (int p = 0; p < 2; ++p) {
    const int64_t r = m0 + qrow + 128 * p;
    qok[p] = r < L.M;
    qr[p] = min(r, L.M - 1);
  }
  using Raw = typename TileRaw<F>::type;
  auto store_q = [&](int stage, int kt, const Raw* raw) {
#pragma unroll
    for (int p = 0; p < 2; ++p) {
      float v[16];
      tile_decode<F>(raw[p], kt, qhalf, v);
      alignas(16) __half h[16];
#pragma unroll
      for (int i = 0; i < 16; ++i) h[i] = __float2half_rn(qok[p] ? v[i] : 0.0f);
      uint4* dst = reinterpret_cast<uint4*>(b_tile(stage) + (qrow + 128 * p) * LD + 16 * qhalf);
      dst[0] = reinterpret_cast<const uint4*>(h)[0];
      dst[1] = reinterpret_cast<const uint4*>(h)[1];
    }
  };
  auto load_q = [&](int kt, Raw* raw) {
#pragma unroll
    for (int p = 0; p < 2; ++p) raw[p] = tile_load<F>(L, qr[p], kt, qhalf);
  };

  float acc[4][8][4];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 8; ++j)
#pragma unroll
      for (int c = 0; c < 4; ++c) acc[i][j][c] = 0.0f;

#pragma unroll
  for (int s = 0; s < kStages - 1; ++s) {
    if (s < nkt) {
      load_async(s, kt0 + s);
      if constexpr (!kDirect) {
        Raw raw[2];
        load_q(kt0 + s, raw);
        store_q(s, kt0 + s, raw);
      }
    }
    asm volatile("cp.async.commit_group;\n" ::);
  }

  for (int kt = 0; kt < nkt; ++kt) {  // kt: k tile kt0 + kt
    asm volatile("cp.async.wait_group %0;\n" ::"n"(kStages - 2) : "memory");
    __syncthreads();
    const int nk = kt + kStages - 1, ns = nk % kStages;
    Raw raw[2];
    if (nk < nkt) {
      load_async(ns, kt0 + nk);
      if constexpr (!kDirect) load_q(kt0 + nk, raw);
    }
    asm volatile("cp.async.commit_group;\n" ::);

    const T* as = a_tile(kt % kStages);
    const T* bs = b_tile(kt % kStages);
#pragma unroll
    for (int kk = 0; kk < TK; kk += 16) {
      uint32_t af[4][4], bf[4][4];
#pragma unroll
      for (int i = 0; i < 4; ++i)
        ldsm_x4(af[i], as + (64 * wt + 16 * i + (lane & 15)) * LD + kk + (lane >> 4) * 8);
#pragma unroll
      for (int j = 0; j < 4; ++j)
        ldsm_x4(bf[j], bs + (64 * wm + 16 * j + (lane & 7) + ((lane >> 4) << 3)) * LD + kk + ((lane >> 3) & 1) * 8);
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          mma16816<T>(acc[i][2 * j], af[i], bf[j][0], bf[j][1]);
          mma16816<T>(acc[i][2 * j + 1], af[i], bf[j][2], bf[j][3]);
        }
    }
    if constexpr (!kDirect) {
      if (nk < nkt) store_q(ns, kt0 + nk, raw);
    }
  }
  asm volatile("cp.async.wait_group 0;\n" ::: "memory");

  // Epilogue: c0,c1 -> (token g, rows 2t, 2t+1), c2,c3 -> (token g + 8, same rows).
  const int g = lane >> 2, t4 = lane & 3;
  const bool even_m = (L.M & 1) == 0 && (reinterpret_cast<uintptr_t>(y) & 7) == 0;
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int hh = 0; hh < 2; ++hh) {
      const int tok = t0 + 64 * wt + 16 * i + g + 8 * hh;
      if (tok >= n) continue;
      float* yrow = y + static_cast<int64_t>(tok) * L.M;
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        const int64_t m = m0 + 64 * wm + 8 * j + 2 * t4;
        float2 v = make_float2(acc[i][j][2 * hh], acc[i][j][2 * hh + 1]);
        if (even_m && m + 1 < L.M) {  // 8-byte aligned pair
          float2* o = reinterpret_cast<float2*>(yrow + m);
          if (accumulate) {
            const float2 old = *o;
            v.x += old.x;
            v.y += old.y;
          }
          *o = v;
        } else {
          if (m < L.M) yrow[m] = accumulate ? yrow[m] + v.x : v.x;
          if (m + 1 < L.M) yrow[m + 1] = accumulate ? yrow[m + 1] + v.y : v.y;
        }
      }
    }
}

template <Format F, typename T>
void set_smem_attr() {
  MM_CHECK(cudaFuncSetAttribute(gemm_mma_kernel<F, T>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                static_cast<int>(kSmemBytes)));
}

bool g_prepared = false;

// y[t][m] (+)= sum over splits of part[z][t][m], in a fixed order (deterministic).
__global__ void splitk_reduce_kernel(const float* __restrict__ part, int splits, int64_t count, float* __restrict__ y,
                                     int accumulate) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    float s = accumulate ? y[i] : 0.0f;
    for (int z = 0; z < splits; ++z) s += part[z * count + i];
    y[i] = s;
  }
}

int g_force_splits = 0;  // 0: automatic; s > 0: exactly s (clamped to the k tiles), for tests

template <Format F, typename T>
void launch(const Layout& L, const T* xa, int64_t n, float* y, bool acc, float* part, cudaStream_t s) {
  gemm_mma_prepare();
  const int KT = static_cast<int>(L.K / TK);
  const int64_t blocks = ((n + TN - 1) / TN) * ((L.M + TM - 1) / TM);
  // Too few blocks to fill the device (small n or M, e.g. a short prefill chunk): split K so that about
  // two blocks per multiprocessor run, the partial sums bounded by kSplitPartFloats.
  int splits = 1;
  if (g_force_splits > 0) {
    splits = std::min(g_force_splits, KT);
  } else if (blocks < sm_count()) {
    splits = static_cast<int>(std::min<int64_t>((2 * sm_count() + blocks - 1) / blocks, 16));
    splits = std::min(splits, std::max(1, KT / 4));  // at least 4 k tiles per split
  }
  while (splits > 1 && static_cast<int64_t>(splits) * n * L.M > kSplitPartFloats) --splits;
  const int kt_per = (KT + splits - 1) / splits;
  splits = (KT + kt_per - 1) / kt_per;  // no empty split
  const dim3 grid(static_cast<unsigned>((n + TN - 1) / TN), static_cast<unsigned>((L.M + TM - 1) / TM),
                  static_cast<unsigned>(splits));
  if (grid.y > 65535) throw std::invalid_argument("cuda gemm: too many weight rows");
  gemm_mma_kernel<F, T><<<grid, kThreads, kSmemBytes, s>>>(L, xa, static_cast<int>(n), y, acc ? 1 : 0, kt_per,
                                                            splits > 1 ? part : nullptr);
  MM_CHECK_LAUNCH("gemm_mma");
  if (splits > 1) {
    const int64_t count = n * L.M;
    const int64_t rb = std::min<int64_t>((count + 255) / 256, 4096);
    splitk_reduce_kernel<<<static_cast<unsigned>(rb), 256, 0, s>>>(part, splits, count, y, acc ? 1 : 0);
    MM_CHECK_LAUNCH("gemm_mma split-k reduce");
  }
}

}  // namespace

// The kernels' dynamic shared memory limit (> 48 KB), set once, before any stream capture: upload_matrix
// calls this (a matrix is always uploaded before it is multiplied).
void gemm_mma_prepare() {
  if (g_prepared) return;
  set_smem_attr<Format::F32, __half>();
  set_smem_attr<Format::F16, __half>();
  set_smem_attr<Format::BF16, __nv_bfloat16>();
  set_smem_attr<Format::Q8_0, __half>();
  set_smem_attr<Format::Q5_0, __half>();
  set_smem_attr<Format::Q4_K, __half>();
  set_smem_attr<Format::Q6_K, __half>();
  g_prepared = true;
}

void set_gemm_splits(int s) { g_force_splits = s > 0 ? s : 0; }

void gemm_mma(Format f, const Layout& L, const void* xa, int64_t n, float* y, bool accumulate, float* part,
              cudaStream_t stream) {
  const auto* h = static_cast<const __half*>(xa);
  switch (f) {
    case Format::F32: launch<Format::F32, __half>(L, h, n, y, accumulate, part, stream); break;
    case Format::F16: launch<Format::F16, __half>(L, h, n, y, accumulate, part, stream); break;
    case Format::BF16:
      launch<Format::BF16, __nv_bfloat16>(L, static_cast<const __nv_bfloat16*>(xa), n, y, accumulate, part, stream);
      break;
    case Format::Q8_0: launch<Format::Q8_0, __half>(L, h, n, y, accumulate, part, stream); break;
    case Format::Q5_0: launch<Format::Q5_0, __half>(L, h, n, y, accumulate, part, stream); break;
    case Format::Q4_K: launch<Format::Q4_K, __half>(L, h, n, y, accumulate, part, stream); break;
    case Format::Q6_K: launch<Format::Q6_K, __half>(L, h, n, y, accumulate, part, stream); break;
    default: throw std::invalid_argument("cuda gemm_mma: unsupported device format");
  }
}

}  // namespace hybrid::cuda::mm
