// Matmul microkernels: four weight rows against one token's converted activations at a time, so the
// activations are loaded once per four rows and four independent accumulators hide FMA latency. For
// decode the weights stream from memory once; for prefill matmul_rows keeps a four-row tile in L1 while
// the tokens of a block pass. Each kernel computes exactly what formats::vec_dot computes for each row
// (same block arithmetic; float summation order may differ), and test_gemv checks that.
#pragma once
#include <cstddef>
#include <cstdint>

#include "formats/formats.h"

namespace hybrid::ops {

// out[r] = vec_dot(row r, xq) for r < 4; rows are w, w + stride, w + 2*stride, w + 3*stride.
using Dot4Fn = void (*)(const uint8_t* w, size_t stride, const void* xq, int64_t n, float* out);

// The fastest four-row kernel for weights of format `f` on this CPU, or nullptr (use vec_dot per row).
Dot4Fn dot4_kernel(formats::Format f);
const char* dot4_isa();  // "avx512vnni", "avxvnni", "avx2" or "none"

}  // namespace hybrid::ops
