// Reads the tokenizer.ggml.* metadata of a GGUF file into a Vocab.
#pragma once
#include "gguf/gguf.h"
#include "tokenizer/vocab.h"

namespace hybrid::tok {

// Throws hybrid::InputError ("model.gguf: …") when a key the tokenizer needs is missing or has the wrong
// type: tokenizer.ggml.model, tokenizer.ggml.tokens and, for BPE, tokenizer.ggml.merges.
Vocab vocab_from_gguf(const gguf::GgufFile& file);

}  // namespace hybrid::tok
