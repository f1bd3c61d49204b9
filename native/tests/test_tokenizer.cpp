// Unit tests of the byte-level BPE tokenizer (native/src/tokenizer): byte alphabet, merges by rank,
// special-token partitioning, the pre-tokenizers on hand-worked examples, llama.cpp's EOG/FIM detection,
// detokenization with clean-up, and the streaming detokenizer. Whole-vocabulary agreement with llama.cpp
// is the job of test/conformance/tokenizer.test.ts.
#include <random>
#include <regex>
#include <string>
#include <vector>

#include "check.h"
#include "tokenizer/pretokenize.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

using namespace hybrid::tok;

namespace hybrid::tok {
std::vector<uint32_t> tekken_split_collapsed_for_test(const std::vector<uint8_t>& collapsed);
}

namespace {

std::string enc_char(uint8_t b) {
  std::string s;
  append_utf8(byte_to_cp(b), s);
  return s;
}

// GPT-2 alphabet text of some bytes ("Ġthe" for " the").
std::string enc(std::string_view bytes) {
  std::string s;
  for (unsigned char b : bytes) s += enc_char(b);
  return s;
}

// A vocabulary with the 256 byte characters as ids 0..255 (in byte order), then one token per merge
// result, then `extra` tokens with their types.
struct TinyVocab {
  Vocab v;
  explicit TinyVocab(const std::string& pre) {
    v.pre = pre;
    for (int b = 0; b < 256; ++b) v.tokens.push_back(enc_char(static_cast<uint8_t>(b)));
    v.token_types.assign(256, 1);
  }
  // merge of two byte strings (GPT-2 encoded inside)
  TinyVocab& merge(const std::string& l, const std::string& r) {
    v.merges.push_back(enc(l) + " " + enc(r));
    v.tokens.push_back(enc(l + r));
    v.token_types.push_back(1);
    return *this;
  }
  TinyVocab& token(const std::string& text, TokenType type) {
    v.tokens.push_back(text);
    v.token_types.push_back(static_cast<int32_t>(type));
    return *this;
  }
};

std::vector<TokenId> ids(std::initializer_list<int> l) { return std::vector<TokenId>(l.begin(), l.end()); }

std::vector<std::string> texts(const Tokenizer& t, const std::vector<TokenId>& v) {
  std::vector<std::string> out;
  for (TokenId id : v) out.push_back(t.piece(id));
  return out;
}

using Strs = std::vector<std::string>;

// The words a pre-tokenizer makes of a text.
Strs split(SplitKind kind, const std::string& text) {
  std::vector<uint32_t> cps, lengths;
  decode_utf8_lenient(text, cps);
  std::vector<uint16_t> flags;
  for (uint32_t c : cps) flags.push_back(cp_flags(c));
  split_words(kind, cps, flags, lengths);
  Strs out;
  size_t at = 0;
  for (uint32_t len : lengths) {
    std::string w;
    for (size_t i = at; i < at + len; ++i) append_utf8(cps[i], w);
    out.push_back(w);
    at += len;
  }
  return out;
}

}  // namespace

TEST("GPT-2 byte alphabet is a bijection; printable bytes map to themselves") {
  for (int b = 0; b < 256; ++b) CHECK_EQ(cp_to_byte(byte_to_cp(static_cast<uint8_t>(b))), b);
  CHECK_EQ(byte_to_cp('a'), uint32_t('a'));
  CHECK_EQ(byte_to_cp('!'), uint32_t('!'));
  CHECK_EQ(byte_to_cp(' '), 0x120u);   // Ġ
  CHECK_EQ(byte_to_cp('\n'), 0x10Au);  // Ċ
  CHECK_EQ(byte_to_cp('\t'), 0x109u);  // ĉ
  CHECK_EQ(byte_to_cp(0xAD), 0x143u);  // the soft hyphen is the last one moved
  CHECK_EQ(cp_to_byte('Z' + 0x1000), -1);
}

TEST("unicode categories: letters, digits, whitespace, punctuation, marks") {
  CHECK(cp_flags('a') & kCpLetter);
  CHECK(cp_flags(0x00E9) & kCpLetter);   // é
  CHECK(cp_flags(0x4E2D) & kCpLetter);   // 中
  CHECK(cp_flags(0x05D0) & kCpLetter);   // Hebrew alef
  CHECK(cp_flags('7') & kCpNumber);
  CHECK(cp_flags(0x0663) & kCpNumber);   // Arabic-Indic three
  CHECK(cp_flags(0x00BD) & kCpNumber);   // ½ (No)
  CHECK(cp_flags(' ') & kCpWhitespace);
  CHECK(cp_flags(0x3000) & kCpWhitespace);
  CHECK(!(cp_flags(0x200B) & kCpWhitespace));  // zero-width space is Cf, not White_Space
  CHECK(cp_flags(0x200D) & kCpControl);        // ZWJ
  CHECK(cp_flags(0x0301) & kCpMark);           // combining acute
  CHECK(cp_flags(0x1F600) & kCpSymbol);        // 😀
  CHECK(cp_flags(0x3002) & kCpPunctuation);    // 。
  CHECK_EQ(cp_flags(0x0378), kCpUndefined);
  CHECK_EQ(cp_flags(0x110000), kCpUndefined);
}

TEST("lenient UTF-8 decoding matches llama.cpp: one U+FFFD per bad byte, overlongs decode") {
  std::vector<uint32_t> cps;
  decode_utf8_lenient("a\xff" "b\xe2\x82" "c\xc0\x80", cps);
  CHECK(cps == std::vector<uint32_t>({'a', 0xFFFD, 'b', 0xFFFD, 0xFFFD, 'c', 0}));
  decode_utf8_lenient("\xed\xa0\x80", cps);  // a surrogate decodes to itself
  CHECK(cps == std::vector<uint32_t>({0xD800}));
  decode_utf8_lenient("\xf4\x90\x80\x80", cps);  // past U+10FFFF
  CHECK(cps == std::vector<uint32_t>({0xFFFD}));
}

TEST("sanitize_utf8 replaces each maximal ill-formed subpart once (WHATWG)") {
  CHECK_EQ(sanitize_utf8("ok \xc3\xa9"), std::string("ok \xc3\xa9"));
  CHECK_EQ(sanitize_utf8("\xe2\x82"), std::string("\xef\xbf\xbd"));                       // cut-off 3-byte
  CHECK_EQ(sanitize_utf8("\xed\xa0\x80"), std::string("\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"));  // surrogate
  CHECK_EQ(sanitize_utf8("\xf0\x9f\x98x"), std::string("\xef\xbf\xbdx"));
  CHECK_EQ(sanitize_utf8("\xc0\xaf"), std::string("\xef\xbf\xbd\xef\xbf\xbd"));           // overlong
  CHECK_EQ(incomplete_utf8_tail("ab\xf0\x9f\x98"), 3u);
  CHECK_EQ(incomplete_utf8_tail("ab\xf0\x9f\x98\x80"), 0u);
  CHECK_EQ(incomplete_utf8_tail("ab\xe0\x80"), 0u);  // E0 80 can never complete
}

TEST("merges apply by rank, ties leftmost first") {
  {
    TinyVocab tv("gpt-2");
    tv.merge("a", "b").merge("b", "c");  // "ab" rank 0 beats "bc"
    Tokenizer t(tv.v);
    CHECK(texts(t, t.encode("abc")) == Strs({"ab", "c"}));
  }
  {
    TinyVocab tv("gpt-2");
    tv.merge("b", "c").merge("a", "b");
    Tokenizer t(tv.v);
    CHECK(texts(t, t.encode("abc")) == Strs({"a", "bc"}));
    CHECK_EQ(t.merge_rank(enc("a"), enc("b")), 1);
    CHECK_EQ(t.merge_rank(enc("a"), enc("c")), -1);
  }
  {
    TinyVocab tv("gpt-2");
    tv.merge("a", "a");
    Tokenizer t(tv.v);
    CHECK(texts(t, t.encode("aaa")) == Strs({"aa", "a"}));
    CHECK(texts(t, t.encode("aaaa")) == Strs({"aa", "aa"}));
  }
  {
    // " the": Ġ+t (0), h+e (1), Ġt+he (2) -> one token, worked by hand.
    TinyVocab tv("gpt-2");
    tv.merge(" ", "t").merge("h", "e").merge(" t", "he");
    Tokenizer t(tv.v);
    CHECK(t.encode(" the") == ids({258}));
    CHECK(t.encode(" then") == ids({258, 'n'}));
    CHECK(t.encode("the") == ids({'t', 257}));
    CHECK_EQ(t.text(258), std::string("\xc4\xa0the"));  // "Ġthe"
  }
}

TEST("ignore_merges takes a word that is a whole token as it is") {
  // Merges can only make "ab"+"c" -> "abc" via "ab c"; the vocabulary also has "xyz" with no merges.
  TinyVocab tv("pixtral");
  tv.merge("a", "b").token(enc("xyz"), TokenType::kNormal);
  Tokenizer t(tv.v);
  CHECK(t.ignore_merges());
  CHECK(t.encode("xyz", {false, false}) == ids({257}));
  TinyVocab tv2("dbrx");
  tv2.merge("a", "b").token(enc("xyz"), TokenType::kNormal);
  Tokenizer t2(tv2.v);
  CHECK(!t2.ignore_merges());
  CHECK(t2.encode("xyz", {false, false}) == ids({'x', 'y', 'z'}));
}

TEST("special tokens: control only with parse_special, user-defined always, longest first") {
  TinyVocab tv("dbrx");
  tv.token("<s>", TokenType::kControl)           // 256
      .token("</s>", TokenType::kControl)        // 257
      .token("<tool>", TokenType::kUserDefined)  // 258
      .token("<a>", TokenType::kUserDefined)     // 259
      .token("<a><b>", TokenType::kUserDefined); // 260
  tv.v.bos = 256;
  tv.v.eos = 257;
  Tokenizer t(tv.v);
  CHECK(t.encode("<s>hi</s>", {false, true}) == ids({256, 'h', 'i', 257}));
  std::vector<TokenId> plain = t.encode("<s>hi</s>", {false, false});
  CHECK(std::find(plain.begin(), plain.end(), 256) == plain.end());
  CHECK_EQ(t.detokenize(plain), std::string("<s>hi</s>"));
  CHECK(t.encode("x<tool>y", {false, false}) == ids({'x', 258, 'y'}));
  CHECK(t.encode("<a><b><a>", {false, false}) == ids({260, 259}));
  // Control tokens render only when asked.
  CHECK_EQ(t.detokenize(ids({256, 'h', 257}), false, false), std::string("h"));
  CHECK_EQ(t.detokenize(ids({256, 'h', 257}), false, true), std::string("<s>h</s>"));
  CHECK_EQ(t.detokenize(ids({258}), false, false), std::string("<tool>"));
}

TEST("add_bos follows the pre-tokenizer default and the file's key") {
  TinyVocab tv("pixtral");
  tv.token("<s>", TokenType::kControl);
  tv.v.bos = 256;
  {
    Tokenizer t(tv.v);  // pixtral: add_bos defaults to true
    CHECK(t.add_bos());
    CHECK(t.encode("a") == ids({256, 'a'}));
    CHECK(t.encode("a", {false, false}) == ids({'a'}));
  }
  tv.v.add_bos = false;
  {
    Tokenizer t(tv.v);
    CHECK(t.encode("a") == ids({'a'}));
  }
  TinyVocab g("dbrx");
  Tokenizer tg(g.v);
  CHECK(!tg.add_bos());
}

TEST("EOG and FIM ids are found by text as llama.cpp does") {
  TinyVocab tv("dbrx");
  tv.token("<|end_of_text|>", TokenType::kControl)   // 256
      .token("<|fim_prefix|>", TokenType::kControl)  // 257
      .token("<|fim_middle|>", TokenType::kControl)  // 258
      .token("<|fim_suffix|>", TokenType::kControl)  // 259
      .token("<|fim_pad|>", TokenType::kControl)     // 260
      .token("<|unused_1|>", TokenType::kControl)    // 261
      .token("</s>", TokenType::kNormal);            // 262: in the EOG list, so forced to control
  tv.v.bos = 256;
  tv.v.eos = 256;
  Tokenizer t(tv.v);
  const SpecialIds& s = t.special();
  CHECK_EQ(s.eot, 256);
  CHECK_EQ(s.fim_pre, 257);
  CHECK_EQ(s.fim_mid, 258);
  CHECK_EQ(s.fim_suf, 259);
  CHECK_EQ(s.fim_pad, 260);
  CHECK(t.eog_ids() == ids({256, 260, 262}));
  CHECK(t.is_eog(262));
  CHECK(!t.is_eog(257));
  CHECK(t.attr(262) & kAttrControl);
  CHECK(t.attr(261) & kAttrUnused);
}

TEST("Llama-3 split (dbrx, pixtral), worked by hand") {
  CHECK(split(SplitKind::kLlama3, "Hello world's 12345\n\n  x") ==
        Strs({"Hello", " world", "'s", " ", "123", "45", "\n\n", " ", " x"}));
  CHECK(split(SplitKind::kLlama3, "I'LL DON'T") == Strs({"I", "'LL", " DON", "'T"}));
  CHECK(split(SplitKind::kLlama3, "a+=b;\r\n\tc") == Strs({"a", "+=", "b", ";\r\n", "\tc"}));
  CHECK(split(SplitKind::kLlama3, "x  \t") == Strs({"x", "  \t"}));
  CHECK(split(SplitKind::kLlama3, "  ") == Strs({"  "}));
  CHECK(split(SplitKind::kLlama3, "(été)") == Strs({"(été", ")"}));
}

TEST("GPT-2 split, worked by hand") {
  CHECK(split(SplitKind::kGpt2, "Hello world's 12345!!\n\n  x") ==
        Strs({"Hello", " world", "'s", " 12345", "!!", "\n\n ", " x"}));
  CHECK(split(SplitKind::kGpt2, "I'LL") == Strs({"I", "'", "LL"}));
}

TEST("Tekken split, worked by hand (llama.cpp's collapsed-text behaviour)") {
  CHECK(split(SplitKind::kTekken, "HELLOworld helloWorld 42") == Strs({"HELLOworld", " hello", "World", " ", "4", "2"}));
  // A non-ASCII letter counts as upper and lower case: "É" ends an upper run, so ÉCOLE splits.
  CHECK(split(SplitKind::kTekken, "ÉCOLE naïve Ökonomie") == Strs({"É", "COLE", " naïve", " Ökonomie"}));
  CHECK(split(SplitKind::kTekken, "a+=b;\n/x") == Strs({"a", "+=", "b", ";\n/", "x"}));
  CHECK(split(SplitKind::kTekken, "x \n\n y") == Strs({"x", " \n\n", " y"}));
}

TEST("default split: punctuation runs, GPT-2, digit runs, threes") {
  CHECK(split(SplitKind::kDefault, "ab+=1234567 x") == Strs({"ab", "+=", "123", "456", "7", " x"}));
}

TEST("Tekken matcher equals std::regex on the collapsed text (random strings)") {
  // The pattern llama.cpp builds for tekken after collapsing \p{L} to [\xD2A-Za-z] and \p{N} to [\xD10-9].
  const std::string pat =
      "[^\\r\\n\xD2" "A-Za-z\xD1" "0-9]?((?=[\xD2" "A-Za-z])([^a-z]))*((?=[\xD2" "A-Za-z])([^A-Z]))+"
      "|[^\\r\\n\xD2" "A-Za-z\xD1" "0-9]?((?=[\xD2" "A-Za-z])([^a-z]))+((?=[\xD2" "A-Za-z])([^A-Z]))*"
      "|[\xD1" "0-9]| ?[^\\s\xD2" "A-Za-z\xD1" "0-9]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  const std::regex re(pat, std::regex_constants::optimize | std::regex_constants::nosubs);
  const uint8_t alphabet[] = {'a', 'b', 'Z', 'Q', '1', ' ', ' ', '\n', '\r', '\t', 0x0B, '/', '+', ';', 0xD0, 0xD1, 0xD2, 0xD2, 0xD3, 0xD4, 0xD5};
  std::mt19937 rng(1234);
  int mismatches = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    size_t len = 1 + rng() % 24;
    std::vector<uint8_t> x(len);
    for (auto& c : x) c = alphabet[rng() % sizeof alphabet];
    std::string s(x.begin(), x.end());
    std::vector<uint32_t> want;
    size_t last = 0;
    for (auto it = std::sregex_iterator(s.begin(), s.end(), re); it != std::sregex_iterator(); ++it) {
      size_t pos = static_cast<size_t>(it->position()), n = static_cast<size_t>(it->length());
      if (pos > last) want.push_back(static_cast<uint32_t>(pos - last));
      want.push_back(static_cast<uint32_t>(n));
      last = pos + n;
    }
    if (last < s.size()) want.push_back(static_cast<uint32_t>(s.size() - last));
    if (tekken_split_collapsed_for_test(x) != want && ++mismatches <= 3) {
      std::string hex;
      for (uint8_t c : x) { char b[4]; std::snprintf(b, sizeof b, "%02x ", c); hex += b; }
      std::printf("  tekken mismatch on %s\n", hex.c_str());
    }
  }
  CHECK_EQ(mismatches, 0);
}

TEST("invalid UTF-8 is tokenized as U+FFFD, like llama.cpp") {
  TinyVocab tv("dbrx");
  Tokenizer t(tv.v);
  CHECK(t.encode("a\xff" "b", {false, false}) == t.encode("a\xef\xbf\xbd" "b", {false, false}));
  CHECK(t.encode("\xe2\x82", {false, false}) == t.encode("\xef\xbf\xbd\xef\xbf\xbd", {false, false}));
}

TEST("detokenize cleans spaces like llama.cpp for dbrx/pixtral, not for tekken") {
  const std::string text = "a , b . c ' d 's e 't f 're g ?";
  TinyVocab d("dbrx");
  Tokenizer td(d.v);
  CHECK_EQ(td.detokenize(td.encode(text)), std::string("a, b. c'd's e 't f're g?"));
  TinyVocab k("tekken");
  k.token("<s>", TokenType::kControl);
  k.v.bos = 256;
  Tokenizer tk(k.v);
  CHECK_EQ(tk.detokenize(tk.encode(text)), text);  // BOS renders as nothing without unparse_special
  CHECK_EQ(tk.detokenize(tk.encode(text), true, true), text);  // remove_special drops the BOS
  CHECK_EQ(tk.detokenize(tk.encode(text), false, true), "<s>" + text);
}

TEST("streaming detokenizer never splits a UTF-8 character, at any token boundary") {
  TinyVocab tv("tekken");  // bytes only: every multi-byte character spans several tokens
  Tokenizer t(tv.v);
  const std::string text = "añ€😀 中文 עברית e\xcc\x81 👩‍💻!";
  std::vector<TokenId> toks = t.encode(text, {false, false});
  CHECK(toks.size() == text.size());
  Detokenizer d(t);
  std::string all;
  for (TokenId id : toks) {
    std::string part = d.push(id);
    CHECK_EQ(sanitize_utf8(part), part);  // every chunk is valid UTF-8 on its own
    all += part;
  }
  all += d.flush();
  CHECK_EQ(all, text);
  // Bytes that can never be valid come out as U+FFFD at once; an unfinished sequence only at flush.
  Detokenizer e(t);
  CHECK_EQ(e.push_bytes("x\xff"), std::string("x\xef\xbf\xbd"));
  CHECK_EQ(e.push_bytes("\xe2\x82"), std::string());
  CHECK_EQ(e.pending(), 2u);
  CHECK_EQ(e.flush(), std::string("\xef\xbf\xbd"));
  // Any split of any byte string gives what decoding it whole gives.
  std::mt19937 rng(7);
  const std::string bytes = "\xf0\x9f\x98\x80\xe2\x82\xac\xc3\xa9\xed\xa0\x80\xff\xe2\x82" "a\xc3";
  for (int iter = 0; iter < 500; ++iter) {
    Detokenizer s(t);
    std::string got;
    size_t at = 0;
    while (at < bytes.size()) {
      size_t n = 1 + rng() % 4;
      got += s.push_bytes(std::string_view(bytes).substr(at, n));
      at += n;
    }
    got += s.flush();
    if (got != sanitize_utf8(bytes)) { CHECK_EQ(got, sanitize_utf8(bytes)); break; }
  }
}

TEST("bad vocabularies are rejected with a clear error") {
  TinyVocab dup("dbrx");
  dup.token("a", TokenType::kNormal);
  CHECK_THROWS(Tokenizer(dup.v));
  TinyVocab pre("no-such-pre");
  CHECK_THROWS(Tokenizer(pre.v));
  Vocab empty;
  CHECK_THROWS(Tokenizer(std::move(empty)));
}

TEST_MAIN()
