// The CUDA matrix multiply's entry points (cuda_matmul.h): upload (with repacking into the device layouts
// of mm_common.cuh), the GEMV/GEMM dispatch and get_rows.
#include <cstring>
#include <string>
#include <vector>

#include "backend/cuda/cuda_matmul.h"
#include "backend/cuda/mm_common.cuh"
#include "formats/blocks.h"
#include "formats/half.h"

namespace hybrid::cuda {

using formats::Format;
using namespace mm;

bool matmul_native(Format f) {
  switch (f) {
    case Format::F32:
    case Format::F16:
    case Format::BF16:
    case Format::Q8_0:
    case Format::Q4_K:
    case Format::Q6_K:
    case Format::Q5_0: return true;
    default: return false;
  }
}

namespace {

std::string mib(size_t b) { return std::to_string(b / (1024 * 1024)) + " MiB"; }

void* device_alloc(size_t bytes, const std::string& what) {
  void* p = nullptr;
  cudaError_t e = cudaMalloc(&p, bytes);
  if (e != cudaSuccess) {
    cudaGetLastError();  // clear the error so the runtime stays usable
    size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    throw std::runtime_error("CUDA: out of device memory for " + what + ": asked for " + std::to_string(bytes) +
                             " bytes (" + mib(bytes) + "), " + std::to_string(free_b) + " bytes free (" + mib(free_b) +
                             " of " + mib(total_b) + "): " + cudaGetErrorString(e));
  }
  return p;
}

// Host-side repacking into the device layouts (mm_common.cuh).
void repack_q8_0(const uint8_t* src, size_t src_row, int64_t K, int64_t M, uint8_t* dst) {
  const int64_t nb = K / 32;
  const size_t main = align256(static_cast<size_t>(K) * M);
  uint16_t* d = reinterpret_cast<uint16_t*>(dst + main);
  for (int64_t r = 0; r < M; ++r) {
    const auto* b = reinterpret_cast<const formats::BlockQ8_0*>(src + r * src_row);
    for (int64_t i = 0; i < nb; ++i) {
      formats::BlockQ8_0 blk;
      std::memcpy(&blk, reinterpret_cast<const uint8_t*>(b) + i * sizeof(blk), sizeof(blk));
      std::memcpy(dst + r * K + i * 32, blk.qs, 32);
      d[r * nb + i] = blk.d;
    }
  }
}

void repack_q6_k(const uint8_t* src, size_t src_row, int64_t K, int64_t M, uint8_t* dst) {
  const int64_t nb = K / 256;
  const size_t row = static_cast<size_t>(nb) * 208;
  uint16_t* d = reinterpret_cast<uint16_t*>(dst + align256(row * M));
  for (int64_t r = 0; r < M; ++r) {
    for (int64_t i = 0; i < nb; ++i) {
      formats::BlockQ6_K blk;
      std::memcpy(&blk, src + r * src_row + i * sizeof(blk), sizeof(blk));
      uint8_t* o = dst + r * row + i * 208;
      std::memcpy(o, blk.ql, 128);
      std::memcpy(o + 128, blk.qh, 64);
      std::memcpy(o + 192, blk.scales, 16);
      d[r * nb + i] = blk.d;
    }
  }
}

void repack_q5_0(const uint8_t* src, size_t src_row, int64_t K, int64_t M, uint8_t* dst) {
  const int64_t nb = K / 32;
  const size_t row = static_cast<size_t>(K / 2);
  const size_t main = align256(row * M);
  const size_t nbm = static_cast<size_t>(nb) * M;
  uint32_t* qh = reinterpret_cast<uint32_t*>(dst + main);
  uint16_t* d = reinterpret_cast<uint16_t*>(dst + main + align256(nbm * 4));
  for (int64_t r = 0; r < M; ++r) {
    for (int64_t i = 0; i < nb; ++i) {
      formats::BlockQ5_0 blk;
      std::memcpy(&blk, src + r * src_row + i * sizeof(blk), sizeof(blk));
      std::memcpy(dst + r * row + i * 16, blk.qs, 16);
      uint32_t h;
      std::memcpy(&h, blk.qh, 4);
      qh[r * nb + i] = h;
      d[r * nb + i] = blk.d;
    }
  }
}

template <Format F>
__global__ void get_rows_kernel(Layout L, const int32_t* ids, float* out) {
  const int64_t i = blockIdx.x;
  int64_t r = ids[i];
  float* o = out + i * L.K;
  if (r < 0 || r >= L.M) {  // an out-of-range id: NaNs rather than a fault (the caller validated ids)
    for (int64_t k = threadIdx.x; k < L.K; k += blockDim.x) o[k] = __int_as_float(0x7fc00000);
    return;
  }
  for (int64_t k = threadIdx.x; k < L.K; k += blockDim.x) o[k] = decode_value<F>(L, r, k);
}

// Rows of K not a multiple of 32 (F32/F16/BF16 weights of small test models only): one warp per output
// row, every activation row, values decoded one at a time. Slow and simple.
template <Format F>
__global__ void matmul_generic_kernel(Layout L, const float* __restrict__ x, int64_t n, float* __restrict__ y,
                                      int accumulate) {
  const int lane = threadIdx.x & 31;
  const int64_t m = static_cast<int64_t>(blockIdx.x) * (blockDim.x >> 5) + (threadIdx.x >> 5);
  if (m >= L.M) return;
  for (int64_t t = 0; t < n; ++t) {
    float s = 0.0f;
    for (int64_t k = lane; k < L.K; k += 32) s = fmaf(decode_value<F>(L, m, k), x[t * L.K + k], s);
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
    if (lane == 0) {
      float* o = y + t * L.M + m;
      *o = accumulate ? *o + s : s;
    }
  }
}

void matmul_generic(Format f, const Layout& L, const float* x, int64_t n, float* y, bool acc, cudaStream_t s) {
  const dim3 grid(static_cast<unsigned>((L.M + 3) / 4)), block(128);
  const int a = acc ? 1 : 0;
  switch (f) {
    case Format::F32: matmul_generic_kernel<Format::F32><<<grid, block, 0, s>>>(L, x, n, y, a); break;
    case Format::F16: matmul_generic_kernel<Format::F16><<<grid, block, 0, s>>>(L, x, n, y, a); break;
    case Format::BF16: matmul_generic_kernel<Format::BF16><<<grid, block, 0, s>>>(L, x, n, y, a); break;
    default: throw std::invalid_argument("cuda matmul: K must be a multiple of 32 for quantized formats");
  }
  MM_CHECK_LAUNCH("matmul_generic");
}

}  // namespace

DeviceMatrix upload_matrix(Format f, const void* host, int64_t K, int64_t M, cudaStream_t stream) {
  if (K <= 0 || M <= 0) throw std::invalid_argument("upload_matrix: empty matrix");
  const formats::FormatInfo& info = formats::format_info(f);
  if (K % info.block_size != 0)
    throw std::invalid_argument(std::string("upload_matrix: K=") + std::to_string(K) + " is not a multiple of " +
                                info.name + "'s block size");
  gemm_mma_prepare();
  const Format dev = matmul_native(f) ? f : Format::F16;
  const size_t src_row = formats::row_bytes(f, K);
  const size_t bytes = device_bytes(dev, K, M);
  const std::string what = std::string(info.name) + " matrix " + std::to_string(M) + "x" + std::to_string(K);

  DeviceMatrix w;
  w.format = dev;
  w.K = K;
  w.M = M;
  w.row_bytes = device_row_bytes(dev, K);
  w.data = device_alloc(bytes, what);
  try {
    const auto* src = static_cast<const uint8_t*>(host);
    if (dev == f && (f == Format::F32 || f == Format::F16 || f == Format::BF16 || f == Format::Q4_K)) {
      MM_CHECK(cudaMemcpyAsync(w.data, src, src_row * M, cudaMemcpyHostToDevice, stream));
    } else {
      // Repack (or decode) in slabs of rows so the host buffer stays bounded for big tensors.
      std::vector<uint8_t> buf;
      if (dev == f) {
        buf.resize(bytes);
        if (f == Format::Q8_0) repack_q8_0(src, src_row, K, M, buf.data());
        else if (f == Format::Q6_K) repack_q6_k(src, src_row, K, M, buf.data());
        else repack_q5_0(src, src_row, K, M, buf.data());
        MM_CHECK(cudaMemcpyAsync(w.data, buf.data(), bytes, cudaMemcpyHostToDevice, stream));
        MM_CHECK(cudaStreamSynchronize(stream));
      } else {
        const int64_t slab = std::max<int64_t>(1, (int64_t{8} << 20) / (K * 2));
        std::vector<float> tmp(K);
        buf.resize(static_cast<size_t>(std::min(slab, M)) * K * 2);
        for (int64_t r0 = 0; r0 < M; r0 += slab) {
          const int64_t rows = std::min(slab, M - r0);
          auto* h = reinterpret_cast<uint16_t*>(buf.data());
          for (int64_t r = 0; r < rows; ++r) {
            formats::dequantize_row(f, src + (r0 + r) * src_row, tmp.data(), K);
            for (int64_t k = 0; k < K; ++k) h[r * K + k] = formats::fp32_to_fp16(tmp[k]);
          }
          MM_CHECK(cudaMemcpyAsync(static_cast<uint8_t*>(w.data) + r0 * K * 2, buf.data(),
                                   static_cast<size_t>(rows) * K * 2, cudaMemcpyHostToDevice, stream));
          MM_CHECK(cudaStreamSynchronize(stream));
        }
      }
    }
    // The caller's host memory (often a mapped file) may go away after we return.
    MM_CHECK(cudaStreamSynchronize(stream));
  } catch (...) {
    cudaFree(w.data);
    throw;
  }
  return w;
}

size_t device_matrix_bytes(const DeviceMatrix& w) { return device_bytes(w.format, w.K, w.M); }

size_t matmul_scratch_bytes(const DeviceMatrix& w, int64_t n) {
  if (n <= 0 || w.K % 32 != 0) return 0;
  if (n <= 8) {  // only the integer GEMV variant uses scratch (quantized activations)
    const bool q = w.format == Format::Q8_0 || w.format == Format::Q5_0 || w.format == Format::Q4_K ||
                   w.format == Format::Q6_K;
    return q ? gemv_dp4a_scratch_bytes(w.K, n) : 0;
  }
  return gemm_scratch_bytes(w.format, w.K, n);
}

void matmul(const DeviceMatrix& w, const float* x, int64_t n, float* y, bool accumulate, void* scratch,
            cudaStream_t stream) {
  if (n <= 0) return;
  if (reinterpret_cast<uintptr_t>(x) % 16 != 0 && w.K % 32 == 0)
    throw std::invalid_argument("cuda matmul: x must be 16-byte aligned");
  const Layout L = layout_of(w);
  if (w.K % 32 != 0) {  // F32/F16/BF16 with short rows (test models): the simple kernel
    matmul_generic(w.format, L, x, n, y, accumulate, stream);
    return;
  }
  if (n <= 8) {
    if (scratch && gemv_dp4a_applies(w.format, n)) gemv_dp4a(w.format, L, x, n, y, accumulate, scratch, stream);
    else gemv(w.format, L, x, n, y, accumulate, stream);
  }
  else gemm(w.format, L, x, n, y, accumulate, scratch, stream);
}

void get_rows(const DeviceMatrix& w, const int32_t* ids, int64_t n, float* out, cudaStream_t stream) {
  if (n <= 0) return;
  const Layout L = layout_of(w);
  const dim3 grid(static_cast<unsigned>(n)), block(256);
  switch (w.format) {
    case Format::F32: get_rows_kernel<Format::F32><<<grid, block, 0, stream>>>(L, ids, out); break;
    case Format::F16: get_rows_kernel<Format::F16><<<grid, block, 0, stream>>>(L, ids, out); break;
    case Format::BF16: get_rows_kernel<Format::BF16><<<grid, block, 0, stream>>>(L, ids, out); break;
    case Format::Q8_0: get_rows_kernel<Format::Q8_0><<<grid, block, 0, stream>>>(L, ids, out); break;
    case Format::Q5_0: get_rows_kernel<Format::Q5_0><<<grid, block, 0, stream>>>(L, ids, out); break;
    case Format::Q4_K: get_rows_kernel<Format::Q4_K><<<grid, block, 0, stream>>>(L, ids, out); break;
    case Format::Q6_K: get_rows_kernel<Format::Q6_K><<<grid, block, 0, stream>>>(L, ids, out); break;
    default: throw std::invalid_argument("cuda get_rows: unsupported device format");
  }
  MM_CHECK_LAUNCH("get_rows");
}

}  // namespace hybrid::cuda
