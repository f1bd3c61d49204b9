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
