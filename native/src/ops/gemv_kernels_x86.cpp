// x86 four-row kernels (AVX2 + FMA + F16C, with the VNNI dot product where the CPU has it), computing the
// canonical arithmetic of gemv_kernels.h.
#include "ops/gemv_kernels.h"

#include <cmath>
#include <cstddef>
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

// Decode streams each weight row from memory once, four rows at a time; the hardware prefetchers follow
// four interleaved streams poorly, so each kernel prefetches the same position of the next four rows (the
// next call's), one cache line per row per 64 bytes consumed: about 4 KB ahead per stream, enough to
// cover DRAM latency (single-thread Q8_0 decode stream went from ~6.5 to ~11.5 GB/s with it). Past the
// last row this touches the next rows of the matrix or harmlessly invalid addresses (prefetches never fault).
inline void prefetch_next4(const uint8_t* row0_at, size_t stride) {
  const char* p = reinterpret_cast<const char*>(row0_at) + 4 * stride;
  _mm_prefetch(p, _MM_HINT_T0);
  _mm_prefetch(p + stride, _MM_HINT_T0);
  _mm_prefetch(p + 2 * stride, _MM_HINT_T0);
  _mm_prefetch(p + 3 * stride, _MM_HINT_T0);
}

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

// One row's block against the token's: |x| (ax) times sign(w, x).
#define HYBRID_ROW_DOT(DOT_I8, b) \
  DOT_I8(ax, _mm256_sign_epi8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>((b).qs)), xv))

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
      if ((i & 1) == 0) prefetch_next4(w + i * sizeof(BlockQ8_0), stride);                             \
      const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[i].qs));               \
      const __m256i ax = _mm256_sign_epi8(xv, xv);                                                    \
      const __m128i isum = hsum4_epi32(HYBRID_ROW_DOT(DOT_I8, r0[i]), HYBRID_ROW_DOT(DOT_I8, r1[i]),        \
                                       HYBRID_ROW_DOT(DOT_I8, r2[i]), HYBRID_ROW_DOT(DOT_I8, r3[i]));       \
      const __m128 wd = load4_f16(&r0[i].d, &r1[i].d, &r2[i].d, &r3[i].d);                            \
      const __m128 scale = _mm_mul_ps(wd, _mm_set1_ps(_cvtsh_ss(x[i].d)));                            \
      acc = _mm_fmadd_ps(_mm_cvtepi32_ps(isum), scale, acc);                                          \
    }                                                                                                 \
    _mm_storeu_ps(out, acc);                                                                          \
  }

HYBRID_Q8_0_DOT4(q8_0_dot4_avx2, AVX2_FN, dot_i8_avx2)
HYBRID_Q8_0_DOT4(q8_0_dot4_avxvnni, VNNI_FN, dot_i8_avxvnni)
HYBRID_Q8_0_DOT4(q8_0_dot4_evex, EVEX_VNNI_FN, dot_i8_evex)

// The 6-bit scales and mins of a Q4_K/Q5_K block as bytes sc[0..7] (low 8 bytes) and m[0..7] (high 8),
// ggml's kmask unpacking (equal to formats::scale_min_k4 for every j) done in a vector register: a round
// trip through memory would stall on store forwarding. Reads the 16 bytes d, dmin, scales[12].
AVX2_FN inline __m128i unpack_scales_k4(const formats::BlockQ4_K& b) {
  static_assert(offsetof(formats::BlockQ4_K, scales) == 4, "Q4_K layout");
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(&b));  // [d|dmin, u0, u1, u2]
  const __m128i p = _mm_shuffle_epi32(v, _MM_SHUFFLE(3, 2, 3, 1));            // [u0, u2, u1, u2]
  const __m128i q = _mm_shuffle_epi32(v, _MM_SHUFFLE(2, 2, 1, 1));            // [u0, u0, u1, u1]
  const __m128i k1 = _mm_set1_epi32(0x3f3f3f3f), k2 = _mm_set1_epi32(0x0f0f0f0f), k3 = _mm_set1_epi32(0x03030303);
  const __m128i even = _mm_and_si128(p, k1);                                 // sc[0..3], m[0..3]
  const __m128i odd = _mm_or_si128(_mm_and_si128(_mm_srlv_epi32(p, _mm_setr_epi32(0, 0, 0, 4)), k2),
                                   _mm_slli_epi32(_mm_and_si128(_mm_srli_epi32(q, 6), k3), 4));  // sc[4..7], m[4..7]
  return _mm_blend_epi32(even, odd, 0xA);
}

// d and dmin (adjacent f16s) of four Q4_K blocks: [d0..d3] and [dmin0..dmin3].
AVX2_FN inline void load4_d_dmin(const formats::BlockQ4_K* const* b, __m128* d, __m128* dmin) {
  int32_t v[4];
  for (int k = 0; k < 4; ++k) std::memcpy(&v[k], &b[k]->d, 4);
  const __m256 h = _mm256_cvtph_ps(_mm_setr_epi32(v[0], v[1], v[2], v[3]));  // d0 dmin0 d1 dmin1 ...
  const __m256 p = _mm256_permutevar8x32_ps(h, _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7));
  *d = _mm256_castps256_ps128(p);
  *dmin = _mm256_extractf128_ps(p, 1);
}

// s + sum of pairs of int16 products p * scale: vpmaddwd + vpaddd, or one vpdpwssd with AVX-VNNI.
#define HYBRID_MADD_ACC_AVX2(s, p, scale) _mm256_add_epi32((s), _mm256_madd_epi16((p), (scale)))
#define HYBRID_MADD_ACC_VNNI(s, p, scale) _mm256_dpwssd_avx_epi32((s), (p), (scale))

// Q4_K weights with Q8_K activations (ggml_vec_dot_q4_K_q8_K): per super-block of 256,
// d * x.d * sum_j sc_j * (q_j . x_j)  -  dmin * x.d * sum_j m_j * bsum_j, sub-blocks j of 32. The int16
// scale of sub-block j reaches every lane through a byte shuffle of the unpacked scales.
#define HYBRID_Q4_K_DOT4(NAME, ATTR, MADD_ACC)                                                                    \
  ATTR void NAME(const uint8_t* w, size_t stride, const void* xq, int64_t n, float* out) {                        \
    using formats::BlockQ4_K;                                                                                     \
    using formats::BlockQ8_K;                                                                                     \
    const BlockQ8_K* x = static_cast<const BlockQ8_K*>(xq);                                                       \
    const int64_t nb = n / formats::kQK_K;                                                                        \
    const __m256i m4 = _mm256_set1_epi8(0xF);                                                                     \
    /* shuffle masks that broadcast int16 word j of a 128-bit lane to all its words */                           \
    __m256i word[8];                                                                                              \
    for (int j = 0; j < 8; ++j) word[j] = _mm256_set1_epi16(static_cast<short>((2 * j) | ((2 * j + 1) << 8)));  \
    __m128 acc = _mm_setzero_ps(), accm = _mm_setzero_ps();                                                       \
    for (int64_t i = 0; i < nb; ++i) {                                                                            \
      const BlockQ8_K& xb = x[i];                                                                                 \
      for (size_t off = 0; off < sizeof(BlockQ4_K); off += 64) prefetch_next4(w + i * sizeof(BlockQ4_K) + off, stride); \
      /* bsum pairs: the sums of x over the sub-blocks of 32, as 8 int16 */                                      \
      const __m128i bs = _mm_hadd_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(xb.bsums)),             \
                                        _mm_loadu_si128(reinterpret_cast<const __m128i*>(xb.bsums + 8)));        \
      __m256i sumi[4];                                                                                            \
      __m128i summ[4];                                                                                            \
      const BlockQ4_K* b[4];                                                                                      \
      for (int k = 0; k < 4; ++k) {                                                                               \
        b[k] = reinterpret_cast<const BlockQ4_K*>(w + k * stride) + i;                                            \
        const __m128i sc_mn = unpack_scales_k4(*b[k]);                                                            \
        summ[k] = _mm_madd_epi16(_mm_cvtepu8_epi16(_mm_unpackhi_epi64(sc_mn, sc_mn)), bs);                        \
        const __m128i sc16 = _mm_cvtepu8_epi16(sc_mn);                                                            \
        const __m256i sc = _mm256_set_m128i(sc16, sc16);                                                          \
        __m256i s = _mm256_setzero_si256();                                                                       \
        for (int c = 0; c < 4; ++c) {                                                                             \
          const __m256i q4 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[k]->qs + 32 * c));            \
          const __m256i lo = _mm256_and_si256(q4, m4);                                                            \
          const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q4, 4), m4);                                      \
          const __m256i xl = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb.qs + 64 * c));               \
          const __m256i xh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb.qs + 64 * c + 32));          \
          s = MADD_ACC(s, _mm256_maddubs_epi16(lo, xl), _mm256_shuffle_epi8(sc, word[2 * c]));                    \
          s = MADD_ACC(s, _mm256_maddubs_epi16(hi, xh), _mm256_shuffle_epi8(sc, word[2 * c + 1]));                \
        }                                                                                                         \
        sumi[k] = s;                                                                                              \
      }                                                                                                           \
      const __m128i isum = hsum4_epi32(sumi[0], sumi[1], sumi[2], sumi[3]);                                       \
      const __m128i msum = _mm_hadd_epi32(_mm_hadd_epi32(summ[0], summ[1]), _mm_hadd_epi32(summ[2], summ[3]));    \
      const __m128 xd = _mm_set1_ps(xb.d);                                                                        \
      __m128 d, dmin;                                                                                             \
      load4_d_dmin(b, &d, &dmin);                                                                                 \
      acc = _mm_fmadd_ps(_mm_cvtepi32_ps(isum), _mm_mul_ps(d, xd), acc);                                          \
      accm = _mm_fmadd_ps(_mm_cvtepi32_ps(msum), _mm_mul_ps(dmin, xd), accm);                                     \
    }                                                                                                             \
    _mm_storeu_ps(out, _mm_sub_ps(acc, accm));                                                                    \
  }

HYBRID_Q4_K_DOT4(q4_k_dot4_avx2, AVX2_FN, HYBRID_MADD_ACC_AVX2)
HYBRID_Q4_K_DOT4(q4_k_dot4_avxvnni, VNNI_FN, HYBRID_MADD_ACC_VNNI)
HYBRID_Q4_K_DOT4(q4_k_dot4_evex, EVEX_VNNI_FN, HYBRID_MADD_ACC_AVX2)

// Q6_K weights with Q8_K activations (ggml_vec_dot_q6_K_q8_K): value = d * sc * (q - 32), q 6-bit from
// 4 low bits in ql and 2 high bits in qh; 16 scales per super-block, one per 16 values. The -32 is taken
// out once per block through the bsums: sum_s sc_s (q - 32) . x = sum_s sc_s q . x - 32 sum_s sc_s bsum_s.
AVX2_FN void q6_k_dot4(const uint8_t* w, size_t stride, const void* xq, int64_t n, float* out) {
  using formats::BlockQ6_K;
  using formats::BlockQ8_K;
  const BlockQ8_K* x = static_cast<const BlockQ8_K*>(xq);
  const int64_t nb = n / formats::kQK_K;
  const __m256i m4 = _mm256_set1_epi8(0xF), m2 = _mm256_set1_epi8(3);
  // shuffle masks: scales (int16) 2j in the low 128-bit lane's words and 2j+1 in the high lane's, from
  // 16 int16 scales held as [sc0..7 | sc8..15] -> per half h the words 8h + 2j and 8h + 2j + 1
  __m256i pair[4];
  for (int j = 0; j < 4; ++j) {
    const short lo = static_cast<short>((4 * j) | ((4 * j + 1) << 8)), hi = static_cast<short>((4 * j + 2) | ((4 * j + 3) << 8));
    pair[j] = _mm256_set_m128i(_mm_set1_epi16(hi), _mm_set1_epi16(lo));
  }
  __m128 acc = _mm_setzero_ps();
  for (int64_t i = 0; i < nb; ++i) {
    const BlockQ8_K& xb = x[i];
    for (size_t off = 0; off < sizeof(BlockQ6_K); off += 64) prefetch_next4(w + i * sizeof(BlockQ6_K) + off, stride);
    const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb.bsums));
    __m256i sumi[4];
    const BlockQ6_K* bk[4];
    for (int k = 0; k < 4; ++k) {
      const BlockQ6_K& b = *(bk[k] = reinterpret_cast<const BlockQ6_K*>(w + k * stride) + i);
      const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.scales)));
      // 32 * sum_s sc_s * bsum_s, as 8 int32 partial sums
      __m256i s = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(_mm256_madd_epi16(sc16, bsums), 5));
      for (int h = 0; h < 2; ++h) {
        // scales of this half (words 8h..8h+7) in both 128-bit lanes
        const __m256i sch = h == 0 ? _mm256_permute2x128_si256(sc16, sc16, 0x00) : _mm256_permute2x128_si256(sc16, sc16, 0x11);
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
        for (int j = 0; j < 4; ++j) {
          const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb.qs + 128 * h + 32 * j));
          s = _mm256_add_epi32(s, _mm256_madd_epi16(_mm256_maddubs_epi16(q[j], xv), _mm256_shuffle_epi8(sch, pair[j])));
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
    if ((i & 31) == 0) prefetch_next4(w + 2 * i, stride);
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
    prefetch_next4(w + 4 * i, stride);
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
    case formats::Format::Q4_K:
      return isa().avxvnni ? q4_k_dot4_avxvnni : isa().avx512vnni ? q4_k_dot4_evex : q4_k_dot4_avx2;
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
