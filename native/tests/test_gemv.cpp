// The four-row matmul kernels compute what formats::vec_dot computes for each row, and matmul_rows over
// a whole matrix equals a plain loop of vec_dot, for every format with a kernel and every thread count.
// The many-token kernels give bit-identical results to the four-row ones (the canonical arithmetic of
// gemv_kernels.h), for odd row counts, token counts that leave partial groups, and row lengths with tails.
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "backend/cpu/thread_pool.h"
#include "check.h"
#include "formats/formats.h"
#include "ops/gemm_kernels.h"
#include "ops/gemv_kernels.h"
#include "ops/matmul.h"

using namespace hybrid;
using formats::Format;

namespace {

std::vector<uint8_t> random_rows(Format f, int64_t rows, int64_t cols, std::mt19937& rng) {
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const size_t rb = formats::row_bytes(f, cols);
  std::vector<uint8_t> out(rb * rows);
  std::vector<float> tmp(cols);
  for (int64_t r = 0; r < rows; ++r) {
    for (auto& v : tmp) v = nd(rng);
    formats::quantize_row(f, tmp.data(), out.data() + r * rb, cols);
  }
  return out;
}

gguf::Tensor tensor_of(Format f, std::vector<uint8_t>& w, int64_t rows, int64_t cols) {
  gguf::Tensor t;
  t.format = f;
  t.n_dims = 2;
  t.ne[0] = cols;
  t.ne[1] = rows;
  t.nelements = rows * cols;
  t.nbytes = w.size();
  t.data = w.data();
  return t;
}

std::vector<float> random_x(int64_t n, std::mt19937& rng) {
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> x(n);
  for (auto& v : x) v = nd(rng);
  return x;
}

// One token through the four-row kernel (rows padded to a multiple of four by repeating the last row).
std::vector<float> dot4_reference(Format f, const std::vector<uint8_t>& w, int64_t rows, int64_t cols, const float* x) {
  ops::Dot4Fn k = ops::dot4_kernel(f);
  const size_t rb = formats::row_bytes(f, cols);
  std::vector<uint8_t> xq(formats::activation_bytes(f, cols));
  formats::quantize_activations(f, x, xq.data(), cols);
  std::vector<uint8_t> padded(w);
  while (static_cast<int64_t>(padded.size() / rb) % 4) padded.insert(padded.end(), w.end() - rb, w.end());
  std::vector<float> out(padded.size() / rb);
  for (size_t r = 0; r < out.size(); r += 4) k(padded.data() + r * rb, rb, xq.data(), cols, out.data() + r);
  out.resize(rows);
  return out;
}

int count_bit_mismatches(const float* a, const float* b, size_t n) {
  int bad = 0;
  for (size_t i = 0; i < n; ++i) bad += std::memcmp(&a[i], &b[i], 4) != 0;
  return bad;
}

}  // namespace

TEST("many-token kernels equal the four-row kernels bit for bit") {
  std::printf("  many-token kernels: %s\n", ops::gemm_isa());
  std::mt19937 rng(17);
  struct Case { Format f; std::vector<int64_t> cols; };
  const Case cases[] = {
      {Format::Q8_0, {32, 96, 1024, 4096}},
      {Format::Q4_K, {256, 768, 4096}},
      {Format::Q6_K, {256, 768, 2048}},
      {Format::F16, {16, 17, 100, 1024}},
      {Format::F32, {16, 33, 1000}},
  };
  int checked = 0;
  for (const Case& c : cases) {
    const ops::GemmKernel* gk = ops::gemm_kernel(c.f);
    if (!gk || !ops::dot4_kernel(c.f)) continue;
    for (int64_t cols : c.cols) {
      for (int64_t rows : {1, 3, 4, 7, 13}) {
        auto w = random_rows(c.f, rows, cols, rng);
        const size_t rb = formats::row_bytes(c.f, cols);
        for (int64_t T : {1, 5, 16, 17, 35}) {
          auto x = random_x(T * cols, rng);
          // pack all groups, run every tile
          const int64_t G = gk->group_tokens, n_groups = (T + G - 1) / G;
          std::vector<uint8_t> packed(n_groups * gk->group_bytes(cols));
          for (int64_t g = 0; g < n_groups; ++g)
            gk->pack_group(x.data() + g * G * cols, cols, std::min(G, T - g * G), cols, packed.data() + g * gk->group_bytes(cols));
          std::vector<uint8_t> panel(gk->panel_bytes(cols));
          const int64_t ldy = rows + 2;
          std::vector<float> y(T * ldy, -1.0f);
          for (int64_t r = 0; r < rows; r += gk->tile_rows)
            gk->run_tile(w.data() + r * rb, rb, std::min(gk->tile_rows, rows - r), packed.data(), T, cols, y.data() + r, ldy,
                         panel.data());
          for (int64_t t = 0; t < T; ++t) {
            auto want = dot4_reference(c.f, w, rows, cols, x.data() + t * cols);
            const int bad = count_bit_mismatches(y.data() + t * ldy, want.data(), rows);
            if (bad) std::printf("  %s cols %lld rows %lld T %lld token %lld: %d rows differ (%g vs %g)\n", formats::format_name(c.f),
                                 (long long)cols, (long long)rows, (long long)T, (long long)t, bad, y[t * ldy], want[0]);
            CHECK_EQ(bad, 0);
            CHECK(y[t * ldy + rows] == -1.0f && y[t * ldy + rows + 1] == -1.0f);  // nothing written past the rows
            ++checked;
          }
        }
      }
    }
  }
  std::printf("  %d token rows checked\n", checked);
}

TEST("many-token kernels quantize activations exactly like formats::quantize_row (ties, zeros, equal magnitudes)") {
  std::mt19937 rng(29);
  for (Format f : {Format::Q8_0, Format::Q4_K, Format::Q6_K}) {
    const ops::GemmKernel* gk = ops::gemm_kernel(f);
    if (!gk) continue;
    const int64_t cols = 512, rows = 8, T = 4;
    auto w = random_rows(f, rows, cols, rng);
    std::vector<float> x(T * cols);
    for (int64_t j = 0; j < cols; ++j) {
      // token 0: ties at half-integers with scale 1 (|x| max 127, the first of largest magnitude negative)
      x[j] = j % 32 == 0 ? -127.0f : j % 32 == 1 ? 127.0f : static_cast<float>(j % 254 - 127) + 0.5f;
      x[cols + j] = 0.0f;                                    // token 1: all zero
      x[2 * cols + j] = (j % 7 == 0) ? 1e-3f : -1e-3f;       // token 2: many equal magnitudes
      x[3 * cols + j] = static_cast<float>(j % 3) * 0.25f;   // token 3: non-negative, ties
    }
    std::vector<uint8_t> packed(gk->group_bytes(cols));
    gk->pack_group(x.data(), cols, T, cols, packed.data());
    std::vector<uint8_t> panel(gk->panel_bytes(cols));
    std::vector<float> y(T * rows);
    const size_t rb = formats::row_bytes(f, cols);
    for (int64_t r = 0; r < rows; r += gk->tile_rows)
      gk->run_tile(w.data() + r * rb, rb, gk->tile_rows, packed.data(), T, cols, y.data() + r, rows, panel.data());
    for (int64_t t = 0; t < T; ++t) {
      auto want = dot4_reference(f, w, rows, cols, x.data() + t * cols);
      CHECK_EQ(count_bit_mismatches(y.data() + t * rows, want.data(), rows), 0);
    }
  }
}

TEST("SIMD activation converters write formats::quantize_activations' bytes") {
  std::mt19937 rng(31);
  for (Format f : {Format::Q8_0, Format::Q4_K, Format::F16}) {
    ops::QuantizeFn q = ops::quantize_kernel(f);
    if (!q) continue;
    for (int64_t n : {256, 1024, 4096}) {
      std::vector<std::vector<float>> rows = {random_x(n, rng), std::vector<float>(n, 0.0f), std::vector<float>(n)};
      for (int64_t j = 0; j < n; ++j) rows[2][j] = j % 32 == 0 ? -127.0f : j % 32 == 1 ? 127.0f : static_cast<float>(j % 254 - 127) + 0.5f;
      for (auto& x : rows) {
        const size_t bytes = formats::activation_bytes(f, n);
        std::vector<uint8_t> want(bytes, 0xAB), got(bytes, 0xCD);
        formats::quantize_activations(f, x.data(), want.data(), n);
        q(x.data(), got.data(), n);
        CHECK(want == got);
      }
    }
  }
}

TEST("a batch through matmul equals its tokens one at a time, bit for bit, for any thread count") {
  std::mt19937 rng(23);
  for (Format f : {Format::F32, Format::F16, Format::Q8_0, Format::Q4_K, Format::Q6_K, Format::Q5_0}) {
    const int64_t rows = 45, cols = 512;
    auto w = random_rows(f, rows, cols, rng);
    gguf::Tensor t = tensor_of(f, w, rows, cols);
    for (int64_t T : {3, 6, 40}) {
      auto x = random_x(T * cols, rng);
      std::vector<float> one(T * rows);
      {
        cpu::ThreadPool pool(1);
        ops::MatmulScratch scratch;
        for (int64_t tok = 0; tok < T; ++tok) ops::matmul(t, x.data() + tok * cols, 1, one.data() + tok * rows, pool, scratch);
      }
      for (int threads : {1, 2, 3}) {
        cpu::ThreadPool pool(threads);
        ops::MatmulScratch scratch;
        std::vector<float> batch(T * rows);
        ops::matmul(t, x.data(), T, batch.data(), pool, scratch);
        const int bad = count_bit_mismatches(batch.data(), one.data(), batch.size());
        if (bad) std::printf("  %s T %lld threads %d: %d values differ\n", formats::format_name(f), (long long)T, threads, bad);
        CHECK_EQ(bad, 0);
        // and a row range
        std::vector<float> part(T * 20);
        ops::matmul_rows(t, 21, 41, x.data(), T, part.data(), pool, scratch);
        int bad_part = 0;
        for (int64_t tok = 0; tok < T; ++tok)
          bad_part += count_bit_mismatches(part.data() + tok * 20, one.data() + tok * rows + 21, 20);
        CHECK_EQ(bad_part, 0);
      }
    }
  }
}

TEST("dot4 kernels equal vec_dot row by row") {
  std::mt19937 rng(5);
  std::printf("  kernels: %s\n", ops::dot4_isa());
  for (Format f : {Format::F32, Format::F16, Format::Q8_0, Format::Q4_0, Format::Q4_K, Format::Q6_K}) {
    ops::Dot4Fn k = ops::dot4_kernel(f);
    if (!k) continue;
    for (int64_t cols : {256, 512, 1024, 4096}) {
      auto w = random_rows(f, 4, cols, rng);
      std::vector<float> x(cols);
      std::normal_distribution<float> nd(0.0f, 1.0f);
      for (auto& v : x) v = nd(rng);
      std::vector<uint8_t> xq(formats::activation_bytes(f, cols));
      formats::quantize_activations(f, x.data(), xq.data(), cols);
      float out[4];
      const size_t rb = formats::row_bytes(f, cols);
      k(w.data(), rb, xq.data(), cols, out);
      for (int r = 0; r < 4; ++r) {
        const float want = formats::vec_dot(f, w.data() + r * rb, xq.data(), cols);
        CHECK_NEAR(out[r], want, 1e-5 * (1.0 + std::fabs(want)) + 1e-4);
      }
    }
  }
}

TEST("matmul_rows equals vec_dot loops for any thread count, token count and row range") {
  std::mt19937 rng(9);
  for (Format f : {Format::F32, Format::F16, Format::Q8_0, Format::Q4_K, Format::Q6_K}) {
   for (int64_t T : {5, 40}) {
    const int64_t rows = 37, cols = 256;
    auto w = random_rows(f, rows, cols, rng);
    gguf::Tensor t;
    t.format = f;
    t.n_dims = 2;
    t.ne[0] = cols;
    t.ne[1] = rows;
    t.nelements = rows * cols;
    t.nbytes = w.size();
    t.data = w.data();
    std::vector<float> x(T * cols);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    for (auto& v : x) v = nd(rng);
    for (int threads : {1, 2, 3}) {
      cpu::ThreadPool pool(threads);
      ops::MatmulScratch scratch;
      std::vector<float> y(T * rows);
      ops::matmul(t, x.data(), T, y.data(), pool, scratch);
      std::vector<float> ys(T * 10);
      ops::matmul_rows(t, 20, 30, x.data(), T, ys.data(), pool, scratch);
      std::vector<uint8_t> xq(formats::activation_bytes(f, cols));
      for (int64_t tok = 0; tok < T; ++tok) {
        formats::quantize_activations(f, x.data() + tok * cols, xq.data(), cols);
        for (int64_t r = 0; r < rows; ++r) {
          const float want = formats::vec_dot(f, w.data() + r * formats::row_bytes(f, cols), xq.data(), cols);
          CHECK_NEAR(y[tok * rows + r], want, 1e-5 * (1.0 + std::fabs(want)) + 1e-4);
          if (r >= 20 && r < 30) CHECK_NEAR(ys[tok * 10 + (r - 20)], want, 1e-5 * (1.0 + std::fabs(want)) + 1e-4);
        }
      }
    }
   }
  }
}

TEST_MAIN()
