// Tensor formats: the block table, f16/bf16 conversions, quantize -> dequantize error bounds, llama.cpp's
// activation rounding, and every dot product against dequantize + a double-precision dot.
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "check.h"
#include "core/system_info.h"
#include "formats/blocks.h"
#include "formats/formats.h"
#include "formats/half.h"

using namespace hybrid::formats;

namespace {

std::vector<float> gaussian(size_t n, uint32_t seed, float std = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, std);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

std::vector<float> roundtrip(Format f, const std::vector<float>& x) {
  std::vector<uint8_t> q(row_bytes(f, static_cast<int64_t>(x.size())));
  quantize_row(f, x.data(), q.data(), static_cast<int64_t>(x.size()));
  std::vector<float> y(x.size());
  dequantize_row(f, q.data(), y.data(), static_cast<int64_t>(x.size()));
  return y;
}

double rms_rel_error(const std::vector<float>& x, const std::vector<float>& y) {
  double e = 0, s = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    e += (static_cast<double>(x[i]) - y[i]) * (static_cast<double>(x[i]) - y[i]);
    s += static_cast<double>(x[i]) * x[i];
  }
  return std::sqrt(e / s);
}

}  // namespace

TEST("format table: block sizes, type sizes, names and vec_dot types follow ggml") {
  struct Row { Format f; const char* name; uint32_t bs, ts; Format vd; };
  const Row rows[] = {
      {Format::F32, "F32", 1, 4, Format::F32},       {Format::F16, "F16", 1, 2, Format::F16},
      {Format::BF16, "BF16", 1, 2, Format::BF16},    {Format::Q8_0, "Q8_0", 32, 34, Format::Q8_0},
      {Format::Q4_0, "Q4_0", 32, 18, Format::Q8_0},  {Format::Q4_1, "Q4_1", 32, 20, Format::Q8_1},
      {Format::Q5_0, "Q5_0", 32, 22, Format::Q8_0},  {Format::Q5_1, "Q5_1", 32, 24, Format::Q8_1},
      {Format::Q8_1, "Q8_1", 32, 36, Format::Q8_1},  {Format::Q4_K, "Q4_K", 256, 144, Format::Q8_K},
      {Format::Q5_K, "Q5_K", 256, 176, Format::Q8_K}, {Format::Q6_K, "Q6_K", 256, 210, Format::Q8_K},
      {Format::Q8_K, "Q8_K", 256, 292, Format::Q8_K},
  };
  for (const Row& r : rows) {
    const FormatInfo& fi = format_info(r.f);
    CHECK_EQ(std::string(fi.name), std::string(r.name));
    CHECK_EQ(fi.block_size, r.bs);
    CHECK_EQ(fi.type_size, r.ts);
    CHECK(fi.vec_dot_type == r.vd);
    CHECK(find_format(static_cast<uint32_t>(r.f)) == &fi);
  }
  CHECK(find_format(10) == nullptr);  // Q2_K: a ggml type we do not implement
  CHECK_EQ(std::string(ggml_type_name(10)), std::string("Q2_K"));
  CHECK(ggml_type_name(1000) == nullptr);
  CHECK(!find_format(15)->in_files);
  CHECK(!find_format(9)->in_files);
  CHECK_EQ(file_formats_list(), std::string("F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K"));
  Format f;
  CHECK(parse_format("q4_k", &f) && f == Format::Q4_K);
  CHECK(parse_format("BF16", &f) && f == Format::BF16);
  CHECK(!parse_format("q8_k", &f));
  CHECK(parse_format("q5_1", &f) && f == Format::Q5_1);
  CHECK(!parse_format("q8_1", &f));
  CHECK_EQ(row_bytes(Format::Q6_K, 512), size_t{420});
  CHECK_THROWS(row_bytes(Format::Q8_0, 33));
  CHECK_THROWS(row_bytes(Format::Q4_K, 128));
}

TEST("f16: every half converts to f32 and back unchanged; rounding is to nearest even") {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float v = fp16_to_fp32(static_cast<uint16_t>(h));
    if (std::isnan(v)) {
      CHECK(std::isnan(fp16_to_fp32(fp32_to_fp16(v))));
      continue;
    }
    if (fp32_to_fp16(v) != h) { CHECK_EQ(fp32_to_fp16(v), static_cast<uint16_t>(h)); break; }
  }
  CHECK_EQ(fp32_to_fp16(1.0f + std::ldexp(1.0f, -11)), uint16_t{0x3c00});        // tie -> even
  CHECK_EQ(fp32_to_fp16(1.0f + 3 * std::ldexp(1.0f, -11)), uint16_t{0x3c02});    // tie -> even (up)
  CHECK_EQ(fp32_to_fp16(65519.0f), uint16_t{0x7bff});
  CHECK_EQ(fp32_to_fp16(65520.0f), uint16_t{0x7c00});                            // rounds to inf
  CHECK_EQ(fp32_to_fp16(std::ldexp(1.0f, -24)), uint16_t{0x0001});               // smallest subnormal
  CHECK_EQ(fp32_to_fp16(std::ldexp(1.0f, -25)), uint16_t{0x0000});               // tie -> 0
  CHECK_EQ(fp32_to_fp16(3 * std::ldexp(1.0f, -26)), uint16_t{0x0001});
  CHECK_EQ(fp32_to_fp16(-0.0f), uint16_t{0x8000});
  CHECK_EQ(fp32_to_fp16(INFINITY), uint16_t{0x7c00});
  CHECK((fp32_to_fp16(NAN) & 0x7c00) == 0x7c00 && (fp32_to_fp16(NAN) & 0x3ff) != 0);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
__attribute__((target("f16c"))) static uint16_t f16c_convert(float x) {
  return static_cast<uint16_t>(_mm_extract_epi16(_mm_cvtps_ph(_mm_set_ss(x), _MM_FROUND_TO_NEAREST_INT), 0));
}
TEST("f16: fp32_to_fp16 equals the F16C instruction on 2M random bit patterns") {
  if (!hybrid::cpu_has(hybrid::query_cpu(), "f16c")) return;
  std::mt19937 rng(42);
  int bad = 0, compared = 0;
  for (int i = 0; i < 2000000 && bad < 5; ++i, ++compared) {
    uint32_t u = rng();
    if (i % 2) u = (u & 0x80000000u) | (0x30000000u + (u % 0x18000000u));  // concentrate on the half range
    float x;
    std::memcpy(&x, &u, 4);
    if (std::isnan(x)) continue;
    if (fp32_to_fp16(x) != f16c_convert(x)) { ++bad; CHECK_EQ(fp32_to_fp16(x), f16c_convert(x)); }
  }
  std::printf("  %d values compared with F16C\n", compared);
}
#endif

TEST("bf16: round to nearest even, NaN stays NaN") {
  CHECK_EQ(fp32_to_bf16(1.0f), uint16_t{0x3f80});
  CHECK_EQ(bf16_to_fp32(0x3f80), 1.0f);
  CHECK_EQ(fp32_to_bf16(f32_from_bits(0x3f808000)), uint16_t{0x3f80});  // tie -> even
  CHECK_EQ(fp32_to_bf16(f32_from_bits(0x3f818000)), uint16_t{0x3f82});  // tie -> even (up)
  CHECK_EQ(fp32_to_bf16(f32_from_bits(0x3f808001)), uint16_t{0x3f81});
  CHECK(std::isnan(bf16_to_fp32(fp32_to_bf16(NAN))));
  for (uint32_t h = 0; h < 65536; h += 7) {
    const float v = bf16_to_fp32(static_cast<uint16_t>(h));
    if (!std::isnan(v)) CHECK_EQ(fp32_to_bf16(v), static_cast<uint16_t>(h));
  }
}

TEST("quantize -> dequantize error stays within each format's bound") {
  struct Bound { Format f; double rms; };
  // Gaussian data; the bounds are ~1.5x what these simple quantizers reach.
  const Bound bounds[] = {{Format::F32, 0}, {Format::F16, 4e-4}, {Format::BF16, 3e-3}, {Format::Q8_0, 0.012},
                          {Format::Q4_0, 0.15}, {Format::Q4_1, 0.15}, {Format::Q5_0, 0.075}, {Format::Q5_1, 0.075},
                          {Format::Q4_K, 0.15}, {Format::Q5_K, 0.075}, {Format::Q6_K, 0.04}};
  const std::vector<float> x = gaussian(4096, 1);
  for (const Bound& b : bounds) {
    const double e = rms_rel_error(x, roundtrip(b.f, x));
    std::printf("  %s: rms relative error %.5f (bound %.4f)\n", format_name(b.f), e, b.rms);
    CHECK(e <= b.rms);
  }
  // Q8_0: every value within half a step of the block's f16 scale.
  std::vector<float> y = roundtrip(Format::Q8_0, x);
  for (size_t blk = 0; blk < x.size() / 32; ++blk) {
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::fmax(amax, std::fabs(x[blk * 32 + j]));
    const float d = fp16_to_fp32(fp32_to_fp16(amax / 127));
    for (int j = 0; j < 32; ++j) CHECK(std::fabs(x[blk * 32 + j] - y[blk * 32 + j]) <= 0.5f * d + 127 * std::fabs(d - amax / 127) + 1e-7f);
  }
}

TEST("quantizers: zeros stay zeros, outliers and non-finite inputs are handled") {
  for (Format f : kFileFormats) {
    std::vector<float> z(512, 0.0f);
    for (float v : roundtrip(f, z)) CHECK_EQ(v, 0.0f);
    std::vector<float> x = gaussian(512, 3, 0.01f);
    x[100] = 50.0f;  // one outlier sets its block's scale
    std::vector<float> y = roundtrip(f, x);
    const bool four_bit = f == Format::Q4_0 || f == Format::Q4_1 || f == Format::Q4_K;
    CHECK(std::fabs(y[100] - 50.0f) < 50.0f * (four_bit ? 0.15f : 0.05f));
    std::vector<float> bad(512, 1.0f);
    bad[3] = NAN;
    bad[300] = INFINITY;
    std::vector<uint8_t> q(row_bytes(f, 512));
    quantize_row(f, bad.data(), q.data(), 512);  // must not crash or trip UBSan
  }
}

TEST("Q8_0 activations round like ggml's x86 quantize_row_q8_0 (127/amax, ties to even)") {
  std::vector<float> x(32, 0.0f);
  x[0] = 127.0f;  // amax = 127: d = 1, id = 1
  x[1] = 2.5f;
  x[2] = 3.5f;
  x[3] = -2.5f;
  x[4] = -0.5f;
  BlockQ8_0 b;
  quantize_row(Format::Q8_0, x.data(), &b, 32);
  CHECK_EQ(fp16_to_fp32(b.d), 1.0f);
  CHECK_EQ(b.qs[0], 127);
  CHECK_EQ(b.qs[1], 2);
  CHECK_EQ(b.qs[2], 4);
  CHECK_EQ(b.qs[3], -2);
  CHECK_EQ(b.qs[4], 0);
  // Q8_K: iscale = -127/max with max the (signed) value of largest magnitude; bsums are group sums.
  std::vector<float> k(256, 0.0f);
  k[0] = -127.0f;  // iscale = 1
  k[1] = 2.5f;
  k[17] = -6.5f;
  BlockQ8_K bk;
  quantize_row(Format::Q8_K, k.data(), &bk, 256);
  CHECK_EQ(bk.d, 1.0f);
  CHECK_EQ(bk.qs[0], -127);
  CHECK_EQ(bk.qs[1], 2);
  CHECK_EQ(bk.qs[17], -6);
  CHECK_EQ(bk.bsums[0], -125);
  CHECK_EQ(bk.bsums[1], -6);
}

TEST("dot products: dot_f32 and vec_dot equal dequantize + a double dot, on every ISA") {
  const int64_t n = 1024 + 256;  // five K-blocks, forty Q8_0 blocks
  std::vector<float> x = gaussian(static_cast<size_t>(n), 7);
  for (size_t i = 0; i < x.size(); i += 61) x[i] *= 10;
  std::vector<Isa> isas = {Isa::Scalar};
  if (isa_available(Isa::Avx2)) isas.push_back(Isa::Avx2);
  std::printf("  ISAs: scalar%s (best: %s)\n", isa_available(Isa::Avx2) ? ", avx2" : "", isa_name(best_isa()));
  for (Format f : kFileFormats) {
    for (uint32_t seed = 0; seed < 8; ++seed) {
      std::vector<float> w = gaussian(static_cast<size_t>(n), 100 + seed, 0.05f);
      std::vector<uint8_t> wq(row_bytes(f, n));
      quantize_row(f, w.data(), wq.data(), n);
      std::vector<float> wd(static_cast<size_t>(n));
      dequantize_row(f, wq.data(), wd.data(), n);
      std::vector<uint8_t> xq(activation_bytes(f, n));
      quantize_activations(f, x.data(), xq.data(), n);
      std::vector<float> xd(static_cast<size_t>(n));
      dequantize_row(activation_format(f), xq.data(), xd.data(), n);
      double exact = 0, exact_q = 0, scale = 0, scale_q = 0;
      for (int64_t i = 0; i < n; ++i) {
        exact += static_cast<double>(wd[i]) * x[i];
        exact_q += static_cast<double>(wd[i]) * xd[i];
        scale += std::fabs(static_cast<double>(wd[i]) * x[i]);
        scale_q += std::fabs(static_cast<double>(wd[i]) * xd[i]);
      }
      // Q4_1/Q5_1 (as ggml): the offset m of each weight block multiplies the activation block's stored
      // f16 sum s = d * sum(q), not the exact sum of its decoded values.
      if (activation_format(f) == Format::Q8_1) {
        const BlockQ8_1* ab = reinterpret_cast<const BlockQ8_1*>(xq.data());
        for (int64_t blk = 0; blk < n / 32; ++blk) {
          uint16_t mbits;
          std::memcpy(&mbits, wq.data() + blk * format_info(f).type_size + 2, 2);  // m follows d in both layouts
          double block_sum = 0;
          for (int j = 0; j < 32; ++j) block_sum += xd[static_cast<size_t>(blk * 32 + j)];
          exact_q += fp16_to_fp32(mbits) * (fp16_to_fp32(ab[blk].s) - block_sum);
        }
      }
      CHECK_NEAR(dot_f32(f, wq.data(), x.data(), n), exact, 1e-6 * scale);
      for (Isa isa : isas) {
        const float v = vec_dot_fn(f, isa)(wq.data(), xq.data(), n);
        if (!(std::fabs(v - exact_q) <= 1e-6 * scale_q))
          std::printf("  %s %s seed %u: %.9g vs %.9g\n", format_name(f), isa_name(isa), seed, v, exact_q);
        CHECK_NEAR(v, exact_q, 1e-6 * scale_q);
      }
      CHECK_EQ(vec_dot(f, wq.data(), xq.data(), n), vec_dot_fn(f)(wq.data(), xq.data(), n));
    }
  }
}

// Weights come from files and may hold any byte; activations come from our quantizers, which never
// produce -128 (|x * 127/amax| <= 127), the one value the SIMD sign trick cannot negate.
TEST("vec_dot handles extreme quants without overflow (Q8_0 weights -128, Q6_K all 63)") {
  const int64_t n = 512;
  std::vector<uint8_t> w(row_bytes(Format::Q8_0, n)), a(row_bytes(Format::Q8_0, n));
  for (size_t b = 0; b < w.size(); b += 34) {
    uint16_t one = fp32_to_fp16(1.0f);
    std::memcpy(&w[b], &one, 2);
    std::memcpy(&a[b], &one, 2);
    for (int j = 0; j < 32; ++j) { w[b + 2 + j] = 0x80; a[b + 2 + j] = j % 2 ? 0x81 : 0x7f; }  // -128 * (+-127)
  }
  for (Isa isa : {Isa::Scalar, Isa::Avx2}) {
    if (!isa_available(isa)) continue;
    CHECK_EQ(vec_dot_fn(Format::Q8_0, isa)(w.data(), a.data(), n), 0.0f);
    for (size_t b = 0; b < a.size(); b += 34)
      for (int j = 0; j < 32; ++j) a[b + 2 + j] = 0x81;  // -127
    CHECK_EQ(vec_dot_fn(Format::Q8_0, isa)(w.data(), a.data(), n), 128.0f * 127.0f * n);
    for (size_t b = 0; b < a.size(); b += 34)
      for (int j = 0; j < 32; ++j) a[b + 2 + j] = j % 2 ? 0x81 : 0x7f;
  }
  // Q6_K with every 6-bit quant 63 (value 31) and Q8_K activations all -128.
  std::vector<uint8_t> w6(row_bytes(Format::Q6_K, n), 0xff), a8(row_bytes(Format::Q8_K, n), 0);
  for (size_t b = 0; b < w6.size(); b += 210) {
    uint16_t one = fp32_to_fp16(1.0f);
    std::memcpy(&w6[b + 208], &one, 2);
    for (int s = 0; s < 16; ++s) w6[b + 192 + s] = 1;
  }
  for (size_t b = 0; b < a8.size(); b += 292) {
    float one = 1.0f;
    std::memcpy(&a8[b], &one, 4);
    for (int j = 0; j < 256; ++j) a8[b + 4 + j] = 0x80;
    for (int g = 0; g < 16; ++g) { int16_t s = -128 * 16; std::memcpy(&a8[b + 260 + 2 * g], &s, 2); }
  }
  for (Isa isa : {Isa::Scalar, Isa::Avx2}) {
    if (!isa_available(isa)) continue;
    CHECK_EQ(vec_dot_fn(Format::Q6_K, isa)(w6.data(), a8.data(), n), 31.0f * -128.0f * n);
  }
}

TEST_MAIN()
