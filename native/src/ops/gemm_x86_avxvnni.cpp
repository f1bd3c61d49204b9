// AVX2 + AVX-VNNI many-token matmul kernels (gemm_kernels.h): the kernels of gemm_impl_x86.h on 8-lane
// vectors (Intel client cores since Alder Lake, AMD Zen 5), VEX-encoded vpdpbusd for the integer formats.
#include <cmath>
#include <cstring>

#include "formats/blocks.h"
#include "formats/half.h"
#include "ops/gemm_kernels.h"
#include "ops/simd_x86.h"

#if HYBRID_X86_KERNELS
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,avxvnni"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avxvnni")
#endif

namespace hybrid::ops {
namespace {

// 16 vector registers: 4 rows x 1 group of 8 tokens for the integer kernels, 2 rows x 3 tokens (two
// vectors each for the 16 canonical lanes) for the float kernels.
struct V256 {
  static constexpr int L = 8, kRows = 4, kGroups = 1, kFloatTokens = 3, kFloatRows = 2;
  using I = __m256i;
  using F = __m256;
  static I loadi(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
  static F loadf(const float* p) { return _mm256_loadu_ps(p); }
  static void storef(float* p, F v) { _mm256_storeu_ps(p, v); }
  static I set1i(int32_t v) { return _mm256_set1_epi32(v); }
  static F set1f(float v) { return _mm256_set1_ps(v); }
  static I zeroi() { return _mm256_setzero_si256(); }
  static F zerof() { return _mm256_setzero_ps(); }
  static I dpbusd(I acc, I a, I b) { return _mm256_dpbusd_avx_epi32(acc, a, b); }
  static I dpwssd(I acc, I a, I b) { return _mm256_dpwssd_avx_epi32(acc, a, b); }
  static I addi(I a, I b) { return _mm256_add_epi32(a, b); }
  static I mullo(I a, I b) { return _mm256_mullo_epi32(a, b); }
  static F cvt(I a) { return _mm256_cvtepi32_ps(a); }
  static F mul(F a, F b) { return _mm256_mul_ps(a, b); }
  static F sub(F a, F b) { return _mm256_sub_ps(a, b); }
  static F fma(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
  static F maxf(F a, F b) { return _mm256_max_ps(a, b); }
  static F absf(F a) { return _mm256_and_ps(a, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff))); }
  static float reduce_max(F a) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
  }
  static unsigned eq_mask(F a, F b) { return static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(a, b, _CMP_EQ_OQ))); }
  static I round_to_i32(F a) { return _mm256_cvtps_epi32(_mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)); }
  static void store_q8(int8_t* p, I q) {  // saturating, like the reference's clamp to [-128, 127]
    const __m128i w16 = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(p), _mm_packs_epi16(w16, w16));
  }
  static float reduce16(const F (&a)[2]) { return x86::reduce16(a[0], a[1]); }
};

#include "ops/gemm_impl_x86.h"

}  // namespace

const GemmKernel* gemm_kernel_avxvnni(formats::Format f) { return GemmImpl<V256>::get(f); }
QuantizeFn quantize_kernel_avxvnni(formats::Format w) { return GemmImpl<V256>::quantizer(w); }

}  // namespace hybrid::ops

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif
