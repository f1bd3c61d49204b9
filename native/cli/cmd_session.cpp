// `hybrid edit-bench`: what an edit costs with per-document checkpoints against a full re-read.
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

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
  a.allow_only({"doc-tokens", "edit-at", "edits", "threads", "stride", "budget-mb", "seed"});
  if (a.positional.size() != 1) throw UsageError("expected exactly one MODEL path");
  auto model = Model::load(a.positional[0]);
  const int64_t n_doc = a.get_int("doc-tokens", 8192);
  const double edit_at = a.get_double("edit-at", 0.95);
  const int64_t n_edits = std::max<int64_t>(1, a.get_int("edits", 20));
  if (n_doc < 16) throw UsageError("--doc-tokens must be >= 16");
  if (!(edit_at >= 0.0 && edit_at <= 1.0)) throw UsageError("--edit-at must be in [0, 1]");
  CheckpointPolicy policy;
  policy.stride = a.get_int("stride", 256);
  policy.budget_bytes = static_cast<uint64_t>(a.get_int("budget-mb", 2048)) << 20;
  Engine engine(model, static_cast<int>(a.get_int("threads", 0)));
  const int32_t V = static_cast<int32_t>(model->hp().n_vocab);
  std::mt19937 rng(static_cast<uint32_t>(a.get_int("seed", 1)));
  std::vector<int32_t> doc(n_doc);
  for (auto& t : doc) t = static_cast<int32_t>(rng() % V);

  // Baseline: a full read of the document (what llama.cpp does for a hybrid model after an edit).
  std::vector<float> logits(V);
  Session session(engine, n_doc + 64, policy);
  auto t0 = Clock::now();
  session.append(doc.data(), n_doc, logits.data());
  const double full_s = since(t0);

  // Edits: replace a few tokens (a one-line change) near edit_at, then ask for the next-token logits.
  double edit_total = 0, edit_max = 0;
  int64_t reread_total = 0;
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
    reread_total += r.reread + r.appended;
  }
  const double edit_mean = edit_total / n_edits;
  hybrid::JsonWriter w;
  w.begin_object();
  w.field("doc_tokens", n_doc).field("edit_at", edit_at).field("edits", n_edits).field("threads", engine.threads());
  w.field("full_reread_s", full_s).field("edit_mean_s", edit_mean).field("edit_max_s", edit_max);
  w.field("speedup", full_s / edit_mean);
  w.field("tokens_read_per_edit", static_cast<double>(reread_total) / n_edits);
  w.field("checkpoints", static_cast<int64_t>(session.checkpoints().size()));
  w.field("checkpoint_bytes", session.checkpoint_bytes());
  w.field("bytes_per_checkpoint", engine.new_state(1).recurrent_bytes());
  w.field("stride", policy.stride);
  w.end_object();
  if (a.flag("json")) std::printf("%s\n", w.str().c_str());
  else
    std::printf("full re-read %.3f s; edit at %.0f%%: mean %.4f s (max %.4f), %.0fx faster; %zu checkpoints, %.1f MiB\n",
                full_s, edit_at * 100, edit_mean, edit_max, full_s / edit_mean, session.checkpoints().size(),
                session.checkpoint_bytes() / 1048576.0);
  return 0;
}

HYBRID_CLI_COMMAND("edit-bench", "edit-bench MODEL --doc-tokens 8192 --edit-at 0.95 [--edits 20] --json",
                   "edit cost with checkpoints vs a full re-read", {"json"}, cmd_edit_bench);

}  // namespace
