// `hybrid logits`, `hybrid generate`, `hybrid bench`: run the model on the CPU or, with --device cuda|auto,
// on an NVIDIA GPU (backend/cuda/cuda_engine.h). auto falls back to the CPU with a message on stderr when no
// GPU is usable; an explicit cuda without one is an error (exit 2).
#include <algorithm>
#include <chrono>
#include <memory>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "backend/cpu/thread_pool.h"
#include "backend/cuda/cuda_engine.h"
#include "runtime/engine.h"
#include "runtime/sampler.h"
#include "util/error.h"
#include "util/json.h"

namespace hybrid::cli {

// --device cpu|cuda|auto (default cpu). Returns a CUDA engine when the model runs on the GPU, else null.
std::unique_ptr<cuda::CudaEngine> open_device(const Args& a, const std::shared_ptr<runtime::Model>& model,
                                              int64_t max_batch) {
  const std::string dev = a.get("device", "cpu");
  if (dev != "cpu" && dev != "cuda" && dev != "auto") throw UsageError("--device must be cpu, cuda or auto, got '" + dev + "'");
  if (dev == "cpu") return nullptr;
  std::string why;
  if (!hybrid::cuda::cuda_usable(0, &why)) {
    if (dev == "cuda") throw hybrid::InputError("hybrid: --device cuda: " + why);
    std::fprintf(stderr, "hybrid: CUDA is not usable (%s); running on the CPU\n", why.c_str());
    return nullptr;
  }
  try {
    return std::make_unique<hybrid::cuda::CudaEngine>(model, 0, max_batch);
  } catch (const std::exception& e) {
    if (dev == "cuda") throw hybrid::InputError(std::string("hybrid: --device cuda: ") + e.what());
    std::fprintf(stderr, "hybrid: cannot run on CUDA (%s); running on the CPU\n", e.what());
    return nullptr;
  }
}

}  // namespace hybrid::cli

namespace {

using hybrid::cli::Args;
using hybrid::cli::open_device;
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
  a.allow_only({"tokens", "threads", "batch", "device"});
  auto model = Model::load(model_path(a));
  std::vector<int32_t> tokens = a.get_int_list("tokens");
  if (tokens.empty()) throw UsageError("--tokens 1,2,3 is required");
  // --batch 1 reads token by token (the decode path); the default reads the prompt in batches (prefill).
  const int64_t batch = a.get_int("batch", 256);
  if (batch < 1) throw UsageError("--batch must be >= 1");
  const bool all = a.flag("all-positions");
  const int64_t V = model->hp().n_vocab;
  std::vector<float> logits((all ? tokens.size() : 1) * V);
  if (auto gpu = open_device(a, model, batch)) {
    auto state = gpu->new_state(static_cast<int64_t>(tokens.size()));
    gpu->eval(state, tokens.data(), tokens.size(), all ? Logits::All : Logits::Last, logits.data());
  } else {
    Engine engine(model, static_cast<int>(a.get_int("threads", 0)), batch);
    auto state = engine.new_state(static_cast<int64_t>(tokens.size()));
    engine.eval(state, tokens.data(), tokens.size(), all ? Logits::All : Logits::Last, logits.data());
  }
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
  a.allow_only({"tokens", "n", "temp", "seed", "top-k", "top-p", "min-p", "repeat-penalty", "threads", "ctx", "device"});
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
  const int64_t V = model->hp().n_vocab;
  const int64_t n_ctx = a.get_int("ctx", static_cast<int64_t>(prompt.size()) + n_gen + 1);
  std::vector<float> logits(V);
  hybrid::runtime::Sampler sampler(sp);
  std::vector<int32_t> history = prompt, out;
  double t_prefill = 0, t_decode = 0;
  int threads = 0;
  std::string device = "cpu";
  if (auto gpu = open_device(a, model, 512)) {
    device = gpu->device_facts().name;
    auto state = gpu->new_state(n_ctx);
    // Greedy without penalties: the argmax is taken on the GPU and only the id comes back.
    const bool on_device = sp.temperature <= 0.0f && sp.repeat_penalty == 1.0f;
    auto t0 = Clock::now();
    int32_t next = 0;
    if (n_gen > 0) {
      if (on_device) next = gpu->eval_greedy(state, prompt.data(), prompt.size());
      else gpu->eval(state, prompt.data(), prompt.size(), Logits::Last, logits.data());
    } else {
      gpu->eval(state, prompt.data(), prompt.size(), Logits::None, nullptr);
    }
    t_prefill = seconds_since(t0);
    auto t1 = Clock::now();
    for (int64_t i = 0; i < n_gen; ++i) {
      int32_t tok = on_device ? next : sampler.sample(logits.data(), static_cast<int32_t>(V), history);
      out.push_back(tok);
      history.push_back(tok);
      if (i + 1 < n_gen) {
        if (on_device) next = gpu->eval_greedy(state, &tok, 1);
        else gpu->eval(state, &tok, 1, Logits::Last, logits.data());
      }
    }
    t_decode = seconds_since(t1);
  } else {
    Engine engine(model, static_cast<int>(a.get_int("threads", 0)));
    threads = engine.threads();
    auto state = engine.new_state(n_ctx);
    auto t0 = Clock::now();
    engine.eval(state, prompt.data(), prompt.size(), Logits::Last, logits.data());
    t_prefill = seconds_since(t0);
    auto t1 = Clock::now();
    for (int64_t i = 0; i < n_gen; ++i) {
      int32_t tok = sampler.sample(logits.data(), static_cast<int32_t>(V), history);
      out.push_back(tok);
      history.push_back(tok);
      if (i + 1 < n_gen) engine.eval(state, &tok, 1, Logits::Last, logits.data());
    }
    t_decode = seconds_since(t1);
  }
  hybrid::JsonWriter w;
  w.begin_object().key("tokens").begin_array();
  for (int32_t t : out) w.value(t);
  w.end_array();
  w.key("timings").begin_object();
  w.field("prompt_tokens", static_cast<int64_t>(prompt.size())).field("prefill_s", t_prefill);
  w.field("gen_tokens", static_cast<int64_t>(out.size())).field("decode_s", t_decode);
  w.field("threads", threads).field("device", device);
  w.end_object().end_object();
  std::printf("%s\n", w.str().c_str());
  return 0;
}

// Bytes a decode step reads: every weight once, except token_embd (one row) unless it is also the lm_head.
uint64_t decode_weight_bytes(const Model& model) {
  uint64_t bytes = model.weight_bytes();
  const auto* embd = model.tensors().get(hybrid::model::Role::TokenEmbd);
  if (model.tensors().get(hybrid::model::Role::Output)) bytes -= embd->nbytes - embd->row_bytes();
  return bytes;
}

// Parameters a prefill token multiplies by: every matrix but the embedding table and the lm_head (which
// prefill applies to the last token only). 2 * params FLOPs per token.
uint64_t prefill_params(const Model& model) {
  uint64_t n = 0;
  for (const auto& t : model.file().tensors())
    if (t.n_dims >= 2 && t.ne[0] > 1 && t.ne[1] > 1 && t.name != "token_embd.weight" && t.name != "output.weight")
      n += static_cast<uint64_t>(t.nelements);
  return n;
}

// Dense bf16 tensor-core peak of known devices (datasheet figures), or < 0 when unknown.
double tensor_peak_tflops(const std::string& name) {
  if (name.find("H200") != std::string::npos) return 989.0;
  if (name.find("H100") != std::string::npos && name.find("PCIe") == std::string::npos) return 989.0;  // SXM
  return -1.0;
}

int bench_cuda(const Args& a, const std::shared_ptr<Model>& model, hybrid::cuda::CudaEngine& gpu, int64_t n_prompt,
               int64_t n_gen, int64_t reps) {
  const int64_t V = model->hp().n_vocab;
  const auto facts = gpu.device_facts();
  const double copy_gbs = gpu.copy_bandwidth_gbs(1ull << 30, 5);
  std::vector<int32_t> prompt(n_prompt);
  for (int64_t i = 0; i < n_prompt; ++i) prompt[i] = static_cast<int32_t>((i * 7919 + 13) % V);
  {  // warm-up: first-call costs and the decode graph's capture stay out of the figures
    auto st = gpu.new_state(std::min<int64_t>(n_prompt, 16) + 4);
    int32_t tok = gpu.eval_greedy(st, prompt.data(), std::min<int64_t>(n_prompt, 16));
    for (int i = 0; i < 3; ++i) tok = gpu.eval_greedy(st, &tok, 1);
  }
  if (const char* pe = std::getenv("HYBRID_CUDA_PROFILE"); pe && std::string(pe) == "1") {
    // Where the time goes: one prefill of min(n_prompt, max_batch) tokens and two decode steps, plain launches,
    // each op synchronized and timed with cudaEvents (µs summed over layers per op kind), on stderr.
    const int64_t np = std::min<int64_t>(n_prompt, gpu.max_batch());
    auto st = gpu.new_state(np + 4);
    const auto pre = gpu.profile_eval(st, prompt.data(), np);
    int32_t tok = prompt[0];
    const auto dec1 = gpu.profile_eval(st, &tok, 1);
    const auto dec2 = gpu.profile_eval(st, &tok, 1);
    auto find = [](const std::vector<std::pair<std::string, double>>& v, const std::string& k) {
      for (const auto& r : v)
        if (r.first == k) return r.second;
      return 0.0;
    };
    std::vector<std::string> keys;
    for (const auto* v : {&dec2, &pre})
      for (const auto& r : *v)
        if (r.first != "total" && std::find(keys.begin(), keys.end(), r.first) == keys.end()) keys.push_back(r.first);
    keys.push_back("total");
    std::fprintf(stderr, "HYBRID_CUDA_PROFILE (%s; synchronized per op, graphs off; us summed over layers)\n",
                 facts.name.c_str());
    std::fprintf(stderr, "%-20s %14s %14s %16s\n", "op", "decode 1st us", "decode 2nd us", "prefill us");
    std::fprintf(stderr, "%-20s %14s %14s %16lld\n", "(tokens)", "1", "1", static_cast<long long>(np));
    for (const auto& k : keys)
      std::fprintf(stderr, "%-20s %14.1f %14.1f %16.1f\n", k.c_str(), find(dec1, k), find(dec2, k), find(pre, k));
  }
  double best_prefill = 1e30, best_decode = 1e30;
  for (int64_t r = 0; r < reps; ++r) {
    auto state = gpu.new_state(n_prompt + n_gen + 1);
    auto t0 = Clock::now();
    int32_t tok = gpu.eval_greedy(state, prompt.data(), n_prompt);
    best_prefill = std::min(best_prefill, seconds_since(t0));
    auto t1 = Clock::now();
    for (int64_t i = 0; i < n_gen; ++i) tok = gpu.eval_greedy(state, &tok, 1);
    best_decode = std::min(best_decode, seconds_since(t1));
  }
  const double prefill_tps = n_prompt / best_prefill, decode_tps = n_gen / best_decode;
  const uint64_t bytes = decode_weight_bytes(*model);
  const uint64_t params = prefill_params(*model);
  const double prefill_tflops = 2.0 * static_cast<double>(params) * n_prompt / best_prefill / 1e12;
  const double peak = tensor_peak_tflops(facts.name);

  // Edit latency: a document of D tokens read with a recurrent snapshot every 256 tokens; an edit at 90%
  // restores the nearest snapshot at or before it, truncates the KV, re-reads to the end and produces the
  // next token (greedy). Median of 5.
  const int64_t D = a.get_int("edit-doc-tokens", 8192);
  double edit_ms = -1;
  if (D >= 2) {
    constexpr int64_t kEvery = 256;
    std::vector<int32_t> doc(D);
    for (int64_t i = 0; i < D; ++i) doc[i] = static_cast<int32_t>((i * 104729 + 7) % V);
    auto st = gpu.new_state(D + 1);
    const int slots = static_cast<int>(D / kEvery) + 1;
    gpu.reserve_snapshots(st, slots);
    gpu.save_snapshot(st, 0);  // slot k: after k * 256 tokens
    for (int64_t done = 0; done < D; done += kEvery) {
      const int64_t n = std::min(kEvery, D - done);
      gpu.eval(st, doc.data() + done, n, Logits::None, nullptr);
      if (n == kEvery) gpu.save_snapshot(st, static_cast<int>((done + n) / kEvery));
    }
    gpu.synchronize();
    const int64_t edit_at = D * 9 / 10;
    std::vector<double> ms;
    for (int r = 0; r < 5; ++r) {
      doc[edit_at] = static_cast<int32_t>((doc[edit_at] + 1 + r) % V);  // the edit
      auto t0 = Clock::now();
      const int64_t from = gpu.restore_snapshot(st, static_cast<int>(edit_at / kEvery));
      gpu.eval_greedy(st, doc.data() + from, D - from);
      ms.push_back(seconds_since(t0) * 1e3);
    }
    std::sort(ms.begin(), ms.end());
    edit_ms = ms[ms.size() / 2];
  }

  hybrid::JsonWriter w;
  w.begin_object();
  w.field("device", facts.name).field("prompt_tokens", n_prompt).field("gen_tokens", n_gen);
  w.field("prefill_tps", prefill_tps).field("decode_tps", decode_tps);
  w.field("weight_bytes_per_token", bytes).field("decode_gbs", bytes * decode_tps / 1e9);
  w.field("copy_gbs", copy_gbs).field("decode_roofline_fraction", bytes * decode_tps / 1e9 / copy_gbs);
  w.field("prefill_params", params).field("prefill_tflops", prefill_tflops);
  w.key("tensor_peak_tflops");
  if (peak > 0) w.value(peak);
  else w.null();
  w.key("prefill_peak_fraction");
  if (peak > 0) w.value(prefill_tflops / peak);
  else w.null();
  w.field("edit_doc_tokens", D).key("edit_latency_ms");
  if (edit_ms >= 0) w.value(edit_ms);
  else w.null();
  w.field("cuda_graphs", gpu.graphs_enabled()).field("device_bytes", gpu.device_bytes());
  w.field("device_weight_bytes", gpu.weight_device_bytes());
  w.end_object();
  if (a.flag("json")) std::printf("%s\n", w.str().c_str());
  else std::printf("%s: prefill %.1f tok/s (%.1f TFLOP/s), decode %.1f tok/s (%.1f GB/s of weights, %.0f%% of copy %.0f GB/s), edit %.1f ms\n",
                   facts.name.c_str(), prefill_tps, prefill_tflops, decode_tps, bytes * decode_tps / 1e9,
                   100.0 * bytes * decode_tps / 1e9 / copy_gbs, copy_gbs, edit_ms);
  return 0;
}

int cmd_bench(const Args& a) {
  a.allow_only({"prompt-tokens", "gen-tokens", "threads", "reps", "device", "edit-doc-tokens"});
  auto model = Model::load(model_path(a));
  const int64_t n_prompt = a.get_int("prompt-tokens", 512), n_gen = a.get_int("gen-tokens", 128);
  const int64_t reps = std::max<int64_t>(1, a.get_int("reps", 1));
  if (n_prompt < 1 || n_gen < 1) throw UsageError("--prompt-tokens and --gen-tokens must be >= 1");
  if (auto gpu = open_device(a, model, 512)) return bench_cuda(a, model, *gpu, n_prompt, n_gen, reps);
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
  const uint64_t bytes = decode_weight_bytes(*model);
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
HYBRID_CLI_COMMAND("logits", "logits MODEL --tokens 1,2,3 [--all-positions] [--batch B] [--threads T] [--device cpu|cuda|auto] --json",
                   "next-token logits (full vocabulary, float32) after the tokens", {"json", "all-positions"}, cmd_logits);
HYBRID_CLI_COMMAND("generate", "generate MODEL --tokens 1,2,3 -n N [--temp 0] [--seed S] [--device cpu|cuda|auto] --json",
                   "generate N tokens (greedy at --temp 0)", {"json"}, cmd_generate);
HYBRID_CLI_COMMAND("bench",
                   "bench MODEL --prompt-tokens 512 --gen-tokens 128 [--threads T] [--device cpu|cuda|auto] "
                   "[--edit-doc-tokens 8192] --json",
                   "prefill and decode speed (CUDA: + roofline fractions, edit latency)", {"json"}, cmd_bench);

}  // namespace
