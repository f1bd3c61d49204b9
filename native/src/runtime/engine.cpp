#include "runtime/engine.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "formats/formats.h"
#include "ops/elementwise.h"
#include "ops/rope.h"
#include "ops/ssm.h"
#include "util/error.h"

namespace hybrid::runtime {

using model::LayerKind;
using model::Role;

std::shared_ptr<Model> Model::load(const std::string& path) {
  auto m = std::shared_ptr<Model>(new Model());
  m->file_ = gguf::GgufFile::open(path);
  m->arch_ = model::load_architecture(*m->file_);
  if (m->arch_.hp.ssm_d_conv > 16 && m->arch_.hp.count(LayerKind::Mamba2) > 0) {
    m->file_->fail("ssm.conv_kernel " + std::to_string(m->arch_.hp.ssm_d_conv) + " is larger than 16");
  }
  return m;
}

uint64_t Model::weight_bytes() const {
  uint64_t n = 0;
  for (const auto& t : file_->tensors()) n += t.nbytes;
  return n;
}

uint64_t State::recurrent_bytes() const {
  uint64_t n = 0;
  for (const auto& l : layers) n += (l.conv.size() + l.ssm.size()) * sizeof(float);
  return n;
}

void State::save_recurrent(float* dst) const {
  for (const auto& l : layers) {
    dst = std::copy(l.conv.begin(), l.conv.end(), dst);
    dst = std::copy(l.ssm.begin(), l.ssm.end(), dst);
  }
}

void State::load_recurrent(const float* src) {
  for (auto& l : layers) {
    std::copy(src, src + l.conv.size(), l.conv.begin());
    src += l.conv.size();
    std::copy(src, src + l.ssm.size(), l.ssm.begin());
    src += l.ssm.size();
  }
}

void State::clear_recurrent() {
  for (auto& l : layers) {
    std::fill(l.conv.begin(), l.conv.end(), 0.0f);
    std::fill(l.ssm.begin(), l.ssm.end(), 0.0f);
  }
}

// Grows a KV cache to hold at least `rows` rows (doubling, at most n_ctx rows), keeping its contents.
static void reserve_kv(KvCache& kv, int64_t rows, int64_t row_floats, int64_t n_ctx) {
  const size_t have = kv.k.size() / static_cast<size_t>(row_floats);
  if (static_cast<int64_t>(have) >= rows) return;
  const int64_t want = std::min<int64_t>(n_ctx, std::max<int64_t>({rows, static_cast<int64_t>(have) * 2, 256}));
  kv.k.resize(static_cast<size_t>(want * row_floats));
  kv.v.resize(static_cast<size_t>(want * row_floats));
}

static const float* f32(const gguf::Tensor* t) { return reinterpret_cast<const float*>(t->data); }

Engine::Engine(std::shared_ptr<Model> model, int n_threads, int64_t max_batch)
    : model_(std::move(model)), pool_(n_threads), max_batch_(std::max<int64_t>(1, max_batch)) {
  const auto& hp = model_->hp();
  size_t widest = hp.n_embd;
  for (uint32_t il = 0; il < hp.n_layer; ++il) {
    switch (hp.kinds[il]) {
      case LayerKind::Mamba2: widest = std::max<size_t>(widest, hp.ssm_in_rows()); break;
      case LayerKind::Attention:
        widest = std::max<size_t>(widest, (hp.n_head[il] + 2ull * hp.n_head_kv[il]) * hp.head_dim);
        break;
      case LayerKind::Mlp: widest = std::max<size_t>(widest, hp.n_ff[il]); break;
    }
  }
  const size_t B = static_cast<size_t>(max_batch_);
  h_.resize(B * hp.n_embd);
  x_.resize(B * hp.n_embd);
  out_.resize(B * hp.n_embd);
  big_.resize(B * widest);
  size_t y_width = std::max<size_t>(hp.ssm_d_inner, hp.n_embd);
  for (uint32_t il = 0; il < hp.n_layer; ++il)
    if (hp.kinds[il] == LayerKind::Attention) y_width = std::max<size_t>(y_width, size_t(hp.n_head[il]) * hp.head_dim);
  y_.resize(B * y_width);
  init_granite_scratch();
}

State Engine::new_state(int64_t n_ctx) const {
  const auto& hp = model_->hp();
  State s;
  s.n_ctx = n_ctx;
  s.layers.resize(hp.n_layer);
  for (uint32_t il = 0; il < hp.n_layer; ++il) {
    auto& l = s.layers[il];
    if (hp.kinds[il] == LayerKind::Mamba2) {
      l.conv.assign(hp.ssm_conv_channels() * (hp.ssm_d_conv - 1), 0.0f);
      l.ssm.assign(static_cast<size_t>(hp.ssm_d_inner) * hp.ssm_d_state, 0.0f);
    } else if (hp.kinds[il] == LayerKind::Attention) {
      // The KV cache grows with the sequence (see reserve_kv): an open document costs memory for the
      // tokens it has, not for the whole context length.
      l.kv = std::make_shared<KvCache>();
    }
  }
  return s;
}

void check_token_ids(uint32_t n_vocab, const int32_t* tokens, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    if (tokens[i] < 0 || static_cast<uint32_t>(tokens[i]) >= n_vocab) {
      throw InputError("token id " + std::to_string(tokens[i]) + " at position " + std::to_string(i) +
                       " is out of range (vocabulary size " + std::to_string(n_vocab) + ")");
    }
  }
}

void Engine::check_tokens(const int32_t* tokens, int64_t n) const { check_token_ids(model_->hp().n_vocab, tokens, n); }

void Engine::eval(State& state, const int32_t* tokens, int64_t n, Logits mode, float* logits) {
  const auto& hp = model_->hp();
  check_tokens(tokens, n);
  if (state.n_past + n > state.n_ctx) {
    throw InputError("context overflow: " + std::to_string(state.n_past) + " + " + std::to_string(n) +
                     " tokens exceed the context length " + std::to_string(state.n_ctx));
  }
  for (int64_t done = 0; done < n; done += max_batch_) {
    const int64_t b = std::min(max_batch_, n - done);
    const bool last_batch = done + b == n;
    float* out = mode == Logits::All ? logits + done * hp.n_vocab : logits;
    eval_batch(state, tokens + done, b, mode == Logits::All, mode == Logits::Last && last_batch, out);
  }
}

void Engine::eval_batch(State& state, const int32_t* tokens, int64_t n, bool all_logits, bool last_logits,
                        float* logits) {
  const auto& hp = model_->hp();
  const auto& T = model_->tensors();
  const int64_t E = hp.n_embd;
  state_ctx_ = state.n_ctx;
  // Every KV cache grows before any layer runs: running out of memory then leaves the state as it was
  // (the recurrent layers update their state in place as they go).
  for (uint32_t il = 0; il < hp.n_layer; ++il)
    if (hp.kinds[il] == LayerKind::Attention)
      reserve_kv(*state.layers[il].kv, state.n_past + n, static_cast<int64_t>(hp.n_head_kv[il]) * hp.head_dim, state.n_ctx);
  // h = token_embd[tok] (get_rows: decode the token's row; no embedding scale in nemotron_h)
  const gguf::Tensor* embd = T.get(Role::TokenEmbd);
  for (int64_t t = 0; t < n; ++t) formats::dequantize_row(embd->format, embd->row(tokens[t]), h_.data() + t * E, E);
  if (hp.embedding_scale != 0.0f)  // granitehybrid µP (llama-graph.cpp build_inp_embd)
    for (int64_t i = 0; i < n * E; ++i) h_[i] *= hp.embedding_scale;

  for (uint32_t il = 0; il < hp.n_layer; ++il) {
    const float* norm = f32(T.get(Role::AttnNorm, il));
    ops::rms_norm_rows(h_.data(), norm, n, E, hp.norm_eps, x_.data());
    switch (hp.kinds[il]) {
      case LayerKind::Mamba2: mamba2(il, state.layers[il], n); break;
      case LayerKind::Attention: attention(il, state.layers[il], state.n_past, n); break;
      case LayerKind::Mlp: mlp(il, n); break;
    }
    if (hp.residual_scale != 0.0f)  // granitehybrid µP: the branch is scaled before its residual add
      for (int64_t i = 0; i < n * E; ++i) out_[i] *= hp.residual_scale;
    ops::add_to(h_.data(), out_.data(), n * E);  // residual
    if (hp.ffn[il] != model::FfnKind::None) granite_ffn(il, n);  // granitehybrid: the layer's own FFN
  }
  state.n_past += n;

  if (!all_logits && !last_logits) return;
  const int64_t first = all_logits ? 0 : n - 1;
  const float* onorm = f32(T.get(Role::OutputNorm));
  ops::rms_norm_rows(h_.data() + first * E, onorm, n - first, E, hp.norm_eps, x_.data());
  ops::matmul(T.output(), x_.data(), n - first, logits, pool_, mm_);
  if (hp.logit_scale != 0.0f) {  // granitehybrid: logits / logit_scale, as ggml_scale(cur, 1/s)
    const float inv = 1.0f / hp.logit_scale;
    for (int64_t i = 0; i < (n - first) * static_cast<int64_t>(hp.n_vocab); ++i) logits[i] *= inv;
  }
}

void Engine::mamba2(int il, LayerState& ls, int64_t n) {
  const auto& hp = model_->hp();
  const auto& T = model_->tensors();
  ops::SsmDims d{hp.ssm_d_conv, static_cast<int64_t>(hp.ssm_conv_channels()), hp.ssm_d_inner, hp.ssm_d_state,
                 hp.ssm_n_head, hp.ssm_n_group};
  const int64_t P = static_cast<int64_t>(hp.ssm_in_rows());
  const int64_t Din = d.d_inner, GN = d.n_group * d.d_state;
  // zxBCdt = ssm_in @ x   [n][P]: z | xBC | dt
  ops::matmul(*T.get(Role::SsmIn, il), x_.data(), n, big_.data(), pool_, mm_);
  float* xbc = big_.data() + Din;
  const float* dt = big_.data() + 2 * Din + 2 * GN;
  ops::ssm_conv(d, xbc, n, P, f32(T.get(Role::SsmConv1d, il)), f32(T.get(Role::SsmConv1dBias, il)), ls.conv.data(), pool_);
  ops::ssm_scan(d, xbc, P, dt, P, f32(T.get(Role::SsmDtBias, il)), f32(T.get(Role::SsmA, il)), f32(T.get(Role::SsmD, il)),
                ls.ssm.data(), y_.data(), n, pool_);
  // y = y * silu(z), then RMSNorm per group of d_inner / n_group, times ssm_norm.weight
  ops::ssm_gate_norm(d, y_.data(), n, big_.data(), P, f32(T.get(Role::SsmNorm, il)), hp.norm_eps, pool_);
  ops::matmul(*T.get(Role::SsmOut, il), y_.data(), n, out_.data(), pool_, mm_);
}

void Engine::attention(int il, LayerState& ls, int64_t n_past, int64_t n) {
  const auto& hp = model_->hp();
  const auto& T = model_->tensors();
  const int64_t hd = hp.head_dim, nh = hp.n_head[il], nkv = hp.n_head_kv[il];
  const int64_t q_dim = nh * hd, kv_dim = nkv * hd;
  reserve_kv(*ls.kv, n_past + n, kv_dim, state_ctx_);
  float* q = big_.data();
  ops::matmul(*T.get(Role::AttnQ, il), x_.data(), n, q, pool_, mm_);
  ops::matmul(*T.get(Role::AttnK, il), x_.data(), n, ls.kv->k.data() + n_past * kv_dim, pool_, mm_);
  ops::matmul(*T.get(Role::AttnV, il), x_.data(), n, ls.kv->v.data() + n_past * kv_dim, pool_, mm_);
  auto add_bias = [&](Role r, float* dst, int64_t dim) {
    if (const gguf::Tensor* b = T.get(r, il))
      for (int64_t t = 0; t < n; ++t)
        for (int64_t i = 0; i < dim; ++i) dst[t * dim + i] += f32(b)[i];
  };
  add_bias(Role::AttnQBias, q, q_dim);
  add_bias(Role::AttnKBias, ls.kv->k.data() + n_past * kv_dim, kv_dim);
  add_bias(Role::AttnVBias, ls.kv->v.data() + n_past * kv_dim, kv_dim);
  if (hp.rope) {  // granitehybrid unless rope.scaling.finetuned is false: RoPE on q and the new keys
    const ops::RopeParams rp{hp.n_rot, hp.rope_freq_base, hp.rope_freq_scale, hp.rope_attn_factor};
    ops::rope_norm(q, n, nh, hd, n_past, rp);
    ops::rope_norm(ls.kv->k.data() + n_past * kv_dim, n, nkv, hd, n_past, rp);
  }
  // kq_scale: granitehybrid's attention.scale when the file has one, else 1/sqrt(head_dim).
  const float kq_scale = hp.attention_scale != 0.0f ? hp.attention_scale : 1.0f / std::sqrt(static_cast<float>(hd));
  float* o = y_.data();
  ops::attention(q, n, n_past, ls.kv->k.data(), ls.kv->v.data(), nh, nkv, hd, kq_scale, o, pool_, attn_);
  ops::matmul(*T.get(Role::AttnOut, il), o, n, out_.data(), pool_, mm_);
  add_bias(Role::AttnOutBias, out_.data(), hp.n_embd);
}

void Engine::mlp(int il, int64_t n) {
  const auto& hp = model_->hp();
  const auto& T = model_->tensors();
  const int64_t ff = hp.n_ff[il];
  float* up = big_.data();
  ops::matmul(*T.get(Role::FfnUp, il), x_.data(), n, up, pool_, mm_);
  if (const gguf::Tensor* b = T.get(Role::FfnUpBias, il))
    for (int64_t t = 0; t < n; ++t)
      for (int64_t i = 0; i < ff; ++i) up[t * ff + i] += f32(b)[i];
  ops::relu_sqr(up, n * ff);  // squared ReLU (LLM_FFN_RELU_SQR), no gate
  ops::matmul(*T.get(Role::FfnDown, il), up, n, out_.data(), pool_, mm_);
  if (const gguf::Tensor* b = T.get(Role::FfnDownBias, il))
    for (int64_t t = 0; t < n; ++t)
      for (int64_t i = 0; i < hp.n_embd; ++i) out_[t * hp.n_embd + i] += f32(b)[i];
}

}  // namespace hybrid::runtime
