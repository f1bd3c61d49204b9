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
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "runtime/engine.h"

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
  std::vector<float> data;     // State::save_recurrent
};

struct SessionStats {
  int64_t tokens_read = 0;       // every token ever evaluated (appends + re-reads)
  int64_t tokens_reread = 0;     // tokens evaluated again by rollbacks
  int64_t rollbacks = 0;
  int64_t checkpoints_taken = 0;
  int64_t checkpoints_restored = 0;
};

class Fork;

class Session {
 public:
  Session(Engine& engine, int64_t n_ctx, CheckpointPolicy policy = {});

  const std::vector<int32_t>& tokens() const { return tokens_; }
  int64_t size() const { return static_cast<int64_t>(tokens_.size()); }
  int64_t n_ctx() const { return state_.n_ctx; }
  const std::vector<Checkpoint>& checkpoints() const { return checkpoints_; }
  uint64_t checkpoint_bytes() const;
  // Everything this session holds: checkpoints, recurrent state and the KV rows allocated so far.
  uint64_t memory_bytes() const;
  // Frees every checkpoint (under memory pressure); returns the bytes freed. Later edits re-read more.
  uint64_t drop_checkpoints();
  const SessionStats& stats() const { return stats_; }
  const CheckpointPolicy& policy() const { return policy_; }
  Engine& engine() { return engine_; }

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
  std::unique_ptr<Fork> fork();

  // Logits after the last token (re-derived by re-reading the last token from a checkpoint only when
  // they are not cached). Empty session: throws.
  const std::vector<float>& logits();

 private:
  friend class Fork;
  void eval_with_checkpoints(const int32_t* tokens, int64_t n, float* logits);
  void take_checkpoint(bool pinned);
  void thin_checkpoints();
  void unpin_old();
  void mutated() { ++epoch_; logits_valid_ = false; }

  Engine& engine_;
  CheckpointPolicy policy_;
  State state_;
  std::vector<int32_t> tokens_;
  std::vector<Checkpoint> checkpoints_;  // sorted by n
  std::vector<float> logits_;
  bool logits_valid_ = false;
  uint64_t epoch_ = 0;
  uint64_t checkpoint_seq_ = 0;
  SessionStats stats_;
};

class Fork {
 public:
  // Appends tokens after the session's tokens (and this fork's earlier ones); logits of the last one.
  void append(const int32_t* tokens, int64_t n, float* logits = nullptr);
  int64_t size() const { return state_.n_past; }
  bool stale() const { return session_->epoch_ != epoch_; }

 private:
  friend class Session;
  Fork(Session* s) : session_(s), epoch_(s->epoch_), state_(s->state_) {}
  Session* session_;
  uint64_t epoch_;
  State state_;  // recurrent part copied, KV caches shared
};

}  // namespace hybrid::runtime
