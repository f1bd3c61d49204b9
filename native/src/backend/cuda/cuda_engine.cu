// The CUDA engine (cuda_engine.h): weights uploaded once, workspace sized once for max_batch tokens, the
// forward pass of engine.cpp/granite.cpp as kernel launches on one stream, decode steps replayed from a
// CUDA graph per state.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include "backend/cuda/cuda_check.cuh"
#include "backend/cuda/cuda_engine.h"
#include "backend/cuda/cuda_matmul.h"
#include "backend/cuda/engine_kernels.cuh"
#include "formats/formats.h"
#include "util/error.h"

namespace hybrid::cuda {

using model::FfnKind;
using model::LayerKind;
using model::Role;
using runtime::Logits;

namespace {

constexpr int kMaxSplits = 32;       // attention split-K chunks for a decode step
constexpr int64_t kLogitRows = 64;   // rows of logits computed per pass (Logits::All)

std::string mib(uint64_t bytes) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f MiB", bytes / 1048576.0);
  return buf;
}

// cudaMalloc that reports what did not fit.
void* device_alloc(size_t bytes, const std::string& what) {
  if (bytes == 0) bytes = 256;
  void* p = nullptr;
  const cudaError_t e = cudaMalloc(&p, bytes);
  if (e == cudaSuccess) return p;
  cudaGetLastError();
  size_t free_b = 0, total_b = 0;
  cudaMemGetInfo(&free_b, &total_b);
  cudaGetLastError();
  if (e == cudaErrorMemoryAllocation)
    throw CudaOutOfMemory("CUDA out of memory allocating " + what + ": asked " + std::to_string(bytes) + " bytes (" +
                          mib(bytes) + "), " + std::to_string(free_b) + " bytes (" + mib(free_b) + ") free of " +
                          mib(total_b));
  throw std::runtime_error("CUDA error allocating " + what + " (" + std::to_string(bytes) +
                           " bytes): " + cudaGetErrorString(e));
}

// Device allocations freed together (in reverse order) by the destructor.
class Allocations {
 public:
  Allocations() = default;
  Allocations(const Allocations&) = delete;
  Allocations& operator=(const Allocations&) = delete;
  ~Allocations() { release(); }
  template <typename T>
  T* alloc(size_t count, const std::string& what) {
    void* p = device_alloc(count * sizeof(T), what);
    ptrs_.push_back(p);
    bytes_ += count * sizeof(T);
    return static_cast<T*>(p);
  }
  void adopt(void* p, size_t bytes) {
    ptrs_.push_back(p);
    bytes_ += bytes;
  }
  void release() {
    for (auto it = ptrs_.rbegin(); it != ptrs_.rend(); ++it) cudaFree(*it);
    ptrs_.clear();
    bytes_ = 0;
  }
  uint64_t bytes() const { return bytes_; }

 private:
  std::vector<void*> ptrs_;
  uint64_t bytes_ = 0;
};

struct LayerWeights {
  float* attn_norm = nullptr;
  // Mamba-2
  DeviceMatrix ssm_in, ssm_out;
  float *conv_w = nullptr, *conv_b = nullptr, *dt_b = nullptr, *a = nullptr, *d = nullptr, *ssm_norm = nullptr;
  // attention
  DeviceMatrix q, k, v, o;
  float *q_b = nullptr, *k_b = nullptr, *v_b = nullptr, *o_b = nullptr;
  // MLP (nemotron_h) / SwiGLU FFN (granitehybrid)
  DeviceMatrix up, down, gate;
  float *up_b = nullptr, *down_b = nullptr, *gate_b = nullptr, *ffn_norm = nullptr;
};

struct KvDevice {
  float* k = nullptr;
  float* v = nullptr;
  int64_t rows = 0;
};

}  // namespace

struct CudaStateImpl {
  int device = 0;
  int64_t n_past = 0, n_ctx = 0;
  float* rec = nullptr;  // recurrent state, laid out as runtime::State::save_recurrent
  std::vector<int64_t> conv_off, ssm_off;  // per layer, -1 when not Mamba-2 (floats into rec)
  std::vector<KvDevice> kv;                // per layer (attention only)
  uint64_t kv_bytes = 0;
  int64_t kv_gen = 0;                      // bumped whenever a KV buffer moves
  int splits = 1;                          // attention split-K for decode steps
  float* snaps = nullptr;
  int slots = 0;
  std::vector<int64_t> snap_n_past;
  cudaGraphExec_t graph = nullptr;
  int64_t graph_kv_gen = -1;

  ~CudaStateImpl() {
    cudaSetDevice(device);
    if (graph) cudaGraphExecDestroy(graph);
    for (auto& l : kv) {
      cudaFree(l.k);
      cudaFree(l.v);
    }
    cudaFree(rec);
    cudaFree(snaps);
    cudaGetLastError();
  }
};

struct CudaEngineImpl {
  std::shared_ptr<runtime::Model> model;
  int device = 0;
  int64_t B = 1;
  Allocations allocs;  // declared before everything it owns; destroyed last
  cudaStream_t stream = nullptr;
  cudaEvent_t ev0 = nullptr, ev1 = nullptr;
  uint64_t weight_bytes = 0;

  DeviceMatrix embd, output;
  float* out_norm = nullptr;
  std::vector<LayerWeights> L;

  // workspace
  float *h = nullptr, *x = nullptr, *out = nullptr, *big = nullptr, *y = nullptr;
  float *ffn_g = nullptr, *ffn_u = nullptr, *logits = nullptr, *attn_ws = nullptr;
  void* mm_scratch = nullptr;
  float* conv_tmp = nullptr;  // [B][conv channels]: the parallel prefill conv's outputs (Mamba-2 models)
  int32_t *d_tokens = nullptr, *d_n_past = nullptr, *d_argmax = nullptr;
  int64_t logit_rows = 1;
  // pinned host staging
  int32_t* h_id = nullptr;
  int32_t* h_tokens = nullptr;  // B ids: the upload of a batch's tokens is then a true async copy
  float* h_rec = nullptr;
  uint64_t rec_bytes = 0;

  bool graphs = true;
  bool graph_warned = false;

  // Profiling (profile_eval): after every op, record an event, wait for it, add the time since the previous
  // one to the op's kind. Off (null) in normal runs: tick() is then a branch.
  std::vector<std::pair<std::string, double>>* prof = nullptr;
  void tick(const char* what) {
    if (!prof) return;
    HYBRID_CUDA_CHECK(cudaEventRecord(ev1, stream));
    HYBRID_CUDA_CHECK(cudaEventSynchronize(ev1));
    float ms = 0;
    HYBRID_CUDA_CHECK(cudaEventElapsedTime(&ms, ev0, ev1));
    bool found = false;
    for (auto& r : *prof)
      if (r.first == what) {
        r.second += ms * 1e3;
        found = true;
        break;
      }
    if (!found) prof->emplace_back(what, ms * 1e3);
    HYBRID_CUDA_CHECK(cudaEventRecord(ev0, stream));
  }

  ~CudaEngineImpl() {
    cudaSetDevice(device);
    if (stream) cudaStreamSynchronize(stream);
    if (h_id) cudaFreeHost(h_id);
    if (h_tokens) cudaFreeHost(h_tokens);
    if (h_rec) cudaFreeHost(h_rec);
    if (ev0) cudaEventDestroy(ev0);
    if (ev1) cudaEventDestroy(ev1);
    allocs.release();
    if (stream) cudaStreamDestroy(stream);
    cudaGetLastError();
  }

  const model::Hparams& hp() const { return model->hp(); }

  // ---- loading ----

  DeviceMatrix upload(const gguf::Tensor* t) {
    if (!t) return DeviceMatrix{};
    if (t->n_dims > 2 || t->ne[2] != 1 || t->ne[3] != 1)
      throw std::runtime_error("CUDA: tensor " + t->name + " has " + std::to_string(t->n_dims) + " dimensions; only matrices are supported");
    const int64_t K = t->ne[0], M = t->ne[1];
    // Upper bound of what upload_matrix allocates (F16 conversion or byte for byte, whichever is larger).
    const uint64_t want = std::max<uint64_t>(t->nbytes, static_cast<uint64_t>(K) * M * 2);
    size_t free_b = 0, total_b = 0;
    HYBRID_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
    if (want > free_b)
      throw CudaOutOfMemory("CUDA out of memory loading tensor " + t->name + " (" + formats::format_name(t->format) +
                            " " + t->shape_string() + "): needs about " + std::to_string(want) + " bytes (" + mib(want) +
                            "), " + std::to_string(free_b) + " bytes (" + mib(free_b) + ") free of " + mib(total_b));
    DeviceMatrix d;
    try {
      d = upload_matrix(t->format, t->data, K, M, stream);
    } catch (const std::exception& e) {
      size_t f2 = 0, t2 = 0;
      cudaMemGetInfo(&f2, &t2);
      cudaGetLastError();
      throw CudaOutOfMemory("CUDA: cannot load tensor " + t->name + " (" + formats::format_name(t->format) + " " +
                            t->shape_string() + ", " + std::to_string(t->nbytes) + " bytes in the file; " +
                            std::to_string(f2) + " bytes free): " + e.what());
    }
    const size_t bytes = device_matrix_bytes(d);
    allocs.adopt(d.data, bytes);
    weight_bytes += bytes;
    return d;
  }

  // Small tensors (norms, biases, conv, A, D): decoded to f32 on the host, then copied.
  float* upload_f32(const gguf::Tensor* t) {
    if (!t) return nullptr;
    std::vector<float> v(static_cast<size_t>(t->nelements));
    const int64_t rows = t->rows(), n0 = t->ne[0];
    for (int64_t r = 0; r < rows; ++r) formats::dequantize_row(t->format, t->row(r), v.data() + r * n0, n0);
    float* d = allocs.alloc<float>(v.size(), "tensor " + t->name);
    weight_bytes += v.size() * sizeof(float);
    HYBRID_CUDA_CHECK(cudaMemcpy(d, v.data(), v.size() * sizeof(float), cudaMemcpyHostToDevice));
    return d;
  }

  CudaEngineImpl(std::shared_ptr<runtime::Model> m, int dev, int64_t max_batch)
      : model(std::move(m)), device(dev), B(std::clamp<int64_t>(max_batch, 1, 4096)) {
    std::string why;
    if (!cuda_usable(device, &why)) throw std::runtime_error("CUDA device " + std::to_string(device) + " is not usable: " + why);
    HYBRID_CUDA_CHECK(cudaSetDevice(device));
    HYBRID_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    HYBRID_CUDA_CHECK(cudaEventCreate(&ev0));
    HYBRID_CUDA_CHECK(cudaEventCreate(&ev1));
    const auto& p = hp();
    const auto& T = model->tensors();
    if (p.n_expert > 0 || p.count(FfnKind::Moe) > 0)
      throw std::runtime_error("granitehybrid mixture-of-experts models are not on CUDA yet (use --device cpu)");
    if (p.count(LayerKind::Mamba2) > 0) {
      if (p.ssm_d_state > kernels::kMaxSsmState)
        throw std::runtime_error("CUDA: ssm.state_size " + std::to_string(p.ssm_d_state) + " > " + std::to_string(kernels::kMaxSsmState));
      if (p.ssm_d_conv > kernels::kMaxConv || p.ssm_d_conv < 1) throw std::runtime_error("CUDA: unsupported ssm.conv_kernel");
      if (p.ssm_n_group == 0 || p.ssm_n_head % p.ssm_n_group != 0 || p.ssm_d_inner % p.ssm_n_head != 0)
        throw std::runtime_error("CUDA: unsupported Mamba-2 head/group dimensions");
    }
    if (p.count(LayerKind::Attention) > 0 && (p.head_dim > kernels::kMaxHeadDim || p.head_dim % 2 != 0))
      throw std::runtime_error("CUDA: attention head_dim " + std::to_string(p.head_dim) + " unsupported (even, <= 256)");

    // ---- weights ----
    embd = upload(T.get(Role::TokenEmbd));
    output = T.get(Role::Output) ? upload(T.get(Role::Output)) : embd;  // tied lm_head: the same matrix
    out_norm = upload_f32(T.get(Role::OutputNorm));
    L.resize(p.n_layer);
    for (uint32_t il = 0; il < p.n_layer; ++il) {
      auto& w = L[il];
      const int i = static_cast<int>(il);
      w.attn_norm = upload_f32(T.get(Role::AttnNorm, i));
      switch (p.kinds[il]) {
        case LayerKind::Mamba2:
          w.ssm_in = upload(T.get(Role::SsmIn, i));
          w.conv_w = upload_f32(T.get(Role::SsmConv1d, i));
          w.conv_b = upload_f32(T.get(Role::SsmConv1dBias, i));
          w.dt_b = upload_f32(T.get(Role::SsmDtBias, i));
          w.a = upload_f32(T.get(Role::SsmA, i));
          w.d = upload_f32(T.get(Role::SsmD, i));
          w.ssm_norm = upload_f32(T.get(Role::SsmNorm, i));
          w.ssm_out = upload(T.get(Role::SsmOut, i));
          break;
        case LayerKind::Attention:
          w.q = upload(T.get(Role::AttnQ, i));
          w.k = upload(T.get(Role::AttnK, i));
          w.v = upload(T.get(Role::AttnV, i));
          w.o = upload(T.get(Role::AttnOut, i));
          w.q_b = upload_f32(T.get(Role::AttnQBias, i));
          w.k_b = upload_f32(T.get(Role::AttnKBias, i));
          w.v_b = upload_f32(T.get(Role::AttnVBias, i));
          w.o_b = upload_f32(T.get(Role::AttnOutBias, i));
          break;
        case LayerKind::Mlp:
          w.up = upload(T.get(Role::FfnUp, i));
          w.down = upload(T.get(Role::FfnDown, i));
          w.up_b = upload_f32(T.get(Role::FfnUpBias, i));
          w.down_b = upload_f32(T.get(Role::FfnDownBias, i));
          break;
      }
      if (p.ffn[il] == FfnKind::SwiGlu) {
        w.ffn_norm = upload_f32(T.get(Role::FfnNorm, i));
        w.gate = upload(T.get(Role::FfnGate, i));
        w.up = upload(T.get(Role::FfnUp, i));
        w.down = upload(T.get(Role::FfnDown, i));
        w.gate_b = upload_f32(T.get(Role::FfnGateBias, i));
        w.up_b = upload_f32(T.get(Role::FfnUpBias, i));
        w.down_b = upload_f32(T.get(Role::FfnDownBias, i));
      }
    }

    // ---- workspace, once, for B tokens ----
    const size_t E = p.n_embd;
    size_t widest = E, y_width = std::max<size_t>(p.ssm_d_inner, E), ffn_width = 0, conv_width = 0;
    int64_t max_nh = 1;
    for (uint32_t il = 0; il < p.n_layer; ++il) {
      switch (p.kinds[il]) {
        case LayerKind::Mamba2:
          widest = std::max<size_t>(widest, p.ssm_in_rows());
          conv_width = std::max<size_t>(conv_width, p.ssm_conv_channels());
          break;
        case LayerKind::Attention:
          widest = std::max<size_t>(widest, (p.n_head[il] + 2ull * p.n_head_kv[il]) * p.head_dim);
          y_width = std::max<size_t>(y_width, size_t(p.n_head[il]) * p.head_dim);
          max_nh = std::max<int64_t>(max_nh, p.n_head[il]);
          break;
        case LayerKind::Mlp: widest = std::max<size_t>(widest, p.n_ff[il]); break;
      }
      if (p.ffn[il] == FfnKind::SwiGlu) ffn_width = std::max<size_t>(ffn_width, p.n_ff[il]);
    }
    const size_t Bs = static_cast<size_t>(B);
    logit_rows = std::min<int64_t>(B, kLogitRows);
    h = allocs.alloc<float>(Bs * E, "workspace h");
    x = allocs.alloc<float>(Bs * E, "workspace x");
    out = allocs.alloc<float>(Bs * E, "workspace out");
    big = allocs.alloc<float>(Bs * widest, "workspace big");
    y = allocs.alloc<float>(Bs * y_width, "workspace y");
    if (conv_width > 0 && B > 1) conv_tmp = allocs.alloc<float>(Bs * conv_width, "workspace conv");
    if (ffn_width > 0) {
      ffn_g = allocs.alloc<float>(Bs * ffn_width, "workspace ffn gate");
      ffn_u = allocs.alloc<float>(Bs * ffn_width, "workspace ffn up");
    }
    logits = allocs.alloc<float>(static_cast<size_t>(logit_rows) * p.n_vocab, "workspace logits");
    attn_ws = allocs.alloc<float>(std::max<size_t>(Bs, kMaxSplits) * max_nh * (p.head_dim + 2), "attention workspace");
    // The matmul's scratch depends on its path (GEMV for few rows, GEMM for many): the most any row count
    // of a batch asks for.
    size_t scratch = 0;
    auto need_rows = [&](const DeviceMatrix& m, int64_t max_rows) {
      for (int64_t r = 1; r <= std::min<int64_t>(max_rows, 16); ++r) scratch = std::max(scratch, matmul_scratch_bytes(m, r));
      for (int64_t r = 32; r < max_rows; r *= 2) scratch = std::max(scratch, matmul_scratch_bytes(m, r));
      scratch = std::max(scratch, matmul_scratch_bytes(m, max_rows));
    };
    need_rows(output, logit_rows);
    auto need = [&](const DeviceMatrix& m) {
      if (m.data) need_rows(m, B);
    };
    need(embd);
    for (const auto& w : L) {
      need(w.ssm_in); need(w.ssm_out); need(w.q); need(w.k); need(w.v); need(w.o); need(w.up); need(w.down); need(w.gate);
    }
    mm_scratch = allocs.alloc<uint8_t>(std::max<size_t>(scratch, 256), "matmul scratch");
    d_tokens = allocs.alloc<int32_t>(Bs, "token ids");
    d_n_past = allocs.alloc<int32_t>(1, "n_past");
    d_argmax = allocs.alloc<int32_t>(1, "argmax");
    HYBRID_CUDA_CHECK(cudaMallocHost(&h_id, sizeof(int32_t)));
    HYBRID_CUDA_CHECK(cudaMallocHost(&h_tokens, Bs * sizeof(int32_t)));
    rec_bytes = 0;
    for (uint32_t il = 0; il < p.n_layer; ++il)
      if (p.kinds[il] == LayerKind::Mamba2)
        rec_bytes += (p.ssm_conv_channels() * (p.ssm_d_conv - 1) + uint64_t(p.ssm_d_inner) * p.ssm_d_state) * sizeof(float);
    if (rec_bytes > 0) HYBRID_CUDA_CHECK(cudaMallocHost(&h_rec, rec_bytes));
    HYBRID_CUDA_CHECK(cudaStreamSynchronize(stream));
  }

  // ---- state ----

  void reserve_kv(CudaStateImpl& st, int64_t rows) {
    const auto& p = hp();
    for (uint32_t il = 0; il < p.n_layer; ++il) {
      if (p.kinds[il] != LayerKind::Attention) continue;
      KvDevice& kv = st.kv[il];
      if (kv.rows >= rows) continue;
      const int64_t want = std::min<int64_t>(st.n_ctx, std::max<int64_t>({rows, kv.rows * 2, 256}));
      const size_t row_floats = size_t(p.n_head_kv[il]) * p.head_dim;
      const std::string what = "KV cache of layer " + std::to_string(il) + " (" + std::to_string(want) + " rows)";
      float* nk = static_cast<float*>(device_alloc(want * row_floats * sizeof(float), what));
      float* nv = nullptr;
      try {
        nv = static_cast<float*>(device_alloc(want * row_floats * sizeof(float), what));
      } catch (...) {
        cudaFree(nk);
        throw;
      }
      if (kv.rows > 0 && st.n_past > 0) {
        const size_t keep = size_t(std::min(st.n_past, kv.rows)) * row_floats * sizeof(float);
        HYBRID_CUDA_CHECK(cudaMemcpyAsync(nk, kv.k, keep, cudaMemcpyDeviceToDevice, stream));
        HYBRID_CUDA_CHECK(cudaMemcpyAsync(nv, kv.v, keep, cudaMemcpyDeviceToDevice, stream));
      }
      HYBRID_CUDA_CHECK(cudaStreamSynchronize(stream));
      cudaFree(kv.k);
      cudaFree(kv.v);
      st.kv_bytes += 2 * (want - kv.rows) * row_floats * sizeof(float);
      kv.k = nk;
      kv.v = nv;
      kv.rows = want;
      ++st.kv_gen;
    }
  }

  // ---- the forward pass of n tokens (d_tokens, d_n_past already set), layers only ----

  void forward_layers(CudaStateImpl& st, int64_t n) {
    const auto& p = hp();
    const int64_t E = p.n_embd;
    get_rows(embd, d_tokens, n, h, stream);
    if (p.embedding_scale != 0.0f) kernels::scale(h, n * E, p.embedding_scale, stream);
    tick("embedding");
    for (uint32_t il = 0; il < p.n_layer; ++il) {
      const auto& w = L[il];
      kernels::rms_norm_rows(h, w.attn_norm, n, E, p.norm_eps, x, stream);
      tick("rms_norm");
      switch (p.kinds[il]) {
        case LayerKind::Mamba2: mamba2(st, il, n); break;
        case LayerKind::Attention: attention(st, il, n); break;
        case LayerKind::Mlp:
          matmul(w.up, x, n, big, false, mm_scratch, stream);
          tick("matmul up");
          kernels::bias_relu_sqr(big, w.up_b, n, p.n_ff[il], stream);
          tick("relu_sqr");
          matmul(w.down, big, n, out, false, mm_scratch, stream);
          tick("matmul down");
          kernels::add_bias_rows(out, w.down_b, n, E, stream);
          tick("bias");
          break;
      }
      kernels::residual_add(h, out, n * E, p.residual_scale, stream);
      tick("residual");
      if (p.ffn[il] == FfnKind::SwiGlu) {
        const int64_t ff = p.n_ff[il];
        kernels::rms_norm_rows(h, w.ffn_norm, n, E, p.norm_eps, x, stream);
        tick("rms_norm");
        matmul(w.up, x, n, ffn_u, false, mm_scratch, stream);
        kernels::add_bias_rows(ffn_u, w.up_b, n, ff, stream);
        tick("matmul up");
        matmul(w.gate, x, n, ffn_g, false, mm_scratch, stream);
        kernels::add_bias_rows(ffn_g, w.gate_b, n, ff, stream);
        tick("matmul gate");
        kernels::swiglu(ffn_g, ffn_u, n * ff, stream);
        tick("swiglu");
        matmul(w.down, ffn_g, n, out, false, mm_scratch, stream);
        kernels::add_bias_rows(out, w.down_b, n, E, stream);
        tick("matmul down");
        kernels::residual_add(h, out, n * E, p.residual_scale, stream);
        tick("residual");
      }
    }
  }

  void mamba2(CudaStateImpl& st, uint32_t il, int64_t n) {
    const auto& p = hp();
    const auto& w = L[il];
    const int64_t P = static_cast<int64_t>(p.ssm_in_rows()), Din = p.ssm_d_inner, N = p.ssm_d_state, G = p.ssm_n_group;
    const int64_t GN = G * N, C = static_cast<int64_t>(p.ssm_conv_channels());
    matmul(w.ssm_in, x, n, big, false, mm_scratch, stream);  // [n][P]: z | xBC | dt
    tick("matmul ssm_in");
    float* xbc = big + Din;
    const float* dt = big + 2 * Din + 2 * GN;
    kernels::ssm_conv(xbc, n, P, C, p.ssm_d_conv, w.conv_w, w.conv_b, st.rec + st.conv_off[il], conv_tmp,
                     stream);
    tick("ssm_conv");
    kernels::ssm_scan(xbc, P, dt, P, w.dt_b, w.a, w.d, st.rec + st.ssm_off[il], y, n, p.ssm_n_head, p.ssm_head_dim(), N, G,
                      stream);
    tick("ssm_scan");
    kernels::ssm_gate_norm(y, n, big, P, w.ssm_norm, Din, G, p.norm_eps, stream);
    tick("gate_norm");
    matmul(w.ssm_out, y, n, out, false, mm_scratch, stream);
    tick("matmul ssm_out");
  }

  void attention(CudaStateImpl& st, uint32_t il, int64_t n) {
    const auto& p = hp();
    const auto& w = L[il];
    const int64_t hd = p.head_dim, nh = p.n_head[il], nkv = p.n_head_kv[il];
    const int64_t q_dim = nh * hd, kv_dim = nkv * hd;
    float* q = big;
    float* kn = big + n * q_dim;
    float* vn = kn + n * kv_dim;
    matmul(w.q, x, n, q, false, mm_scratch, stream);
    tick("matmul q");
    matmul(w.k, x, n, kn, false, mm_scratch, stream);
    tick("matmul k");
    matmul(w.v, x, n, vn, false, mm_scratch, stream);
    tick("matmul v");
    kernels::RopeArgs rope;
    if (p.rope) {
      rope.on = true;
      rope.n_rot = p.n_rot;
      rope.theta_scale = std::pow(p.rope_freq_base, -2.0f / static_cast<float>(p.n_rot));
      rope.freq_scale = p.rope_freq_scale;
      rope.attn_factor = p.rope_attn_factor;
    }
    kernels::RopeArgs no_rope;
    const KvDevice& kv = st.kv[il];
    kernels::bias_rope_store(q, n, nh, hd, w.q_b, rope, d_n_past, q, false, stream);
    kernels::bias_rope_store(kn, n, nkv, hd, w.k_b, rope, d_n_past, kv.k, true, stream);
    kernels::bias_rope_store(vn, n, nkv, hd, w.v_b, no_rope, d_n_past, kv.v, true, stream);
    tick("rope+kv store");
    const float kq_scale = p.attention_scale != 0.0f ? p.attention_scale : 1.0f / std::sqrt(static_cast<float>(hd));
    const int splits = n == 1 ? st.splits : 1;
    kernels::attention(q, kv.k, kv.v, n, d_n_past, nh, nkv, hd, kq_scale, splits, attn_ws, y, stream);
    tick("attention");
    matmul(w.o, y, n, out, false, mm_scratch, stream);
    kernels::add_bias_rows(out, w.o_b, n, p.n_embd, stream);
    tick("matmul o");
  }

  // Logits of rows [r0, r0 + rows) of h into `logits` (rows <= logit_rows).
  void head(int64_t r0, int64_t rows) {
    const auto& p = hp();
    const int64_t E = p.n_embd;
    kernels::rms_norm_rows(h + r0 * E, out_norm, rows, E, p.norm_eps, x, stream);
    tick("rms_norm");
    matmul(output, x, rows, logits, false, mm_scratch, stream);
    if (p.logit_scale != 0.0f) kernels::scale(logits, rows * int64_t(p.n_vocab), 1.0f / p.logit_scale, stream);
    tick("matmul output");
  }

  // One decode step (n == 1): layers, logits, argmax; the unit a CUDA graph captures.
  void decode_step(CudaStateImpl& st) {
    forward_layers(st, 1);
    head(0, 1);
    kernels::argmax(logits, hp().n_vocab, d_argmax, stream);
    tick("argmax");
  }

  void run_decode(CudaStateImpl& st) {
    if (graphs) {
      if (st.graph && st.graph_kv_gen != st.kv_gen) {
        cudaGraphExecDestroy(st.graph);
        st.graph = nullptr;
      }
      if (!st.graph) capture(st);
      if (st.graph) {
        HYBRID_CUDA_CHECK(cudaGraphLaunch(st.graph, stream));
        return;
      }
    }
    decode_step(st);
  }

  void capture(CudaStateImpl& st) {
    cudaGraph_t g = nullptr;
    bool capturing = false;
    try {
      HYBRID_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
      capturing = true;
      decode_step(st);
      capturing = false;
      HYBRID_CUDA_CHECK(cudaStreamEndCapture(stream, &g));
      cudaGraphExec_t exec = nullptr;
      HYBRID_CUDA_CHECK(cudaGraphInstantiate(&exec, g, 0));
      cudaGraphDestroy(g);
      st.graph = exec;
      st.graph_kv_gen = st.kv_gen;
    } catch (const std::exception& e) {
      if (capturing) {
        cudaGraph_t junk = nullptr;
        cudaStreamEndCapture(stream, &junk);
        if (junk) cudaGraphDestroy(junk);
      }
      if (g) cudaGraphDestroy(g);
      cudaGetLastError();
      graphs = false;
      if (!graph_warned) {
        std::fprintf(stderr, "hybrid: CUDA graph capture failed (%s); decoding with plain launches\n", e.what());
        graph_warned = true;
      }
    }
  }

  // Reads one batch (n <= B). want: rows of logits to copy to host_logits (All: every row; Last: the last).
  void batch(CudaStateImpl& st, const int32_t* tokens, int64_t n, bool all, bool last, bool greedy, float* host) {
    const auto& p = hp();
    const int64_t V = p.n_vocab;
    reserve_kv(st, st.n_past + n);
    // h_tokens is free here: every batch ends with a stream synchronize
    std::memcpy(h_tokens, tokens, static_cast<size_t>(n) * sizeof(int32_t));
    HYBRID_CUDA_CHECK(cudaMemcpyAsync(d_tokens, h_tokens, n * sizeof(int32_t), cudaMemcpyHostToDevice, stream));
    kernels::set_i32(d_n_past, static_cast<int32_t>(st.n_past), stream);
    tick("copies in");
    if (n == 1) {
      run_decode(st);  // logits of the token in `logits`, its argmax in d_argmax
      if ((all || last) && host)
        HYBRID_CUDA_CHECK(cudaMemcpyAsync(host, logits, V * sizeof(float), cudaMemcpyDeviceToHost, stream));
      if (greedy) HYBRID_CUDA_CHECK(cudaMemcpyAsync(h_id, d_argmax, sizeof(int32_t), cudaMemcpyDeviceToHost, stream));
      tick("copies out");
    } else {
      forward_layers(st, n);
      if (all) {
        for (int64_t r0 = 0; r0 < n; r0 += logit_rows) {
          const int64_t rows = std::min(logit_rows, n - r0);
          head(r0, rows);
          HYBRID_CUDA_CHECK(cudaMemcpyAsync(host + r0 * V, logits, rows * V * sizeof(float), cudaMemcpyDeviceToHost, stream));
        }
      } else if (last || greedy) {
        head(n - 1, 1);
        if (last && host) HYBRID_CUDA_CHECK(cudaMemcpyAsync(host, logits, V * sizeof(float), cudaMemcpyDeviceToHost, stream));
        if (greedy) {
          kernels::argmax(logits, V, d_argmax, stream);
          tick("argmax");
          HYBRID_CUDA_CHECK(cudaMemcpyAsync(h_id, d_argmax, sizeof(int32_t), cudaMemcpyDeviceToHost, stream));
        }
      }
      tick("copies out");
    }
    HYBRID_CUDA_CHECK(cudaStreamSynchronize(stream));
    st.n_past += n;
  }

  void check_input(const CudaStateImpl& st, const int32_t* tokens, int64_t n) const {
    const auto& p = hp();
    if (n < 0) throw InputError("token count " + std::to_string(n) + " is negative");
    for (int64_t i = 0; i < n; ++i)
      if (tokens[i] < 0 || static_cast<uint32_t>(tokens[i]) >= p.n_vocab)
        throw InputError("token id " + std::to_string(tokens[i]) + " at position " + std::to_string(i) +
                         " is out of range (vocabulary size " + std::to_string(p.n_vocab) + ")");
    if (st.n_past + n > st.n_ctx)
      throw InputError("context overflow: " + std::to_string(st.n_past) + " + " + std::to_string(n) +
                       " tokens exceed the context length " + std::to_string(st.n_ctx));
  }
};

// ---------------------------------------------------------------------------------------------------------

bool cuda_usable(int device, std::string* why) {
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    int drv = 0;
    const bool no_driver = cudaDriverGetVersion(&drv) != cudaSuccess || drv == 0;
    if (why)
      *why = no_driver ? std::string("no NVIDIA driver found (") + cudaGetErrorString(e) + ")"
                       : std::string("no usable CUDA device: ") + cudaGetErrorString(e);
    cudaGetLastError();
    return false;
  }
  if (count == 0 || device < 0 || device >= count) {
    if (why) *why = count == 0 ? "no CUDA device found" : "CUDA device " + std::to_string(device) + " does not exist (" +
                                                              std::to_string(count) + " found)";
    return false;
  }
  e = cudaSetDevice(device);
  if (e == cudaSuccess) e = cudaFree(nullptr);  // creates the context: fails on a busy/prohibited device
  if (e != cudaSuccess) {
    if (why) *why = std::string("CUDA device ") + std::to_string(device) + " cannot be used: " + cudaGetErrorString(e);
    cudaGetLastError();
    return false;
  }
  return true;
}

CudaState::CudaState() = default;
CudaState::~CudaState() = default;
CudaState::CudaState(CudaState&&) noexcept = default;
CudaState& CudaState::operator=(CudaState&&) noexcept = default;
int64_t CudaState::n_past() const { return impl ? impl->n_past : 0; }
int64_t CudaState::n_ctx() const { return impl ? impl->n_ctx : 0; }

CudaEngine::CudaEngine(std::shared_ptr<runtime::Model> model, int device, int64_t max_batch)
    : impl_(std::make_unique<CudaEngineImpl>(std::move(model), device, max_batch)) {}
CudaEngine::~CudaEngine() = default;

const runtime::Model& CudaEngine::model() const { return *impl_->model; }
int64_t CudaEngine::max_batch() const { return impl_->B; }

static CudaStateImpl& state_of(const CudaState& s) {
  if (!s.impl) throw std::runtime_error("CUDA: empty state (moved from, or not made by new_state)");
  return *s.impl;
}

CudaState CudaEngine::new_state(int64_t n_ctx) {
  auto& e = *impl_;
  const auto& p = e.hp();
  if (n_ctx < 1) throw InputError("context length must be >= 1");
  if (n_ctx > 0x7fffffff) throw InputError("context length " + std::to_string(n_ctx) + " is too large");
  HYBRID_CUDA_CHECK(cudaSetDevice(e.device));
  CudaState s;
  s.impl = std::make_unique<CudaStateImpl>();
  auto& st = *s.impl;
  st.device = e.device;
  st.n_ctx = n_ctx;
  st.conv_off.assign(p.n_layer, -1);
  st.ssm_off.assign(p.n_layer, -1);
  st.kv.resize(p.n_layer);
  int64_t off = 0;
  for (uint32_t il = 0; il < p.n_layer; ++il) {
    if (p.kinds[il] != LayerKind::Mamba2) continue;
    st.conv_off[il] = off;
    off += static_cast<int64_t>(p.ssm_conv_channels() * (p.ssm_d_conv - 1));
    st.ssm_off[il] = off;
    off += static_cast<int64_t>(p.ssm_d_inner) * p.ssm_d_state;
  }
  st.rec = static_cast<float*>(device_alloc(std::max<int64_t>(off, 1) * sizeof(float), "recurrent state"));
  HYBRID_CUDA_CHECK(cudaMemsetAsync(st.rec, 0, std::max<int64_t>(off, 1) * sizeof(float), e.stream));
  HYBRID_CUDA_CHECK(cudaStreamSynchronize(e.stream));
  st.splits = static_cast<int>(std::clamp<int64_t>((n_ctx + 255) / 256, 1, kMaxSplits));
  return s;
}

void CudaEngine::eval(CudaState& state, const int32_t* tokens, int64_t n, Logits mode, float* host_logits) {
  auto& e = *impl_;
  auto& st = state_of(state);
  e.check_input(st, tokens, n);
  if (mode != Logits::None && !host_logits) throw std::invalid_argument("CudaEngine::eval: logits asked but no buffer");
  HYBRID_CUDA_CHECK(cudaSetDevice(e.device));
  const int64_t V = e.hp().n_vocab;
  for (int64_t done = 0; done < n; done += e.B) {
    const int64_t b = std::min(e.B, n - done);
    const bool last_batch = done + b == n;
    float* out = mode == Logits::All ? host_logits + done * V : host_logits;
    e.batch(st, tokens + done, b, mode == Logits::All, mode == Logits::Last && last_batch, false, out);
  }
}

int32_t CudaEngine::eval_greedy(CudaState& state, const int32_t* tokens, int64_t n) {
  auto& e = *impl_;
  auto& st = state_of(state);
  if (n < 1) throw InputError("eval_greedy needs at least one token");
  e.check_input(st, tokens, n);
  HYBRID_CUDA_CHECK(cudaSetDevice(e.device));
  for (int64_t done = 0; done < n; done += e.B) {
    const int64_t b = std::min(e.B, n - done);
    e.batch(st, tokens + done, b, false, false, done + b == n, nullptr);
  }
  return *e.h_id;
}

uint64_t CudaEngine::recurrent_bytes() const { return impl_->rec_bytes; }

void CudaEngine::save_recurrent(const CudaState& state, float* host) const {
  auto& e = *impl_;
  save_recurrent_to(state, e.h_rec);  // checks the state; the copy goes through the pinned staging buffer
  if (e.rec_bytes > 0) std::memcpy(host, e.h_rec, e.rec_bytes);
}

void CudaEngine::load_recurrent(CudaState& state, const float* host) {
  auto& e = *impl_;
  (void)state_of(state);
  if (e.rec_bytes == 0) return;
  std::memcpy(e.h_rec, host, e.rec_bytes);
  load_recurrent_from(state, e.h_rec);
}

void CudaEngine::truncate(CudaState& state, int64_t n_past) {
  auto& st = state_of(state);
  if (n_past < 0 || n_past > st.n_past)
    throw InputError("truncate to " + std::to_string(n_past) + " tokens: the state has " + std::to_string(st.n_past));
  st.n_past = n_past;
}

void CudaEngine::reserve_snapshots(CudaState& state, int slots) {
  auto& e = *impl_;
  auto& st = state_of(state);
  if (slots < 0) throw InputError("snapshot slots must be >= 0");
  if (slots <= st.slots) return;
  float* p = static_cast<float*>(device_alloc(std::max<uint64_t>(e.rec_bytes, 4) * slots,
                                              std::to_string(slots) + " recurrent-state snapshots"));
  if (st.snaps && st.slots > 0) {
    HYBRID_CUDA_CHECK(cudaMemcpyAsync(p, st.snaps, e.rec_bytes * st.slots, cudaMemcpyDeviceToDevice, e.stream));
    HYBRID_CUDA_CHECK(cudaStreamSynchronize(e.stream));
  }
  cudaFree(st.snaps);
  st.snaps = p;
  st.slots = slots;
  st.snap_n_past.resize(slots, -1);
}

void CudaEngine::save_snapshot(CudaState& state, int slot) {
  auto& e = *impl_;
  auto& st = state_of(state);
  if (slot < 0 || slot >= st.slots) throw InputError("snapshot slot " + std::to_string(slot) + " out of range");
  if (e.rec_bytes > 0)
    HYBRID_CUDA_CHECK(cudaMemcpyAsync(reinterpret_cast<uint8_t*>(st.snaps) + e.rec_bytes * slot, st.rec, e.rec_bytes,
                                      cudaMemcpyDeviceToDevice, e.stream));
  st.snap_n_past[slot] = st.n_past;
}

int64_t CudaEngine::restore_snapshot(CudaState& state, int slot) {
  auto& e = *impl_;
  auto& st = state_of(state);
  if (slot < 0 || slot >= st.slots || st.snap_n_past[slot] < 0)
    throw InputError("snapshot slot " + std::to_string(slot) + " is empty or out of range");
  if (st.snap_n_past[slot] > st.n_past)
    throw InputError("snapshot at " + std::to_string(st.snap_n_past[slot]) + " tokens is past the state's " +
                     std::to_string(st.n_past) + " tokens");
  if (e.rec_bytes > 0)
    HYBRID_CUDA_CHECK(cudaMemcpyAsync(st.rec, reinterpret_cast<uint8_t*>(st.snaps) + e.rec_bytes * slot, e.rec_bytes,
                                      cudaMemcpyDeviceToDevice, e.stream));
  st.n_past = st.snap_n_past[slot];
  return st.n_past;
}

void* CudaEngine::alloc_snapshot(bool on_device) {
  auto& e = *impl_;
  HYBRID_CUDA_CHECK(cudaSetDevice(e.device));
  const size_t bytes = std::max<uint64_t>(e.rec_bytes, 4);
  if (on_device) return device_alloc(bytes, "a recurrent-state snapshot");
  void* p = nullptr;
  const cudaError_t err = cudaMallocHost(&p, bytes);
  if (err == cudaSuccess) return p;
  cudaGetLastError();
  throw CudaOutOfMemory("out of pinned host memory for a recurrent-state snapshot of " + mib(bytes) + ": " +
                        cudaGetErrorString(err));
}

void CudaEngine::free_snapshot(void* p, bool on_device) noexcept {
  if (!p) return;
  cudaSetDevice(impl_->device);
  if (on_device) cudaFree(p);
  else cudaFreeHost(p);
  cudaGetLastError();
}

void CudaEngine::save_recurrent_to(const CudaState& state, void* dst) const {
  auto& e = *impl_;
  auto& st = state_of(state);
  if (e.rec_bytes == 0) return;
  HYBRID_CUDA_CHECK(cudaSetDevice(e.device));
  HYBRID_CUDA_CHECK(cudaMemcpyAsync(dst, st.rec, e.rec_bytes, cudaMemcpyDefault, e.stream));
  HYBRID_CUDA_CHECK(cudaStreamSynchronize(e.stream));
}

void CudaEngine::load_recurrent_from(CudaState& state, const void* src) {
  auto& e = *impl_;
  auto& st = state_of(state);
  if (e.rec_bytes == 0) return;
  HYBRID_CUDA_CHECK(cudaSetDevice(e.device));
  HYBRID_CUDA_CHECK(cudaMemcpyAsync(st.rec, src, e.rec_bytes, cudaMemcpyDefault, e.stream));
  HYBRID_CUDA_CHECK(cudaStreamSynchronize(e.stream));
}

void CudaEngine::reset(CudaState& state) {
  auto& e = *impl_;
  auto& st = state_of(state);
  HYBRID_CUDA_CHECK(cudaSetDevice(e.device));
  if (e.rec_bytes > 0) {
    HYBRID_CUDA_CHECK(cudaMemsetAsync(st.rec, 0, e.rec_bytes, e.stream));
    HYBRID_CUDA_CHECK(cudaStreamSynchronize(e.stream));
  }
  st.n_past = 0;
}

std::pair<uint64_t, uint64_t> CudaEngine::device_memory() const {
  HYBRID_CUDA_CHECK(cudaSetDevice(impl_->device));
  size_t free_b = 0, total_b = 0;
  HYBRID_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
  return {free_b, total_b};
}

uint64_t CudaEngine::device_bytes() const { return impl_->allocs.bytes(); }
uint64_t CudaEngine::weight_device_bytes() const { return impl_->weight_bytes; }

uint64_t CudaEngine::state_device_bytes(const CudaState& state) const {
  auto& st = state_of(state);
  return impl_->rec_bytes + st.kv_bytes + impl_->rec_bytes * static_cast<uint64_t>(st.slots);
}

CudaDeviceFacts CudaEngine::device_facts() const {
  cudaDeviceProp prop{};
  HYBRID_CUDA_CHECK(cudaGetDeviceProperties(&prop, impl_->device));
  CudaDeviceFacts f;
  f.name = prop.name;
  f.cc_major = prop.major;
  f.cc_minor = prop.minor;
  f.sm_count = prop.multiProcessorCount;
  f.total_bytes = prop.totalGlobalMem;
  return f;
}

double CudaEngine::copy_bandwidth_gbs(uint64_t bytes, int reps) {
  auto& e = *impl_;
  HYBRID_CUDA_CHECK(cudaSetDevice(e.device));
  void *a = nullptr, *b = nullptr;
  while (bytes >= (16u << 20)) {
    if (cudaMalloc(&a, bytes) == cudaSuccess && cudaMalloc(&b, bytes) == cudaSuccess) break;
    cudaGetLastError();
    cudaFree(a);
    a = nullptr;
    b = nullptr;
    bytes /= 2;
  }
  if (!a || !b) throw std::runtime_error("CUDA: no memory to measure the copy bandwidth");
  double best = 1e30;
  try {
    HYBRID_CUDA_CHECK(cudaMemsetAsync(a, 1, bytes, e.stream));
    HYBRID_CUDA_CHECK(cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice, e.stream));  // warm-up
    for (int r = 0; r < std::max(1, reps); ++r) {
      HYBRID_CUDA_CHECK(cudaEventRecord(e.ev0, e.stream));
      HYBRID_CUDA_CHECK(cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice, e.stream));
      HYBRID_CUDA_CHECK(cudaEventRecord(e.ev1, e.stream));
      HYBRID_CUDA_CHECK(cudaEventSynchronize(e.ev1));
      float ms = 0;
      HYBRID_CUDA_CHECK(cudaEventElapsedTime(&ms, e.ev0, e.ev1));
      best = std::min(best, static_cast<double>(ms) / 1e3);
    }
  } catch (...) {
    cudaFree(a);
    cudaFree(b);
    throw;
  }
  cudaFree(a);
  cudaFree(b);
  return 2.0 * static_cast<double>(bytes) / best / 1e9;
}

void CudaEngine::synchronize() { HYBRID_CUDA_CHECK(cudaStreamSynchronize(impl_->stream)); }

std::vector<std::pair<std::string, double>> CudaEngine::profile_eval(CudaState& state, const int32_t* tokens, int64_t n) {
  auto& e = *impl_;
  auto& st = state_of(state);
  if (n < 1 || n > e.B) throw InputError("profile_eval: n must be 1.." + std::to_string(e.B));
  e.check_input(st, tokens, n);
  HYBRID_CUDA_CHECK(cudaSetDevice(e.device));
  std::vector<std::pair<std::string, double>> rows;
  const bool graphs_were = e.graphs;
  e.graphs = false;
  HYBRID_CUDA_CHECK(cudaStreamSynchronize(e.stream));
  HYBRID_CUDA_CHECK(cudaEventRecord(e.ev0, e.stream));
  e.prof = &rows;
  try {
    e.batch(st, tokens, n, false, false, true, nullptr);
  } catch (...) {
    e.prof = nullptr;
    e.graphs = graphs_were;
    throw;
  }
  e.prof = nullptr;
  e.graphs = graphs_were;
  double total = 0;
  for (const auto& r : rows) total += r.second;
  rows.emplace_back("total", total);
  return rows;
}
bool CudaEngine::graphs_enabled() const { return impl_->graphs; }
void CudaEngine::set_graphs_enabled(bool on) { impl_->graphs = on; }

}  // namespace hybrid::cuda
