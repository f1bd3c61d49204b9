// Fuzz target: a hostile vocabulary, as a model file can carry one (tokenizer.ggml.tokens, token_type,
// merges, the special ids, add_bos/add_eos, pre). Building the Tokenizer must either succeed or throw
// InputError; a built one must encode and decode any text without leaving the vocabulary.
//
// Input: byte 0 picks `pre` (or an unknown name), byte 1 the flags; then tokens as [type][len][bytes]
// until a zero length, merges as [len][bytes] until a zero length, the special ids as u16 values, and the
// rest is the text to encode (with special-token parsing when flag 0x04 is set).
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_common.h"
#include "gguf/gguf.h"
#include "util/error.h"

using hybrid::tok::TokenId;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Reader in(data, size);
  hybrid::tok::Vocab v;
  const uint8_t pre = in.u8();
  v.pre = pre % 8 < fuzz::kPreCount ? fuzz::kPres[pre % 8] : (pre % 8 == 7 ? "no-such-pre" : "");
  const uint8_t flags = in.u8();
  if (flags & 0x80) v.model = "llama";  // unsupported model: must be refused
  const bool with_types = flags & 0x01;
  while (!in.empty() && v.tokens.size() < 4096) {
    const uint8_t type = in.u8();
    const uint8_t len = in.u8();
    if (len == 0) break;
    v.tokens.push_back(in.bytes(len));
    if (with_types) v.token_types.push_back(static_cast<int32_t>(type % 8));
  }
  if ((flags & 0x02) && !v.token_types.empty()) v.token_types.pop_back();  // too few types: refused
  // The 256 byte tokens most vocabularies have, so that BPE merges have something to merge (flag 0x08).
  if (flags & 0x08) {
    for (int b = 0; b < 256; ++b) {
      v.tokens.push_back(fuzz::gpt2_text(std::string(1, static_cast<char>(b))));
      if (with_types) v.token_types.push_back(1);
    }
  }
  while (!in.empty() && v.merges.size() < 4096) {
    const uint8_t len = in.u8();
    if (len == 0) break;
    v.merges.push_back(in.bytes(len));
  }
  std::optional<uint32_t>* ids[] = {&v.bos, &v.eos, &v.eot, &v.eom, &v.unk, &v.sep, &v.pad, &v.mask,
                                    &v.fim_pre, &v.fim_suf, &v.fim_mid, &v.fim_pad, &v.fim_rep, &v.fim_sep};
  const uint32_t present = in.u16();
  for (size_t i = 0; i < sizeof ids / sizeof ids[0]; ++i)
    if (present & (1u << i)) *ids[i] = in.u16() | (flags & 0x40 ? 0xffff0000u : 0);  // some far out of range
  if (flags & 0x10) v.add_bos = (flags & 0x20) != 0;
  if (flags & 0x20) v.add_eos = (flags & 0x10) == 0;
  const std::string text = in.rest();

  std::unique_ptr<hybrid::tok::Tokenizer> tok;
  try {
    tok = std::make_unique<hybrid::tok::Tokenizer>(std::move(v));
  } catch (const hybrid::InputError&) {
    return 0;  // refused with a message: fine
  }
  for (TokenId id : tok->eog_ids()) FUZZ_CHECK(tok->valid(id), "EOG id %d of %zu", id, tok->size());
  const auto& s = tok->special();
  for (TokenId id : {s.bos, s.eos, s.eot, s.eom, s.unk, s.sep, s.pad, s.mask, s.fim_pre, s.fim_suf, s.fim_mid, s.fim_pad, s.fim_rep, s.fim_sep})
    FUZZ_CHECK(id == hybrid::tok::kNoToken || tok->valid(id), "special id %d of %zu", id, tok->size());

  for (int mode = 0; mode < 4; ++mode) {
    hybrid::tok::EncodeOptions o;
    o.add_special = mode & 1;
    o.parse_special = mode & 2;
    std::vector<TokenId> out;
    try {
      out = tok->encode(text, o);
    } catch (const hybrid::InputError&) {
      FUZZ_CHECK(o.add_special, "encode threw without add_special");
      continue;  // add_bos/add_eos without such a token: refused with a message
    }
    for (TokenId id : out) FUZZ_CHECK(tok->valid(id), "encode gave id %d of %zu", id, tok->size());
    (void)tok->detokenize(out, mode & 1, mode & 2);
    hybrid::tok::Detokenizer d(*tok, mode & 2);
    std::string streamed;
    for (TokenId id : out) streamed += d.push(id);
    streamed += d.flush();
    FUZZ_CHECK(hybrid::gguf::is_valid_utf8(streamed), "streamed text is not valid UTF-8");
  }
  for (size_t i = 0; i < tok->size() && i < 64; ++i) {
    (void)tok->piece(static_cast<TokenId>(i));
    (void)tok->attr(static_cast<TokenId>(i));
  }
  return 0;
}
