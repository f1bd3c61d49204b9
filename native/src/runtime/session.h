// Per-document sequence state with checkpoints — the reason this project exists.
//
// A Mamba-2 layer's state has a fixed size, so a Session keeps snapshots ("checkpoints") of the recurrent
// state of all Mamba-2 layers at positions along the document. After an edit, rollback(n) restores the
// nearest checkpoint at or before n and re-reads only the tokens between; attention KV caches are simply
// truncated (rows past n_past are dead). While the user types at the end, append() only reads the new
// tokens. llama.cpp cannot truncate a hybrid model's cache and re-reads the prompt from the start.
//
// Checkpoint policy: checkpoints sit at multiples of `stride` (the eval is split at those positions, so a
// checkpoint costs a copy, never extra compute); the newest `dense` ones are kept at full stride, older
// ones are thinned geometrically (every 2nd, 4th, ... stride position as the distance from the end
// doubles), so their number grows as O(log n); pinned checkpoints (e.g. where the text last stopped
// changing) survive thinning; a byte budget bounds the total (the checkpoint whose removal widens the
// re-read gap least goes first; the newest always stays).
//
// The state lives in a runtime::Sequence (sequence.h): the CPU engine's, or the CUDA engine's on the GPU
// (checkpoints then stay in device memory, spilling to pinned host memory, cuda_sequence.h).
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "runtime/engine.h"
#include "runtime/sequence.h"

namespace hybrid::runtime {

struct CheckpointPolicy {
  int64_t stride = 256;           // checkpoint positions are multiples of this
  int64_t dense = 4;              // newest checkpoints kept at full stride
  uint64_t budget_bytes = 1ull << 30;
  bool enabled = true;
  // After an edit, a pinned checkpoint is kept `edit_margin` tokens before the first changed token (the
  // place where the text last stopped changing), so the next edits around there re-read only a few
  // tokens; it costs a state copy, no compute. The newest `max_pinned` such checkpoints stay pinned.
  int64_t edit_margin = 16;
  int64_t max_pinned = 2;
};

struct Checkpoint {
  int64_t n = 0;               // tokens read when it was taken
  bool pinned = false;
  uint64_t seq = 0;            // order of taking (newest pins win)
  std::shared_ptr<Snapshot> snap;  // the recurrent state, where the sequence keeps it
};

struct SessionStats {
  int64_t tokens_read = 0;       // every token ever evaluated (appends + re-reads)
  int64_t tokens_reread = 0;     // tokens evaluated again by rollbacks
  int64_t rollbacks = 0;
  int64_t checkpoints_taken = 0;
  int64_t checkpoints_restored = 0;
  int64_t forks_in_place = 0;      // forks run on the session's own sequence (backends that cannot share KV)
  int64_t checkpoints_failed = 0;  // snapshots that found no memory (skipped: later edits re-read more)
};

class Fork;

class Session {
 public:
  // On the CPU engine (forks share its KV caches).
  Session(Engine& engine, int64_t n_ctx, CheckpointPolicy policy = {});
  // On any sequence (a fresh one: no tokens read).
  explicit Session(std::unique_ptr<Sequence> seq, CheckpointPolicy policy = {});

  const std::vector<int32_t>& tokens() const { return tokens_; }
  int64_t size() const { return static_cast<int64_t>(tokens_.size()); }
  int64_t n_ctx() const { return seq_->n_ctx(); }
  const std::vector<Checkpoint>& checkpoints() const { return checkpoints_; }
  uint64_t checkpoint_bytes() const;
  // Everything this session holds: checkpoints, recurrent state and the KV rows allocated so far (and the
  // snapshot an in-place fork keeps).
  uint64_t memory_bytes() const;
  // Frees every checkpoint (under memory pressure); returns the bytes freed. Later edits re-read more.
  uint64_t drop_checkpoints();
  const SessionStats& stats() const { return stats_; }
  const CheckpointPolicy& policy() const { return policy_; }
  const Model& model() const { return seq_->model(); }
  // "cpu" or "cuda".
  const char* device() const { return seq_->device(); }

  // Reads tokens after the current ones. Logits of the last token (n_vocab floats) when `logits`.
  void append(const int32_t* tokens, int64_t n, float* logits = nullptr);

  // Keeps the first n tokens: restores the nearest checkpoint at or before n and re-reads the tokens
  // between. Returns the number of tokens re-read. n > size() is an error.
  int64_t rollback(int64_t n);

  // Makes the session's tokens equal `target`: keeps the common prefix, rolls back to it, appends the
  // rest. Logits after the last token when `logits`. Returns tokens evaluated (re-read + appended).
  struct SyncResult { int64_t kept = 0, reread = 0, appended = 0; };
  SyncResult sync(const std::vector<int32_t>& target, float* logits = nullptr);

  // Prepares an edit whose first changed token is `common`: rolls back to `common`, or (unless a
  // checkpoint already sits just before it) to `edit_margin` tokens earlier with a checkpoint pinned there.
  // Returns how many tokens the session now holds; the caller appends the new tokens from there.
  int64_t rollback_to_edit(int64_t common);

  // Pins a checkpoint at the current end (e.g. where the text last stopped changing). Costs one copy.
  void pin_checkpoint_here();

  // A scratch continuation for speculative work (a completion at the cursor): it copies the recurrent
  // state and shares the KV caches, appending its KV rows past this session's end, which this session
  // never reads. Any change to this session makes existing forks stale (their use then throws).
  // On a sequence that cannot share its KV caches (the GPU's), the fork runs in place: the session keeps
  // a snapshot of its end, the fork reads past it in the session's own sequence, and the session's next
  // operation restores the snapshot (one device-to-device copy). Only the newest such fork is usable.
  std::unique_ptr<Fork> fork();

  // Logits after the last token (re-derived by re-reading the last token from a checkpoint only when
  // they are not cached). Empty session: throws.
  const std::vector<float>& logits();

 private:
  friend class Fork;
  void eval_with_checkpoints(const int32_t* tokens, int64_t n, float* logits);
  void take_checkpoint(bool pinned);
  void take_checkpoint_or_throw(bool pinned);
  void thin_checkpoints();
  void unpin_old();
  void mutated() { ++epoch_; logits_valid_ = false; }
  // Brings the sequence back to the session's end after an in-place fork used it.
  void settle();
  // After a failed restore: no tokens, no checkpoints, the sequence reset (or, when even that fails, the
  // session marked broken: check_usable() then throws on every operation).
  void forget_all();
  void check_usable() const;

  std::unique_ptr<Sequence> seq_;
  CheckpointPolicy policy_;
  std::vector<int32_t> tokens_;
  std::vector<Checkpoint> checkpoints_;  // sorted by n
  std::vector<float> logits_;
  bool logits_valid_ = false;
  uint64_t epoch_ = 0;
  uint64_t checkpoint_seq_ = 0;
  SessionStats stats_;
  // In-place forks: the snapshot of the session's end (reused while the session does not change) and
  // whether a fork has moved the sequence past it.
  std::unique_ptr<Snapshot> fork_snap_;
  uint64_t fork_snap_epoch_ = ~uint64_t(0);
  uint64_t fork_gen_ = 0;
  bool forked_ = false;
  bool broken_ = false;
};

class Fork {
 public:
  // Appends tokens after the session's tokens (and this fork's earlier ones); logits of the last one.
  void append(const int32_t* tokens, int64_t n, float* logits = nullptr);
  // Appends tokens[n] (n >= 1) and returns the argmax of the last one's logits (on the GPU: only the id
  // comes back, Sequence::eval_argmax).
  int32_t append_argmax(const int32_t* tokens, int64_t n);
  int64_t size() const { return n_past_; }
  bool stale() const;

 private:
  friend class Session;
  Fork(Session* s, std::unique_ptr<Sequence> shared);
  // The sequence to read into (stale and moved-under checks done; in place: marks the session forked).
  Sequence& target();
  Session* session_;
  uint64_t epoch_;
  uint64_t gen_;                     // in place: the session's fork generation it belongs to
  std::unique_ptr<Sequence> shared_;  // recurrent part copied, KV caches shared; null: in place
  int64_t n_past_;
};

}  // namespace hybrid::runtime
