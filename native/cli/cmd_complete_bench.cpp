// `hybrid complete-bench`: keystroke -> completion latency through the worker's own generation loop
// (addon/generation.h: a document session with checkpoints, the FIM suffix window read in a fork, greedy
// decode), on the CPU or the GPU, without Node — so the GPU machine measures the path the extension runs.
// A document of random token ids stands for the text (no tokenizer needed: any model file works); the
// user types at a cursor before the suffix window: one token per keystroke, a backspace every 7th. After
// every keystroke one request: prompt = the document up to the cursor (kept in the session), continuation =
// the next --suffix-tokens tokens (read in a fork), then --max-tokens generated. The baseline, measured in
// the same run every --baseline-every keystrokes, is the same request on a fresh session (the whole prompt
// read, as a runtime that cannot cut a hybrid model's state does after the cursor moves).
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "../addon/generation.h"
#include "cli/commands.h"
#include "util/json.h"

namespace {

using hybrid::cli::Args;
using hybrid::cli::UsageError;
namespace addon = hybrid::addon;

struct Sample {
  double first_ms = 0, total_ms = 0;
  int64_t read = 0;
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

struct Summary {
  double first_p50 = 0, first_p95 = 0, total_p50 = 0, total_p95 = 0, read_mean = 0;
  size_t n = 0;
};

Summary summarize(const std::vector<Sample>& s) {
  Summary r;
  r.n = s.size();
  if (s.empty()) return r;
  std::vector<double> first, total;
  double read = 0;
  for (const auto& x : s) {
    first.push_back(x.first_ms);
    total.push_back(x.total_ms);
    read += static_cast<double>(x.read);
  }
  r.first_p50 = percentile(first, 0.5);
  r.first_p95 = percentile(first, 0.95);
  r.total_p50 = percentile(total, 0.5);
  r.total_p95 = percentile(total, 0.95);
  r.read_mean = read / static_cast<double>(s.size());
  return r;
}

int cmd_complete_bench(const Args& a) {
  a.allow_only({"doc-tokens", "suffix-tokens", "keystrokes", "max-tokens", "baseline-every", "threads", "device", "seed",
                "ctx"});
  if (a.positional.size() != 1) throw UsageError("expected exactly one MODEL path");
  const int64_t doc_tokens = a.get_int("doc-tokens", 4000);
  const int64_t suffix = a.get_int("suffix-tokens", 512);
  const int64_t keystrokes = a.get_int("keystrokes", 30);
  const int64_t max_tokens = a.get_int("max-tokens", 16);
  const int64_t baseline_every = std::max<long long>(1, a.get_int("baseline-every", 5));
  const std::string device = a.get("device", "cpu");
  if (device != "cpu" && device != "cuda" && device != "auto") throw UsageError("--device must be cpu, cuda or auto");
  if (doc_tokens < 64 || suffix < 0 || suffix >= doc_tokens / 2) throw UsageError("need --doc-tokens >= 64 and 0 <= --suffix-tokens < doc/2");
  if (keystrokes < 1 || max_tokens < 1) throw UsageError("--keystrokes and --max-tokens must be >= 1");
  const int64_t n_ctx = a.get_int("ctx", doc_tokens + keystrokes + max_tokens + 64);

  addon::LoadOptions o;
  o.threads = static_cast<int>(a.get_int("threads", 0));
  o.device = device;
  auto lm = addon::load_model(a.positional[0], o, [](const addon::LoadProgress&) {});
  if (device == "cuda" && lm->device != "cuda") throw hybrid::InputError("hybrid: --device cuda: " + lm->device_reason);
  const int32_t V = static_cast<int32_t>(lm->model->hp().n_vocab);

  std::mt19937 rng(static_cast<uint32_t>(a.get_int("seed", 1)));
  std::vector<int32_t> doc(static_cast<size_t>(doc_tokens));
  for (auto& t : doc) t = static_cast<int32_t>(rng() % static_cast<uint32_t>(V));
  int64_t cursor = doc_tokens - suffix - keystrokes;  // typing inserts here, before the suffix window
  std::atomic<bool> cancel{false};

  auto request = [&](std::shared_ptr<addon::DocSession> session) {
    addon::GenerateRequest req;
    addon::PromptPart prefix, suf;
    prefix.is_tokens = suf.is_tokens = true;
    prefix.tokens.assign(doc.begin(), doc.begin() + cursor);
    suf.tokens.assign(doc.begin() + cursor, doc.begin() + std::min<int64_t>(cursor + suffix, static_cast<int64_t>(doc.size())));
    req.prompt.push_back(std::move(prefix));
    if (!suf.tokens.empty()) req.continuation.push_back(std::move(suf));
    req.session = std::move(session);
    req.max_tokens = max_tokens;
    req.stop_at_eog = false;  // every request generates the same number of tokens
    req.pin_tail = 4;         // as the worker does for completions
    std::lock_guard<std::mutex> lock(lm->compute);
    const auto t0 = addon::Clock::now();
    const auto r = addon::generate(*lm, req, cancel, [](const addon::Chunk&) {});
    Sample s;
    s.total_ms = addon::ms_since(t0);
    s.first_ms = r.first_token_ms;
    s.read = r.read_tokens + static_cast<int64_t>(req.continuation.empty() ? 0 : req.continuation[0].tokens.size());
    return s;
  };
  auto make_session = [&]() {
    auto d = std::make_shared<addon::DocSession>();
    d->n_ctx = n_ctx;
    return d;
  };

  auto doc_session = make_session();
  const Sample opened = request(doc_session);  // the document is opened: one full read
  std::vector<Sample> ours, full;
  for (int64_t k = 0; k < keystrokes; ++k) {
    if (k % 7 == 6 && cursor > 1) {
      doc.erase(doc.begin() + cursor - 1);  // backspace
      --cursor;
    } else {
      doc.insert(doc.begin() + cursor, static_cast<int32_t>(rng() % static_cast<uint32_t>(V)));
      ++cursor;
    }
    ours.push_back(request(doc_session));
    if (k % baseline_every == 0) full.push_back(request(make_session()));
  }
  const Summary so = summarize(ours), sf = summarize(full);
  const auto& st = doc_session->session->stats();
  hybrid::JsonWriter w;
  w.begin_object();
  w.field("device", lm->device).field("device_name", lm->device_name).field("device_reason", lm->device_reason);
  w.field("doc_tokens", doc_tokens).field("suffix_tokens", suffix).field("keystrokes", keystrokes).field("max_tokens", max_tokens);
  w.field("open_ms", opened.total_ms);
  auto put = [&](const char* key, const Summary& s) {
    w.key(key).begin_object();
    w.field("requests", static_cast<int64_t>(s.n)).field("first_token_p50_ms", s.first_p50).field("first_token_p95_ms", s.first_p95);
    w.field("completion_p50_ms", s.total_p50).field("completion_p95_ms", s.total_p95).field("tokens_read_mean", s.read_mean);
    w.end_object();
  };
  put("ours", so);
  put("full_read", sf);
  w.field("first_token_speedup_p50", so.first_p50 > 0 ? sf.first_p50 / so.first_p50 : 0.0);
  w.field("completion_speedup_p50", so.total_p50 > 0 ? sf.total_p50 / so.total_p50 : 0.0);
  w.key("session").begin_object();
  w.field("checkpoints", static_cast<int64_t>(doc_session->session->checkpoints().size()));
  w.field("checkpoint_bytes", doc_session->session->checkpoint_bytes()).field("rollbacks", st.rollbacks);
  w.field("tokens_reread", st.tokens_reread).field("forks_in_place", st.forks_in_place);
  w.end_object();
  w.end_object();
  if (a.flag("json")) {
    std::printf("%s\n", w.str().c_str());
  } else {
    std::printf("%s (%s): document %lld tokens, suffix window %lld, %lld keystrokes, %lld tokens each\n", lm->device.c_str(),
                lm->device_name.c_str(), (long long)doc_tokens, (long long)suffix, (long long)keystrokes, (long long)max_tokens);
    std::printf("  ours:      first token p50 %.1f ms (p95 %.1f), completion p50 %.1f ms, %.0f tokens read\n", so.first_p50,
                so.first_p95, so.total_p50, so.read_mean);
    std::printf("  full read: first token p50 %.1f ms (p95 %.1f), completion p50 %.1f ms, %.0f tokens read\n", sf.first_p50,
                sf.first_p95, sf.total_p50, sf.read_mean);
    std::printf("  first token %.1fx faster\n", so.first_p50 > 0 ? sf.first_p50 / so.first_p50 : 0.0);
  }
  return 0;
}

HYBRID_CLI_COMMAND("complete-bench",
                   "complete-bench MODEL [--doc-tokens 4000] [--suffix-tokens 512] [--keystrokes 30] [--max-tokens 16] "
                   "[--baseline-every 5] [--device cpu|cuda|auto] --json",
                   "keystroke -> completion latency through the worker's generation loop vs a full re-read",
                   {"json"}, cmd_complete_bench);

}  // namespace
