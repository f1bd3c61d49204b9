// The Node addon: thin N-API bindings over the core. Runs inside the runtime worker process only, never in
// the extension host. Everything that computes runs off the JS thread (Napi::AsyncProgressQueueWorker on
// libuv's pool) so the worker's event loop keeps answering pings and cancellations while a model works.
//
// JS API (typed in src/worker/addon.ts):
//   version(): string                         systemInfo(): string (JSON, as `hybrid --version --json`)
//   loadModel(path, {threads, maxBatch, stateBudgetBytes, device: "auto"|"cuda"|"cpu"}, onProgress(stage, done, total))
//     -> Promise<Model>   (device "auto"/"cuda": CUDA device 0 when usable, else the CPU; Model.info().device says
//     which and why)
//   Model.info(): string (JSON)               Model.tokenize(text, {addSpecial, parseSpecial}) -> Int32Array
//   Model.detokenize(Int32Array | number[], {special}) -> string
//   Model.createSession(options) -> Session { dispose() }   (one per document; KV + checkpoints)
//   Model.generate(request, onChunk(token, text)) -> Job { done: Promise<result>, cancel(): void }
//   Model.dispose()
// Errors from bad input (a corrupt file, a prompt that does not fit) carry code "EINPUT".
//
// Any other C++ exception that leaves a synchronous method becomes a JS Error: node-addon-api otherwise
// converts only Napi::Error, and anything else reaching N-API terminates the worker process.
#define NODE_ADDON_API_CPP_EXCEPTIONS_ALL
#include <napi.h>

#include <atomic>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "core/system_info.h"
#include "generation.h"
#include "util/error.h"

namespace {

using hybrid::InputError;
using hybrid::addon::Chunk;
using hybrid::addon::GenerateRequest;
using hybrid::addon::GenerateResult;
using hybrid::addon::LoadedModel;
using hybrid::addon::LoadProgress;

struct AddonData {
  Napi::FunctionReference model_ctor;
  Napi::FunctionReference job_ctor;
  Napi::FunctionReference session_ctor;
};

Napi::Error make_error(Napi::Env env, const std::string& message, bool input) {
  Napi::Error e = Napi::Error::New(env, message);
  if (input) e.Set("code", Napi::String::New(env, "EINPUT"));
  return e;
}

// ---- argument helpers: the worker validates first, but the addon never trusts its caller either ----

Napi::Object object_arg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsObject()) throw Napi::TypeError::New(info.Env(), std::string(what) + " must be an object");
  return info[i].As<Napi::Object>();
}

double num_field(const Napi::Object& o, const char* key, double fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d)) throw Napi::RangeError::New(o.Env(), std::string(key) + " must be a finite number");
  return d;
}

// Converting a double outside the destination type's range is undefined behaviour ([conv.fpint],
// [conv.double]): such values are refused, not converted.
int64_t int_field(const Napi::Object& o, const char* key, int64_t fallback) {
  const double d = num_field(o, key, static_cast<double>(fallback));
  if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0)) throw Napi::RangeError::New(o.Env(), std::string(key) + " is out of range");
  return static_cast<int64_t>(d);
}

float float_field(const Napi::Object& o, const char* key, float fallback) {
  const double d = num_field(o, key, fallback);
  if (std::fabs(d) > std::numeric_limits<float>::max()) throw Napi::RangeError::New(o.Env(), std::string(key) + " is out of range");
  return static_cast<float>(d);
}

uint64_t bytes_field(const Napi::Object& o, const char* key, uint64_t fallback) {
  const double d = num_field(o, key, static_cast<double>(fallback));
  if (!(d >= 0 && d < 18446744073709551616.0)) throw Napi::RangeError::New(o.Env(), std::string(key) + " must be a byte count >= 0");
  return static_cast<uint64_t>(d);
}

bool bool_field(const Napi::Object& o, const char* key, bool fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsBoolean()) throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

std::string str_field(const Napi::Object& o, const char* key, const std::string& fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsString()) throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

std::vector<int32_t> token_array(Napi::Env env, Napi::Value v) {
  std::vector<int32_t> out;
  if (v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_int32_array) {
    auto a = v.As<Napi::Int32Array>();
    out.assign(a.Data(), a.Data() + a.ElementLength());
  } else if (v.IsArray()) {
    auto a = v.As<Napi::Array>();
    out.reserve(a.Length());
    for (uint32_t i = 0; i < a.Length(); ++i) {
      Napi::Value x = a.Get(i);
      if (!x.IsNumber()) throw Napi::TypeError::New(env, "tokens must be numbers");
      out.push_back(x.As<Napi::Number>().Int32Value());
    }
  } else {
    throw Napi::TypeError::New(env, "tokens must be an Int32Array or an array of numbers");
  }
  return out;
}

// ---- loadModel ----

class LoadWorker : public Napi::AsyncProgressQueueWorker<LoadProgress> {
 public:
  LoadWorker(Napi::Env env, std::string path, hybrid::addon::LoadOptions opts, Napi::Function on_progress)
      : Napi::AsyncProgressQueueWorker<LoadProgress>(env, "hybrid.loadModel"),
        path_(std::move(path)), opts_(std::move(opts)), deferred_(Napi::Promise::Deferred::New(env)) {
    if (!on_progress.IsEmpty()) on_progress_ = Napi::Persistent(on_progress);
  }
  Napi::Promise promise() const { return deferred_.Promise(); }

 protected:
  void Execute(const ExecutionProgress& progress) override {
    try {
      loaded_ = hybrid::addon::load_model(path_, opts_, [&](const LoadProgress& p) { progress.Send(&p, 1); });
    } catch (const InputError& e) {
      input_error_ = true;
      SetError(e.what());
    } catch (const std::exception& e) {
      SetError(path_ + ": " + e.what());
    }
  }
  void OnProgress(const LoadProgress* data, size_t count) override {
    if (on_progress_.IsEmpty()) return;
    Napi::HandleScope scope(Env());
    for (size_t i = 0; i < count; ++i) {
      try {
        on_progress_.Call({Napi::String::New(Env(), data[i].stage), Napi::Number::New(Env(), static_cast<double>(data[i].done)),
                           Napi::Number::New(Env(), static_cast<double>(data[i].total))});
      } catch (const Napi::Error&) {
        // a throwing progress listener does not stop the load
      }
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    auto* holder = new std::shared_ptr<LoadedModel>(std::move(loaded_));
    auto ext = Napi::External<std::shared_ptr<LoadedModel>>::New(
        env, holder, [](Napi::Env, std::shared_ptr<LoadedModel>* p) { delete p; });
    Napi::Object model = env.GetInstanceData<AddonData>()->model_ctor.New({ext});
    deferred_.Resolve(model);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(make_error(Env(), e.Message(), input_error_).Value()); }

 private:
  std::string path_;
  hybrid::addon::LoadOptions opts_;
  Napi::Promise::Deferred deferred_;
  Napi::FunctionReference on_progress_;
  std::shared_ptr<LoadedModel> loaded_;
  bool input_error_ = false;
};

Napi::Value LoadModel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "loadModel(path, options, onProgress): path must be a string");
  Napi::Object opts = info.Length() > 1 && info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env);
  Napi::Function on_progress = info.Length() > 2 && info[2].IsFunction() ? info[2].As<Napi::Function>() : Napi::Function();
  const int threads = static_cast<int>(int_field(opts, "threads", 0));
  const int64_t max_batch = int_field(opts, "maxBatch", 64);
  const uint64_t state_budget = bytes_field(opts, "stateBudgetBytes", 0);
  if (threads < 0 || threads > 1024) throw Napi::RangeError::New(env, "threads must be in 0..1024");
  if (max_batch < 1 || max_batch > 4096) throw Napi::RangeError::New(env, "maxBatch must be in 1..4096");
  std::string device = "auto";
  Napi::Value dv = opts.Get("device");
  if (!dv.IsUndefined()) {
    if (!dv.IsString()) throw Napi::TypeError::New(env, "device must be \"auto\", \"cuda\" or \"cpu\"");
    device = dv.As<Napi::String>().Utf8Value();
    if (device != "auto" && device != "cuda" && device != "cpu")
      throw Napi::RangeError::New(env, "device must be \"auto\", \"cuda\" or \"cpu\", not \"" + device.substr(0, 40) + "\"");
  }
  hybrid::addon::LoadOptions lo;
  lo.threads = threads;
  lo.max_batch = max_batch;
  lo.device = device;
  lo.state_budget_bytes = state_budget;
  auto* w = new LoadWorker(env, info[0].As<Napi::String>().Utf8Value(), lo, on_progress);
  Napi::Promise p = w->promise();
  w->Queue();
  return p;
}

// ---- Job: the handle of one generation; cancel() is safe at any time, from the JS thread ----

struct JobControl {
  std::atomic<bool> cancel{false};
};

class Job : public Napi::ObjectWrap<Job> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Job", {InstanceMethod<&Job::Cancel>("cancel")});
  }
  explicit Job(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Job>(info), control_(std::make_shared<JobControl>()) {}
  std::shared_ptr<JobControl> control() const { return control_; }

 private:
  Napi::Value Cancel(const Napi::CallbackInfo& info) {
    control_->cancel.store(true, std::memory_order_relaxed);
    return info.Env().Undefined();
  }
  std::shared_ptr<JobControl> control_;
};

class GenerateWorker : public Napi::AsyncProgressQueueWorker<Chunk> {
 public:
  GenerateWorker(Napi::Env env, std::shared_ptr<LoadedModel> model, GenerateRequest req, std::shared_ptr<JobControl> control,
                 Napi::Function on_chunk)
      : Napi::AsyncProgressQueueWorker<Chunk>(env, "hybrid.generate"),
        model_(std::move(model)), req_(std::move(req)), control_(std::move(control)), deferred_(Napi::Promise::Deferred::New(env)) {
    if (!on_chunk.IsEmpty()) on_chunk_ = Napi::Persistent(on_chunk);
  }
  Napi::Promise promise() const { return deferred_.Promise(); }

 protected:
  void Execute(const ExecutionProgress& progress) override {
    try {
      const auto t0 = hybrid::addon::Clock::now();
      std::lock_guard<std::mutex> lock(model_->compute);
      const double wait = hybrid::addon::ms_since(t0);
      result_ = hybrid::addon::generate(*model_, req_, control_->cancel, [&](const Chunk& c) { progress.Send(&c, 1); });
      result_.wait_ms = wait;
    } catch (const InputError& e) {
      input_error_ = true;
      SetError(e.what());
    } catch (const std::exception& e) {
      SetError(std::string("generation failed: ") + e.what());
    }
  }
  void OnProgress(const Chunk* data, size_t count) override {
    if (on_chunk_.IsEmpty()) return;
    Napi::HandleScope scope(Env());
    for (size_t i = 0; i < count; ++i) {
      try {
        on_chunk_.Call({Napi::Number::New(Env(), data[i].token), Napi::String::New(Env(), data[i].text)});
      } catch (const Napi::Error&) {
        control_->cancel.store(true);  // a listener that throws ends the generation, it cannot take in more
      }
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::Object o = Napi::Object::New(env);
    auto num = [&](const char* k, double v) { o.Set(k, Napi::Number::New(env, v)); };
    o.Set("stopReason", Napi::String::New(env, result_.stop_reason));
    num("promptTokens", static_cast<double>(result_.prompt_tokens));
    num("truncatedTokens", static_cast<double>(result_.truncated_tokens));
    num("generatedTokens", static_cast<double>(result_.generated_tokens));
    num("injectedTokens", static_cast<double>(result_.injected_tokens));
    num("waitMs", result_.wait_ms);
    num("tokenizeMs", result_.tokenize_ms);
    num("prefillMs", result_.prefill_ms);
    num("decodeMs", result_.decode_ms);
    num("firstTokenMs", result_.first_token_ms);
    num("keptTokens", static_cast<double>(result_.kept_tokens));
    num("rereadTokens", static_cast<double>(result_.reread_tokens));
    num("readTokens", static_cast<double>(result_.read_tokens));
    num("sessionTokens", static_cast<double>(result_.session_tokens));
    num("checkpoints", static_cast<double>(result_.checkpoints));
    num("checkpointBytes", static_cast<double>(result_.checkpoint_bytes));
    num("kvBytes", static_cast<double>(result_.kv_bytes));
    deferred_.Resolve(o);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(make_error(Env(), e.Message(), input_error_).Value()); }

 private:
  std::shared_ptr<LoadedModel> model_;
  GenerateRequest req_;
  std::shared_ptr<JobControl> control_;
  Napi::Promise::Deferred deferred_;
  Napi::FunctionReference on_chunk_;
  GenerateResult result_;
  bool input_error_ = false;
};

std::vector<hybrid::addon::PromptPart> parse_parts(Napi::Env env, Napi::Value value, const char* name) {
  std::vector<hybrid::addon::PromptPart> out;
  if (value.IsUndefined()) return out;
  if (!value.IsArray()) throw Napi::TypeError::New(env, std::string("request.") + name + " must be an array of parts");
  auto parts = value.As<Napi::Array>();
  for (uint32_t i = 0; i < parts.Length(); ++i) {
    Napi::Value pv = parts.Get(i);
    if (!pv.IsObject()) throw Napi::TypeError::New(env, std::string("request.") + name + "[" + std::to_string(i) + "] must be an object");
    auto po = pv.As<Napi::Object>();
    hybrid::addon::PromptPart p;
    if (po.Has("token")) {
      p.is_tokens = true;
      p.tokens.push_back(static_cast<int32_t>(int_field(po, "token", -1)));
    } else if (po.Has("tokens")) {
      p.is_tokens = true;
      p.tokens = token_array(env, po.Get("tokens"));
    } else {
      p.text = str_field(po, "text", "");
      p.parse_special = bool_field(po, "parseSpecial", false);
      p.document = bool_field(po, "document", false);
    }
    p.max_tokens = int_field(po, "maxTokens", -1);
    const std::string keep = str_field(po, "keep", "tail");
    if (keep != "tail" && keep != "head") throw Napi::TypeError::New(env, "prompt part keep must be 'head' or 'tail'");
    p.keep_tail = keep == "tail";
    out.push_back(std::move(p));
  }
  return out;
}

// A document session handle (Model.createSession): its native state lives as long as a job uses it.
class Session : public Napi::ObjectWrap<Session> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Session", {InstanceMethod<&Session::Dispose>("dispose")});
  }
  explicit Session(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Session>(info) {
    if (info.Length() != 1 || !info[0].IsExternal()) {
      throw Napi::TypeError::New(info.Env(), "Session objects come from Model.createSession(), not from `new`");
    }
    doc_ = *info[0].As<Napi::External<std::shared_ptr<hybrid::addon::DocSession>>>().Data();
  }
  std::shared_ptr<hybrid::addon::DocSession> doc() const { return doc_; }

 private:
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    doc_.reset();
    return info.Env().Undefined();
  }
  std::shared_ptr<hybrid::addon::DocSession> doc_;
};

GenerateRequest parse_request(Napi::Env env, const Napi::Object& o, const LoadedModel& model) {
  GenerateRequest r;
  r.prompt = parse_parts(env, o.Get("prompt"), "prompt");
  r.continuation = parse_parts(env, o.Get("continuation"), "continuation");
  Napi::Value sv = o.Get("session");
  if (!sv.IsUndefined() && !sv.IsNull()) {
    AddonData* data = env.GetInstanceData<AddonData>();
    if (!sv.IsObject() || !sv.As<Napi::Object>().InstanceOf(data->session_ctor.Value())) {
      throw Napi::TypeError::New(env, "request.session must come from Model.createSession()");
    }
    Session* session = Session::Unwrap(sv.As<Napi::Object>());
    if (!session->doc()) throw Napi::Error::New(env, "request.session was disposed");
    if (session->doc()->model.get() != &model) throw Napi::Error::New(env, "request.session belongs to another model");
    r.session = session->doc();
  }
  r.truncate_align = int_field(o, "truncateAlign", 1);
  r.add_bos = bool_field(o, "addBos", true);
  r.max_tokens = int_field(o, "maxTokens", 64);
  r.context_length = int_field(o, "contextLength", 4096);
  if (r.max_tokens < 0 || r.max_tokens > (1 << 24)) throw Napi::RangeError::New(env, "maxTokens out of range");
  if (r.context_length < 1 || r.context_length > (1 << 24)) throw Napi::RangeError::New(env, "contextLength out of range");
  r.stop_at_eog = bool_field(o, "stopAtEog", true);
  r.render_special = bool_field(o, "renderSpecial", false);
  r.prefill_chunk = int_field(o, "prefillChunk", 64);
  r.pin_tail = int_field(o, "pinTail", 0);
  Napi::Value s = o.Get("sampling");
  if (s.IsObject()) {
    auto so = s.As<Napi::Object>();
    auto& sp = r.sampling;
    sp.temperature = float_field(so, "temperature", sp.temperature);
    sp.top_k = static_cast<int32_t>(int_field(so, "topK", sp.top_k));
    sp.top_p = float_field(so, "topP", sp.top_p);
    sp.min_p = float_field(so, "minP", sp.min_p);
    sp.repeat_penalty = float_field(so, "repeatPenalty", sp.repeat_penalty);
    sp.presence_penalty = float_field(so, "presencePenalty", sp.presence_penalty);
    sp.frequency_penalty = float_field(so, "frequencyPenalty", sp.frequency_penalty);
    sp.penalty_last_n = static_cast<int32_t>(int_field(so, "penaltyLastN", sp.penalty_last_n));
    sp.seed = static_cast<uint64_t>(int_field(so, "seed", 0));
  }
  Napi::Value reasoning = o.Get("reasoning");
  if (reasoning.IsObject()) {
    auto ro = reasoning.As<Napi::Object>();
    r.reasoning_budget = int_field(ro, "budget", 0);
    r.reasoning_close = str_field(ro, "close", "");
    r.reasoning_inject = str_field(ro, "inject", "");
  }
  return r;
}

// ---- Model ----

class Model : public Napi::ObjectWrap<Model> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Model",
                       {InstanceMethod<&Model::Info>("info"), InstanceMethod<&Model::Tokenize>("tokenize"),
                        InstanceMethod<&Model::Detokenize>("detokenize"), InstanceMethod<&Model::Generate>("generate"),
                        InstanceMethod<&Model::CreateSession>("createSession"), InstanceMethod<&Model::Dispose>("dispose")});
  }
  explicit Model(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Model>(info) {
    if (info.Length() != 1 || !info[0].IsExternal()) {
      throw Napi::TypeError::New(info.Env(), "Model objects come from loadModel(), not from `new`");
    }
    model_ = *info[0].As<Napi::External<std::shared_ptr<LoadedModel>>>().Data();
  }

 private:
  LoadedModel& get(Napi::Env env) {
    if (!model_) throw Napi::Error::New(env, "the model was disposed");
    return *model_;
  }
  const hybrid::tok::Tokenizer& tokenizer(Napi::Env env) {
    LoadedModel& m = get(env);
    if (!m.tokenizer) throw make_error(env, m.tokenizer_error, true);
    return *m.tokenizer;
  }

  Napi::Value Info(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), hybrid::addon::model_info_json(get(info.Env())));
  }

  // Synchronous: meant for short texts (tests, the host's token counts); prompts are tokenized in generate().
  Napi::Value Tokenize(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "tokenize(text, options): text must be a string");
    Napi::Object opts = info.Length() > 1 && info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env);
    hybrid::tok::EncodeOptions o;
    o.add_special = bool_field(opts, "addSpecial", false);
    o.parse_special = bool_field(opts, "parseSpecial", false);
    std::vector<int32_t> ids;
    try {
      ids = tokenizer(env).encode(info[0].As<Napi::String>().Utf8Value(), o);
    } catch (const InputError& e) {
      throw make_error(env, e.what(), true);
    }
    auto out = Napi::Int32Array::New(env, ids.size());
    std::copy(ids.begin(), ids.end(), out.Data());
    return out;
  }

  Napi::Value Detokenize(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1) throw Napi::TypeError::New(env, "detokenize(tokens, options): tokens are required");
    std::vector<int32_t> ids = token_array(env, info[0]);
    Napi::Object opts = info.Length() > 1 && info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env);
    const auto& t = tokenizer(env);
    for (int32_t id : ids) {
      if (!t.valid(id)) throw make_error(env, "token id " + std::to_string(id) + " is out of range", true);
    }
    // Through the streaming detokenizer: the same text a generation streams (U+FFFD for invalid bytes).
    hybrid::tok::Detokenizer d(t, bool_field(opts, "special", false));
    std::string text;
    for (int32_t id : ids) text += d.push(id);
    text += d.flush();
    return Napi::String::New(env, text);
  }

  Napi::Value Generate(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    get(env);
    GenerateRequest req = parse_request(env, object_arg(info, 0, "generate(request, onChunk): request"), get(env));
    Napi::Function on_chunk = info.Length() > 1 && info[1].IsFunction() ? info[1].As<Napi::Function>() : Napi::Function();
    Napi::Object job = env.GetInstanceData<AddonData>()->job_ctor.New({});
    auto control = Job::Unwrap(job)->control();
    auto* w = new GenerateWorker(env, model_, std::move(req), control, on_chunk);
    job.Set("done", w->promise());
    w->Queue();
    return job;
  }

  // createSession({contextLength, checkpointStride, checkpointDense, checkpointBudgetBytes, checkpoints}):
  // a document's session; nothing is allocated until the first generate() that uses it.
  Napi::Value CreateSession(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    get(env);
    Napi::Object opts = info.Length() > 0 && info[0].IsObject() ? info[0].As<Napi::Object>() : Napi::Object::New(env);
    auto doc = std::make_shared<hybrid::addon::DocSession>();
    doc->model = model_;
    doc->n_ctx = int_field(opts, "contextLength", 4096);
    doc->policy.stride = int_field(opts, "checkpointStride", doc->policy.stride);
    doc->policy.dense = int_field(opts, "checkpointDense", doc->policy.dense);
    doc->policy.budget_bytes = bytes_field(opts, "checkpointBudgetBytes", doc->policy.budget_bytes);
    doc->policy.enabled = bool_field(opts, "checkpoints", true);
    if (doc->n_ctx < 16 || doc->n_ctx > (1 << 24)) throw Napi::RangeError::New(env, "contextLength must be in 16..16777216");
    if (doc->policy.stride < 1 || doc->policy.dense < 1) throw Napi::RangeError::New(env, "checkpointStride and checkpointDense must be >= 1");
    auto* holder = new std::shared_ptr<hybrid::addon::DocSession>(std::move(doc));
    auto ext = Napi::External<std::shared_ptr<hybrid::addon::DocSession>>::New(
        env, holder, [](Napi::Env, std::shared_ptr<hybrid::addon::DocSession>* p) { delete p; });
    return env.GetInstanceData<AddonData>()->session_ctor.New({ext});
  }

  // Drops this handle's reference; the memory goes when the last running generation ends.
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    model_.reset();
    return info.Env().Undefined();
  }

  std::shared_ptr<LoadedModel> model_;
};

// ---- module ----

Napi::Value Version(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), hybrid::query_system().version);
}

// systemInfo(): the same JSON the CLI prints for `hybrid --version --json`, as a string (one serializer).
Napi::Value SystemInfo(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), hybrid::system_info_json(hybrid::query_system()));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  Napi::Function model = Model::Define(env);
  Napi::Function job = Job::Define(env);
  Napi::Function session = Session::Define(env);
  data->session_ctor = Napi::Persistent(session);
  data->model_ctor = Napi::Persistent(model);
  data->job_ctor = Napi::Persistent(job);
  env.SetInstanceData(data);
  exports.Set("version", Napi::Function::New(env, Version, "version"));
  exports.Set("systemInfo", Napi::Function::New(env, SystemInfo, "systemInfo"));
  exports.Set("loadModel", Napi::Function::New(env, LoadModel, "loadModel"));
  exports.Set("Model", model);
  return exports;
}

}  // namespace

NODE_API_MODULE(hybrid_addon, Init)
