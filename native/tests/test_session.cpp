// Per-document sessions: after any seeded sequence of appends, rollbacks and edits, a session's next-token
// logits equal those of a fresh state fed the same tokens; forks never disturb their session; the
// checkpoint count grows like log n and respects the byte budget.
#include <algorithm>
#include <cmath>
#include <random>

#include "check.h"
#include "model_fixture.h"
#include "random_edits.h"
#include "runtime/session.h"
#include "util/error.h"

using namespace hybrid::runtime;

namespace {

struct Env {
  fixture::TempFile file;
  std::shared_ptr<Model> model;
  Engine engine;
  explicit Env(const fixture::TinyModel& m, int threads = 2)
      : file(m.write("session")), model(Model::load(file.path)), engine(model, threads, 32) {}
};

std::vector<float> fresh_logits(Engine& e, const std::vector<int32_t>& tokens) {
  State s = e.new_state(static_cast<int64_t>(tokens.size()) + 1);
  std::vector<float> logits(e.model().hp().n_vocab);
  e.eval(s, tokens.data(), static_cast<int64_t>(tokens.size()), Logits::Last, logits.data());
  return logits;
}

double max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(double(a[i]) - b[i]));
  return m;
}

}  // namespace

TEST("random appends, rollbacks and edits keep the session equal to a fresh read") {
  fixture::TinyModel tm;
  Env env(tm);
  const int32_t V = static_cast<int32_t>(env.model->hp().n_vocab);
  CheckpointPolicy policy;
  policy.stride = 8;
  policy.dense = 2;
  Session s(env.engine, 2048, policy);
  RandomEdits r(42, V);
  int checks = 0;
  double worst = 0;
  for (int step = 0; step < 60; ++step) {
    const int op = static_cast<int>(r.below(3));
    if (op == 0 || s.size() < 4) {
      auto t = r.tokens(1 + static_cast<int>(r.below(40)));
      s.append(t.data(), static_cast<int64_t>(t.size()));
    } else if (op == 1) {
      s.rollback(static_cast<int64_t>(r.below(static_cast<uint32_t>(s.size() + 1))));
    } else {
      const std::vector<int32_t> target = r.edit(s.tokens());
      s.sync(target);
      CHECK(s.tokens() == target);
    }
    if (s.size() == 0) continue;
    const double d = max_diff(s.logits(), fresh_logits(env.engine, s.tokens()));
    worst = std::max(worst, d);
    ++checks;
  }
  std::printf("  %d checks, max |logit diff| %.3g, %lld tokens re-read in %lld rollbacks, %lld checkpoint restores\n",
              checks, worst, (long long)s.stats().tokens_reread, (long long)s.stats().rollbacks,
              (long long)s.stats().checkpoints_restored);
  CHECK(checks > 30);
  CHECK(worst <= 1e-5);
  CHECK(s.stats().checkpoints_restored > 0);
}

TEST("rollback re-reads only from the nearest checkpoint") {
  Env env(fixture::TinyModel{});
  CheckpointPolicy policy;
  policy.stride = 16;
  policy.dense = 4;
  Session s(env.engine, 4096, policy);
  std::vector<int32_t> doc(1000);
  for (size_t i = 0; i < doc.size(); ++i) doc[i] = static_cast<int32_t>((i * 37) % 90);
  s.append(doc.data(), 1000);
  // Near the end checkpoints are dense (stride 16): an edit at 990 re-reads < 16 tokens.
  const int64_t reread = s.rollback(990);
  CHECK(reread < 16);
  CHECK_EQ(s.size(), int64_t(990));
  CHECK(max_diff(s.logits(), fresh_logits(env.engine, std::vector<int32_t>(doc.begin(), doc.begin() + 990))) <= 1e-5);
}

TEST("checkpoints thin out geometrically and respect the byte budget") {
  Env env(fixture::TinyModel{});
  CheckpointPolicy policy;
  policy.stride = 16;
  policy.dense = 4;
  Session s(env.engine, 8192, policy);
  std::vector<int32_t> doc(4096);
  for (size_t i = 0; i < doc.size(); ++i) doc[i] = static_cast<int32_t>((i * 13 + 5) % 90);
  s.append(doc.data(), 4096);
  const size_t n = s.checkpoints().size();
  std::printf("  4096 tokens, stride 16: %zu checkpoints (%.1f KiB each)\n", n,
              s.checkpoint_bytes() / 1024.0 / std::max<size_t>(1, n));
  // dense 4 + about 2 per doubling of distance: 4 + 2 * log2(4096 / 64) = 16
  CHECK(n >= 8 && n <= 20);
  CHECK(s.checkpoints().back().n == 4096);
  // With a budget of 5 checkpoints only 5 remain, the newest among them.
  CheckpointPolicy tight = policy;
  tight.budget_bytes = 5 * (s.checkpoint_bytes() / n);
  Session t(env.engine, 8192, tight);
  t.append(doc.data(), 4096);
  CHECK(t.checkpoints().size() <= 5);
  CHECK(t.checkpoints().back().n == 4096);
  CHECK(t.checkpoint_bytes() <= tight.budget_bytes);
}

TEST("a fork continues the session without disturbing it; a changed session makes it stale") {
  Env env(fixture::TinyModel{});
  Session s(env.engine, 512);
  std::vector<int32_t> doc = {1, 5, 9, 13, 17, 21, 25, 29, 33, 37, 41, 45};
  s.append(doc.data(), static_cast<int64_t>(doc.size()));
  const std::vector<float> before = s.logits();
  auto fork = s.fork();
  std::vector<int32_t> extra = {50, 51, 52, 53};
  std::vector<float> fork_logits(env.model->hp().n_vocab);
  fork->append(extra.data(), 4, fork_logits.data());
  std::vector<int32_t> joined = doc;
  joined.insert(joined.end(), extra.begin(), extra.end());
  CHECK(max_diff(fork_logits, fresh_logits(env.engine, joined)) <= 1e-5);
  CHECK(max_diff(s.logits(), before) == 0.0);  // untouched
  std::vector<int32_t> more = {60, 61};
  s.append(more.data(), 2);
  CHECK(fork->stale());
  CHECK_THROWS(fork->append(extra.data(), 1));
  std::vector<int32_t> doc2 = doc;
  doc2.insert(doc2.end(), more.begin(), more.end());
  CHECK(max_diff(s.logits(), fresh_logits(env.engine, doc2)) <= 1e-5);
}

TEST("context overflow and bad token ids are errors that leave the session intact") {
  Env env(fixture::TinyModel{});
  Session s(env.engine, 16);
  std::vector<int32_t> doc(10, 3);
  s.append(doc.data(), 10);
  std::vector<int32_t> too_many(7, 3);
  CHECK_THROWS(s.append(too_many.data(), 7));
  std::vector<int32_t> bad = {3, 100000};
  CHECK_THROWS(s.append(bad.data(), 2));
  CHECK_EQ(s.size(), int64_t(10));
  CHECK(max_diff(s.logits(), fresh_logits(env.engine, doc)) <= 1e-5);
}


// The path the GPU takes (its sequences cannot share KV caches): forks run in the session's own sequence
// and the session restores its end before its next operation. Driven here on the CPU sequence with KV
// sharing off, interleaved with appends, edits and rollbacks.
TEST("in-place forks read like a fresh state and leave their session as it was") {
  fixture::TinyModel tm;
  Env env(tm);
  const int32_t V = static_cast<int32_t>(env.model->hp().n_vocab);
  CheckpointPolicy policy;
  policy.stride = 8;
  policy.dense = 2;
  Session s(std::make_unique<CpuSequence>(env.engine, 1024, /*share_kv_forks=*/false), policy);
  RandomEdits r(7, V);
  auto first = r.tokens(30);
  s.append(first.data(), 30);
  double worst = 0;
  int fork_checks = 0;
  std::unique_ptr<Fork> older;
  for (int step = 0; step < 40; ++step) {
    const int op = static_cast<int>(r.below(4));
    if (op == 0) {
      auto t = r.tokens(1 + static_cast<int>(r.below(20)));
      s.append(t.data(), static_cast<int64_t>(t.size()));
    } else if (op == 1 && s.size() > 2) {
      std::vector<int32_t> target = s.tokens();
      target.resize(1 + r.below(static_cast<uint32_t>(target.size())));
      auto ins = r.tokens(static_cast<int>(r.below(8)));
      target.insert(target.end(), ins.begin(), ins.end());
      s.sync(target);
      CHECK(s.tokens() == target);
    } else {
      // A fork, read in two pieces, against a fresh read of session + fork tokens.
      auto fork = s.fork();
      if (older) CHECK(older->stale());  // only the newest in-place fork is usable
      auto a = r.tokens(1 + static_cast<int>(r.below(6)));
      auto b = r.tokens(1 + static_cast<int>(r.below(6)));
      std::vector<float> fl(V);
      fork->append(a.data(), static_cast<int64_t>(a.size()));
      fork->append(b.data(), static_cast<int64_t>(b.size()), fl.data());
      CHECK_EQ(fork->size(), s.size() + static_cast<int64_t>(a.size() + b.size()));
      std::vector<int32_t> joined = s.tokens();
      joined.insert(joined.end(), a.begin(), a.end());
      joined.insert(joined.end(), b.begin(), b.end());
      worst = std::max(worst, max_diff(fl, fresh_logits(env.engine, joined)));
      ++fork_checks;
      older = std::move(fork);
    }
    // The session's own logits after the fork moved its sequence: cached ones, and after a fresh token.
    CHECK(max_diff(s.logits(), fresh_logits(env.engine, s.tokens())) <= 1e-5);
    if (step % 5 == 4) {
      auto t = r.tokens(1);
      std::vector<float> l(V);
      s.append(t.data(), 1, l.data());
      worst = std::max(worst, max_diff(l, fresh_logits(env.engine, s.tokens())));
      if (older) CHECK(older->stale());
    }
  }
  std::printf("  %d in-place forks (%lld counted), max |logit diff| %.3g\n", fork_checks,
              (long long)s.stats().forks_in_place, worst);
  CHECK(fork_checks >= 8);
  CHECK_EQ(s.stats().forks_in_place, static_cast<int64_t>(fork_checks));
  CHECK(worst <= 1e-5);
}

TEST("an in-place fork keeps the snapshot of an unchanged session, and a pin makes the fork stale") {
  Env env(fixture::TinyModel{});
  Session s(std::make_unique<CpuSequence>(env.engine, 256, false));
  std::vector<int32_t> doc = {1, 5, 9, 13, 17, 21, 25, 29};
  s.append(doc.data(), 8);
  const std::vector<float> before = s.logits();
  std::vector<int32_t> extra = {50, 51, 52};
  std::vector<float> l1(env.model->hp().n_vocab), l2(env.model->hp().n_vocab);
  const uint64_t before_bytes = s.memory_bytes();
  auto f0 = s.fork();
  // The fork's snapshot is part of what the session holds; a newer fork makes an older one stale even
  // before either has read anything.
  CHECK_EQ(s.memory_bytes() - before_bytes, env.engine.new_state(1).recurrent_bytes());
  auto f1 = s.fork();
  CHECK(f0->stale());
  CHECK(!f1->stale());
  f1->append(extra.data(), 3, l1.data());
  auto f2 = s.fork();  // the session is unchanged: same snapshot, the sequence is back at the end
  CHECK(f1->stale());
  CHECK_THROWS(f1->append(extra.data(), 1));
  f2->append(extra.data(), 3, l2.data());
  CHECK(max_diff(l1, l2) == 0.0);
  CHECK(max_diff(s.logits(), before) == 0.0);
  s.pin_checkpoint_here();  // an operation on the session: the sequence goes back to the session's end
  CHECK(f2->stale());
  std::vector<int32_t> more = {60};
  std::vector<float> l3(env.model->hp().n_vocab);
  s.append(more.data(), 1, l3.data());
  doc.push_back(60);
  CHECK(max_diff(l3, fresh_logits(env.engine, doc)) <= 1e-5);
  CHECK_EQ(s.stats().forks_in_place, int64_t(3));
  // drop_checkpoints frees the fork's snapshot too.
  CHECK(s.drop_checkpoints() >= env.engine.new_state(1).recurrent_bytes());
  CHECK_EQ(s.checkpoint_bytes(), uint64_t{0});
  // append_argmax: the id of the largest logit after the tokens, in place and with shared KV alike.
  Session shared(env.engine, 256);
  shared.append(doc.data(), static_cast<int64_t>(doc.size()));
  for (Session* x : {&s, &shared}) {
    auto f = x->fork();
    std::vector<int32_t> joined = x->tokens();
    joined.insert(joined.end(), extra.begin(), extra.end());
    const auto ref = fresh_logits(env.engine, joined);
    const int32_t best = static_cast<int32_t>(std::max_element(ref.begin(), ref.end()) - ref.begin());
    CHECK_EQ(f->append_argmax(extra.data(), 3), best);
    CHECK_EQ(f->size(), x->size() + 3);
  }
  CHECK_EQ(s.stats().forks_in_place, int64_t(4));
  CHECK_EQ(shared.stats().forks_in_place, int64_t(0));
}

namespace {
// A CPU sequence whose evals and snapshots fail on demand, as a GPU's do when its memory runs out: an
// eval reads the first `read_before_failing` tokens, then throws.
class FailingSequence final : public Sequence {
 public:
  explicit FailingSequence(Engine& e, int64_t n_ctx) : inner_(e, n_ctx, false) {}
  const Model& model() const override { return inner_.model(); }
  const char* device() const override { return "cpu"; }
  int64_t n_past() const override { return inner_.n_past(); }
  int64_t n_ctx() const override { return inner_.n_ctx(); }
  void eval(const int32_t* t, int64_t n, Logits mode, float* logits) override {
    if (fail_eval) {
      fail_eval = false;
      const int64_t k = std::min(read_before_failing, n);
      if (k > 0) inner_.eval(t, k, Logits::None, nullptr);
      throw std::runtime_error("CUDA out of memory allocating KV cache of layer 3 (test)");
    }
    inner_.eval(t, n, mode, logits);
  }
  uint64_t recurrent_bytes() const override { return inner_.recurrent_bytes(); }
  uint64_t memory_bytes() const override { return inner_.memory_bytes(); }
  std::unique_ptr<Snapshot> snapshot() override {
    if (fail_snapshots) throw hybrid::OutOfMemory("out of pinned host memory for a recurrent-state snapshot (test)");
    return inner_.snapshot();
  }
  void restore(const Snapshot& s, int64_t n) override {
    if (fail_restore) throw std::runtime_error("CUDA error: an illegal memory access was encountered (test)");
    inner_.restore(s, n);
  }
  void reset() override { inner_.reset(); }

  bool fail_eval = false, fail_snapshots = false, fail_restore = false;
  int64_t read_before_failing = 0;

 private:
  CpuSequence inner_;
};
}  // namespace

TEST("a failed read or snapshot leaves the session holding exactly what it read, and usable") {
  Env env(fixture::TinyModel{});
  CheckpointPolicy policy;
  policy.stride = 8;
  auto owned = std::make_unique<FailingSequence>(env.engine, 512);
  FailingSequence& seq = *owned;
  Session s(std::move(owned), policy);
  std::vector<int32_t> doc(40);
  for (size_t i = 0; i < doc.size(); ++i) doc[i] = static_cast<int32_t>((i * 11 + 3) % 90);
  s.append(doc.data(), 20);
  // The first chunk (20 -> 24, the append splits at the stride) fails after reading 3 of its 4 tokens.
  seq.fail_eval = true;
  seq.read_before_failing = 3;
  CHECK_THROWS(s.append(doc.data() + 20, 20));
  CHECK_EQ(s.size(), int64_t(23));
  CHECK(std::equal(s.tokens().begin(), s.tokens().end(), doc.begin()));
  CHECK(max_diff(s.logits(), fresh_logits(env.engine, s.tokens())) <= 1e-5);
  // Snapshots fail: checkpoints are skipped, reads go on.
  seq.fail_snapshots = true;
  const size_t cps = s.checkpoints().size();
  s.sync(doc);
  CHECK(s.tokens() == doc);
  CHECK(s.stats().checkpoints_failed >= 2);
  CHECK_EQ(s.checkpoints().size(), cps);
  CHECK(max_diff(s.logits(), fresh_logits(env.engine, doc)) <= 1e-5);
  // A fork needs its snapshot: it fails cleanly and the session is untouched.
  CHECK_THROWS(s.fork());
  seq.fail_snapshots = false;
  auto f = s.fork();
  std::vector<int32_t> extra = {7, 8};
  std::vector<float> fl(env.model->hp().n_vocab);
  f->append(extra.data(), 2, fl.data());
  std::vector<int32_t> joined = doc;
  joined.insert(joined.end(), extra.begin(), extra.end());
  CHECK(max_diff(fl, fresh_logits(env.engine, joined)) <= 1e-5);
  // An edit in the middle after all that re-reads from a checkpoint and is right.
  std::vector<int32_t> edited = doc;
  edited[30] = 5;
  s.sync(edited);
  CHECK(max_diff(s.logits(), fresh_logits(env.engine, edited)) <= 1e-5);
  // A restore that fails (a device error) leaves an empty session that starts over, not a wrong one.
  seq.fail_restore = true;
  CHECK_THROWS(s.rollback(30));
  seq.fail_restore = false;
  CHECK_EQ(s.size(), int64_t(0));
  CHECK(s.checkpoints().empty());
  s.sync(edited);
  CHECK(max_diff(s.logits(), fresh_logits(env.engine, edited)) <= 1e-5);
  // An in-place fork whose undo fails: the same.
  auto f2 = s.fork();
  f2->append(extra.data(), 2);
  seq.fail_restore = true;
  CHECK_THROWS(s.append(extra.data(), 1));
  seq.fail_restore = false;
  CHECK_EQ(s.size(), int64_t(0));
  CHECK(f2->stale());
  s.sync(doc);
  CHECK(max_diff(s.logits(), fresh_logits(env.engine, doc)) <= 1e-5);
}

TEST_MAIN()
