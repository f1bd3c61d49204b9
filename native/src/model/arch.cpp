#include "model/arch.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <optional>

#include "util/error.h"

namespace hybrid::model {
namespace {

using gguf::GgufFile;
using gguf::Tensor;
using gguf::Value;

// Shape symbols, evaluated per layer against the hyperparameters.
enum class Dim : uint8_t {
  One, Embd, Vocab, SsmConvKernel, SsmConvChannels, SsmInRows, SsmHeads, SsmInner, SsmInnerPerGroup, SsmGroups,
  AttnQDim, AttnKvDim, Ff, None,
};

const char* dim_formula(Dim d) {
  switch (d) {
    case Dim::One: return "1";
    case Dim::Embd: return "n_embd";
    case Dim::Vocab: return "n_vocab";
    case Dim::SsmConvKernel: return "d_conv";
    case Dim::SsmConvChannels: return "d_inner + 2*n_group*d_state";
    case Dim::SsmInRows: return "2*d_inner + 2*n_group*d_state + n_ssm_head";
    case Dim::SsmHeads: return "n_ssm_head";
    case Dim::SsmInner: return "d_inner";
    case Dim::SsmInnerPerGroup: return "d_inner/n_group";
    case Dim::SsmGroups: return "n_group";
    case Dim::AttnQDim: return "n_head*head_dim";
    case Dim::AttnKvDim: return "n_head_kv*head_dim";
    case Dim::Ff: return "n_ff";
    case Dim::None: return "";
  }
  return "?";
}

enum class Types : uint8_t { F32Only, AnyFileFormat };

constexpr uint8_t kAll = 0, kM = 1, kA = 2, kF = 4;  // layer-kind masks; kAll: every layer

struct TensorSpec {
  Role role;
  const char* name;  // global: full name; per layer: the part after "blk.N."
  bool per_layer;
  uint8_t kinds;     // per layer: which layer kinds have it (kAll: every layer)
  Dim shape[2];      // ggml order {ne0, ne1}; Dim::None for a 1-D tensor's ne1
  Types types;
  bool required;
  const char* note;  // why the format is fixed, for the error message
};

// nemotron_h (src/models/nemotron-h.cpp load_arch_tensors; names from src/llama-arch.cpp).
const TensorSpec kNemotronH[] = {
    {Role::TokenEmbd, "token_embd.weight", false, kAll, {Dim::Embd, Dim::Vocab}, Types::AnyFileFormat, true, ""},
    {Role::OutputNorm, "output_norm.weight", false, kAll, {Dim::Embd, Dim::None}, Types::F32Only, true, ""},
    {Role::Output, "output.weight", false, kAll, {Dim::Embd, Dim::Vocab}, Types::AnyFileFormat, false, ""},
    {Role::AttnNorm, "attn_norm.weight", true, kAll, {Dim::Embd, Dim::None}, Types::F32Only, true, ""},
    {Role::SsmIn, "ssm_in.weight", true, kM, {Dim::Embd, Dim::SsmInRows}, Types::AnyFileFormat, true, ""},
    {Role::SsmConv1d, "ssm_conv1d.weight", true, kM, {Dim::SsmConvKernel, Dim::SsmConvChannels}, Types::F32Only, true,
     " (ggml_ssm_conv needs F32)"},
    // The loader marks the bias optional, but the graph adds it unconditionally.
    {Role::SsmConv1dBias, "ssm_conv1d.bias", true, kM, {Dim::SsmConvChannels, Dim::None}, Types::F32Only, true, ""},
    {Role::SsmDtBias, "ssm_dt.bias", true, kM, {Dim::SsmHeads, Dim::None}, Types::F32Only, true, ""},
    {Role::SsmA, "ssm_a", true, kM, {Dim::One, Dim::SsmHeads}, Types::F32Only, true, " (ggml_ssm_scan needs F32)"},
    {Role::SsmD, "ssm_d", true, kM, {Dim::One, Dim::SsmHeads}, Types::F32Only, true, ""},
    {Role::SsmNorm, "ssm_norm.weight", true, kM, {Dim::SsmInnerPerGroup, Dim::SsmGroups}, Types::F32Only, true, ""},
    {Role::SsmOut, "ssm_out.weight", true, kM, {Dim::SsmInner, Dim::Embd}, Types::AnyFileFormat, true, ""},
    {Role::AttnQ, "attn_q.weight", true, kA, {Dim::Embd, Dim::AttnQDim}, Types::AnyFileFormat, true, ""},
    {Role::AttnK, "attn_k.weight", true, kA, {Dim::Embd, Dim::AttnKvDim}, Types::AnyFileFormat, true, ""},
    {Role::AttnV, "attn_v.weight", true, kA, {Dim::Embd, Dim::AttnKvDim}, Types::AnyFileFormat, true, ""},
    {Role::AttnOut, "attn_output.weight", true, kA, {Dim::AttnQDim, Dim::Embd}, Types::AnyFileFormat, true, ""},
    {Role::AttnQBias, "attn_q.bias", true, kA, {Dim::AttnQDim, Dim::None}, Types::F32Only, false, ""},
    {Role::AttnKBias, "attn_k.bias", true, kA, {Dim::AttnKvDim, Dim::None}, Types::F32Only, false, ""},
    {Role::AttnVBias, "attn_v.bias", true, kA, {Dim::AttnKvDim, Dim::None}, Types::F32Only, false, ""},
    {Role::AttnOutBias, "attn_output.bias", true, kA, {Dim::Embd, Dim::None}, Types::F32Only, false, ""},
    {Role::FfnUp, "ffn_up.weight", true, kF, {Dim::Embd, Dim::Ff}, Types::AnyFileFormat, true, ""},
    {Role::FfnDown, "ffn_down.weight", true, kF, {Dim::Ff, Dim::Embd}, Types::AnyFileFormat, true, ""},
    {Role::FfnUpBias, "ffn_up.bias", true, kF, {Dim::Ff, Dim::None}, Types::F32Only, false, ""},
    {Role::FfnDownBias, "ffn_down.bias", true, kF, {Dim::Embd, Dim::None}, Types::F32Only, false, ""},
};

// Hyperparameter values beyond this are rejected, which keeps every shape product below 2^64.
constexpr uint64_t kMaxDimValue = std::numeric_limits<int32_t>::max();

uint8_t kind_mask(LayerKind k) {
  return k == LayerKind::Mamba2 ? kM : (k == LayerKind::Attention ? kA : kF);
}

const TensorSpec* spec_of(Role r) {
  for (const TensorSpec& s : kNemotronH)
    if (s.role == r) return &s;
  return nullptr;
}

uint64_t dim_value(Dim d, const Hparams& hp, int il) {
  const size_t l = il < 0 ? 0 : static_cast<size_t>(il);
  switch (d) {
    case Dim::One: return 1;
    case Dim::Embd: return hp.n_embd;
    case Dim::Vocab: return hp.n_vocab;
    case Dim::SsmConvKernel: return hp.ssm_d_conv;
    case Dim::SsmConvChannels: return hp.ssm_conv_channels();
    case Dim::SsmInRows: return hp.ssm_in_rows();
    case Dim::SsmHeads: return hp.ssm_n_head;
    case Dim::SsmInner: return hp.ssm_d_inner;
    case Dim::SsmInnerPerGroup: return hp.ssm_d_inner / hp.ssm_n_group;
    case Dim::SsmGroups: return hp.ssm_n_group;
    case Dim::AttnQDim: return static_cast<uint64_t>(hp.n_head[l]) * hp.head_dim;
    case Dim::AttnKvDim: return static_cast<uint64_t>(hp.n_head_kv[l]) * hp.head_dim;
    case Dim::Ff: return hp.n_ff[l];
    case Dim::None: return 1;
  }
  return 0;
}

std::string layer_desc(const Hparams& hp, int il) {
  const size_t l = static_cast<size_t>(il);
  const char* article = hp.kinds[l] == LayerKind::Mamba2 ? "a " : "an ";
  return "layer " + std::to_string(il) + " is " + article + layer_kind_name(hp.kinds[l]) + " layer (head_count_kv[" +
         std::to_string(il) + "] = " + std::to_string(hp.n_head_kv[l]) + ", feed_forward_length[" + std::to_string(il) +
         "] = " + std::to_string(hp.n_ff[l]) + ")";
}

// A u32 hyperparameter given as a scalar (the same for every layer) or as an array of n_layer integers
// (llama.cpp get_key_or_arr).
std::optional<std::vector<uint32_t>> per_layer_u32(const GgufFile& f, const std::string& key, uint32_t n_layer) {
  const Value* v = f.find(key);
  if (!v) return std::nullopt;
  if (v->type != gguf::ValueType::Array) {
    return std::vector<uint32_t>(n_layer, f.get_u32(key));
  }
  std::vector<int64_t> a = f.get_int_array(key);
  if (a.size() != n_layer)
    f.fail("metadata key '" + key + "' has " + std::to_string(a.size()) + " elements, expected one per layer (block_count = " +
           std::to_string(n_layer) + ")");
  std::vector<uint32_t> out(n_layer);
  for (uint32_t i = 0; i < n_layer; ++i) {
    if (a[i] < 0 || static_cast<uint64_t>(a[i]) > kMaxDimValue)
      f.fail("metadata key '" + key + "': element " + std::to_string(i) + " = " + std::to_string(a[i]) + " is out of range");
    out[i] = static_cast<uint32_t>(a[i]);
  }
  return out;
}

uint32_t positive_u32(const GgufFile& f, const std::string& key) {
  const uint32_t v = f.get_u32(key);
  if (v == 0) f.fail("metadata key '" + key + "' is 0, it must be at least 1");
  if (v > kMaxDimValue) f.fail("metadata key '" + key + "' = " + std::to_string(v) + " is implausibly large");
  return v;
}

}  // namespace

const char* arch_name(Arch a) { return a == Arch::NemotronH ? "nemotron_h" : "?"; }
std::string supported_architectures() { return "nemotron_h"; }

const char* layer_kind_name(LayerKind k) {
  switch (k) {
    case LayerKind::Mamba2: return "mamba2";
    case LayerKind::Attention: return "attention";
    case LayerKind::Mlp: return "mlp";
  }
  return "?";
}

char layer_kind_symbol(LayerKind k) {
  switch (k) {
    case LayerKind::Mamba2: return 'M';
    case LayerKind::Attention: return '*';
    case LayerKind::Mlp: return '-';
  }
  return '?';
}

int Hparams::count(LayerKind k) const {
  int n = 0;
  for (LayerKind x : kinds) n += x == k;
  return n;
}

std::string Hparams::pattern() const {
  std::string s;
  for (LayerKind k : kinds) s += layer_kind_symbol(k);
  return s;
}

std::string arch_key(Arch a, const char* suffix) { return std::string(arch_name(a)) + "." + suffix; }

std::string tensor_name(Role r, int layer) {
  const TensorSpec* s = spec_of(r);
  if (!s) return "?";
  if (!s->per_layer) return s->name;
  return "blk." + std::to_string(layer) + "." + s->name;
}

Hparams read_hparams(const GgufFile& f) {
  const std::string_view arch = f.get_str("general.architecture");
  if (arch != "nemotron_h")
    f.fail("architecture '" + gguf::printable(arch) + "' is not supported (supported: " + supported_architectures() + ")");
  Hparams hp;
  hp.arch = Arch::NemotronH;
  auto key = [&](const char* suffix) { return arch_key(hp.arch, suffix); };

  hp.n_ctx_train = positive_u32(f, key("context_length"));
  hp.n_embd = positive_u32(f, key("embedding_length"));
  hp.n_layer = positive_u32(f, key("block_count"));
  // Every layer has at least its norm tensor, so a block_count beyond the tensor count is corrupt
  // (and would otherwise size the per-layer vectors from an untrusted number).
  if (hp.n_layer > f.tensors().size())
    f.fail("metadata key '" + key("block_count") + "' = " + std::to_string(hp.n_layer) + ", but the file has only " +
           std::to_string(f.tensors().size()) + " tensors");

  // Norm epsilon: llama.cpp requires layer_norm_epsilon and lets layer_norm_rms_epsilon override it for
  // every RMSNorm (llama-graph.cpp build_norm); accept either.
  std::optional<float> eps = f.opt_f32(key("attention.layer_norm_rms_epsilon"));
  if (!eps) eps = f.opt_f32(key("attention.layer_norm_epsilon"));
  if (!eps) f.fail("required metadata key '" + key("attention.layer_norm_epsilon") + "' is missing");
  if (!(std::isfinite(*eps) && *eps > 0 && *eps < 1)) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "%g", static_cast<double>(*eps));
    f.fail(std::string("norm epsilon ") + buf + " is out of range (0, 1)");
  }
  hp.norm_eps = *eps;

  // Per-layer attention and MLP sizes (llama-model.cpp: head_count_kv defaults to head_count).
  auto n_head = per_layer_u32(f, key("attention.head_count"), hp.n_layer);
  if (!n_head) f.fail("required metadata key '" + key("attention.head_count") + "' is missing");
  hp.n_head = *n_head;
  auto n_head_kv = per_layer_u32(f, key("attention.head_count_kv"), hp.n_layer);
  hp.n_head_kv = n_head_kv ? *n_head_kv : hp.n_head;
  auto n_ff = per_layer_u32(f, key("feed_forward_length"), hp.n_layer);
  if (!n_ff) f.fail("required metadata key '" + key("feed_forward_length") + "' is missing");
  hp.n_ff = *n_ff;
  hp.kinds.resize(hp.n_layer);
  for (uint32_t il = 0; il < hp.n_layer; ++il) {
    if (hp.n_head_kv[il] == 0 && hp.n_ff[il] == 0) hp.kinds[il] = LayerKind::Mamba2;
    else if (hp.n_ff[il] == 0) hp.kinds[il] = LayerKind::Attention;
    else hp.kinds[il] = LayerKind::Mlp;
  }

  // Head size: key_length/value_length, else n_embd / n_head(0).
  const std::optional<uint32_t> k_len = f.opt_u32(key("attention.key_length"));
  const std::optional<uint32_t> v_len = f.opt_u32(key("attention.value_length"));
  if (k_len && v_len && *k_len != *v_len)
    f.fail("attention key_length (" + std::to_string(*k_len) + ") and value_length (" + std::to_string(*v_len) +
           ") differ; llama.cpp requires them equal");
  if (k_len || v_len) hp.head_dim = k_len ? *k_len : *v_len;
  else if (hp.n_head[0] != 0) hp.head_dim = hp.n_embd / hp.n_head[0];
  if (hp.head_dim > kMaxDimValue) f.fail("attention key_length = " + std::to_string(hp.head_dim) + " is implausibly large");
  for (uint32_t il = 0; il < hp.n_layer; ++il) {
    if (hp.kinds[il] != LayerKind::Attention) continue;
    const std::string at = "attention layer " + std::to_string(il) + ": ";
    if (hp.n_head[il] == 0) f.fail(at + "head_count is 0");
    if (hp.n_head[il] % hp.n_head_kv[il] != 0)
      f.fail(at + "head_count " + std::to_string(hp.n_head[il]) + " is not a multiple of head_count_kv " +
             std::to_string(hp.n_head_kv[il]));
    if (hp.head_dim == 0)
      f.fail(at + "the head size is unknown: set " + key("attention.key_length") + " (head_count[0] is 0)");
  }

  // Mamba-2 (llama.cpp reads these for every nemotron_h model).
  hp.ssm_d_conv = positive_u32(f, key("ssm.conv_kernel"));
  hp.ssm_d_inner = positive_u32(f, key("ssm.inner_size"));
  hp.ssm_d_state = positive_u32(f, key("ssm.state_size"));
  hp.ssm_n_head = positive_u32(f, key("ssm.time_step_rank"));
  hp.ssm_n_group = positive_u32(f, key("ssm.group_count"));
  if (hp.ssm_d_inner % hp.ssm_n_head != 0)
    f.fail("ssm.inner_size " + std::to_string(hp.ssm_d_inner) + " is not a multiple of ssm.time_step_rank (the number of heads) " +
           std::to_string(hp.ssm_n_head));
  if (hp.ssm_n_head % hp.ssm_n_group != 0)
    f.fail("ssm.time_step_rank " + std::to_string(hp.ssm_n_head) + " is not a multiple of ssm.group_count " +
           std::to_string(hp.ssm_n_group) + " (ggml_ssm_scan needs heads % groups == 0)");

  // Vocabulary: the rows of token_embd.weight; vocab_size and the tokenizer, when present, must agree.
  const Tensor* embd = f.find_tensor("token_embd.weight");
  if (!embd) f.fail("tensor token_embd.weight is missing");
  if (embd->n_dims != 2 || static_cast<uint64_t>(embd->ne[1]) > kMaxDimValue)
    f.fail("tensor token_embd.weight has shape " + embd->shape_string() + ", expected {n_embd, n_vocab}");
  hp.n_vocab = static_cast<uint32_t>(embd->ne[1]);
  if (auto vs = f.opt_u32(key("vocab_size")); vs && *vs != hp.n_vocab)
    f.fail("metadata key '" + key("vocab_size") + "' = " + std::to_string(*vs) + ", but token_embd.weight has " +
           std::to_string(hp.n_vocab) + " rows");
  if (const Value* tokens = f.opt_arr("tokenizer.ggml.tokens"); tokens && tokens->count != hp.n_vocab)
    f.fail("tokenizer.ggml.tokens has " + std::to_string(tokens->count) + " tokens, but token_embd.weight has " +
           std::to_string(hp.n_vocab) + " rows");

  hp.tied_output = f.find_tensor("output.weight") == nullptr;
  return hp;
}

const gguf::Tensor* ModelTensors::get(Role r, int layer) const {
  const TensorSpec* s = spec_of(r);
  if (!s) return nullptr;
  if (!s->per_layer) return global_[static_cast<size_t>(r)];
  if (layer < 0 || static_cast<size_t>(layer) >= layers_.size()) return nullptr;
  return layers_[static_cast<size_t>(layer)][static_cast<size_t>(r)];
}

ModelTensors bind_tensors(const GgufFile& f, const Hparams& hp) {
  static_assert(static_cast<int>(Role::TokenEmbd) == 0 && static_cast<int>(Role::OutputNorm) == 1 &&
                    static_cast<int>(Role::Output) == 2,
                "global roles index global_");
  ModelTensors mt;
  mt.layers_.assign(hp.n_layer, {});
  std::vector<bool> used(f.tensors().size(), false);

  auto check = [&](const TensorSpec& s, int il) -> const Tensor* {
    const std::string name = s.per_layer ? "blk." + std::to_string(il) + "." + s.name : s.name;
    const Tensor* t = f.find_tensor(name);
    if (!t) {
      if (!s.required) return nullptr;
      f.fail("tensor " + name + " is missing" +
             (s.per_layer ? " (" + layer_desc(hp, il) + ")" : std::string(" (every ") + arch_name(hp.arch) + " model has it)"));
    }
    const uint64_t want[2] = {dim_value(s.shape[0], hp, il), dim_value(s.shape[1], hp, il)};
    const bool one_d = s.shape[1] == Dim::None;
    bool ok = static_cast<uint64_t>(t->ne[0]) == want[0] && static_cast<uint64_t>(t->ne[1]) == want[1] &&
              t->ne[2] == 1 && t->ne[3] == 1;
    if (!ok) {
      std::string exp = "{" + std::to_string(want[0]) + (one_d ? "" : ", " + std::to_string(want[1])) + "}";
      std::string formula = std::string("{") + dim_formula(s.shape[0]) + (one_d ? "" : std::string(", ") + dim_formula(s.shape[1])) + "}";
      f.fail("tensor " + name + " has shape " + t->shape_string() + ", expected " + exp + " = " + formula);
    }
    if (s.types == Types::F32Only && t->format != formats::Format::F32)
      f.fail("tensor " + name + " has type " + formats::format_name(t->format) + ", expected F32" + s.note);
    used[static_cast<size_t>(t - f.tensors().data())] = true;
    return t;
  };

  for (const TensorSpec& s : kNemotronH) {
    if (!s.per_layer) {
      mt.global_[static_cast<size_t>(s.role)] = check(s, -1);
      continue;
    }
    for (uint32_t il = 0; il < hp.n_layer; ++il) {
      if (s.kinds != kAll && !(s.kinds & kind_mask(hp.kinds[il]))) continue;
      mt.layers_[il][static_cast<size_t>(s.role)] = check(s, static_cast<int>(il));
    }
  }

  // Anything else is an error (llama.cpp: "wrong number of tensors"); say why it does not belong.
  for (size_t i = 0; i < used.size(); ++i) {
    if (used[i]) continue;
    const std::string& name = f.tensors()[i].name;
    unsigned layer = 0;
    int consumed = 0;
    if (std::sscanf(name.c_str(), "blk.%u.%n", &layer, &consumed) == 1 && consumed > 0) {
      const std::string suffix = name.substr(static_cast<size_t>(consumed));
      if (layer >= hp.n_layer)
        f.fail("unexpected tensor " + name + ": the model has " + std::to_string(hp.n_layer) + " layers (block_count)");
      for (const TensorSpec& s : kNemotronH)
        if (s.per_layer && suffix == s.name)
          f.fail("unexpected tensor " + name + ": " + layer_desc(hp, static_cast<int>(layer)) + ", which has no " + s.name);
    }
    f.fail("unexpected tensor " + name + ": not part of a " + arch_name(hp.arch) + " model");
  }
  return mt;
}

Model load_architecture(const GgufFile& f) {
  Model m;
  m.hp = read_hparams(f);
  m.tensors = bind_tensors(f, m.hp);
  return m;
}

}  // namespace hybrid::model
