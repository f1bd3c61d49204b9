// IEEE half (f16) and bfloat16 conversions, bit-exact and independent of the FPU's rounding mode.
// fp32 -> f16 and fp32 -> bf16 round to nearest, ties to even, like F16C's vcvtps2ph and ggml's
// GGML_FP32_TO_FP16 / GGML_FP32_TO_BF16 (ggml/src/ggml-impl.h): that makes our rounded activations and
// the scales of our quantized blocks equal to llama.cpp's, bit for bit.
#pragma once
#include <cstdint>
#include <cstring>

namespace hybrid::formats {

inline uint32_t f32_bits(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }
inline float f32_from_bits(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }

inline float fp16_to_fp32(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  if (exp == 0x1f) return f32_from_bits(sign | 0x7f800000 | (mant << 13));  // inf / NaN
  if (exp != 0) return f32_from_bits(sign | ((exp + 112) << 23) | (mant << 13));
  if (mant == 0) return f32_from_bits(sign);
  // subnormal: mant * 2^-24, exact in f32
  float v = static_cast<float>(mant) * (1.0f / 16777216.0f);
  return sign ? -v : v;
}

inline uint16_t fp32_to_fp16(float f) {
  uint32_t u = f32_bits(f);
  uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000);
  uint32_t a = u & 0x7fffffff;
  if (a >= 0x7f800000) return sign | (a > 0x7f800000 ? 0x7e00 : 0x7c00);  // NaN stays NaN (quiet), inf
  if (a >= 0x47800000) return sign | 0x7c00;                              // >= 65536: overflow to inf
  if (a >= 0x38800000) {                                                  // normal half (>= 2^-14)
    uint32_t r = a - 0x38000000;  // re-bias the exponent from 127 to 15
    uint32_t h = r >> 13, rem = r & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) ++h;  // a carry into the exponent is right (up to inf)
    return static_cast<uint16_t>(sign | h);
  }
  if (a <= 0x33000000) return sign;  // <= 2^-25: rounds to zero (2^-25 is a tie, to even)
  uint32_t e = a >> 23, m = (a & 0x7fffff) | 0x800000;
  uint32_t shift = 126 - e;  // value = m * 2^(e-150); in units of 2^-24 that is m >> (126 - e), 14..24
  uint32_t h = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
  if (rem > half || (rem == half && (h & 1))) ++h;
  return static_cast<uint16_t>(sign | h);
}

inline float bf16_to_fp32(uint16_t h) { return f32_from_bits(static_cast<uint32_t>(h) << 16); }

inline uint16_t fp32_to_bf16(float f) {
  uint32_t u = f32_bits(f);
  if ((u & 0x7fffffff) > 0x7f800000) return static_cast<uint16_t>((u >> 16) | 64);  // quiet NaN
  return static_cast<uint16_t>((u + (0x7fff + ((u >> 16) & 1))) >> 16);
}

}  // namespace hybrid::formats
