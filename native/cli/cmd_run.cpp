// `hybrid logits`, `hybrid generate`, `hybrid bench`: run the model on the CPU.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "backend/cpu/thread_pool.h"
#include "runtime/engine.h"
#include "runtime/sampler.h"
#include "util/error.h"
#include "util/json.h"

namespace {

using hybrid::cli::Args;
using hybrid::cli::UsageError;
using hybrid::runtime::Engine;
using hybrid::runtime::Logits;
using hybrid::runtime::Model;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string model_path(const Args& a) {
  if (a.positional.size() != 1) throw UsageError("expected exactly one MODEL path");
  return a.positional[0];
}

int cmd_logits(const Args& a) {
  a.allow_only({"tokens", "threads", "batch"});
  auto model = Model::load(model_path(a));
  std::vector<int32_t> tokens = a.get_int_list("tokens");
  if (tokens.empty()) throw UsageError("--tokens 1,2,3 is required");
  // --batch 1 reads token by token (the decode path); the default reads the prompt in batches (prefill).
  Engine engine(model, static_cast<int>(a.get_int("threads", 0)), a.get_int("batch", 256));
  const bool all = a.flag("all-positions");
  const int64_t V = model->hp().n_vocab;
  std::vector<float> logits((all ? tokens.size() : 1) * V);
  auto state = engine.new_state(static_cast<int64_t>(tokens.size()));
  engine.eval(state, tokens.data(), tokens.size(), all ? Logits::All : Logits::Last, logits.data());
  hybrid::JsonWriter w;
  w.begin_object().field("n_vocab", static_cast<int64_t>(V)).key("logits").begin_array();
  for (size_t r = 0; r < logits.size() / V; ++r) {
    w.begin_array();
    for (int64_t i = 0; i < V; ++i) w.value(static_cast<double>(logits[r * V + i]));
    w.end_array();
  }
  w.end_array().end_object();
  std::printf("%s\n", w.str().c_str());
  return 0;
}

int cmd_generate(const Args& a) {
  a.allow_only({"tokens", "n", "temp", "seed", "top-k", "top-p", "min-p", "repeat-penalty", "threads", "ctx"});
  auto model = Model::load(model_path(a));
  std::vector<int32_t> prompt = a.get_int_list("tokens");
  if (prompt.empty()) throw UsageError("--tokens 1,2,3 is required (the prompt as token ids)");
  const int64_t n_gen = a.get_int("n", 32);
  if (n_gen < 0) throw UsageError("-n must be >= 0");
  hybrid::runtime::SamplerParams sp;
  sp.temperature = static_cast<float>(a.get_double("temp", 0.0));
  sp.seed = static_cast<uint64_t>(a.get_int("seed", 0));
  sp.top_k = static_cast<int32_t>(a.get_int("top-k", 40));
  sp.top_p = static_cast<float>(a.get_double("top-p", 0.95));
  sp.min_p = static_cast<float>(a.get_double("min-p", 0.05));
  sp.repeat_penalty = static_cast<float>(a.get_double("repeat-penalty", 1.0));
  Engine engine(model, static_cast<int>(a.get_int("threads", 0)));
  const int64_t V = model->hp().n_vocab;
  auto state = engine.new_state(a.get_int("ctx", static_cast<int64_t>(prompt.size()) + n_gen + 1));
  std::vector<float> logits(V);
  hybrid::runtime::Sampler sampler(sp);
  auto t0 = Clock::now();
  engine.eval(state, prompt.data(), prompt.size(), Logits::Last, logits.data());
  const double t_prefill = seconds_since(t0);
  std::vector<int32_t> history = prompt, out;
  auto t1 = Clock::now();
  for (int64_t i = 0; i < n_gen; ++i) {
    int32_t tok = sampler.sample(logits.data(), static_cast<int32_t>(V), history);
    out.push_back(tok);
    history.push_back(tok);
    if (i + 1 < n_gen) engine.eval(state, &tok, 1, Logits::Last, logits.data());
  }
  const double t_decode = seconds_since(t1);
  hybrid::JsonWriter w;
  w.begin_object().key("tokens").begin_array();
  for (int32_t t : out) w.value(t);
  w.end_array();
  w.key("timings").begin_object();
  w.field("prompt_tokens", static_cast<int64_t>(prompt.size())).field("prefill_s", t_prefill);
  w.field("gen_tokens", static_cast<int64_t>(out.size())).field("decode_s", t_decode);
  w.field("threads", engine.threads());
  w.end_object().end_object();
  std::printf("%s\n", w.str().c_str());
  return 0;
}

int cmd_bench(const Args& a) {
  a.allow_only({"prompt-tokens", "gen-tokens", "threads", "reps"});
  auto model = Model::load(model_path(a));
  const int64_t n_prompt = a.get_int("prompt-tokens", 512), n_gen = a.get_int("gen-tokens", 128);
  const int64_t reps = std::max<int64_t>(1, a.get_int("reps", 1));
  if (n_prompt < 1 || n_gen < 1) throw UsageError("--prompt-tokens and --gen-tokens must be >= 1");
  Engine engine(model, static_cast<int>(a.get_int("threads", 0)));
  const int64_t V = model->hp().n_vocab;
  std::vector<int32_t> prompt(n_prompt);
  for (int64_t i = 0; i < n_prompt; ++i) prompt[i] = static_cast<int32_t>((i * 7919 + 13) % V);
  std::vector<float> logits(V);
  double best_prefill = 1e30, best_decode = 1e30;
  for (int64_t r = 0; r < reps; ++r) {
    auto state = engine.new_state(n_prompt + n_gen + 1);
    auto t0 = Clock::now();
    engine.eval(state, prompt.data(), n_prompt, Logits::Last, logits.data());
    best_prefill = std::min(best_prefill, seconds_since(t0));
    auto t1 = Clock::now();
    for (int64_t i = 0; i < n_gen; ++i) {
      int32_t tok = hybrid::runtime::Sampler::argmax(logits.data(), static_cast<int32_t>(V));
      engine.eval(state, &tok, 1, Logits::Last, logits.data());
    }
    best_decode = std::min(best_decode, seconds_since(t1));
  }
  const double prefill_tps = n_prompt / best_prefill, decode_tps = n_gen / best_decode;
  // A decode step reads every weight once, except token_embd (one row) unless it is also the lm_head.
  uint64_t bytes = model->weight_bytes();
  const auto* embd = model->tensors().get(hybrid::model::Role::TokenEmbd);
  if (model->tensors().get(hybrid::model::Role::Output)) bytes -= embd->nbytes - embd->row_bytes();
  hybrid::JsonWriter w;
  w.begin_object();
  w.field("threads", engine.threads()).field("prompt_tokens", n_prompt).field("gen_tokens", n_gen);
  w.field("prefill_tps", prefill_tps).field("decode_tps", decode_tps);
  w.field("weight_bytes_per_token", bytes).field("decode_gbs", bytes * decode_tps / 1e9);
  w.end_object();
  if (a.flag("json")) std::printf("%s\n", w.str().c_str());
  else std::printf("prefill %.1f tok/s, decode %.1f tok/s (%.1f GB/s of weights), %d threads\n", prefill_tps, decode_tps,
                   bytes * decode_tps / 1e9, engine.threads());
  return 0;
}

// Read bandwidth of this machine with T threads (a plain SIMD-friendly sum over a buffer far larger than
// the caches): the roofline for decode, which reads every weight once per token.
int cmd_membw(const Args& a) {
  a.allow_only({"threads", "mb", "reps"});
  hybrid::cpu::ThreadPool pool(static_cast<int>(a.get_int("threads", 0)));
  const size_t n = static_cast<size_t>(a.get_int("mb", 1024)) << 20;
  const int reps = static_cast<int>(std::max<long long>(1, a.get_int("reps", 5)));
  std::vector<uint64_t> buf(n / 8);
  pool.parallel_for(static_cast<int64_t>(buf.size()), 1 << 16, [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) buf[i] = static_cast<uint64_t>(i) * 2654435761u;
  });
  std::vector<uint64_t> partial(pool.size());
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    std::fill(partial.begin(), partial.end(), 0);
    auto t0 = Clock::now();
    pool.parallel_for(static_cast<int64_t>(buf.size()), 1 << 16, [&](int64_t b, int64_t e, int t) {
      uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      int64_t i = b;
      for (; i + 4 <= e; i += 4) { s0 += buf[i]; s1 += buf[i + 1]; s2 += buf[i + 2]; s3 += buf[i + 3]; }
      for (; i < e; ++i) s0 += buf[i];
      partial[t] += s0 + s1 + s2 + s3;  // a thread may run several chunks
    });
    best = std::min(best, seconds_since(t0));
  }
  uint64_t check = 0;
  for (auto v : partial) check += v;
  hybrid::JsonWriter w;
  w.begin_object().field("threads", pool.size()).field("bytes", static_cast<uint64_t>(n)).field("read_gbs", n / best / 1e9);
  w.field("checksum", check).end_object();
  if (a.flag("json")) std::printf("%s\n", w.str().c_str());
  else std::printf("read bandwidth %.1f GB/s with %d threads\n", n / best / 1e9, pool.size());
  return 0;
}

HYBRID_CLI_COMMAND("membw", "membw [--threads T] [--mb 1024] --json", "memory read bandwidth (decode's roofline)",
                   {"json"}, cmd_membw);
HYBRID_CLI_COMMAND("logits", "logits MODEL --tokens 1,2,3 [--all-positions] [--batch B] [--threads T] --json",
                   "next-token logits (full vocabulary, float32) after the tokens", {"json", "all-positions"}, cmd_logits);
HYBRID_CLI_COMMAND("generate", "generate MODEL --tokens 1,2,3 -n N [--temp 0] [--seed S] --json",
                   "generate N tokens (greedy at --temp 0)", {"json"}, cmd_generate);
HYBRID_CLI_COMMAND("bench", "bench MODEL --prompt-tokens 512 --gen-tokens 128 [--threads T] --json",
                   "prefill and decode speed on the CPU", {"json"}, cmd_bench);

}  // namespace
