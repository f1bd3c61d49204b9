// Scalar vec_dot kernels: the reference for the SIMD ones. Integer sums per block are exact; blocks are
// combined in f32 as ggml's generic kernels do (ggml-cpu/quants.c ggml_vec_dot_*_generic).
#include <cstring>

#include "formats/blocks.h"
#include "formats/half.h"
#include "formats/kernels.h"

namespace hybrid::formats::detail {
namespace {

float dot_f32(const void* w, const void* x, int64_t n) {
  const float* a = static_cast<const float*>(w);
  const float* b = static_cast<const float*>(x);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(a[i] * b[i]);
  return static_cast<float>(s);
}

float dot_f16(const void* w, const void* x, int64_t n) {
  const uint16_t* a = static_cast<const uint16_t*>(w);
  const uint16_t* b = static_cast<const uint16_t*>(x);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(fp16_to_fp32(a[i]) * fp16_to_fp32(b[i]));
  return static_cast<float>(s);
}

float dot_bf16(const void* w, const void* x, int64_t n) {
  const uint16_t* a = static_cast<const uint16_t*>(w);
  const uint16_t* b = static_cast<const uint16_t*>(x);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(bf16_to_fp32(a[i]) * bf16_to_fp32(b[i]));
  return static_cast<float>(s);
}

float dot_q8_0(const void* w, const void* x, int64_t n) {
  const BlockQ8_0* a = static_cast<const BlockQ8_0*>(w);
  const BlockQ8_0* b = static_cast<const BlockQ8_0*>(x);
  float s = 0;
  for (int64_t i = 0; i < n / kQK8_0; ++i) {
    int sumi = 0;
    for (int j = 0; j < kQK8_0; ++j) sumi += a[i].qs[j] * b[i].qs[j];
    s += sumi * (fp16_to_fp32(a[i].d) * fp16_to_fp32(b[i].d));
  }
  return s;
}

float dot_q4_0(const void* w, const void* x, int64_t n) {
  const BlockQ4_0* a = static_cast<const BlockQ4_0*>(w);
  const BlockQ8_0* b = static_cast<const BlockQ8_0*>(x);
  float s = 0;
  for (int64_t i = 0; i < n / kQK4_0; ++i) {
    int sumi = 0;
    for (int j = 0; j < kQK4_0 / 2; ++j)
      sumi += ((a[i].qs[j] & 0xF) - 8) * b[i].qs[j] + ((a[i].qs[j] >> 4) - 8) * b[i].qs[j + kQK4_0 / 2];
    s += sumi * (fp16_to_fp32(a[i].d) * fp16_to_fp32(b[i].d));
  }
  return s;
}

inline uint32_t load_qh(const uint8_t* qh) {
  uint32_t v;
  std::memcpy(&v, qh, 4);
  return v;
}

// Q4_1/Q5_1 times Q8_1: sum = d_w*d_a * (q . a) + m_w * s_a, where s_a = d_a * sum(a) rounded to f16,
// exactly as ggml (vec_dot_q4_1_q8_1 / q5_1_q8_1): the offset term uses the activation block's stored sum.
template <bool kFive, typename Block>
float dot_q41_q51(const void* w, const void* x, int64_t n) {
  const Block* a = static_cast<const Block*>(w);
  const BlockQ8_1* b = static_cast<const BlockQ8_1*>(x);
  float s = 0;
  for (int64_t i = 0; i < n / kQK4_0; ++i) {
    uint32_t qh = 0;
    if constexpr (kFive) qh = load_qh(a[i].qh);
    int sumi = 0;
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      const int lo = (a[i].qs[j] & 0xF) | static_cast<int>(((qh >> j) & 1) << 4);
      const int hi = (a[i].qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1) << 4);
      sumi += lo * b[i].qs[j] + hi * b[i].qs[j + kQK4_0 / 2];
    }
    s += (fp16_to_fp32(a[i].d) * fp16_to_fp32(b[i].d)) * sumi + fp16_to_fp32(a[i].m) * fp16_to_fp32(b[i].s);
  }
  return s;
}

float dot_q5_0(const void* w, const void* x, int64_t n) {
  const BlockQ5_0* a = static_cast<const BlockQ5_0*>(w);
  const BlockQ8_0* b = static_cast<const BlockQ8_0*>(x);
  float s = 0;
  for (int64_t i = 0; i < n / kQK4_0; ++i) {
    const uint32_t qh = load_qh(a[i].qh);
    int sumi = 0;
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      const int lo = ((a[i].qs[j] & 0xF) | static_cast<int>(((qh >> j) & 1) << 4)) - 16;
      const int hi = ((a[i].qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1) << 4)) - 16;
      sumi += lo * b[i].qs[j] + hi * b[i].qs[j + kQK4_0 / 2];
    }
    s += sumi * (fp16_to_fp32(a[i].d) * fp16_to_fp32(b[i].d));
  }
  return s;
}

// Q4_K/Q5_K: sum_j sc_j * (q . a)_j  and  sum_j m_j * (sum of a over sub-block j, from bsums).
template <bool kFive, typename Block>
float dot_k4(const void* w, const void* x, int64_t n) {
  const Block* a = static_cast<const Block*>(w);
  const BlockQ8_K* b = static_cast<const BlockQ8_K*>(x);
  float s = 0;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int sumi = 0, summ = 0;
    const int8_t* q8 = b[i].qs;
    for (int c = 0; c < 4; ++c) {
      const uint8_t* q = a[i].qs + 32 * c;
      int s1 = 0, s2 = 0;
      for (int l = 0; l < 32; ++l) {
        int lo = q[l] & 0xF, hi = q[l] >> 4;
        if constexpr (kFive) {
          lo += ((a[i].qh[l] >> (2 * c)) & 1) << 4;
          hi += ((a[i].qh[l] >> (2 * c + 1)) & 1) << 4;
        }
        s1 += lo * q8[64 * c + l];
        s2 += hi * q8[64 * c + 32 + l];
      }
      uint8_t sc1, m1, sc2, m2;
      scale_min_k4(2 * c, a[i].scales, &sc1, &m1);
      scale_min_k4(2 * c + 1, a[i].scales, &sc2, &m2);
      sumi += sc1 * s1 + sc2 * s2;
      summ += m1 * (b[i].bsums[4 * c] + b[i].bsums[4 * c + 1]) + m2 * (b[i].bsums[4 * c + 2] + b[i].bsums[4 * c + 3]);
    }
    s += fp16_to_fp32(a[i].d) * b[i].d * sumi - fp16_to_fp32(a[i].dmin) * b[i].d * summ;
  }
  return s;
}

float dot_q6_k(const void* w, const void* x, int64_t n) {
  const BlockQ6_K* a = static_cast<const BlockQ6_K*>(w);
  const BlockQ8_K* b = static_cast<const BlockQ8_K*>(x);
  float s = 0;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int sumi = 0;
    for (int h = 0; h < 2; ++h) {
      const uint8_t* ql = a[i].ql + 64 * h;
      const uint8_t* qh = a[i].qh + 32 * h;
      const int8_t* q8 = b[i].qs + 128 * h;
      int g[8] = {0, 0, 0, 0, 0, 0, 0, 0};  // per sub-block of 16 within this half
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        g[is + 0] += (((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32) * q8[l];
        g[is + 2] += (((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32) * q8[l + 32];
        g[is + 4] += (((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32) * q8[l + 64];
        g[is + 6] += (((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32) * q8[l + 96];
      }
      for (int k = 0; k < 8; ++k) sumi += a[i].scales[8 * h + k] * g[k];
    }
    s += fp16_to_fp32(a[i].d) * b[i].d * sumi;
  }
  return s;
}

}  // namespace

const VecDotTable& scalar_kernels() {
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
  return t;
}

}  // namespace hybrid::formats::detail
