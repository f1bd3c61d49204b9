#include "tokenizer/unicode.h"

#include <array>

namespace hybrid::tok {

namespace {

// One uint16 per code point (2.2 MB), expanded once from the range table: the pre-tokenizers look up every
// character of every text, so this must be a single load.
const std::vector<uint16_t>& flag_table() {
  static const std::vector<uint16_t> table = [] {
    std::vector<uint16_t> t(kMaxCodepoint + 1, kCpUndefined);
    for (size_t i = 0; i < tables::kCategoryRangeCount; ++i) {
      uint32_t first = tables::kCategoryRanges[i].first;
      uint32_t end = i + 1 < tables::kCategoryRangeCount ? tables::kCategoryRanges[i + 1].first : kMaxCodepoint + 1;
      for (uint32_t cp = first; cp < end; ++cp) t[cp] = tables::kCategoryRanges[i].flags;
    }
    for (size_t i = 0; i < tables::kWhitespaceCount; ++i) t[tables::kWhitespace[i]] |= kCpWhitespace;
    return t;
  }();
  return table;
}

struct ByteMap {
  std::array<uint32_t, 256> to_cp{};
  std::array<int16_t, 324> from_cp{};  // every mapped code point is below U+0144
  ByteMap() {
    from_cp.fill(-1);
    auto printable = [](int b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); };
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) to_cp[b] = printable(b) ? static_cast<uint32_t>(b) : next++;
    for (int b = 0; b < 256; ++b) from_cp[to_cp[b]] = static_cast<int16_t>(b);
  }
};

const ByteMap& byte_map() {
  static const ByteMap m;
  return m;
}

}  // namespace

uint16_t cp_flags(uint32_t cp) {
  if (cp > kMaxCodepoint) return kCpUndefined;
  return flag_table()[cp];
}

void decode_utf8_lenient(std::string_view text, std::vector<uint32_t>& out) {
  out.clear();
  out.reserve(text.size());
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  auto cont = [&](size_t k) { return (s[k] & 0xC0) == 0x80; };
  while (i < n) {
    uint8_t b = s[i];
    if (b < 0x80) {
      out.push_back(b);
      i += 1;
    } else if ((b & 0xE0) == 0xC0 && i + 1 < n && cont(i + 1)) {
      out.push_back((uint32_t(b & 0x1F) << 6) | (s[i + 1] & 0x3F));
      i += 2;
    } else if ((b & 0xF0) == 0xE0 && i + 2 < n && cont(i + 1) && cont(i + 2)) {
      out.push_back((uint32_t(b & 0x0F) << 12) | (uint32_t(s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F));
      i += 3;
    } else if ((b & 0xF8) == 0xF0 && i + 3 < n && cont(i + 1) && cont(i + 2) && cont(i + 3)) {
      uint32_t cp = (uint32_t(b & 0x07) << 18) | (uint32_t(s[i + 1] & 0x3F) << 12) | (uint32_t(s[i + 2] & 0x3F) << 6) |
                    (s[i + 3] & 0x3F);
      out.push_back(cp <= kMaxCodepoint ? cp : kReplacementChar);
      i += 4;
    } else {
      // A continuation byte, F8..FF, or a sequence cut short: one U+FFFD for this byte, go on with the next.
      out.push_back(kReplacementChar);
      i += 1;
    }
  }
}

void append_utf8(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Valid second-byte range for each lead byte (Unicode Table 3-7); the other continuation bytes are 80..BF.
static bool second_byte_ok(uint8_t lead, uint8_t b) {
  if (lead == 0xE0) return b >= 0xA0 && b <= 0xBF;
  if (lead == 0xED) return b >= 0x80 && b <= 0x9F;
  if (lead == 0xF0) return b >= 0x90 && b <= 0xBF;
  if (lead == 0xF4) return b >= 0x80 && b <= 0x8F;
  return b >= 0x80 && b <= 0xBF;
}

static size_t lead_len(uint8_t b) {
  if (b < 0x80) return 1;
  if (b >= 0xC2 && b <= 0xDF) return 2;
  if (b >= 0xE0 && b <= 0xEF) return 3;
  if (b >= 0xF0 && b <= 0xF4) return 4;
  return 0;
}

// Number of bytes from s[i] that are a prefix of some valid sequence (stops at the first byte that breaks it).
static size_t valid_prefix_len(std::string_view s, size_t i, size_t need) {
  size_t k = 1;
  for (; k < need && i + k < s.size(); ++k) {
    uint8_t b = static_cast<uint8_t>(s[i + k]);
    bool ok = k == 1 ? second_byte_ok(static_cast<uint8_t>(s[i]), b) : (b & 0xC0) == 0x80;
    if (!ok) break;
  }
  return k;
}

size_t valid_utf8_len(std::string_view s, size_t i) {
  size_t need = lead_len(static_cast<uint8_t>(s[i]));
  if (need <= 1) return need;
  return valid_prefix_len(s, i, need) == need ? need : 0;
}

size_t incomplete_utf8_tail(std::string_view s) {
  // Only the last three bytes can hold the start of an unfinished sequence.
  size_t n = s.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    size_t i = n - back;
    uint8_t b = static_cast<uint8_t>(s[i]);
    if ((b & 0xC0) == 0x80) continue;  // continuation: look further back for its lead
    size_t need = lead_len(b);
    if (need <= back) return 0;  // ASCII, invalid, or a sequence that is already complete (or broken)
    return valid_prefix_len(s, i, need) == back ? back : 0;
  }
  return 0;
}

std::string sanitize_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    uint8_t b = static_cast<uint8_t>(s[i]);
    size_t need = lead_len(b);
    if (need == 1) {
      out += static_cast<char>(b);
      ++i;
      continue;
    }
    if (need == 0) {  // a byte no sequence starts with
      append_utf8(kReplacementChar, out);
      ++i;
      continue;
    }
    size_t have = valid_prefix_len(s, i, need);
    if (have == need) {
      out.append(s.data() + i, need);
    } else {
      append_utf8(kReplacementChar, out);  // one U+FFFD for the maximal subpart
    }
    i += have;
  }
  return out;
}

uint32_t byte_to_cp(uint8_t b) { return byte_map().to_cp[b]; }

int cp_to_byte(uint32_t cp) {
  if (cp >= byte_map().from_cp.size()) return -1;
  return byte_map().from_cp[cp];
}

}  // namespace hybrid::tok
