// The architecture table for granitehybrid (IBM Granite 4.0 H): layer kinds from head_count_kv, the FFN
// of every layer (SwiGLU or mixture of experts + shared expert), the µP multipliers, llama.cpp's RoPE
// switch, 3-D expert tensors, and the errors for unsupported variants.
#include <string>
#include <vector>

#include "check.h"
#include "formats/formats.h"
#include "gguf/gguf.h"
#include "gguf/writer.h"
#include "model/arch.h"
#include "util/error.h"

using hybrid::InputError;
using hybrid::formats::Format;
using hybrid::gguf::GgufFile;
using hybrid::gguf::Writer;
using namespace hybrid::model;

namespace {

// A small granitehybrid: E=32, layers "M*M", d_inner 64 = 4 heads x 16 (2 * E), d_state 8, 1 group,
// conv 4, attention 4 heads / 2 kv x 8, FFN 64 (SwiGLU) or 4 experts x 64, 2 used, shared 96; vocab 16.
struct Granite {
  std::string pattern = "M*M";
  uint32_t E = 32, H = 4, P = 16, N = 8, G = 1, K = 4, nh = 4, nkv = 2, hd = 8, ff = 64, V = 16;
  uint32_t experts = 0, used = 0, shexp = 0;
  Format mm = Format::Q8_0;

  Writer writer() const {
    Writer w;
    const uint32_t L = static_cast<uint32_t>(pattern.size()), D = H * P, C = D + 2 * G * N;
    const std::string a = "granitehybrid.";
    w.str("general.architecture", "granitehybrid");
    w.u32(a + "context_length", 1048576).u32(a + "embedding_length", E).u32(a + "block_count", L);
    std::vector<int32_t> kvs;
    for (char c : pattern) kvs.push_back(c == '*' ? static_cast<int32_t>(nkv) : 0);
    w.u32(a + "feed_forward_length", ff).u32(a + "attention.head_count", nh).arr_i32(a + "attention.head_count_kv", kvs);
    w.u32(a + "attention.key_length", hd).u32(a + "attention.value_length", hd);
    w.f32(a + "attention.layer_norm_rms_epsilon", 1e-5f).boolean(a + "rope.scaling.finetuned", false);
    w.u32(a + "ssm.conv_kernel", K).u32(a + "ssm.inner_size", D).u32(a + "ssm.state_size", N);
    w.u32(a + "ssm.time_step_rank", H).u32(a + "ssm.group_count", G);
    w.u32(a + "expert_count", experts).u32(a + "expert_used_count", used);
    if (shexp) w.u32(a + "expert_shared_feed_forward_length", shexp);
    w.f32(a + "embedding_scale", 12.0f).f32(a + "residual_scale", 0.22f).f32(a + "attention.scale", 0.0078125f);
    w.f32(a + "logit_scale", 6.0f);
    auto t = [&](const std::string& name, Format f, std::vector<int64_t> ne) {
      int64_t n = 1;
      for (int64_t d : ne) n *= d;
      w.tensor_f32(name, f, ne, std::vector<float>(static_cast<size_t>(n), 0.5f));
    };
    t("token_embd.weight", mm, {E, V});
    for (uint32_t il = 0; il < L; ++il) {
      const std::string b = "blk." + std::to_string(il) + ".";
      t(b + "attn_norm.weight", Format::F32, {E});
      if (pattern[il] == 'M') {
        t(b + "ssm_in.weight", mm, {E, 2 * D + 2 * G * N + H});
        t(b + "ssm_conv1d.weight", Format::F32, {K, C});
        t(b + "ssm_conv1d.bias", Format::F32, {C});
        t(b + "ssm_dt.bias", Format::F32, {H});
        t(b + "ssm_a", Format::F32, {1, H});
        t(b + "ssm_d", Format::F32, {1, H});
        t(b + "ssm_norm.weight", Format::F32, {D / G, G});
        t(b + "ssm_out.weight", mm, {D, E});
      } else {
        t(b + "attn_q.weight", mm, {E, nh * hd});
        t(b + "attn_k.weight", mm, {E, nkv * hd});
        t(b + "attn_v.weight", mm, {E, nkv * hd});
        t(b + "attn_output.weight", mm, {nh * hd, E});
      }
      t(b + "ffn_norm.weight", Format::F32, {E});
      if (experts) {
        t(b + "ffn_gate_inp.weight", Format::F32, {E, experts});
        t(b + "ffn_gate_exps.weight", mm, {E, ff, experts});
        t(b + "ffn_up_exps.weight", mm, {E, ff, experts});
        t(b + "ffn_down_exps.weight", mm, {ff, E, experts});
        if (shexp) {
          t(b + "ffn_gate_shexp.weight", mm, {E, shexp});
          t(b + "ffn_up_shexp.weight", mm, {E, shexp});
          t(b + "ffn_down_shexp.weight", mm, {shexp, E});
        }
      } else {
        t(b + "ffn_gate.weight", mm, {E, ff});
        t(b + "ffn_up.weight", mm, {E, ff});
        t(b + "ffn_down.weight", mm, {ff, E});
      }
    }
    t("output_norm.weight", Format::F32, {E});
    return w;  // tied, as Granite 4.0 is
  }
};

Granite moe() {
  Granite g;
  g.mm = Format::F32;
  g.experts = 4;
  g.used = 2;
  g.shexp = 96;
  return g;
}

struct Loaded {
  std::vector<uint8_t> bytes;
  std::unique_ptr<GgufFile> file;
};

Loaded load(const Writer& w) {
  Loaded l;
  l.bytes = w.build();
  l.file = GgufFile::from_memory("g.gguf", l.bytes.data(), l.bytes.size());
  return l;
}

std::string arch_error(const Writer& w) {
  try {
    Loaded l = load(w);
    load_architecture(*l.file);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST("dense granitehybrid: layer kinds from head_count_kv, a SwiGLU FFN in every layer, multipliers, no RoPE") {
  Loaded l = load(Granite{}.writer());
  const Model m = load_architecture(*l.file);
  const Hparams& hp = m.hp;
  CHECK(hp.arch == Arch::GraniteHybrid);
  CHECK_EQ(std::string(arch_name(hp.arch)), std::string("granitehybrid"));
  CHECK_EQ(hp.pattern(), std::string("M*M"));
  CHECK_EQ(hp.count(LayerKind::Mlp), 0);
  CHECK_EQ(hp.count(FfnKind::SwiGlu), 3);
  CHECK_EQ(hp.n_ff[1], 64u);
  CHECK_EQ(hp.n_expert, 0u);
  CHECK_NEAR(hp.embedding_scale, 12.0, 0);
  CHECK_NEAR(hp.residual_scale, 0.22, 1e-7);
  CHECK_NEAR(hp.attention_scale, 0.0078125, 0);
  CHECK_NEAR(hp.logit_scale, 6.0, 0);
  CHECK(!hp.rope);
  CHECK(hp.tied_output);
  const ModelTensors& t = m.tensors;
  CHECK_EQ(t.get(Role::FfnGate, 1)->name, std::string("blk.1.ffn_gate.weight"));
  CHECK_EQ(t.get(Role::FfnNorm, 0)->name, std::string("blk.0.ffn_norm.weight"));
  CHECK(t.get(Role::FfnGateInp, 0) == nullptr);
  CHECK(t.get(Role::FfnGateBias, 0) == nullptr);
  CHECK_EQ(tensor_name(Role::FfnDownExps, 3), std::string("blk.3.ffn_down_exps.weight"));
}

TEST("MoE granitehybrid: experts, top-k, shared expert, 3-D expert tensors") {
  Loaded l = load(moe().writer());
  const Model m = load_architecture(*l.file);
  const Hparams& hp = m.hp;
  CHECK_EQ(hp.count(FfnKind::Moe), 3);
  CHECK_EQ(hp.n_expert, 4u);
  CHECK_EQ(hp.n_expert_used, 2u);
  CHECK_EQ(hp.n_ff_shexp, 96u);
  CHECK_EQ(m.tensors.get(Role::FfnUpExps, 2)->ne[2], int64_t{4});
  CHECK_EQ(m.tensors.get(Role::FfnDownShexp, 1)->name, std::string("blk.1.ffn_down_shexp.weight"));
  CHECK(m.tensors.get(Role::FfnGate, 0) == nullptr);

  // A dense file carries expert_shared_feed_forward_length too (the converter writes it): ignored.
  Granite d;
  d.shexp = 4096;
  CHECK_EQ(arch_error(d.writer()), std::string(""));
}

TEST("RoPE follows llama.cpp: on when rope.scaling.finetuned is true or absent") {
  Writer w = Granite{}.writer();
  w.remove("granitehybrid.rope.scaling.finetuned");
  w.f32("granitehybrid.rope.freq_base", 500.0f).f32("granitehybrid.rope.scaling.factor", 4.0f);
  Loaded l = load(w);
  const Hparams hp = read_hparams(*l.file);
  CHECK(hp.rope);
  CHECK_EQ(hp.n_rot, 8u);
  CHECK_NEAR(hp.rope_freq_base, 500.0, 0);
  CHECK_NEAR(hp.rope_freq_scale, 0.25, 0);

  Writer y = Granite{}.writer();
  y.remove("granitehybrid.rope.scaling.finetuned");
  y.boolean("granitehybrid.rope.scaling.finetuned", true).str("granitehybrid.rope.scaling.type", "yarn");
  CHECK(contains(arch_error(y), "rope scaling type 'yarn' (granitehybrid.rope.scaling.type) is not supported"));
}

TEST("unsupported granitehybrid variants and bad files name what is wrong") {
  {
    Writer w = moe().writer();
    w.remove_tensor("blk.1.ffn_up_exps.weight");
    w.tensor_f32("blk.1.ffn_up_exps.weight", Format::F32, {32, 64, 3}, std::vector<float>(32 * 64 * 3, 0.0f));
    CHECK_EQ(arch_error(w), std::string("g.gguf: tensor blk.1.ffn_up_exps.weight has shape {32, 64, 3}, expected {32, 64, 4} = "
                                        "{n_embd, n_ff, n_expert}"));
  }
  {
    Writer w = moe().writer();
    w.remove_tensor("blk.0.ffn_gate_shexp.weight");
    CHECK_EQ(arch_error(w), std::string("g.gguf: tensor blk.0.ffn_gate_shexp.weight is missing (layer 0 is a mamba2 layer with a "
                                        "mixture-of-experts FFN and a shared expert (head_count_kv[0] = 0, expert_count = 4))"));
  }
  {
    Writer w = Granite{}.writer();
    w.tensor_f32("blk.1.attn_qkv.weight", Format::F32, {32, 64}, std::vector<float>(32 * 64, 0.0f));
    CHECK(contains(arch_error(w), "unexpected tensor blk.1.attn_qkv.weight: a fused QKV projection is not supported"));
  }
  {
    Writer w = Granite{}.writer();
    w.tensor_f32("rope_freqs.weight", Format::F32, {4}, std::vector<float>(4, 1.0f));
    CHECK(contains(arch_error(w), "unexpected tensor rope_freqs.weight: RoPE frequency factors are not supported"));
  }
  {
    Writer w = Granite{}.writer();
    w.tensor_f32("blk.0.ffn_gate_inp.weight", Format::F32, {32, 4}, std::vector<float>(32 * 4, 0.0f));
    CHECK(contains(arch_error(w), "unexpected tensor blk.0.ffn_gate_inp.weight: layer 0 is a mamba2 layer with a SwiGLU FFN"));
  }
  {
    Writer w = Granite{}.writer();
    w.remove("granitehybrid.feed_forward_length");
    w.arr_i32("granitehybrid.feed_forward_length", {64, 96, 64});
    CHECK(contains(arch_error(w), "'granitehybrid.feed_forward_length' differs between layers (64 at layer 0, 96 at layer 1)"));
  }
  {
    Writer w = Granite{}.writer();
    w.remove("granitehybrid.ssm.inner_size");
    w.u32("granitehybrid.ssm.inner_size", 32);
    CHECK(contains(arch_error(w), "ssm.inner_size 32 is not 2 * embedding_length (64); llama.cpp's granitehybrid supports only an expansion factor of 2"));
  }
  {
    Granite g = moe();
    g.used = 0;
    CHECK(contains(arch_error(g.writer()), "'granitehybrid.expert_used_count' = 0: a mixture of 4 experts"));
  }
}

TEST_MAIN()
