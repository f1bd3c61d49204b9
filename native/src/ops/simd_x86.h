// Internal to ops/: x86 helpers shared by the one-token (gemv_kernels_x86.cpp) and many-token
// (gemm_x86_avx512.cpp) kernels, so that both perform the canonical arithmetic of gemv_kernels.h with the
// same instructions where it is a float operation. Only included where HYBRID_X86_KERNELS is set.
#pragma once
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
// GCC 12's AVX-512 headers pass _mm512_undefined_*() (a self-initialised variable) as the unused merge
// source of unmasked intrinsics, which -Wuninitialized reports at every use; nothing is read from it.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <cmath>
#include <cstdint>

#define HYBRID_X86_KERNELS 1
#define HYBRID_AVX2_FN __attribute__((target("avx2,fma,f16c")))
#define HYBRID_AVXVNNI_FN __attribute__((target("avx2,fma,f16c,avxvnni")))
#define HYBRID_AVX512_FN __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))
// A lambda inside a HYBRID_AVX512_FN function does not inherit its target: mark it (after the parameters).
#define HYBRID_AVX512_LAMBDA __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni"), always_inline))

namespace hybrid::ops::x86 {

// The canonical 16-lane float reduction (gemv_kernels.h), given lanes 0..7 and 8..15.
HYBRID_AVX2_FN inline float reduce16(__m256 lo, __m256 hi) {
  const __m256 s8 = _mm256_add_ps(lo, hi);
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Four exact int32 sums, one per argument: [sum(a), sum(b), sum(c), sum(d)].
HYBRID_AVX2_FN inline __m128i hsum4_epi32(__m256i a, __m256i b, __m256i c, __m256i d) {
  const __m256i ab = _mm256_hadd_epi32(a, b);
  const __m256i cd = _mm256_hadd_epi32(c, d);
  const __m256i abcd = _mm256_hadd_epi32(ab, cd);
  return _mm_add_epi32(_mm256_castsi256_si128(abcd), _mm256_extracti128_si256(abcd, 1));
}

// Four f16 values (at p0..p3) as f32.
HYBRID_AVX2_FN inline __m128 load4_f16(const uint16_t* p0, const uint16_t* p1, const uint16_t* p2, const uint16_t* p3) {
  return _mm_cvtph_ps(_mm_setr_epi16(static_cast<short>(*p0), static_cast<short>(*p1), static_cast<short>(*p2),
                                     static_cast<short>(*p3), 0, 0, 0, 0));
}

HYBRID_AVX2_FN inline float f16_to_f32(uint16_t h) { return _cvtsh_ss(h); }

}  // namespace hybrid::ops::x86

#endif
