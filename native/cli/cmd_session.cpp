// `hybrid edit-bench`: what an edit costs with per-document checkpoints against a full re-read, on the CPU
// or (--device cuda|auto) on the GPU through the same Session (CudaSequence: checkpoints in device memory).
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "backend/cuda/cuda_sequence.h"
#include "cli/commands.h"
#include "runtime/session.h"
#include "util/json.h"

namespace {

using hybrid::cli::Args;
using hybrid::cli::UsageError;
using namespace hybrid::runtime;
using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

int cmd_edit_bench(const Args& a) {
  a.allow_only({"doc-tokens", "edit-at", "edits", "threads", "stride", "budget-mb", "seed", "device"});
  if (a.positional.size() != 1) throw UsageError("expected exactly one MODEL path");
  auto model = Model::load(a.positional[0]);
  const int64_t n_doc = a.get_int("doc-tokens", 8192);
  // --edit-at 0.95 or a list: 0.5,0.9,0.99 (one full read, then --edits edits at each position)
  std::vector<double> positions;
  {
    std::string list = a.get("edit-at", "0.95");
    size_t pos = 0;
    while (pos <= list.size()) {
      size_t comma = list.find(',', pos);
      std::string item = list.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
      try {
        positions.push_back(std::stod(item));
      } catch (const std::exception&) {
        throw UsageError("--edit-at: '" + item + "' is not a number");
      }
      if (comma == std::string::npos) break;
      pos = comma + 1;
    }
  }
  const int64_t n_edits = std::max<int64_t>(1, a.get_int("edits", 20));
  if (n_doc < 16) throw UsageError("--doc-tokens must be >= 16");
  for (double p : positions)
    if (!(p >= 0.0 && p <= 1.0)) throw UsageError("--edit-at must be in [0, 1]");
  CheckpointPolicy policy;
  policy.stride = a.get_int("stride", 256);
  policy.budget_bytes = static_cast<uint64_t>(a.get_int("budget-mb", 2048)) << 20;
  std::unique_ptr<hybrid::cuda::CudaEngine> gpu = hybrid::cli::open_device(a, model, 512);
  std::unique_ptr<Engine> engine;
  auto pool = std::make_shared<hybrid::cuda::SnapshotPool>();
  pool->device_budget = policy.budget_bytes;
  auto new_sequence = [&]() -> std::unique_ptr<Sequence> {
    if (gpu) return std::make_unique<hybrid::cuda::CudaSequence>(*gpu, pool, n_doc + 64);
    return std::make_unique<CpuSequence>(*engine, n_doc + 64);
  };
  if (!gpu) engine = std::make_unique<Engine>(model, static_cast<int>(a.get_int("threads", 0)));
  const int32_t V = static_cast<int32_t>(model->hp().n_vocab);
  std::mt19937 rng(static_cast<uint32_t>(a.get_int("seed", 1)));
  std::vector<int32_t> doc(n_doc);
  for (auto& t : doc) t = static_cast<int32_t>(rng() % V);

  // Baseline: a full read of the document (what llama.cpp does for a hybrid model after an edit).
  std::vector<float> logits(V);
  Session session(new_sequence(), policy);
  auto t0 = Clock::now();
  session.append(doc.data(), n_doc, logits.data());
  const double full_s = since(t0);
  const uint64_t bytes_per_checkpoint = gpu ? gpu->recurrent_bytes() : engine->new_state(1).recurrent_bytes();

  // Edits: replace a few tokens (a one-line change) near each position, then ask for the next-token logits.
  struct Result { double at, mean, max, tokens_read; };
  std::vector<Result> results;
  for (double edit_at : positions) {
    double edit_total = 0, edit_max = 0;
    int64_t read_total = 0;
    for (int64_t e = 0; e < n_edits; ++e) {
      std::vector<int32_t> next = session.tokens();
      const int64_t width = 1 + static_cast<int64_t>(rng() % 8);
      int64_t pos = static_cast<int64_t>(edit_at * (n_doc - width)) + static_cast<int64_t>(rng() % 16) - 8;
      pos = std::max<int64_t>(0, std::min<int64_t>(pos, static_cast<int64_t>(next.size()) - width));
      for (int64_t i = 0; i < width; ++i) next[pos + i] = static_cast<int32_t>(rng() % V);
      auto t1 = Clock::now();
      auto r = session.sync(next, logits.data());
      const double dt = since(t1);
      edit_total += dt;
      edit_max = std::max(edit_max, dt);
      read_total += r.reread + r.appended;
    }
    results.push_back({edit_at, edit_total / n_edits, edit_max, static_cast<double>(read_total) / n_edits});
  }
  hybrid::JsonWriter w;
  w.begin_object();
  w.field("doc_tokens", n_doc).field("edits", n_edits).field("threads", engine ? engine->threads() : 0);
  w.field("device", gpu ? gpu->device_facts().name : std::string("cpu"));
  w.field("full_reread_s", full_s);
  // The first position's figures at the top level (the documented shape), every position in "positions".
  w.field("edit_at", results[0].at).field("edit_mean_s", results[0].mean).field("edit_max_s", results[0].max);
  w.field("speedup", full_s / results[0].mean).field("tokens_read_per_edit", results[0].tokens_read);
  w.key("positions").begin_array();
  for (const auto& r : results) {
    w.begin_object().field("edit_at", r.at).field("edit_mean_s", r.mean).field("edit_max_s", r.max);
    w.field("speedup", full_s / r.mean).field("tokens_read_per_edit", r.tokens_read).end_object();
  }
  w.end_array();
  w.field("checkpoints", static_cast<int64_t>(session.checkpoints().size()));
  w.field("checkpoint_bytes", session.checkpoint_bytes());
  w.field("bytes_per_checkpoint", bytes_per_checkpoint);
  if (gpu) w.field("checkpoints_in_device_memory", pool->device_count).field("checkpoints_in_pinned_host_memory", pool->host_count);
  w.field("stride", policy.stride);
  w.end_object();
  if (a.flag("json")) std::printf("%s\n", w.str().c_str());
  else {
    std::printf("full re-read %.3f s; %zu checkpoints, %.1f MiB\n", full_s, session.checkpoints().size(),
                session.checkpoint_bytes() / 1048576.0);
    for (const auto& r : results)
      std::printf("edit at %.0f%%: mean %.4f s (max %.4f), %.0f tokens read, %.0fx faster than a full re-read\n",
                  r.at * 100, r.mean, r.max, r.tokens_read, full_s / r.mean);
  }
  return 0;
}

HYBRID_CLI_COMMAND("edit-bench",
                   "edit-bench MODEL --doc-tokens 8192 --edit-at 0.95[,0.5,...] [--edits 20] [--device cpu|cuda|auto] --json",
                   "edit cost with checkpoints vs a full re-read", {"json"}, cmd_edit_bench);

}  // namespace
