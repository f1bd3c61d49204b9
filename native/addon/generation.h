// The generation loop the addon runs on a native thread (design.md, "A completion request", steps 4-5):
// tokenize the prompt parts (each capped, the whole cut to fit the context), bring the document's session
// to the prompt (keep the common prefix, roll back to the nearest checkpoint, append the rest in chunks),
// read the continuation (FIM suffix) in a fork, then sample, detokenize (UTF-8 safe) and emit one chunk
// per token from the fork, which is dropped at the end. Between every two model evaluations it checks the
// cancel flag, so a cancel takes effect within one decode step (or one prefill chunk).
//
// No N-API here: plain C++ over the core (runtime::Session, tok::Tokenizer), so it can move into the core
// and the CLI can share it. Only addon.cpp includes this file (the addon is one translation unit in
// native/CMakeLists.txt).
#pragma once
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <unistd.h>

#include "backend/cuda/cuda_engine.h"
#include "backend/cuda/cuda_sequence.h"
#include "gguf/gguf.h"
#include "model/arch.h"
#include "runtime/engine.h"
#include "runtime/sampler.h"
#include "runtime/sequence.h"
#include "runtime/session.h"
#include "tokenizer/incremental.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab_gguf.h"
#include "util/error.h"
#include "util/json.h"

namespace hybrid::addon {

using Clock = std::chrono::steady_clock;
inline double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// A model as the worker holds it: weights (memory-mapped), tokenizer (when the file has one), one engine —
// the CPU's, or the GPU's when the device setting allows and a usable CUDA device holds the weights.
// The engine has one workspace, so generations on one model run one at a time (`compute`).
struct LoadedModel {
  std::string path;
  std::shared_ptr<runtime::Model> model;
  std::unique_ptr<tok::Tokenizer> tokenizer;  // null when the file has none (tokenizer_error says why)
  std::string tokenizer_error;
  std::unique_ptr<runtime::Engine> engine;     // the CPU engine (null when the model runs on CUDA)
  std::unique_ptr<cuda::CudaEngine> cuda;      // the CUDA engine (null on the CPU)
  std::shared_ptr<cuda::SnapshotPool> snapshots;  // where CUDA sessions keep checkpoints
  // The device: what was asked ("auto", "cuda", "cpu"), what runs ("cpu", "cuda"), why, and its name.
  std::string device_requested = "cpu", device = "cpu", device_reason, device_name;
  std::mutex compute;
  double load_ms = 0;
  int64_t max_batch = 0;
  // Memory budget for the state of all document sessions (checkpoints + KV caches); 0: none. Enforced
  // after each request: the least recently used sessions lose their checkpoints first, then themselves.
  uint64_t state_budget_bytes = 0;
  std::vector<std::weak_ptr<struct DocSession>> sessions;  // guarded by compute
  uint64_t use_clock = 0;
  uint64_t evicted_checkpoint_bytes = 0, evicted_sessions = 0;
  // Sessions of closed documents on CUDA, freed by the next generation (which holds `compute`): freeing
  // device memory waits for the device, and the thread that drops a document's last reference is often the
  // JS thread, which must keep answering. Declared after `cuda`, so they go before the engine.
  std::mutex retired_mu;
  std::vector<std::unique_ptr<runtime::Session>> retired;

  void retire(std::unique_ptr<runtime::Session> s) {
    std::lock_guard<std::mutex> lock(retired_mu);
    retired.push_back(std::move(s));
  }
  void free_retired() {  // call with `compute` held
    std::vector<std::unique_ptr<runtime::Session>> gone;
    {
      std::lock_guard<std::mutex> lock(retired_mu);
      gone.swap(retired);
    }
  }

  // A fresh sequence of n_ctx tokens on the model's device.
  std::unique_ptr<runtime::Sequence> new_sequence(int64_t n_ctx) {
    if (cuda) return std::make_unique<cuda::CudaSequence>(*cuda, snapshots, n_ctx);
    return std::make_unique<runtime::CpuSequence>(*engine, n_ctx);
  }
  // Tokens per evaluation while reading a prompt: the request's (cancel granularity) on the CPU; on the GPU
  // at least the engine's batch (a batch of 64 would leave the tensor cores idle).
  int64_t prefill_chunk(int64_t requested) const {
    return cuda ? std::max<int64_t>(requested, cuda->max_batch()) : std::max<int64_t>(1, requested);
  }
};

struct LoadProgress {
  std::string stage;  // "open", "read", "tokenizer", "engine" (the CUDA engine uploads the weights here)
  uint64_t done = 0, total = 0;
};

struct LoadOptions {
  int threads = 0;                 // CPU engine threads (0: one per core)
  int64_t max_batch = 64;          // CPU engine: tokens per forward batch
  std::string device = "auto";     // "auto", "cuda" or "cpu"
  uint64_t state_budget_bytes = 0; // all document sessions together (0: none; on CUDA capped by free memory)
  int64_t cuda_max_batch = 512;    // CUDA engine: tokens per forward batch (its workspace is sized for it)
};

// Puts the model on the device `requested` asks for: "cpu"; "cuda" or "auto" use CUDA device 0 when this
// build has the CUDA backend, a driver and a device are present and the weights fit, else the CPU, with
// the reason (what did not fit and how much was free, or why CUDA is not usable) in device_reason.
inline void choose_device(LoadedModel& lm, const LoadOptions& o) {
  const std::string& requested = o.device;
  lm.device_requested = requested;
  if (requested != "cpu") {
    std::string why;
    if (cuda::cuda_usable(0, &why)) {
      try {
        lm.cuda = std::make_unique<cuda::CudaEngine>(lm.model, 0, std::max<int64_t>(1, o.cuda_max_batch));
        const auto facts = lm.cuda->device_facts();
        const auto mem = lm.cuda->device_memory();
        lm.snapshots = std::make_shared<cuda::SnapshotPool>();
        // Checkpoints in device memory: up to a quarter of what is free after the weights, at most 2 GiB;
        // then in pinned host memory: up to an eighth of the machine's memory, at most 8 GiB.
        lm.snapshots->device_budget = std::min<uint64_t>(mem.first / 4, 2ull << 30);
        const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
        const uint64_t ram = pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) : (8ull << 30);
        lm.snapshots->host_budget = std::min<uint64_t>(ram / 8, 8ull << 30);
        lm.device = "cuda";
        lm.device_name = facts.name;
        lm.device_reason = "CUDA device 0 (" + facts.name + ") holds the weights (" +
                           std::to_string(lm.cuda->weight_device_bytes() >> 20) + " MiB; " +
                           std::to_string(mem.first >> 20) + " MiB free of " + std::to_string(mem.second >> 20) + ")";
        // Sessions' KV caches and checkpoints live in device memory: keep them within 80% of what is free.
        const uint64_t cap = mem.first / 5 * 4;
        if (lm.state_budget_bytes == 0 || lm.state_budget_bytes > cap) lm.state_budget_bytes = cap;
        return;
      } catch (const std::exception& e) {
        lm.cuda.reset();
        why = e.what();
      }
    }
    lm.device_reason = "falling back to the CPU: " + why;
  } else {
    lm.device_reason = "the device setting is \"cpu\"";
  }
  lm.device = "cpu";
  lm.engine = std::make_unique<runtime::Engine>(lm.model, o.threads, o.max_batch);
  lm.device_name = "CPU (" + std::to_string(lm.engine->threads()) + " threads)";
}

// Loads and validates the file, reads every weight page once (so the first request does not pay the page
// faults, and the user sees real progress for a large file), builds the tokenizer and the engine on the
// device the options ask for (choose_device).
inline std::shared_ptr<LoadedModel> load_model(const std::string& path, const LoadOptions& opts,
                                               const std::function<void(const LoadProgress&)>& progress) {
  const auto t0 = Clock::now();
  auto lm = std::make_shared<LoadedModel>();
  lm->path = path;
  progress({"open", 0, 1});
  lm->model = runtime::Model::load(path);
  // Keys model_info_json() reads as text: a wrong type (a u32 general.name, an array chat template) is a
  // load error naming the key, here, not an exception from info() later (which aborted the worker).
  (void)lm->model->file().opt_str("general.name");
  (void)lm->model->file().opt_str("tokenizer.chat_template");
  const auto& tensors = lm->model->file().tensors();
  uint64_t total = 0, done = 0, next_report = 0;
  for (const auto& t : tensors) total += t.nbytes;
  progress({"read", 0, total});
  const uint64_t step = std::max<uint64_t>(total / 100, 1);
  volatile uint8_t sink = 0;
  for (const auto& t : tensors) {
    for (uint64_t off = 0; off < t.nbytes; off += 4096) sink = sink ^ t.data[off];
    done += t.nbytes;
    if (done >= next_report) {
      progress({"read", done, total});
      next_report = done + step;
    }
  }
  (void)sink;
  progress({"tokenizer", 0, 1});
  if (lm->model->file().has("tokenizer.ggml.model")) {
    try {
      lm->tokenizer = std::make_unique<tok::Tokenizer>(tok::vocab_from_gguf(lm->model->file()));
    } catch (const InputError& e) {
      lm->tokenizer_error = e.what();
    }
  } else {
    lm->tokenizer_error = path + ": the file has no tokenizer (tokenizer.ggml.model is missing)";
  }
  progress({"engine", 0, 1});
  lm->max_batch = opts.max_batch;
  lm->state_budget_bytes = opts.state_budget_bytes;
  choose_device(*lm, opts);
  lm->load_ms = ms_since(t0);
  progress({"engine", 1, 1});
  return lm;
}

// The model's facts for the host: file, hyperparameters, tokenizer and special tokens, chat template.
inline std::string model_info_json(const LoadedModel& lm) {
  const auto& hp = lm.model->hp();
  const auto& file = lm.model->file();
  JsonWriter w;
  w.begin_object();
  w.field("path", lm.path).field("fileSize", file.file_size()).field("weightBytes", lm.model->weight_bytes());
  w.field("architecture", std::string(model::arch_name(hp.arch)));
  if (auto name = file.opt_str("general.name")) w.field("name", std::string(*name));
  else w.key("name").null();
  w.field("loadMs", lm.load_ms).field("threads", lm.engine ? lm.engine->threads() : 0);
  w.field("maxBatch", lm.cuda ? lm.cuda->max_batch() : lm.max_batch);
  w.key("device").begin_object();
  w.field("requested", lm.device_requested).field("using", lm.device).field("reason", lm.device_reason);
  w.field("name", lm.device_name).field("stateBudgetBytes", lm.state_budget_bytes);
  if (lm.cuda) {
    w.field("weightDeviceBytes", lm.cuda->weight_device_bytes()).field("engineDeviceBytes", lm.cuda->device_bytes());
    w.field("snapshotDeviceBudget", lm.snapshots->device_budget).field("snapshotHostBudget", lm.snapshots->host_budget);
  }
  w.end_object();
  w.key("hparams").begin_object();
  w.field("contextLength", hp.n_ctx_train).field("embeddingLength", hp.n_embd).field("blockCount", hp.n_layer);
  w.field("vocabSize", hp.n_vocab).field("normEps", static_cast<double>(hp.norm_eps)).field("tiedOutput", hp.tied_output);
  w.field("pattern", hp.pattern());
  w.field("mamba2Layers", hp.count(model::LayerKind::Mamba2));
  w.field("attentionLayers", hp.count(model::LayerKind::Attention));
  w.field("mlpLayers", hp.count(model::LayerKind::Mlp));
  w.field("headDim", hp.head_dim);
  w.key("ssm").begin_object();
  w.field("convKernel", hp.ssm_d_conv).field("innerSize", hp.ssm_d_inner).field("stateSize", hp.ssm_d_state);
  w.field("headCount", hp.ssm_n_head).field("groupCount", hp.ssm_n_group);
  w.end_object();
  w.end_object();
  // Bytes of the Mamba-2 state of one sequence (what a checkpoint copies), per design.md's arithmetic.
  uint64_t recurrent = 0;
  if (hp.count(model::LayerKind::Mamba2) > 0) {
    recurrent = static_cast<uint64_t>(hp.count(model::LayerKind::Mamba2)) * 4 *
                (static_cast<uint64_t>(hp.ssm_d_inner) * hp.ssm_d_state + hp.ssm_conv_channels() * (hp.ssm_d_conv - 1));
  }
  w.field("recurrentStateBytes", recurrent);
  w.key("tokenizer");
  if (!lm.tokenizer) {
    w.begin_object().field("present", false).field("error", lm.tokenizer_error).end_object();
  } else {
    const auto& t = *lm.tokenizer;
    const auto& s = t.special();
    auto id = [&](const char* key, tok::TokenId v) {
      w.key(key);
      if (v == tok::kNoToken) w.null();
      else w.value(static_cast<int64_t>(v));
    };
    w.begin_object().field("present", true).field("model", std::string("gpt2")).field("pre", t.pre());
    w.field("size", static_cast<uint64_t>(t.size())).field("addBos", t.add_bos()).field("addEos", t.add_eos());
    id("bos", s.bos); id("eos", s.eos); id("eot", s.eot);
    auto text = [&](const char* key, tok::TokenId v) {
      w.key(key);
      if (v == tok::kNoToken) w.null();
      else w.value(t.piece(v));
    };
    text("bosText", s.bos); text("eosText", s.eos); text("eotText", s.eot);
    id("fimPrefix", s.fim_pre); id("fimSuffix", s.fim_suf); id("fimMiddle", s.fim_mid);
    w.key("eog").begin_array();
    for (tok::TokenId e : t.eog_ids()) w.value(static_cast<int64_t>(e));
    w.end_array();
    // Think tags of reasoning models (Nemotron Nano 2): their ids when each is one token.
    id("thinkOpen", t.find("<think>"));
    id("thinkClose", t.find("</think>"));
    w.end_object();
  }
  w.key("chatTemplate");
  if (auto tpl = file.opt_str("tokenizer.chat_template")) w.value(std::string(*tpl));
  else w.null();
  w.end_object();
  return w.str();
}

// A document's session as the worker holds it: created on the compute thread by the first generation
// that uses it (a session allocates its KV caches for n_ctx tokens, too slow for the JS thread).
struct DocSession {
  std::shared_ptr<LoadedModel> model;  // the engine the session runs on stays alive with it
  int64_t n_ctx = 4096;
  runtime::CheckpointPolicy policy;
  std::unique_ptr<runtime::Session> session;  // guarded by LoadedModel::compute
  // The document text of the last request's `document` part and its tokens, tokenized incrementally: a
  // keystroke re-tokenizes only the text since the last safe line boundary before it.
  std::unique_ptr<tok::DocumentTokens> doc_tokens;
  uint64_t last_used = 0;
  bool registered = false;

  ~DocSession() {
    if (session && model && model->cuda) model->retire(std::move(session));
  }
};

// Keeps the state of all sessions of a model within its budget (call with the compute lock held).
// `current` (the request just served) goes last.
inline void enforce_state_budget(LoadedModel& lm, const DocSession* current) {
  std::vector<std::shared_ptr<DocSession>> live;
  uint64_t total = 0;
  for (auto it = lm.sessions.begin(); it != lm.sessions.end();) {
    if (auto s = it->lock()) {
      if (s->session) total += s->session->memory_bytes();
      live.push_back(std::move(s));
      ++it;
    } else {
      it = lm.sessions.erase(it);
    }
  }
  if (lm.state_budget_bytes == 0 || total <= lm.state_budget_bytes) return;
  std::sort(live.begin(), live.end(), [&](const auto& a, const auto& b) {
    if ((a.get() == current) != (b.get() == current)) return b.get() == current;
    return a->last_used < b->last_used;
  });
  for (auto& s : live) {  // first pass: checkpoints, least recently used first
    if (total <= lm.state_budget_bytes) return;
    if (!s->session || s.get() == current) continue;
    const uint64_t freed = s->session->drop_checkpoints();
    total -= freed;
    lm.evicted_checkpoint_bytes += freed;
  }
  for (auto& s : live) {  // second pass: whole sessions (their next request reads the document again)
    if (total <= lm.state_budget_bytes) return;
    if (!s->session || s.get() == current) continue;
    total -= s->session->memory_bytes();
    s->session.reset();
    s->doc_tokens.reset();
    ++lm.evicted_sessions;
  }
}

// Bytes of the attention KV caches of one session of n_ctx tokens (f32 K and V rows).
inline uint64_t kv_bytes(const LoadedModel& lm, int64_t n_ctx) {
  const auto& hp = lm.model->hp();
  uint64_t row = 0;
  for (uint32_t il = 0; il < hp.n_layer; ++il)
    if (hp.kinds[il] == model::LayerKind::Attention) row += static_cast<uint64_t>(hp.n_head_kv[il]) * hp.head_dim;
  return row * 2 * sizeof(float) * static_cast<uint64_t>(n_ctx);
}

// One piece of a prompt: text (tokenized without BOS/EOS) or token ids. `max_tokens` caps this part,
// keeping its tail (text before the cursor) or its head (text after it).
struct PromptPart {
  bool is_tokens = false;
  std::vector<int32_t> tokens;
  std::string text;
  bool parse_special = false;
  int64_t max_tokens = -1;  // < 0: no cap
  bool keep_tail = true;
  // The document's text (up to the cursor): tokenized incrementally against the session's last one.
  bool document = false;
};

struct GenerateRequest {
  // `prompt` is committed to the session (the document up to the cursor); `continuation` is read only in a
  // fork of it (FIM suffix and middle token), so the session keeps what the next keystroke can reuse.
  std::vector<PromptPart> prompt, continuation;
  std::shared_ptr<DocSession> session;  // null: a scratch session for this generation only
  bool add_bos = true;          // BOS first when the model's tokenizer asks for it
  int64_t max_tokens = 64;      // tokens to generate at most (injected ones included)
  int64_t context_length = 4096;  // for a scratch session; a document session has its own n_ctx
  // When the prompt is too long its oldest tokens go, in multiples of this: the window's start then moves
  // only every `truncate_align` tokens, so consecutive requests share a prefix the session can keep.
  int64_t truncate_align = 1;
  runtime::SamplerParams sampling;
  bool stop_at_eog = true;
  bool render_special = false;  // control tokens (e.g. <think>) appear in the text
  // Reasoning budget: once `reasoning_budget` tokens are generated and `reasoning_close` has not appeared in
  // the output, the tokens of `reasoning_inject` are fed as if generated (parsed with special tokens).
  int64_t reasoning_budget = 0;
  std::string reasoning_close, reasoning_inject;
  int64_t prefill_chunk = 64;   // tokens per prefill evaluation: the cancel granularity while reading
  // Pin a checkpoint this many tokens before the prompt's end: typing at the cursor changes the last
  // token or two (BPE merges across the boundary), and the next request then re-reads only from here
  // instead of from the last stride checkpoint. 0: off. (A policy the Session may take over.)
  int64_t pin_tail = 0;
};

struct Chunk {
  int32_t token = -1;  // -1: text flushed at the end (held bytes of an unfinished character)
  std::string text;
};

struct GenerateResult {
  std::string stop_reason;  // "eog", "maxTokens", "cancelled"
  int64_t prompt_tokens = 0, truncated_tokens = 0, generated_tokens = 0, injected_tokens = 0;
  int64_t kept_tokens = 0, reread_tokens = 0, read_tokens = 0;  // session reuse: kept, re-read from a checkpoint, read
  double wait_ms = 0, tokenize_ms = 0, prefill_ms = 0, decode_ms = 0, first_token_ms = 0;
  int64_t session_tokens = 0, checkpoints = 0;
  uint64_t checkpoint_bytes = 0, kv_bytes = 0;
};

inline void tokenize_parts(const LoadedModel& lm, const std::vector<PromptPart>& parts_in,
                           std::vector<std::vector<tok::TokenId>>& parts, int64_t* truncated, DocSession* doc = nullptr) {
  for (const auto& p : parts_in) {
    std::vector<tok::TokenId> ids;
    if (p.is_tokens) {
      for (int32_t t : p.tokens) {
        if (t < 0 || static_cast<uint32_t>(t) >= lm.model->hp().n_vocab) {
          throw InputError("prompt token " + std::to_string(t) + " is out of range (vocabulary size " +
                           std::to_string(lm.model->hp().n_vocab) + ")");
        }
      }
      ids = p.tokens;
    } else if (p.document && doc && lm.tokenizer && !p.parse_special) {
      if (!doc->doc_tokens) doc->doc_tokens = std::make_unique<tok::DocumentTokens>(*lm.tokenizer, std::string(), false);
      doc->doc_tokens->update(p.text);
      ids = doc->doc_tokens->prefix_tokens(p.text.size());
    } else if (!p.text.empty()) {
      if (!lm.tokenizer) throw InputError("cannot read text: " + lm.tokenizer_error);
      tok::EncodeOptions o;
      o.add_special = false;
      o.parse_special = p.parse_special;
      lm.tokenizer->encode(p.text, o, ids);
    }
    if (p.max_tokens >= 0 && static_cast<int64_t>(ids.size()) > p.max_tokens) {
      const size_t cut = ids.size() - static_cast<size_t>(p.max_tokens);
      *truncated += static_cast<int64_t>(cut);
      if (p.keep_tail) ids.erase(ids.begin(), ids.begin() + cut);
      else ids.resize(static_cast<size_t>(p.max_tokens));
    }
    parts.push_back(std::move(ids));
  }
}

// Tokenizes prompt and continuation and fits them into `n_ctx` with room for max_tokens: the oldest
// tokens of the prompt's tail-kept text parts go first.
inline void build_prompt(const LoadedModel& lm, const GenerateRequest& req, int64_t n_ctx, std::vector<tok::TokenId>& prompt,
                         std::vector<tok::TokenId>& continuation, int64_t* truncated, DocSession* doc = nullptr) {
  std::vector<std::vector<tok::TokenId>> parts, cont;
  tokenize_parts(lm, req.prompt, parts, truncated, doc);
  tokenize_parts(lm, req.continuation, cont, truncated);
  const bool bos = req.add_bos && lm.tokenizer && lm.tokenizer->add_bos() && lm.tokenizer->special().bos != tok::kNoToken;
  int64_t total = bos ? 1 : 0;
  for (const auto& p : parts) total += static_cast<int64_t>(p.size());
  for (const auto& p : cont) total += static_cast<int64_t>(p.size());
  const int64_t budget = n_ctx - req.max_tokens;
  if (budget < 1) {
    throw InputError("maxTokens " + std::to_string(req.max_tokens) + " leaves no room for a prompt in a context of " +
                     std::to_string(n_ctx) + " tokens");
  }
  if (total > budget) {
    const int64_t align = std::max<int64_t>(1, req.truncate_align);
    int64_t over = (total - budget + align - 1) / align * align;
    for (size_t i = 0; i < parts.size() && over > 0; ++i) {
      if (req.prompt[i].is_tokens || !req.prompt[i].keep_tail) continue;
      const int64_t cut = std::min<int64_t>(over, static_cast<int64_t>(parts[i].size()));
      parts[i].erase(parts[i].begin(), parts[i].begin() + cut);
      total -= cut;
      over -= cut;
      *truncated += cut;
    }
  }
  if (total > budget) {
    throw InputError("the prompt needs " + std::to_string(total) + " tokens, more than the " + std::to_string(budget) +
                     " left in a context of " + std::to_string(n_ctx) + " after " + std::to_string(req.max_tokens) +
                     " tokens to generate");
  }
  prompt.clear();
  continuation.clear();
  if (bos) prompt.push_back(lm.tokenizer->special().bos);
  for (const auto& p : parts) prompt.insert(prompt.end(), p.begin(), p.end());
  for (const auto& p : cont) continuation.insert(continuation.end(), p.begin(), p.end());
}

// Runs one generation. The caller holds lm.compute. Throws InputError for a bad request (the message is
// for the user); a cancel is not an error (stop_reason "cancelled").
inline GenerateResult generate(LoadedModel& lm, GenerateRequest& req, const std::atomic<bool>& cancel,
                               const std::function<void(const Chunk&)>& emit) {
  GenerateResult r;
  const auto t0 = Clock::now();
  lm.free_retired();
  const int64_t n_vocab = lm.model->hp().n_vocab;
  if (req.max_tokens < 0) throw InputError("maxTokens must be >= 0");
  std::vector<tok::TokenId> inject;
  if (req.reasoning_budget > 0 && !req.reasoning_inject.empty()) {
    if (!lm.tokenizer) throw InputError("a reasoning budget needs a tokenizer: " + lm.tokenizer_error);
    tok::EncodeOptions o;
    o.add_special = false;
    o.parse_special = true;
    inject = lm.tokenizer->encode(req.reasoning_inject, o);
  }
  std::shared_ptr<DocSession> doc = req.session;
  if (!doc) {
    doc = std::make_shared<DocSession>();
    doc->n_ctx = req.context_length;
    doc->policy.enabled = false;
  } else {
    doc->last_used = ++lm.use_clock;
    if (!doc->registered) {
      lm.sessions.push_back(doc);
      doc->registered = true;
    }
  }
  std::vector<tok::TokenId> prompt, continuation;
  build_prompt(lm, req, doc->n_ctx, prompt, continuation, &r.truncated_tokens, req.session ? doc.get() : nullptr);
  r.prompt_tokens = static_cast<int64_t>(prompt.size() + continuation.size());
  r.tokenize_ms = ms_since(t0);
  if (prompt.empty()) throw InputError("the prompt is empty (no text, no tokens, and the model adds no BOS)");
  // A scratch session needs room for this request only (its KV caches are allocated for all of n_ctx).
  if (!req.session) doc->n_ctx = std::min<int64_t>(doc->n_ctx, r.prompt_tokens + req.max_tokens + 1);
  if (!doc->session) doc->session = std::make_unique<runtime::Session>(lm.new_sequence(doc->n_ctx), doc->policy);
  runtime::Session& s = *doc->session;
  std::vector<float> logits(static_cast<size_t>(n_vocab));

  // Prefill: keep what the session already holds, roll back to the first changed token (nearest checkpoint
  // + re-read), then append the rest in chunks so that a cancel stops it between two of them.
  const auto t1 = Clock::now();
  const auto stats0 = s.stats();
  const int64_t n = static_cast<int64_t>(prompt.size());
  const int64_t common =
      std::mismatch(s.tokens().begin(), s.tokens().end(), prompt.begin(), prompt.end()).first - s.tokens().begin();
  r.kept_tokens = common;
  auto finish_session_stats = [&]() {
    r.reread_tokens = s.stats().tokens_reread - stats0.tokens_reread;
    r.read_tokens = s.stats().tokens_read - stats0.tokens_read;
    r.session_tokens = s.size();
    r.checkpoints = static_cast<int64_t>(s.checkpoints().size());
    r.checkpoint_bytes = s.checkpoint_bytes();
    r.kv_bytes = kv_bytes(lm, s.n_ctx());
  };
  auto cancelled = [&]() {
    if (!cancel.load(std::memory_order_relaxed)) return false;
    r.stop_reason = "cancelled";
    r.prefill_ms = ms_since(t1);
    finish_session_stats();
    return true;
  };
  if (common < s.size()) s.rollback_to_edit(common == n ? n - 1 : common);  // keep one token to re-read for logits
  const int64_t chunk = lm.prefill_chunk(req.prefill_chunk);
  const int64_t pin_at = req.session && req.pin_tail > 0 ? n - req.pin_tail : -1;
  const bool pin = pin_at > 0 && pin_at > s.size() &&
                   (s.checkpoints().empty() || s.checkpoints().back().n < pin_at);
  for (int64_t k = s.size(); k < n;) {
    if (cancelled()) return r;
    int64_t m = std::min(chunk, n - k);
    if (pin && k < pin_at) m = std::min(m, pin_at - k);
    s.append(prompt.data() + k, m, k + m == n ? logits.data() : nullptr);
    k += m;
    if (pin && k == pin_at) s.pin_checkpoint_here();
  }
  if (common >= n) std::copy(s.logits().begin(), s.logits().end(), logits.begin());
  std::unique_ptr<runtime::Fork> fork = s.fork();
  const int64_t nc = static_cast<int64_t>(continuation.size());
  for (int64_t k = 0; k < nc; k += chunk) {
    if (cancelled()) return r;
    const int64_t m = std::min(chunk, nc - k);
    fork->append(continuation.data() + k, m, k + m == nc ? logits.data() : nullptr);
  }
  r.prefill_ms = ms_since(t1);
  finish_session_stats();
  if (req.session) enforce_state_budget(lm, doc.get());

  // Decode in the fork: sample, stream, read the token, until a stop.
  const auto t2 = Clock::now();
  runtime::Sampler sampler(req.sampling);
  std::vector<int32_t> recent(prompt.end() - std::min<int64_t>(n, 256), prompt.end());
  recent.insert(recent.end(), continuation.begin(), continuation.end());
  std::unique_ptr<tok::Detokenizer> detok;
  if (lm.tokenizer) detok = std::make_unique<tok::Detokenizer>(*lm.tokenizer, req.render_special);
  std::string tail;  // the end of the output, to see the reasoning close tag
  bool closed = req.reasoning_budget <= 0 || req.reasoning_close.empty() || inject.empty();
  size_t inject_at = inject.size();  // index into `inject` while injecting
  r.stop_reason = "maxTokens";
  // Greedy without penalties on the GPU: the device picks the token and only its id comes back (no copy
  // of the n_vocab logits per token).
  const auto& sp = req.sampling;
  const bool device_greedy = lm.cuda && sp.temperature <= 0.0f && sp.repeat_penalty == 1.0f &&
                             sp.presence_penalty == 0.0f && sp.frequency_penalty == 0.0f;
  int32_t next_greedy = -1;  // device_greedy: the argmax after the last token read
  while (r.generated_tokens < req.max_tokens) {
    if (cancel.load(std::memory_order_relaxed)) {
      r.stop_reason = "cancelled";
      break;
    }
    int32_t tok;
    const bool injected = inject_at < inject.size();
    if (injected) tok = inject[inject_at++];
    else if (next_greedy >= 0) tok = next_greedy;
    else tok = sampler.sample(logits.data(), static_cast<int32_t>(n_vocab), recent);
    if (!injected && req.stop_at_eog && lm.tokenizer && lm.tokenizer->is_eog(tok)) {
      r.stop_reason = "eog";
      break;
    }
    Chunk c;
    c.token = tok;
    if (detok) c.text = detok->push(tok);
    if (r.generated_tokens == 0) r.first_token_ms = ms_since(t0);
    ++r.generated_tokens;
    if (injected) ++r.injected_tokens;
    if (!closed) {
      tail += c.text;
      if (tail.find(req.reasoning_close) != std::string::npos) closed = true;
      if (tail.size() > 2 * req.reasoning_close.size() + 16) tail.erase(0, tail.size() - req.reasoning_close.size() - 8);
      if (!closed && r.generated_tokens >= req.reasoning_budget) {
        inject_at = 0;  // feed the close tag from the next step on
        closed = true;
      }
    }
    emit(c);
    recent.push_back(tok);
    if (recent.size() > 512) recent.erase(recent.begin(), recent.begin() + 256);
    if (r.generated_tokens >= req.max_tokens) break;
    if (device_greedy) next_greedy = fork->append_argmax(&tok, 1);
    else fork->append(&tok, 1, logits.data());
  }
  if (detok) {
    std::string rest = detok->flush();
    if (!rest.empty()) emit(Chunk{-1, rest});
  }
  r.decode_ms = ms_since(t2);
  return r;
}

}  // namespace hybrid::addon
