// x86 four-row kernels (AVX2 + FMA + F16C, with the VNNI dot product where the CPU has it), computing the
// canonical arithmetic of gemv_kernels.h.
#include "ops/gemv_kernels.h"

#include <cmath>
#include <cstring>

#include "core/system_info.h"
#include "formats/blocks.h"
#include "ops/simd_x86.h"

namespace hybrid::ops {

#if HYBRID_X86_KERNELS
namespace {

using formats::BlockQ8_0;
using x86::hsum4_epi32;
using x86::load4_f16;
using x86::reduce16;

#define AVX2_FN HYBRID_AVX2_FN
#define VNNI_FN HYBRID_AVXVNNI_FN
#define EVEX_VNNI_FN HYBRID_AVX512_FN

// Sum over 32 int8 products, as 8 int32 lanes, given |x| and sign(w, x) (so that |x| * sign(w, x) = w * x;
// maddubs cannot saturate for |x| <= 127, |w| <= 127).
AVX2_FN inline __m256i dot_i8_avx2(__m256i ax, __m256i sw) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(ax, sw), _mm256_set1_epi16(1));
}
VNNI_FN inline __m256i dot_i8_avxvnni(__m256i ax, __m256i sw) {
  return _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), ax, sw);
}
EVEX_VNNI_FN inline __m256i dot_i8_evex(__m256i ax, __m256i sw) {
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), ax, sw);
}

// One body, compiled per instruction set (a target attribute cannot be shared by an inlined template
// across instruction sets). Per block: four exact integer dot products, reduced together, then one
// canonical fma per row.
#define HYBRID_Q8_0_DOT4(NAME, ATTR, DOT_I8)                                                          \
  ATTR void NAME(const uint8_t* w, size_t stride, const void* xq, int64_t n, float* out) {            \
    const BlockQ8_0* x = static_cast<const BlockQ8_0*>(xq);                                           \
    const BlockQ8_0* r0 = reinterpret_cast<const BlockQ8_0*>(w);                                      \
    const BlockQ8_0* r1 = reinterpret_cast<const BlockQ8_0*>(w + stride);                             \
    const BlockQ8_0* r2 = reinterpret_cast<const BlockQ8_0*>(w + 2 * stride);                         \
    const BlockQ8_0* r3 = reinterpret_cast<const BlockQ8_0*>(w + 3 * stride);                         \
    __m128 acc = _mm_setzero_ps();                                                                    \
    const int64_t nb = n / formats::kQK8_0;                                                           \
    for (int64_t i = 0; i < nb; ++i) {                                                                \
      const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[i].qs));               \
      const __m256i ax = _mm256_sign_epi8(xv, xv);                                                    \
#define HYBRID_ROW_DOT(b) DOT_I8(ax, _mm256_sign_epi8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>((b).qs)), xv)) \
      const __m128i isum = hsum4_epi32(HYBRID_ROW_DOT(r0[i]), HYBRID_ROW_DOT(r1[i]), HYBRID_ROW_DOT(r2[i]),     \
                                       HYBRID_ROW_DOT(r3[i]));                                        \
      const __m128 wd = load4_f16(&r0[i].d, &r1[i].d, &r2[i].d, &r3[i].d);                            \
      const __m128 scale = _mm_mul_ps(wd, _mm_set1_ps(_cvtsh_ss(x[i].d)));                            \
      acc = _mm_fmadd_ps(_mm_cvtepi32_ps(isum), scale, acc);                                          \
    }                                                                                                 \
    _mm_storeu_ps(out, acc);                                                                          \
  }

HYBRID_Q8_0_DOT4(q8_0_dot4_avx2, AVX2_FN, dot_i8_avx2)
HYBRID_Q8_0_DOT4(q8_0_dot4_avxvnni, VNNI_FN, dot_i8_avxvnni)
HYBRID_Q8_0_DOT4(q8_0_dot4_evex, EVEX_VNNI_FN, dot_i8_evex)

// Q4_K weights with Q8_K activations (ggml_vec_dot_q4_K_q8_K): per super-block of 256,
// d * x.d * sum_j sc_j * (q_j . x_j)  -  dmin * x.d * sum_j m_j * bsum_j, sub-blocks j of 32.
AVX2_FN void q4_k_dot4(const uint8_t* w, size_t stride, const void* xq, int64_t n, float* out) {
  using formats::BlockQ4_K;
  using formats::BlockQ8_K;
  const BlockQ8_K* x = static_cast<const BlockQ8_K*>(xq);
  const int64_t nb = n / formats::kQK_K;
  const __m256i m4 = _mm256_set1_epi8(0xF);
  __m128 acc = _mm_setzero_ps(), accm = _mm_setzero_ps();
  for (int64_t i = 0; i < nb; ++i) {
    const BlockQ8_K& xb = x[i];
    int16_t bs[8];
    for (int j = 0; j < 8; ++j) bs[j] = static_cast<int16_t>(xb.bsums[2 * j] + xb.bsums[2 * j + 1]);
    __m256i sumi[4];
    int32_t summ[4];
    const BlockQ4_K* b[4];
    for (int k = 0; k < 4; ++k) {
      b[k] = reinterpret_cast<const BlockQ4_K*>(w + k * stride) + i;
      uint8_t sc[8], mn[8];
      for (int j = 0; j < 8; ++j) formats::scale_min_k4(j, b[k]->scales, &sc[j], &mn[j]);
      int32_t sm = 0;
      for (int j = 0; j < 8; ++j) sm += mn[j] * bs[j];
      summ[k] = sm;
      __m256i s = _mm256_setzero_si256();
      for (int c = 0; c < 4; ++c) {
        const __m256i q4 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[k]->qs + 32 * c));
        const __m256i lo = _mm256_and_si256(q4, m4);
        const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q4, 4), m4);
        const __m256i xl = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb.qs + 64 * c));
        const __m256i xh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb.qs + 64 * c + 32));
        const __m256i pl = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, xl), _mm256_set1_epi16(sc[2 * c]));
        const __m256i ph = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, xh), _mm256_set1_epi16(sc[2 * c + 1]));
        s = _mm256_add_epi32(s, _mm256_add_epi32(pl, ph));
      }
      sumi[k] = s;
    }
    const __m128i isum = hsum4_epi32(sumi[0], sumi[1], sumi[2], sumi[3]);
    const __m128i msum = _mm_setr_epi32(summ[0], summ[1], summ[2], summ[3]);
    const __m128 xd = _mm_set1_ps(xb.d);
    const __m128 d = load4_f16(&b[0]->d, &b[1]->d, &b[2]->d, &b[3]->d);
    const __m128 dmin = load4_f16(&b[0]->dmin, &b[1]->dmin, &b[2]->dmin, &b[3]->dmin);
    acc = _mm_fmadd_ps(_mm_cvtepi32_ps(isum), _mm_mul_ps(d, xd), acc);
    accm = _mm_fmadd_ps(_mm_cvtepi32_ps(msum), _mm_mul_ps(dmin, xd), accm);
  }
  _mm_storeu_ps(out, _mm_sub_ps(acc, accm));
}

// Q6_K weights with Q8_K activations (ggml_vec_dot_q6_K_q8_K): value = d * sc * (q - 32), q 6-bit from
// 4 low bits in ql and 2 high bits in qh; 16 scales per super-block, one per 16 values.
AVX2_FN void q6_k_dot4(const uint8_t* w, size_t stride, const void* xq, int64_t n, float* out) {
  using formats::BlockQ6_K;
  using formats::BlockQ8_K;
  const BlockQ8_K* x = static_cast<const BlockQ8_K*>(xq);
  const int64_t nb = n / formats::kQK_K;
  const __m256i m4 = _mm256_set1_epi8(0xF), m2 = _mm256_set1_epi8(3), k32 = _mm256_set1_epi8(32);
  __m128 acc = _mm_setzero_ps();
  for (int64_t i = 0; i < nb; ++i) {
    const BlockQ8_K& xb = x[i];
    __m256i sumi[4];
    const BlockQ6_K* bk[4];
    for (int k = 0; k < 4; ++k) {
      const BlockQ6_K& b = *(bk[k] = reinterpret_cast<const BlockQ6_K*>(w + k * stride) + i);
      __m256i s = _mm256_setzero_si256();
      for (int h = 0; h < 2; ++h) {
        const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qh + 32 * h));
        const __m256i qa = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.ql + 64 * h));
        const __m256i qb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.ql + 64 * h + 32));
        const __m256i q[4] = {
            _mm256_or_si256(_mm256_and_si256(qa, m4), _mm256_slli_epi16(_mm256_and_si256(qh, m2), 4)),
            _mm256_or_si256(_mm256_and_si256(qb, m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m2), 4)),
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(qa, 4), m4),
                            _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m2), 4)),
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(qb, 4), m4),
                            _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m2), 4)),
        };
        const int8_t* sc = b.scales + 8 * h;
        for (int j = 0; j < 4; ++j) {
          const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb.qs + 128 * h + 32 * j));
          // (q - 32) . x = q . x - 32 * sum(x), both as pairwise int16 sums
          const __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(q[j], xv), _mm256_maddubs_epi16(k32, xv));
          const __m256i scales = _mm256_set_m128i(_mm_set1_epi16(sc[2 * j + 1]), _mm_set1_epi16(sc[2 * j]));
          s = _mm256_add_epi32(s, _mm256_madd_epi16(p, scales));
        }
      }
      sumi[k] = s;
    }
    const __m128i isum = hsum4_epi32(sumi[0], sumi[1], sumi[2], sumi[3]);
    const __m128 d = load4_f16(&bk[0]->d, &bk[1]->d, &bk[2]->d, &bk[3]->d);
    acc = _mm_fmadd_ps(_mm_cvtepi32_ps(isum), _mm_mul_ps(d, _mm_set1_ps(xb.d)), acc);
  }
  _mm_storeu_ps(out, acc);
}

// F16 weights with f16 activations (ggml converts activations to f16 for F16 weights). Two 8-lane
// accumulators per row = the canonical 16 lanes.
AVX2_FN void f16_dot4(const uint8_t* w, size_t stride, const void* xq, int64_t n, float* out) {
  const uint16_t* x = static_cast<const uint16_t*>(xq);
  const uint16_t* r[4];
  for (int k = 0; k < 4; ++k) r[k] = reinterpret_cast<const uint16_t*>(w + k * stride);
  __m256 acc[4][2];
  for (auto& a : acc) a[0] = a[1] = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 x0 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i)));
    const __m256 x1 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i + 8)));
    for (int k = 0; k < 4; ++k) {
      acc[k][0] = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(r[k] + i))), x0, acc[k][0]);
      acc[k][1] = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(r[k] + i + 8))), x1, acc[k][1]);
    }
  }
  for (int k = 0; k < 4; ++k) {
    float s = reduce16(acc[k][0], acc[k][1]);
    for (int64_t j = i; j < n; ++j) s = std::fma(x86::f16_to_f32(r[k][j]), x86::f16_to_f32(x[j]), s);
    out[k] = s;
  }
}

// F32 weights, f32 activations.
AVX2_FN void f32_dot4(const uint8_t* w, size_t stride, const void* xq, int64_t n, float* out) {
  const float* x = static_cast<const float*>(xq);
  const float* r[4];
  for (int k = 0; k < 4; ++k) r[k] = reinterpret_cast<const float*>(w + k * stride);
  __m256 acc[4][2];
  for (auto& a : acc) a[0] = a[1] = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 x0 = _mm256_loadu_ps(x + i), x1 = _mm256_loadu_ps(x + i + 8);
    for (int k = 0; k < 4; ++k) {
      acc[k][0] = _mm256_fmadd_ps(_mm256_loadu_ps(r[k] + i), x0, acc[k][0]);
      acc[k][1] = _mm256_fmadd_ps(_mm256_loadu_ps(r[k] + i + 8), x1, acc[k][1]);
    }
  }
  for (int k = 0; k < 4; ++k) {
    float s = reduce16(acc[k][0], acc[k][1]);
    for (int64_t j = i; j < n; ++j) s = std::fma(r[k][j], x[j], s);
    out[k] = s;
  }
}

struct Isa {
  bool avx2 = false, avxvnni = false, avx512vnni = false;
};

const Isa& isa() {
  static const Isa i = [] {
    const CpuInfo cpu = query_cpu();
    Isa r;
    r.avx2 = cpu_has(cpu, "avx2") && cpu_has(cpu, "fma") && cpu_has(cpu, "f16c");
    r.avxvnni = r.avx2 && cpu_has(cpu, "avxvnni");
    r.avx512vnni = r.avx2 && cpu_has(cpu, "avx512f") && cpu_has(cpu, "avx512bw") && cpu_has(cpu, "avx512vl") &&
                   cpu_has(cpu, "avx512vnni");
    return r;
  }();
  return i;
}

}  // namespace

Dot4Fn dot4_kernel(formats::Format f) {
  if (!isa().avx2) return nullptr;
  switch (f) {
    case formats::Format::Q8_0:
      return isa().avxvnni ? q8_0_dot4_avxvnni : isa().avx512vnni ? q8_0_dot4_evex : q8_0_dot4_avx2;
    case formats::Format::F16: return f16_dot4;
    case formats::Format::Q4_K: return q4_k_dot4;
    case formats::Format::Q6_K: return q6_k_dot4;
    case formats::Format::F32: return f32_dot4;
    default: return nullptr;
  }
}

const char* dot4_isa() {
  return !isa().avx2 ? "none" : isa().avxvnni ? "avxvnni" : isa().avx512vnni ? "avx512vnni" : "avx2";
}

#else  // not x86 with GCC/Clang

Dot4Fn dot4_kernel(formats::Format) { return nullptr; }
const char* dot4_isa() { return "none"; }

#endif

}  // namespace hybrid::ops
