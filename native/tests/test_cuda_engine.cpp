// Conformance of the CUDA engine against the CPU engine on tiny random-weight fixtures: logits of a prompt
// (every position), decode steps, greedy generation, snapshots, errors. Without a usable CUDA device (or in a
// build without the CUDA backend) it prints one "skipped" line and succeeds.
//
// Tolerances: max |logit_gpu - logit_cpu| / max |logit_cpu| per check. The GPU matmul has two paths
// (cuda_matmul.h): GEMV for n <= 8 rows, f32 activations; tensor-core GEMM for more rows, activations rounded
// to f16/bf16. So: F32 weights through the GEMV path (engines with max_batch 8, and every decode step): 1e-4
// (only the order of f32 sums differs). Any prompt read through the GEMM path, and every other format: 2e-2
// (the CPU rounds activations to llama.cpp's vec_dot types, the GPU to its own).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "backend/cuda/cuda_engine.h"
#include "check.h"
#include "model_fixture.h"
#include "runtime/engine.h"
#include "util/error.h"

namespace {

using hybrid::cuda::CudaEngine;
using hybrid::formats::Format;
using hybrid::runtime::Engine;
using hybrid::runtime::Logits;
using hybrid::runtime::Model;

// Dimensions that every format's blocks divide (K-quants need rows of 256 values).
fixture::TinyModel wide_model(Format f, uint32_t seed = 7) {
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
};

double rel_diff(const float* a, const float* b, size_t n) {
  double max_ref = 0, max_diff = 0;
  for (size_t i = 0; i < n; ++i) {
    max_ref = std::max(max_ref, std::fabs(static_cast<double>(a[i])));
    const double d = std::fabs(static_cast<double>(a[i]) - b[i]);
    if (!(d <= max_diff)) max_diff = std::isfinite(d) ? d : INFINITY;
  }
  return max_ref > 0 ? max_diff / max_ref : max_diff;
}

int32_t argmax(const float* x, int64_t n) {
  int32_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (x[i] > x[best]) best = static_cast<int32_t>(i);
  return best;
}

std::vector<int32_t> prompt_tokens(int64_t n, int64_t V, int64_t salt = 0) {
  std::vector<int32_t> t(n);
  for (int64_t i = 0; i < n; ++i) t[i] = static_cast<int32_t>((i * 37 + 11 + salt * 101) % V);
  return t;
}

// Prompt logits (all positions) and 20 decode steps against the CPU; greedy generation of 64 tokens.
// tol: decode steps (and, for F32, a prompt read in batches of 8); the 40-token batch is always 2e-2.
void conformance(Format f, double tol, bool greedy_identical) {
  Loaded L(wide_model(f), hybrid::formats::format_name(f));
  const int64_t V = L.model->hp().n_vocab;
  Engine cpu(L.model, 2);
  CudaEngine gpu(L.model);
  const auto prompt = prompt_tokens(40, V);
  const double tol_gemm = std::max(tol, 2e-2);

  {  // the prompt in batches of 8 (the GEMV path, every kernel of the engine over several tokens)
    CudaEngine gpu8(L.model, 0, 8);
    auto cs = cpu.new_state(64);
    auto gs = gpu8.new_state(64);
    std::vector<float> ref(40 * V), got(40 * V, NAN);
    cpu.eval(cs, prompt.data(), 40, Logits::All, ref.data());
    gpu8.eval(gs, prompt.data(), 40, Logits::All, got.data());
    const double d = rel_diff(ref.data(), got.data(), ref.size());
    std::printf("  %s: prompt logits, batches of 8, rel diff %.3g (tol %.0e)\n", hybrid::formats::format_name(f), d, tol);
    CHECK(d <= tol);
  }

  auto cs = cpu.new_state(128);
  auto gs = gpu.new_state(128);
  std::vector<float> ref(40 * V), got(40 * V, NAN);
  cpu.eval(cs, prompt.data(), 40, Logits::All, ref.data());
  gpu.eval(gs, prompt.data(), 40, Logits::All, got.data());
  const double d_prompt = rel_diff(ref.data(), got.data(), ref.size());
  std::printf("  %s: prompt logits, one batch of 40, rel diff %.3g (tol %.0e)\n", hybrid::formats::format_name(f), d_prompt,
              tol_gemm);
  CHECK(d_prompt <= tol_gemm);
  CHECK_EQ(gs.n_past(), int64_t{40});

  double d_decode = 0;
  std::vector<float> r1(V), g1(V, NAN);
  int32_t tok = argmax(ref.data() + 39 * V, V);
  for (int step = 0; step < 20; ++step) {
    cpu.eval(cs, &tok, 1, Logits::Last, r1.data());
    gpu.eval(gs, &tok, 1, Logits::Last, g1.data());
    d_decode = std::max(d_decode, rel_diff(r1.data(), g1.data(), V));
    tok = argmax(r1.data(), V);
  }
  std::printf("  %s: 20 decode steps max rel diff %.3g (tol %.0e)\n", hybrid::formats::format_name(f), d_decode, tol);
  CHECK(d_decode <= tol);
  CHECK_EQ(gs.n_past(), int64_t{60});

  if (greedy_identical) {  // batches of 8 (GEMV path: no f16 rounding of activations in the prompt)
    CudaEngine gpu8(L.model, 0, 8);
    auto c2 = cpu.new_state(128);
    auto g2 = gpu8.new_state(128);
    std::vector<float> l(V);
    std::vector<int32_t> a, b;
    cpu.eval(c2, prompt.data(), 40, Logits::Last, l.data());
    int32_t ct = argmax(l.data(), V);
    int32_t gt = gpu8.eval_greedy(g2, prompt.data(), 40);
    for (int i = 0; i < 64; ++i) {
      a.push_back(ct);
      b.push_back(gt);
      if (i + 1 == 64) break;
      cpu.eval(c2, &ct, 1, Logits::Last, l.data());
      ct = argmax(l.data(), V);
      gt = gpu8.eval_greedy(g2, &gt, 1);
    }
    int first_diff = -1;
    for (int i = 0; i < 64 && first_diff < 0; ++i)
      if (a[i] != b[i]) first_diff = i;
    std::printf("  %s: greedy 64 tokens %s\n", hybrid::formats::format_name(f),
                first_diff < 0 ? "identical" : ("differ at " + std::to_string(first_diff)).c_str());
    CHECK(first_diff < 0);
  }
}

TEST("F32: prompt logits, 20 decode steps and 64 greedy tokens match the CPU (tol 1e-4)") { conformance(Format::F32, 1e-4, true); }
TEST("F16: prompt logits, 20 decode steps and 64 greedy tokens match the CPU (tol 2e-2)") { conformance(Format::F16, 2e-2, true); }
TEST("BF16: prompt logits and 20 decode steps match the CPU (tol 2e-2)") { conformance(Format::BF16, 2e-2, false); }
TEST("Q8_0: prompt logits and 20 decode steps match the CPU (tol 2e-2)") { conformance(Format::Q8_0, 2e-2, false); }
TEST("Q4_K: prompt logits and 20 decode steps match the CPU (tol 2e-2)") { conformance(Format::Q4_K, 2e-2, false); }
TEST("Q6_K: prompt logits and 20 decode steps match the CPU (tol 2e-2)") { conformance(Format::Q6_K, 2e-2, false); }
TEST("Q5_K (converted at upload): prompt logits and 20 decode steps match the CPU (tol 2e-2)") {
  conformance(Format::Q5_K, 2e-2, false);
}

TEST("batches of max_batch 7 match the CPU; Logits::None then Last gives the last row of All") {
  Loaded L(wide_model(Format::F32), "batch");
  const int64_t V = L.model->hp().n_vocab;
  Engine cpu(L.model, 2);
  CudaEngine small(L.model, 0, 7);
  const auto prompt = prompt_tokens(40, V, 1);
  std::vector<float> a(40 * V), b(40 * V, NAN), c(V, NAN);
  auto s1 = cpu.new_state(64);
  auto s2 = small.new_state(64);
  cpu.eval(s1, prompt.data(), 40, Logits::All, a.data());
  small.eval(s2, prompt.data(), 40, Logits::All, b.data());
  const double d = rel_diff(a.data(), b.data(), a.size());
  std::printf("  batches of 7 vs CPU: rel diff %.3g\n", d);
  CHECK(d <= 1e-4);
  auto s3 = small.new_state(64);
  small.eval(s3, prompt.data(), 39, Logits::None, nullptr);
  small.eval(s3, prompt.data() + 39, 1, Logits::Last, c.data());
  CHECK(rel_diff(b.data() + 39 * V, c.data(), V) <= 1e-5);
  CHECK_EQ(s3.n_past(), int64_t{40});
}

TEST("decode with and without CUDA graphs gives the same logits, across KV growth past 256 rows (split-K)") {
  Loaded L(wide_model(Format::F32, 11), "graph");
  const int64_t V = L.model->hp().n_vocab;
  Engine cpu(L.model, 2);
  CudaEngine g(L.model, 0, 8), p(L.model, 0, 8);  // batches of 8: the f32 GEMV path, comparable at 1e-4
  p.set_graphs_enabled(false);
  const auto prompt = prompt_tokens(250, V, 2);
  auto cs = cpu.new_state(2048);  // n_ctx 2048: 8 attention splits per decode step
  auto gs = g.new_state(2048);
  auto ps = p.new_state(2048);
  std::vector<float> r(V), a(V), b(V);
  cpu.eval(cs, prompt.data(), 250, Logits::Last, r.data());
  g.eval(gs, prompt.data(), 250, Logits::Last, a.data());
  p.eval(ps, prompt.data(), 250, Logits::Last, b.data());
  double d_cpu = rel_diff(r.data(), a.data(), V), d_plain = 0;
  for (int step = 0; step < 12; ++step) {  // n_past 250 -> 262: the KV caches grow (and the graph is recaptured)
    int32_t tok = argmax(r.data(), V);
    cpu.eval(cs, &tok, 1, Logits::Last, r.data());
    g.eval(gs, &tok, 1, Logits::Last, a.data());
    p.eval(ps, &tok, 1, Logits::Last, b.data());
    d_cpu = std::max(d_cpu, rel_diff(r.data(), a.data(), V));
    d_plain = std::max(d_plain, rel_diff(b.data(), a.data(), V));
  }
  std::printf("  graphs %s; vs CPU %.3g, graph vs plain %.3g\n", g.graphs_enabled() ? "on" : "OFF (capture failed)", d_cpu, d_plain);
  CHECK(g.graphs_enabled());
  CHECK(d_cpu <= 1e-4);
  CHECK(d_plain <= 1e-6);
}

TEST("recurrent state: same bytes/layout as the CPU; host save/load and device snapshots + truncate re-read exactly") {
  Loaded L(wide_model(Format::F32, 3), "snap");
  const int64_t V = L.model->hp().n_vocab;
  Engine cpu(L.model, 2);
  CudaEngine gpu(L.model, 0, 8);
  const auto a = prompt_tokens(24, V, 3), x = prompt_tokens(16, V, 4), y = prompt_tokens(16, V, 5);
  auto cs = cpu.new_state(64);
  auto gs = gpu.new_state(64);
  CHECK_EQ(gpu.recurrent_bytes(), cs.recurrent_bytes());
  cpu.eval(cs, a.data(), 24, Logits::None, nullptr);
  gpu.eval(gs, a.data(), 24, Logits::None, nullptr);
  std::vector<float> rc(cs.recurrent_bytes() / 4), rg(gpu.recurrent_bytes() / 4, NAN);
  cs.save_recurrent(rc.data());
  gpu.save_recurrent(gs, rg.data());
  const double d_state = rel_diff(rc.data(), rg.data(), rc.size());
  std::printf("  recurrent state after 24 tokens vs CPU: rel diff %.3g\n", d_state);
  CHECK(d_state <= 1e-4);

  // fresh: a then y
  auto fs = gpu.new_state(64);
  std::vector<float> fresh(V), l1(V, NAN), l2(V, NAN);
  gpu.eval(fs, a.data(), 24, Logits::None, nullptr);
  gpu.eval(fs, y.data(), 16, Logits::Last, fresh.data());

  // host snapshot: a, save, x, load + truncate, y
  gpu.reserve_snapshots(gs, 2);
  gpu.save_snapshot(gs, 1);
  gpu.eval(gs, x.data(), 16, Logits::None, nullptr);
  CHECK_EQ(gs.n_past(), int64_t{40});
  gpu.load_recurrent(gs, rg.data());
  gpu.truncate(gs, 24);
  CHECK_EQ(gs.n_past(), int64_t{24});
  gpu.eval(gs, y.data(), 16, Logits::Last, l1.data());
  CHECK(rel_diff(fresh.data(), l1.data(), V) <= 1e-6);

  // device snapshot taken at 24 tokens
  CHECK_EQ(gpu.restore_snapshot(gs, 1), int64_t{24});
  CHECK_EQ(gs.n_past(), int64_t{24});
  gpu.eval(gs, y.data(), 16, Logits::Last, l2.data());
  CHECK(rel_diff(fresh.data(), l2.data(), V) <= 1e-6);
  CHECK_THROWS(gpu.restore_snapshot(gs, 0));  // never saved
  CHECK_THROWS(gpu.truncate(gs, 41));
  CHECK(gpu.state_device_bytes(gs) >= 3 * gpu.recurrent_bytes());
  CHECK(gpu.device_bytes() > gpu.weight_device_bytes());
}

TEST("context overflow and bad token ids throw InputError, leave the state alone; eval afterwards still works") {
  Loaded L(wide_model(Format::F32, 5), "errors");
  const int64_t V = L.model->hp().n_vocab;
  Engine cpu(L.model, 2);
  CudaEngine gpu(L.model);
  const auto t = prompt_tokens(9, V, 6);
  auto gs = gpu.new_state(8);
  bool overflow = false, bad = false, negative = false;
  try { gpu.eval(gs, t.data(), 9, Logits::None, nullptr); } catch (const hybrid::InputError&) { overflow = true; }
  std::vector<int32_t> b = {1, 2, static_cast<int32_t>(V)};
  try { gpu.eval(gs, b.data(), 3, Logits::None, nullptr); } catch (const hybrid::InputError&) { bad = true; }
  b[2] = -1;
  try { gpu.eval_greedy(gs, b.data(), 3); } catch (const hybrid::InputError&) { negative = true; }
  CHECK(overflow);
  CHECK(bad);
  CHECK(negative);
  CHECK_EQ(gs.n_past(), int64_t{0});
  std::vector<float> r(V), g(V, NAN);
  auto cs = cpu.new_state(8);
  cpu.eval(cs, t.data(), 8, Logits::Last, r.data());
  gpu.eval(gs, t.data(), 8, Logits::Last, g.data());
  CHECK(rel_diff(r.data(), g.data(), V) <= 1e-4);
  CHECK_EQ(gs.n_past(), int64_t{8});
  bool full = false;
  try { gpu.eval_greedy(gs, t.data(), 1); } catch (const hybrid::InputError&) { full = true; }
  CHECK(full);
}

}  // namespace

int main() {
  std::string why;
  if (!hybrid::cuda::cuda_usable(0, &why)) {
    std::printf("test_cuda_engine: skipped (no CUDA device: %s)\n", why.c_str());
    return 0;
  }
  return check::run_all();
}
