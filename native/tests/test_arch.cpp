// The architecture table: hyperparameters and layer kinds from metadata, tensor lookup by role, and the
// validation errors for missing, extra, misshapen and mistyped tensors and unsupported architectures.
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

// A small nemotron_h: E=32, layers "M-*M", d_inner 64 = 4 heads x 16, d_state 8, 2 groups, conv 4,
// attention 4 heads / 2 kv x 8, n_ff 64, vocab 16.
struct Tiny {
  std::string pattern = "M-*M";
  uint32_t E = 32, H = 4, P = 16, N = 8, G = 2, K = 4, nh = 4, nkv = 2, hd = 8, ff = 64, V = 16;
  Format mm = Format::Q8_0;

  Writer writer() const {
    Writer w;
    const uint32_t L = static_cast<uint32_t>(pattern.size()), D = H * P, C = D + 2 * G * N;
    w.str("general.architecture", "nemotron_h");
    w.u32("nemotron_h.context_length", 1024).u32("nemotron_h.embedding_length", E).u32("nemotron_h.block_count", L);
    std::vector<int32_t> ffs, kvs;
    for (char c : pattern) {
      ffs.push_back(c == '-' ? static_cast<int32_t>(ff) : 0);
      kvs.push_back(c == '*' ? static_cast<int32_t>(nkv) : 0);
    }
    w.arr_i32("nemotron_h.feed_forward_length", ffs).u32("nemotron_h.attention.head_count", nh);
    w.arr_i32("nemotron_h.attention.head_count_kv", kvs).u32("nemotron_h.attention.key_length", hd);
    w.u32("nemotron_h.attention.value_length", hd).f32("nemotron_h.attention.layer_norm_epsilon", 1e-5f);
    w.u32("nemotron_h.ssm.conv_kernel", K).u32("nemotron_h.ssm.inner_size", D).u32("nemotron_h.ssm.state_size", N);
    w.u32("nemotron_h.ssm.time_step_rank", H).u32("nemotron_h.ssm.group_count", G);
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
      } else if (pattern[il] == '*') {
        t(b + "attn_q.weight", mm, {E, nh * hd});
        t(b + "attn_k.weight", mm, {E, nkv * hd});
        t(b + "attn_v.weight", mm, {E, nkv * hd});
        t(b + "attn_output.weight", mm, {nh * hd, E});
      } else {
        t(b + "ffn_up.weight", mm, {E, ff});
        t(b + "ffn_down.weight", mm, {ff, E});
      }
    }
    t("output_norm.weight", Format::F32, {E});
    t("output.weight", mm, {E, V});
    return w;
  }
};

struct Loaded {
  std::vector<uint8_t> bytes;
  std::unique_ptr<GgufFile> file;
};

Loaded load(const Writer& w) {
  Loaded l;
  l.bytes = w.build();
  l.file = GgufFile::from_memory("m.gguf", l.bytes.data(), l.bytes.size());
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

// Replaces a tensor (same name) with one of another shape/format.
Writer with_tensor(Writer w, const std::string& name, Format f, std::vector<int64_t> ne) {
  w.remove_tensor(name);
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  w.tensor_f32(name, f, ne, std::vector<float>(static_cast<size_t>(n), 1.0f));
  return w;
}

}  // namespace

TEST("hyperparameters and layer kinds come from the per-layer arrays") {
  Loaded l = load(Tiny{}.writer());
  const Model m = load_architecture(*l.file);
  const Hparams& hp = m.hp;
  CHECK(hp.arch == Arch::NemotronH);
  CHECK_EQ(hp.n_layer, 4u);
  CHECK_EQ(hp.n_embd, 32u);
  CHECK_EQ(hp.n_vocab, 16u);
  CHECK_EQ(hp.n_ctx_train, 1024u);
  CHECK_EQ(hp.pattern(), std::string("M-*M"));
  CHECK(hp.kinds[0] == LayerKind::Mamba2 && hp.kinds[1] == LayerKind::Mlp && hp.kinds[2] == LayerKind::Attention);
  CHECK_EQ(hp.count(LayerKind::Mamba2), 2);
  CHECK_EQ(hp.n_head[2], 4u);
  CHECK_EQ(hp.n_head_kv[2], 2u);
  CHECK_EQ(hp.n_ff[1], 64u);
  CHECK_EQ(hp.head_dim, 8u);
  CHECK_EQ(hp.ssm_head_dim(), 16u);
  CHECK_EQ(hp.ssm_conv_channels(), uint64_t{64 + 32});
  CHECK_EQ(hp.ssm_in_rows(), uint64_t{128 + 32 + 4});
  CHECK_NEAR(hp.norm_eps, 1e-5, 1e-12);
  CHECK(!hp.tied_output);
  CHECK_EQ(std::string(layer_kind_name(LayerKind::Attention)), std::string("attention"));
  CHECK_EQ(layer_kind_symbol(LayerKind::Mlp), '-');
}

TEST("tensors are found by role; optional ones are null; output() falls back to the embedding when tied") {
  Loaded l = load(Tiny{}.writer());
  const Model m = load_architecture(*l.file);
  const ModelTensors& t = m.tensors;
  CHECK_EQ(t.get(Role::TokenEmbd)->name, std::string("token_embd.weight"));
  CHECK_EQ(t.get(Role::SsmIn, 3)->name, std::string("blk.3.ssm_in.weight"));
  CHECK_EQ(t.get(Role::SsmA, 0)->ne[1], int64_t{4});
  CHECK_EQ(t.get(Role::AttnK, 2)->name, std::string("blk.2.attn_k.weight"));
  CHECK_EQ(t.get(Role::FfnDown, 1)->name, std::string("blk.1.ffn_down.weight"));
  CHECK(t.get(Role::SsmIn, 1) == nullptr);     // not a Mamba layer
  CHECK(t.get(Role::AttnQBias, 2) == nullptr);  // optional, absent
  CHECK(t.get(Role::AttnNorm, 9) == nullptr);   // no such layer
  CHECK_EQ(t.output().name, std::string("output.weight"));
  CHECK_EQ(tensor_name(Role::SsmConv1dBias, 7), std::string("blk.7.ssm_conv1d.bias"));
  CHECK_EQ(tensor_name(Role::OutputNorm), std::string("output_norm.weight"));
  CHECK_EQ(arch_key(Arch::NemotronH, "ssm.state_size"), std::string("nemotron_h.ssm.state_size"));

  Writer w = Tiny{}.writer();
  w.remove_tensor("output.weight");
  Loaded tied = load(w);
  const Model mt = load_architecture(*tied.file);
  CHECK(mt.hp.tied_output);
  CHECK(mt.tensors.get(Role::Output) == nullptr);
  CHECK_EQ(mt.tensors.output().name, std::string("token_embd.weight"));

  Writer wb = Tiny{}.writer();
  wb.tensor_f32("blk.2.attn_q.bias", Format::F32, {32}, std::vector<float>(32, 0.0f));
  Loaded lb = load(wb);
  CHECK_EQ(load_architecture(*lb.file).tensors.get(Role::AttnQBias, 2)->name, std::string("blk.2.attn_q.bias"));
}

TEST("every file format is accepted for matmul weights") {
  for (Format f : {Format::F32, Format::F16, Format::BF16, Format::Q8_0, Format::Q4_0}) {
    Tiny t;
    t.mm = f;
    CHECK_EQ(arch_error(t.writer()), std::string(""));
  }
  Tiny k;  // K-quants need rows of 256
  k.E = 256;
  k.P = 64;
  k.ff = 256;
  k.nh = 32;
  k.hd = 8;
  k.nkv = 4;
  for (Format f : {Format::Q4_K, Format::Q5_K, Format::Q6_K}) {
    k.mm = f;
    CHECK_EQ(arch_error(k.writer()), std::string(""));
  }
}

TEST("scalar feed_forward_length and an absent head_count_kv follow llama.cpp") {
  // head_count_kv absent -> defaults to head_count -> no layer is recurrent.
  Tiny t;
  t.pattern = "-*";
  Writer w = t.writer();
  w.remove("nemotron_h.attention.head_count_kv");
  w.remove("nemotron_h.feed_forward_length");
  w.arr_i32("nemotron_h.feed_forward_length", {64, 0});
  Loaded l = load(w);
  const Hparams hp = read_hparams(*l.file);
  CHECK_EQ(hp.pattern(), std::string("-*"));
  CHECK_EQ(hp.n_head_kv[0], 4u);
  // scalar n_ff: every layer is an MLP layer
  Writer w2 = Tiny{}.writer();
  w2.remove("nemotron_h.feed_forward_length");
  w2.u32("nemotron_h.feed_forward_length", 64);
  Loaded l2 = load(w2);
  CHECK_EQ(read_hparams(*l2.file).pattern(), std::string("----"));
}

TEST("errors name the file, the tensor or key, and what is wrong") {
  const Writer base = Tiny{}.writer();
  {
    Writer w = base;
    w.remove("general.architecture");
    w.str("general.architecture", "llama");
    CHECK_EQ(arch_error(w), std::string("m.gguf: architecture 'llama' is not supported (supported: nemotron_h, granitehybrid)"));
  }
  {
    Writer w = base;
    w.remove_tensor("blk.3.ssm_d");
    CHECK_EQ(arch_error(w), std::string("m.gguf: tensor blk.3.ssm_d is missing (layer 3 is a mamba2 layer (head_count_kv[3] = 0, "
                                        "feed_forward_length[3] = 0))"));
  }
  CHECK_EQ(arch_error(with_tensor(base, "blk.0.ssm_a", Format::F32, {4, 1})),
           std::string("m.gguf: tensor blk.0.ssm_a has shape {4, 1}, expected {1, 4} = {1, n_ssm_head}"));
  CHECK_EQ(arch_error(with_tensor(base, "blk.0.ssm_a", Format::F16, {1, 4})),
           std::string("m.gguf: tensor blk.0.ssm_a has type F16, expected F32 (ggml_ssm_scan needs F32)"));
  CHECK_EQ(arch_error(with_tensor(base, "blk.2.attn_output.weight", Format::Q8_0, {64, 32})),
           std::string("m.gguf: tensor blk.2.attn_output.weight has shape {64, 32}, expected {32, 32} = {n_head*head_dim, n_embd}"));
  {
    Writer w = base;
    w.tensor_f32("blk.1.ssm_d", Format::F32, {1, 4}, {1, 1, 1, 1});
    CHECK_EQ(arch_error(w), std::string("m.gguf: unexpected tensor blk.1.ssm_d: layer 1 is an mlp layer (head_count_kv[1] = 0, "
                                        "feed_forward_length[1] = 64), which has no ssm_d"));
  }
  {
    Writer w = base;
    w.tensor_f32("blk.4.attn_norm.weight", Format::F32, {32}, std::vector<float>(32, 1.0f));
    CHECK_EQ(arch_error(w), std::string("m.gguf: unexpected tensor blk.4.attn_norm.weight: the model has 4 layers (block_count)"));
  }
  {
    Writer w = base;
    w.remove("nemotron_h.ssm.group_count");
    CHECK_EQ(arch_error(w), std::string("m.gguf: required metadata key 'nemotron_h.ssm.group_count' is missing"));
  }
  {
    Writer w = base;
    w.remove("nemotron_h.attention.key_length");
    w.remove("nemotron_h.attention.value_length");  // head_dim = n_embd / n_head = 8: still valid
    CHECK_EQ(arch_error(w), std::string(""));
  }
  {
    Writer w = base;
    w.arr_str("tokenizer.ggml.tokens", std::vector<std::string>(15, "t"));
    CHECK_EQ(arch_error(w), std::string("m.gguf: tokenizer.ggml.tokens has 15 tokens, but token_embd.weight has 16 rows"));
  }
}

TEST_MAIN()
