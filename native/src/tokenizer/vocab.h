// The tokenizer part of a model file, as plain data: what the GGUF says, nothing derived. A Tokenizer is
// built from it (tokenizer.h); vocab_from_gguf (vocab_gguf.h) fills it from a file, and tests build one by
// hand.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace hybrid::tok {

using TokenId = int32_t;
constexpr TokenId kNoToken = -1;

// `tokenizer.ggml.token_type` values (llama.cpp llama_token_type).
enum class TokenType : int32_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,       // special: matched in text only with parse_special, rendered only when asked
  kUserDefined = 4,   // added token: always matched in text, always rendered
  kUnused = 5,
  kByte = 6,
};

struct Vocab {
  std::string model = "gpt2";          // tokenizer.ggml.model; only "gpt2" (byte-level BPE) is supported
  std::string pre;                     // tokenizer.ggml.pre; empty when the key is absent
  std::vector<std::string> tokens;     // tokenizer.ggml.tokens, GPT-2 byte-encoded ("Ġthe")
  std::vector<int32_t> token_types;    // tokenizer.ggml.token_type; empty when absent (all normal)
  std::vector<std::string> merges;     // tokenizer.ggml.merges, "left right", rank = index

  // tokenizer.ggml.*_token_id as written (nullopt: key absent). Out-of-range values are ignored, as
  // llama.cpp does, keeping the model type's default.
  std::optional<uint32_t> bos, eos, eot, eom, unk, sep, pad, mask;
  std::optional<uint32_t> fim_pre, fim_suf, fim_mid, fim_pad, fim_rep, fim_sep;

  std::optional<bool> add_bos, add_eos, add_sep;  // tokenizer.ggml.add_*_token
};

}  // namespace hybrid::tok
