// Incremental tokenization of an edited document: after an edit, only the text from a safe boundary
// before it is tokenized again, and the tokens of the text before that boundary are reused.
//
// A safe boundary is a position q where text[q-1] is '\n' and text[q] is neither whitespace nor '/': the
// pre-tokenizers used here (gpt-2, llama-3/dbrx/pixtral, tekken) never put a line break and the first
// non-space character of the next line into one pre-token (Tekken's symbol runs do take a following
// [\r\n/]*, hence the '/'), and BPE merges stay inside pre-tokens, so the
// tokens of text[0:q] followed by the tokens of text[q:] are the tokens of the whole text. (A user-defined
// token containing "\n" followed by a non-space character would break this; test_incremental checks
// equality with a full tokenization over thousands of random edits on real source files.)
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace hybrid::tok {

class DocumentTokens {
 public:
  // `add_bos`: the model's BOS token first (when the tokenizer adds one).
  DocumentTokens(const Tokenizer& tok, std::string text = {}, bool add_bos = true);

  // Makes the text equal `text` by replacing only the span between their common prefix and suffix (an
  // editor's change, found by comparison), so the cache before the change survives.
  void update(std::string_view text);

  const std::string& text() const { return text_; }
  // Replaces bytes [start, end) of the text (UTF-8 offsets). Lazy: no tokenization happens here.
  void replace(size_t start, size_t end, std::string_view with);
  void set_text(std::string text);

  // The tokens of text[0:offset] (BOS first when the model adds one), as a full tokenization of that prefix
  // would give. Reuses the cached tokens up to the last safe boundary before `offset`.
  std::vector<TokenId> prefix_tokens(size_t offset);
  std::vector<TokenId> all_tokens() { return prefix_tokens(text_.size()); }

  // How many bytes the last prefix_tokens() call tokenized (the rest came from the cache).
  size_t last_tokenized_bytes() const { return last_tokenized_; }
  size_t cached_bytes() const { return valid_end_; }

  // The largest safe boundary q <= limit (0 when none), considering only text[0:limit].
  size_t safe_boundary_before(size_t limit) const;

 private:
  const Tokenizer& tok_;
  std::string text_;
  std::vector<TokenId> tokens_;  // tokens of text_[0:valid_end_] (without BOS)
  std::vector<size_t> ends_;     // byte end of each cached token
  size_t valid_end_ = 0;         // a safe boundary (or 0)
  size_t last_tokenized_ = 0;
  bool add_bos_ = true;
};

}  // namespace hybrid::tok
