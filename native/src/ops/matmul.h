// Matrix multiply of a model weight by activations: Y[t][r] = sum_c W[r][c] * X[t][c], t < T.
// W is a GGUF tensor in any file format (rows = ne[1..], cols = ne[0]), used in place from the map.
// Activations are first converted to the weight's vec_dot type (f16, bf16, Q8_0 or Q8_K), exactly as
// llama.cpp's ggml_compute_forward_mul_mat does, so the results match llama.cpp's to rounding.
#pragma once
#include <cstdint>
#include <vector>

#include "backend/cpu/thread_pool.h"
#include "gguf/gguf.h"

namespace hybrid::ops {

// Scratch that a caller keeps across calls so the decode loop never allocates after warm-up.
struct MatmulScratch {
  std::vector<uint8_t> xq;      // one-token path: converted activations
  std::vector<uint8_t> packed;  // many-token path: packed activation groups (64-byte aligned inside)
  std::vector<uint8_t> panels;  // many-token path: one weight panel per thread
};


void matmul(const gguf::Tensor& w, const float* x, int64_t n_tokens, float* y, cpu::ThreadPool& pool,
            MatmulScratch& scratch);

// Only rows [row_begin, row_end) of the output (e.g. the logits of a vocabulary slice); y has
// (row_end - row_begin) columns per token.
void matmul_rows(const gguf::Tensor& w, int64_t row_begin, int64_t row_end, const float* x, int64_t n_tokens,
                 float* y, cpu::ThreadPool& pool, MatmulScratch& scratch);

}  // namespace hybrid::ops
