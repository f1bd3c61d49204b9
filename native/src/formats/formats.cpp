// The format table, size arithmetic, and the dispatch of the dot products.
#include "formats/formats.h"

#include <cctype>
#include <stdexcept>
#include <vector>

#include "core/system_info.h"
#include "formats/blocks.h"
#include "formats/kernels.h"

namespace hybrid::formats {
namespace {

// ggml_type_traits (ggml/src/ggml.c): block size, bytes per block, vec_dot_type (ggml-cpu/ggml-cpu.c).
constexpr FormatInfo kTable[] = {
    {Format::F32, "F32", 1, 4, Format::F32, true},
    {Format::F16, "F16", 1, 2, Format::F16, true},
    {Format::BF16, "BF16", 1, 2, Format::BF16, true},
    {Format::Q8_0, "Q8_0", kQK8_0, sizeof(BlockQ8_0), Format::Q8_0, true},
    {Format::Q4_0, "Q4_0", kQK4_0, sizeof(BlockQ4_0), Format::Q8_0, true},
    {Format::Q4_1, "Q4_1", kQK4_0, sizeof(BlockQ4_1), Format::Q8_1, true},
    {Format::Q5_0, "Q5_0", kQK4_0, sizeof(BlockQ5_0), Format::Q8_0, true},
    {Format::Q5_1, "Q5_1", kQK4_0, sizeof(BlockQ5_1), Format::Q8_1, true},
    {Format::Q4_K, "Q4_K", kQK_K, sizeof(BlockQ4_K), Format::Q8_K, true},
    {Format::Q5_K, "Q5_K", kQK_K, sizeof(BlockQ5_K), Format::Q8_K, true},
    {Format::Q6_K, "Q6_K", kQK_K, sizeof(BlockQ6_K), Format::Q8_K, true},
    {Format::Q8_1, "Q8_1", kQK8_0, sizeof(BlockQ8_1), Format::Q8_1, false},
    {Format::Q8_K, "Q8_K", kQK_K, sizeof(BlockQ8_K), Format::Q8_K, false},
};

// Every ggml_type id ggml has defined (ggml/include/ggml.h); gaps are removed types.
const char* const kGgmlNames[] = {
    "F32",     "F16",    "Q4_0",    "Q4_1",  "Q4_2",   "Q4_3",    "Q5_0",     "Q5_1",     "Q8_0",     "Q8_1",
    "Q2_K",    "Q3_K",   "Q4_K",    "Q5_K",  "Q6_K",   "Q8_K",    "IQ2_XXS",  "IQ2_XS",   "IQ3_XXS",  "IQ1_S",
    "IQ4_NL",  "IQ3_S",  "IQ2_S",   "IQ4_XS", "I8",    "I16",     "I32",      "I64",      "F64",      "IQ1_M",
    "BF16",    "Q4_0_4_4", "Q4_0_4_8", "Q4_0_8_8", "TQ1_0", "TQ2_0", "IQ4_NL_4_4", "IQ4_NL_4_8", "IQ4_NL_8_8", "MXFP4",
};

}  // namespace

const FormatInfo* find_format(uint32_t ggml_type) {
  for (const FormatInfo& f : kTable)
    if (static_cast<uint32_t>(f.format) == ggml_type) return &f;
  return nullptr;
}

const FormatInfo& format_info(Format f) {
  const FormatInfo* fi = find_format(static_cast<uint32_t>(f));
  if (!fi) throw std::invalid_argument("unknown tensor format " + std::to_string(static_cast<uint32_t>(f)));
  return *fi;
}

const char* ggml_type_name(uint32_t ggml_type) {
  return ggml_type < sizeof kGgmlNames / sizeof kGgmlNames[0] ? kGgmlNames[ggml_type] : nullptr;
}

std::string file_formats_list() {
  std::string s;
  for (Format f : kFileFormats) s += (s.empty() ? "" : ", ") + std::string(format_name(f));
  return s;
}

bool parse_format(const std::string& name, Format* out) {
  std::string up;
  for (char c : name) up += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (Format f : kFileFormats)
    if (up == format_name(f)) { *out = f; return true; }
  return false;
}

size_t row_bytes(Format f, int64_t n) {
  const FormatInfo& fi = format_info(f);
  if (n < 0 || n % fi.block_size != 0)
    throw std::invalid_argument(std::string("a row of ") + fi.name + " needs a multiple of " +
                                std::to_string(fi.block_size) + " values, got " + std::to_string(n));
  return static_cast<size_t>(n / fi.block_size) * fi.type_size;
}

float dot_f32(Format w, const void* w_row, const float* x, int64_t n) {
  row_bytes(w, n);  // validates n
  VecDotFn f32 = vec_dot_fn(Format::F32);
  if (w == Format::F32) return f32(w_row, x, n);
  // Decode a few blocks at a time and reuse the f32 kernel; 256 is a multiple of every block size.
  const FormatInfo& fi = format_info(w);
  constexpr int64_t kChunk = 256;
  float buf[kChunk];
  const uint8_t* p = static_cast<const uint8_t*>(w_row);
  float sum = 0;
  for (int64_t i = 0; i < n; i += kChunk) {
    const int64_t m = n - i < kChunk ? n - i : kChunk;
    dequantize_row(w, p + static_cast<size_t>(i / fi.block_size) * fi.type_size, buf, m);
    sum += f32(buf, x + i, m);
  }
  return sum;
}

size_t activation_bytes(Format w, int64_t n) { return row_bytes(activation_format(w), n); }

void quantize_activations(Format w, const float* x, void* xq, int64_t n) {
  quantize_row(activation_format(w), x, xq, n);
}

float vec_dot(Format w, const void* w_row, const void* xq, int64_t n) {
  row_bytes(w, n);  // validates n
  return vec_dot_fn(w)(w_row, xq, n);
}

Isa best_isa() {
  static const Isa isa = [] {
    const CpuInfo cpu = query_cpu();
    if (detail::avx2_kernels() && cpu_has(cpu, "avx2") && cpu_has(cpu, "fma") && cpu_has(cpu, "f16c"))
      return Isa::Avx2;
    return Isa::Scalar;
  }();
  return isa;
}

const char* isa_name(Isa isa) { return isa == Isa::Avx2 ? "avx2" : "scalar"; }

bool isa_available(Isa isa) { return isa == Isa::Scalar || best_isa() == Isa::Avx2; }

VecDotFn vec_dot_fn(Format w, Isa isa) {
  if (!isa_available(isa)) return nullptr;
  const detail::VecDotTable& t = isa == Isa::Avx2 ? *detail::avx2_kernels() : detail::scalar_kernels();
  switch (w) {
    case Format::F32: return t.f32;
    case Format::F16: return t.f16;
    case Format::BF16: return t.bf16;
    case Format::Q8_0: return t.q8_0;
    case Format::Q4_0: return t.q4_0;
    case Format::Q4_1: return t.q4_1;
    case Format::Q5_0: return t.q5_0;
    case Format::Q5_1: return t.q5_1;
    case Format::Q4_K: return t.q4_k;
    case Format::Q5_K: return t.q5_k;
    case Format::Q6_K: return t.q6_k;
    case Format::Q8_1: case Format::Q8_K: break;
  }
  throw std::invalid_argument(std::string("no vec_dot for weights in ") + format_name(w));
}

}  // namespace hybrid::formats
