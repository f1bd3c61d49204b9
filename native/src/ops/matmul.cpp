#include "ops/matmul.h"

#include <algorithm>
#include <stdexcept>

#include "formats/formats.h"
#include "ops/gemm_kernels.h"
#include "ops/gemv_kernels.h"

namespace hybrid::ops {

void matmul(const gguf::Tensor& w, const float* x, int64_t n_tokens, float* y, cpu::ThreadPool& pool,
            MatmulScratch& scratch) {
  matmul_rows(w, 0, w.rows(), x, n_tokens, y, pool, scratch);
}

namespace {

uint8_t* aligned(std::vector<uint8_t>& buf, size_t bytes) {
  if (buf.size() < bytes + 64) buf.resize(bytes + 64);
  const uintptr_t p = reinterpret_cast<uintptr_t>(buf.data());
  return buf.data() + ((64 - (p & 63)) & 63);
}

// Many tokens: pack the activations once (in passes whose packed size stays near the L2 cache), then
// every thread takes tiles of rows, packs each tile's weights once and runs all the pass's tokens on it.
void gemm_rows(const GemmKernel& gk, const gguf::Tensor& w, int64_t row_begin, int64_t n_rows, const float* x,
               int64_t n_tokens, float* y, cpu::ThreadPool& pool, MatmulScratch& scratch) {
  const int64_t cols = w.ne[0];
  const int64_t G = gk.group_tokens, R = gk.tile_rows;
  const size_t group_bytes = gk.group_bytes(cols), panel_bytes = (gk.panel_bytes(cols) + 63) / 64 * 64;
  const int64_t pass_groups = std::max<int64_t>(1, static_cast<int64_t>((size_t(1) << 20) / group_bytes));
  const int64_t n_groups_all = (n_tokens + G - 1) / G;
  uint8_t* packed = aligned(scratch.packed, std::min(pass_groups, n_groups_all) * group_bytes);
  uint8_t* panels = aligned(scratch.panels, panel_bytes * pool.size());
  const size_t w_stride = w.row_bytes();
  const uint8_t* w_base = w.data + row_begin * w_stride;
  const int64_t n_tiles = (n_rows + R - 1) / R;
  for (int64_t t0 = 0; t0 < n_tokens; t0 += pass_groups * G) {
    const int64_t nt = std::min(pass_groups * G, n_tokens - t0);
    const int64_t ng = (nt + G - 1) / G;
    pool.parallel_for(ng, 1, [&](int64_t b, int64_t e, int) {
      for (int64_t g = b; g < e; ++g)
        gk.pack_group(x + (t0 + g * G) * cols, cols, std::min(G, nt - g * G), cols, packed + g * group_bytes);
    });
    pool.parallel_for(n_tiles, 1, [&](int64_t b, int64_t e, int thread) {
      for (int64_t tile = b; tile < e; ++tile) {
        const int64_t r = tile * R;
        gk.run_tile(w_base + r * w_stride, w_stride, std::min(R, n_rows - r), packed, nt, cols, y + t0 * n_rows + r,
                    n_rows, panels + thread * panel_bytes);
      }
    });
  }
}

}  // namespace

void matmul_rows(const gguf::Tensor& w, int64_t row_begin, int64_t row_end, const float* x, int64_t n_tokens,
                 float* y, cpu::ThreadPool& pool, MatmulScratch& scratch) {
  const int64_t cols = w.ne[0];
  const int64_t n_rows = row_end - row_begin;
  if (row_begin < 0 || row_end > w.rows() || n_rows <= 0) throw std::invalid_argument("matmul_rows: bad row range");
  const formats::Format fmt = w.format;
  if (n_tokens > 1) {
    const GemmKernel* gk = gemm_kernel(fmt);
    if (gk && n_tokens >= gk->min_tokens) {
      gemm_rows(*gk, w, row_begin, n_rows, x, n_tokens, y, pool, scratch);
      return;
    }
  }
  const size_t xq_stride = formats::activation_bytes(fmt, cols);
  if (scratch.xq.size() < xq_stride * static_cast<size_t>(n_tokens)) scratch.xq.resize(xq_stride * n_tokens);
  uint8_t* xq = scratch.xq.data();
  // Convert each token's activations once (in parallel over tokens for prefill).
  const QuantizeFn quantize = quantize_kernel(fmt);
  pool.parallel_for(n_tokens, 1, [&](int64_t b, int64_t e, int) {
    for (int64_t t = b; t < e; ++t) {
      if (quantize) quantize(x + t * cols, xq + t * xq_stride, cols);
      else formats::quantize_activations(fmt, x + t * cols, xq + t * xq_stride, cols);
    }
  });
  const formats::VecDotFn dot = formats::vec_dot_fn(fmt);
  const Dot4Fn dot4 = dot4_kernel(fmt);
  const size_t w_stride = w.row_bytes();
  const uint8_t* w_base = w.data;
  // Rows are split across threads; within a thread, a tile of rows is applied to a block of tokens so
  // that weight rows stay in L1/L2 while the activations of the block stream past them.
  constexpr int64_t kRowTile = 16;
  constexpr int64_t kTokenBlock = 64;
  // Chunks of rows that threads take one at a time: at least ~64K MACs each, and about 16 per thread, so
  // that the last chunk to finish leaves the other threads idle only briefly; multiples of the tile.
  const int64_t grain = std::max<int64_t>(kRowTile, ((1 << 16) / std::max<int64_t>(1, cols * n_tokens)) / kRowTile * kRowTile);
  const int64_t per_thread = (n_rows + 16 * pool.size() - 1) / (16 * pool.size());
  const int64_t chunk = (std::max(grain, per_thread) + kRowTile - 1) / kRowTile * kRowTile;
  pool.parallel_chunks(n_rows, chunk, [&](int64_t rb, int64_t re, int) {
    for (int64_t t0 = 0; t0 < n_tokens; t0 += kTokenBlock) {
      const int64_t t1 = std::min(n_tokens, t0 + kTokenBlock);
      for (int64_t r0 = rb; r0 < re; r0 += kRowTile) {
        const int64_t r1 = std::min(re, r0 + kRowTile);
        for (int64_t t = t0; t < t1; ++t) {
          const uint8_t* xt = xq + t * xq_stride;
          float* yt = y + t * n_rows;
          int64_t r = r0;
          if (dot4) {
            for (; r + 4 <= r1; r += 4) dot4(w_base + (row_begin + r) * w_stride, w_stride, xt, cols, yt + r);
            // Rows left over: the same kernel on the row repeated four times (stride 0), so that every row
            // gets the canonical arithmetic.
            for (float tail[4]; r < r1; ++r) {
              dot4(w_base + (row_begin + r) * w_stride, 0, xt, cols, tail);
              yt[r] = tail[0];
            }
          }
          for (; r < r1; ++r) yt[r] = dot(w_base + (row_begin + r) * w_stride, xt, cols);
        }
      }
    }
  });
}

}  // namespace hybrid::ops
