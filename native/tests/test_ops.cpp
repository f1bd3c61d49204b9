// The non-matmul ops (Mamba-2 conv, scan and gated norm, attention, element-wise rows) against plain
// double-precision references, for odd sizes that leave vector tails, several thread counts, and the
// property the session code relies on: a batch of tokens gives bit for bit what the same tokens give one
// at a time. Also the thread pool's chunking contract.
#include <atomic>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "backend/cpu/thread_pool.h"
#include "check.h"
#include "ops/attention.h"
#include "ops/elementwise.h"
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

double silu_d(double x) { return x / (1.0 + std::exp(-x)); }
double softplus_d(double x) { return x > 20.0 ? x : std::log1p(std::exp(x)); }

ops::SsmDims dims(int64_t H, int64_t P, int64_t N, int64_t G, int64_t K) {
  ops::SsmDims d;
  d.n_head = H;
  d.d_inner = H * P;
  d.d_state = N;
  d.n_group = G;
  d.d_conv = K;
  d.channels = d.d_inner + 2 * G * N;
  return d;
}

}  // namespace

TEST("ssm_conv equals the plain formula and is independent of batching and threads") {
  std::mt19937 rng(1);
  for (int64_t K : {2, 3, 4}) {
    for (int64_t H : {1, 3}) {
      const auto d = dims(H, 8, 16, 1, K);  // channels = 8H + 32: tails of 8 and 11 after 16-lane blocks
      const int64_t C = d.channels, stride = C + 5, T = 19;
      const auto x0 = randn(T * stride, rng), w = randn(C * K, rng, 0.5f), bias = randn(C, rng, 0.1f);
      const auto st0 = randn(C * (K - 1), rng);
      // reference
      std::vector<double> want(T * C), want_state(C * (K - 1));
      for (int64_t c = 0; c < C; ++c) {
        std::vector<double> win(st0.begin() + c * (K - 1), st0.begin() + (c + 1) * (K - 1));
        for (int64_t t = 0; t < T; ++t) {
          win.push_back(x0[t * stride + c]);
          double acc = 0;
          for (int64_t k = 0; k < K; ++k) acc += win[k] * w[c * K + k];
          win.erase(win.begin());
          want[t * C + c] = silu_d(acc + bias[c]);
        }
        for (int64_t k = 0; k < K - 1; ++k) want_state[c * (K - 1) + k] = win[k];
      }
      std::vector<float> batch_x, batch_st;
      for (int threads : {1, 2, 3}) {
        cpu::ThreadPool pool(threads);
        auto x = x0, st = st0;
        ops::ssm_conv(d, x.data(), T, stride, w.data(), bias.data(), st.data(), pool);
        double err = 0;
        for (int64_t t = 0; t < T; ++t)
          for (int64_t c = 0; c < C; ++c) err = std::max(err, std::fabs(x[t * stride + c] - want[t * C + c]));
        for (int64_t i = 0; i < C * (K - 1); ++i) CHECK(st[i] == static_cast<float>(want_state[i]));
        CHECK(err < 1e-5);
        for (int64_t t = 0; t < T; ++t) CHECK(x[t * stride + C] == x0[t * stride + C]);  // nothing past C
        if (threads == 1) {
          batch_x = x;
          batch_st = st;
        } else {
          CHECK(same_bits(x, batch_x));
          CHECK(same_bits(st, batch_st));
        }
        // token by token
        auto x1 = x0, st1 = st0;
        for (int64_t t = 0; t < T; ++t) ops::ssm_conv(d, x1.data() + t * stride, 1, stride, w.data(), bias.data(), st1.data(), pool);
        CHECK(same_bits(x1, batch_x));
        CHECK(same_bits(st1, batch_st));
      }
    }
  }
}

TEST("ssm_scan equals the plain recurrence and is independent of batching and threads") {
  std::mt19937 rng(2);
  struct Case { int64_t H, P, N, G; };
  for (const Case c : {Case{4, 8, 16, 2}, Case{2, 7, 64, 1}, Case{6, 16, 128, 3}, Case{3, 5, 24, 1}}) {
    const auto d = dims(c.H, c.P, c.N, c.G, 4);
    const int64_t Din = d.d_inner, GN = c.G * c.N, stride = d.channels + c.H + 3, T = 23;
    const auto xbc = randn(T * stride, rng, 0.7f);  // x | B | C | dt (dt at offset channels)
    const auto dt_bias = randn(c.H, rng, 0.5f), D = randn(c.H, rng);
    auto A = randn(c.H, rng);
    for (auto& a : A) a = -std::fabs(a) - 0.1f;
    const auto s0 = randn(Din * c.N, rng, 0.3f);
    const float* dt = xbc.data() + d.channels;
    // reference in double
    std::vector<double> st(s0.begin(), s0.end()), want(T * Din);
    for (int64_t t = 0; t < T; ++t) {
      const float* xt = xbc.data() + t * stride;
      for (int64_t h = 0; h < c.H; ++h) {
        const int64_t g = h / (c.H / c.G);
        const double dsp = softplus_d(dt[t * stride + h] + dt_bias[h]);
        const double dA = std::exp(dsp * A[h]);
        for (int64_t i = 0; i < c.P; ++i) {
          const double x = xt[h * c.P + i];
          double y = 0;
          for (int64_t n = 0; n < c.N; ++n) {
            double& s = st[(h * c.P + i) * c.N + n];
            s = s * dA + xt[Din + g * c.N + n] * x * dsp;
            y += s * xt[Din + GN + g * c.N + n];
          }
          want[t * Din + h * c.P + i] = y + x * D[h];
        }
      }
    }
    std::vector<float> batch_y, batch_s;
    for (int threads : {1, 2, 3}) {
      cpu::ThreadPool pool(threads);
      auto s = s0;
      std::vector<float> y(T * Din);
      ops::ssm_scan(d, xbc.data(), stride, dt, stride, dt_bias.data(), A.data(), D.data(), s.data(), y.data(), T, pool);
      double err = 0, scale = 0;
      for (int64_t i = 0; i < T * Din; ++i) {
        err = std::max(err, std::fabs(y[i] - want[i]));
        scale = std::max(scale, std::fabs(want[i]));
      }
      CHECK(err <= 1e-5 * (1 + scale));
      for (size_t i = 0; i < s.size(); ++i) CHECK(std::fabs(s[i] - st[i]) <= 1e-5 * (1 + std::fabs(st[i])));
      if (threads == 1) {
        batch_y = y;
        batch_s = s;
      } else {
        CHECK(same_bits(y, batch_y));
        CHECK(same_bits(s, batch_s));
      }
      auto s1 = s0;
      std::vector<float> y1(T * Din);
      for (int64_t t = 0; t < T; ++t)
        ops::ssm_scan(d, xbc.data() + t * stride, stride, dt + t * stride, stride, dt_bias.data(), A.data(), D.data(),
                      s1.data(), y1.data() + t * Din, 1, pool);
      CHECK(same_bits(y1, batch_y));
      CHECK(same_bits(s1, batch_s));
    }
  }
}

TEST("ssm_gate_norm equals y * silu(z) then the grouped RMSNorm") {
  std::mt19937 rng(3);
  for (int64_t G : {1, 3}) {
    const auto d = dims(G * 2, 11, 16, G, 4);  // groups of 22 values: tails
    const int64_t Din = d.d_inner, T = 5, zs = Din + 7;
    const auto y0 = randn(T * Din, rng), z = randn(T * zs, rng), w = randn(Din, rng);
    cpu::ThreadPool pool(2);
    auto y = y0;
    ops::ssm_gate_norm(d, y.data(), T, z.data(), zs, w.data(), 1e-5f, pool);
    const int64_t gs = Din / G;
    for (int64_t t = 0; t < T; ++t)
      for (int64_t g = 0; g < G; ++g) {
        std::vector<double> v(gs);
        double ss = 0;
        for (int64_t i = 0; i < gs; ++i) {
          v[i] = y0[t * Din + g * gs + i] * silu_d(z[t * zs + g * gs + i]);
          ss += v[i] * v[i];
        }
        const double scale = 1.0 / std::sqrt(ss / gs + 1e-5);
        for (int64_t i = 0; i < gs; ++i) {
          const double want = v[i] * scale * w[g * gs + i];
          CHECK_NEAR(y[t * Din + g * gs + i], want, 1e-5 * (1 + std::fabs(want)));
        }
      }
    // one token at a time gives the same bits
    auto y1 = y0;
    for (int64_t t = 0; t < T; ++t) ops::ssm_gate_norm(d, y1.data() + t * Din, 1, z.data() + t * zs, zs, w.data(), 1e-5f, pool);
    CHECK(same_bits(y1, y));
  }
}

TEST("attention equals softmax(q k / sqrt(d)) v with GQA, and a batch equals its tokens one by one") {
  std::mt19937 rng(4);
  struct Case { int64_t nh, nkv, hd; };
  for (const Case c : {Case{4, 2, 16}, Case{3, 1, 20}, Case{8, 2, 128}}) {
    const int64_t past = 6, T = 9, ctx = past + T, kvs = c.nkv * c.hd, qs = c.nh * c.hd;
    const auto q = randn(T * qs, rng), k = randn(ctx * kvs, rng), v = randn(ctx * kvs, rng);
    const float scale = 1.0f / std::sqrt(static_cast<float>(c.hd));
    std::vector<float> batch;
    for (int threads : {1, 3}) {
      cpu::ThreadPool pool(threads);
      ops::AttentionScratch scratch;
      std::vector<float> out(T * qs);
      ops::attention(q.data(), T, past, k.data(), v.data(), c.nh, c.nkv, c.hd, scale, out.data(), pool, scratch);
      for (int64_t t = 0; t < T; ++t)
        for (int64_t h = 0; h < c.nh; ++h) {
          const int64_t kvh = h / (c.nh / c.nkv), len = past + t + 1;
          std::vector<double> p(len);
          double mx = -1e300, sum = 0;
          for (int64_t j = 0; j < len; ++j) {
            double dot = 0;
            for (int64_t i = 0; i < c.hd; ++i) dot += double(q[t * qs + h * c.hd + i]) * k[j * kvs + kvh * c.hd + i];
            p[j] = dot * scale;
            mx = std::max(mx, p[j]);
          }
          for (auto& x : p) sum += (x = std::exp(x - mx));
          for (int64_t i = 0; i < c.hd; ++i) {
            double o = 0;
            for (int64_t j = 0; j < len; ++j) o += p[j] / sum * v[j * kvs + kvh * c.hd + i];
            CHECK_NEAR(out[t * qs + h * c.hd + i], o, 1e-5);
          }
        }
      if (threads == 1) batch = out;
      else CHECK(same_bits(out, batch));
      std::vector<float> one(T * qs);
      for (int64_t t = 0; t < T; ++t)
        ops::attention(q.data() + t * qs, 1, past + t, k.data(), v.data(), c.nh, c.nkv, c.hd, scale, one.data() + t * qs, pool,
                       scratch);
      CHECK(same_bits(one, batch));
    }
  }
}

TEST("row ops: rms_norm_rows, relu_sqr, add_to") {
  std::mt19937 rng(5);
  for (int64_t n : {1, 15, 16, 17, 1000}) {
    const auto x = randn(3 * n, rng), w = randn(n, rng);
    std::vector<float> y(3 * n), want(3 * n);
    ops::rms_norm_rows(x.data(), w.data(), 3, n, 1e-6f, y.data());
    for (int64_t r = 0; r < 3; ++r) ops::rms_norm(x.data() + r * n, w.data(), n, 1e-6f, want.data() + r * n);
    for (int64_t i = 0; i < 3 * n; ++i) CHECK_NEAR(y[i], want[i], 1e-6 * (1 + std::fabs(want[i])));
    auto r = x;
    ops::relu_sqr(r.data(), 3 * n);
    for (int64_t i = 0; i < 3 * n; ++i) CHECK(r[i] == (x[i] > 0 ? x[i] * x[i] : 0.0f));
    auto h = x;
    ops::add_to(h.data(), r.data(), 3 * n);
    for (int64_t i = 0; i < 3 * n; ++i) CHECK(h[i] == x[i] + r[i]);
  }
}

TEST("thread pool: every index exactly once, for any size, grain and thread count; jobs back to back") {
  for (int threads : {1, 2, 3, 5}) {
    cpu::ThreadPool pool(threads);
    for (int64_t n : {0, 1, 2, 7, 64, 1000, 4097}) {
      for (int64_t grain : {1, 3, 64}) {
        std::vector<std::atomic<int>> hits(n);
        for (auto& h : hits) h = 0;
        std::atomic<bool> bad_thread{false};
        pool.parallel_for(n, grain, [&](int64_t b, int64_t e, int t) {
          if (t < 0 || t >= pool.size()) bad_thread = true;
          for (int64_t i = b; i < e; ++i) hits[i]++;
        });
        bool ok = !bad_thread;
        for (auto& h : hits) ok = ok && h == 1;
        CHECK(ok);
      }
    }
    // many tiny jobs in a row (the decode pattern), with per-thread accumulation
    std::vector<int64_t> per_thread(pool.size(), 0);
    for (int rep = 0; rep < 2000; ++rep)
      pool.parallel_chunks(10, 1, [&](int64_t b, int64_t e, int t) { per_thread[t] += e - b; });
    int64_t total = 0;
    for (auto v : per_thread) total += v;
    CHECK_EQ(total, 20000);
    std::vector<std::atomic<int>> ran(pool.size());
    for (auto& r : ran) r = 0;
    pool.run([&](int i) { ran[i]++; });
    bool all_once = true;
    for (auto& r : ran) all_once = all_once && r == 1;
    CHECK(all_once);
  }
}

TEST_MAIN()
