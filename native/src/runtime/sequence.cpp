#include "runtime/sequence.h"

#include <stdexcept>

#include "runtime/sampler.h"
#include "util/error.h"

namespace hybrid::runtime {

void Sequence::check_tokens(const int32_t* tokens, int64_t n) const { check_token_ids(model().hp().n_vocab, tokens, n); }

int32_t Sequence::eval_argmax(const int32_t* tokens, int64_t n) {
  if (n < 1) throw InputError("eval_argmax needs at least one token");
  const int64_t V = model().hp().n_vocab;
  argmax_logits_.resize(static_cast<size_t>(V));
  eval(tokens, n, Logits::Last, argmax_logits_.data());
  return Sampler::argmax(argmax_logits_.data(), static_cast<int32_t>(V));
}

namespace {

class HostSnapshot final : public Snapshot {
 public:
  explicit HostSnapshot(size_t floats) : data(floats) {}
  uint64_t bytes() const override { return data.size() * sizeof(float); }
  const char* where() const override { return "host"; }
  std::vector<float> data;
};

}  // namespace

CpuSequence::CpuSequence(Engine& engine, int64_t n_ctx, bool share_kv_forks)
    : engine_(engine), state_(engine.new_state(n_ctx)), share_kv_forks_(share_kv_forks) {}

CpuSequence::CpuSequence(Engine& engine, State state, bool share_kv_forks)
    : engine_(engine), state_(std::move(state)), share_kv_forks_(share_kv_forks) {}

void CpuSequence::eval(const int32_t* tokens, int64_t n, Logits mode, float* logits) {
  engine_.eval(state_, tokens, n, mode, logits);
}

uint64_t CpuSequence::memory_bytes() const {
  uint64_t n = state_.recurrent_bytes();
  for (const auto& l : state_.layers)
    if (l.kv) n += (l.kv->k.capacity() + l.kv->v.capacity()) * sizeof(float);
  return n;
}

std::unique_ptr<Snapshot> CpuSequence::snapshot() {
  auto s = std::make_unique<HostSnapshot>(state_.recurrent_bytes() / sizeof(float));
  state_.save_recurrent(s->data.data());
  return s;
}

void CpuSequence::restore(const Snapshot& snap, int64_t n) {
  const auto* h = dynamic_cast<const HostSnapshot*>(&snap);
  if (!h || h->bytes() != state_.recurrent_bytes()) throw std::logic_error("CpuSequence::restore: a snapshot of another sequence kind");
  if (n < 0 || n > state_.n_past) throw std::logic_error("CpuSequence::restore: position past the sequence's end");
  state_.load_recurrent(h->data.data());
  state_.n_past = n;  // attention: the KV cache is truncated by position, nothing to copy
}

void CpuSequence::reset() {
  state_.clear_recurrent();
  state_.n_past = 0;
}

std::unique_ptr<Sequence> CpuSequence::fork_sharing_kv() {
  if (!share_kv_forks_) return nullptr;
  return std::make_unique<CpuSequence>(engine_, state_, true);  // State copies: recurrent copied, KV shared
}

}  // namespace hybrid::runtime
