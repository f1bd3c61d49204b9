#include "tokenizer/incremental.h"

#include <algorithm>
#include <stdexcept>

namespace hybrid::tok {

namespace {
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }
}  // namespace

DocumentTokens::DocumentTokens(const Tokenizer& tok, std::string text, bool add_bos)
    : tok_(tok), text_(std::move(text)), add_bos_(add_bos) {}

void DocumentTokens::update(std::string_view text) {
  const size_t n = std::min(text.size(), text_.size());
  size_t pre = 0;
  while (pre < n && text_[pre] == text[pre]) ++pre;
  size_t suf = 0;
  while (suf < n - pre && text_[text_.size() - 1 - suf] == text[text.size() - 1 - suf]) ++suf;
  if (pre == text_.size() && pre == text.size()) return;
  replace(pre, text_.size() - suf, text.substr(pre, text.size() - suf - pre));
}

void DocumentTokens::set_text(std::string text) {
  text_ = std::move(text);
  tokens_.clear();
  ends_.clear();
  valid_end_ = 0;
}

void DocumentTokens::replace(size_t start, size_t end, std::string_view with) {
  if (start > end || end > text_.size()) throw std::out_of_range("DocumentTokens::replace: range outside the text");
  text_.replace(start, end - start, with);
  // The cache stays valid up to a safe boundary at or before the edit. The character at the boundary
  // itself must be unchanged, hence start (not start + 1) as the limit.
  const size_t keep = std::min(valid_end_, safe_boundary_before(start));
  const size_t n = static_cast<size_t>(std::upper_bound(ends_.begin(), ends_.end(), keep) - ends_.begin());
  tokens_.resize(n);
  ends_.resize(n);
  valid_end_ = n == 0 ? 0 : ends_.back();
}

size_t DocumentTokens::safe_boundary_before(size_t limit) const {
  limit = std::min(limit, text_.size());
  // q in [1, limit): text[q-1] == '\n' and text[q] neither whitespace nor '/' (text[q] inside the prefix).
  for (size_t q = limit; q-- > 1;) {
    // '/' is excluded: Tekken's split lets a symbol run take trailing [\r\n/]* ("*/\n/" is one piece).
    if (text_[q - 1] == '\n' && !is_space(text_[q]) && text_[q] != '/') return q;
  }
  return 0;
}

std::vector<TokenId> DocumentTokens::prefix_tokens(size_t offset) {
  offset = std::min(offset, text_.size());
  const size_t b = safe_boundary_before(offset);
  last_tokenized_ = 0;
  const EncodeOptions no_bos{false, false};
  if (valid_end_ < b) {
    // Extend the cache from its end (a safe boundary) to b.
    std::vector<TokenId> more = tok_.encode(std::string_view(text_).substr(valid_end_, b - valid_end_), no_bos);
    size_t pos = valid_end_;
    std::vector<size_t> ends;
    ends.reserve(more.size());
    for (TokenId t : more) ends.push_back(pos += tok_.piece(t).size());
    last_tokenized_ += b - valid_end_;
    // Pieces add up to the source bytes unless the text holds invalid UTF-8 (replaced while decoding):
    // then token ends are unknown and this stretch is not cached.
    if (pos == b) {
      tokens_.insert(tokens_.end(), more.begin(), more.end());
      ends_.insert(ends_.end(), ends.begin(), ends.end());
      valid_end_ = b;
    }
  }
  // Cached tokens up to `from` (the cache may reach past b when the prefix ends before its end), then a
  // fresh tokenization of the rest of the prefix.
  const size_t from = std::min(b, valid_end_);
  const size_t n = static_cast<size_t>(std::upper_bound(ends_.begin(), ends_.end(), from) - ends_.begin());
  std::vector<TokenId> out;
  if (add_bos_ && tok_.add_bos() && tok_.special().bos != kNoToken) out.push_back(tok_.special().bos);
  out.insert(out.end(), tokens_.begin(), tokens_.begin() + n);
  const size_t start = n == 0 ? 0 : ends_[n - 1];
  std::vector<TokenId> tail = tok_.encode(std::string_view(text_).substr(start, offset - start), no_bos);
  out.insert(out.end(), tail.begin(), tail.end());
  last_tokenized_ += offset - start;
  return out;
}

}  // namespace hybrid::tok
