// Pre-tokenizers: split a piece of text (already free of special tokens) into the words that BPE then
// merges inside. Each one reproduces the split llama.cpp v0.5.0 makes for that `tokenizer.ggml.pre`
// (src/llama-vocab.cpp llm_tokenizer_bpe, src/unicode.cpp), including where that split differs from the
// Hugging Face regex it stands for.
#pragma once
#include <cstdint>
#include <string_view>
#include <vector>

namespace hybrid::tok {

enum class SplitKind {
  kDefault,  // no `pre` or "default": four regexes applied in turn (punctuation runs, GPT-2, digit runs, 3 digits)
  kGpt2,     // "gpt-2" and friends: 's|'t|… | ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  kLlama3,   // "llama3", "pixtral", "dbrx", …: the Llama-3 regex, hand-coded as llama.cpp does
  kTekken,   // "tekken": Mistral's case-aware regex, evaluated by llama.cpp on "collapsed" text
};

const char* split_kind_name(SplitKind k);

// Splits the code points of one text fragment and appends each word's length in code points to `lengths`.
// `flags` holds cp_flags() of each code point (the caller computes them once).
void split_words(SplitKind kind, const std::vector<uint32_t>& cps, const std::vector<uint16_t>& flags,
                 std::vector<uint32_t>& lengths);

}  // namespace hybrid::tok
