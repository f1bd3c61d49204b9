// Fuzz target: the BPE tokenizer's encode and decode on any bytes (a document's text, a rendered chat
// prompt parsed with special tokens), with the fixture vocabulary under every pre-tokenizer.
//
// Input: byte 0 picks the pre-tokenizer and the options (parse_special, add_special, render special
// tokens); byte 1 splits the rest into the text to encode and a run of token ids to decode.
// Properties checked:
//  - every id encode() gives is in the vocabulary;
//  - for valid UTF-8 text, the tokens' bytes joined are the text again (no byte lost or added), with or
//    without special-token parsing (a special token's piece is its text);
//  - the streaming Detokenizer over any token ids gives exactly sanitize_utf8 of their joined bytes (what
//    TextDecoder would show), whatever way the bytes of a character fall across tokens, and its output is
//    valid UTF-8;
//  - detokenize() and token_to_piece() accept every valid id.
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_common.h"
#include "gguf/gguf.h"
#include "util/error.h"

using hybrid::tok::TokenId;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Reader in(data, size);
  const uint8_t mode = in.u8();
  const uint8_t split = in.u8();
  const auto& tok = fuzz::fixture_tokenizer(mode % fuzz::kPreCount);
  const bool parse_special = mode & 0x08, add_special = mode & 0x10, render_special = mode & 0x20;
  const std::string rest = in.rest();
  const size_t text_len = split == 255 ? rest.size() : rest.size() * split / 255;
  const std::string text = rest.substr(0, text_len);

  // ---- encode ----
  hybrid::tok::EncodeOptions opts;
  opts.parse_special = parse_special;
  opts.add_special = add_special;
  std::vector<TokenId> ids = tok.encode(text, opts);  // the fixture has a BOS: never throws
  for (TokenId id : ids) FUZZ_CHECK(tok.valid(id), "encode gave token id %d of %zu", id, tok.size());
  const size_t first = add_special && tok.add_bos() ? 1 : 0;
  const size_t last = ids.size() - (add_special && tok.add_eos() ? 1 : 0);
  if (first) FUZZ_CHECK(!ids.empty() && ids[0] == tok.special().bos, "add_special but no BOS first");
  if (hybrid::gguf::is_valid_utf8(text)) {
    const std::string back = fuzz::joined_pieces(tok, ids, first, last);
    FUZZ_CHECK(back == text, "pieces do not add up to the text (pre %s, parse_special %d)\n  text:   %s\n  pieces: %s",
               tok.pre().c_str(), parse_special, fuzz::show(text).c_str(), fuzz::show(back).c_str());
  }
  (void)tok.detokenize(ids, true, render_special);

  // ---- decode: token ids from the rest of the input, streamed ----
  std::vector<TokenId> out_ids;
  const std::string id_bytes = rest.substr(text_len);
  for (size_t i = 0; i + 1 < id_bytes.size(); i += 2) {
    const uint32_t v = static_cast<uint8_t>(id_bytes[i]) | (static_cast<uint32_t>(static_cast<uint8_t>(id_bytes[i + 1])) << 8);
    out_ids.push_back(static_cast<TokenId>(v % tok.size()));
  }
  hybrid::tok::Detokenizer detok(tok, render_special);
  std::string streamed, all;
  for (TokenId id : out_ids) {
    streamed += detok.push(id);
    all += tok.token_to_piece(id, render_special);
  }
  streamed += detok.flush();
  FUZZ_CHECK(detok.pending() == 0, "the detokenizer holds bytes after flush()");
  const std::string expected = hybrid::tok::sanitize_utf8(all);
  FUZZ_CHECK(streamed == expected, "streamed text differs from the sanitized bytes\n  streamed: %s\n  expected: %s",
             fuzz::show(streamed).c_str(), fuzz::show(expected).c_str());
  FUZZ_CHECK(hybrid::gguf::is_valid_utf8(streamed), "streamed text is not valid UTF-8: %s", fuzz::show(streamed).c_str());
  (void)tok.detokenize(out_ids, false, render_special);

  // An id out of range is an InputError, never a crash.
  try {
    (void)tok.piece(static_cast<TokenId>(tok.size()));
    FUZZ_CHECK(false, "piece() accepted an out-of-range id");
  } catch (const hybrid::InputError&) {
  }
  return 0;
}
