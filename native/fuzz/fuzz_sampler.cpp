// Fuzz target: the token sampler on any logits — those of a model file with NaN or infinite weights
// included — and any sampling parameters within the protocol's ranges (src/shared/protocol.ts: temperature
// 0..100, top-k 0..2^20, top-p and min-p 0..1, penalties -100..100, repeat penalty 0..100).
// Property: sample() always returns an id in [0, n_vocab), also when every probability is NaN.
//
// Input: the parameters (8 bytes), the vocabulary size (1..512), the recent tokens, then the logits as
// floats (missing ones are 0; one byte in eight is turned into NaN, ±inf or a huge value).
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "fuzz_common.h"
#include "runtime/sampler.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Reader in(data, size);
  hybrid::runtime::SamplerParams p;
  const float temps[] = {0.0f, 1e-6f, 0.1f, 0.7f, 1.0f, 2.0f, 100.0f, 0.0f};
  p.temperature = temps[in.u8() % 8];
  p.top_k = static_cast<int32_t>(in.u16()) - 1;  // -1..65534
  p.top_p = in.u8() / 255.0f;
  p.min_p = in.u8() / 255.0f;
  const float pens[] = {1.0f, 0.0f, 1e-30f, 0.5f, 1.1f, 2.0f, 100.0f, 1.0f};
  p.repeat_penalty = pens[in.u8() % 8];
  p.presence_penalty = (static_cast<int>(in.u8()) - 128) / 1.28f;
  p.frequency_penalty = (static_cast<int>(in.u8()) - 128) / 1.28f;
  p.seed = in.u8();
  const int32_t n_vocab = 1 + static_cast<int32_t>(in.u16() % 512);
  std::vector<int32_t> recent;
  for (size_t n = in.u8() % 64; n > 0; --n) recent.push_back(static_cast<int32_t>(in.u16() % (n_vocab + 8)) - 4);  // some out of range
  std::vector<float> logits(static_cast<size_t>(n_vocab), 0.0f);
  for (int32_t i = 0; i < n_vocab && in.left() >= 4; ++i) {
    const uint32_t bits = in.u32();
    float v;
    std::memcpy(&v, &bits, 4);
    switch (bits & 7) {
      case 0: v = std::numeric_limits<float>::quiet_NaN(); break;
      case 1: v = (bits & 8) ? std::numeric_limits<float>::infinity() : -std::numeric_limits<float>::infinity(); break;
      case 2: v = (bits & 8) ? 3e38f : -3e38f; break;
      default: if (!std::isfinite(v)) v = 0.0f; break;
    }
    logits[static_cast<size_t>(i)] = v;
  }
  hybrid::runtime::Sampler s(p);
  for (int k = 0; k < 3; ++k) {
    const int32_t t = s.sample(logits.data(), n_vocab, recent);
    FUZZ_CHECK(t >= 0 && t < n_vocab, "sample() returned %d for a vocabulary of %d (temperature %g, top_k %d)", t, n_vocab,
               p.temperature, p.top_k);
    recent.push_back(t);
  }
  const int32_t g = hybrid::runtime::Sampler::argmax(logits.data(), n_vocab);
  FUZZ_CHECK(g >= 0 && g < n_vocab, "argmax() returned %d of %d", g, n_vocab);
  return 0;
}
