// Seeded random tokens and document edits for the session tests (test_session, test_cuda_session).
#pragma once
#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

struct RandomEdits {
  std::mt19937 rng;
  int32_t vocab;
  RandomEdits(uint32_t seed, int32_t n_vocab) : rng(seed), vocab(n_vocab) {}

  uint32_t below(uint32_t bound) { return static_cast<uint32_t>(rng() % bound); }
  std::vector<int32_t> tokens(int n) {
    std::vector<int32_t> t(n);
    for (auto& x : t) x = static_cast<int32_t>(rng() % static_cast<uint32_t>(vocab));
    return t;
  }
  // `doc` with up to 4 tokens deleted at a random place and up to 5 random ones inserted there (never empty).
  std::vector<int32_t> edit(std::vector<int32_t> doc) {
    if (doc.empty()) doc.push_back(1);
    const size_t pos = rng() % doc.size();
    const size_t del = std::min<size_t>(rng() % 5, doc.size() - pos);
    doc.erase(doc.begin() + pos, doc.begin() + pos + del);
    auto ins = tokens(static_cast<int>(rng() % 6));
    doc.insert(doc.begin() + pos, ins.begin(), ins.end());
    if (doc.empty()) doc.push_back(1);
    return doc;
  }
};
