// Per-document sessions on the GPU: runtime::Session over CudaSequence (checkpoints in device memory, then
// pinned host memory; forks in place) against the CPU engine on the same F32 fixture, through the same kind
// of seeded appends, edits, rollbacks and forks as test_session; and the addon's generation loop on CUDA
// against the same loop on the CPU. Without a usable CUDA device it prints one "skipped" line and succeeds.
//
// The CUDA engines here have max_batch 8, so every batch takes the GEMV path (f32 activations): the
// tolerance is test_cuda_engine's 1e-4 of the logit range.
#include "build_config.h"

#if HYBRID_HAVE_CUDA_BUILD
#include <cuda_runtime.h>
#endif

#include <atomic>
#include <cstdio>
#include <random>
#include <string>

#include "../addon/generation.h"
#include "backend/cuda/cuda_engine.h"
#include "backend/cuda/cuda_sequence.h"
#include "check.h"
#include "cuda_fixture.h"
#include "random_edits.h"
#include "runtime/session.h"

using namespace cuda_fixture;
using hybrid::cuda::CudaEngine;
using hybrid::cuda::CudaSequence;
using hybrid::cuda::SnapshotPool;
using namespace hybrid::runtime;

namespace {

constexpr double kTol = 1e-4;

std::vector<float> cpu_logits(Engine& e, const std::vector<int32_t>& tokens) {
  State s = e.new_state(static_cast<int64_t>(tokens.size()) + 1);
  std::vector<float> l(e.model().hp().n_vocab);
  e.eval(s, tokens.data(), static_cast<int64_t>(tokens.size()), Logits::Last, l.data());
  return l;
}

double diff(const std::vector<float>& ref, const std::vector<float>& got) { return rel_diff(ref.data(), got.data(), ref.size()); }

}  // namespace

TEST("a Session on the GPU follows the CPU through appends, edits, rollbacks and in-place forks (1e-4)") {
  Loaded L(wide_model(Format::F32, 11), "cudasession");
  const int32_t V = static_cast<int32_t>(L.model->hp().n_vocab);
  Engine cpu(L.model, 2);
  CudaEngine gpu(L.model, 0, 8);
  auto pool = std::make_shared<SnapshotPool>();
  CheckpointPolicy policy;
  policy.stride = 8;
  policy.dense = 2;
  Session s(std::make_unique<CudaSequence>(gpu, pool, 1024), policy);
  CHECK(std::string(s.device()) == "cuda");
  RandomEdits r(5, V);
  auto first = r.tokens(40);
  s.append(first.data(), 40);
  double worst = 0, worst_fork = 0;
  int checks = 0, forks = 0;
  for (int step = 0; step < 50; ++step) {
    const int op = static_cast<int>(r.below(4));
    if (op == 0) {
      auto t = r.tokens(1 + static_cast<int>(r.below(30)));
      s.append(t.data(), static_cast<int64_t>(t.size()));
    } else if (op == 1 && s.size() > 2) {
      s.rollback(1 + static_cast<int64_t>(r.below(static_cast<uint32_t>(s.size() - 1))));
    } else if (op == 2) {
      const std::vector<int32_t> target = r.edit(s.tokens());
      s.sync(target);
      CHECK(s.tokens() == target);
    } else {
      auto f = s.fork();
      auto a = r.tokens(1 + static_cast<int>(r.below(10)));
      std::vector<float> fl(V);
      f->append(a.data(), static_cast<int64_t>(a.size()), fl.data());
      std::vector<int32_t> joined = s.tokens();
      joined.insert(joined.end(), a.begin(), a.end());
      worst_fork = std::max(worst_fork, diff(cpu_logits(cpu, joined), fl));
      ++forks;
    }
    worst = std::max(worst, diff(cpu_logits(cpu, s.tokens()), s.logits()));
    ++checks;
  }
  std::printf("  %d checks (max rel diff %.3g), %d in-place forks (%.3g); %lld tokens re-read in %lld rollbacks, "
              "%lld checkpoint restores; pool: %lld device / %lld host snapshots\n",
              checks, worst, forks, worst_fork, (long long)s.stats().tokens_reread, (long long)s.stats().rollbacks,
              (long long)s.stats().checkpoints_restored, (long long)pool->device_count, (long long)pool->host_count);
  CHECK(worst <= kTol);
  CHECK(worst_fork <= kTol);
  CHECK(forks >= 5);
  CHECK(s.stats().checkpoints_restored > 0);
  CHECK_EQ(pool->device_count, static_cast<int64_t>(s.checkpoints().size()) + 1);  // + the fork's anchor
  CHECK(s.memory_bytes() >= s.checkpoint_bytes() + gpu.recurrent_bytes());
}

TEST("snapshots past the pool's device budget go to pinned host memory; restores from both kinds are exact") {
  Loaded L(wide_model(Format::F32, 12), "cudaspill");
  const int32_t V = static_cast<int32_t>(L.model->hp().n_vocab);
  Engine cpu(L.model, 2);
  CudaEngine gpu(L.model, 0, 8);
  auto pool = std::make_shared<SnapshotPool>();
  pool->device_budget = 2 * gpu.recurrent_bytes();
  {
    CheckpointPolicy policy;
    policy.stride = 8;
    policy.dense = 16;  // no thinning in 128 tokens: 16 checkpoints
    Session s(std::make_unique<CudaSequence>(gpu, pool, 512), policy);
    const auto doc = prompt_tokens(128, V, 9);
    s.append(doc.data(), 128);
    int on_device = 0, on_host = 0;
    for (const auto& c : s.checkpoints()) (std::string(c.snap->where()) == "device" ? on_device : on_host) += 1;
    std::printf("  %zu checkpoints: %d in device memory, %d in pinned host memory (spilled %lld)\n",
                s.checkpoints().size(), on_device, on_host, (long long)pool->spilled);
    CHECK_EQ(on_device, 2);
    CHECK(on_host >= 10);
    CHECK_EQ(pool->device_used, 2 * gpu.recurrent_bytes());
    // Roll back onto a host checkpoint (the newest ones) and onto a device one (the oldest two).
    for (int64_t n : {int64_t(123), int64_t(60), int64_t(13)}) {
      s.rollback(n);
      std::vector<int32_t> kept(doc.begin(), doc.begin() + n);
      const double d = diff(cpu_logits(cpu, kept), s.logits());
      std::printf("  rollback to %lld: rel diff %.3g\n", (long long)n, d);
      CHECK(d <= kTol);
    }
  }
  CHECK_EQ(pool->device_used, uint64_t{0});  // the session's snapshots are freed with it
  CHECK_EQ(pool->host_used, uint64_t{0});
  CHECK_EQ(pool->device_count + pool->host_count, int64_t{0});
}

TEST("the addon's generation on CUDA: same greedy tokens as on the CPU, through a document session and an edit") {
  Loaded L(wide_model(Format::F32, 13), "cudagen");
  const int32_t V = static_cast<int32_t>(L.model->hp().n_vocab);
  auto load = [&](const std::string& device) {
    hybrid::addon::LoadOptions o;
    o.threads = 2;
    o.max_batch = 8;
    o.cuda_max_batch = 8;
    o.device = device;
    return hybrid::addon::load_model(L.file.path, o, [](const hybrid::addon::LoadProgress&) {});
  };
  auto on_gpu = load("cuda");
  auto on_cpu = load("cpu");
  CHECK(on_gpu->device == "cuda");
  CHECK(on_cpu->device == "cpu");
  CHECK(hybrid::addon::model_info_json(*on_gpu).find("\"using\":\"cuda\"") != std::string::npos);
  std::atomic<bool> cancel{false};
  auto run = [&](hybrid::addon::LoadedModel& lm, std::shared_ptr<hybrid::addon::DocSession>& doc,
                 const std::vector<int32_t>& prompt, const std::vector<int32_t>& suffix) {
    hybrid::addon::GenerateRequest req;
    hybrid::addon::PromptPart p, c;
    p.is_tokens = true;
    p.tokens = prompt;
    c.is_tokens = true;
    c.tokens = suffix;
    req.prompt.push_back(p);
    req.continuation.push_back(c);
    req.session = doc;
    req.max_tokens = 24;
    req.stop_at_eog = false;
    std::vector<int32_t> out;
    std::lock_guard<std::mutex> lock(lm.compute);
    hybrid::addon::generate(lm, req, cancel, [&](const hybrid::addon::Chunk& ch) { out.push_back(ch.token); });
    return out;
  };
  auto dg = std::make_shared<hybrid::addon::DocSession>();
  auto dc = std::make_shared<hybrid::addon::DocSession>();
  dg->n_ctx = dc->n_ctx = 1024;
  auto doc = prompt_tokens(300, V, 21);
  const auto suffix = prompt_tokens(12, V, 22);
  int same = 0;
  for (int round = 0; round < 4; ++round) {
    const auto g = run(*on_gpu, dg, doc, suffix);
    const auto c = run(*on_cpu, dc, doc, suffix);
    CHECK_EQ(g.size(), size_t{24});
    same += g == c;
    CHECK(g == c);
    doc[static_cast<size_t>(150 + 40 * round)] = (doc[150 + 40 * round] + 1) % V;  // an edit in the middle
    doc.push_back((round * 7) % V);                                                  // and typing at the end
  }
  std::printf("  4 rounds, %d with identical greedy tokens; GPU session re-read %lld tokens in %lld rollbacks\n", same,
              (long long)dg->session->stats().tokens_reread, (long long)dg->session->stats().rollbacks);
  CHECK(dg->session->stats().checkpoints_restored > 0);
}

#if HYBRID_HAVE_CUDA_BUILD
namespace {
// Takes all but `leave` bytes of the device's free memory until destroyed.
struct MemoryHog {
  std::vector<void*> blocks;
  explicit MemoryHog(uint64_t leave) {
    size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    uint64_t want = free_b > leave ? free_b - leave : 0;
    // in 256 MiB pieces, then smaller, until the device says no
    for (uint64_t piece = 256ull << 20; piece >= (1ull << 20) && want >= (1ull << 20); piece /= 2) {
      while (want >= piece) {
        void* p = nullptr;
        if (cudaMalloc(&p, piece) != cudaSuccess) {
          cudaGetLastError();
          break;
        }
        blocks.push_back(p);
        want -= piece;
      }
    }
  }
  ~MemoryHog() {
    for (void* p : blocks) cudaFree(p);
  }
};
}  // namespace

TEST("out of device memory: a load falls back to the CPU naming what did not fit; a KV cache that cannot grow fails "
     "the request with the figures and the session stays usable") {
  Loaded L(wide_model(Format::F32, 14), "cudaoom");
  const int32_t V = static_cast<int32_t>(L.model->hp().n_vocab);
  auto load = [&](uint64_t budget) {
    hybrid::addon::LoadOptions o;
    o.threads = 2;
    o.max_batch = 8;
    o.cuda_max_batch = 8;
    o.device = "cuda";
    o.state_budget_bytes = budget;
    return hybrid::addon::load_model(L.file.path, o, [](const hybrid::addon::LoadProgress&) {});
  };
  {
    MemoryHog hog(1ull << 20);  // 1 MiB left: the weights cannot fit
    auto lm = load(0);
    std::printf("  load with 1 MiB free: %s (%s)\n", lm->device.c_str(), lm->device_reason.c_str());
    CHECK(lm->device == "cpu");
    // Usually "CUDA out of memory allocating <tensor>: asked … free of …"; a runtime call that needs memory
    // before the first allocation would say "out of memory" in CUDA's words.
    CHECK(lm->device_reason.rfind("falling back to the CPU: ", 0) == 0);
    CHECK(lm->device_reason.find("out of memory") != std::string::npos);
  }
  auto lm = load(0);
  CHECK(lm->device == "cuda");
  auto doc = std::make_shared<hybrid::addon::DocSession>();
  doc->n_ctx = 1 << 16;
  std::atomic<bool> cancel{false};
  auto run = [&](int64_t n_tokens) {
    hybrid::addon::GenerateRequest req;
    hybrid::addon::PromptPart p;
    p.is_tokens = true;
    p.tokens = prompt_tokens(n_tokens, V, 31);
    req.prompt.push_back(p);
    req.session = doc;
    req.max_tokens = 2;
    req.stop_at_eog = false;
    std::lock_guard<std::mutex> lock(lm->compute);
    return hybrid::addon::generate(*lm, req, cancel, [](const hybrid::addon::Chunk&) {});
  };
  run(64);
  std::string error;
  {
    MemoryHog hog(8ull << 20);  // the KV caches of 30,000 tokens need more than 8 MiB
    try {
      run(30000);
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  std::printf("  long prompt with 8 MiB free: %s\n", error.c_str());
  CHECK(error.find("out of memory") != std::string::npos);  // "CUDA out of memory allocating KV cache of layer …"
  CHECK(doc->session->size() < 30000);
  const auto r = run(600);  // memory back: the same session serves again
  CHECK_EQ(r.generated_tokens, int64_t{2});
  CHECK_EQ(doc->session->size(), int64_t{600});
}
#endif

int main() {
  std::string why;
  if (!hybrid::cuda::cuda_usable(0, &why)) {
    std::printf("test_cuda_session: skipped (no CUDA device: %s)\n", why.c_str());
    return 0;
  }
  return check::run_all();
}
