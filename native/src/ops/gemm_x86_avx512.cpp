// AVX-512 many-token matmul kernels (gemm_kernels.h): the kernels of gemm_impl_x86.h on 16-lane vectors,
// VNNI for the integer formats.
#include <cmath>
#include <cstring>

#include "formats/blocks.h"
#include "formats/half.h"
#include "ops/gemm_kernels.h"
#include "ops/simd_x86.h"

#if HYBRID_X86_KERNELS
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")
#endif

namespace hybrid::ops {
namespace {

struct V512 {
  static constexpr int L = 16, kRows = 4, kGroups = 2, kFloatTokens = 4, kFloatRows = 4;
  using I = __m512i;
  using F = __m512;
  static I loadi(const void* p) { return _mm512_loadu_si512(p); }
  static F loadf(const float* p) { return _mm512_loadu_ps(p); }
  static void storef(float* p, F v) { _mm512_storeu_ps(p, v); }
  static I set1i(int32_t v) { return _mm512_set1_epi32(v); }
  static F set1f(float v) { return _mm512_set1_ps(v); }
  static I zeroi() { return _mm512_setzero_si512(); }
  static F zerof() { return _mm512_setzero_ps(); }
  static I dpbusd(I acc, I a, I b) { return _mm512_dpbusd_epi32(acc, a, b); }
  static I dpwssd(I acc, I a, I b) { return _mm512_dpwssd_epi32(acc, a, b); }
  static I addi(I a, I b) { return _mm512_add_epi32(a, b); }
  static I mullo(I a, I b) { return _mm512_mullo_epi32(a, b); }
  static F cvt(I a) { return _mm512_cvtepi32_ps(a); }
  static F mul(F a, F b) { return _mm512_mul_ps(a, b); }
  static F sub(F a, F b) { return _mm512_sub_ps(a, b); }
  static F fma(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
  static F maxf(F a, F b) { return _mm512_max_ps(a, b); }
  static F absf(F a) { return _mm512_abs_ps(a); }
  static float reduce_max(F a) { return _mm512_reduce_max_ps(a); }
  static unsigned eq_mask(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ); }
  static I round_to_i32(F a) {
    return _mm512_cvtps_epi32(_mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  static void store_q8(int8_t* p, I q) { _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm512_cvtsepi32_epi8(q)); }
  static float reduce16(const F (&a)[1]) {
    return x86::reduce16(_mm512_castps512_ps256(a[0]), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a[0]), 1)));
  }
};

#include "ops/gemm_impl_x86.h"

}  // namespace

const GemmKernel* gemm_kernel_avx512(formats::Format f) { return GemmImpl<V512>::get(f); }
QuantizeFn quantize_kernel_avx512(formats::Format w) { return GemmImpl<V512>::quantizer(w); }

}  // namespace hybrid::ops

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif
