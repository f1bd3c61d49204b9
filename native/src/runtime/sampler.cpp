#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

namespace hybrid::runtime {

Sampler::Sampler(SamplerParams p) : p_(p), rng_(p.seed) {}

int32_t Sampler::argmax(const float* logits, int32_t n_vocab) {
  int32_t best = 0;
  for (int32_t i = 1; i < n_vocab; ++i)
    if (logits[i] > logits[best]) best = i;
  return best;
}

int32_t Sampler::sample(const float* logits, int32_t n_vocab, const std::vector<int32_t>& recent) {
  const bool penalties = p_.repeat_penalty != 1.0f || p_.presence_penalty != 0.0f || p_.frequency_penalty != 0.0f;
  const float* l = logits;
  if (penalties && !recent.empty()) {
    work_.assign(logits, logits + n_vocab);
    std::unordered_map<int32_t, int> counts;
    const size_t from = recent.size() > size_t(std::max(0, p_.penalty_last_n)) ? recent.size() - p_.penalty_last_n : 0;
    for (size_t i = from; i < recent.size(); ++i) counts[recent[i]]++;
    for (const auto& [tok, cnt] : counts) {
      if (tok < 0 || tok >= n_vocab) continue;
      float& v = work_[tok];
      v = v > 0 ? v / p_.repeat_penalty : v * p_.repeat_penalty;
      v -= cnt * p_.frequency_penalty + p_.presence_penalty;
    }
    l = work_.data();
  }
  if (p_.temperature <= 0.0f) return argmax(l, n_vocab);

  // Candidates sorted by logit (top-k first keeps the sort small).
  cand_.clear();
  cand_.reserve(n_vocab);
  for (int32_t i = 0; i < n_vocab; ++i) cand_.emplace_back(l[i], i);
  auto by_logit = [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); };
  size_t k = p_.top_k > 0 ? std::min<size_t>(p_.top_k, cand_.size()) : cand_.size();
  std::partial_sort(cand_.begin(), cand_.begin() + k, cand_.end(), by_logit);
  cand_.resize(k);
  // softmax with temperature
  const float max = cand_[0].first;
  double sum = 0;
  for (auto& c : cand_) {
    c.first = std::exp((c.first - max) / p_.temperature);
    sum += c.first;
  }
  for (auto& c : cand_) c.first = static_cast<float>(c.first / sum);
  // min-p: drop candidates below min_p * p(best)
  if (p_.min_p > 0.0f) {
    const float floor = p_.min_p * cand_[0].first;
    size_t keep = 1;
    while (keep < cand_.size() && cand_[keep].first >= floor) ++keep;
    cand_.resize(keep);
  }
  // top-p: smallest prefix whose mass reaches top_p
  if (p_.top_p < 1.0f) {
    double mass = 0;
    size_t keep = 0;
    while (keep < cand_.size()) {
      mass += cand_[keep++].first;
      if (mass >= p_.top_p) break;
    }
    cand_.resize(std::max<size_t>(1, keep));
  }
  double total = 0;
  for (const auto& c : cand_) total += c.first;
  std::uniform_real_distribution<double> uni(0.0, total);
  double r = uni(rng_), acc = 0;
  for (const auto& c : cand_) {
    acc += c.first;
    if (r < acc) return c.second;
  }
  return cand_.back().second;
}

}  // namespace hybrid::runtime
