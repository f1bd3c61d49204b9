// Tensor formats of model files: the block table, row decoding, quantizers and the dot products the
// matmul kernels use. Block layouts are ggml's (ggml/src/ggml-common.h, dequantize_row_* in
// ggml/src/ggml-quants.c); see blocks.h.
//
// Two dot products per weight format:
//  - dot_f32: weights decoded to f32 times f32 activations (the exact reference);
//  - vec_dot: llama.cpp's CPU path, where the activations are first converted to the weight's
//    "vec_dot type" (F16 -> f16, BF16 -> bf16, Q8_0/Q4_0/Q5_0 -> Q8_0, Q4_1/Q5_1 -> Q8_1,
//    K-quants -> Q8_K) with
//    quantize_activations, exactly as ggml_compute_forward_mul_mat does. Matching llama.cpp's logits
//    needs the activations rounded the same way (docs/nemotron-h-gguf.md, "Why F16/Q8_0 logits differ").
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace hybrid::formats {

// Values are ggml_type ids, as stored in GGUF tensor infos.
enum class Format : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,   // activations only
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,  // activations only (never a tensor type in a model file)
  BF16 = 30,
};

struct FormatInfo {
  Format format;
  const char* name;       // ggml's spelling: "Q8_0"
  uint32_t block_size;    // values per block
  uint32_t type_size;     // bytes per block
  Format vec_dot_type;    // what the activations become for vec_dot
  bool in_files;          // may be the type of a tensor in a model file
};

// The formats a model file may use, in a stable order. Q4_1/Q5_0/Q5_1 matter beyond their own files:
// llama.cpp's quantizer stores tensors whose rows are not whole 256-blocks as Q5_0 (in Q4_K files), Q5_1
// (in Q5_K files) and Q8_0 (in Q6_K files) -- Nemotron-Nano-9B-v2 (n_embd 4480) has many.
constexpr Format kFileFormats[] = {Format::F32,  Format::F16,  Format::BF16, Format::Q8_0, Format::Q4_0, Format::Q4_1,
                                   Format::Q5_0, Format::Q5_1, Format::Q4_K, Format::Q5_K, Format::Q6_K};

// nullptr when `ggml_type` is not one of ours (including ggml types we do not implement).
const FormatInfo* find_format(uint32_t ggml_type);
const FormatInfo& format_info(Format f);
inline const char* format_name(Format f) { return format_info(f).name; }
// ggml's name of any ggml type id ("Q5_0", "IQ2_XXS", ...), or nullptr when ggml has no such type.
const char* ggml_type_name(uint32_t ggml_type);
// "F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K": for error messages.
std::string file_formats_list();
// Case-insensitive ("q8_0", "Q4_K", "bf16"); only formats that may appear in files. False when unknown.
bool parse_format(const std::string& name, Format* out);

// Bytes of a row of n values. n must be a multiple of the block size (std::invalid_argument otherwise;
// the GGUF reader has already rejected files where it is not).
size_t row_bytes(Format f, int64_t n);

// Decode n values (a multiple of the block size) to f32. Bit-exact: every value is the f32 rounding of
// the block formula evaluated exactly (the products involved fit in 24 bits).
void dequantize_row(Format f, const void* src, float* dst, int64_t n);

// Encode n values. Q8_0/Q8_1 follow ggml's x86 quantize_row_q8_0/_q8_1 (d = amax/127 stored as f16,
// q = round-half-even(x * (127/amax))) and Q8_K quantize_row_q8_K_ref, bit for bit, because these are
// the activation quantizers of llama.cpp's matmul. Q4_0/Q4_1/Q5_0/Q5_1 are ggml's quantize_row_*_ref.
// Q4_K/Q5_K/Q6_K are simple min/max quantizers (not ggml's iterative search): correct layouts, slightly
// larger error.
void quantize_row(Format f, const float* src, void* dst, int64_t n);

// Weights decoded to f32, times f32 activations; f32 accumulation.
float dot_f32(Format w, const void* w_row, const float* x, int64_t n);

// llama.cpp's path: activations converted once per input vector, then one vec_dot per weight row.
inline Format activation_format(Format w) { return format_info(w).vec_dot_type; }
size_t activation_bytes(Format w, int64_t n);
void quantize_activations(Format w, const float* x, void* xq, int64_t n);
float vec_dot(Format w, const void* w_row, const void* xq, int64_t n);

// The kernels behind vec_dot, per instruction set, for the matmul code and for tests that compare
// the SIMD paths with the scalar ones.
enum class Isa { Scalar, Avx2 };
using VecDotFn = float (*)(const void* w_row, const void* xq, int64_t n);
Isa best_isa();  // chosen once from hybrid::query_cpu()
const char* isa_name(Isa isa);
bool isa_available(Isa isa);
// nullptr when `isa` is not available on this CPU/build.
VecDotFn vec_dot_fn(Format w, Isa isa);
inline VecDotFn vec_dot_fn(Format w) { return vec_dot_fn(w, best_isa()); }

}  // namespace hybrid::formats
