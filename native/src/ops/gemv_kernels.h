// Matmul microkernels for one token at a time: four weight rows against one token's converted activations,
// so the activations are loaded once per four rows. Decode streams each weight from memory once through
// these; prefill uses the many-token kernels of gemm_kernels.h where the CPU has them, and these otherwise.
//
// Every kernel here and in gemm_kernels.h computes, for each (row, token), exactly the same float
// operations in the same order -- the "canonical" arithmetic below -- so a token's result does not depend
// on which kernel ran it, on the batch it came in, or on the thread count: a prompt read in one batch and
// the same prompt read token by token give bit-identical states. Integer parts are exact, so any
// instruction sequence that forms the same integer is canonical. The canonical sums equal formats::vec_dot
// up to float rounding (test_gemv checks both: bit-equality between kernels, nearness to vec_dot).
//
//   Q8_0 (Q8_0 activations): acc = 0; per block b of 32:
//            acc = fma(float(isum_b), f16(w.d_b) * f16(x.d_b), acc)          isum_b = sum_k w_k x_k
//   Q4_K (Q8_K activations): acc = accm = 0; per super-block b of 256, sub-blocks j of 32:
//            isum = sum_j sc_j * (q . x)_j,   msum = sum_j m_j * (bsums_2j + bsums_2j+1)
//            acc  = fma(float(isum), f16(w.d) * x.d, acc);  accm = fma(float(msum), f16(w.dmin) * x.d, accm)
//            result = acc - accm
//   Q6_K (Q8_K activations): per super-block, isum = sum_s sc_s * ((q - 32) . x)_s over sub-blocks of 16;
//            acc = fma(float(isum), f16(w.d) * x.d, acc)
//   F16 (f16 activations), F32: 16 lanes; lane l accumulates k = l, l+16, ... with fma(w_k, x_k, lane),
//            in order; then s8[i] = lane[i] + lane[i+8], s4[i] = s8[i] + s8[i+4],
//            s = (s4[0] + s4[2]) + (s4[1] + s4[3]); then for the k >= 16*floor(n/16) left over, in order,
//            s = fma(w_k, x_k, s).
#pragma once
#include <cstddef>
#include <cstdint>

#include "formats/formats.h"

namespace hybrid::ops {

// out[r] = canonical dot of row r with xq, for r < 4; rows are w, w + stride, w + 2*stride, w + 3*stride.
using Dot4Fn = void (*)(const uint8_t* w, size_t stride, const void* xq, int64_t n, float* out);

// The fastest four-row kernel for weights of format `f` on this CPU, or nullptr (use vec_dot per row).
Dot4Fn dot4_kernel(formats::Format f);
const char* dot4_isa();  // "avx512vnni", "avxvnni", "avx2" or "none"

}  // namespace hybrid::ops
