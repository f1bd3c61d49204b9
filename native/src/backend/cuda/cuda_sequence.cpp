#include "backend/cuda/cuda_sequence.h"

#include <stdexcept>
#include <string>

namespace hybrid::cuda {

namespace {

// One snapshot buffer: placed in device or pinned host memory by place(), freed and unaccounted by the
// destructor (also when a later step throws).
class CudaSnapshot final : public runtime::Snapshot {
 public:
  CudaSnapshot(CudaEngine& e, std::shared_ptr<SnapshotPool> pool, uint64_t bytes)
      : engine(e), pool(std::move(pool)), size(bytes) {}
  ~CudaSnapshot() override {
    if (!ptr) return;
    engine.free_snapshot(ptr, on_device);
    std::lock_guard<std::mutex> lock(pool->mu);
    (on_device ? pool->device_used : pool->host_used) -= size;
    --(on_device ? pool->device_count : pool->host_count);
  }
  uint64_t bytes() const override { return size; }
  const char* where() const override { return on_device ? "device" : "pinned host"; }

  // Allocates the buffer in device memory (device = true) or pinned host memory. Throws CudaOutOfMemory.
  void place(bool device) {
    ptr = engine.alloc_snapshot(device);
    on_device = device;
    std::lock_guard<std::mutex> lock(pool->mu);
    (on_device ? pool->device_used : pool->host_used) += size;
    ++(on_device ? pool->device_count : pool->host_count);
    if (!on_device) ++pool->spilled;
  }

  CudaEngine& engine;
  std::shared_ptr<SnapshotPool> pool;
  uint64_t size;
  void* ptr = nullptr;
  bool on_device = false;
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
  bool device_room, host_room;
  {
    std::lock_guard<std::mutex> lock(pool_->mu);
    device_room = pool_->device_used + bytes <= pool_->device_budget;
    host_room = pool_->host_used + bytes <= pool_->host_budget;
  }
  // Device memory only while the pool's budget allows and the next KV growth keeps its headroom.
  if (device_room) device_room = engine_.device_memory().first >= bytes + pool_->device_headroom;
  auto snap = std::make_unique<CudaSnapshot>(engine_, pool_, bytes);
  if (device_room) {
    try {
      snap->place(true);
    } catch (const CudaOutOfMemory&) {
      // the device filled up meanwhile: this one goes to the host
    }
  }
  if (!snap->ptr) {
    if (!host_room) {
      throw CudaOutOfMemory("no room for a recurrent-state snapshot of " + std::to_string(bytes >> 20) +
                            " MiB: the device's snapshot budget (" + std::to_string(pool_->device_budget >> 20) +
                            " MiB) and the pinned host budget (" + std::to_string(pool_->host_budget >> 20) +
                            " MiB) are used");
    }
    snap->place(false);  // throws CudaOutOfMemory when pinned memory is exhausted
  }
  engine_.save_recurrent_to(state_, snap->ptr);
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
