// Internal to formats/: the vec_dot kernels per instruction set. Each takes a weight row in format W
// and activations in format_info(W).vec_dot_type, n values (a multiple of the block size).
#pragma once
#include <cstdint>

#include "formats/formats.h"

namespace hybrid::formats::detail {

struct VecDotTable {
  VecDotFn f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k, q6_k;
};

const VecDotTable& scalar_kernels();
// nullptr when the build has no AVX2 code (non-x86 or a compiler without target attributes).
const VecDotTable* avx2_kernels();

}  // namespace hybrid::formats::detail
