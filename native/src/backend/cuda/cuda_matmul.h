// The CUDA matrix multiply: y = x · Wᵀ for every weight format a model file may hold. Included only by
// .cu files (needs cuda_runtime.h). The engine (cuda_engine.cu) owns activations and state; this module
// owns how a weight is stored on the device and how it is multiplied:
//  - decode (n small): memory-bound GEMV, wide vectorized loads of the weight's own blocks, dequantized in
//    registers, f32 accumulation, one pass over the weight for all n rows;
//  - prefill (n large): tensor-core GEMM (mma/wmma, f16/bf16 inputs, f32 accumulation), quantized weights
//    dequantized on load into shared memory.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "formats/formats.h"

namespace hybrid::cuda {

// A weight matrix on the device: M rows (ggml ne1, out features) of K values (ggml ne0, in features).
// `data` holds the rows in the layout of `format` (ggml's blocks, byte for byte as in the GGUF file, for
// formats with a native kernel; formats without one are converted to F16 by upload_matrix).
struct DeviceMatrix {
  formats::Format format = formats::Format::F32;
  int64_t K = 0, M = 0;
  size_t row_bytes = 0;
  void* data = nullptr;  // device memory owned by whoever called upload_matrix (free with cudaFree)
};

// True when `f` has native GEMV and GEMM kernels (F32, F16, BF16, Q8_0, Q4_K, Q6_K at least).
bool matmul_native(formats::Format f);

// Copies a host weight (K values per row, M rows, in `f`'s layout) to the device: byte for byte when
// matmul_native(f), else decoded and stored as F16. Returns the device matrix; throws std::runtime_error
// (with the bytes asked for and cudaMemGetInfo's free bytes) when the allocation fails.
DeviceMatrix upload_matrix(formats::Format f, const void* host, int64_t K, int64_t M, cudaStream_t stream);

// Device bytes of w's allocation, e.g. for memory accounting or copying a matrix. The device layout is
// this module's: Q8_0, Q5_0 and Q6_K are repacked at upload for aligned loads (per-block scales in arrays
// after the rows: see backend/cuda/mm_common.cuh), so only matmul() and get_rows() read `data`.
size_t device_matrix_bytes(const DeviceMatrix& w);

// Device workspace bytes matmul() needs for n input rows (e.g. activations converted to f16/bf16/q8).
size_t matmul_scratch_bytes(const DeviceMatrix& w, int64_t n);

// y[n][M] = x[n][K] · Wᵀ (x, y: device f32, row-major, y must not alias x). `accumulate`: y += instead of
// y =. Picks the GEMV path for small n and the tensor-core GEMM for large n. Asynchronous on `stream`;
// no allocation, no synchronization (capturable in a CUDA graph).
void matmul(const DeviceMatrix& w, const float* x, int64_t n, float* y, bool accumulate, void* scratch,
            cudaStream_t stream);

// Rows `ids[n]` (device int32) of W decoded to f32: out[n][K] (the embedding lookup).
void get_rows(const DeviceMatrix& w, const int32_t* ids, int64_t n, float* out, cudaStream_t stream);

}  // namespace hybrid::cuda
