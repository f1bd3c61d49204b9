#include "ops/matmul.h"

#include <algorithm>
#include <stdexcept>

#include "formats/formats.h"
#include "ops/gemv_kernels.h"

namespace hybrid::ops {

void matmul(const gguf::Tensor& w, const float* x, int64_t n_tokens, float* y, cpu::ThreadPool& pool,
            MatmulScratch& scratch) {
  matmul_rows(w, 0, w.rows(), x, n_tokens, y, pool, scratch);
}

void matmul_rows(const gguf::Tensor& w, int64_t row_begin, int64_t row_end, const float* x, int64_t n_tokens,
                 float* y, cpu::ThreadPool& pool, MatmulScratch& scratch) {
  const int64_t cols = w.ne[0];
  const int64_t n_rows = row_end - row_begin;
  if (row_begin < 0 || row_end > w.rows() || n_rows <= 0) throw std::invalid_argument("matmul_rows: bad row range");
  const formats::Format fmt = w.format;
  const size_t xq_stride = formats::activation_bytes(fmt, cols);
  if (scratch.xq.size() < xq_stride * static_cast<size_t>(n_tokens)) scratch.xq.resize(xq_stride * n_tokens);
  uint8_t* xq = scratch.xq.data();
  // Convert each token's activations once (in parallel over tokens for prefill).
  pool.parallel_for(n_tokens, 1, [&](int64_t b, int64_t e, int) {
    for (int64_t t = b; t < e; ++t) formats::quantize_activations(fmt, x + t * cols, xq + t * xq_stride, cols);
  });
  const formats::VecDotFn dot = formats::vec_dot_fn(fmt);
  const Dot4Fn dot4 = dot4_kernel(fmt);
  const size_t w_stride = w.row_bytes();
  const uint8_t* w_base = w.data;
  // Rows are split across threads; within a thread, a tile of rows is applied to a block of tokens so
  // that weight rows stay in L1/L2 while the activations of the block stream past them.
  constexpr int64_t kRowTile = 16;
  constexpr int64_t kTokenBlock = 64;
  // At least ~64K MACs per thread; row ranges stay multiples of the tile.
  const int64_t grain = std::max<int64_t>(kRowTile, ((1 << 16) / std::max<int64_t>(1, cols * n_tokens)) / kRowTile * kRowTile);
  pool.parallel_for(n_rows, grain, [&](int64_t rb, int64_t re, int) {
    for (int64_t t0 = 0; t0 < n_tokens; t0 += kTokenBlock) {
      const int64_t t1 = std::min(n_tokens, t0 + kTokenBlock);
      for (int64_t r0 = rb; r0 < re; r0 += kRowTile) {
        const int64_t r1 = std::min(re, r0 + kRowTile);
        for (int64_t t = t0; t < t1; ++t) {
          const uint8_t* xt = xq + t * xq_stride;
          float* yt = y + t * n_rows;
          int64_t r = r0;
          if (dot4)
            for (; r + 4 <= r1; r += 4) dot4(w_base + (row_begin + r) * w_stride, w_stride, xt, cols, yt + r);
          for (; r < r1; ++r) yt[r] = dot(w_base + (row_begin + r) * w_stride, xt, cols);
        }
      }
    }
  });
}

}  // namespace hybrid::ops
