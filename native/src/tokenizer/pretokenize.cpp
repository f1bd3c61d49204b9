// The splitters below are written from the behaviour of llama.cpp v0.5.0's src/unicode.cpp: the hand-coded
// GPT-2 and Llama-3 matchers (unicode_regex_split_custom_gpt2 / _llama3) and, for patterns it has no
// hand-coded matcher for, std::regex over "collapsed" text (unicode_regex_split + unicode_regex_split_stl),
// where every non-ASCII code point is replaced by one byte standing for its category. The Tekken and default
// patterns take that second path upstream; here they are matched by hand with the same result (see the
// comments on each), which tests/test_tokenizer.cpp checks against std::regex on random text.
#include "tokenizer/pretokenize.h"

#include "tokenizer/unicode.h"

namespace hybrid::tok {

namespace {

constexpr uint32_t kOutOfRange = 0xFFFFFFFF;

bool is_crlf(uint32_t c) { return c == '\r' || c == '\n'; }

// ---- GPT-2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ ----
// A segment is [begin, end) of the fragment; nothing outside it is seen (lookahead stops at its end).
void split_gpt2(const uint32_t* cp, const uint16_t* fl, size_t begin, size_t end, std::vector<uint32_t>& out) {
  auto F = [&](size_t p) -> uint16_t { return p < end ? fl[p] : 0; };
  auto C = [&](size_t p) -> uint32_t { return p < end ? cp[p] : kOutOfRange; };
  auto other = [](uint16_t f) { return !(f & (kCpWhitespace | kCpLetter | kCpNumber)) && f != 0; };
  size_t pos = begin;
  auto emit = [&](size_t to) {
    if (to > pos) out.push_back(static_cast<uint32_t>(to - pos));
    pos = to;
  };
  while (pos < end) {
    const uint32_t c = cp[pos];
    if (c == '\'' && pos + 1 < end) {  // contractions, lower case only
      uint32_t c1 = cp[pos + 1];
      if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') { emit(pos + 2); continue; }
      if (pos + 2 < end) {
        uint32_t c2 = cp[pos + 2];
        if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) { emit(pos + 3); continue; }
      }
    }
    // " ?X+" for letters, numbers, then anything else that is not whitespace: an optional leading space
    // joins the run only when the run's own class follows it.
    size_t p = pos;
    uint16_t f = c == ' ' ? F(pos + 1) : fl[pos];
    if (f & kCpLetter) {
      p += c == ' ';
      while (F(p) & kCpLetter) ++p;
      emit(p);
      continue;
    }
    if (f & kCpNumber) {
      p += c == ' ';
      while (F(p) & kCpNumber) ++p;
      emit(p);
      continue;
    }
    if (other(f)) {
      p += c == ' ';
      while (other(F(p))) ++p;
      emit(p);
      continue;
    }
    size_t ws = 0;
    while (F(pos + ws) & kCpWhitespace) ++ws;
    if (ws > 1 && C(pos + ws) != kOutOfRange) { emit(pos + ws - 1); continue; }  // \s+(?!\S): leave one
    if (ws > 0) { emit(pos + ws); continue; }
    emit(pos + 1);
  }
}

// ---- Llama-3 (dbrx, pixtral, llama-bpe, …) ----
// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
// Two details of llama.cpp's hand-coded version are kept on purpose: the symbol branch tests the *current*
// character's flags for "is something" and the lookahead character's for the class, and "\s*[\r\n]+" takes
// the whitespace run up to its last CR/LF.
void split_llama3(const uint32_t* cp, const uint16_t* fl, size_t begin, size_t end, std::vector<uint32_t>& out) {
  auto F = [&](size_t p) -> uint16_t { return p < end ? fl[p] : 0; };
  auto C = [&](size_t p) -> uint32_t { return p < end ? cp[p] : kOutOfRange; };
  auto lower = [](uint32_t c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; };  // only ASCII lowers to s/t/m/d/r/e/v/l
  size_t pos = begin;
  auto emit = [&](size_t to) {
    if (to > pos) out.push_back(static_cast<uint32_t>(to - pos));
    pos = to;
  };
  while (pos < end) {
    const uint32_t c = cp[pos];
    const uint16_t f = fl[pos];
    if (c == '\'' && pos + 1 < end) {
      uint32_t c1 = lower(cp[pos + 1]);
      if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') { emit(pos + 2); continue; }
      if (pos + 2 < end) {
        uint32_t c2 = lower(cp[pos + 2]);
        if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) { emit(pos + 3); continue; }
      }
    }
    // [^\r\n\p{L}\p{N}]?\p{L}+ : any one non-letter, non-number, non-CR/LF character may lead a letter run.
    if (!(is_crlf(c) || (f & kCpNumber)) && ((f & kCpLetter) || (F(pos + 1) & kCpLetter))) {
      size_t p = pos + 1;
      while (F(p) & kCpLetter) ++p;
      emit(p);
      continue;
    }
    if (f & kCpNumber) {  // \p{N}{1,3}: a digit run in threes
      size_t p = pos;
      while (F(p) & kCpNumber) {
        ++p;
        if (p - pos == 3) emit(p);
      }
      emit(p);
      continue;
    }
    {  // " ?[^\s\p{L}\p{N}]+[\r\n]*"
      uint16_t f2 = c == ' ' ? F(pos + 1) : f;
      if (!(f2 & (kCpWhitespace | kCpLetter | kCpNumber)) && f != 0) {
        size_t p = pos + (c == ' ');
        while (!(f2 & (kCpWhitespace | kCpLetter | kCpNumber)) && f2 != 0) f2 = F(++p);
        while (is_crlf(C(p))) ++p;
        emit(p);
        continue;
      }
    }
    size_t ws = 0, last_crlf_end = 0;
    while (F(pos + ws) & kCpWhitespace) {
      if (is_crlf(cp[pos + ws])) last_crlf_end = pos + ws + 1;
      ++ws;
    }
    if (last_crlf_end > 0) { emit(last_crlf_end); continue; }                    // \s*[\r\n]+
    if (ws > 1 && C(pos + ws) != kOutOfRange) { emit(pos + ws - 1); continue; }  // \s+(?!\S)
    if (ws > 0) { emit(pos + ws); continue; }                                    // \s+
    emit(pos + 1);
  }
}

// ---- collapsed text (the std::regex path of llama.cpp) ----
// ASCII stays itself; other whitespace becomes \v; other code points become one byte per category.
uint8_t collapse(uint32_t cp, uint16_t f) {
  if (cp < 0x80) return static_cast<uint8_t>(cp);
  if (f & kCpWhitespace) return 0x0B;
  switch (f & kCpCategoryMask) {
    case kCpNumber: return 0xD1;
    case kCpLetter: return 0xD2;
    case kCpPunctuation: return 0xD3;
    case kCpMark: return 0xD4;
    case kCpSymbol: return 0xD5;
    default: return 0xD0;
  }
}

// Character classes of collapsed bytes as std::regex sees them ("C" locale; \s = \t\n\v\f\r and space).
bool c_upper(uint8_t x) { return x >= 'A' && x <= 'Z'; }
bool c_lower(uint8_t x) { return x >= 'a' && x <= 'z'; }
bool c_letter(uint8_t x) { return c_upper(x) || c_lower(x) || x == 0xD2; }
bool c_number(uint8_t x) { return (x >= '0' && x <= '9') || x == 0xD1; }
bool c_space(uint8_t x) { return x == ' ' || (x >= '\t' && x <= '\r'); }
bool c_other(uint8_t x) { return !c_space(x) && !c_letter(x) && !c_number(x); }  // [^\s\p{L}\p{N}]

// Tekken, as llama.cpp rewrites it (src/llama-vocab.cpp):
//   [^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+      (A1: "upper"* "lower"+)
//  |[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*      (A2: "upper"+ "lower"*)
//  |\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
// "Upper" is a letter that is not a-z (A-Z or any non-ASCII letter), "lower" a letter that is not A-Z, so a
// non-ASCII letter is both. ECMAScript alternation takes the first alternative that matches (with
// backtracking inside it), which gives, for a letter run starting at i:
//   - take the maximal run of "upper" letters [i, k);
//   - if an ASCII a-z follows, A1 matches up to the end of the "lower" run from k;
//   - else if the upper run holds a non-ASCII letter, A1 backtracks to the last one and ends after it
//     (so "ÉCOLE" splits as "É" + "COLE", unlike Hugging Face);
//   - else A2 matches the upper run.
size_t tekken_match(const uint8_t* x, size_t s, size_t n) {
  size_t i = n;
  if (c_letter(x[s])) i = s;
  else if (!(x[s] == '\r' || x[s] == '\n') && !c_number(x[s]) && s + 1 < n && c_letter(x[s + 1])) i = s + 1;
  if (i < n) {
    size_t k = i, last_both = n;
    while (k < n && (c_upper(x[k]) || x[k] == 0xD2)) {
      if (x[k] == 0xD2) last_both = k;
      ++k;
    }
    if (k < n && c_lower(x[k])) {
      while (k < n && (c_lower(x[k]) || x[k] == 0xD2)) ++k;
      return k;
    }
    if (last_both < n) return last_both + 1;
    if (k > i) return k;
  }
  if (c_number(x[s])) return s + 1;  // \p{N}: one digit at a time
  {
    size_t j = (x[s] == ' ' && s + 1 < n && c_other(x[s + 1])) ? s + 1 : s;
    if (c_other(x[j])) {
      size_t e = j;
      while (e < n && c_other(x[e])) ++e;
      while (e < n && (x[e] == '\r' || x[e] == '\n' || x[e] == '/')) ++e;
      return e;
    }
  }
  if (c_space(x[s])) {
    size_t e = s, last_crlf = n;
    while (e < n && c_space(x[e])) {
      if (x[e] == '\r' || x[e] == '\n') last_crlf = e;
      ++e;
    }
    if (last_crlf < n) return last_crlf + 1;  // \s*[\r\n]+
    if (e < n && e - s >= 2) return e - 1;    // \s+(?!\S) backs off one before a non-space
    return e;                                 // at the end, or \s+
  }
  return s + 1;  // unreachable: every byte is a letter, number, space or "other"
}

void split_tekken(const std::vector<uint8_t>& x, std::vector<uint32_t>& out) {
  size_t n = x.size(), s = 0;
  while (s < n) {
    size_t e = tekken_match(x.data(), s, n);
    out.push_back(static_cast<uint32_t>(e - s));
    s = e;
  }
}

// ---- default (no `pre`): four patterns, each splitting the pieces the previous one left ----
// 1. [\p{P}\$\+<=>\^~\|]+   (collapsed: non-ASCII punctuation, ASCII punctuation and $+<=>^~|; not `)
// 2. the GPT-2 pattern
// 3. \p{N}+                 (collapsed)
// 4. [0-9][0-9][0-9]        (std::wregex on code points)
// A std::regex split keeps the text between matches as one piece, so 1 and 3 cut each piece into
// alternating runs of "in the class" and "not in the class", and 4 cuts out each leftmost run of three
// ASCII digits.
bool default_punct(uint8_t x) {
  if (x == 0xD3) return true;
  if (x >= 0x80 || x == '`') return false;
  return (x >= 0x21 && x <= 0x2F) || (x >= 0x3A && x <= 0x40) || (x >= 0x5B && x <= 0x60) || (x >= 0x7B && x <= 0x7E);
}

template <typename Pred>
void split_runs(const std::vector<uint32_t>& in, Pred in_class, std::vector<uint32_t>& out) {
  size_t start = 0;
  for (uint32_t len : in) {
    size_t end = start + len, p = start;
    while (p < end) {
      bool c = in_class(p);
      size_t q = p + 1;
      while (q < end && in_class(q) == c) ++q;
      out.push_back(static_cast<uint32_t>(q - p));
      p = q;
    }
    start = end;
  }
}

void split_default(const std::vector<uint32_t>& cps, const std::vector<uint16_t>& flags, std::vector<uint32_t>& out) {
  const size_t n = cps.size();
  std::vector<uint8_t> x(n);
  for (size_t i = 0; i < n; ++i) x[i] = collapse(cps[i], flags[i]);
  std::vector<uint32_t> a{static_cast<uint32_t>(n)}, b;
  split_runs(a, [&](size_t p) { return default_punct(x[p]); }, b);
  a.clear();
  size_t start = 0;
  for (uint32_t len : b) {
    split_gpt2(cps.data(), flags.data(), start, start + len, a);
    start += len;
  }
  b.clear();
  split_runs(a, [&](size_t p) { return c_number(x[p]); }, b);
  start = 0;
  auto digit = [&](size_t p) { return cps[p] >= '0' && cps[p] <= '9'; };
  for (uint32_t len : b) {
    size_t end = start + len, gap = start, p = start;
    while (p + 3 <= end) {
      if (digit(p) && digit(p + 1) && digit(p + 2)) {
        if (p > gap) out.push_back(static_cast<uint32_t>(p - gap));
        out.push_back(3);
        p += 3;
        gap = p;
      } else {
        ++p;
      }
    }
    if (end > gap) out.push_back(static_cast<uint32_t>(end - gap));
    start = end;
  }
}

}  // namespace

const char* split_kind_name(SplitKind k) {
  switch (k) {
    case SplitKind::kDefault: return "default";
    case SplitKind::kGpt2: return "gpt2";
    case SplitKind::kLlama3: return "llama3";
    case SplitKind::kTekken: return "tekken";
  }
  return "?";
}

void split_words(SplitKind kind, const std::vector<uint32_t>& cps, const std::vector<uint16_t>& flags,
                 std::vector<uint32_t>& lengths) {
  if (cps.empty()) return;
  switch (kind) {
    case SplitKind::kGpt2: split_gpt2(cps.data(), flags.data(), 0, cps.size(), lengths); break;
    case SplitKind::kLlama3: split_llama3(cps.data(), flags.data(), 0, cps.size(), lengths); break;
    case SplitKind::kTekken: {
      std::vector<uint8_t> x(cps.size());
      for (size_t i = 0; i < cps.size(); ++i) x[i] = collapse(cps[i], flags[i]);
      split_tekken(x, lengths);
      break;
    }
    case SplitKind::kDefault: split_default(cps, flags, lengths); break;
  }
}

// Exposed for the unit test that checks the hand-coded Tekken matcher against std::regex.
std::vector<uint32_t> tekken_split_collapsed_for_test(const std::vector<uint8_t>& collapsed) {
  std::vector<uint32_t> out;
  split_tekken(collapsed, out);
  return out;
}

}  // namespace hybrid::tok
