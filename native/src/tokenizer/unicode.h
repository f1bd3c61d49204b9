// Unicode helpers for the tokenizer: code point categories, the lenient UTF-8 decoding llama.cpp applies to
// text before splitting it, WHATWG-style UTF-8 sanitizing for output, and the GPT-2 byte <-> character map.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hybrid::tok {

// Category bits of a code point. Exactly one of the low eight is set for every code point; kWhitespace is the
// White_Space property on top. Same meaning as llama.cpp's `unicode_cpt_flags` (src/unicode.h), so that the
// pre-tokenizers ported from src/unicode.cpp classify characters the way llama.cpp does.
enum CpFlag : uint16_t {
  kCpUndefined = 0x0001,    // Cn: unassigned
  kCpNumber = 0x0002,       // \p{N}
  kCpLetter = 0x0004,       // \p{L}
  kCpSeparator = 0x0008,    // \p{Z}
  kCpMark = 0x0010,         // \p{M}
  kCpPunctuation = 0x0020,  // \p{P}
  kCpSymbol = 0x0040,       // \p{S}
  kCpControl = 0x0080,      // \p{C} other than Cn: Cc, Cf, Co, Cs
  kCpCategoryMask = 0x00ff,
  kCpWhitespace = 0x0100,   // White_Space (what `\s` means in the upstream patterns)
};

constexpr uint32_t kReplacementChar = 0xFFFD;
constexpr uint32_t kMaxCodepoint = 0x10FFFF;

// Flags of a code point; anything past U+10FFFF is kCpUndefined.
uint16_t cp_flags(uint32_t cp);

// Decodes UTF-8 the way llama.cpp's unicode_cpts_from_utf8 does before pre-tokenizing: a lead byte fixes the
// length, only the continuation bits of the following bytes are checked (so overlong forms and surrogates
// decode to their value), and a byte that starts no complete sequence becomes U+FFFD and is skipped alone.
// One deliberate difference: a 4-byte form above U+10FFFF (lead F4 90.. or F5-F7) makes llama.cpp throw
// from inside llama_tokenize; here it becomes U+FFFD too.
void decode_utf8_lenient(std::string_view text, std::vector<uint32_t>& out);

// Appends the UTF-8 encoding of cp (cp <= U+10FFFF; surrogates are encoded as they are, like llama.cpp).
void append_utf8(uint32_t cp, std::string& out);

// Length of the UTF-8 sequence a lead byte announces, from its high nibble (1 for continuation bytes), as
// llama.cpp's unicode_len_utf8.
inline size_t utf8_len_from_lead(uint8_t lead) {
  static constexpr uint8_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLen[lead >> 4];
}

// Length of the valid (RFC 3629) UTF-8 sequence at s[i], 0 if there is none there.
size_t valid_utf8_len(std::string_view s, size_t i);

// Number of bytes at the end of s that start a valid UTF-8 sequence not yet complete (0..3): the bytes a
// streaming decoder must hold back until the next token.
size_t incomplete_utf8_tail(std::string_view s);

// Replaces every ill-formed part of s with U+FFFD, one per maximal subpart (the WHATWG / Unicode ch. 3
// rule, which TextDecoder, V8 and so node-llama-cpp's strings follow). Valid input is returned unchanged.
std::string sanitize_utf8(std::string_view s);

// GPT-2 byte-level BPE alphabet: every byte maps to one printable character (bytes 0x21-0x7E, 0xA1-0xAC,
// 0xAE-0xFF map to themselves, the other 68 to U+0100.. in byte order), so token texts are printable.
uint32_t byte_to_cp(uint8_t b);
// The byte a GPT-2 alphabet character stands for, or -1.
int cp_to_byte(uint32_t cp);

// The category table, generated into unicode_tables.cpp by test/fixtures/tokenizer/gen-unicode-tables.ts.
struct CategoryRange {
  uint32_t first;  // the range runs to the next entry's `first`
  uint16_t flags;
};
namespace tables {
extern const CategoryRange kCategoryRanges[];
extern const size_t kCategoryRangeCount;
extern const uint32_t kWhitespace[];
extern const size_t kWhitespaceCount;
}  // namespace tables

}  // namespace hybrid::tok
