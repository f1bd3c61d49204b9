// The state budget across document sessions (addon/generation.h, plain C++): when all sessions together
// hold more than the budget, the least recently used lose their checkpoints first, then themselves, and
// the session just served keeps its state.
#include <atomic>

#include "../addon/generation.h"
#include "check.h"
#include "model_fixture.h"

using namespace hybrid;

TEST("least recently used sessions lose checkpoints, then themselves; the current one keeps its state") {
  fixture::TinyModel tm;
  fixture::TempFile file(tm.write("budget"));
  addon::LoadOptions lo;
  lo.threads = 1;
  lo.max_batch = 32;
  lo.device = "cpu";
  auto lm = addon::load_model(file.path, lo, [](const addon::LoadProgress&) {});
  std::atomic<bool> cancel{false};
  auto run = [&](std::shared_ptr<addon::DocSession>& doc, int seed) {
    addon::GenerateRequest req;
    addon::PromptPart part;
    part.is_tokens = true;
    for (int i = 0; i < 300; ++i) part.tokens.push_back((i * 7 + seed) % static_cast<int>(tm.V));
    req.prompt.push_back(part);
    req.session = doc;
    req.max_tokens = 2;
    std::lock_guard<std::mutex> lock(lm->compute);
    return addon::generate(*lm, req, cancel, [](const addon::Chunk&) {});
  };
  std::vector<std::shared_ptr<addon::DocSession>> docs;
  for (int i = 0; i < 3; ++i) {
    auto d = std::make_shared<addon::DocSession>();
    d->model = lm;
    d->n_ctx = 1024;
    d->policy.stride = 32;
    docs.push_back(d);
  }
  run(docs[0], 1);
  const uint64_t one = docs[0]->session->memory_bytes();
  CHECK(docs[0]->session->checkpoints().size() > 2);
  // Room for about two sessions: serving a third evicts from the least recently used (docs[0]).
  lm->state_budget_bytes = one * 2 + one / 2;
  run(docs[1], 2);
  CHECK(lm->evicted_checkpoint_bytes == 0);
  run(docs[2], 3);
  std::printf("  one session %.1f KiB; evicted %.1f KiB of checkpoints, %llu sessions\n", one / 1024.0,
              lm->evicted_checkpoint_bytes / 1024.0, (unsigned long long)lm->evicted_sessions);
  CHECK(lm->evicted_checkpoint_bytes > 0 || lm->evicted_sessions > 0);
  CHECK(docs[2]->session != nullptr);
  CHECK(!docs[2]->session->checkpoints().empty());
  uint64_t total = 0;
  for (auto& d : docs)
    if (d->session) total += d->session->memory_bytes();
  CHECK(total <= lm->state_budget_bytes);
  // A tight budget releases whole sessions; the next request for one reads its document again.
  lm->state_budget_bytes = one + one / 4;
  run(docs[1], 2);
  CHECK(docs[0]->session == nullptr || docs[2]->session == nullptr);
  CHECK(lm->evicted_sessions >= 1);
  auto r = run(docs[0], 1);
  CHECK(docs[0]->session != nullptr);
  CHECK(r.read_tokens >= 300);
}

TEST_MAIN()
