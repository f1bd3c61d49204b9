#include "model/arch.h"

#include <cmath>
#include <cstdio>
#include <iterator>
#include <utility>
#include <limits>
#include <optional>

#include "util/error.h"

namespace hybrid::model {
namespace {

using gguf::GgufFile;
using gguf::Tensor;
using gguf::Value;

// Shape symbols, evaluated per layer against the hyperparameters. None (a dimension the tensor does not
// have, size 1) comes first so that a shape written with fewer symbols fills up with it.
enum class Dim : uint8_t {
  None, One, Embd, Vocab, SsmConvKernel, SsmConvChannels, SsmInRows, SsmHeads, SsmInner, SsmInnerPerGroup, SsmGroups,
  AttnQDim, AttnKvDim, Ff, FfShexp, Experts,
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
    case Dim::FfShexp: return "n_ff_shexp";
    case Dim::Experts: return "n_expert";
    case Dim::None: return "";
  }
  return "?";
}

enum class Types : uint8_t { F32Only, AnyFileFormat };

// Layer masks; kAll: every layer. Mixer: kM Mamba-2, kA attention, kF nemotron_h MLP layer.
// granitehybrid FFN after the mixer: kD dense SwiGLU, kE mixture of experts, kS its shared expert.
constexpr uint8_t kAll = 0, kM = 1, kA = 2, kF = 4, kD = 8, kE = 16, kS = 32;

struct TensorSpec {
  Role role;
  const char* name;  // global: full name; per layer: the part after "blk.N."
  bool per_layer;
  uint8_t kinds;     // per layer: which layers have it (a mask above; kAll: every layer)
  Dim shape[3];      // ggml order {ne0, ne1, ne2}; Dim::None past the tensor's last dimension
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

// granitehybrid (src/models/granite-hybrid.cpp load_arch_tensors): the same Mamba-2 and attention
// tensors, then each layer's FFN: a SwiGLU, or a router + stacked experts + an optional shared expert.
// ffn_gate_exps is optional in llama.cpp's loader (the experts are then silu(up) without a gate), but
// every converted Granite file has it; it is required here. rope_freqs is not accepted (no real file has it).
const TensorSpec kGraniteHybrid[] = {
    {Role::TokenEmbd, "token_embd.weight", false, kAll, {Dim::Embd, Dim::Vocab}, Types::AnyFileFormat, true, ""},
    {Role::OutputNorm, "output_norm.weight", false, kAll, {Dim::Embd}, Types::F32Only, true, ""},
    {Role::Output, "output.weight", false, kAll, {Dim::Embd, Dim::Vocab}, Types::AnyFileFormat, false, ""},
    {Role::AttnNorm, "attn_norm.weight", true, kAll, {Dim::Embd}, Types::F32Only, true, ""},
    {Role::SsmIn, "ssm_in.weight", true, kM, {Dim::Embd, Dim::SsmInRows}, Types::AnyFileFormat, true, ""},
    {Role::SsmConv1d, "ssm_conv1d.weight", true, kM, {Dim::SsmConvKernel, Dim::SsmConvChannels}, Types::F32Only, true,
     " (ggml_ssm_conv needs F32)"},
    // Optional in the loader, but build_mamba2_layer adds it unconditionally.
    {Role::SsmConv1dBias, "ssm_conv1d.bias", true, kM, {Dim::SsmConvChannels}, Types::F32Only, true, ""},
    {Role::SsmDtBias, "ssm_dt.bias", true, kM, {Dim::SsmHeads}, Types::F32Only, true, ""},
    {Role::SsmA, "ssm_a", true, kM, {Dim::One, Dim::SsmHeads}, Types::F32Only, true, " (ggml_ssm_scan needs F32)"},
    {Role::SsmD, "ssm_d", true, kM, {Dim::One, Dim::SsmHeads}, Types::F32Only, true, ""},
    {Role::SsmNorm, "ssm_norm.weight", true, kM, {Dim::SsmInnerPerGroup, Dim::SsmGroups}, Types::F32Only, true, ""},
    {Role::SsmOut, "ssm_out.weight", true, kM, {Dim::SsmInner, Dim::Embd}, Types::AnyFileFormat, true, ""},
    {Role::AttnQ, "attn_q.weight", true, kA, {Dim::Embd, Dim::AttnQDim}, Types::AnyFileFormat, true, ""},
    {Role::AttnK, "attn_k.weight", true, kA, {Dim::Embd, Dim::AttnKvDim}, Types::AnyFileFormat, true, ""},
    {Role::AttnV, "attn_v.weight", true, kA, {Dim::Embd, Dim::AttnKvDim}, Types::AnyFileFormat, true, ""},
    {Role::AttnOut, "attn_output.weight", true, kA, {Dim::AttnQDim, Dim::Embd}, Types::AnyFileFormat, true, ""},
    {Role::AttnQBias, "attn_q.bias", true, kA, {Dim::AttnQDim}, Types::F32Only, false, ""},
    {Role::AttnKBias, "attn_k.bias", true, kA, {Dim::AttnKvDim}, Types::F32Only, false, ""},
    {Role::AttnVBias, "attn_v.bias", true, kA, {Dim::AttnKvDim}, Types::F32Only, false, ""},
    {Role::AttnOutBias, "attn_output.bias", true, kA, {Dim::Embd}, Types::F32Only, false, ""},
    {Role::FfnNorm, "ffn_norm.weight", true, kD | kE, {Dim::Embd}, Types::F32Only, true, ""},
    {Role::FfnGate, "ffn_gate.weight", true, kD, {Dim::Embd, Dim::Ff}, Types::AnyFileFormat, true, ""},
    {Role::FfnUp, "ffn_up.weight", true, kD, {Dim::Embd, Dim::Ff}, Types::AnyFileFormat, true, ""},
    {Role::FfnDown, "ffn_down.weight", true, kD, {Dim::Ff, Dim::Embd}, Types::AnyFileFormat, true, ""},
    {Role::FfnGateBias, "ffn_gate.bias", true, kD, {Dim::Ff}, Types::F32Only, false, ""},
    {Role::FfnUpBias, "ffn_up.bias", true, kD, {Dim::Ff}, Types::F32Only, false, ""},
    {Role::FfnDownBias, "ffn_down.bias", true, kD, {Dim::Embd}, Types::F32Only, false, ""},
    {Role::FfnGateInp, "ffn_gate_inp.weight", true, kE, {Dim::Embd, Dim::Experts}, Types::AnyFileFormat, true, ""},
    {Role::FfnGateExps, "ffn_gate_exps.weight", true, kE, {Dim::Embd, Dim::Ff, Dim::Experts}, Types::AnyFileFormat, true,
     ""},
    {Role::FfnUpExps, "ffn_up_exps.weight", true, kE, {Dim::Embd, Dim::Ff, Dim::Experts}, Types::AnyFileFormat, true, ""},
    {Role::FfnDownExps, "ffn_down_exps.weight", true, kE, {Dim::Ff, Dim::Embd, Dim::Experts}, Types::AnyFileFormat, true,
     ""},
    {Role::FfnGateShexp, "ffn_gate_shexp.weight", true, kS, {Dim::Embd, Dim::FfShexp}, Types::AnyFileFormat, true, ""},
    {Role::FfnUpShexp, "ffn_up_shexp.weight", true, kS, {Dim::Embd, Dim::FfShexp}, Types::AnyFileFormat, true, ""},
    {Role::FfnDownShexp, "ffn_down_shexp.weight", true, kS, {Dim::FfShexp, Dim::Embd}, Types::AnyFileFormat, true, ""},
};

struct Table {
  const TensorSpec* begin_;
  const TensorSpec* end_;
  const TensorSpec* begin() const { return begin_; }
  const TensorSpec* end() const { return end_; }
};

Table table_of(Arch a) {
  if (a == Arch::GraniteHybrid) return {std::begin(kGraniteHybrid), std::end(kGraniteHybrid)};
  return {std::begin(kNemotronH), std::end(kNemotronH)};
}

// Hyperparameter values beyond this are rejected, which keeps every shape product below 2^64.
constexpr uint64_t kMaxDimValue = std::numeric_limits<int32_t>::max();

// Which masks layer il matches: its mixer, and (granitehybrid) its FFN.
uint8_t layer_mask(const Hparams& hp, uint32_t il) {
  const LayerKind k = hp.kinds[il];
  uint8_t m = k == LayerKind::Mamba2 ? kM : (k == LayerKind::Attention ? kA : kF);
  if (il < hp.ffn.size()) {
    if (hp.ffn[il] == FfnKind::SwiGlu) m |= kD;
    if (hp.ffn[il] == FfnKind::Moe) m |= kE | (hp.n_ff_shexp > 0 ? kS : 0);
  }
  return m;
}

// A role's name and whether it is per layer are the same in every architecture's table.
const TensorSpec* spec_of(Role r) {
  for (const TensorSpec& s : kNemotronH)
    if (s.role == r) return &s;
  for (const TensorSpec& s : kGraniteHybrid)
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
    case Dim::FfShexp: return hp.n_ff_shexp;
    case Dim::Experts: return hp.n_expert;
    case Dim::None: return 1;
  }
  return 0;
}

std::string layer_desc(const Hparams& hp, int il) {
  const size_t l = static_cast<size_t>(il);
  const char* article = hp.kinds[l] == LayerKind::Mamba2 ? "a " : "an ";
  if (hp.arch == Arch::GraniteHybrid) {
    const std::string ffn = hp.ffn[l] == FfnKind::Moe
                                ? std::string(" with a mixture-of-experts FFN") + (hp.n_ff_shexp > 0 ? " and a shared expert" : "")
                                : std::string(" with a SwiGLU FFN");
    return "layer " + std::to_string(il) + " is " + article + layer_kind_name(hp.kinds[l]) + " layer" + ffn +
           " (head_count_kv[" + std::to_string(il) + "] = " + std::to_string(hp.n_head_kv[l]) +
           ", expert_count = " + std::to_string(hp.n_expert) + ")";
  }
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

const char* arch_name(Arch a) {
  switch (a) {
    case Arch::NemotronH: return "nemotron_h";
    case Arch::GraniteHybrid: return "granitehybrid";
  }
  return "?";
}
std::string supported_architectures() { return "nemotron_h, granitehybrid"; }

const char* ffn_kind_name(FfnKind k) {
  switch (k) {
    case FfnKind::None: return "none";
    case FfnKind::SwiGlu: return "swiglu";
    case FfnKind::Moe: return "moe";
  }
  return "?";
}

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

int Hparams::count(FfnKind k) const {
  int n = 0;
  for (FfnKind x : ffn) n += x == k;
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

namespace {

std::string fmt_float(double v) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// A per-layer value that granitehybrid uses as one number for all layers (llama.cpp reads layer 0's for
// every tensor shape): an array whose elements differ is a variant this runtime does not implement.
uint32_t uniform(const GgufFile& f, const std::string& key, const std::vector<uint32_t>& v) {
  for (size_t i = 1; i < v.size(); ++i)
    if (v[i] != v[0])
      f.fail("metadata key '" + key + "' differs between layers (" + std::to_string(v[0]) + " at layer 0, " +
             std::to_string(v[i]) + " at layer " + std::to_string(i) +
             "); granitehybrid uses one value for every layer (llama.cpp reads layer 0's)");
  return v.empty() ? 0 : v[0];
}

// µP multiplier: absent = 0 = off (llama.cpp's default); present, it must be a finite positive number.
float multiplier(const GgufFile& f, const std::string& key) {
  const std::optional<float> v = f.opt_f32(key);
  if (!v) return 0.0f;
  if (!(std::isfinite(*v) && *v >= 0.0f)) f.fail("metadata key '" + key + "' = " + fmt_float(*v) + " is not a finite number >= 0");
  return *v;
}

// granitehybrid: layer kinds, the FFN of every layer, experts, multipliers, RoPE
// (src/models/granite-hybrid.cpp load_arch_hparams, src/llama-model.cpp load_hparams).
void read_granite_hybrid(const GgufFile& f, Hparams& hp) {
  auto key = [&](const char* suffix) { return arch_key(hp.arch, suffix); };
  // Every layer has an FFN of feed_forward_length (the kinds were set by read_hparams).
  const uint32_t n_ff = uniform(f, key("feed_forward_length"), hp.n_ff);
  if (n_ff == 0 || n_ff > kMaxDimValue)
    f.fail("metadata key '" + key("feed_forward_length") + "' = " + std::to_string(n_ff) +
           ": every granitehybrid layer has an FFN of that width");

  hp.n_expert = f.opt_u32(key("expert_count")).value_or(0);
  if (auto used = per_layer_u32(f, key("expert_used_count"), hp.n_layer)) hp.n_expert_used = uniform(f, key("expert_used_count"), *used);
  hp.n_ff_shexp = f.opt_u32(key("expert_shared_feed_forward_length")).value_or(0);
  if (hp.n_expert > 512) f.fail("metadata key '" + key("expert_count") + "' = " + std::to_string(hp.n_expert) + " is larger than 512");
  if (hp.n_ff_shexp > kMaxDimValue) f.fail("metadata key '" + key("expert_shared_feed_forward_length") + "' is implausibly large");
  if (hp.n_expert > 0) {
    if (hp.n_expert_used == 0 || hp.n_expert_used > hp.n_expert)
      f.fail("metadata key '" + key("expert_used_count") + "' = " + std::to_string(hp.n_expert_used) +
             ": a mixture of " + std::to_string(hp.n_expert) + " experts routes each token to 1.." +
             std::to_string(hp.n_expert) + " of them");
    // Grouped routing (DeepSeek-V3 style) is never used by Granite; llama.cpp would apply it.
    if (auto groups = f.opt_u32(key("expert_group_count")); groups && *groups > 1)
      f.fail("metadata key '" + key("expert_group_count") + "' = " + std::to_string(*groups) +
             ": grouped expert routing is not supported for granitehybrid");
  } else if (hp.n_expert_used != 0) {
    f.fail("metadata key '" + key("expert_used_count") + "' = " + std::to_string(hp.n_expert_used) + " without '" +
           key("expert_count") + "'");
  }
  hp.ffn.assign(hp.n_layer, hp.n_expert > 0 ? FfnKind::Moe : FfnKind::SwiGlu);
  hp.n_ff.assign(hp.n_layer, n_ff);

  hp.embedding_scale = multiplier(f, key("embedding_scale"));
  hp.residual_scale = multiplier(f, key("residual_scale"));
  hp.attention_scale = multiplier(f, key("attention.scale"));
  hp.logit_scale = multiplier(f, key("logit_scale"));

  // Mamba-2 inside granitehybrid: llama.cpp only supports an expansion factor of 2.
  if (hp.count(LayerKind::Mamba2) > 0 && hp.ssm_d_inner != 2ull * hp.n_embd)
    f.fail("ssm.inner_size " + std::to_string(hp.ssm_d_inner) + " is not 2 * embedding_length (" +
           std::to_string(2ull * hp.n_embd) + "); llama.cpp's granitehybrid supports only an expansion factor of 2");

  // "Granite uses rope_finetuned as a switch for rope, so default to true": the converter writes false
  // for every hybrid (Mamba) Granite, true for Bamba and all-attention ones.
  hp.rope = f.opt_bool(key("rope.scaling.finetuned")).value_or(true);
  if (hp.rope && hp.count(LayerKind::Attention) > 0) {
    hp.n_rot = f.opt_u32(key("rope.dimension_count")).value_or(hp.head_dim);
    if (hp.n_rot == 0 || hp.n_rot % 2 != 0 || hp.n_rot > hp.head_dim)
      f.fail("metadata key '" + key("rope.dimension_count") + "' = " + std::to_string(hp.n_rot) +
             ": it must be even and at most the head size " + std::to_string(hp.head_dim));
    hp.rope_freq_base = f.opt_f32(key("rope.freq_base")).value_or(10000.0f);
    if (!(std::isfinite(hp.rope_freq_base) && hp.rope_freq_base > 0))
      f.fail("metadata key '" + key("rope.freq_base") + "' = " + fmt_float(hp.rope_freq_base) + " is not a positive number");
    const std::string type(f.opt_str(key("rope.scaling.type")).value_or("linear"));
    if (type != "linear" && type != "none")
      f.fail("rope scaling type '" + gguf::printable(type) + "' (" + key("rope.scaling.type") +
             ") is not supported for granitehybrid (supported: linear, none)");
    std::optional<float> factor = f.opt_f32(key("rope.scaling.factor"));
    if (!factor) factor = f.opt_f32(key("rope.scale_linear"));
    if (factor && !(std::isfinite(*factor) && *factor >= 0))
      f.fail("rope scaling factor " + fmt_float(*factor) + " is not a finite number >= 0");
    hp.rope_freq_scale = type == "none" || !factor || *factor == 0.0f ? 1.0f : 1.0f / *factor;
    hp.rope_attn_factor = f.opt_f32(key("rope.scaling.attn_factor")).value_or(1.0f);
    if (!std::isfinite(hp.rope_attn_factor)) f.fail("metadata key '" + key("rope.scaling.attn_factor") + "' is not finite");
  }
}

}  // namespace

Hparams read_hparams(const GgufFile& f) {
  const std::string_view arch = f.get_str("general.architecture");
  Hparams hp;
  if (arch == "nemotron_h") hp.arch = Arch::NemotronH;
  else if (arch == "granitehybrid") hp.arch = Arch::GraniteHybrid;
  else f.fail("architecture '" + gguf::printable(arch) + "' is not supported (supported: " + supported_architectures() + ")");
  const bool granite = hp.arch == Arch::GraniteHybrid;
  auto key = [&](const char* suffix) { return arch_key(hp.arch, suffix); };

  hp.n_ctx_train = positive_u32(f, key("context_length"));
  hp.n_embd = positive_u32(f, key("embedding_length"));
  hp.n_layer = positive_u32(f, key("block_count"));
  // Every layer has at least its norm tensor, so a block_count beyond the tensor count is corrupt
  // (and would otherwise size the per-layer vectors from an untrusted number).
  if (hp.n_layer > f.tensors().size())
    f.fail("metadata key '" + key("block_count") + "' = " + std::to_string(hp.n_layer) + ", but the file has only " +
           std::to_string(f.tensors().size()) + " tensors");

  // Norm epsilon. nemotron_h: llama.cpp requires layer_norm_epsilon and lets layer_norm_rms_epsilon
  // override it for every RMSNorm (llama-graph.cpp build_norm); accept either. granitehybrid requires
  // layer_norm_rms_epsilon.
  std::optional<float> eps = f.opt_f32(key("attention.layer_norm_rms_epsilon"));
  if (!eps && !granite) eps = f.opt_f32(key("attention.layer_norm_epsilon"));
  if (!eps)
    f.fail("required metadata key '" + key(granite ? "attention.layer_norm_rms_epsilon" : "attention.layer_norm_epsilon") +
           "' is missing");
  if (!(std::isfinite(*eps) && *eps > 0 && *eps < 1))
    f.fail("norm epsilon " + fmt_float(static_cast<double>(*eps)) + " is out of range (0, 1)");
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
  // Layer kinds. nemotron_h: recurrent iff head_count_kv[il] == 0 && feed_forward_length[il] == 0,
  // else attention when feed_forward_length[il] == 0, else MLP. granitehybrid: recurrent iff
  // head_count_kv[il] == 0, else attention (its FFN is part of every layer: read_granite_hybrid).
  hp.kinds.resize(hp.n_layer);
  for (uint32_t il = 0; il < hp.n_layer; ++il) {
    if (hp.n_head_kv[il] == 0 && (granite || hp.n_ff[il] == 0)) hp.kinds[il] = LayerKind::Mamba2;
    else if (granite || hp.n_ff[il] == 0) hp.kinds[il] = LayerKind::Attention;
    else hp.kinds[il] = LayerKind::Mlp;
  }
  hp.ffn.assign(hp.n_layer, FfnKind::None);

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

  // Mamba-2 (llama.cpp reads these for every nemotron_h and granitehybrid model).
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

  if (granite) read_granite_hybrid(f, hp);

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
    const uint64_t want[3] = {dim_value(s.shape[0], hp, il), dim_value(s.shape[1], hp, il), dim_value(s.shape[2], hp, il)};
    const int dims = s.shape[2] != Dim::None ? 3 : s.shape[1] != Dim::None ? 2 : 1;
    bool ok = static_cast<uint64_t>(t->ne[0]) == want[0] && static_cast<uint64_t>(t->ne[1]) == want[1] &&
              static_cast<uint64_t>(t->ne[2]) == want[2] && t->ne[3] == 1;
    if (!ok) {
      std::string exp = "{", formula = "{";
      for (int d = 0; d < dims; ++d) {
        exp += (d ? ", " : "") + std::to_string(want[d]);
        formula += std::string(d ? ", " : "") + dim_formula(s.shape[d]);
      }
      f.fail("tensor " + name + " has shape " + t->shape_string() + ", expected " + exp + "} = " + formula + "}");
    }
    if (s.types == Types::F32Only && t->format != formats::Format::F32)
      f.fail("tensor " + name + " has type " + formats::format_name(t->format) + ", expected F32" + s.note);
    used[static_cast<size_t>(t - f.tensors().data())] = true;
    return t;
  };

  for (const TensorSpec& s : table_of(hp.arch)) {
    if (!s.per_layer) {
      mt.global_[static_cast<size_t>(s.role)] = check(s, -1);
      continue;
    }
    for (uint32_t il = 0; il < hp.n_layer; ++il) {
      if (s.kinds != kAll && !(s.kinds & layer_mask(hp, il))) continue;
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
      for (const TensorSpec& s : table_of(hp.arch))
        if (s.per_layer && suffix == s.name)
          f.fail("unexpected tensor " + name + ": " + layer_desc(hp, static_cast<int>(layer)) + ", which has no " + s.name);
    }
    // Variants llama.cpp can load but this runtime does not implement: say so rather than "not part of".
    static const std::pair<const char*, const char*> kUnsupported[] = {
        {"attn_qkv.weight", "a fused QKV projection is not supported (convert with separate attn_q/attn_k/attn_v)"},
        {"ffn_gate_up_exps.weight", "fused gate+up expert tensors are not supported"},
        {"rope_freqs.weight", "RoPE frequency factors are not supported"},
    };
    for (const auto& [suffix, why] : kUnsupported) {
      const std::string sfx(suffix);
      if (name.size() >= sfx.size() && name.compare(name.size() - sfx.size(), sfx.size(), sfx) == 0)
        f.fail("unexpected tensor " + name + ": " + why);
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
