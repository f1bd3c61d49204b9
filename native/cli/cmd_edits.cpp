// `hybrid edit-tokens`: checks incremental tokenization (tokenizer/incremental.h) against full
// tokenization over random edits of a real file — the property test behind per-document state.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include "cli/commands.h"
#include "gguf/gguf.h"
#include "tokenizer/incremental.h"
#include "tokenizer/vocab_gguf.h"
#include "util/error.h"
#include "util/json.h"

namespace {

using hybrid::cli::Args;
using hybrid::cli::UsageError;

int cmd_edit_tokens(const Args& a) {
  a.allow_only({"file", "edits", "seed"});
  if (a.positional.size() != 1) throw UsageError("expected exactly one MODEL path");
  if (!a.has("file")) throw UsageError("--file F is required");
  auto file = hybrid::gguf::GgufFile::open(a.positional[0]);
  hybrid::tok::Tokenizer tok(hybrid::tok::vocab_from_gguf(*file));
  std::ifstream in(a.get("file"), std::ios::binary);
  if (!in) throw hybrid::InputError(a.get("file") + ": cannot read");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string original = ss.str();
  const int64_t n_edits = a.get_int("edits", 1000);
  std::mt19937_64 rng(static_cast<uint64_t>(a.get_int("seed", 1)));
  hybrid::tok::DocumentTokens doc(tok, original);
  static const char* snippets[] = {"x", " ", "\n", "\n\n", "  ", "\t", "foo", " bar", "(", ")", "{\n", "}\n", "//", "é",
                                   "0123", " = ", ";\n  ", "\n}", "'s", "<s>", "\r\n", "    return 1;\n", "∑", "🙂"};
  int64_t mismatches = 0, checks = 0;
  uint64_t tokenized = 0, total = 0;
  std::string first_error;
  for (int64_t e = 0; e < n_edits; ++e) {
    const std::string& text = doc.text();
    // Edits on UTF-8 character boundaries, as an editor makes them.
    auto char_start = [&](size_t p) {
      while (p > 0 && p < text.size() && (static_cast<unsigned char>(text[p]) & 0xC0) == 0x80) --p;
      return p;
    };
    size_t start = char_start(text.empty() ? 0 : rng() % (text.size() + 1));
    size_t end = char_start(std::min(text.size(), start + (rng() % 4 == 0 ? rng() % 40 : 0)));
    if (end < start) end = start;
    std::string with;
    const int parts = static_cast<int>(rng() % 3);
    for (int i = 0; i < parts; ++i) with += snippets[rng() % (sizeof(snippets) / sizeof(*snippets))];
    if (rng() % 50 == 0) doc.set_text(original);
    else doc.replace(start, end, with);
    // The prefix up to a cursor (often right after the edit, as when typing), and sometimes the whole text.
    const std::string& now = doc.text();
    size_t cursor = rng() % 3 == 0 ? now.size() : std::min(now.size(), start + with.size());
    cursor = char_start(cursor);
    auto inc = doc.prefix_tokens(cursor);
    tokenized += doc.last_tokenized_bytes();
    total += cursor;
    auto full = tok.encode(std::string_view(now).substr(0, cursor), {true, false});
    ++checks;
    if (inc != full) {
      ++mismatches;
      if (first_error.empty())
        first_error = "edit " + std::to_string(e) + ": prefix of " + std::to_string(cursor) + " bytes: " +
                      std::to_string(inc.size()) + " incremental vs " + std::to_string(full.size()) + " full tokens";
    }
  }
  hybrid::JsonWriter w;
  w.begin_object().field("file", a.get("file")).field("bytes", static_cast<uint64_t>(original.size()));
  w.field("edits", n_edits).field("checks", checks).field("mismatches", mismatches);
  w.field("tokenized_fraction", total ? static_cast<double>(tokenized) / total : 0.0);
  if (!first_error.empty()) w.field("first_error", first_error);
  w.end_object();
  std::printf("%s\n", w.str().c_str());
  return mismatches == 0 ? 0 : 1;
}

HYBRID_CLI_COMMAND("edit-tokens", "edit-tokens MODEL --file F [--edits 1000] [--seed S] --json",
                   "check incremental tokenization against full tokenization over random edits", {"json"},
                   cmd_edit_tokens);

}  // namespace
