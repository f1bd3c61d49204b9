// The one table of architecture facts: metadata keys, hyperparameters, and every tensor's name, shape
// and allowed formats per layer kind. Model code asks for tensors by Role through ModelTensors; only
// arch.cpp knows GGUF names (as llama.cpp keeps them in src/llama-arch.cpp). Facts for nemotron_h:
// docs/nemotron-h-gguf.md, read off llama.cpp src/models/nemotron-h.cpp and src/llama-model.cpp; for
// granitehybrid (IBM Granite 4.0 H): src/models/granite-hybrid.cpp, conversion/granite.py.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "gguf/gguf.h"

namespace hybrid::model {

enum class Arch : uint8_t { NemotronH, GraniteHybrid };
const char* arch_name(Arch a);               // "nemotron_h", "granitehybrid" (general.architecture)
std::string supported_architectures();      // "nemotron_h, granitehybrid"

// Layer kinds of a hybrid model (the mixer of the layer).
// nemotron_h: recurrent iff head_count_kv[il] == 0 && feed_forward_length[il] == 0; otherwise attention
// when feed_forward_length[il] == 0, else MLP (a layer of its own).
// granitehybrid: recurrent iff head_count_kv[il] == 0, else attention; every layer then has an FFN too.
enum class LayerKind : uint8_t { Mamba2, Attention, Mlp };
const char* layer_kind_name(LayerKind k);  // "mamba2", "attention", "mlp"
char layer_kind_symbol(LayerKind k);       // 'M', '*', '-' as in HF hybrid_override_pattern

// The feed-forward block that follows the mixer inside a granitehybrid layer, after its own residual
// (llama.cpp granite-hybrid.cpp build_layer_ffn). nemotron_h layers have none.
//   SwiGlu: down(silu(gate(x)) * up(x)) (Granite 4.0 H-350M, H-1B, H-micro)
//   Moe:    softmax router, top-k experts with renormalized weights, each a SwiGLU, plus a shared
//           SwiGLU expert when expert_shared_feed_forward_length > 0 (H-tiny, H-small)
enum class FfnKind : uint8_t { None, SwiGlu, Moe };
const char* ffn_kind_name(FfnKind k);  // "none", "swiglu", "moe"

// What a tensor is for. Model code uses roles, never names.
enum class Role : uint8_t {
  TokenEmbd, OutputNorm, Output,                                           // global
  AttnNorm,                                                                // every layer (pre-norm)
  SsmIn, SsmConv1d, SsmConv1dBias, SsmDtBias, SsmA, SsmD, SsmNorm, SsmOut, // Mamba-2
  AttnQ, AttnK, AttnV, AttnOut, AttnQBias, AttnKBias, AttnVBias, AttnOutBias,  // attention
  FfnUp, FfnDown, FfnUpBias, FfnDownBias,                                  // MLP / SwiGLU FFN
  FfnNorm, FfnGate, FfnGateBias,                                           // granitehybrid FFN
  FfnGateInp, FfnGateExps, FfnUpExps, FfnDownExps,                         // MoE: router, experts {.., .., n_expert}
  FfnGateShexp, FfnUpShexp, FfnDownShexp,                                  // MoE: shared expert
  Count
};
constexpr size_t kRoleCount = static_cast<size_t>(Role::Count);

struct Hparams {
  Arch arch = Arch::NemotronH;
  uint32_t n_ctx_train = 0;   // {arch}.context_length
  uint32_t n_embd = 0;        // {arch}.embedding_length
  uint32_t n_layer = 0;       // {arch}.block_count
  uint32_t n_vocab = 0;       // rows of token_embd.weight (== vocab_size and the token count when present)
  float norm_eps = 0;         // every RMSNorm: attention.layer_norm_rms_epsilon, else attention.layer_norm_epsilon
  std::vector<LayerKind> kinds;                 // per layer
  std::vector<uint32_t> n_head, n_head_kv, n_ff;  // per layer as stored (0 where a layer has none)
  uint32_t head_dim = 0;      // attention key_length == value_length (default n_embd / n_head[0]); 0 if unknown
  uint32_t ssm_d_conv = 0;    // ssm.conv_kernel
  uint32_t ssm_d_inner = 0;   // ssm.inner_size
  uint32_t ssm_d_state = 0;   // ssm.state_size
  uint32_t ssm_n_head = 0;    // ssm.time_step_rank: the number of Mamba-2 heads
  uint32_t ssm_n_group = 0;   // ssm.group_count
  bool tied_output = false;   // no output.weight: the lm_head is token_embd.weight

  // granitehybrid. n_ff[il] is then feed_forward_length for every layer: the SwiGLU width, or each
  // expert's width in a MoE model.
  std::vector<FfnKind> ffn;   // per layer (FfnKind::None for every nemotron_h layer)
  uint32_t n_expert = 0;      // expert_count (0: dense SwiGLU FFN)
  uint32_t n_expert_used = 0; // expert_used_count (top-k)
  uint32_t n_ff_shexp = 0;    // expert_shared_feed_forward_length (0: no shared expert)
  // µP multipliers; 0 = absent = off, as llama.cpp treats them (granite-hybrid.cpp, llama-graph.cpp).
  float embedding_scale = 0;  // embedding_scale: h = token_embd[tok] * s
  float residual_scale = 0;   // residual_scale: each branch (mixer, FFN) is scaled by it before its residual add
  float attention_scale = 0;  // attention.scale: kq_scale (else 1/sqrt(head_dim))
  float logit_scale = 0;      // logit_scale: logits are divided by it
  // Rotary embedding on attention layers (llama.cpp: granitehybrid uses RoPE, type NORM, unless
  // rope.scaling.finetuned is false, which the converter writes for every hybrid Granite 4.0).
  bool rope = false;
  uint32_t n_rot = 0;           // rope.dimension_count (default head_dim)
  float rope_freq_base = 10000; // rope.freq_base
  float rope_freq_scale = 1;    // 1 / rope.scaling.factor (linear scaling)
  float rope_attn_factor = 1;   // rope.scaling.attn_factor (scales cos and sin)

  uint32_t ssm_head_dim() const { return ssm_d_inner / ssm_n_head; }
  uint64_t ssm_conv_channels() const { return ssm_d_inner + 2ull * ssm_n_group * ssm_d_state; }
  uint64_t ssm_in_rows() const { return 2ull * ssm_d_inner + 2ull * ssm_n_group * ssm_d_state + ssm_n_head; }
  int count(LayerKind k) const;
  int count(FfnKind k) const;
  std::string pattern() const;  // "M-M*M-"
};

// Reads and checks the hyperparameters. Throws InputError naming the file and key for a missing or bad
// key, for an unsupported architecture ("model.gguf: architecture 'llama' is not supported
// (supported: nemotron_h, granitehybrid)") and for a variant this runtime does not implement.
Hparams read_hparams(const gguf::GgufFile& file);

// The tensors of a model, by role. get() returns nullptr for an optional tensor that is absent
// (biases; Output when tied — use output() for the lm_head).
class ModelTensors {
 public:
  const gguf::Tensor* get(Role r, int layer = -1) const;
  const gguf::Tensor& output() const { return *(global_[2] ? global_[2] : global_[0]); }

 private:
  friend ModelTensors bind_tensors(const gguf::GgufFile&, const Hparams&);
  std::array<const gguf::Tensor*, 3> global_{};
  std::vector<std::array<const gguf::Tensor*, kRoleCount>> layers_;
};

// Checks every tensor against the table (presence, shape, format) and that the file has no other
// tensors; throws InputError naming the tensor ("tensor blk.0.ssm_a has shape {4, 1}, expected {1, 4} …").
ModelTensors bind_tensors(const gguf::GgufFile& file, const Hparams& hp);

struct Model {
  Hparams hp;
  ModelTensors tensors;
};
Model load_architecture(const gguf::GgufFile& file);  // read_hparams + bind_tensors

// The GGUF name of a role ("blk.3.ssm_in.weight"); layer is ignored for global roles.
std::string tensor_name(Role r, int layer = -1);

// Metadata key of the architecture, e.g. arch_key(Arch::NemotronH, "ssm.state_size").
std::string arch_key(Arch a, const char* suffix);

}  // namespace hybrid::model
