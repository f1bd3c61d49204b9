// Internal to ops/: the many-token matmul kernels of gemm_kernels.h, written once over a vector type V
// (V::L lanes of int32/float: 16 for AVX-512, 8 for AVX2 + AVX-VNNI) and compiled once per instruction set
// by gemm_x86_avx512.cpp and gemm_x86_avxvnni.cpp, which include this file inside a target pragma region
// and instantiate GemmImpl<V> for their own (internal) V. Nothing here has external linkage of its own.
//
// Integer formats (Q8_0, Q4_K, Q6_K). Packed activations, per group of L tokens, per weight block b
// (kBlk values), in this order:
//   qs  [kBlk/4][L tokens][4 bytes]  x + 128 as unsigned bytes (a token's 4 consecutive values per dword)
//   xd  [L] f32                       the token's block scale
//   sp  [4][L] i32                    (Q4_K only) sums of x over sub-blocks 2p and 2p+1, as two int16
// Weight panel, per tile of kRows rows, per block b:
//   qs   [kRows][kBlk] s8             the weights' integer values (q - 32 for Q6_K)
//   d    [kRows] f32
//   negc [kRows] i32                  -128 * sum_s sc_s * (sum of the row's values in sub-block s)
//   sc   [n_sub][kRows] i32           (K-quants) sub-block scales
//   dmin [kRows] f32, m [4][kRows] i32  (Q4_K) min scale; sub-block mins 2p, 2p+1 as two int16
// so that  sum_s sc_s * sum_k (x_k + 128) w_k  +  negc  =  sum_s sc_s * sum_k x_k w_k  exactly; vpdpbusd
// (unsigned x + 128 times signed weights broadcast four bytes at a time) never saturates.
//
// Float formats (F16, F32): groups of kFloatTokens tokens as f32 rows (F16 activations rounded to f16
// first, as the one-token kernel sees them); the panel is the tile's rows as f32. Each (row, token) keeps
// the canonical 16 lanes (16 / L vectors).
#pragma once

template <class V>
struct GemmImpl {
  using I = typename V::I;
  using F = typename V::F;
  static constexpr int L = V::L;
  static constexpr int kRows = V::kRows;
  static constexpr int kG = V::kGroups;  // token groups per microkernel call

  static int32_t load_i32(const uint8_t* p) {
    int32_t v;
    std::memcpy(&v, p, 4);
    return v;
  }
  static void store_i32(uint8_t* p, int32_t v) { std::memcpy(p, &v, 4); }
  static void store_f32(uint8_t* p, float v) { std::memcpy(p, &v, 4); }
  static float load_f32(const uint8_t* p) {
    float v;
    std::memcpy(&v, p, 4);
    return v;
  }

  // ------------------------------------------------------------------------------------------------
  // Integer formats

  enum class Fmt { Q8_0, Q4_K, Q6_K };

  template <Fmt W>
  struct T;

  template <Fmt W>
  struct Lay {
    static constexpr int kBlk = W == Fmt::Q8_0 ? 32 : 256;
    static constexpr int kSub = W == Fmt::Q6_K ? 16 : 32;
    static constexpr bool kSubScales = W != Fmt::Q8_0;
    static constexpr bool kMins = W == Fmt::Q4_K;
    static constexpr int kNSub = kBlk / kSub;
    static constexpr size_t kActXd = static_cast<size_t>(kBlk) * L;
    static constexpr size_t kActSp = kActXd + 4 * L;
    static constexpr size_t kActBytes = kActSp + (kMins ? 4 * 4 * L : 0);
    static constexpr size_t kPanD = static_cast<size_t>(kRows) * kBlk;
    static constexpr size_t kPanNegC = kPanD + 4 * kRows;
    static constexpr size_t kPanSc = kPanNegC + 4 * kRows;
    static constexpr size_t kPanDmin = kPanSc + (kSubScales ? 4 * kRows * kNSub : 0);
    static constexpr size_t kPanM = kPanDmin + (kMins ? 4 * kRows : 0);
    static constexpr size_t kPanBytes = kPanM + (kMins ? 4 * 4 * kRows : 0);
  };

  template <Fmt W>
  static size_t int_group_bytes(int64_t n) {
    return static_cast<size_t>(n / Lay<W>::kBlk) * Lay<W>::kActBytes;
  }
  template <Fmt W>
  static size_t int_panel_bytes(int64_t n) {
    return static_cast<size_t>(n / Lay<W>::kBlk) * Lay<W>::kPanBytes;
  }

  // Activation quantizers, bit for bit formats::quantize_row's Q8_0 and Q8_K for finite inputs (the
  // matmul's one-token path uses those; test_gemv checks that both paths agree bit for bit).
  // Q8_0 (ggml's x86 quantize_row_q8_0): d = f16(amax / 127), q = round-half-even(x * (127 / amax)).
  static void quantize_block_q8_0(const float* x, int8_t* qs, float* d_out) {
    F am = V::zerof();
    for (int j = 0; j < 32; j += L) am = V::maxf(V::absf(V::loadf(x + j)), am);
    const float amax = V::reduce_max(am);
    const float d = amax / 127.f;
    const float id = amax != 0.0f ? 127.f / amax : 0.0f;
    const F s = V::set1f(id);
    for (int j = 0; j < 32; j += L) V::store_q8(qs + j, V::round_to_i32(V::mul(V::loadf(x + j), s)));
    *d_out = formats::fp16_to_fp32(formats::fp32_to_fp16(d));
  }

  // Sum of 16 signed bytes.
  static int sum16_s8(const int8_t* p) {
    const __m128i v = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)), _mm_set1_epi8(static_cast<char>(0x80)));
    const __m128i s = _mm_sad_epu8(v, _mm_setzero_si128());
    return static_cast<int>(_mm_cvtsi128_si64(s) + _mm_extract_epi64(s, 1)) - 16 * 128;
  }

  // Q8_K (ggml's quantize_row_q8_K_ref): iscale = -127 / (the first value of largest magnitude),
  // q = round-half-even(iscale * x) clamped to int8, d = 1 / iscale; bsums = sums of 16 quants.
  static void quantize_block_q8_k(const float* x, int8_t* qs, float* d_out, int16_t* bsums) {
    F am = V::zerof();
    for (int j = 0; j < 256; j += L) am = V::maxf(V::absf(V::loadf(x + j)), am);
    const float amax = V::reduce_max(am);
    if (amax == 0.0f) {
      std::memset(qs, 0, 256);
      std::memset(bsums, 0, 32);
      *d_out = 0.0f;
      return;
    }
    float max = 0.0f;
    for (int j = 0; j < 256; j += L) {
      const unsigned eq = V::eq_mask(V::absf(V::loadf(x + j)), V::set1f(amax));
      if (eq) {
        max = x[j + __builtin_ctz(eq)];
        break;
      }
    }
    const float iscale = -127.f / max;
    const F s = V::set1f(iscale);
    for (int j = 0; j < 256; j += L) V::store_q8(qs + j, V::round_to_i32(V::mul(V::loadf(x + j), s)));
    for (int g = 0; g < 16; ++g) bsums[g] = static_cast<int16_t>(sum16_s8(qs + 16 * g));
    *d_out = 1 / iscale;
  }

  template <Fmt W>
  static void int_pack_group(const float* x, int64_t ldx, int64_t n_tokens, int64_t n, uint8_t* out) {
    using Y = Lay<W>;
    const int64_t nb = n / Y::kBlk;
    alignas(64) int8_t qs[Y::kBlk];
    int16_t bsums[16];
    for (int t = 0; t < L; ++t) {
      for (int64_t b = 0; b < nb; ++b) {
        uint8_t* ob = out + b * Y::kActBytes;
        if (t >= n_tokens) {
          for (int j = 0; j < Y::kBlk / 4; ++j) store_i32(ob + (j * L + t) * 4, static_cast<int32_t>(0x80808080u));
          store_f32(ob + Y::kActXd + 4 * t, 0.0f);
          if constexpr (Y::kMins)
            for (int p = 0; p < 4; ++p) store_i32(ob + Y::kActSp + (p * L + t) * 4, 0);
          continue;
        }
        float d;
        if constexpr (W == Fmt::Q8_0) {
          quantize_block_q8_0(x + t * ldx + b * Y::kBlk, qs, &d);
        } else {
          quantize_block_q8_k(x + t * ldx + b * Y::kBlk, qs, &d, bsums);
          if constexpr (Y::kMins) {
            for (int p = 0; p < 4; ++p) {
              const int s0 = bsums[4 * p] + bsums[4 * p + 1];
              const int s1 = bsums[4 * p + 2] + bsums[4 * p + 3];
              store_i32(ob + Y::kActSp + (p * L + t) * 4,
                        static_cast<int32_t>((static_cast<uint32_t>(s0) & 0xFFFF) | (static_cast<uint32_t>(s1) << 16)));
            }
          }
        }
        for (int j = 0; j < Y::kBlk / 4; ++j)
          store_i32(ob + (j * L + t) * 4, static_cast<int32_t>(static_cast<uint32_t>(load_i32(reinterpret_cast<const uint8_t*>(qs) + 4 * j)) ^ 0x80808080u));
        store_f32(ob + Y::kActXd + 4 * t, d);
      }
    }
  }

  // Sum of 32 signed bytes.
  static int sum_s8(__m256i v) {
    const __m256i s = _mm256_sad_epu8(_mm256_xor_si256(v, _mm256_set1_epi8(static_cast<char>(0x80))), _mm256_setzero_si256());
    const __m128i h = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    return static_cast<int>(_mm_cvtsi128_si64(h) + _mm_extract_epi64(h, 1)) - 32 * 128;
  }

  // Sums of the two 16-byte halves of 32 signed bytes.
  static void sum_s8_halves(__m256i v, int* lo, int* hi) {
    const __m256i s = _mm256_sad_epu8(_mm256_xor_si256(v, _mm256_set1_epi8(static_cast<char>(0x80))), _mm256_setzero_si256());
    *lo = static_cast<int>(_mm256_extract_epi64(s, 0) + _mm256_extract_epi64(s, 1)) - 16 * 128;
    *hi = static_cast<int>(_mm256_extract_epi64(s, 2) + _mm256_extract_epi64(s, 3)) - 16 * 128;
  }

  template <Fmt W>
  static void int_pack_panel(const uint8_t* w, size_t stride, int64_t n_rows, int64_t n, uint8_t* panel) {
    using Y = Lay<W>;
    const int64_t nb = n / Y::kBlk;
    for (int64_t b = 0; b < nb; ++b) {
      uint8_t* pb = panel + b * Y::kPanBytes;
      for (int r = 0; r < kRows; ++r) {
        uint8_t* qr = pb + r * Y::kBlk;
        if (r >= n_rows) {
          std::memset(qr, 0, Y::kBlk);
          store_f32(pb + Y::kPanD + 4 * r, 0.0f);
          store_i32(pb + Y::kPanNegC + 4 * r, 0);
          if constexpr (Y::kSubScales)
            for (int s = 0; s < Y::kNSub; ++s) store_i32(pb + Y::kPanSc + (s * kRows + r) * 4, 0);
          if constexpr (Y::kMins) {
            store_f32(pb + Y::kPanDmin + 4 * r, 0.0f);
            for (int p = 0; p < 4; ++p) store_i32(pb + Y::kPanM + (p * kRows + r) * 4, 0);
          }
          continue;
        }
        const uint8_t* row = w + r * stride;
        if constexpr (W == Fmt::Q8_0) {
          const formats::BlockQ8_0& blk = reinterpret_cast<const formats::BlockQ8_0*>(row)[b];
          const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.qs));
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(qr), v);
          store_f32(pb + Y::kPanD + 4 * r, formats::fp16_to_fp32(blk.d));
          store_i32(pb + Y::kPanNegC + 4 * r, -128 * sum_s8(v));
        } else if constexpr (W == Fmt::Q4_K) {
          const formats::BlockQ4_K& blk = reinterpret_cast<const formats::BlockQ4_K*>(row)[b];
          const __m256i m4 = _mm256_set1_epi8(0xF);
          int negc = 0;
          uint8_t sc[8], mn[8];
          for (int j = 0; j < 8; ++j) formats::scale_min_k4(j, blk.scales, &sc[j], &mn[j]);
          for (int c = 0; c < 4; ++c) {
            const __m256i q4 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.qs + 32 * c));
            const __m256i lo = _mm256_and_si256(q4, m4);
            const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q4, 4), m4);
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(qr + 64 * c), lo);
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(qr + 64 * c + 32), hi);
            negc -= 128 * (sc[2 * c] * sum_s8(lo) + sc[2 * c + 1] * sum_s8(hi));
          }
          for (int j = 0; j < 8; ++j) store_i32(pb + Y::kPanSc + (j * kRows + r) * 4, sc[j]);
          for (int p = 0; p < 4; ++p)
            store_i32(pb + Y::kPanM + (p * kRows + r) * 4, static_cast<int32_t>(mn[2 * p] | (mn[2 * p + 1] << 16)));
          store_f32(pb + Y::kPanD + 4 * r, formats::fp16_to_fp32(blk.d));
          store_f32(pb + Y::kPanDmin + 4 * r, formats::fp16_to_fp32(blk.dmin));
          store_i32(pb + Y::kPanNegC + 4 * r, negc);
        } else {
          const formats::BlockQ6_K& blk = reinterpret_cast<const formats::BlockQ6_K*>(row)[b];
          const __m256i m4 = _mm256_set1_epi8(0xF), m2 = _mm256_set1_epi8(3), k32 = _mm256_set1_epi8(32);
          int negc = 0;
          for (int h = 0; h < 2; ++h) {
            const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.qh + 32 * h));
            const __m256i qa = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.ql + 64 * h));
            const __m256i qb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.ql + 64 * h + 32));
            const __m256i q[4] = {
                _mm256_or_si256(_mm256_and_si256(qa, m4), _mm256_slli_epi16(_mm256_and_si256(qh, m2), 4)),
                _mm256_or_si256(_mm256_and_si256(qb, m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m2), 4)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(qa, 4), m4),
                                _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m2), 4)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(qb, 4), m4),
                                _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m2), 4)),
            };
            for (int j = 0; j < 4; ++j) {
              const __m256i v = _mm256_sub_epi8(q[j], k32);
              _mm256_storeu_si256(reinterpret_cast<__m256i*>(qr + 128 * h + 32 * j), v);
              int s_lo, s_hi;
              sum_s8_halves(v, &s_lo, &s_hi);
              const int s = 8 * h + 2 * j;
              negc -= 128 * (blk.scales[s] * s_lo + blk.scales[s + 1] * s_hi);
            }
          }
          for (int s = 0; s < 16; ++s) store_i32(pb + Y::kPanSc + (s * kRows + r) * 4, blk.scales[s]);
          store_f32(pb + Y::kPanD + 4 * r, formats::fp16_to_fp32(blk.d));
          store_i32(pb + Y::kPanNegC + 4 * r, negc);
        }
      }
    }
  }

  // kRows rows x G groups of L tokens over nb blocks; out[(r * G + g) * L + lane].
  template <Fmt W, int G>
  static void int_kernel(const uint8_t* panel, const uint8_t* groups, size_t group_bytes, int64_t nb, float* out) {
    using Y = Lay<W>;
    F accf[kRows][G], accm[kRows][G];
    for (int r = 0; r < kRows; ++r)
      for (int g = 0; g < G; ++g) accf[r][g] = accm[r][g] = V::zerof();
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* pb = panel + b * Y::kPanBytes;
      const uint8_t* xb[G];
      for (int g = 0; g < G; ++g) xb[g] = groups + g * group_bytes + b * Y::kActBytes;
      I acc[kRows][G];
#pragma GCC unroll 8
      for (int r = 0; r < kRows; ++r) {
        const I c = V::set1i(load_i32(pb + Y::kPanNegC + 4 * r));
        for (int g = 0; g < G; ++g) acc[r][g] = c;
      }
      if constexpr (!Y::kSubScales) {
#pragma GCC unroll 8
        for (int j = 0; j < Y::kBlk / 4; ++j) {
          I xv[G];
          for (int g = 0; g < G; ++g) xv[g] = V::loadi(xb[g] + 4 * L * j);
#pragma GCC unroll 8
          for (int r = 0; r < kRows; ++r) {
            const I wv = V::set1i(load_i32(pb + r * Y::kBlk + 4 * j));
            for (int g = 0; g < G; ++g) acc[r][g] = V::dpbusd(acc[r][g], xv[g], wv);
          }
        }
      } else {
        for (int s = 0; s < Y::kNSub; ++s) {
          I sub[kRows][G];
          for (int r = 0; r < kRows; ++r)
            for (int g = 0; g < G; ++g) sub[r][g] = V::zeroi();
#pragma GCC unroll 8
          for (int jj = 0; jj < Y::kSub / 4; ++jj) {
            const int j = s * (Y::kSub / 4) + jj;
            I xv[G];
            for (int g = 0; g < G; ++g) xv[g] = V::loadi(xb[g] + 4 * L * j);
#pragma GCC unroll 8
            for (int r = 0; r < kRows; ++r) {
              const I wv = V::set1i(load_i32(pb + r * Y::kBlk + 4 * j));
              for (int g = 0; g < G; ++g) sub[r][g] = V::dpbusd(sub[r][g], xv[g], wv);
            }
          }
#pragma GCC unroll 8
          for (int r = 0; r < kRows; ++r) {
            const I sc = V::set1i(load_i32(pb + Y::kPanSc + (s * kRows + r) * 4));
            for (int g = 0; g < G; ++g) acc[r][g] = V::addi(acc[r][g], V::mullo(sub[r][g], sc));
          }
        }
      }
      F xd[G];
      for (int g = 0; g < G; ++g) xd[g] = V::loadf(reinterpret_cast<const float*>(xb[g] + Y::kActXd));
#pragma GCC unroll 8
      for (int r = 0; r < kRows; ++r) {
        const F wd = V::set1f(load_f32(pb + Y::kPanD + 4 * r));
        for (int g = 0; g < G; ++g) accf[r][g] = V::fma(V::cvt(acc[r][g]), V::mul(wd, xd[g]), accf[r][g]);
      }
      if constexpr (Y::kMins) {
#pragma GCC unroll 8
        for (int r = 0; r < kRows; ++r) {
          const F dmin = V::set1f(load_f32(pb + Y::kPanDmin + 4 * r));
          for (int g = 0; g < G; ++g) {
            I m = V::zeroi();
            for (int p = 0; p < 4; ++p)
              m = V::dpwssd(m, V::loadi(xb[g] + Y::kActSp + 4 * L * p), V::set1i(load_i32(pb + Y::kPanM + (p * kRows + r) * 4)));
            accm[r][g] = V::fma(V::cvt(m), V::mul(dmin, xd[g]), accm[r][g]);
          }
        }
      }
    }
    for (int r = 0; r < kRows; ++r)
      for (int g = 0; g < G; ++g) V::storef(out + (r * G + g) * L, Y::kMins ? V::sub(accf[r][g], accm[r][g]) : accf[r][g]);
  }

  template <Fmt W>
  static void int_run_tile(const uint8_t* w, size_t stride, int64_t n_rows, const uint8_t* groups, int64_t n_tokens,
                           int64_t n, float* y, int64_t ldy, uint8_t* panel) {
    int_pack_panel<W>(w, stride, n_rows, n, panel);
    const int64_t nb = n / Lay<W>::kBlk;
    const size_t gb = int_group_bytes<W>(n);
    const int64_t n_groups = (n_tokens + L - 1) / L;
    alignas(64) float out[kRows * kG * L];
    auto store = [&](int64_t g0, int G) {
      for (int r = 0; r < n_rows; ++r)
        for (int g = 0; g < G; ++g)
          for (int l = 0; l < L; ++l) {
            const int64_t t = (g0 + g) * L + l;
            if (t < n_tokens) y[t * ldy + r] = out[(r * G + g) * L + l];
          }
    };
    int64_t g = 0;
    for (; g + kG <= n_groups; g += kG) {
      int_kernel<W, kG>(panel, groups + g * gb, gb, nb, out);
      store(g, kG);
    }
    for (; g < n_groups; ++g) {
      int_kernel<W, 1>(panel, groups + g * gb, gb, nb, out);
      store(g, 1);
    }
  }

  // ------------------------------------------------------------------------------------------------
  // Float formats

  static constexpr int kFT = V::kFloatTokens, kFR = V::kFloatRows, kParts = 16 / L;

  template <bool kF16>
  static size_t float_group_bytes(int64_t n) {
    return static_cast<size_t>(kFT) * n * 4;
  }
  template <bool kF16>
  static size_t float_panel_bytes(int64_t n) {
    return static_cast<size_t>(kFR) * n * 4;
  }

  template <bool kF16>
  static void float_pack_group(const float* x, int64_t ldx, int64_t n_tokens, int64_t n, uint8_t* out) {
    float* o = reinterpret_cast<float*>(out);
    for (int t = 0; t < kFT; ++t) {
      float* ot = o + t * n;
      if (t >= n_tokens) {
        std::memset(ot, 0, static_cast<size_t>(n) * 4);
        continue;
      }
      const float* xt = x + t * ldx;
      if constexpr (kF16) {
        int64_t k = 0;
        for (; k + 8 <= n; k += 8)  // vcvtps2ph rounds to nearest even, like fp32_to_fp16
          _mm256_storeu_ps(ot + k, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(xt + k), _MM_FROUND_TO_NEAREST_INT)));
        for (; k < n; ++k) ot[k] = formats::fp16_to_fp32(formats::fp32_to_fp16(xt[k]));
      } else {
        std::memcpy(ot, xt, static_cast<size_t>(n) * 4);
      }
    }
  }

  template <bool kF16>
  static void float_pack_panel(const uint8_t* w, size_t stride, int64_t n_rows, int64_t n, float* panel) {
    for (int r = 0; r < kFR; ++r) {
      float* pr = panel + r * n;
      if (r >= n_rows) {
        std::memset(pr, 0, static_cast<size_t>(n) * 4);
        continue;
      }
      if constexpr (kF16) {
        const uint16_t* row = reinterpret_cast<const uint16_t*>(w + r * stride);
        int64_t k = 0;
        for (; k + 8 <= n; k += 8)
          _mm256_storeu_ps(pr + k, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + k))));
        for (; k < n; ++k) pr[k] = formats::fp16_to_fp32(row[k]);
      } else {
        std::memcpy(pr, w + r * stride, static_cast<size_t>(n) * 4);
      }
    }
  }

  static void float_kernel(const float* panel, const float* xg, int64_t n, float* out /*[kFR][kFT]*/) {
    F acc[kFR][kFT][kParts];
    for (auto& a : acc)
      for (auto& b : a)
        for (auto& v : b) v = V::zerof();
    const int64_t n16 = n / 16 * 16;
    for (int64_t k = 0; k < n16; k += 16) {
#pragma GCC unroll 2
      for (int p = 0; p < kParts; ++p) {
        F wv[kFR];
        for (int r = 0; r < kFR; ++r) wv[r] = V::loadf(panel + r * n + k + p * L);
#pragma GCC unroll 4
        for (int t = 0; t < kFT; ++t) {
          const F xv = V::loadf(xg + t * n + k + p * L);
          for (int r = 0; r < kFR; ++r) acc[r][t][p] = V::fma(wv[r], xv, acc[r][t][p]);
        }
      }
    }
    for (int r = 0; r < kFR; ++r)
      for (int t = 0; t < kFT; ++t) {
        float s = V::reduce16(acc[r][t]);
        for (int64_t k = n16; k < n; ++k) s = std::fma(panel[r * n + k], xg[t * n + k], s);
        out[r * kFT + t] = s;
      }
  }

  template <bool kF16>
  static void float_run_tile(const uint8_t* w, size_t stride, int64_t n_rows, const uint8_t* groups, int64_t n_tokens,
                             int64_t n, float* y, int64_t ldy, uint8_t* panel_bytes) {
    float* panel = reinterpret_cast<float*>(panel_bytes);
    float_pack_panel<kF16>(w, stride, n_rows, n, panel);
    const int64_t n_groups = (n_tokens + kFT - 1) / kFT;
    float out[kFR * kFT];
    for (int64_t g = 0; g < n_groups; ++g) {
      float_kernel(panel, reinterpret_cast<const float*>(groups) + g * kFT * n, n, out);
      for (int r = 0; r < n_rows; ++r)
        for (int t = 0; t < kFT; ++t) {
          const int64_t tok = g * kFT + t;
          if (tok < n_tokens) y[tok * ldy + r] = out[r * kFT + t];
        }
    }
  }

  // ------------------------------------------------------------------------------------------------

  // Crossovers measured with `hybrid opbench --op matmul --tokens T` against HYBRID_GEMM=none (4096 x 1024
  // weights, AVX-512): the integer kernels pay for their 16-token groups and weight panels from about 6
  // tokens on, the float kernels (groups of 3-4 tokens) from 3.
  static constexpr int64_t kIntMinTokens = 6, kFloatMinTokens = 3;

  template <Fmt W>
  static GemmKernel int_entry() {
    return GemmKernel{L, kRows, kIntMinTokens, int_group_bytes<W>, int_pack_group<W>, int_panel_bytes<W>, int_run_tile<W>};
  }
  template <bool kF16>
  static GemmKernel float_entry() {
    return GemmKernel{kFT, kFR, kFloatMinTokens, float_group_bytes<kF16>, float_pack_group<kF16>, float_panel_bytes<kF16>,
                      float_run_tile<kF16>};
  }

  // Whole rows in formats' own activation layouts (for the one-token path), bit for bit
  // formats::quantize_activations.
  static void quantize_row_q8_0(const float* x, void* out, int64_t n) {
    formats::BlockQ8_0* y = static_cast<formats::BlockQ8_0*>(out);
    for (int64_t b = 0; b < n / 32; ++b) {
      float d;
      quantize_block_q8_0(x + 32 * b, y[b].qs, &d);
      y[b].d = formats::fp32_to_fp16(d);  // d is already an f16 value: exact
    }
  }
  static void quantize_row_q8_k(const float* x, void* out, int64_t n) {
    formats::BlockQ8_K* y = static_cast<formats::BlockQ8_K*>(out);
    for (int64_t b = 0; b < n / 256; ++b) quantize_block_q8_k(x + 256 * b, y[b].qs, &y[b].d, y[b].bsums);
  }
  static void quantize_row_f16(const float* x, void* out, int64_t n) {
    uint16_t* y = static_cast<uint16_t*>(out);
    int64_t k = 0;
    for (; k + 8 <= n; k += 8)  // vcvtps2ph rounds to nearest even, like fp32_to_fp16
      _mm_storeu_si128(reinterpret_cast<__m128i*>(y + k), _mm256_cvtps_ph(_mm256_loadu_ps(x + k), _MM_FROUND_TO_NEAREST_INT));
    for (; k < n; ++k) y[k] = formats::fp32_to_fp16(x[k]);
  }

  static QuantizeFn quantizer(formats::Format w) {
    switch (formats::activation_format(w)) {
      case formats::Format::Q8_0: return quantize_row_q8_0;
      case formats::Format::Q8_K: return quantize_row_q8_k;
      case formats::Format::F16: return quantize_row_f16;
      default: return nullptr;
    }
  }

  // The kernel for weights of format f, or nullptr.
  static const GemmKernel* get(formats::Format f) {
    static const GemmKernel q8_0 = int_entry<Fmt::Q8_0>(), q4_k = int_entry<Fmt::Q4_K>(), q6_k = int_entry<Fmt::Q6_K>(),
                            f16 = float_entry<true>(), f32 = float_entry<false>();
    switch (f) {
      case formats::Format::Q8_0: return &q8_0;
      case formats::Format::Q4_K: return &q4_k;
      case formats::Format::Q6_K: return &q6_k;
      case formats::Format::F16: return &f16;
      case formats::Format::F32: return &f32;
      default: return nullptr;
    }
  }
};
