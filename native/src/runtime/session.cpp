#include "runtime/session.h"

#include <algorithm>
#include <limits>

#include "util/error.h"

namespace hybrid::runtime {

Session::Session(Engine& engine, int64_t n_ctx, CheckpointPolicy policy)
    : Session(std::make_unique<CpuSequence>(engine, n_ctx), policy) {}

Session::Session(std::unique_ptr<Sequence> seq, CheckpointPolicy policy) : seq_(std::move(seq)), policy_(policy) {
  if (!seq_) throw std::invalid_argument("Session: no sequence");
  if (seq_->n_past() != 0) throw std::invalid_argument("Session: the sequence has already read tokens");
  policy_.stride = std::max<int64_t>(1, policy_.stride);
  policy_.dense = std::max<int64_t>(1, policy_.dense);
}

uint64_t Session::checkpoint_bytes() const {
  uint64_t n = 0;
  for (const auto& c : checkpoints_) n += c.snap->bytes();
  return n;
}

uint64_t Session::memory_bytes() const {
  return checkpoint_bytes() + seq_->memory_bytes() + (fork_snap_ ? fork_snap_->bytes() : 0);
}

uint64_t Session::drop_checkpoints() {
  settle();
  const uint64_t freed = checkpoint_bytes() + (fork_snap_ ? fork_snap_->bytes() : 0);
  std::vector<Checkpoint>().swap(checkpoints_);
  fork_snap_.reset();  // the next in-place fork takes a new one
  ++fork_gen_;
  return freed;
}

void Session::append(const int32_t* tokens, int64_t n, float* logits) {
  if (n <= 0) return;
  check_usable();
  settle();
  if (size() + n > n_ctx()) {
    throw InputError("context overflow: " + std::to_string(size()) + " + " + std::to_string(n) +
                     " tokens exceed the context length " + std::to_string(n_ctx()));
  }
  seq_->check_tokens(tokens, n);  // before any chunk runs: a bad id must not leave a half-read state
  mutated();
  eval_with_checkpoints(tokens, n, logits);
  stats_.tokens_read += n;
}

void Session::eval_with_checkpoints(const int32_t* tokens, int64_t n, float* logits) {
  // Split the eval at multiples of the stride so that checkpoints fall on chunk ends (no extra compute).
  const int64_t V = seq_->model().hp().n_vocab;
  if (logits_.size() != static_cast<size_t>(V)) logits_.resize(V);
  int64_t done = 0;
  while (done < n) {
    const int64_t pos = seq_->n_past();
    int64_t chunk = n - done;
    if (policy_.enabled) chunk = std::min(chunk, policy_.stride - pos % policy_.stride);
    const bool last = done + chunk == n;
    // The tokens join the session as they are read: when a batch fails (a GPU out of memory growing a KV
    // cache), the session still holds exactly what its sequence has read, and stays usable.
    try {
      seq_->eval(tokens + done, chunk, last ? Logits::Last : Logits::None, last ? logits_.data() : nullptr);
    } catch (...) {
      const int64_t read = std::clamp<int64_t>(seq_->n_past() - size(), 0, chunk);
      tokens_.insert(tokens_.end(), tokens + done, tokens + done + read);
      throw;
    }
    tokens_.insert(tokens_.end(), tokens + done, tokens + done + chunk);
    done += chunk;
    if (policy_.enabled && seq_->n_past() % policy_.stride == 0) take_checkpoint(false);
  }
  logits_valid_ = true;
  if (logits) std::copy(logits_.begin(), logits_.end(), logits);
}

void Session::take_checkpoint(bool pinned) {
  try {
    take_checkpoint_or_throw(pinned);
  } catch (const std::bad_alloc&) {
    // No memory for a snapshot: a checkpoint saves compute later, it is not needed for correctness.
    ++stats_.checkpoints_failed;
  } catch (const OutOfMemory&) {
    ++stats_.checkpoints_failed;  // e.g. CudaOutOfMemory: neither device nor pinned host memory left
  }
}

void Session::take_checkpoint_or_throw(bool pinned) {
  const int64_t n = seq_->n_past();
  auto it = std::lower_bound(checkpoints_.begin(), checkpoints_.end(), n,
                             [](const Checkpoint& c, int64_t v) { return c.n < v; });
  if (it != checkpoints_.end() && it->n == n) {
    if (pinned) {
      it->pinned = true;
      it->seq = ++checkpoint_seq_;
    }
    return;  // same position, same tokens: the state is the same
  }
  Checkpoint c;
  c.n = n;
  c.pinned = pinned;
  c.seq = ++checkpoint_seq_;
  c.snap = seq_->snapshot();
  checkpoints_.insert(it, std::move(c));
  ++stats_.checkpoints_taken;
  thin_checkpoints();
}

void Session::thin_checkpoints() {
  const int64_t end = seq_->n_past();
  const int64_t S = policy_.stride;
  // Geometric thinning: within S*dense of the end every stride position is kept; in each farther band
  // [S*dense*2^j, S*dense*2^(j+1)) only multiples of S*2^(j+1). Bands hold dense/2 checkpoints each, so
  // the count is about dense + dense/2 * log2(n / (S*dense)). The grids nest, so thinning only removes.
  std::vector<Checkpoint> kept;
  kept.reserve(checkpoints_.size());
  for (auto& c : checkpoints_) {
    const int64_t d = end - c.n;
    int64_t spacing = S, reach = S * policy_.dense;
    while (d >= reach && spacing < (int64_t(1) << 40)) {
      spacing *= 2;
      reach *= 2;
    }
    if (c.pinned || c.n % spacing == 0) kept.push_back(std::move(c));
  }
  checkpoints_ = std::move(kept);
  // Budget: drop the checkpoint whose removal widens a re-read gap least (never the newest).
  while (checkpoints_.size() > 1 && checkpoint_bytes() > policy_.budget_bytes) {
    size_t victim = 0;
    int64_t best_gap = std::numeric_limits<int64_t>::max();
    for (size_t i = 0; i + 1 < checkpoints_.size(); ++i) {
      const int64_t prev = i == 0 ? 0 : checkpoints_[i - 1].n;
      const int64_t gap = checkpoints_[i + 1].n - prev;
      // Unpinned first; among them the narrowest merged gap.
      const int64_t score = gap + (checkpoints_[i].pinned ? (int64_t(1) << 50) : 0);
      if (score < best_gap) {
        best_gap = score;
        victim = i;
      }
    }
    checkpoints_.erase(checkpoints_.begin() + victim);
  }
}

int64_t Session::rollback(int64_t n) {
  if (n < 0 || n > size()) {
    throw std::invalid_argument("rollback(" + std::to_string(n) + ") outside [0, " + std::to_string(size()) + "]");
  }
  check_usable();
  if (n == size()) return 0;
  settle();
  mutated();
  ++stats_.rollbacks;
  // Checkpoints past n describe text that no longer exists.
  while (!checkpoints_.empty() && checkpoints_.back().n > n) checkpoints_.pop_back();
  int64_t from = 0;
  try {
    if (!checkpoints_.empty()) {
      const Checkpoint& c = checkpoints_.back();
      seq_->restore(*c.snap, c.n);  // attention: the KV cache is truncated by position, nothing to copy
      from = c.n;
      ++stats_.checkpoints_restored;
    } else {
      seq_->reset();
    }
  } catch (...) {
    forget_all();  // the recurrent state may be half overwritten: start over from no tokens
    throw;
  }
  const int64_t reread = n - from;
  std::vector<int32_t> keep(tokens_.begin() + from, tokens_.begin() + n);
  tokens_.resize(from);
  if (reread > 0) {
    eval_with_checkpoints(keep.data(), reread, nullptr);
  } else {
    logits_valid_ = false;
  }
  stats_.tokens_read += reread;
  stats_.tokens_reread += reread;
  return reread;
}

int64_t Session::rollback_to_edit(int64_t common) {
  common = std::max<int64_t>(0, std::min(common, size()));
  if (common == size()) return size();
  // Unless a checkpoint already sits just before the change, roll back a little further and pin one
  // there: the same number of tokens is read either way, and the next edit nearby is cheap.
  const int64_t anchor = std::max<int64_t>(0, common - policy_.edit_margin);
  bool near = anchor == 0;
  for (const auto& c : checkpoints_) near = near || (c.n >= anchor - policy_.edit_margin && c.n <= common);
  if (policy_.enabled && !near) {
    rollback(anchor);
    pin_checkpoint_here();
    return anchor;
  }
  rollback(common);
  return common;
}

Session::SyncResult Session::sync(const std::vector<int32_t>& target, float* logits) {
  SyncResult r;
  const int64_t common =
      std::mismatch(tokens_.begin(), tokens_.end(), target.begin(), target.end()).first - tokens_.begin();
  r.kept = common;
  const int64_t before = stats_.tokens_reread;
  const int64_t from = rollback_to_edit(common);
  r.reread = stats_.tokens_reread - before + (common - from);  // tokens between the anchor and the change too
  r.appended = static_cast<int64_t>(target.size()) - common;
  const int64_t n_new = static_cast<int64_t>(target.size()) - from;
  if (n_new > 0) append(target.data() + from, n_new, logits);
  else if (logits) std::copy(this->logits().begin(), this->logits().end(), logits);
  return r;
}

void Session::unpin_old() {
  // Keep the newest max_pinned pins (by when they were taken); older ones fall back under thinning.
  std::vector<Checkpoint*> pinned;
  for (auto& c : checkpoints_)
    if (c.pinned) pinned.push_back(&c);
  if (static_cast<int64_t>(pinned.size()) <= policy_.max_pinned) return;
  std::sort(pinned.begin(), pinned.end(), [](const Checkpoint* a, const Checkpoint* b) { return a->seq > b->seq; });
  for (size_t i = static_cast<size_t>(std::max<int64_t>(0, policy_.max_pinned)); i < pinned.size(); ++i) pinned[i]->pinned = false;
  thin_checkpoints();
}

void Session::pin_checkpoint_here() {
  if (size() == 0) return;
  check_usable();
  settle();
  take_checkpoint(true);
  unpin_old();
}

const std::vector<float>& Session::logits() {
  if (tokens_.empty()) throw std::logic_error("logits of an empty session");
  if (!logits_valid_) {
    // Re-read the last token: roll back by one and read it again (cheap with a checkpoint nearby).
    const int32_t last = tokens_.back();
    rollback(size() - 1);
    append(&last, 1, nullptr);
  }
  return logits_;
}

void Session::settle() {
  if (!forked_) return;
  try {
    seq_->restore(*fork_snap_, size());
  } catch (...) {
    forget_all();
    throw;
  }
  forked_ = false;
  ++fork_gen_;  // the in-place fork's tokens are gone
}

void Session::forget_all() {
  mutated();
  ++fork_gen_;
  forked_ = false;
  tokens_.clear();
  checkpoints_.clear();
  fork_snap_.reset();
  try {
    seq_->reset();
  } catch (...) {
    broken_ = true;  // the sequence cannot even start over: every later operation says so
  }
}

void Session::check_usable() const {
  if (broken_) throw std::runtime_error("this document session's state was lost after a device error; reopen the document");
}

std::unique_ptr<Fork> Session::fork() {
  check_usable();
  settle();
  std::unique_ptr<Sequence> shared = seq_->fork_sharing_kv();
  if (!shared) {
    if (!fork_snap_ || fork_snap_epoch_ != epoch_) {
      fork_snap_.reset();  // free the old one first (device memory)
      fork_snap_ = seq_->snapshot();
      fork_snap_epoch_ = epoch_;
    }
    ++fork_gen_;  // an older in-place fork is stale from here on
    ++stats_.forks_in_place;
  }
  return std::unique_ptr<Fork>(new Fork(this, std::move(shared)));
}

Fork::Fork(Session* s, std::unique_ptr<Sequence> shared)
    : session_(s), epoch_(s->epoch_), gen_(s->fork_gen_), shared_(std::move(shared)), n_past_(s->size()) {}

bool Fork::stale() const { return session_->epoch_ != epoch_ || (!shared_ && session_->fork_gen_ != gen_); }

Sequence& Fork::target() {
  if (stale()) throw std::logic_error("fork is stale: its session changed since the fork was made");
  if (shared_) return *shared_;
  Sequence& seq = *session_->seq_;
  if (seq.n_past() != n_past_) throw std::logic_error("in-place fork: the session's sequence moved under it");
  session_->forked_ = true;  // from here the session restores its end before its next operation
  return seq;
}

namespace {
// A fork's position follows its sequence when a read ends, normally or by an exception (a failed batch
// leaves the batches before it read), so the fork stays usable.
struct FollowPosition {
  int64_t& n_past;
  const Sequence& seq;
  ~FollowPosition() { n_past = seq.n_past(); }
};
}  // namespace

void Fork::append(const int32_t* tokens, int64_t n, float* logits) {
  if (n <= 0 && !logits) return;
  Sequence& seq = target();
  FollowPosition follow{n_past_, seq};
  seq.eval(tokens, n, logits ? Logits::Last : Logits::None, logits);
}

int32_t Fork::append_argmax(const int32_t* tokens, int64_t n) {
  Sequence& seq = target();
  FollowPosition follow{n_past_, seq};
  return seq.eval_argmax(tokens, n);
}

}  // namespace hybrid::runtime
