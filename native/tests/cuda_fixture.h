// Helpers shared by the CUDA tests (test_cuda_engine, test_cuda_session): fixtures whose dimensions every
// weight format's blocks divide, a loaded temporary model file, relative logit differences, token ids.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model_fixture.h"
#include "runtime/engine.h"

namespace cuda_fixture {

using hybrid::formats::Format;
using hybrid::runtime::Model;

// Dimensions that every format's blocks divide (K-quants need rows of 256 values).
inline fixture::TinyModel wide_model(Format f, uint32_t seed = 7) {
  fixture::TinyModel m;
  m.pattern = "M-M*M-*M";
  m.E = 256;
  m.H = 8;
  m.P = 32;
  m.N = 16;
  m.G = 2;
  m.K = 4;
  m.nh = 8;
  m.nkv = 2;
  m.hd = 32;
  m.ff = 256;
  m.V = 160;
  m.mm = f;
  m.seed = seed;
  return m;
}

struct Loaded {
  fixture::TempFile file;
  std::shared_ptr<Model> model;
  explicit Loaded(const fixture::TinyModel& m, const std::string& tag) : file(m.write(tag)), model(Model::load(file.path)) {}
  explicit Loaded(std::string path) : file(std::move(path)), model(Model::load(file.path)) {}
};

inline double rel_diff(const float* a, const float* b, size_t n) {
  double max_ref = 0, max_diff = 0;
  for (size_t i = 0; i < n; ++i) {
    max_ref = std::max(max_ref, std::fabs(static_cast<double>(a[i])));
    const double d = std::fabs(static_cast<double>(a[i]) - b[i]);
    if (!(d <= max_diff)) max_diff = std::isfinite(d) ? d : INFINITY;
  }
  return max_ref > 0 ? max_diff / max_ref : max_diff;
}

inline int32_t argmax(const float* x, int64_t n) {
  int32_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (x[i] > x[best]) best = static_cast<int32_t>(i);
  return best;
}

inline std::vector<int32_t> prompt_tokens(int64_t n, int64_t V, int64_t salt = 0) {
  std::vector<int32_t> t(n);
  for (int64_t i = 0; i < n; ++i) t[i] = static_cast<int32_t>((i * 37 + 11 + salt * 101) % V);
  return t;
}

}  // namespace cuda_fixture
