// Shared by the fuzz targets: a failing check that stops the run (libFuzzer then saves the input), a small
// reader over the fuzz input, and the fixture vocabulary the tokenizer targets encode with.
//
// The fixture vocabulary is trained at start-up by plain BPE (Sennrich et al. 2016, the loop of
// subword-nmt's learn_bpe.py: count adjacent pairs, merge the most frequent, repeat) on a built-in sample
// of code, prose and non-ASCII text, so that merges, ignore_merges whole-word hits and every pre-tokenizer
// get exercised with a realistic vocabulary and no file has to be read. The same vocabulary is built in the
// libFuzzer binaries and in the replay tests, so a saved crash input replays the same way in both.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

// A property the code must keep: stops the run with a message (libFuzzer reports it as a crash and keeps
// the input; the replay test fails).
#define FUZZ_CHECK(cond, ...)                                                        \
  do {                                                                               \
    if (!(cond)) {                                                                   \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n  ", __FILE__, __LINE__, #cond); \
      std::fprintf(stderr, __VA_ARGS__);                                             \
      std::fprintf(stderr, "\n");                                                    \
      std::abort();                                                                  \
    }                                                                                \
  } while (0)

namespace fuzz {

// Reads the fuzz input front to back; past its end every read gives zeros (so any input is usable).
class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : p_(data), n_(size) {}
  bool empty() const { return n_ == 0; }
  size_t left() const { return n_; }
  uint8_t u8() {
    if (n_ == 0) return 0;
    --n_;
    return *p_++;
  }
  uint32_t u16() { return u8() | (uint32_t(u8()) << 8); }
  uint32_t u32() { return u16() | (u16() << 16); }
  std::string bytes(size_t len) {
    len = std::min(len, n_);
    std::string s(reinterpret_cast<const char*>(p_), len);
    p_ += len;
    n_ -= len;
    return s;
  }
  std::string rest() { return bytes(n_); }

 private:
  const uint8_t* p_;
  size_t n_;
};

inline std::string show(std::string_view s, size_t max = 120) {
  std::string out;
  for (unsigned char c : s.substr(0, max)) {
    if (c >= 0x20 && c < 0x7f && c != '\\') out += static_cast<char>(c);
    else {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", c);
      out += b;
    }
  }
  return s.size() > max ? out + "..." : out;
}

// GPT-2 alphabet text of some bytes.
inline std::string gpt2_text(std::string_view bytes) {
  std::string s;
  for (unsigned char b : bytes) hybrid::tok::append_utf8(hybrid::tok::byte_to_cp(b), s);
  return s;
}

inline const char* kTrainingText =
    "#include <vector>\nint main(int argc, char** argv) {\n  std::vector<int> values;\n  for (int i = 0; i < argc; ++i) {\n"
    "    values.push_back(i * 2);\n  }\n  return values.empty() ? 0 : values.back();\n}\n\n"
    "def fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)\n\n"
    "class Tree:\n    def __init__(self, left=None, right=None):\n        self.left = left\n        self.right = right\n\n"
    "export function greet(name: string): string {\n  return `Hello, ${name}!`;\n}\n"
    "const items = [1, 2, 3, 42, 1000000].map((x) => x + 1);\n"
    "/* block comment */ // line comment\n\t\tindented with tabs\r\nwindows line\r\n"
    "The quick brown fox jumps over the lazy dog. It's what they've said, isn't it? We'll see; I'd think so.\n"
    "Ünïcödé: café, naïve, straße, Ελληνικά, русский, 中文字符, 日本語のテキスト, 한국어, عربى, emoji 😀🎉👍🏽.\n"
    "SELECT id, name FROM users WHERE age >= 21 ORDER BY name;\n<div class=\"note\">&amp; &lt;tag&gt;</div>\n";

// Byte tokens (ids 0..255, in byte order), then one token per learned merge, then special tokens:
// <unk> (unknown), <s> </s> <|im_start|> <|im_end|> <think> </think> <SPECIAL_11> (control), an unused
// control token, <|fim_prefix|> <|fim_suffix|> <|fim_middle|> (control, detected by text), and the
// user-defined tokens "<tool>" and "    return" (matched in any text). `newline_user_token` adds the
// user-defined "\nEND" — the one kind of token that breaks incremental tokenization's safe boundaries
// (tokenizer/incremental.h), left out of the vocabulary the incremental target checks exactly.
inline hybrid::tok::Vocab fixture_vocab(const std::string& pre, int n_merges = 320, bool newline_user_token = true) {
  using hybrid::tok::TokenType;
  hybrid::tok::Vocab v;
  v.pre = pre;
  for (int b = 0; b < 256; ++b) {
    v.tokens.push_back(gpt2_text(std::string(1, static_cast<char>(b))));
    v.token_types.push_back(static_cast<int32_t>(TokenType::kNormal));
  }
  // Words as the GPT-2 split roughly makes them: a space joins the word after it.
  std::map<std::vector<std::string>, int> words;
  {
    std::string text = kTrainingText, w;
    auto flush = [&]() {
      if (w.empty()) return;
      std::vector<std::string> syms;
      for (unsigned char b : w) syms.push_back(gpt2_text(std::string(1, static_cast<char>(b))));
      ++words[syms];
      w.clear();
    };
    for (char c : text) {
      const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || (c & 0x80);
      if (!alnum && !(c == ' ' && w.empty())) flush();
      w += c;
      if (!alnum && c != ' ') flush();
    }
    flush();
  }
  for (int k = 0; k < n_merges; ++k) {
    std::map<std::pair<std::string, std::string>, int> pairs;
    for (const auto& [syms, count] : words)
      for (size_t i = 0; i + 1 < syms.size(); ++i) pairs[{syms[i], syms[i + 1]}] += count;
    if (pairs.empty()) break;
    auto best = pairs.begin();
    for (auto it = pairs.begin(); it != pairs.end(); ++it)
      if (it->second > best->second) best = it;  // ties: the first in map order (deterministic)
    const auto [l, r] = best->first;
    v.merges.push_back(l + " " + r);
    v.tokens.push_back(l + r);
    v.token_types.push_back(static_cast<int32_t>(TokenType::kNormal));
    std::map<std::vector<std::string>, int> next;
    for (const auto& [syms, count] : words) {
      std::vector<std::string> out;
      for (size_t i = 0; i < syms.size(); ++i) {
        if (i + 1 < syms.size() && syms[i] == l && syms[i + 1] == r) {
          out.push_back(l + r);
          ++i;
        } else {
          out.push_back(syms[i]);
        }
      }
      next[out] += count;
    }
    words.swap(next);
  }
  // A merge result can repeat an existing token's text (e.g. two routes to one string): the vocabulary
  // must stay free of duplicates, as llama.cpp requires.
  {
    std::map<std::string, size_t> seen;
    std::vector<std::string> tokens;
    std::vector<int32_t> types;
    for (size_t i = 0; i < v.tokens.size(); ++i) {
      if (seen.count(v.tokens[i])) continue;
      seen[v.tokens[i]] = tokens.size();
      tokens.push_back(v.tokens[i]);
      types.push_back(v.token_types[i]);
    }
    v.tokens.swap(tokens);
    v.token_types.swap(types);
  }
  auto special = [&](const std::string& text, TokenType t) {
    v.tokens.push_back(text);
    v.token_types.push_back(static_cast<int32_t>(t));
    return static_cast<uint32_t>(v.tokens.size() - 1);
  };
  special("<unk>", TokenType::kUnknown);
  v.bos = special("<s>", TokenType::kControl);
  v.eos = special("</s>", TokenType::kControl);
  special("<|im_start|>", TokenType::kControl);
  special("<|im_end|>", TokenType::kControl);
  special("<think>", TokenType::kControl);
  special("</think>", TokenType::kControl);
  special("<SPECIAL_11>", TokenType::kControl);
  special("<unused_7>", TokenType::kControl);
  special("<|fim_prefix|>", TokenType::kControl);
  special("<|fim_suffix|>", TokenType::kControl);
  special("<|fim_middle|>", TokenType::kControl);
  special("<tool>", TokenType::kUserDefined);
  special("    return", TokenType::kUserDefined);
  if (newline_user_token) special("\nEND", TokenType::kUserDefined);
  v.add_bos = true;
  return v;
}

// The pre-tokenizers the targets pick from (tokenizer.ggml.pre values; see tokenizer.cpp lookup_pre).
inline const char* const kPres[] = {"gpt-2", "llama-bpe", "dbrx", "tekken", "default"};
constexpr size_t kPreCount = sizeof(kPres) / sizeof(kPres[0]);

// One tokenizer per pre-tokenizer, built on first use.
inline const hybrid::tok::Tokenizer& fixture_tokenizer(size_t pre, bool newline_user_token = true) {
  static std::unique_ptr<hybrid::tok::Tokenizer> cache[2][kPreCount];
  auto& slot = cache[newline_user_token ? 1 : 0][pre % kPreCount];
  if (!slot) slot = std::make_unique<hybrid::tok::Tokenizer>(fixture_vocab(kPres[pre % kPreCount], 320, newline_user_token));
  return *slot;
}

// The bytes the tokens stand for, joined (Tokenizer::piece, i.e. with special token texts).
inline std::string joined_pieces(const hybrid::tok::Tokenizer& t, const std::vector<hybrid::tok::TokenId>& ids, size_t from = 0,
                                 size_t to = SIZE_MAX) {
  std::string s;
  for (size_t i = from; i < std::min(to, ids.size()); ++i) s += t.piece(ids[i]);
  return s;
}

}  // namespace fuzz
