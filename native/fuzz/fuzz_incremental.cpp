// Fuzz target: incremental tokenization of an edited document (tokenizer/incremental.h), differential:
// after any sequence of edits (replace(), update() with a whole new text, set_text()), prefix_tokens(k)
// must equal a full tokenization of text[0:k], for every pre-tokenizer. The vocabulary is the fixture
// without the user-defined "\nEND" (a token with a line break followed by a non-space, which the header
// says breaks safe boundaries by design).
//
// Input: byte 0 picks the pre-tokenizer; byte 1 the length of the first text; that text; then operations:
// [op][a u16][b u16][len u8][bytes]. Offsets are taken modulo the text's size + 1.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "fuzz_common.h"
#include "tokenizer/incremental.h"

using hybrid::tok::TokenId;

namespace {

void check_prefix(hybrid::tok::DocumentTokens& doc, const hybrid::tok::Tokenizer& tok, size_t offset) {
  const std::string& text = doc.text();
  offset = std::min(offset, text.size());
  const std::vector<TokenId> got = doc.prefix_tokens(offset);
  hybrid::tok::EncodeOptions o;
  o.add_special = false;
  std::vector<TokenId> want = tok.encode(std::string_view(text).substr(0, offset), o);
  if (tok.add_bos()) want.insert(want.begin(), tok.special().bos);
  if (got != want) {
    std::string g, w;
    for (TokenId id : got) g += "[" + fuzz::show(tok.piece(id), 20) + "]";
    for (TokenId id : want) w += "[" + fuzz::show(tok.piece(id), 20) + "]";
    FUZZ_CHECK(false, "prefix_tokens(%zu) differs from a full tokenization (pre %s)\n  text: %s\n  got:  %s\n  want: %s", offset,
               tok.pre().c_str(), fuzz::show(text, 400).c_str(), fuzz::show(g, 600).c_str(), fuzz::show(w, 600).c_str());
  }
  FUZZ_CHECK(doc.cached_bytes() <= text.size(), "cache reaches past the text (%zu > %zu)", doc.cached_bytes(), text.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Reader in(data, size);
  const auto& tok = fuzz::fixture_tokenizer(in.u8() % fuzz::kPreCount, /*newline_user_token=*/false);
  hybrid::tok::DocumentTokens doc(tok, in.bytes(in.u8()), /*add_bos=*/true);
  int ops = 0;
  while (!in.empty() && ops++ < 64) {
    const uint8_t op = in.u8();
    const size_t n = doc.text().size();
    const size_t a = in.u16() % (n + 1), b = in.u16() % (n + 1);
    const std::string with = in.bytes(in.u8() % 64);
    switch (op % 5) {
      case 0:  // an editor's change
        doc.replace(std::min(a, b), std::max(a, b), with);
        break;
      case 1: {  // a whole new text that differs in one span (update finds it)
        std::string t = doc.text();
        t.replace(std::min(a, b), std::max(a, b) - std::min(a, b), with);
        doc.update(t);
        FUZZ_CHECK(doc.text() == t, "update() did not make the text equal");
        break;
      }
      case 2:  // typing at the cursor: append
        doc.replace(n, n, with);
        break;
      case 3:
        if (op & 0x80) doc.set_text(with);
        break;
      default:
        break;
    }
    check_prefix(doc, tok, (op & 0x40) ? doc.text().size() : b);
  }
  check_prefix(doc, tok, doc.text().size());
  // An offset past the end is clamped, a range outside the text refused.
  (void)doc.prefix_tokens(doc.text().size() + 10);
  try {
    doc.replace(1, doc.text().size() + 1, "x");
    FUZZ_CHECK(false, "replace() accepted a range past the end");
  } catch (const std::out_of_range&) {
  }
  return 0;
}
