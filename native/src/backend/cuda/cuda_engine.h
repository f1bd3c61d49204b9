// The forward pass of the hybrid models on an NVIDIA GPU: the same semantics as runtime::Engine (the CPU
// engine, engine.cpp/granite.cpp), with every weight, activation and per-sequence state on the device.
// A plain C++ header (no CUDA types), so the CLI and the addon include it whether or not the build has the
// CUDA backend: without it (cuda_absent.cpp) cuda_usable() says why and CudaEngine's constructor throws.
//
// Per sequence a CudaState holds the Mamba-2 conv + SSM state of every recurrent layer (one contiguous
// device buffer, laid out as runtime::State::save_recurrent: per layer conv then ssm) and a KV cache per
// attention layer (grown on demand up to n_ctx, as on the CPU). Decode steps (one token) replay a CUDA
// graph captured once per state; kernels read n_past from device memory so the graph stays valid as the
// sequence grows (it is recaptured when a KV buffer moves).
#pragma once
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "runtime/engine.h"
#include "util/error.h"

namespace hybrid::cuda {

// The device ran out of memory: the message names what did not fit, the bytes asked and the free bytes.
class CudaOutOfMemory : public OutOfMemory {
 public:
  explicit CudaOutOfMemory(const std::string& msg) : OutOfMemory(msg) {}
};

// True when this build has the CUDA backend and device `device` can be used; otherwise false and *why
// (when given) says why ("this build has no CUDA backend ...", "no NVIDIA driver found ...").
bool cuda_usable(int device = 0, std::string* why = nullptr);

struct CudaStateImpl;
struct CudaEngineImpl;

// One sequence's state on the device. Move-only; must not outlive the engine that made it.
class CudaState {
 public:
  CudaState();
  ~CudaState();
  CudaState(CudaState&&) noexcept;
  CudaState& operator=(CudaState&&) noexcept;
  CudaState(const CudaState&) = delete;
  CudaState& operator=(const CudaState&) = delete;

  int64_t n_past() const;
  int64_t n_ctx() const;

  std::unique_ptr<CudaStateImpl> impl;
};

// Figures for benchmarks.
struct CudaDeviceFacts {
  std::string name;          // cudaDeviceProp::name
  int cc_major = 0, cc_minor = 0;
  int sm_count = 0;
  uint64_t total_bytes = 0;  // device memory
};

class CudaEngine {
 public:
  // Uploads every weight of the model to `device`. Throws CudaOutOfMemory naming the tensor (everything
  // allocated so far is freed), std::runtime_error for a CUDA failure or an unsupported model (granitehybrid
  // MoE is not on CUDA yet). max_batch: tokens per forward batch (workspace is sized for it once).
  CudaEngine(std::shared_ptr<runtime::Model> model, int device = 0, int64_t max_batch = 512);
  ~CudaEngine();
  CudaEngine(const CudaEngine&) = delete;
  CudaEngine& operator=(const CudaEngine&) = delete;

  const runtime::Model& model() const;
  int64_t max_batch() const;

  CudaState new_state(int64_t n_ctx);

  // As runtime::Engine::eval: reads tokens[n] after the state's n_past tokens in batches of max_batch;
  // writes the logits of the last token (n_vocab floats) or of every token (n * n_vocab) into host_logits
  // when asked. Throws InputError for a bad token id or a context overflow (the state is then unchanged).
  void eval(CudaState& state, const int32_t* tokens, int64_t n, runtime::Logits mode, float* host_logits);

  // Reads tokens[n] and returns the argmax of the last token's logits, computed on the device (only the id
  // comes back). Same errors as eval.
  int32_t eval_greedy(CudaState& state, const int32_t* tokens, int64_t n);

  // The recurrent (Mamba-2) part of a state: recurrent_bytes() bytes, the same layout and size as
  // runtime::State::save_recurrent. save/load go through pinned staging memory. load_recurrent leaves n_past
  // alone: pair it with truncate() (a Mamba snapshot is only valid with the KV of the same prefix).
  uint64_t recurrent_bytes() const;
  void save_recurrent(const CudaState& state, float* host) const;
  void load_recurrent(CudaState& state, const float* host);
  // Forgets every token from n_past on (KV rows past it are free); 0 <= n_past <= state.n_past().
  void truncate(CudaState& state, int64_t n_past);

  // Device-side snapshots of the recurrent state (device-to-device copies, no host round trip): a pool of
  // `slots` snapshots owned by the state. save_snapshot records n_past too; restore_snapshot copies the
  // recurrent state back and truncates the KV to the snapshot's n_past. Returns that n_past.
  void reserve_snapshots(CudaState& state, int slots);
  void save_snapshot(CudaState& state, int slot);
  int64_t restore_snapshot(CudaState& state, int slot);

  // Snapshot buffers for the sequences of this engine (cuda_sequence.h): recurrent_bytes() bytes each, in
  // device memory or in pinned (page-locked) host memory. alloc_snapshot throws CudaOutOfMemory naming the
  // size and what was free when none is left there; free_snapshot(nullptr, ...) does nothing.
  void* alloc_snapshot(bool on_device);
  void free_snapshot(void* p, bool on_device) noexcept;
  // Copies a state's recurrent part to / from such a buffer (either kind; the copy is done when they return).
  void save_recurrent_to(const CudaState& state, void* dst) const;
  void load_recurrent_from(CudaState& state, const void* src);
  // The recurrent part := zeros, n_past := 0 (the state before any token; KV rows are kept as free rows).
  void reset(CudaState& state);
  // Free and total device memory now (cudaMemGetInfo).
  std::pair<uint64_t, uint64_t> device_memory() const;

  // Device memory held by the engine (weights + workspace), and by a state (recurrent + KV + snapshots).
  uint64_t device_bytes() const;
  uint64_t state_device_bytes(const CudaState& state) const;
  // Bytes of the weights as stored on the device.
  uint64_t weight_device_bytes() const;

  CudaDeviceFacts device_facts() const;
  // Device-to-device cudaMemcpy bandwidth in GB/s, counting read + write bytes (best of `reps`).
  double copy_bandwidth_gbs(uint64_t bytes = 1ull << 30, int reps = 5);
  // Waits for the device (benchmarks).
  void synchronize();
  // Whether decode steps replay CUDA graphs (false after a capture failure, or when disabled).
  bool graphs_enabled() const;
  void set_graphs_enabled(bool on);
  // Profiling (hybrid bench with HYBRID_CUDA_PROFILE=1): reads tokens[n] (n <= max_batch) with plain launches,
  // synchronizing and timing every op with cudaEvents. Returns (op kind, microseconds summed over layers) in
  // first-seen order, ending with ("total", sum). Logits of the last token only; the state advances by n.
  std::vector<std::pair<std::string, double>> profile_eval(CudaState& state, const int32_t* tokens, int64_t n);

 private:
  std::unique_ptr<CudaEngineImpl> impl_;
};

}  // namespace hybrid::cuda
