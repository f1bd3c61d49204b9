// `hybrid tokenize`: encode text with a model's tokenizer, or decode token ids, as llama.cpp would.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab_gguf.h"
#include "util/error.h"
#include "util/json.h"

namespace {

using hybrid::cli::Args;
using hybrid::cli::UsageError;
using namespace hybrid::tok;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw hybrid::InputError(path + ": cannot open file");
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string to_hex(std::string_view s) {
  static const char* d = "0123456789abcdef";
  std::string out;
  out.reserve(s.size() * 2);
  for (unsigned char c : s) {
    out += d[c >> 4];
    out += d[c & 15];
  }
  return out;
}

std::string from_hex(const std::string& h, const std::string& where) {
  auto nib = [&](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    throw hybrid::InputError(where + ": not a hex string");
  };
  if (h.size() % 2) throw hybrid::InputError(where + ": odd number of hex digits");
  std::string out(h.size() / 2, '\0');
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<char>(nib(h[2 * i]) * 16 + nib(h[2 * i + 1]));
  return out;
}

std::vector<TokenId> parse_ids(const std::string& list, const Tokenizer& tok) {
  std::vector<TokenId> ids;
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t a = item.find_first_not_of(" \t"), b = item.find_last_not_of(" \t");
    if (a == std::string::npos) continue;
    item = item.substr(a, b - a + 1);
    size_t used = 0;
    long long v = -1;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != item.size()) throw UsageError("--detokenize expects comma-separated token ids, got '" + item + "'");
    if (v < 0 || v >= static_cast<long long>(tok.size())) {
      throw hybrid::InputError("token id " + item + " is out of range: the vocabulary has " + std::to_string(tok.size()) + " tokens");
    }
    ids.push_back(static_cast<TokenId>(v));
  }
  return ids;
}

// {"text": "…"} plus "bytes" (hex) when the text is not valid UTF-8; the text then has U+FFFD in place of
// each ill-formed part, as a JavaScript string of the same bytes would.
void write_text(hybrid::JsonWriter& w, const std::string& bytes) {
  std::string clean = sanitize_utf8(bytes);
  w.field("text", clean);
  if (clean != bytes) w.field("bytes", to_hex(bytes));
}

void write_tokens(hybrid::JsonWriter& w, const Tokenizer& tok, const std::vector<TokenId>& ids) {
  w.key("tokens").begin_array();
  for (TokenId id : ids) w.value(static_cast<int64_t>(id));
  w.end_array();
  w.key("pieces").begin_array();
  for (TokenId id : ids) w.value(sanitize_utf8(tok.piece(id)));
  w.end_array();
}

void write_id(hybrid::JsonWriter& w, const char* key, TokenId id) {
  w.key(key);
  if (id == kNoToken) w.null();
  else w.value(static_cast<int64_t>(id));
}

void write_info(hybrid::JsonWriter& w, const Tokenizer& tok, double load_ms) {
  const SpecialIds& s = tok.special();
  w.begin_object();
  w.field("pre", tok.pre()).field("split", split_kind_name(tok.split_kind()));
  w.field("n_tokens", static_cast<uint64_t>(tok.size())).field("n_merges", static_cast<uint64_t>(tok.merge_count()));
  w.field("add_bos", tok.add_bos()).field("add_eos", tok.add_eos());
  w.field("ignore_merges", tok.ignore_merges()).field("clean_spaces", tok.clean_spaces());
  write_id(w, "bos", s.bos);
  write_id(w, "eos", s.eos);
  write_id(w, "eot", s.eot);
  write_id(w, "eom", s.eom);
  write_id(w, "unk", s.unk);
  write_id(w, "sep", s.sep);
  write_id(w, "pad", s.pad);
  write_id(w, "fim_pre", s.fim_pre);
  write_id(w, "fim_suf", s.fim_suf);
  write_id(w, "fim_mid", s.fim_mid);
  write_id(w, "fim_pad", s.fim_pad);
  write_id(w, "fim_rep", s.fim_rep);
  write_id(w, "fim_sep", s.fim_sep);
  w.key("eog").begin_array();
  for (TokenId id : tok.eog_ids()) w.value(static_cast<int64_t>(id));
  w.end_array();
  w.field("load_ms", load_ms);
  w.end_object();
}

// A piece for a terminal: valid UTF-8 as it is, control characters and stray bytes escaped.
std::string display(std::string_view s) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = valid_utf8_len(s, i);
    if (n > 0 && c >= 0x20 && c != 0x7f && c != '\\') {
      out.append(s.data() + i, n);
      i += n;
      continue;
    }
    char buf[8];
    if (c == '\n') std::snprintf(buf, sizeof buf, "\\n");
    else if (c == '\r') std::snprintf(buf, sizeof buf, "\\r");
    else if (c == '\t') std::snprintf(buf, sizeof buf, "\\t");
    else if (c == '\\') std::snprintf(buf, sizeof buf, "\\\\");
    else std::snprintf(buf, sizeof buf, "\\x%02x", c);
    out += buf;
    i += 1;
  }
  return out;
}

void print_plain(const Tokenizer& tok, const std::vector<TokenId>& ids) {
  for (TokenId id : ids) std::printf("%d\t'%s'\n", id, display(tok.piece(id)).c_str());
}

int cmd_tokenize(const Args& args) {
  args.allow_only({"text", "file", "detokenize", "batch"});
  if (args.positional.size() != 1) throw UsageError("tokenize needs one MODEL.gguf (see hybrid --help)");
  int inputs = args.has("text") + args.has("file") + args.has("detokenize") + args.has("batch") + args.flag("info");
  if (inputs != 1) throw UsageError("tokenize needs exactly one of --text T, --file F, --detokenize IDS, --batch F, --info");
  const bool json = args.flag("json"), special = args.flag("special");

  auto t0 = std::chrono::steady_clock::now();
  auto file = hybrid::gguf::GgufFile::open(args.positional[0]);
  Tokenizer tok(vocab_from_gguf(*file));
  double load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  EncodeOptions opts{!args.flag("no-bos"), special};

  hybrid::JsonWriter w;
  if (args.flag("info")) {
    write_info(w, tok, load_ms);
    std::printf("%s\n", w.str().c_str());
    return 0;
  }
  if (args.has("detokenize")) {
    std::string bytes = tok.detokenize(parse_ids(args.get("detokenize"), tok), false, special);
    if (!json) {
      std::fwrite(bytes.data(), 1, bytes.size(), stdout);
      std::printf("\n");
      return 0;
    }
    w.begin_object();
    write_text(w, bytes);
    w.end_object();
    std::printf("%s\n", w.str().c_str());
    return 0;
  }
  if (args.has("batch")) {
    // One hex-encoded text per line; one result per line, in order: the tokens, and the text they decode to.
    std::string list = read_file(args.get("batch"));
    std::stringstream ss(list);
    std::string line;
    size_t lineno = 0;
    w.begin_array();
    while (std::getline(ss, line)) {
      ++lineno;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      std::string text = from_hex(line, args.get("batch") + ":" + std::to_string(lineno));
      std::vector<TokenId> ids = tok.encode(text, opts);
      w.begin_object();
      w.key("tokens").begin_array();
      for (TokenId id : ids) w.value(static_cast<int64_t>(id));
      w.end_array();
      w.key("detok").begin_object();
      write_text(w, tok.detokenize(ids, false, special));
      w.end_object();
      w.end_object();
    }
    w.end_array();
    std::printf("%s\n", w.str().c_str());
    return 0;
  }
  std::string text = args.has("text") ? args.get("text") : read_file(args.get("file"));
  auto t1 = std::chrono::steady_clock::now();
  std::vector<TokenId> ids = tok.encode(text, opts);
  double encode_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t1).count();
  if (!json) {
    print_plain(tok, ids);
    return 0;
  }
  w.begin_object();
  write_tokens(w, tok, ids);
  w.field("load_ms", load_ms).field("encode_ms", encode_ms);
  w.end_object();
  std::printf("%s\n", w.str().c_str());
  return 0;
}

HYBRID_CLI_COMMAND("tokenize", "tokenize MODEL --text T|--file F [--special] [--no-bos] [--json]",
                   "tokens of a text (--detokenize 1,2,3: the text of tokens; --info: special ids, EOG)",
                   {"json", "special", "no-bos", "info"}, cmd_tokenize);

}  // namespace
