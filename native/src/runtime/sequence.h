// One sequence's state on some device, behind the few operations a per-document Session needs: read
// tokens, take a snapshot of the recurrent (Mamba-2) part, restore one (which also truncates the attention
// KV caches to the snapshot's position), start over. The CPU engine's runtime::State (CpuSequence, below)
// and the CUDA engine's CudaState (backend/cuda/cuda_sequence.h) both sit behind it, so the checkpoint
// policy in session.cpp is written once and the same tests drive both.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/engine.h"

namespace hybrid::runtime {

// A copy of a sequence's recurrent state, wherever the sequence keeps it (host memory, device memory,
// pinned host memory). Only the sequence kind that made it can restore it.
class Snapshot {
 public:
  virtual ~Snapshot() = default;
  virtual uint64_t bytes() const = 0;
  // "host", "device" or "pinned host": where the bytes live (figures and tests).
  virtual const char* where() const = 0;
};

class Sequence {
 public:
  virtual ~Sequence() = default;

  virtual const Model& model() const = 0;
  // "cpu" or "cuda".
  virtual const char* device() const = 0;
  virtual int64_t n_past() const = 0;
  virtual int64_t n_ctx() const = 0;

  // Throws InputError naming the first token id outside the vocabulary.
  virtual void check_tokens(const int32_t* tokens, int64_t n) const;
  // As Engine::eval: reads tokens[n] after n_past; the state is unchanged when it throws InputError.
  virtual void eval(const int32_t* tokens, int64_t n, Logits mode, float* logits) = 0;
  // Reads tokens[n] (n >= 1) and returns the argmax of the last token's logits (lowest id on ties). The
  // GPU computes it on the device, so only the id comes back; the default evaluates the logits here.
  virtual int32_t eval_argmax(const int32_t* tokens, int64_t n);

  // Bytes of the recurrent part (one snapshot's size), and of everything the sequence holds (recurrent
  // part + the KV rows allocated so far; snapshots are counted by their owners).
  virtual uint64_t recurrent_bytes() const = 0;
  virtual uint64_t memory_bytes() const = 0;

  // The recurrent state at n_past. Throws (std::runtime_error) when no memory is left for it anywhere.
  virtual std::unique_ptr<Snapshot> snapshot() = 0;
  // Recurrent state := `snap`, n_past := n, the position it was taken at (n <= n_past: KV rows past n are
  // dead). `snap` must come from this sequence's snapshot().
  virtual void restore(const Snapshot& snap, int64_t n) = 0;
  // The state before any token.
  virtual void reset() = 0;

  // A second sequence that copies the recurrent state and shares the KV caches, appending its KV rows past
  // this one's n_past (which this one never reads), or null when the backend cannot share them; a Session
  // then runs its forks in place (snapshot, read past the end, restore).
  virtual std::unique_ptr<Sequence> fork_sharing_kv() { return nullptr; }

 private:
  std::vector<float> argmax_logits_;
};

// runtime::State on the CPU engine. `share_kv_forks` = false makes fork_sharing_kv() return null, so the
// in-place fork path (the one the CUDA backend takes) is tested on the CPU too.
class CpuSequence final : public Sequence {
 public:
  CpuSequence(Engine& engine, int64_t n_ctx, bool share_kv_forks = true);
  CpuSequence(Engine& engine, State state, bool share_kv_forks);

  const Model& model() const override { return engine_.model(); }
  const char* device() const override { return "cpu"; }
  int64_t n_past() const override { return state_.n_past; }
  int64_t n_ctx() const override { return state_.n_ctx; }
  void check_tokens(const int32_t* tokens, int64_t n) const override { engine_.check_tokens(tokens, n); }
  void eval(const int32_t* tokens, int64_t n, Logits mode, float* logits) override;
  uint64_t recurrent_bytes() const override { return state_.recurrent_bytes(); }
  uint64_t memory_bytes() const override;
  std::unique_ptr<Snapshot> snapshot() override;
  void restore(const Snapshot& snap, int64_t n) override;
  void reset() override;
  std::unique_ptr<Sequence> fork_sharing_kv() override;

  Engine& engine() { return engine_; }

 private:
  Engine& engine_;
  State state_;
  bool share_kv_forks_;
};

}  // namespace hybrid::runtime
