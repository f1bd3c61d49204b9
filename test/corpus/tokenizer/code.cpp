// RMS norm and a tiny matrix-vector product, the way a CPU kernel is first written.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <vector>

namespace demo {

template <typename T>
concept Floating = std::is_floating_point_v<T>;

template <Floating T>
void rms_norm(std::span<const T> x, std::span<const T> w, std::span<T> out, T eps = T(1e-5)) {
  if (x.size() != w.size() || x.size() != out.size()) throw std::invalid_argument("rms_norm: size mismatch");
  double ss = 0.0;
  for (T v : x) ss += double(v) * v;
  const T scale = T(1.0 / std::sqrt(ss / double(x.size()) + eps));
  for (size_t i = 0; i < x.size(); ++i) out[i] = x[i] * scale * w[i];
}

struct Matrix {
  int64_t rows = 0, cols = 0;
  std::vector<float> data;  // row-major
  float& operator()(int64_t r, int64_t c) { return data[size_t(r * cols + c)]; }
};

std::vector<float> matvec(const Matrix& m, const std::vector<float>& v) {
  std::vector<float> y(size_t(m.rows), 0.0f);
  for (int64_t r = 0; r < m.rows; ++r) {
    const float* row = m.data.data() + r * m.cols;
    float acc = 0.f;
#pragma omp simd reduction(+ : acc)
    for (int64_t c = 0; c < m.cols; ++c) acc += row[c] * v[size_t(c)];
    y[size_t(r)] = acc;
  }
  return y;
}

}  // namespace demo

int main(int argc, char** argv) {
  demo::Matrix m{2, 3, {1, 2, 3, 4, 5, 6}};
  auto y = demo::matvec(m, {1.f, 0.5f, -1.f});
  std::printf("%s: y = [%g, %g] (argc=%d)\n", argv[0], y[0], y[1], argc);
  return y[0] < 0 ? 1 : 0;  // a < b && c > d, x >>= 2; p->q; ::std::
}
