// Many-token matmul kernels (prefill): a tile of weight rows against groups of tokens, each weight byte
// loaded once per tile and reused for every token, each activation reused for every row of the tile.
// They compute the canonical arithmetic of gemv_kernels.h for every (row, token), bit for bit the same as
// the four-row one-token kernels, so batching never changes a result.
//
// Use: pack the activations once per matmul, one group of `group_tokens` tokens at a time (pack_group;
// groups are independent, so threads may pack different groups); then apply row tiles of up to
// `tile_rows` rows (run_tile; tiles are independent). run_tile repacks its rows into `panel`, a per-thread
// scratch of panel_bytes(n), in the layout the microkernel reads, then runs every token group through it.
//
// Integer formats (Q8_0, Q4_K, Q6_K) on AVX-512 VNNI: tokens in the 16 lanes of a vector, activations
// stored as x + 128 (unsigned bytes) and weights as signed bytes broadcast four at a time, so one vpdpbusd
// does 16 tokens x 4 values; the +128 is taken back through each weight block's sum, computed once while
// packing. Float formats (F16, F32) on AVX-512F: 4 rows x 4 tokens of 16-lane fmas.
#pragma once
#include <cstddef>
#include <cstdint>

#include "formats/formats.h"

namespace hybrid::ops {

struct GemmKernel {
  int64_t group_tokens;  // tokens per packed group
  int64_t tile_rows;     // rows per run_tile
  int64_t min_tokens;    // below this many tokens the one-token kernels are faster (matmul uses them)
  // Bytes of one packed group for rows of n values.
  size_t (*group_bytes)(int64_t n);
  // Packs tokens x[t * ldx .. + n) for t < n_tokens (<= group_tokens; missing tokens are zeros).
  void (*pack_group)(const float* x, int64_t ldx, int64_t n_tokens, int64_t n, uint8_t* out);
  size_t (*panel_bytes)(int64_t n);
  // For rows w, w + stride, ... (n_rows <= tile_rows) against n_tokens tokens packed in consecutive
  // groups of group_bytes(n) at `groups`: y[t * ldy + r] = canonical dot of row r with token t.
  void (*run_tile)(const uint8_t* w, size_t stride, int64_t n_rows, const uint8_t* groups, int64_t n_tokens,
                   int64_t n, float* y, int64_t ldy, uint8_t* panel);
};

// The many-token kernel for weights of format `f` on this CPU, or nullptr (use the one-token kernels).
const GemmKernel* gemm_kernel(formats::Format f);

// A SIMD converter of activations for weights of format `w` into formats' own layout, bit for bit
// formats::quantize_activations (Q8_0, Q8_K and f16 activations), or nullptr (use that one).
using QuantizeFn = void (*)(const float* x, void* xq, int64_t n);
QuantizeFn quantize_kernel(formats::Format w);
const char* gemm_isa();  // "avx512vnni" or "none"

}  // namespace hybrid::ops
