// granitehybrid (IBM Granite 4.0 H): the graph pieces that nemotron_h does not have. A Granite layer is
// a Mamba-2 or attention mixer (engine.cpp, shared with nemotron_h) followed, after the mixer's residual,
// by an FFN of its own — llama.cpp src/models/granite-hybrid.cpp build_layer_ffn:
//   ffn_inp = h + residual_scale * mixer(attn_norm(h))        (engine.cpp eval_batch)
//   h       = ffn_inp + residual_scale * ffn(ffn_norm(ffn_inp))   (granite_ffn below)
// ffn is a SwiGLU (build_ffn LLM_FFN_SILU, LLM_FFN_PAR) or a mixture of experts (build_moe_ffn: softmax
// router, top-k, renormalized weights, SwiGLU experts) plus a shared SwiGLU expert.
#include <algorithm>

#include "ops/elementwise.h"
#include "ops/glu.h"
#include "ops/moe.h"
#include "runtime/engine.h"

namespace hybrid::runtime {

using model::FfnKind;
using model::Role;

namespace {

const float* f32(const gguf::Tensor* t) { return reinterpret_cast<const float*>(t->data); }

void add_bias(float* y, const gguf::Tensor* b, int64_t n, int64_t dim) {
  if (!b) return;
  for (int64_t t = 0; t < n; ++t)
    for (int64_t i = 0; i < dim; ++i) y[t * dim + i] += f32(b)[i];
}

}  // namespace

void Engine::init_granite_scratch() {
  const auto& hp = model_->hp();
  if (hp.arch != model::Arch::GraniteHybrid) return;
  const size_t B = static_cast<size_t>(max_batch_), E = hp.n_embd, k = hp.n_expert_used;
  const size_t ff = std::max<size_t>(hp.n_ff.empty() ? 0 : hp.n_ff[0], hp.n_ff_shexp);
  ffn_.gate.resize(B * ff);
  ffn_.up.resize(B * ff);
  if (hp.n_expert > 0) {
    ffn_.router.resize(B * hp.n_expert);
    ffn_.ids.resize(B * k);
    ffn_.weights.resize(B * k);
    ffn_.offsets.resize(hp.n_expert + 1);
    ffn_.members.resize(B * k);
    ffn_.xs.resize(B * E);
    ffn_.ys.resize(B * E);
    ffn_.slots.resize(B * k * E);
  }
}

void Engine::swiglu_ffn(const gguf::Tensor& gate, const gguf::Tensor& up, const gguf::Tensor& down, const float* x,
                        int64_t n, float* out, const gguf::Tensor* gate_b, const gguf::Tensor* up_b,
                        const gguf::Tensor* down_b) {
  const int64_t ff = gate.ne[1];
  float* g = ffn_.gate.data();
  float* u = ffn_.up.data();
  ops::matmul(up, x, n, u, pool_, mm_);
  add_bias(u, up_b, n, ff);
  ops::matmul(gate, x, n, g, pool_, mm_);
  add_bias(g, gate_b, n, ff);
  ops::swiglu(g, u, g, n * ff);
  ops::matmul(down, g, n, out, pool_, mm_);
  add_bias(out, down_b, n, down.ne[1]);
}

void Engine::granite_ffn(int il, int64_t n) {
  const auto& hp = model_->hp();
  const auto& T = model_->tensors();
  const int64_t E = hp.n_embd;
  // h_ holds ffn_inp (the mixer's residual already added).
  ops::rms_norm_rows(h_.data(), f32(T.get(Role::FfnNorm, il)), n, E, hp.norm_eps, x_.data());
  if (hp.ffn[il] == FfnKind::Moe) {
    moe_ffn(il, n);
  } else {
    swiglu_ffn(*T.get(Role::FfnGate, il), *T.get(Role::FfnUp, il), *T.get(Role::FfnDown, il), x_.data(), n, out_.data(),
               T.get(Role::FfnGateBias, il), T.get(Role::FfnUpBias, il), T.get(Role::FfnDownBias, il));
  }
  if (hp.residual_scale != 0.0f)
    for (int64_t i = 0; i < n * E; ++i) out_[i] *= hp.residual_scale;
  ops::add_to(h_.data(), out_.data(), n * E);
}

// Only the routed experts' weights are read: the tokens of a batch are grouped by expert, and each expert
// that has any runs its three matmuls once over its tokens (llama.cpp's mul_mat_id does the same).
void Engine::moe_ffn(int il, int64_t n) {
  const auto& hp = model_->hp();
  const auto& T = model_->tensors();
  const int64_t E = hp.n_embd, k = hp.n_expert_used, X = hp.n_expert, ff = hp.n_ff[il];
  const float* x = x_.data();

  ops::matmul(*T.get(Role::FfnGateInp, il), x, n, ffn_.router.data(), pool_, mm_);
  ops::moe_route(ffn_.router.data(), n, X, k, ffn_.ids.data(), ffn_.weights.data());

  // Group the (token, slot) pairs by expert: a counting sort, in token order within each expert. off[e]
  // serves as expert e's write cursor, then is shifted back to its start.
  int32_t* off = ffn_.offsets.data();
  std::fill(off, off + X + 1, 0);
  for (int64_t i = 0; i < n * k; ++i) ++off[ffn_.ids[i] + 1];
  for (int64_t e = 0; e < X; ++e) off[e + 1] += off[e];
  for (int64_t i = 0; i < n * k; ++i) ffn_.members[off[ffn_.ids[i]]++] = static_cast<int32_t>(i);
  for (int64_t e = X; e > 0; --e) off[e] = off[e - 1];
  off[0] = 0;

  const gguf::Tensor& gate = *T.get(Role::FfnGateExps, il);
  const gguf::Tensor& up = *T.get(Role::FfnUpExps, il);
  const gguf::Tensor& down = *T.get(Role::FfnDownExps, il);
  float* xs = ffn_.xs.data();
  float* ys = ffn_.ys.data();
  float* g = ffn_.gate.data();
  float* u = ffn_.up.data();
  for (int64_t e = 0; e < X; ++e) {
    const int64_t b = off[e], m = off[e + 1] - b;
    if (m == 0) continue;
    for (int64_t j = 0; j < m; ++j) {
      const int64_t t = ffn_.members[b + j] / k;
      std::copy(x + t * E, x + (t + 1) * E, xs + j * E);
    }
    // Expert e is rows [e * ff, (e + 1) * ff) of the stacked {E, ff, n_expert} gate/up tensors and rows
    // [e * E, (e + 1) * E) of the {ff, E, n_expert} down tensor.
    ops::matmul_rows(up, e * ff, (e + 1) * ff, xs, m, u, pool_, mm_);
    ops::matmul_rows(gate, e * ff, (e + 1) * ff, xs, m, g, pool_, mm_);
    ops::swiglu(g, u, g, m * ff);
    ops::matmul_rows(down, e * E, (e + 1) * E, g, m, ys, pool_, mm_);
    for (int64_t j = 0; j < m; ++j) {
      const int32_t pair = ffn_.members[b + j];  // token * k + slot
      const float w = ffn_.weights[pair];
      float* dst = ffn_.slots.data() + static_cast<int64_t>(pair) * E;
      for (int64_t i = 0; i < E; ++i) dst[i] = ys[j * E + i] * w;
    }
  }
  // moe_out = slot 0 + slot 1 + ... in routing order (build_moe_ffn's chain of ggml_add).
  for (int64_t t = 0; t < n; ++t) {
    float* o = out_.data() + t * E;
    const float* s = ffn_.slots.data() + t * k * E;
    std::copy(s, s + E, o);
    for (int64_t j = 1; j < k; ++j)
      for (int64_t i = 0; i < E; ++i) o[i] += s[j * E + i];
  }

  if (hp.n_ff_shexp > 0) {  // + the shared expert, a SwiGLU on the same input
    swiglu_ffn(*T.get(Role::FfnGateShexp, il), *T.get(Role::FfnUpShexp, il), *T.get(Role::FfnDownShexp, il), x, n, ys);
    ops::add_to(out_.data(), ys, n * E);
  }
}

}  // namespace hybrid::runtime
