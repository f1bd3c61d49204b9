// The hybrid model at run time: a loaded GGUF (weights used in place from the memory map), per-sequence
// state (Mamba-2 conv + SSM state per recurrent layer, a KV cache per attention layer), and the forward
// pass of nemotron_h on the CPU. The graph follows llama.cpp's src/models/nemotron-h.cpp; each layer kind
// is one short function; kernels live in ops/ and never see tensor names.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backend/cpu/thread_pool.h"
#include "gguf/gguf.h"
#include "model/arch.h"
#include "ops/attention.h"
#include "ops/matmul.h"

namespace hybrid::runtime {

class Model {
 public:
  // Opens, validates (architecture table) and maps the file. Throws InputError for a bad file.
  static std::shared_ptr<Model> load(const std::string& path);

  const model::Hparams& hp() const { return arch_.hp; }
  const model::ModelTensors& tensors() const { return arch_.tensors; }
  const gguf::GgufFile& file() const { return *file_; }
  uint64_t weight_bytes() const;  // bytes of all tensors (what a decode step reads, roughly)

 private:
  std::unique_ptr<gguf::GgufFile> file_;
  model::Model arch_;
};

// An attention layer's KV cache: [rows][n_kv * head_dim] each, grown on demand up to n_ctx rows; rows >=
// the owner's n_past are free.
struct KvCache {
  std::vector<float> k, v;
};

// The state of one sequence after n_past tokens. Copying a State copies the recurrent part (small, fixed
// size) and SHARES the KV caches: a copy that only appends writes KV rows past the original's n_past,
// which the original does not read — that is how a fork costs no KV copy (see session.h).
struct LayerState {
  std::vector<float> conv;       // Mamba-2: [C][K-1]
  std::vector<float> ssm;        // Mamba-2: [H][head_dim][N]
  std::shared_ptr<KvCache> kv;   // attention
};

struct State {
  int64_t n_past = 0;
  int64_t n_ctx = 0;
  std::vector<LayerState> layers;

  // Bytes of the recurrent (Mamba-2) part only: what a snapshot copies.
  uint64_t recurrent_bytes() const;
  // Copies the recurrent part into / out of a flat buffer of recurrent_bytes() / 4 floats.
  void save_recurrent(float* dst) const;
  void load_recurrent(const float* src);
  void clear_recurrent();  // the state before any token
};

enum class Logits { None, Last, All };

// Throws InputError naming the first token id outside [0, n_vocab).
void check_token_ids(uint32_t n_vocab, const int32_t* tokens, int64_t n);

class Engine {
 public:
  Engine(std::shared_ptr<Model> model, int n_threads = 0, int64_t max_batch = 256);

  const Model& model() const { return *model_; }
  int threads() const { return pool_.size(); }
  cpu::ThreadPool& pool() { return pool_; }

  State new_state(int64_t n_ctx) const;

  // Reads tokens [n] after the state's n_past tokens (in batches of max_batch); writes the logits of the
  // last token (n_vocab floats) or of every token (n * n_vocab) into `logits` when asked.
  // Throws InputError for a token id out of range or a context overflow; the state is then unchanged.
  void eval(State& state, const int32_t* tokens, int64_t n, Logits mode, float* logits);

  // Throws InputError naming the first token id outside the vocabulary.
  void check_tokens(const int32_t* tokens, int64_t n) const;

 private:
  void eval_batch(State& state, const int32_t* tokens, int64_t n, bool all_logits, bool last_logits, float* logits);
  void mamba2(int il, LayerState& ls, int64_t n);
  void attention(int il, LayerState& ls, int64_t n_past, int64_t n);
  void mlp(int il, int64_t n);

  // granitehybrid (granite.cpp): the FFN that follows the mixer inside every layer — RMSNorm, a SwiGLU
  // or a mixture of experts (+ shared expert), residual scale, residual add into h_.
  void granite_ffn(int il, int64_t n);
  void moe_ffn(int il, int64_t n);
  // out[n][E] = down(silu(gate(x)) * up(x)) (+ the optional biases of the dense FFN).
  void swiglu_ffn(const gguf::Tensor& gate, const gguf::Tensor& up, const gguf::Tensor& down, const float* x, int64_t n,
                  float* out, const gguf::Tensor* gate_b = nullptr, const gguf::Tensor* up_b = nullptr,
                  const gguf::Tensor* down_b = nullptr);
  void init_granite_scratch();  // sizes ffn_ for max_batch tokens (constructor)

  std::shared_ptr<Model> model_;
  cpu::ThreadPool pool_;
  int64_t max_batch_;
  int64_t state_ctx_ = 0;  // n_ctx of the state being evaluated (KV caches grow up to it)
  // Workspace, sized once for max_batch tokens: no allocation in the decode loop.
  std::vector<float> h_, x_, big_, y_, out_;
  ops::MatmulScratch mm_;
  ops::AttentionScratch attn_;
  // granitehybrid FFN workspace (granite.cpp), for max_batch tokens.
  struct FfnScratch {
    std::vector<float> gate, up;        // [B][max(n_ff, n_ff_shexp)]
    std::vector<float> router;          // [B][n_expert] router logits
    std::vector<int32_t> ids;           // [B][k] routed experts, best first
    std::vector<float> weights;         // [B][k] their renormalized weights
    std::vector<int32_t> offsets, members;  // the (token * k + slot) pairs routed to each expert, grouped
    std::vector<float> xs, ys;          // one expert's gathered inputs / outputs [B][E]
    std::vector<float> slots;           // [B][k][E] each routed expert's weighted output
  } ffn_;
};

}  // namespace hybrid::runtime
