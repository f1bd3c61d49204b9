// ggml's block layouts (ggml/src/ggml-common.h), byte for byte. f16 fields are raw IEEE half bits.
#pragma once
#include <cstdint>

namespace hybrid::formats {

constexpr int kQK8_0 = 32;
constexpr int kQK4_0 = 32;
constexpr int kQK_K = 256;

// value[j] = d * qs[j]
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[kQK8_0];
};

// value[j] = d * ((qs[j] & 0xF) - 8), value[j + 16] = d * ((qs[j] >> 4) - 8), j < 16
struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[kQK4_0 / 2];
};

// value[j] = d * (qs[j] & 0xF) + m, value[j + 16] = d * (qs[j] >> 4) + m, j < 16
struct BlockQ4_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qs[kQK4_0 / 2];
};

// Q4_0 with a fifth bit: bit j of the little-endian u32 qh is the high bit of value j (j < 32);
// value = d * (q - 16).
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[kQK4_0 / 2];
};

// Q5_0's layout with an offset instead of the -16: value = d * q + m.
struct BlockQ5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[kQK4_0 / 2];
};

// Activations for Q4_1/Q5_1 dot products: Q8_0 plus s = d * sum(qs) (f16).
struct BlockQ8_1 {
  uint16_t d;
  uint16_t s;
  int8_t qs[kQK8_0];
};

// 8 sub-blocks of 32 with 6-bit scales and mins packed in `scales` (see scale_min_k4).
// Per 64 values (chunk c): sub-block 2c = low nibbles of qs[32c..32c+31], 2c+1 = high nibbles;
// value = d * sc * q - dmin * m.
struct BlockQ4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qs[kQK_K / 2];
};

// Q4_K plus a fifth bit: for chunk c, bit 2c of qh[l] is the high bit of sub-block 2c's value l,
// bit 2c+1 that of sub-block 2c+1's.
struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qh[kQK_K / 8];
  uint8_t qs[kQK_K / 2];
};

// 16 sub-blocks of 16 with int8 scales; 6-bit quants (q - 32), low 4 bits in ql, high 2 in qh.
// Per 128 values (half h): ql = ql + 64h, qh = qh + 32h, for l < 32:
//   v[l]    = (ql[l] & 0xF)    | ((qh[l] >> 0) & 3) << 4
//   v[l+32] = (ql[l+32] & 0xF) | ((qh[l] >> 2) & 3) << 4
//   v[l+64] = (ql[l] >> 4)     | ((qh[l] >> 4) & 3) << 4
//   v[l+96] = (ql[l+32] >> 4)  | ((qh[l] >> 6) & 3) << 4
// value[e] = d * scales[8h + e/16] * (v[e] - 32), e < 128.
struct BlockQ6_K {
  uint8_t ql[kQK_K / 2];
  uint8_t qh[kQK_K / 4];
  int8_t scales[kQK_K / 16];
  uint16_t d;
};

// Activations for K-quant dot products: value = d * qs; bsums = sums of 16 quants.
struct BlockQ8_K {
  float d;
  int8_t qs[kQK_K];
  int16_t bsums[kQK_K / 16];
};

static_assert(sizeof(BlockQ8_0) == 34, "Q8_0 block");
static_assert(sizeof(BlockQ4_0) == 18, "Q4_0 block");
static_assert(sizeof(BlockQ4_1) == 20, "Q4_1 block");
static_assert(sizeof(BlockQ5_0) == 22, "Q5_0 block");
static_assert(sizeof(BlockQ5_1) == 24, "Q5_1 block");
static_assert(sizeof(BlockQ8_1) == 36, "Q8_1 block");
static_assert(sizeof(BlockQ4_K) == 144, "Q4_K block");
static_assert(sizeof(BlockQ5_K) == 176, "Q5_K block");
static_assert(sizeof(BlockQ6_K) == 210, "Q6_K block");
static_assert(sizeof(BlockQ8_K) == 292, "Q8_K block");

// The 6-bit scale and min of sub-block j (0..7) of a Q4_K/Q5_K block (ggml's get_scale_min_k4):
// j < 4: sc = s[j] & 63, m = s[j+4] & 63; else the low 4 bits come from s[j+4] and the high 2 bits
// from the top bits of s[j-4] (scale) and s[j] (min).
inline void scale_min_k4(int j, const uint8_t* s, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = s[j] & 63;
    *m = s[j + 4] & 63;
  } else {
    *sc = static_cast<uint8_t>((s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
  }
}

}  // namespace hybrid::formats
