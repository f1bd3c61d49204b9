// The four-row matmul kernels compute what formats::vec_dot computes for each row, and matmul_rows over
// a whole matrix equals a plain loop of vec_dot, for every format with a kernel and every thread count.
#include <cmath>
#include <random>
#include <vector>

#include "backend/cpu/thread_pool.h"
#include "check.h"
#include "formats/formats.h"
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

}  // namespace

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
  for (Format f : {Format::F32, Format::F16, Format::Q8_0, Format::Q4_K}) {
    const int64_t rows = 37, cols = 256, T = 5;
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

TEST_MAIN()
