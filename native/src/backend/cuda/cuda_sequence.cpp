#include "backend/cuda/cuda_sequence.h"

#include <stdexcept>

namespace hybrid::cuda {

namespace {

class CudaSnapshot final : public runtime::Snapshot {
 public:
  CudaSnapshot(CudaEngine& e, std::shared_ptr<SnapshotPool> pool, void* p, bool on_device, uint64_t bytes)
      : engine(e), pool(std::move(pool)), ptr(p), on_device(on_device), size(bytes) {}
  ~CudaSnapshot() override {
    engine.free_snapshot(ptr, on_device);
    std::lock_guard<std::mutex> lock(pool->mu);
    if (on_device) {
      pool->device_used -= size;
      --pool->device_count;
    } else {
      pool->host_used -= size;
      --pool->host_count;
    }
  }
  uint64_t bytes() const override { return size; }
  const char* where() const override { return on_device ? "device" : "pinned host"; }

  CudaEngine& engine;
  std::shared_ptr<SnapshotPool> pool;
  void* ptr;
  bool on_device;
  uint64_t size;
};

}  // namespace

CudaSequence::CudaSequence(CudaEngine& engine, std::shared_ptr<SnapshotPool> pool, int64_t n_ctx)
    : engine_(engine), pool_(std::move(pool)), state_(engine.new_state(n_ctx)) {
  if (!pool_) throw std::invalid_argument("CudaSequence: no snapshot pool");
}

void CudaSequence::eval(const int32_t* tokens, int64_t n, runtime::Logits mode, float* logits) {
  engine_.eval(state_, tokens, n, mode, logits);
}

std::unique_ptr<runtime::Snapshot> CudaSequence::snapshot() {
  const uint64_t bytes = engine_.recurrent_bytes();
  void* p = nullptr;
  bool on_device = false;
  bool room;
  {
    std::lock_guard<std::mutex> lock(pool_->mu);
    room = pool_->device_used + bytes <= pool_->device_budget;
  }
  if (room) {
    try {
      p = engine_.alloc_snapshot(true);
      on_device = true;
    } catch (const CudaOutOfMemory&) {
      // the device is full (KV caches of other documents): this one goes to the host
    }
  }
  if (!p) p = engine_.alloc_snapshot(false);  // throws CudaOutOfMemory when pinned memory is exhausted too
  auto snap = std::make_unique<CudaSnapshot>(engine_, pool_, p, on_device, bytes);
  {
    std::lock_guard<std::mutex> lock(pool_->mu);
    if (on_device) {
      pool_->device_used += bytes;
      ++pool_->device_count;
    } else {
      pool_->host_used += bytes;
      ++pool_->host_count;
      ++pool_->spilled;
    }
  }
  engine_.save_recurrent_to(state_, p);  // on failure `snap` frees the buffer
  return snap;
}

void CudaSequence::restore(const runtime::Snapshot& snap, int64_t n) {
  const auto* c = dynamic_cast<const CudaSnapshot*>(&snap);
  if (!c || &c->engine != &engine_) throw std::logic_error("CudaSequence::restore: a snapshot of another sequence kind or engine");
  if (n < 0 || n > state_.n_past()) throw std::logic_error("CudaSequence::restore: position past the sequence's end");
  engine_.load_recurrent_from(state_, c->ptr);
  engine_.truncate(state_, n);
}

}  // namespace hybrid::cuda
