// Behaviour follows llama.cpp v0.5.0 src/llama-vocab.cpp (llama_vocab::impl::load, tokenize,
// tokenizer_st_partition, llm_tokenizer_bpe_session, token_to_piece, detokenize). The data structures are
// our own and built for speed: merges are looked up by a pair of integer "piece" ids in one flat hash table
// instead of by a pair of strings, and special tokens are only searched for when they occur in the text.
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unordered_map>

#include "tokenizer/unicode.h"
#include "util/error.h"

namespace hybrid::tok {

namespace {

// Open-addressing hash table from a (left piece, right piece) pair to (rank, merged piece).
class MergeTable {
 public:
  struct Entry {
    uint64_t key;
    int32_t rank;
    int32_t result;
  };
  void reserve(size_t n) {
    size_t cap = 16;
    while (cap < n * 2) cap <<= 1;
    slots_.assign(cap, Entry{kEmpty, -1, -1});
    mask_ = cap - 1;
  }
  // Keeps the first rank given for a pair, as llama.cpp's map emplace does.
  void insert(int32_t left, int32_t right, int32_t rank, int32_t result) {
    uint64_t key = pack(left, right);
    for (size_t i = hash(key) & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].key == key) return;
      if (slots_[i].key == kEmpty) {
        slots_[i] = Entry{key, rank, result};
        return;
      }
    }
  }
  const Entry* find(int32_t left, int32_t right) const {
    uint64_t key = pack(left, right);
    for (size_t i = hash(key) & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].key == key) return &slots_[i];
      if (slots_[i].key == kEmpty) return nullptr;
    }
  }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t(0);
  static uint64_t pack(int32_t l, int32_t r) { return (uint64_t(uint32_t(l)) << 32) | uint32_t(r); }
  static size_t hash(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return static_cast<size_t>(k);
  }
  std::vector<Entry> slots_;
  size_t mask_ = 0;
};

struct SplitKindInfo {
  SplitKind split;
  bool ignore_merges;
  bool add_bos;       // default before tokenizer.ggml.add_bos_token
  bool clean_spaces;  // llama.cpp clean_up_tokenization_spaces
};

// `tokenizer.ggml.pre` names that llama.cpp maps to the pre-tokenizers implemented here (llama-vocab.cpp
// load(); BPE defaults are clean_spaces = true, ignore_merges = false, add_bos = false).
bool lookup_pre(const std::string& pre, SplitKindInfo& info) {
  static const char* kLlama3[] = {"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "jina-v5-nano"};
  static const char* kGpt2[] = {"gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "a.x-4.0", "mellum", "modern-bert", "olmo"};
  info = {SplitKind::kDefault, false, false, true};
  if (pre.empty() || pre == "default") return true;
  for (const char* n : kLlama3)
    if (pre == n) { info = {SplitKind::kLlama3, true, true, true}; return true; }
  if (pre == "dbrx" || pre == "smaug-bpe") { info = {SplitKind::kLlama3, false, false, true}; return true; }
  if (pre == "tekken") { info = {SplitKind::kTekken, true, true, false}; return true; }
  for (const char* n : kGpt2)
    if (pre == n) { info = {SplitKind::kGpt2, false, false, true}; return true; }
  return false;
}

uint32_t attr_from_type(int32_t type) {
  switch (static_cast<TokenType>(type)) {
    case TokenType::kUnknown: return kAttrUnknown;
    case TokenType::kUnused: return kAttrUnused;
    case TokenType::kNormal: return kAttrNormal;
    case TokenType::kControl: return kAttrControl;
    case TokenType::kUserDefined: return kAttrUserDefined;
    case TokenType::kByte: return kAttrByte;
    default: return kAttrUndefined;
  }
}

bool one_of(const std::string& s, std::initializer_list<const char*> list) {
  for (const char* x : list)
    if (s == x) return true;
  return false;
}

// A normal token's text back to bytes: every character of the GPT-2 alphabet is one byte; anything else is
// written as llama.cpp's llama_decode_text writes it.
std::string decode_token_text(const std::string& text) {
  std::vector<uint32_t> cps;
  decode_utf8_lenient(text, cps);
  std::string out;
  for (uint32_t cp : cps) {
    int b = cp_to_byte(cp);
    if (b >= 0) {
      out += static_cast<char>(b);
    } else {
      std::string utf8;
      append_utf8(cp, utf8);
      out += "[UNK_BYTE_0x";
      char hex[3];
      for (unsigned char c : utf8) {
        std::snprintf(hex, sizeof hex, "%02x", c);
        out += hex;
      }
      out += text + "]";
    }
  }
  return out;
}

}  // namespace

struct Tokenizer::Impl {
  std::unordered_map<std::string_view, TokenId> token_ids;  // views into texts_
  // Piece dictionary: every token text, both sides of every merge and every merge result get an id, so
  // BPE compares integers. piece_token maps a piece to the token with that text (or kNoToken).
  std::unordered_map<std::string, int32_t> piece_ids;
  std::vector<TokenId> piece_token;
  MergeTable merges;
  int32_t byte_piece[256];          // piece of the one-character text each byte encodes to
  TokenId single_byte_token[256];   // token whose text is exactly this one byte (llama.cpp's fallback)
  char enc[256][2];                 // the UTF-8 of each byte's GPT-2 character
  uint8_t enc_len[256];
  // Special tokens in the order llama.cpp tries them (longest text first), and a lookup for finding
  // which of them occur in a text.
  std::vector<TokenId> specials;
  std::unordered_map<std::string_view, TokenId> special_by_text;
  std::vector<size_t> special_lengths;  // distinct lengths, ascending
  bool special_first_byte[256] = {};

  int32_t piece_id(const std::string& s) {
    auto it = piece_ids.find(s);
    if (it != piece_ids.end()) return it->second;
    int32_t id = static_cast<int32_t>(piece_token.size());
    piece_ids.emplace(s, id);
    piece_token.push_back(kNoToken);
    return id;
  }
};

constexpr size_t kWordCacheLimit = 1 << 16;

struct Tokenizer::Scratch {
  std::vector<uint32_t> cps;
  std::vector<uint16_t> flags;
  std::vector<uint32_t> lengths;
  std::string bytes;    // one word, UTF-8 as llama.cpp re-encodes it
  std::string encoded;  // the same word in the GPT-2 alphabet
  struct Symbol {
    int32_t piece, prev, next;
    uint32_t start, n;  // bytes of `bytes`
  };
  struct Bigram {
    int32_t rank, left, right, result;
    uint32_t left_n, right_n;
  };
  std::vector<Symbol> symbols;
  std::vector<Bigram> heap;
  // Words already merged in this call: code repeats its words, and BPE of a word is always the same.
  std::unordered_map<std::string, std::pair<uint32_t, uint32_t>> word_cache;  // -> [first, count) in cached
  std::vector<TokenId> cached;
};

Tokenizer::Tokenizer(Vocab vocab) : impl_(std::make_unique<Impl>()) { load(vocab); }
Tokenizer::~Tokenizer() = default;

void Tokenizer::load(Vocab& v) {
  Impl& im = *impl_;
  if (v.model != "gpt2") {
    throw InputError("tokenizer model '" + v.model + "' is not supported (only byte-level BPE, tokenizer.ggml.model = gpt2)");
  }
  SplitKindInfo info;
  if (!lookup_pre(v.pre, info)) {
    throw InputError("pre-tokenizer '" + v.pre +
                     "' (tokenizer.ggml.pre) is not supported; supported: default, gpt-2, llama-bpe/llama3, pixtral, dbrx, smaug-bpe, tekken");
  }
  pre_ = v.pre;
  split_ = info.split;
  ignore_merges_ = info.ignore_merges;
  add_bos_ = info.add_bos;
  clean_spaces_ = info.clean_spaces;
  add_eos_ = false;

  const size_t n = v.tokens.size();
  if (n == 0) throw InputError("the vocabulary has no tokens (tokenizer.ggml.tokens is empty)");
  if (!v.token_types.empty() && v.token_types.size() < n) {
    throw InputError("tokenizer.ggml.token_type has " + std::to_string(v.token_types.size()) + " entries for " +
                     std::to_string(n) + " tokens");
  }
  texts_ = std::move(v.tokens);
  attrs_.assign(n, kAttrNormal);
  for (size_t i = 0; i < n; ++i) {
    if (texts_[i].empty()) texts_[i] = "[EMPTY_" + std::to_string(i) + "]";  // as llama.cpp
    if (!v.token_types.empty()) attrs_[i] = attr_from_type(v.token_types[i]);
  }
  im.token_ids.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    if (!im.token_ids.emplace(texts_[i], static_cast<TokenId>(i)).second) {
      throw InputError("token " + std::to_string(i) + " has the same text as token " +
                       std::to_string(im.token_ids[texts_[i]]) + " ('" + texts_[i] + "'); llama.cpp rejects such vocabularies");
    }
  }

  // ---- pieces and merges ----
  im.piece_ids.reserve((n + v.merges.size()) * 2);
  for (size_t i = 0; i < n; ++i) im.piece_token[im.piece_id(texts_[i])] = static_cast<TokenId>(i);
  for (int b = 0; b < 256; ++b) {
    std::string s;
    append_utf8(byte_to_cp(static_cast<uint8_t>(b)), s);
    std::memcpy(im.enc[b], s.data(), s.size());
    im.enc_len[b] = static_cast<uint8_t>(s.size());
    im.byte_piece[b] = im.piece_id(s);
    char c = static_cast<char>(b);
    auto it = im.token_ids.find(std::string_view(&c, 1));
    im.single_byte_token[b] = it == im.token_ids.end() ? kNoToken : it->second;
  }
  n_merges_ = v.merges.size();
  im.merges.reserve(v.merges.size());
  for (size_t r = 0; r < v.merges.size(); ++r) {
    const std::string& m = v.merges[r];
    size_t sp = m.size() > 1 ? m.find(' ', 1) : std::string::npos;  // as llama.cpp: first space after index 0
    if (sp == std::string::npos) continue;                              // ("", "") can never match
    std::string left = m.substr(0, sp), right = m.substr(sp + 1);
    int32_t l = im.piece_id(left), rr = im.piece_id(right);
    int32_t result = im.piece_id(left + right);
    im.merges.insert(l, rr, static_cast<int32_t>(r), result);
  }
  v.merges.clear();
  v.merges.shrink_to_fit();

  // ---- special ids: BPE defaults, then the file's keys (out-of-range values are ignored) ----
  const TokenId n_ids = static_cast<TokenId>(n);
  auto in_range = [&](TokenId id) { return id >= 0 && id < n_ids ? id : kNoToken; };
  special_.bos = in_range(11);
  special_.eos = in_range(11);
  auto apply = [&](TokenId& id, const std::optional<uint32_t>& key) {
    if (key && *key < static_cast<uint32_t>(n)) id = static_cast<TokenId>(*key);
  };
  apply(special_.bos, v.bos);
  apply(special_.eos, v.eos);
  apply(special_.eot, v.eot);
  apply(special_.eom, v.eom);
  apply(special_.unk, v.unk);
  apply(special_.sep, v.sep);
  apply(special_.pad, v.pad);
  apply(special_.mask, v.mask);
  apply(special_.fim_pre, v.fim_pre);
  apply(special_.fim_suf, v.fim_suf);
  apply(special_.fim_mid, v.fim_mid);
  apply(special_.fim_pad, v.fim_pad);
  apply(special_.fim_rep, v.fim_rep);
  apply(special_.fim_sep, v.fim_sep);
  if (v.add_bos) add_bos_ = *v.add_bos;
  if (v.add_eos) add_eos_ = *v.add_eos;

  // ---- ids llama.cpp finds by token text when the file has no key for them; the token becomes CONTROL.
  // llama.cpp walks an unordered_map, so with several candidates its pick depends on hashing; here the
  // lowest id wins. ----
  struct Detect {
    TokenId* id;
    std::initializer_list<const char*> texts;
  };
  const Detect detect[] = {
      {&special_.eot, {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<EOT>", "_<EOT>", "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>"}},
      {&special_.eom, {"<|eom_id|>"}},
      {&special_.fim_pre, {"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>", "<|code_prefix|>", "<|prefix|>"}},
      {&special_.fim_suf, {"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>", "<|code_suffix|>", "<|suffix|>"}},
      {&special_.fim_mid, {"<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>", "<|code_middle|>", "<|middle|>"}},
      {&special_.fim_pad, {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"}},
      {&special_.fim_rep, {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"}},
      {&special_.fim_sep, {"<|file_sep|>"}},
  };
  for (const Detect& d : detect) {
    if (*d.id != kNoToken) continue;
    for (size_t i = 0; i < n && *d.id == kNoToken; ++i) {
      if (one_of(texts_[i], d.texts)) {
        *d.id = static_cast<TokenId>(i);
        attrs_[i] |= kAttrControl;
      }
    }
  }
  // Control tokens named "unused…" are unused.
  for (size_t i = 0; i < n; ++i) {
    if ((attrs_[i] & kAttrControl) && texts_[i].find("unused") != std::string::npos) attrs_[i] |= kAttrUnused;
  }

  // ---- end-of-generation set ----
  std::vector<bool> eog(n, false);
  for (TokenId id : {special_.fim_pad, special_.fim_rep, special_.fim_sep})
    if (id != kNoToken) eog[id] = true;
  for (size_t i = 0; i < n; ++i) {
    if (one_of(texts_[i], {"<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
                           "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
                           "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
                           "<｜end▁of▁sentence｜>", "[e~["})) {
      eog[i] = true;
      attrs_[i] |= kAttrControl;
    }
  }
  for (size_t i = 0; i < n; ++i) {  // gpt-oss: always rendered
    if (one_of(texts_[i], {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"})) attrs_[i] = kAttrUserDefined;
  }
  for (TokenId id : {special_.eos, special_.eot, special_.eom})
    if (id != kNoToken) eog[id] = true;
  {
    // o200k_harmony / solar-open: "<|end|>" is not EOG when "<|return|>"+"<|call|>" or "<|calls|>"+"<|flush|>" are.
    bool has_return = false, has_call = false, has_flush = false;
    TokenId end_id = kNoToken;
    for (size_t i = 0; i < n; ++i) {
      if (!eog[i]) continue;
      const std::string& t = texts_[i];
      if (t == "<|return|>") has_return = true;
      else if (t == "<|call|>" || t == "<|calls|>") has_call = true;
      else if (t == "<|flush|>") has_flush = true;
      else if (t == "<|end|>") end_id = static_cast<TokenId>(i);
    }
    if (end_id != kNoToken && ((has_return && has_call) || (has_call && has_flush))) {
      eog[end_id] = false;
      attrs_[end_id] = kAttrUserDefined;
    }
    // gemma4 / paddleocr: "</s>" is not EOG when "<|tool_response>" is.
    bool has_tool_response = false;
    TokenId s_id = kNoToken;
    for (size_t i = 0; i < n; ++i) {
      if (!eog[i]) continue;
      if (texts_[i] == "<|tool_response>") has_tool_response = true;
      else if (texts_[i] == "</s>") s_id = static_cast<TokenId>(i);
    }
    if (has_tool_response && s_id != kNoToken) {
      eog[s_id] = false;
      attrs_[s_id] = kAttrNormal;
    }
  }
  for (size_t i = 0; i < n; ++i)
    if (eog[i]) eog_.push_back(static_cast<TokenId>(i));

  // ---- special tokens, longest first (ties by id: llama.cpp's std::sort leaves their order unspecified) ----
  for (size_t i = 0; i < n; ++i)
    if (attrs_[i] & (kAttrControl | kAttrUserDefined | kAttrUnknown)) im.specials.push_back(static_cast<TokenId>(i));
  std::stable_sort(im.specials.begin(), im.specials.end(),
                   [&](TokenId a, TokenId b) { return texts_[a].size() > texts_[b].size(); });
  for (TokenId id : im.specials) {
    const std::string& t = texts_[id];
    im.special_by_text.emplace(t, id);
    im.special_first_byte[static_cast<uint8_t>(t[0])] = true;
    if (std::find(im.special_lengths.begin(), im.special_lengths.end(), t.size()) == im.special_lengths.end())
      im.special_lengths.push_back(t.size());
  }
  std::sort(im.special_lengths.begin(), im.special_lengths.end());

  // ---- token -> bytes (llama_token_to_piece with special = true) ----
  pieces_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    uint32_t a = attrs_[i];
    if (a & (kAttrUnknown | kAttrControl | kAttrUserDefined)) {
      pieces_[i] = texts_[i];
    } else if (a & kAttrNormal) {
      pieces_[i] = decode_token_text(texts_[i]);
    } else if (a & kAttrByte) {  // "<0xXX>"
      if (texts_[i].size() >= 5) pieces_[i] = std::string(1, static_cast<char>(std::strtol(texts_[i].substr(3, 2).c_str(), nullptr, 16)));
    }
  }
}

const std::string& Tokenizer::text(TokenId id) const {
  if (!valid(id)) throw InputError("token id " + std::to_string(id) + " is out of range (vocabulary has " + std::to_string(size()) + " tokens)");
  return texts_[id];
}

uint32_t Tokenizer::attr(TokenId id) const { return valid(id) ? attrs_[id] : kAttrUndefined; }

TokenId Tokenizer::find(std::string_view t) const {
  auto it = impl_->token_ids.find(t);
  return it == impl_->token_ids.end() ? kNoToken : it->second;
}

bool Tokenizer::is_eog(TokenId id) const { return std::binary_search(eog_.begin(), eog_.end(), id); }

int Tokenizer::merge_rank(std::string_view left, std::string_view right) const {
  auto l = impl_->piece_ids.find(std::string(left)), r = impl_->piece_ids.find(std::string(right));
  if (l == impl_->piece_ids.end() || r == impl_->piece_ids.end()) return -1;
  const MergeTable::Entry* e = impl_->merges.find(l->second, r->second);
  return e ? e->rank : -1;
}

const std::string& Tokenizer::piece(TokenId id) const {
  if (!valid(id)) throw InputError("token id " + std::to_string(id) + " is out of range (vocabulary has " + std::to_string(size()) + " tokens)");
  return pieces_[id];
}

std::string_view Tokenizer::token_to_piece(TokenId id, bool special) const {
  const std::string& p = piece(id);
  if (!special && (attrs_[id] & (kAttrUnknown | kAttrControl))) return {};
  return p;
}

std::vector<TokenId> Tokenizer::encode(std::string_view text, EncodeOptions opts) const {
  std::vector<TokenId> out;
  encode(text, opts, out);
  return out;
}

void Tokenizer::encode(std::string_view text, EncodeOptions opts, std::vector<TokenId>& out) const {
  const Impl& im = *impl_;
  out.clear();
  out.reserve(text.size() / 3 + 4);
  if (opts.add_special && add_bos_) {
    if (special_.bos == kNoToken) throw InputError("the model asks for a BOS token (add_bos_token) but has none");
    out.push_back(special_.bos);
  }

  // ---- special tokens first (tokenizer_st_partition): each special token, longest first, cuts every
  // remaining text fragment at each of its occurrences. Only tokens that occur in the text can cut, so
  // find those first. ----
  struct Fragment {
    TokenId token;  // kNoToken: text [off, off + len)
    size_t off, len;
  };
  std::vector<Fragment> frags{{kNoToken, 0, text.size()}};
  if (!im.specials.empty() && !text.empty()) {
    std::vector<TokenId> found;
    for (size_t i = 0; i < text.size(); ++i) {
      if (!im.special_first_byte[static_cast<uint8_t>(text[i])]) continue;
      for (size_t len : im.special_lengths) {
        if (i + len > text.size()) break;
        auto it = im.special_by_text.find(text.substr(i, len));
        if (it == im.special_by_text.end()) continue;
        TokenId id = it->second;
        if (!opts.parse_special && (attrs_[id] & (kAttrControl | kAttrUnknown))) continue;
        if (std::find(found.begin(), found.end(), id) == found.end()) found.push_back(id);
      }
    }
    if (!found.empty()) {
      std::vector<Fragment> next;
      for (TokenId id : im.specials) {  // llama.cpp's order
        if (std::find(found.begin(), found.end(), id) == found.end()) continue;
        const std::string& st = texts_[id];
        next.clear();
        for (const Fragment& f : frags) {
          if (f.token != kNoToken) { next.push_back(f); continue; }
          size_t pos = f.off, end = f.off + f.len;
          while (pos < end) {
            size_t m = text.substr(0, end).find(st, pos);
            if (m == std::string_view::npos) break;
            if (m > pos) next.push_back({kNoToken, pos, m - pos});
            next.push_back({id, 0, 0});
            pos = m + st.size();
          }
          if (pos < end) next.push_back({kNoToken, pos, end - pos});
        }
        frags.swap(next);
      }
    }
  }

  Scratch s;
  for (const Fragment& f : frags) {
    if (f.token != kNoToken) out.push_back(f.token);
    else encode_text(text.substr(f.off, f.len), s, out);
  }
  if (opts.add_special && add_eos_) {
    if (special_.eos == kNoToken) throw InputError("the model asks for an EOS token (add_eos_token) but has none");
    out.push_back(special_.eos);
  }
}

void Tokenizer::encode_text(std::string_view text, Scratch& s, std::vector<TokenId>& out) const {
  const Impl& im = *impl_;
  decode_utf8_lenient(text, s.cps);
  s.flags.resize(s.cps.size());
  for (size_t i = 0; i < s.cps.size(); ++i) s.flags[i] = cp_flags(s.cps[i]);
  s.lengths.clear();
  split_words(split_, s.cps, s.flags, s.lengths);

  size_t start = 0;
  for (uint32_t len : s.lengths) {
    s.bytes.clear();
    for (size_t i = start; i < start + len; ++i) append_utf8(s.cps[i], s.bytes);
    start += len;
    if (ignore_merges_) {  // a word that is a whole token is taken as it is
      s.encoded.clear();
      for (unsigned char b : s.bytes) s.encoded.append(im.enc[b], im.enc_len[b]);
      auto it = im.token_ids.find(s.encoded);
      if (it != im.token_ids.end()) {
        out.push_back(it->second);
        continue;
      }
    }
    auto hit = s.word_cache.find(s.bytes);
    if (hit != s.word_cache.end()) {
      out.insert(out.end(), s.cached.begin() + hit->second.first, s.cached.begin() + hit->second.first + hit->second.second);
      continue;
    }
    size_t before = out.size();
    bpe_word(s, out);
    if (s.word_cache.size() < kWordCacheLimit) {
      s.word_cache.emplace(s.bytes, std::make_pair(static_cast<uint32_t>(s.cached.size()), static_cast<uint32_t>(out.size() - before)));
      s.cached.insert(s.cached.end(), out.begin() + before, out.end());
    }
  }
}

void Tokenizer::bpe_word(Scratch& s, std::vector<TokenId>& out) const {
  const Impl& im = *impl_;
  auto& sym = s.symbols;
  auto& heap = s.heap;
  const size_t n = s.bytes.size();
  sym.resize(n);
  for (size_t i = 0; i < n; ++i) {
    sym[i] = {im.byte_piece[static_cast<uint8_t>(s.bytes[i])], static_cast<int32_t>(i) - 1,
              i + 1 < n ? static_cast<int32_t>(i + 1) : -1, static_cast<uint32_t>(i), 1};
  }
  // Lowest rank first; among equal ranks the leftmost (llama.cpp's llm_bigram_bpe comparator).
  auto later = [](const Scratch::Bigram& a, const Scratch::Bigram& b) {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  };
  heap.clear();
  auto add = [&](int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    const MergeTable::Entry* e = im.merges.find(sym[l].piece, sym[r].piece);
    if (!e) return;
    heap.push_back({e->rank, l, r, e->result, sym[l].n, sym[r].n});
    std::push_heap(heap.begin(), heap.end(), later);
  };
  for (size_t i = 1; i < n; ++i) add(static_cast<int32_t>(i - 1), static_cast<int32_t>(i));
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), later);
    Scratch::Bigram b = heap.back();
    heap.pop_back();
    Scratch::Symbol& L = sym[b.left];
    Scratch::Symbol& R = sym[b.right];
    // Stale if either side changed since the pair was queued (llama.cpp compares the joined text; a
    // symbol only ever grows to the right, so equal lengths mean equal text).
    if (L.n != b.left_n || R.n != b.right_n || L.next != b.right) continue;
    L.n += R.n;
    L.piece = b.result;
    R.n = 0;
    L.next = R.next;
    if (R.next >= 0) sym[R.next].prev = b.left;
    add(L.prev, b.left);
    add(b.left, L.next);
  }
  for (int32_t i = n ? 0 : -1; i >= 0; i = sym[i].next) {
    const Scratch::Symbol& x = sym[i];
    TokenId t = x.piece >= 0 ? im.piece_token[x.piece] : kNoToken;
    if (t != kNoToken) {
      out.push_back(t);
      continue;
    }
    // Not a token (only in a vocabulary missing some merge result): llama.cpp then looks up each byte of
    // the symbol's encoded text as a one-byte token and drops the bytes that are none.
    for (uint32_t k = x.start; k < x.start + x.n; ++k) {
      uint8_t b = static_cast<uint8_t>(s.bytes[k]);
      for (uint8_t j = 0; j < im.enc_len[b]; ++j) {
        TokenId bt = im.single_byte_token[static_cast<uint8_t>(im.enc[b][j])];
        if (bt != kNoToken) out.push_back(bt);
      }
    }
  }
}

std::string Tokenizer::detokenize(const std::vector<TokenId>& ids, bool remove_special, bool unparse_special) const {
  size_t first = 0, last = ids.size();
  if (remove_special && add_bos_ && last > first && ids[first] == special_.bos) ++first;
  if (remove_special && add_eos_ && last > first && ids[last - 1] == special_.eos) --last;
  std::string text;
  for (size_t i = first; i < last; ++i) text += token_to_piece(ids[i], unparse_special);
  if (!clean_spaces_ || text.empty()) return text;

  // llama.cpp's clean_up_tokenization_spaces, three passes in place, kept byte for byte (including that
  // pass 2 overwrites the space it drops with a NUL that pass 2 then reads as "not a space").
  char* t = text.data();
  int total = static_cast<int>(text.size());
  {  // " ?", " !", " .", " ,": drop the space
    const int n = total;
    total = 1;
    for (int i = 1; i < n; ++i) {
      const char x = t[i];
      if (t[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) total--;
      t[total++] = x;
    }
  }
  {  // " ' ": drop both spaces
    const int n = total;
    total = 1;
    for (int i = 1; i < n; ++i) {
      const char x = t[i];
      if (x == '\'' && i + 1 < n && t[i - 1] == ' ' && t[i + 1] == ' ') {
        total--;
        t[++i] = '\0';
      }
      t[total++] = x;
    }
  }
  {  // " 's", " 'm", " 're", " 've": drop the space (" 't", " 'd", " 'll" keep it)
    const int n = total;
    total = 1;
    for (int i = 1; i < n; ++i) {
      const char x = t[i];
      if (t[i - 1] == ' ' && x == '\'' && i + 1 < n) {
        const char x1 = t[i + 1];
        if (x1 == 's' || x1 == 'm') {
          total--;
        } else if (i + 2 < n && ((x1 == 'r' && t[i + 2] == 'e') || (x1 == 'v' && t[i + 2] == 'e'))) {
          total--;
        }
      }
      t[total++] = x;
    }
  }
  text.resize(total);
  return text;
}

// ---- Detokenizer ----

std::string Detokenizer::push(TokenId id) { return push_bytes(tok_.token_to_piece(id, special_)); }

std::string Detokenizer::push_bytes(std::string_view bytes) {
  held_.append(bytes.data(), bytes.size());
  size_t keep = incomplete_utf8_tail(held_);
  std::string out = sanitize_utf8(std::string_view(held_).substr(0, held_.size() - keep));
  held_.erase(0, held_.size() - keep);
  return out;
}

std::string Detokenizer::flush() {
  std::string out = sanitize_utf8(held_);  // an unfinished sequence becomes one U+FFFD
  held_.clear();
  return out;
}

}  // namespace hybrid::tok
