// A per-document sequence on the GPU (runtime::Sequence over CudaEngine + CudaState), so runtime::Session —
// checkpoints, rollbacks, edits, forks — runs on the device with the same code and tests as on the CPU.
//
// Snapshots (checkpoints and an in-place fork's anchor) are device-to-device copies into buffers of their
// own while the engine's snapshot pool has room in device memory (`device_budget`, shared by every
// sequence of the engine); past it, or when cudaMalloc fails, they go to pinned host memory (a PCIe copy:
// ~100 MB of Nemotron-H-8B state in ~4 ms instead of ~0.1 ms). The KV caches cannot be shared between two
// CudaStates, so forks run in place (session.h). Plain C++: builds without nvcc (the engine then cannot be
// constructed, cuda_absent.cpp).
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>

#include "backend/cuda/cuda_engine.h"
#include "runtime/sequence.h"

namespace hybrid::cuda {

// Where an engine's snapshots live: bytes in device memory (up to device_budget, and only while
// device_headroom bytes stay free for KV growth), bytes in pinned host memory (up to host_budget: page-locked
// memory is taken from the whole machine), and how many snapshots went to the host. Past both budgets a
// snapshot fails with CudaOutOfMemory (a Session then skips that checkpoint). Counters guarded by `mu`: a
// session may be dropped on another thread than the one computing.
struct SnapshotPool {
  std::mutex mu;
  uint64_t device_budget = 512ull << 20;
  uint64_t device_headroom = 256ull << 20;
  uint64_t host_budget = 4ull << 30;
  uint64_t device_used = 0, host_used = 0;
  int64_t device_count = 0, host_count = 0, spilled = 0;
};

class CudaSequence final : public runtime::Sequence {
 public:
  // The engine and the pool must outlive the sequence.
  CudaSequence(CudaEngine& engine, std::shared_ptr<SnapshotPool> pool, int64_t n_ctx);

  const runtime::Model& model() const override { return engine_.model(); }
  const char* device() const override { return "cuda"; }
  int64_t n_past() const override { return state_.n_past(); }
  int64_t n_ctx() const override { return state_.n_ctx(); }
  void eval(const int32_t* tokens, int64_t n, runtime::Logits mode, float* logits) override;
  int32_t eval_argmax(const int32_t* tokens, int64_t n) override { return engine_.eval_greedy(state_, tokens, n); }
  uint64_t recurrent_bytes() const override { return engine_.recurrent_bytes(); }
  uint64_t memory_bytes() const override { return engine_.state_device_bytes(state_); }
  std::unique_ptr<runtime::Snapshot> snapshot() override;
  void restore(const runtime::Snapshot& snap, int64_t n) override;
  void reset() override { engine_.reset(state_); }

 private:
  CudaEngine& engine_;
  std::shared_ptr<SnapshotPool> pool_;
  CudaState state_;
};

}  // namespace hybrid::cuda
