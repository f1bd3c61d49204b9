// Fuzz target: a document's Session (runtime/session.h) driven through any sequence of edits — appends,
// rollbacks, edits at any position (rollback_to_edit + append), sync() to a changed token list, pinned
// checkpoints, checkpoints dropped under memory pressure, forks — on the tiny random-weight model of the
// native tests, with a small stride and a small checkpoint budget so that thinning and eviction happen.
// Differential (as tests/test_session.cpp, but on sequences the fuzzer picks): after every operation the
// session's logits equal, bit for bit, those of a fresh session that read the same tokens from the start;
// a fork's logits equal a fresh read of the session's tokens followed by the fork's.
//
// Byte 1's high bit runs the session with in-place forks (the GPU's path: the sequence cannot share its KV
// caches, so a fork reads past the session's end in the session's own sequence and the session restores its
// end before its next operation); the same checks hold.
//
// Input: byte 0 the stride (4..19), byte 1 the checkpoint budget (in states, low 7 bits) and the fork mode
// (high bit); then operations
// [op][a][b][n][tokens…]. Token ids are taken modulo the vocabulary; overflows of the context are refused
// with InputError (and must leave the session as it was).
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "fuzz_common.h"
#include "model_fixture.h"
#include "runtime/engine.h"
#include "runtime/session.h"
#include "util/error.h"

namespace {

using hybrid::runtime::Engine;
using hybrid::runtime::Session;

constexpr int64_t kCtx = 96;

struct Fixture {
  std::shared_ptr<hybrid::runtime::Model> model;
  std::unique_ptr<Engine> engine;
  int64_t vocab = 0;
  Fixture() {
    fixture::TinyModel tm;
    const std::string path = tm.write("fuzz-session");
    fixture::TempFile keep(path);
    model = hybrid::runtime::Model::load(path);  // the file is mapped: removing it after loading is fine
    engine = std::make_unique<Engine>(model, 1, 16);
    vocab = model->hp().n_vocab;
  }
};

Fixture& fx() {
  static Fixture f;
  return f;
}

std::vector<float> fresh_logits(const std::vector<int32_t>& tokens) {
  hybrid::runtime::CheckpointPolicy none;
  none.enabled = false;
  Session s(*fx().engine, kCtx, none);
  std::vector<float> out(static_cast<size_t>(fx().vocab));
  s.append(tokens.data(), static_cast<int64_t>(tokens.size()), out.data());
  return out;
}

void check_same(const std::vector<float>& got, const std::vector<float>& want, const char* what, size_t n_tokens) {
  FUZZ_CHECK(got.size() == want.size(), "%s: %zu logits, expected %zu", what, got.size(), want.size());
  FUZZ_CHECK(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)) == 0,
             "%s: logits after %zu tokens differ from a fresh read (first: %.9g vs %.9g)", what, n_tokens, got[0], want[0]);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Reader in(data, size);
  hybrid::runtime::CheckpointPolicy policy;
  policy.stride = 4 + in.u8() % 16;
  policy.dense = 2;
  policy.edit_margin = 3;
  const uint64_t one_state = [] {
    Session probe(*fx().engine, kCtx);
    return probe.memory_bytes();  // an upper bound of one checkpoint's size
  }();
  const uint8_t b1 = in.u8();
  policy.budget_bytes = one_state * (1 + (b1 & 0x7f) % 6);
  const bool in_place_forks = (b1 & 0x80) != 0;
  Session s(std::make_unique<hybrid::runtime::CpuSequence>(*fx().engine, kCtx, !in_place_forks), policy);
  const int64_t V = fx().vocab;
  auto tokens_from = [&](size_t n) {
    std::vector<int32_t> t;
    for (size_t i = 0; i < n; ++i) t.push_back(static_cast<int32_t>(in.u8() % V));
    return t;
  };
  int ops = 0;
  while (!in.empty() && ops++ < 24) {
    const uint8_t op = in.u8();
    const int64_t a = in.u8(), b = in.u8();
    const size_t n = in.u8() % 24;
    const int64_t size_before = s.size();
    const std::vector<int32_t> before = s.tokens();
    try {
      switch (op % 8) {
        case 0: {  // typing: append
          auto t = tokens_from(n);
          s.append(t.data(), static_cast<int64_t>(t.size()));
          break;
        }
        case 1:  // a cut
          s.rollback(s.size() ? a % (s.size() + 1) : 0);
          break;
        case 2: {  // an edit somewhere: rollback_to_edit, then the new tokens
          if (s.size() == 0) break;
          const int64_t at = a % s.size();
          const int64_t kept = s.rollback_to_edit(at);
          FUZZ_CHECK(kept <= at, "rollback_to_edit(%lld) kept %lld tokens", (long long)at, (long long)kept);
          std::vector<int32_t> t(before.begin() + kept, before.begin() + at);
          auto more = tokens_from(n);
          t.insert(t.end(), more.begin(), more.end());
          s.append(t.data(), static_cast<int64_t>(t.size()));
          break;
        }
        case 3: {  // sync to the tokens with a span replaced
          std::vector<int32_t> target = before;
          const size_t from = target.empty() ? 0 : a % (target.size() + 1);
          const size_t to = std::min(target.size(), from + b % 8);
          auto t = tokens_from(n);
          target.erase(target.begin() + from, target.begin() + to);
          target.insert(target.begin() + from, t.begin(), t.end());
          if (target.empty()) break;
          std::vector<float> logits(static_cast<size_t>(V));
          s.sync(target, logits.data());
          FUZZ_CHECK(s.tokens() == target, "sync() did not reach the target");
          check_same(logits, fresh_logits(target), "sync", target.size());
          break;
        }
        case 4:
          s.pin_checkpoint_here();
          break;
        case 5:
          s.drop_checkpoints();
          break;
        case 6: {  // a fork at the end, as a completion reads its FIM suffix
          if (s.size() == 0) break;
          auto f = s.fork();
          auto t = tokens_from(1 + n % 8);
          std::vector<float> logits(static_cast<size_t>(V));
          f->append(t.data(), static_cast<int64_t>(t.size()), logits.data());
          std::vector<int32_t> all = s.tokens();
          all.insert(all.end(), t.begin(), t.end());
          check_same(logits, fresh_logits(all), "fork", all.size());
          if (in_place_forks && (op & 0x20)) {  // a second fork: the first is stale, the second reads right
            auto g = s.fork();
            FUZZ_CHECK(f->stale(), "an older in-place fork is not stale after a newer fork");
            g->append(t.data(), static_cast<int64_t>(t.size()), logits.data());
            check_same(logits, fresh_logits(all), "second fork", all.size());
            f = std::move(g);
          }
          if (op & 0x80) {  // the session changes: the fork is stale and says so
            const int32_t x = 1;
            if (s.size() < kCtx) {
              s.append(&x, 1);
              FUZZ_CHECK(f->stale(), "a fork is not stale after its session changed");
              try {
                f->append(&x, 1);
                FUZZ_CHECK(false, "a stale fork accepted an append");
              } catch (const std::logic_error&) {
              }
            }
          }
          break;
        }
        default: {  // a bad token id: refused before anything is read
          int32_t bad[2] = {static_cast<int32_t>(V + a), -1 - static_cast<int32_t>(b)};
          try {
            s.append(bad + (op & 1), 1);
            FUZZ_CHECK(false, "token id %d accepted", bad[op & 1]);
          } catch (const hybrid::InputError&) {
          }
          FUZZ_CHECK(s.tokens() == before, "a refused append changed the session");
          break;
        }
      }
    } catch (const hybrid::InputError&) {
      // context overflow: refused, and the session is as it was
      FUZZ_CHECK(s.size() <= kCtx, "the session holds %lld tokens, context %lld", (long long)s.size(), (long long)kCtx);
      if (op % 8 == 0) FUZZ_CHECK(s.tokens() == before && s.size() == size_before, "a refused append changed the session");
      continue;
    }
    FUZZ_CHECK(s.size() <= kCtx, "the session holds %lld tokens", (long long)s.size());
    for (size_t i = 1; i < s.checkpoints().size(); ++i)
      FUZZ_CHECK(s.checkpoints()[i - 1].n < s.checkpoints()[i].n, "checkpoints out of order");
    for (const auto& c : s.checkpoints()) FUZZ_CHECK(c.n <= s.size(), "checkpoint at %lld past the end %lld", (long long)c.n, (long long)s.size());
    if (s.size() > 0 && (op & 0x40)) check_same(s.logits(), fresh_logits(s.tokens()), "session", s.tokens().size());
  }
  if (s.size() > 0) check_same(s.logits(), fresh_logits(s.tokens()), "session at the end", s.tokens().size());
  return 0;
}
