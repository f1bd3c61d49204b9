// AVX2 + FMA + F16C vec_dot kernels (runtime dispatch: formats.cpp picks them when query_cpu() reports
// avx2, fma and f16c). Integer products use the sign trick of ggml's x86 kernels: |w| as u8 times
// sign(w)*a as s8 with maddubs, which cannot saturate for these value ranges.
#include "formats/kernels.h"

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define HYBRID_HAVE_AVX2_CODE 1
#include <immintrin.h>

#include <cstring>

#include "formats/blocks.h"
#include "formats/half.h"

#define HYBRID_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace hybrid::formats::detail {
namespace {

HYBRID_AVX2 inline float hsum_ps(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

HYBRID_AVX2 inline int hsum_epi32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(s);
}

// 8 int32 sums of 4 products of signed bytes each.
HYBRID_AVX2 inline __m256i dot_i8(__m256i x, __m256i y) {
  const __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
  return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

// Unsigned bytes (< 64) times signed bytes, pairs summed to int16, then weighted by an int16 scale per
// 128-bit half and summed to int32.
HYBRID_AVX2 inline __m256i dot_u8_scaled(__m256i u, __m256i s, __m256i scale16) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), scale16);
}

HYBRID_AVX2 float dot_f32(const void* w, const void* x, int64_t n) {
  const float* a = static_cast<const float*>(w);
  const float* b = static_cast<const float*>(x);
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps(), acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
    acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), acc2);
    acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), acc3);
  }
  for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
  float s = hsum_ps(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

HYBRID_AVX2 float dot_f16(const void* w, const void* x, int64_t n) {
  const uint16_t* a = static_cast<const uint16_t*>(w);
  const uint16_t* b = static_cast<const uint16_t*>(x);
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i))),
                           _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i))), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i + 8))),
                           _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i + 8))), acc1);
  }
  float s = hsum_ps(_mm256_add_ps(acc0, acc1));
  for (; i < n; ++i) s += fp16_to_fp32(a[i]) * fp16_to_fp32(b[i]);
  return s;
}

HYBRID_AVX2 inline __m256 load_bf16(const uint16_t* p) {
  const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}

HYBRID_AVX2 float dot_bf16(const void* w, const void* x, int64_t n) {
  const uint16_t* a = static_cast<const uint16_t*>(w);
  const uint16_t* b = static_cast<const uint16_t*>(x);
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(load_bf16(a + i), load_bf16(b + i), acc0);
    acc1 = _mm256_fmadd_ps(load_bf16(a + i + 8), load_bf16(b + i + 8), acc1);
  }
  float s = hsum_ps(_mm256_add_ps(acc0, acc1));
  for (; i < n; ++i) s += bf16_to_fp32(a[i]) * bf16_to_fp32(b[i]);
  return s;
}

HYBRID_AVX2 float dot_q8_0(const void* w, const void* x, int64_t n) {
  const BlockQ8_0* a = static_cast<const BlockQ8_0*>(w);
  const BlockQ8_0* b = static_cast<const BlockQ8_0*>(x);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQK8_0; ++i) {
    const __m256 d = _mm256_set1_ps(fp16_to_fp32(a[i].d) * fp16_to_fp32(b[i].d));
    const __m256i qa = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qs));
    const __m256i qb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs));
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_i8(qa, qb)), acc);
  }
  return hsum_ps(acc);
}

HYBRID_AVX2 float dot_q4_0(const void* w, const void* x, int64_t n) {
  const BlockQ4_0* a = static_cast<const BlockQ4_0*>(w);
  const BlockQ8_0* b = static_cast<const BlockQ8_0*>(x);
  const __m256i low4 = _mm256_set1_epi8(0xF), eight = _mm256_set1_epi8(8);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQK4_0; ++i) {
    const __m256 d = _mm256_set1_ps(fp16_to_fp32(a[i].d) * fp16_to_fp32(b[i].d));
    const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a[i].qs));
    // low nibbles are values 0..15, high nibbles 16..31
    __m256i qa = _mm256_and_si256(_mm256_inserti128_si256(_mm256_castsi128_si256(raw), _mm_srli_epi16(raw, 4), 1), low4);
    qa = _mm256_sub_epi8(qa, eight);
    const __m256i qb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs));
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_i8(qa, qb)), acc);
  }
  return hsum_ps(acc);
}

// 32 bits -> 32 bytes, 0xFF where the bit is set (byte k of the result is bit k of the little-endian u32).
HYBRID_AVX2 inline __m256i bytes_from_bits(const uint8_t* p) {
  uint32_t bits;
  std::memcpy(&bits, p, 4);
  const __m256i shuf = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0x0000000000000000);
  const __m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(bits)), shuf);
  const __m256i all_but_bit = _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe);  // byte k of each 8 lacks bit k
  return _mm256_cmpeq_epi8(_mm256_or_si256(bytes, all_but_bit), _mm256_set1_epi64x(-1));
}

// The 32 nibbles of a Q4_*/Q5_* block as bytes 0..15, values 0..15 first then 16..31.
HYBRID_AVX2 inline __m256i nibbles(const uint8_t* qs) {
  const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  return _mm256_and_si256(_mm256_inserti128_si256(_mm256_castsi128_si256(raw), _mm_srli_epi16(raw, 4), 1), _mm256_set1_epi8(0xF));
}

HYBRID_AVX2 float dot_q5_0(const void* w, const void* x, int64_t n) {
  const BlockQ5_0* a = static_cast<const BlockQ5_0*>(w);
  const BlockQ8_0* b = static_cast<const BlockQ8_0*>(x);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQK4_0; ++i) {
    const __m256 d = _mm256_set1_ps(fp16_to_fp32(a[i].d) * fp16_to_fp32(b[i].d));
    // nibble | (high bit clear ? 0xF0 : 0) is (nibble | high << 4) - 16 as a signed byte
    const __m256i hi = _mm256_andnot_si256(bytes_from_bits(a[i].qh), _mm256_set1_epi8(static_cast<char>(0xF0)));
    const __m256i qa = _mm256_or_si256(nibbles(a[i].qs), hi);
    const __m256i qb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs));
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_i8(qa, qb)), acc);
  }
  return hsum_ps(acc);
}

// Q4_1 / Q5_1 times Q8_1: unsigned quants times signed activations, plus m * s per block.
template <bool kFive, typename Block>
HYBRID_AVX2 float dot_q41_q51(const void* w, const void* x, int64_t n) {
  const Block* a = static_cast<const Block*>(w);
  const BlockQ8_1* b = static_cast<const BlockQ8_1*>(x);
  __m256 acc = _mm256_setzero_ps();
  float summs = 0;
  for (int64_t i = 0; i < n / kQK4_0; ++i) {
    const __m256 d = _mm256_set1_ps(fp16_to_fp32(a[i].d) * fp16_to_fp32(b[i].d));
    summs += fp16_to_fp32(a[i].m) * fp16_to_fp32(b[i].s);
    __m256i qa = nibbles(a[i].qs);
    if constexpr (kFive) qa = _mm256_or_si256(qa, _mm256_and_si256(bytes_from_bits(a[i].qh), _mm256_set1_epi8(0x10)));
    const __m256i qb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs));
    const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(qa, qb), _mm256_set1_epi16(1));
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(p), acc);
  }
  return hsum_ps(acc) + summs;
}

// Q4_K / Q5_K: per 64 values, the low nibbles (sub-block 2c) and high nibbles (2c+1) of 32 bytes,
// plus for Q5_K bit 2c / 2c+1 of qh as the fifth bit.
template <bool kFive, typename Block>
HYBRID_AVX2 float dot_k4(const void* w, const void* x, int64_t n) {
  const Block* a = static_cast<const Block*>(w);
  const BlockQ8_K* b = static_cast<const BlockQ8_K*>(x);
  const __m256i low4 = _mm256_set1_epi8(0xF), one = _mm256_set1_epi8(1);
  float s = 0;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    __m256i acc = _mm256_setzero_si256();
    int summ = 0;
    __m256i hbits = _mm256_setzero_si256();
    if constexpr (kFive) hbits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qh));
    for (int c = 0; c < 4; ++c) {
      uint8_t sc1, m1, sc2, m2;
      scale_min_k4(2 * c, a[i].scales, &sc1, &m1);
      scale_min_k4(2 * c + 1, a[i].scales, &sc2, &m2);
      summ += m1 * (b[i].bsums[4 * c] + b[i].bsums[4 * c + 1]) + m2 * (b[i].bsums[4 * c + 2] + b[i].bsums[4 * c + 3]);
      const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qs + 32 * c));
      __m256i lo = _mm256_and_si256(q, low4);
      __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);
      if constexpr (kFive) {
        lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hbits, 2 * c), one), 4));
        hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hbits, 2 * c + 1), one), 4));
      }
      const __m256i a_lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs + 64 * c));
      const __m256i a_hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs + 64 * c + 32));
      acc = _mm256_add_epi32(acc, dot_u8_scaled(lo, a_lo, _mm256_set1_epi16(sc1)));
      acc = _mm256_add_epi32(acc, dot_u8_scaled(hi, a_hi, _mm256_set1_epi16(sc2)));
    }
    s += fp16_to_fp32(a[i].d) * b[i].d * hsum_epi32(acc) - fp16_to_fp32(a[i].dmin) * b[i].d * summ;
  }
  return s;
}

HYBRID_AVX2 float dot_q6_k(const void* w, const void* x, int64_t n) {
  const BlockQ6_K* a = static_cast<const BlockQ6_K*>(w);
  const BlockQ8_K* b = static_cast<const BlockQ8_K*>(x);
  const __m256i low4 = _mm256_set1_epi8(0xF), bits45 = _mm256_set1_epi8(0x30);
  float s = 0;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    __m256i acc = _mm256_setzero_si256();
    int corr = 0;  // sum of scale * (sum of activation quants) per sub-block: the "- 32" of every value
    for (int g = 0; g < 16; ++g) corr += a[i].scales[g] * b[i].bsums[g];
    for (int h = 0; h < 2; ++h) {
      const __m256i ql0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].ql + 64 * h));
      const __m256i ql1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].ql + 64 * h + 32));
      const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qh + 32 * h));
      __m256i v[4];
      v[0] = _mm256_or_si256(_mm256_and_si256(ql0, low4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), bits45));
      v[1] = _mm256_or_si256(_mm256_and_si256(ql1, low4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), bits45));
      v[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low4), _mm256_and_si256(qh, bits45));
      v[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), low4), _mm256_and_si256(_mm256_srli_epi16(qh, 2), bits45));
      for (int k = 0; k < 4; ++k) {
        const __m256i act = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs + 128 * h + 32 * k));
        const int8_t* sc = a[i].scales + 8 * h + 2 * k;  // bytes 0..15 use sc[0], 16..31 sc[1]
        const __m256i scale = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_set1_epi16(sc[0])), _mm_set1_epi16(sc[1]), 1);
        acc = _mm256_add_epi32(acc, dot_u8_scaled(v[k], act, scale));
      }
    }
    s += fp16_to_fp32(a[i].d) * b[i].d * (hsum_epi32(acc) - 32 * corr);
  }
  return s;
}

}  // namespace

const VecDotTable* avx2_kernels() {
  static const VecDotTable t{dot_f32,
                             dot_f16,
                             dot_bf16,
                             dot_q8_0,
                             dot_q4_0,
                             dot_q41_q51<false, BlockQ4_1>,
                             dot_q5_0,
                             dot_q41_q51<true, BlockQ5_1>,
                             dot_k4<false, BlockQ4_K>,
                             dot_k4<true, BlockQ5_K>,
                             dot_q6_k};
  return &t;
}

}  // namespace hybrid::formats::detail

#else

namespace hybrid::formats::detail {
const VecDotTable* avx2_kernels() { return nullptr; }
}  // namespace hybrid::formats::detail

#endif
