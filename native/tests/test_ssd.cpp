// The chunked (SSD) form of the Mamba-2 scan against the sequential recurrence and a float64 reference:
// random inputs, token counts that are and are not multiples of the chunk, 1 / 2 / 8 groups, the state
// carried across calls, decode (one token at a time) after a chunked prefill, each kernel set (the best
// the CPU has, AVX2, portable), and results that do not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "backend/cpu/thread_pool.h"
#include "check.h"
#include "ops/ssm.h"

using namespace hybrid;

namespace {

std::vector<float> randn(size_t n, std::mt19937& rng, float sd = 1.0f) {
  std::normal_distribution<float> nd(0.0f, sd);
  std::vector<float> v(n);
  for (auto& x : v) x = nd(rng);
  return v;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * 4) == 0;
}

double softplus_d(double x) { return x > 20.0 ? x : std::log1p(std::exp(x)); }

// One layer's scan inputs: xbc rows of [x | B | C | dt | 3 spare] (dt inside the row, as the engine's).
struct Problem {
  ops::SsmDims d;
  int64_t stride = 0, T = 0;
  std::vector<float> xbc, dt_bias, A, D, s0;
  const float* dt() const { return xbc.data() + d.channels; }
};

Problem make(int64_t H, int64_t P, int64_t N, int64_t G, int64_t T, std::mt19937& rng, float dt_shift = 0.0f) {
  Problem p;
  p.d.n_head = H;
  p.d.d_inner = H * P;
  p.d.d_state = N;
  p.d.n_group = G;
  p.d.d_conv = 4;
  p.d.channels = p.d.d_inner + 2 * G * N;
  p.stride = p.d.channels + H + 3;
  p.T = T;
  p.xbc = randn(T * p.stride, rng, 0.7f);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t h = 0; h < H; ++h) p.xbc[t * p.stride + p.d.channels + h] += dt_shift;
  p.dt_bias = randn(H, rng, 0.5f);
  p.D = randn(H, rng);
  p.A = randn(H, rng);
  for (auto& a : p.A) a = -std::fabs(a) - 0.1f;
  p.s0 = randn(p.d.d_inner * N, rng, 0.3f);
  return p;
}

// The recurrence in double over tokens [t0, t1), from state st (updated); writes want[t][Din].
void reference(const Problem& p, int64_t t0, int64_t t1, std::vector<double>& st, std::vector<double>& want) {
  const auto& d = p.d;
  const int64_t H = d.n_head, P = d.head_dim(), N = d.d_state, G = d.n_group, Din = d.d_inner, GN = G * N;
  for (int64_t t = t0; t < t1; ++t) {
    const float* xt = p.xbc.data() + t * p.stride;
    for (int64_t h = 0; h < H; ++h) {
      const int64_t g = h / (H / G);
      const double dsp = softplus_d(p.dt()[t * p.stride + h] + p.dt_bias[h]);
      const double dA = std::exp(dsp * p.A[h]);
      for (int64_t i = 0; i < P; ++i) {
        const double x = xt[h * P + i];
        double y = 0;
        for (int64_t n = 0; n < N; ++n) {
          double& s = st[(h * P + i) * N + n];
          s = s * dA + xt[Din + g * N + n] * x * dsp;
          y += s * xt[Din + GN + g * N + n];
        }
        want[t * Din + h * P + i] = y + x * p.D[h];
      }
    }
  }
}

// max |got - want| / (1 + max |want|)
template <typename W>
double rel_err(const std::vector<float>& got, const std::vector<W>& want, size_t begin = 0, size_t end = SIZE_MAX) {
  end = std::min(end, got.size());
  double err = 0, scale = 0;
  for (size_t i = begin; i < end; ++i) {
    err = std::max(err, std::fabs(double(got[i]) - double(want[i])));
    scale = std::max(scale, std::fabs(double(want[i])));
  }
  return err / (1 + scale);
}

void chunked(const Problem& p, int64_t t0, int64_t n, std::vector<float>& s, std::vector<float>& y,
             cpu::ThreadPool& pool, int64_t L, ops::SsdIsa isa) {
  ops::ssm_scan_chunked(p.d, p.xbc.data() + t0 * p.stride, p.stride, p.dt() + t0 * p.stride, p.stride,
                        p.dt_bias.data(), p.A.data(), p.D.data(), s.data(), y.data() + t0 * p.d.d_inner, n, pool, L,
                        isa);
}

void sequential(const Problem& p, int64_t t0, int64_t n, std::vector<float>& s, std::vector<float>& y,
                cpu::ThreadPool& pool) {
  ops::ssm_scan_sequential(p.d, p.xbc.data() + t0 * p.stride, p.stride, p.dt() + t0 * p.stride, p.stride,
                           p.dt_bias.data(), p.A.data(), p.D.data(), s.data(), y.data() + t0 * p.d.d_inner, n, pool);
}

constexpr ops::SsdIsa kIsas[] = {ops::SsdIsa::Best, ops::SsdIsa::Avx2, ops::SsdIsa::Portable};

}  // namespace

TEST("chunked scan equals the float64 recurrence and the sequential scan (groups 1/2/8, odd lengths)") {
  std::mt19937 rng(7);
  struct Case { int64_t H, P, N, G, T, L; };
  for (const Case c : {Case{8, 16, 32, 1, 200, 64}, Case{8, 7, 16, 2, 131, 64}, Case{16, 12, 64, 8, 77, 32},
                       Case{8, 80, 128, 8, 150, 64}, Case{4, 33, 24, 2, 64, 64}, Case{6, 5, 48, 3, 9, 128},
                       Case{4, 16, 16, 1, 300, 256}, Case{2, 20, 16, 2, 5, 1}}) {
    Problem p = make(c.H, c.P, c.N, c.G, c.T, rng);
    const int64_t Din = p.d.d_inner;
    std::vector<double> st(p.s0.begin(), p.s0.end()), want(c.T * Din);
    reference(p, 0, c.T, st, want);
    std::vector<float> ys(c.T * Din), ss = p.s0;
    {
      cpu::ThreadPool pool(1);
      sequential(p, 0, c.T, ss, ys, pool);
    }
    for (ops::SsdIsa isa : kIsas) {
      std::vector<float> first_y, first_s;
      for (int threads : {1, 2, 3}) {
        cpu::ThreadPool pool(threads);
        std::vector<float> y(c.T * Din), s = p.s0;
        chunked(p, 0, c.T, s, y, pool, c.L, isa);
        const double ey = rel_err(y, want), es = rel_err(s, st), eq = rel_err(y, ys), eqs = rel_err(s, ss);
        CHECK(ey <= 2e-6);
        CHECK(es <= 2e-6);
        CHECK(eq <= 2e-6);
        CHECK(eqs <= 2e-6);
        if (getenv("SSD_VERBOSE") || ey > 2e-6 || es > 2e-6)
          std::printf("  H%lld P%lld N%lld G%lld T%lld L%lld isa %d: y err %.2e, state err %.2e\n", (long long)c.H,
                      (long long)c.P, (long long)c.N, (long long)c.G, (long long)c.T, (long long)c.L, int(isa), ey, es);
        if (threads == 1) {
          first_y = y;
          first_s = s;
        } else {  // the split over threads never changes a bit
          CHECK(same_bits(y, first_y));
          CHECK(same_bits(s, first_s));
        }
      }
    }
  }
}

TEST("chunked scan: state carried across calls, then decode equals the sequential scan") {
  std::mt19937 rng(11);
  for (int64_t G : {1, 2, 8}) {
    Problem p = make(16, 24, 64, G, 260, rng);
    const int64_t Din = p.d.d_inner, T = p.T;
    std::vector<double> st(p.s0.begin(), p.s0.end()), want(T * Din);
    reference(p, 0, T, st, want);
    cpu::ThreadPool pool(2);
    // prefill in uneven calls (chunked: 100 = 64 + 36, then 71, then 3), then decode token by token
    std::vector<float> y(T * Din), s = p.s0;
    chunked(p, 0, 100, s, y, pool, 64, ops::SsdIsa::Best);
    chunked(p, 100, 71, s, y, pool, 64, ops::SsdIsa::Best);
    chunked(p, 171, 3, s, y, pool, 64, ops::SsdIsa::Best);
    for (int64_t t = 174; t < T; ++t) sequential(p, t, 1, s, y, pool);
    CHECK(rel_err(y, want) <= 2e-6);
    CHECK(rel_err(s, st) <= 2e-6);
    // the same through ssm_scan, which picks the form by length, against the sequential scan
    std::vector<float> y2(T * Din), s2 = p.s0, y3(T * Din), s3 = p.s0;
    const int64_t n1 = std::min<int64_t>(ops::ssm_scan_chunked_min_tokens() + 13, 150);
    ops::ssm_scan(p.d, p.xbc.data(), p.stride, p.dt(), p.stride, p.dt_bias.data(), p.A.data(), p.D.data(), s2.data(),
                  y2.data(), n1, pool);
    for (int64_t t = n1; t < T; ++t)
      ops::ssm_scan(p.d, p.xbc.data() + t * p.stride, p.stride, p.dt() + t * p.stride, p.stride, p.dt_bias.data(),
                    p.A.data(), p.D.data(), s2.data(), y2.data() + t * Din, 1, pool);
    sequential(p, 0, T, s3, y3, pool);
    CHECK(rel_err(y2, y3) <= 2e-6);
    CHECK(rel_err(s2, s3) <= 2e-6);
    // decode steps after the chunked prefill are the sequential arithmetic from the same state: bit for bit
    std::vector<float> sa = p.s0, sb, ya(T * Din), yb(T * Din);
    chunked(p, 0, 128, sa, ya, pool, 64, ops::SsdIsa::Best);
    sb = sa;
    for (int64_t t = 128; t < 140; ++t) {
      ops::ssm_scan(p.d, p.xbc.data() + t * p.stride, p.stride, p.dt() + t * p.stride, p.stride, p.dt_bias.data(),
                    p.A.data(), p.D.data(), sa.data(), ya.data() + t * Din, 1, pool);
    }
    sequential(p, 128, 12, sb, yb, pool);
    CHECK(same_bits(sa, sb));
    CHECK(std::memcmp(ya.data() + 128 * Din, yb.data() + 128 * Din, 12 * Din * 4) == 0);
  }
}

TEST("chunked scan with strong and weak decay (dt large, dt tiny): no overflow, same numbers") {
  std::mt19937 rng(5);
  for (float shift : {-12.0f, 6.0f, 25.0f}) {
    Problem p = make(8, 16, 32, 2, 190, rng, shift);
    const int64_t Din = p.d.d_inner;
    std::vector<double> st(p.s0.begin(), p.s0.end()), want(p.T * Din);
    reference(p, 0, p.T, st, want);
    cpu::ThreadPool pool(2);
    for (ops::SsdIsa isa : kIsas) {
      std::vector<float> y(p.T * Din), s = p.s0;
      chunked(p, 0, p.T, s, y, pool, 64, isa);
      bool finite = true;
      for (float v : y) finite = finite && std::isfinite(v);
      for (float v : s) finite = finite && std::isfinite(v);
      CHECK(finite);
      CHECK(rel_err(y, want) <= 2e-6);
      CHECK(rel_err(s, st) <= 2e-6);
    }
  }
}

TEST_MAIN()
