// Byte-level BPE tokenizer (`tokenizer.ggml.model = gpt2`) that encodes and decodes exactly as llama.cpp
// v0.5.0 does (src/llama-vocab.cpp): special tokens are cut out of the text first, the rest is split by the
// model's pre-tokenizer, each word is byte-encoded and merged by rank. Built once from a Vocab; const
// methods are safe to call from several threads.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/pretokenize.h"
#include "tokenizer/vocab.h"

namespace hybrid::tok {

// Token attributes (llama.cpp llama_token_attr bits), derived from the token types and the text-based
// fix-ups llama.cpp applies when it loads a vocabulary.
enum TokenAttr : uint32_t {
  kAttrUndefined = 0,
  kAttrUnknown = 1u << 0,
  kAttrUnused = 1u << 1,
  kAttrNormal = 1u << 2,
  kAttrControl = 1u << 3,
  kAttrUserDefined = 1u << 4,
  kAttrByte = 1u << 5,
};

// The special token ids in force (kNoToken when none), after defaults, metadata and text-based detection.
struct SpecialIds {
  TokenId bos = kNoToken, eos = kNoToken, eot = kNoToken, eom = kNoToken, unk = kNoToken, sep = kNoToken;
  TokenId pad = kNoToken, mask = kNoToken;
  TokenId fim_pre = kNoToken, fim_suf = kNoToken, fim_mid = kNoToken, fim_pad = kNoToken, fim_rep = kNoToken,
          fim_sep = kNoToken;
};

struct EncodeOptions {
  bool add_special = true;     // BOS first when the model's add_bos is set (EOS last when add_eos)
  bool parse_special = false;  // also match CONTROL/UNKNOWN token texts in the input; USER_DEFINED always match
};

class Tokenizer {
 public:
  // Throws hybrid::InputError when the vocabulary cannot be used (unknown model or pre-tokenizer, duplicate
  // token texts, arrays of the wrong length).
  explicit Tokenizer(Vocab vocab);
  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // llama_tokenize(text, add_special, parse_special). Text that is not valid UTF-8 is accepted (see
  // decode_utf8_lenient). Throws InputError if add_bos is set but the model has no BOS token.
  std::vector<TokenId> encode(std::string_view text, EncodeOptions opts = {}) const;
  void encode(std::string_view text, EncodeOptions opts, std::vector<TokenId>& out) const;

  // The bytes a token stands for (llama_token_to_piece with special = true): control and user-defined
  // tokens give their text, normal tokens their decoded bytes (possibly part of a UTF-8 character), unused
  // and undefined ones nothing.
  const std::string& piece(TokenId id) const;
  // llama_token_to_piece(id, special): as piece(), but control and unknown tokens give nothing unless
  // `special`.
  std::string_view token_to_piece(TokenId id, bool special) const;
  // llama_detokenize(ids, remove_special, unparse_special): the pieces joined, then (for pre-tokenizers with
  // clean_spaces, e.g. dbrx and pixtral but not tekken) llama.cpp's clean-up of " ." " ," " 's" … Raw
  // bytes, possibly not valid UTF-8.
  std::string detokenize(const std::vector<TokenId>& ids, bool remove_special = false, bool unparse_special = false) const;

  size_t size() const { return texts_.size(); }
  bool valid(TokenId id) const { return id >= 0 && static_cast<size_t>(id) < texts_.size(); }
  const std::string& text(TokenId id) const;  // the token as stored (byte-encoded for normal tokens)
  TokenId find(std::string_view text) const;  // the token with exactly this stored text, or kNoToken
  uint32_t attr(TokenId id) const;
  const SpecialIds& special() const { return special_; }
  bool is_eog(TokenId id) const;
  const std::vector<TokenId>& eog_ids() const { return eog_; }  // ascending
  bool add_bos() const { return add_bos_; }
  bool add_eos() const { return add_eos_; }

  const std::string& pre() const { return pre_; }
  SplitKind split_kind() const { return split_; }
  bool ignore_merges() const { return ignore_merges_; }
  bool clean_spaces() const { return clean_spaces_; }
  size_t merge_count() const { return n_merges_; }
  // Rank of the merge "left right" (both byte-encoded token texts), or -1.
  int merge_rank(std::string_view left, std::string_view right) const;

 private:
  struct Impl;
  struct Scratch;
  void encode_text(std::string_view text, Scratch& s, std::vector<TokenId>& out) const;
  void bpe_word(Scratch& s, std::vector<TokenId>& out) const;
  void load(Vocab& v);

  std::vector<std::string> texts_;
  std::vector<uint32_t> attrs_;
  std::vector<std::string> pieces_;
  SpecialIds special_;
  std::vector<TokenId> eog_;
  std::string pre_;
  SplitKind split_ = SplitKind::kDefault;
  bool ignore_merges_ = false, clean_spaces_ = true, add_bos_ = false, add_eos_ = false;
  size_t n_merges_ = 0;
  std::unique_ptr<Impl> impl_;
};

// Streaming detokenizer for generated text: feed token ids one at a time and get back only complete UTF-8
// characters. Bytes that may still become a character are held until the next token; bytes that can never
// be valid are replaced by U+FFFD at once (one per maximal ill-formed subpart), and flush() turns a held,
// unfinished sequence into one U+FFFD. So the concatenation of everything returned equals
// TextDecoder("utf-8").decode(all bytes), which is also what node-llama-cpp's detokenize() string holds
// for the same tokens (llama.cpp's bytes decoded by V8) when no clean-up of spaces applies; like llama.cpp's
// generation loop (common_token_to_piece per token), no clean-up of spaces is done here.
class Detokenizer {
 public:
  explicit Detokenizer(const Tokenizer& tok, bool special = false) : tok_(tok), special_(special) {}
  std::string push(TokenId id);
  std::string push_bytes(std::string_view bytes);  // the same, for raw bytes (tests, other sources)
  std::string flush();
  size_t pending() const { return held_.size(); }

 private:
  const Tokenizer& tok_;
  bool special_;
  std::string held_;
};

}  // namespace hybrid::tok
