// x86 four-row kernels (AVX2 + FMA + F16C, with the VNNI dot product where the CPU has it).
#include "ops/gemv_kernels.h"

#include <cstring>

#include "core/system_info.h"
#include "formats/blocks.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define HYBRID_X86_KERNELS 1
#endif

namespace hybrid::ops {

#if HYBRID_X86_KERNELS
namespace {

using formats::BlockQ8_0;

#define AVX2_FN __attribute__((target("avx2,fma,f16c")))
#define VNNI_FN __attribute__((target("avx2,fma,f16c,avxvnni")))

AVX2_FN inline float h2f(uint16_t h) { return _cvtsh_ss(h); }

AVX2_FN inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Sum over 32 int8 products, as 8 int32 lanes: |a| * sign(b, a) through maddubs (no saturation for
// |a| <= 127, |b| <= 127) and a pairwise add.
AVX2_FN inline __m256i dot_i8_avx2(__m256i a, __m256i b) {
  const __m256i p16 = _mm256_maddubs_epi16(_mm256_sign_epi8(a, a), _mm256_sign_epi8(b, a));
  return _mm256_madd_epi16(p16, _mm256_set1_epi16(1));
}

VNNI_FN inline __m256i dot_i8_vnni(__m256i a, __m256i b) {
  return _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), _mm256_sign_epi8(a, a), _mm256_sign_epi8(b, a));
}

// One body, compiled twice: with the AVX2 maddubs dot and with the VNNI dot (a target attribute cannot
// be shared by an inlined template across the two instruction sets).
#define HYBRID_Q8_0_DOT4(NAME, ATTR, DOT_I8)                                                          \
  ATTR void NAME(const uint8_t* w, size_t stride, const void* xq, int64_t n, float* out) {            \
    const BlockQ8_0* x = static_cast<const BlockQ8_0*>(xq);                                           \
    const BlockQ8_0* r[4];                                                                            \
    for (int k = 0; k < 4; ++k) r[k] = reinterpret_cast<const BlockQ8_0*>(w + k * stride);           \
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()}; \
    const int64_t nb = n / formats::kQK8_0;                                                           \
    for (int64_t i = 0; i < nb; ++i) {                                                                \
      const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[i].qs));               \
      const float xd = _cvtsh_ss(x[i].d);                                                             \
      for (int k = 0; k < 4; ++k) {                                                                   \
        const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(r[k][i].qs));          \
        const __m256 d = _mm256_set1_ps(_cvtsh_ss(r[k][i].d) * xd);                                   \
        acc[k] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(DOT_I8(wv, xv)), acc[k]);                      \
      }                                                                                               \
    }                                                                                                 \
    for (int k = 0; k < 4; ++k) out[k] = hsum(acc[k]);                                                \
  }

HYBRID_Q8_0_DOT4(q8_0_dot4_avx2, AVX2_FN, dot_i8_avx2)
HYBRID_Q8_0_DOT4(q8_0_dot4_vnni, VNNI_FN, dot_i8_vnni)

// Q4_K weights with Q8_K activations (ggml_vec_dot_q4_K_q8_K): per super-block of 256,
// d * x.d * sum_j sc_j * (q_j . x_j)  -  dmin * x.d * sum_j m_j * bsum_j, sub-blocks j of 32.
AVX2_FN void q4_k_dot4(const uint8_t* w, size_t stride, const void* xq, int64_t n, float* out) {
  using formats::BlockQ4_K;
  using formats::BlockQ8_K;
  const BlockQ8_K* x = static_cast<const BlockQ8_K*>(xq);
  const int64_t nb = n / formats::kQK_K;
  const __m256i m4 = _mm256_set1_epi8(0xF);
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  float mins[4] = {0, 0, 0, 0};
  for (int64_t i = 0; i < nb; ++i) {
    const BlockQ8_K& xb = x[i];
    for (int k = 0; k < 4; ++k) {
      const BlockQ4_K& b = reinterpret_cast<const BlockQ4_K*>(w + k * stride)[i];
      uint8_t sc[8], mn[8];
      for (int j = 0; j < 8; ++j) formats::scale_min_k4(j, b.scales, &sc[j], &mn[j]);
      int32_t summ = 0;
      for (int j = 0; j < 8; ++j) summ += mn[j] * (xb.bsums[2 * j] + xb.bsums[2 * j + 1]);
      __m256i sumi = _mm256_setzero_si256();
      for (int c = 0; c < 4; ++c) {
        const __m256i q4 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs + 32 * c));
        const __m256i lo = _mm256_and_si256(q4, m4);
        const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q4, 4), m4);
        const __m256i xl = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb.qs + 64 * c));
        const __m256i xh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb.qs + 64 * c + 32));
        const __m256i pl = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, xl), _mm256_set1_epi16(sc[2 * c]));
        const __m256i ph = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, xh), _mm256_set1_epi16(sc[2 * c + 1]));
        sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(pl, ph));
      }
      acc[k] = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(b.d) * xb.d), _mm256_cvtepi32_ps(sumi), acc[k]);
      mins[k] += _cvtsh_ss(b.dmin) * xb.d * static_cast<float>(summ);
    }
  }
  for (int k = 0; k < 4; ++k) out[k] = hsum(acc[k]) - mins[k];
}

// Q6_K weights with Q8_K activations (ggml_vec_dot_q6_K_q8_K): value = d * sc * (q - 32), q 6-bit from
// 4 low bits in ql and 2 high bits in qh; 16 scales per super-block, one per 16 values.
AVX2_FN void q6_k_dot4(const uint8_t* w, size_t stride, const void* xq, int64_t n, float* out) {
  using formats::BlockQ6_K;
  using formats::BlockQ8_K;
  const BlockQ8_K* x = static_cast<const BlockQ8_K*>(xq);
  const int64_t nb = n / formats::kQK_K;
  const __m256i m4 = _mm256_set1_epi8(0xF), m2 = _mm256_set1_epi8(3), k32 = _mm256_set1_epi8(32);
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  for (int64_t i = 0; i < nb; ++i) {
    const BlockQ8_K& xb = x[i];
    for (int k = 0; k < 4; ++k) {
      const BlockQ6_K& b = reinterpret_cast<const BlockQ6_K*>(w + k * stride)[i];
      __m256i sumi = _mm256_setzero_si256();
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
          sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, scales));
        }
      }
      acc[k] = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(b.d) * xb.d), _mm256_cvtepi32_ps(sumi), acc[k]);
    }
  }
  for (int k = 0; k < 4; ++k) out[k] = hsum(acc[k]);
}

// F16 weights with f16 activations (ggml converts activations to f16 for F16 weights).
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
    float s = hsum(_mm256_add_ps(acc[k][0], acc[k][1]));
    for (int64_t j = i; j < n; ++j) s += h2f(r[k][j]) * h2f(x[j]);
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
    float s = hsum(_mm256_add_ps(acc[k][0], acc[k][1]));
    for (int64_t j = i; j < n; ++j) s += r[k][j] * x[j];
    out[k] = s;
  }
}

struct Isa {
  bool avx2 = false, vnni = false;
};

const Isa& isa() {
  static const Isa i = [] {
    const CpuInfo cpu = query_cpu();
    Isa r;
    r.avx2 = cpu_has(cpu, "avx2") && cpu_has(cpu, "fma") && cpu_has(cpu, "f16c");
    r.vnni = r.avx2 && cpu_has(cpu, "avxvnni");
    return r;
  }();
  return i;
}

}  // namespace

Dot4Fn dot4_kernel(formats::Format f) {
  if (!isa().avx2) return nullptr;
  switch (f) {
    case formats::Format::Q8_0: return isa().vnni ? q8_0_dot4_vnni : q8_0_dot4_avx2;
    case formats::Format::F16: return f16_dot4;
    case formats::Format::Q4_K: return q4_k_dot4;
    case formats::Format::Q6_K: return q6_k_dot4;
    case formats::Format::F32: return f32_dot4;
    default: return nullptr;
  }
}

const char* dot4_isa() { return !isa().avx2 ? "none" : isa().vnni ? "avxvnni" : "avx2"; }

#else  // not x86 with GCC/Clang

Dot4Fn dot4_kernel(formats::Format) { return nullptr; }
const char* dot4_isa() { return "none"; }

#endif

}  // namespace hybrid::ops
