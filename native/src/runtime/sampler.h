// Token sampling: penalties (repetition, presence, frequency over a recent window), then temperature,
// top-k, top-p and min-p, then a seeded draw; temperature 0 is greedy (argmax, lowest id on ties).
#pragma once
#include <cstdint>
#include <random>
#include <vector>

namespace hybrid::runtime {

struct SamplerParams {
  float temperature = 0.0f;  // 0: greedy
  int32_t top_k = 40;        // <= 0: off
  float top_p = 0.95f;       // >= 1: off
  float min_p = 0.05f;       // <= 0: off
  float repeat_penalty = 1.0f;    // 1: off (llama.cpp's rule: logit / p when > 0, * p when < 0)
  float presence_penalty = 0.0f;  // subtracted once per distinct recent token
  float frequency_penalty = 0.0f; // subtracted per occurrence
  int32_t penalty_last_n = 64;
  uint64_t seed = 0;
};

class Sampler {
 public:
  explicit Sampler(SamplerParams p);
  // Chooses the next token from logits[n_vocab]; `recent` are the previous tokens (for penalties).
  int32_t sample(const float* logits, int32_t n_vocab, const std::vector<int32_t>& recent);
  static int32_t argmax(const float* logits, int32_t n_vocab);

 private:
  SamplerParams p_;
  std::mt19937_64 rng_;
  std::vector<std::pair<float, int32_t>> cand_;
  std::vector<float> work_;
};

}  // namespace hybrid::runtime
