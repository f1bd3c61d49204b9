// Fuzz target: the text helpers every hostile string passes through on its way out of the native code —
// JsonWriter (a model's chat template, token texts and names go to the worker as JSON), the UTF-8
// checks (gguf::is_valid_utf8, tok::valid_utf8_len), sanitize_utf8 and incomplete_utf8_tail (streamed
// output), lenient decoding (tokenizer input) and gguf::printable (error messages). Differential: each
// is compared with a second, independent reading of the same rule.
//
// Properties: JsonWriter's string is valid JSON (RFC 8259 §7) whose decoded value is the input with each
// byte that starts no valid UTF-8 sequence replaced by U+FFFD; the two UTF-8 validators agree;
// sanitize_utf8 leaves valid text alone and always returns valid UTF-8; printable() is ASCII, within its
// length, and has no control characters.
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_common.h"
#include "gguf/gguf.h"
#include "tokenizer/unicode.h"
#include "util/json.h"

namespace {

// Decodes one JSON string literal at s[i] (i at the opening quote); returns false if it is not one.
bool decode_json_string(const std::string& s, size_t& i, std::string& out) {
  if (i >= s.size() || s[i] != '"') return false;
  ++i;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"') {
      ++i;
      return true;
    }
    if (c < 0x20) return false;  // control characters must be escaped
    if (c != '\\') {
      const size_t n = c < 0x80 ? 1 : hybrid::tok::valid_utf8_len(s, i);
      if (n == 0) return false;  // JSON text is UTF-8
      out.append(s, i, n);
      i += n;
      continue;
    }
    if (++i >= s.size()) return false;
    const char e = s[i++];
    switch (e) {
      case '"': out += '"'; break;
      case '\\': out += '\\'; break;
      case '/': out += '/'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'u': {
        if (i + 4 > s.size()) return false;
        uint32_t cp = 0;
        for (int k = 0; k < 4; ++k) {
          const char h = s[i++];
          cp <<= 4;
          if (h >= '0' && h <= '9') cp |= static_cast<uint32_t>(h - '0');
          else if (h >= 'a' && h <= 'f') cp |= static_cast<uint32_t>(h - 'a' + 10);
          else if (h >= 'A' && h <= 'F') cp |= static_cast<uint32_t>(h - 'A' + 10);
          else return false;
        }
        if (cp >= 0xd800 && cp <= 0xdfff) return false;  // the writer never splits into surrogates
        hybrid::tok::append_utf8(cp, out);
        break;
      }
      default:
        return false;
    }
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string s(reinterpret_cast<const char*>(data), size);

  // ---- UTF-8 validity: two implementations, one rule ----
  bool valid = true;
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    const size_t n = c < 0x80 ? 1 : hybrid::tok::valid_utf8_len(s, i);
    if (n == 0) {
      valid = false;
      break;
    }
    i += n;
  }
  FUZZ_CHECK(valid == hybrid::gguf::is_valid_utf8(s), "validators disagree on %s", fuzz::show(s).c_str());

  // ---- JSON ----
  hybrid::JsonWriter w;
  w.begin_object().field(s, s).key("list").begin_array().value(s).value(1.5).null().end_array().end_object();
  const std::string& json = w.str();
  std::string expected;
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    const size_t n = c < 0x80 ? 1 : hybrid::tok::valid_utf8_len(s, i);
    if (n == 0) {
      expected += "\xef\xbf\xbd";
      ++i;
    } else {
      expected.append(s, i, n);
      i += n;
    }
  }
  size_t i = 1;
  std::string key, value, item;
  FUZZ_CHECK(json[0] == '{', "JSON does not start with {");
  FUZZ_CHECK(decode_json_string(json, i, key), "key is not a JSON string: %s", fuzz::show(json).c_str());
  FUZZ_CHECK(i < json.size() && json[i] == ':', "no ':' after the key");
  ++i;
  FUZZ_CHECK(decode_json_string(json, i, value), "value is not a JSON string: %s", fuzz::show(json).c_str());
  FUZZ_CHECK(key == expected && value == expected, "JSON string decodes to %s, expected %s", fuzz::show(value).c_str(),
             fuzz::show(expected).c_str());
  const std::string list = ",\"list\":[";
  FUZZ_CHECK(json.compare(i, list.size(), list) == 0, "unexpected JSON after the first field: %s", fuzz::show(json.substr(i)).c_str());
  i += list.size();
  FUZZ_CHECK(decode_json_string(json, i, item) && item == expected, "array item differs");
  FUZZ_CHECK(json.compare(i, std::string::npos, ",1.5,null]}") == 0, "JSON ends wrongly: %s", fuzz::show(json.substr(i)).c_str());

  // ---- output sanitizing ----
  const std::string clean = hybrid::tok::sanitize_utf8(s);
  FUZZ_CHECK(hybrid::gguf::is_valid_utf8(clean), "sanitize_utf8 output is not valid UTF-8");
  if (valid) FUZZ_CHECK(clean == s, "sanitize_utf8 changed valid text");
  const size_t tail = hybrid::tok::incomplete_utf8_tail(s);
  FUZZ_CHECK(tail <= 3 && tail <= s.size(), "incomplete tail %zu", tail);
  if (valid) FUZZ_CHECK(tail == 0, "valid text has an incomplete tail");

  // ---- lenient decoding (tokenizer input): one code point per sequence or bad byte ----
  std::vector<uint32_t> cps;
  hybrid::tok::decode_utf8_lenient(s, cps);
  FUZZ_CHECK(cps.size() <= s.size(), "%zu code points from %zu bytes", cps.size(), s.size());
  for (uint32_t cp : cps) FUZZ_CHECK(cp <= hybrid::tok::kMaxCodepoint, "code point %x", cp);
  if (valid) {
    std::string back;
    for (uint32_t cp : cps) hybrid::tok::append_utf8(cp, back);
    FUZZ_CHECK(back == s, "lenient decoding of valid text does not round-trip");
  }

  // ---- error-message text ----
  const std::string p = hybrid::gguf::printable(s, 40);
  FUZZ_CHECK(p.size() <= 40 + 3 + 4, "printable() is %zu bytes", p.size());
  for (unsigned char c : p) FUZZ_CHECK(c >= 0x20 && c < 0x7f, "printable() wrote byte %02x", c);
  return 0;
}
