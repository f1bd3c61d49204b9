// Encoders. Q8_0 and Q8_K must round exactly like llama.cpp's activation quantizers (see formats.h);
// the K-quant weight encoders are deliberately simple (per-sub-block min/max, no search).
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <type_traits>

#include "formats/blocks.h"
#include "formats/formats.h"
#include "formats/half.h"

namespace hybrid::formats {
namespace {

// Round half to even, as ggml's nearest_int (ggml-quants.c) and _mm256_round_ps(_MM_ROUND_NEAREST) do.
// std::nearbyint in the default rounding mode; taking a float argument keeps the product before it
// rounded to f32 even where the compiler would contract a multiply-add. NaN gives 0 and huge values are
// clamped, so hostile inputs never reach an undefined float -> int conversion.
inline int nearest_int(float v) {
  if (!(std::fabs(v) <= 4194303.f)) return v > 0 ? 4194303 : (v < 0 ? -4194303 : 0);
  return static_cast<int>(std::nearbyint(v));
}

// ggml x86 quantize_row_q8_0 / quantize_row_q8_1 (ggml-cpu/arch/x86/quants.c): id = 127/amax, not 1/d as
// in the _ref versions. Q8_1 also stores s = d * (sum of the quants), as f16.
template <typename Block>
void quant_q8(const float* x, Block* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK8_0) {
    float amax = 0;
    for (int j = 0; j < kQK8_0; ++j) amax = std::fmax(amax, std::fabs(x[j]));
    const float d = amax / 127.f;
    const float id = amax != 0.0f ? 127.f / amax : 0.0f;
    y[i].d = fp32_to_fp16(d);
    int sum = 0;
    for (int j = 0; j < kQK8_0; ++j) {
      int q = nearest_int(x[j] * id);
      q = q > 127 ? 127 : (q < -128 ? -128 : q);
      y[i].qs[j] = static_cast<int8_t>(q);
      sum += q;
    }
    if constexpr (std::is_same_v<Block, BlockQ8_1>) y[i].s = fp32_to_fp16(d * static_cast<float>(sum));
  }
}

// Truncation toward zero of t, clamped to 0..qmax: ggml's (int8_t)/(uint8_t) casts of x*id + 0.5 (or
// + 8.5, + 16.5) followed by MIN(qmax, .); the clamp below 0 keeps NaN/inf defined.
inline int trunc_q(float t, int qmax) {
  if (!(t >= 0.0f)) return 0;
  return t >= static_cast<float>(qmax) ? qmax : static_cast<int>(t);
}

// Symmetric 32-blocks (ggml quantize_row_q4_0_ref / q5_0_ref): the value of largest magnitude maps to
// -half (-8 or -16); q = trunc(x/d + half + 0.5).
void quant_sym32(const float* x, int half, int qmax, uint16_t* d_out, int* q) {
  float amax = 0, max = 0;
  for (int j = 0; j < kQK4_0; ++j)
    if (amax < std::fabs(x[j])) { amax = std::fabs(x[j]); max = x[j]; }
  const float d = max / static_cast<float>(-half);
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  *d_out = fp32_to_fp16(d);
  for (int j = 0; j < kQK4_0; ++j) q[j] = trunc_q(x[j] * id + (static_cast<float>(half) + 0.5f), qmax);
}

// Min/offset 32-blocks (ggml quantize_row_q4_1_ref / q5_1_ref): d = (max - min)/qmax, m = min,
// q = trunc((x - min)/d + 0.5).
void quant_min32(const float* x, int qmax, uint16_t* d_out, uint16_t* m_out, int* q) {
  float lo = INFINITY, hi = -INFINITY;
  for (int j = 0; j < kQK4_0; ++j) {
    lo = std::fmin(lo, x[j]);
    hi = std::fmax(hi, x[j]);
  }
  const float d = (hi - lo) / static_cast<float>(qmax);
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  *d_out = fp32_to_fp16(d);
  *m_out = fp32_to_fp16(lo);
  for (int j = 0; j < kQK4_0; ++j) q[j] = trunc_q((x[j] - lo) * id + 0.5f, qmax);
}

void pack_nibbles(const int* q, uint8_t* qs) {
  for (int j = 0; j < kQK4_0 / 2; ++j) qs[j] = static_cast<uint8_t>((q[j] & 0xF) | ((q[j + kQK4_0 / 2] & 0xF) << 4));
}

void pack_high_bits(const int* q, uint8_t* qh) {
  uint32_t bits = 0;
  for (int j = 0; j < kQK4_0; ++j) bits |= static_cast<uint32_t>((q[j] >> 4) & 1) << j;
  std::memcpy(qh, &bits, 4);
}

void quant_q4_0(const float* x, BlockQ4_0* y, int64_t nb) {
  int q[kQK4_0];
  for (int64_t i = 0; i < nb; ++i, x += kQK4_0) {
    quant_sym32(x, 8, 15, &y[i].d, q);
    pack_nibbles(q, y[i].qs);
  }
}

void quant_q5_0(const float* x, BlockQ5_0* y, int64_t nb) {
  int q[kQK4_0];
  for (int64_t i = 0; i < nb; ++i, x += kQK4_0) {
    quant_sym32(x, 16, 31, &y[i].d, q);
    pack_nibbles(q, y[i].qs);
    pack_high_bits(q, y[i].qh);
  }
}

void quant_q4_1(const float* x, BlockQ4_1* y, int64_t nb) {
  int q[kQK4_0];
  for (int64_t i = 0; i < nb; ++i, x += kQK4_0) {
    quant_min32(x, 15, &y[i].d, &y[i].m, q);
    pack_nibbles(q, y[i].qs);
  }
}

void quant_q5_1(const float* x, BlockQ5_1* y, int64_t nb) {
  int q[kQK4_0];
  for (int64_t i = 0; i < nb; ++i, x += kQK4_0) {
    quant_min32(x, 31, &y[i].d, &y[i].m, q);
    pack_nibbles(q, y[i].qs);
    pack_high_bits(q, y[i].qh);
  }
}

void pack_scales_k4(uint8_t* s, const uint8_t ls[8], const uint8_t lm[8]) {
  std::memset(s, 0, 12);
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      s[j] = ls[j];
      s[j + 4] = lm[j];
    } else {
      s[j + 4] = static_cast<uint8_t>((ls[j] & 0xF) | ((lm[j] & 0xF) << 4));
      s[j - 4] |= static_cast<uint8_t>((ls[j] >> 4) << 6);
      s[j] |= static_cast<uint8_t>((lm[j] >> 4) << 6);
    }
  }
}

// Q4_K / Q5_K: per sub-block of 32, scale = (max - min) / qmax and min' = -min (min clamped to <= 0,
// since the format subtracts a non-negative dmin * m); both quantized to 6 bits against the block's
// largest. Fills L[256] with quants in 0..qmax and the block header (d, dmin, scales).
void quant_k_minmax(const float* x, int qmax, uint16_t* d_out, uint16_t* dmin_out, uint8_t* scales, uint8_t* L) {
  float sc[8], mn[8], max_scale = 0, max_min = 0;
  for (int j = 0; j < 8; ++j) {
    float lo = 0, hi = -INFINITY;
    for (int l = 0; l < 32; ++l) {
      lo = std::fmin(lo, x[32 * j + l]);
      hi = std::fmax(hi, x[32 * j + l]);
    }
    sc[j] = hi > lo ? (hi - lo) / qmax : 0.0f;
    mn[j] = -lo;
    max_scale = std::fmax(max_scale, sc[j]);
    max_min = std::fmax(max_min, mn[j]);
  }
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  uint8_t ls[8], lm[8];
  for (int j = 0; j < 8; ++j) {
    int a = nearest_int(inv_scale * sc[j]), b = nearest_int(inv_min * mn[j]);
    ls[j] = static_cast<uint8_t>(a > 63 ? 63 : (a < 0 ? 0 : a));
    lm[j] = static_cast<uint8_t>(b > 63 ? 63 : (b < 0 ? 0 : b));
  }
  pack_scales_k4(scales, ls, lm);
  *d_out = fp32_to_fp16(max_scale / 63.f);
  *dmin_out = fp32_to_fp16(max_min / 63.f);
  const float d = fp16_to_fp32(*d_out), dmin = fp16_to_fp32(*dmin_out);
  for (int j = 0; j < 8; ++j) {
    uint8_t s, m;
    scale_min_k4(j, scales, &s, &m);
    const float dd = d * s, dm = dmin * m;
    for (int l = 0; l < 32; ++l) {
      int q = dd != 0.0f ? nearest_int((x[32 * j + l] + dm) / dd) : 0;
      L[32 * j + l] = static_cast<uint8_t>(q < 0 ? 0 : (q > qmax ? qmax : q));
    }
  }
}

void quant_q4_k(const float* x, BlockQ4_K* y, int64_t nb) {
  uint8_t L[kQK_K];
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    quant_k_minmax(x, 15, &y[i].d, &y[i].dmin, y[i].scales, L);
    for (int c = 0; c < 4; ++c)
      for (int l = 0; l < 32; ++l)
        y[i].qs[32 * c + l] = static_cast<uint8_t>(L[64 * c + l] | (L[64 * c + 32 + l] << 4));
  }
}

void quant_q5_k(const float* x, BlockQ5_K* y, int64_t nb) {
  uint8_t L[kQK_K];
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    quant_k_minmax(x, 31, &y[i].d, &y[i].dmin, y[i].scales, L);
    std::memset(y[i].qh, 0, sizeof y[i].qh);
    for (int c = 0; c < 4; ++c) {
      for (int l = 0; l < 32; ++l) {
        const int a = L[64 * c + l], b = L[64 * c + 32 + l];
        y[i].qs[32 * c + l] = static_cast<uint8_t>((a & 0xF) | ((b & 0xF) << 4));
        y[i].qh[l] |= static_cast<uint8_t>(((a >> 4) << (2 * c)) | ((b >> 4) << (2 * c + 1)));
      }
    }
  }
}

// Q6_K: per sub-block of 16, the value of largest magnitude maps to -32; the 16 scales are int8 against
// the block's largest (which maps to -128), as ggml's quantize_row_q6_K_ref without its search.
void quant_q6_k(const float* x, BlockQ6_K* y, int64_t nb) {
  int8_t L[kQK_K];
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    float scales[16], max_scale = 0, max_abs_scale = 0;
    for (int ib = 0; ib < 16; ++ib) {
      float amax = 0, max = 0;
      for (int l = 0; l < 16; ++l)
        if (std::fabs(x[16 * ib + l]) > amax) { amax = std::fabs(x[16 * ib + l]); max = x[16 * ib + l]; }
      scales[ib] = max / -32;
      if (std::fabs(scales[ib]) > max_abs_scale) { max_abs_scale = std::fabs(scales[ib]); max_scale = scales[ib]; }
    }
    std::memset(&y[i], 0, sizeof y[i]);
    if (!(max_abs_scale >= 1e-15f)) {  // an all-zero block (or NaN): d = 0, quants at their zero point
      std::memset(L, 32, sizeof L);
    } else {
      const float iscale = -128.f / max_scale;
      y[i].d = fp32_to_fp16(1 / iscale);
      const float d = fp16_to_fp32(y[i].d);
      for (int ib = 0; ib < 16; ++ib) {
        int s = nearest_int(iscale * scales[ib]);
        y[i].scales[ib] = static_cast<int8_t>(s > 127 ? 127 : (s < -128 ? -128 : s));
        const float dd = d * y[i].scales[ib];
        for (int l = 0; l < 16; ++l) {
          int q = dd != 0.0f ? nearest_int(x[16 * ib + l] / dd) : 0;
          L[16 * ib + l] = static_cast<int8_t>((q < -32 ? -32 : (q > 31 ? 31 : q)) + 32);
        }
      }
    }
    for (int h = 0; h < 2; ++h) {
      uint8_t* ql = y[i].ql + 64 * h;
      uint8_t* qh = y[i].qh + 32 * h;
      const int8_t* Lh = L + 128 * h;
      for (int l = 0; l < 32; ++l) {
        ql[l] = static_cast<uint8_t>((Lh[l] & 0xF) | ((Lh[l + 64] & 0xF) << 4));
        ql[l + 32] = static_cast<uint8_t>((Lh[l + 32] & 0xF) | ((Lh[l + 96] & 0xF) << 4));
        qh[l] = static_cast<uint8_t>((Lh[l] >> 4) | ((Lh[l + 32] >> 4) << 2) | ((Lh[l + 64] >> 4) << 4) |
                                     ((Lh[l + 96] >> 4) << 6));
      }
    }
  }
}

// ggml quantize_row_q8_K_ref: iscale = -127/max where max is the (first) value of largest magnitude.
void quant_q8_k(const float* x, BlockQ8_K* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    float amax = 0, max = 0;
    for (int j = 0; j < kQK_K; ++j)
      if (std::fabs(x[j]) > amax) { amax = std::fabs(x[j]); max = x[j]; }
    if (amax == 0.0f) {
      std::memset(&y[i], 0, sizeof y[i]);
      continue;
    }
    const float iscale = -127.f / max;
    for (int j = 0; j < kQK_K; ++j) {
      int v = nearest_int(iscale * x[j]);
      y[i].qs[j] = static_cast<int8_t>(v > 127 ? 127 : (v < -128 ? -128 : v));
    }
    for (int g = 0; g < kQK_K / 16; ++g) {
      int sum = 0;
      for (int l = 0; l < 16; ++l) sum += y[i].qs[16 * g + l];
      y[i].bsums[g] = static_cast<int16_t>(sum);
    }
    y[i].d = 1 / iscale;
  }
}

}  // namespace

void quantize_row(Format f, const float* src, void* dst, int64_t n) {
  const int64_t nb = n / format_info(f).block_size;
  row_bytes(f, n);  // validates n
  switch (f) {
    case Format::F32: std::memcpy(dst, src, static_cast<size_t>(n) * 4); return;
    case Format::F16: {
      uint16_t* h = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) h[i] = fp32_to_fp16(src[i]);
      return;
    }
    case Format::BF16: {
      uint16_t* h = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) h[i] = fp32_to_bf16(src[i]);
      return;
    }
    case Format::Q8_0: quant_q8(src, static_cast<BlockQ8_0*>(dst), nb); return;
    case Format::Q8_1: quant_q8(src, static_cast<BlockQ8_1*>(dst), nb); return;
    case Format::Q4_0: quant_q4_0(src, static_cast<BlockQ4_0*>(dst), nb); return;
    case Format::Q4_1: quant_q4_1(src, static_cast<BlockQ4_1*>(dst), nb); return;
    case Format::Q5_0: quant_q5_0(src, static_cast<BlockQ5_0*>(dst), nb); return;
    case Format::Q5_1: quant_q5_1(src, static_cast<BlockQ5_1*>(dst), nb); return;
    case Format::Q4_K: quant_q4_k(src, static_cast<BlockQ4_K*>(dst), nb); return;
    case Format::Q5_K: quant_q5_k(src, static_cast<BlockQ5_K*>(dst), nb); return;
    case Format::Q6_K: quant_q6_k(src, static_cast<BlockQ6_K*>(dst), nb); return;
    case Format::Q8_K: quant_q8_k(src, static_cast<BlockQ8_K*>(dst), nb); return;
  }
  throw std::invalid_argument("quantize_row: unknown format");
}

}  // namespace hybrid::formats
