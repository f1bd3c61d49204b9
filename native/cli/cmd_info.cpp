// `hybrid info MODEL`: what a model file holds (architecture, layers, formats, tokenizer facts), after
// the same validation the runtime does before loading. `hybrid dump-tensor` (debug): a tensor decoded
// to f32, and its rows' dot products with a given vector, for the format tests (test/unit/formats.test.ts).
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "formats/formats.h"
#include "gguf/gguf.h"
#include "model/arch.h"
#include "util/error.h"
#include "util/json.h"

namespace {

using hybrid::JsonWriter;
using hybrid::cli::Args;
using hybrid::cli::UsageError;
using hybrid::gguf::GgufFile;
using hybrid::gguf::Value;
using hybrid::gguf::ValueType;
namespace fmt = hybrid::formats;
namespace model = hybrid::model;

std::string human_bytes(uint64_t b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1024 && u < 4) { v /= 1024; ++u; }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

std::string human_count(uint64_t n) {
  char buf[32];
  if (n >= 1000000000ull) std::snprintf(buf, sizeof buf, "%.2fB", n / 1e9);
  else if (n >= 1000000ull) std::snprintf(buf, sizeof buf, "%.2fM", n / 1e6);
  else if (n >= 1000ull) std::snprintf(buf, sizeof buf, "%.1fK", n / 1e3);
  else std::snprintf(buf, sizeof buf, "%" PRIu64, n);
  return buf;
}

// Special-token ids of the tokenizer metadata (llama-arch.cpp LLM_KV_TOKENIZER_*), in display order.
const std::pair<const char*, const char*> kSpecialTokens[] = {
    {"bos", "tokenizer.ggml.bos_token_id"},        {"eos", "tokenizer.ggml.eos_token_id"},
    {"eot", "tokenizer.ggml.eot_token_id"},        {"eom", "tokenizer.ggml.eom_token_id"},
    {"unk", "tokenizer.ggml.unknown_token_id"},    {"pad", "tokenizer.ggml.padding_token_id"},
    {"fimPre", "tokenizer.ggml.fim_pre_token_id"}, {"fimSuf", "tokenizer.ggml.fim_suf_token_id"},
    {"fimMid", "tokenizer.ggml.fim_mid_token_id"}, {"fimPad", "tokenizer.ggml.fim_pad_token_id"},
    {"fimRep", "tokenizer.ggml.fim_rep_token_id"}, {"fimSep", "tokenizer.ggml.fim_sep_token_id"},
};

// JSON numbers are doubles in JavaScript: 64-bit integers beyond 2^53 are written as strings.
void json_int(JsonWriter& w, const Value& v) {
  constexpr uint64_t kSafe = 1ull << 53;
  if (auto u = v.as_u64()) {
    if (*u <= kSafe) w.value(*u); else w.value(std::to_string(*u));
  } else {
    if (v.i >= -static_cast<int64_t>(kSafe)) w.value(v.i); else w.value(std::to_string(v.i));
  }
}

void json_value(JsonWriter& w, const Value& v, uint64_t max_items) {
  switch (v.type) {
    case ValueType::String: w.value(std::string(v.str)); return;
    case ValueType::Bool: w.value(v.u != 0); return;
    case ValueType::F32: case ValueType::F64: w.value(v.f); return;
    case ValueType::Array: {
      w.begin_array();
      for (uint64_t k = 0; k < v.count && k < max_items; ++k) {
        if (v.elem_type == ValueType::Array) json_value(w, v.arrays[static_cast<size_t>(k)], max_items);
        else json_value(w, v.item(k), max_items);
      }
      w.end_array();
      return;
    }
    default: json_int(w, v); return;
  }
}

struct FormatStats {
  uint64_t count = 0, bytes = 0;
};

int cmd_info(const Args& args) {
  args.allow_only({"max-array"});
  if (args.positional.size() != 1) throw UsageError("usage: hybrid info MODEL [--json] [--metadata [--max-array N]]");
  const long long max_array = args.get_int("max-array", 16);
  if (max_array < 0) throw UsageError("--max-array must be >= 0");
  auto file = GgufFile::open(args.positional[0]);
  const GgufFile& f = *file;
  const model::Model m = model::load_architecture(f);
  const model::Hparams& hp = m.hp;

  uint64_t params = 0, tensor_bytes = 0;
  std::map<uint32_t, FormatStats> by_format;  // keyed by ggml type id: a stable order
  for (const auto& t : f.tensors()) {
    params += static_cast<uint64_t>(t.nelements);
    tensor_bytes += t.nbytes;
    FormatStats& s = by_format[static_cast<uint32_t>(t.format)];
    ++s.count;
    s.bytes += t.nbytes;
  }
  int first_attn = -1, first_mlp = -1;
  for (uint32_t il = 0; il < hp.n_layer; ++il) {
    if (hp.kinds[il] == model::LayerKind::Attention && first_attn < 0) first_attn = static_cast<int>(il);
    if (hp.kinds[il] == model::LayerKind::Mlp && first_mlp < 0) first_mlp = static_cast<int>(il);
  }
  const Value* tokens = f.opt_arr("tokenizer.ggml.tokens");
  auto token_text = [&](uint32_t id) -> const std::string_view* {
    if (!tokens || tokens->elem_type != ValueType::String || id >= tokens->strings.size()) return nullptr;
    return &tokens->strings[id];
  };
  const std::optional<std::string_view> chat_template = f.opt_str("tokenizer.chat_template");
  const std::optional<std::string_view> general_name = f.opt_str("general.name");
  const std::optional<uint32_t> file_type = f.opt_u32("general.file_type");
  const Value* merges = f.opt_arr("tokenizer.ggml.merges");
  const std::optional<std::string_view> tok_model = f.opt_str("tokenizer.ggml.model");
  const std::optional<std::string_view> tok_pre = f.opt_str("tokenizer.ggml.pre");
  const std::optional<bool> add_bos = f.opt_bool("tokenizer.ggml.add_bos_token");
  const std::optional<bool> add_eos = f.opt_bool("tokenizer.ggml.add_eos_token");
  std::vector<std::pair<const char*, uint32_t>> specials;
  for (const auto& [label, key] : kSpecialTokens)
    if (auto id = f.opt_u32(key)) specials.emplace_back(label, *id);

  if (args.flag("json")) {
    JsonWriter w;
    w.begin_object();
    w.field("file", args.positional[0]);
    w.field("fileSize", f.file_size());
    w.field("ggufVersion", f.version());
    w.field("alignment", f.alignment());
    w.field("dataOffset", f.data_offset());
    w.field("architecture", std::string(model::arch_name(hp.arch)));
    w.key("name");
    if (general_name) w.value(std::string(*general_name)); else w.null();
    w.key("fileType");
    if (file_type) w.value(*file_type); else w.null();
    w.field("parameterCount", params);
    w.field("tensorCount", static_cast<uint64_t>(f.tensors().size()));
    w.field("tensorBytes", tensor_bytes);
    w.field("contextLength", hp.n_ctx_train);
    w.field("embeddingLength", hp.n_embd);
    w.field("vocabSize", hp.n_vocab);
    w.field("blockCount", hp.n_layer);
    w.field("normEps", static_cast<double>(hp.norm_eps));
    w.field("tiedOutput", hp.tied_output);
    w.key("layers").begin_object();
    w.field("pattern", hp.pattern());
    w.field("mamba2", hp.count(model::LayerKind::Mamba2));
    w.field("attention", hp.count(model::LayerKind::Attention));
    w.field("mlp", hp.count(model::LayerKind::Mlp));
    w.key("list").begin_array();
    for (uint32_t il = 0; il < hp.n_layer; ++il) {
      w.begin_object().field("index", il).field("kind", std::string(model::layer_kind_name(hp.kinds[il])));
      if (hp.kinds[il] == model::LayerKind::Attention)
        w.field("headCount", hp.n_head[il]).field("headCountKv", hp.n_head_kv[il]);
      if (hp.kinds[il] == model::LayerKind::Mlp) w.field("feedForwardLength", hp.n_ff[il]);
      if (hp.ffn[il] != model::FfnKind::None) w.field("ffn", std::string(model::ffn_kind_name(hp.ffn[il])));
      w.end_object();
    }
    w.end_array().end_object();
    w.key("attention");
    if (first_attn >= 0) {
      w.begin_object()
          .field("headCount", hp.n_head[static_cast<size_t>(first_attn)])
          .field("headCountKv", hp.n_head_kv[static_cast<size_t>(first_attn)])
          .field("headDim", hp.head_dim)
          .end_object();
    } else {
      w.null();
    }
    w.key("feedForwardLength");
    if (first_mlp >= 0) w.value(hp.n_ff[static_cast<size_t>(first_mlp)]);
    else if (hp.count(model::FfnKind::None) < static_cast<int>(hp.n_layer)) w.value(hp.n_ff[0]);
    else w.null();
    // granitehybrid: the FFN after every mixer, experts, µP multipliers (0 = absent = off), RoPE.
    w.key("ffn");
    if (hp.count(model::FfnKind::None) < static_cast<int>(hp.n_layer)) {
      w.begin_object().field("kind", std::string(model::ffn_kind_name(hp.ffn[0]))).field("feedForwardLength", hp.n_ff[0]);
      w.end_object();
    } else {
      w.null();
    }
    w.key("experts");
    if (hp.n_expert > 0) {
      w.begin_object().field("count", hp.n_expert).field("used", hp.n_expert_used).field("feedForwardLength", hp.n_ff[0]);
      w.field("sharedFeedForwardLength", hp.n_ff_shexp).field("gating", std::string("softmax, top-k renormalized"));
      w.end_object();
    } else {
      w.null();
    }
    w.key("multipliers");
    if (hp.arch == model::Arch::GraniteHybrid) {
      w.begin_object();
      w.field("embedding", static_cast<double>(hp.embedding_scale)).field("residual", static_cast<double>(hp.residual_scale));
      w.field("attention", static_cast<double>(hp.attention_scale)).field("logitDivisor", static_cast<double>(hp.logit_scale));
      w.end_object();
    } else {
      w.null();
    }
    w.key("rope");
    if (hp.rope && hp.count(model::LayerKind::Attention) > 0) {
      w.begin_object().field("dimensions", hp.n_rot).field("freqBase", static_cast<double>(hp.rope_freq_base));
      w.field("freqScale", static_cast<double>(hp.rope_freq_scale)).end_object();
    } else {
      w.null();
    }
    w.key("ssm").begin_object();
    w.field("convKernel", hp.ssm_d_conv).field("innerSize", hp.ssm_d_inner).field("stateSize", hp.ssm_d_state);
    w.field("headCount", hp.ssm_n_head).field("headDim", hp.ssm_head_dim()).field("groupCount", hp.ssm_n_group);
    w.end_object();
    w.key("formats").begin_array();
    for (const auto& [type, s] : by_format)
      w.begin_object()
          .field("type", std::string(fmt::format_name(static_cast<fmt::Format>(type))))
          .field("count", s.count)
          .field("bytes", s.bytes)
          .end_object();
    w.end_array();
    w.key("tokenizer");
    if (tok_model || tokens) {
      w.begin_object();
      w.key("model");
      if (tok_model) w.value(std::string(*tok_model)); else w.null();
      w.key("pre");
      if (tok_pre) w.value(std::string(*tok_pre)); else w.null();
      w.field("tokenCount", tokens ? tokens->count : uint64_t{0});
      w.field("mergeCount", merges ? merges->count : uint64_t{0});
      w.key("addBos");
      if (add_bos) w.value(*add_bos); else w.null();
      w.key("addEos");
      if (add_eos) w.value(*add_eos); else w.null();
      w.end_object();
    } else {
      w.null();
    }
    w.key("specialTokens").begin_object();
    for (const auto& [label, id] : specials) {
      w.key(label).begin_object().field("id", id).key("text");
      if (const std::string_view* t = token_text(id)) w.value(std::string(*t)); else w.null();
      w.end_object();
    }
    w.end_object();
    w.key("chatTemplate").begin_object();
    w.field("present", chat_template.has_value());
    w.field("length", static_cast<uint64_t>(chat_template ? chat_template->size() : 0));
    w.end_object();
    if (args.flag("metadata")) {
      w.key("metadata").begin_array();
      for (const auto& kv : f.metadata()) {
        w.begin_object().field("key", std::string(kv.key)).field("type", kv.value.type_string());
        if (kv.value.type == ValueType::Array) w.field("count", kv.value.count);
        w.key("value");
        json_value(w, kv.value, static_cast<uint64_t>(max_array));
        w.end_object();
      }
      w.end_array();
    }
    w.end_object();
    std::printf("%s\n", w.str().c_str());
    return 0;
  }

  std::printf("%s: %s, %s parameters, GGUF v%u, %s\n", args.positional[0].c_str(), model::arch_name(hp.arch),
              human_count(params).c_str(), f.version(), human_bytes(f.file_size()).c_str());
  if (general_name) std::printf("name: %s\n", hybrid::gguf::printable(*general_name).c_str());
  std::printf("layers: %u (%d mamba2, %d attention, %d mlp): %s\n", hp.n_layer, hp.count(model::LayerKind::Mamba2),
              hp.count(model::LayerKind::Attention), hp.count(model::LayerKind::Mlp), hp.pattern().c_str());
  std::printf("embedding %u, context %u, vocab %u, %s output, norm eps %g\n", hp.n_embd, hp.n_ctx_train, hp.n_vocab,
              hp.tied_output ? "tied" : "separate", static_cast<double>(hp.norm_eps));
  std::printf("ssm: d_inner %u = %u heads x %u, d_state %u, %u groups, conv %u\n", hp.ssm_d_inner, hp.ssm_n_head,
              hp.ssm_head_dim(), hp.ssm_d_state, hp.ssm_n_group, hp.ssm_d_conv);
  if (first_attn >= 0)
    std::printf("attention: %u heads (%u kv) x %u\n", hp.n_head[static_cast<size_t>(first_attn)],
                hp.n_head_kv[static_cast<size_t>(first_attn)], hp.head_dim);
  if (first_mlp >= 0) std::printf("mlp: %u (relu^2)\n", hp.n_ff[static_cast<size_t>(first_mlp)]);
  if (hp.n_expert > 0) {
    std::printf("ffn: mixture of experts after every mixer: %u experts x %u, %u used per token (softmax, top-k renormalized)",
                hp.n_expert, hp.n_ff[0], hp.n_expert_used);
    if (hp.n_ff_shexp > 0) std::printf(", shared expert %u", hp.n_ff_shexp);
    std::printf("\n");
  } else if (hp.count(model::FfnKind::SwiGlu) > 0) {
    std::printf("ffn: SwiGLU %u after every mixer\n", hp.n_ff[0]);
  }
  if (hp.arch == model::Arch::GraniteHybrid) {
    auto mult = [](float v) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%g", static_cast<double>(v));
      return v == 0.0f ? std::string("off") : std::string(buf);
    };
    std::printf("multipliers: embedding %s, residual %s, attention %s, logits divided by %s\n", mult(hp.embedding_scale).c_str(),
                mult(hp.residual_scale).c_str(), mult(hp.attention_scale).c_str(), mult(hp.logit_scale).c_str());
    if (hp.rope && hp.count(model::LayerKind::Attention) > 0)
      std::printf("rope: %u dimensions, base %g, scale %g\n", hp.n_rot, static_cast<double>(hp.rope_freq_base),
                  static_cast<double>(hp.rope_freq_scale));
    else
      std::printf("rope: none (rope.scaling.finetuned = false)\n");
  }
  std::string formats;
  for (const auto& [type, s] : by_format)
    formats += (formats.empty() ? "" : ", ") + std::string(fmt::format_name(static_cast<fmt::Format>(type))) + " " +
               std::to_string(s.count) + " tensors " + human_bytes(s.bytes);
  std::printf("formats: %s\n", formats.c_str());
  if (tok_model || tokens)
    std::printf("tokenizer: %s/%s, %" PRIu64 " tokens, %" PRIu64 " merges\n",
                tok_model ? hybrid::gguf::printable(*tok_model).c_str() : "?",
                tok_pre ? hybrid::gguf::printable(*tok_pre).c_str() : "?", tokens ? tokens->count : uint64_t{0},
                merges ? merges->count : uint64_t{0});
  std::string sp;
  for (const auto& [label, id] : specials) {
    const std::string_view* t = token_text(id);
    sp += (sp.empty() ? "" : ", ") + std::string(label) + " " + std::to_string(id) +
          (t ? " '" + hybrid::gguf::printable(*t, 40) + "'" : std::string(" (no such token)"));
  }
  if (!sp.empty()) std::printf("special tokens: %s\n", sp.c_str());
  std::printf("chat template: %s\n", chat_template ? (std::to_string(chat_template->size()) + " bytes").c_str() : "none");
  return 0;
}

// --rows A:B (half-open), default all rows.
void parse_rows(const Args& args, int64_t rows, int64_t* a, int64_t* b) {
  *a = 0;
  *b = rows;
  if (!args.has("rows")) return;
  const std::string s = args.get("rows");
  const size_t colon = s.find(':');
  try {
    if (colon == std::string::npos) throw std::invalid_argument("no colon");
    size_t used = 0;
    if (colon > 0) { *a = std::stoll(s.substr(0, colon), &used); if (used != colon) throw std::invalid_argument("a"); }
    if (colon + 1 < s.size()) {
      const std::string bs = s.substr(colon + 1);
      *b = std::stoll(bs, &used);
      if (used != bs.size()) throw std::invalid_argument("b");
    }
  } catch (const std::exception&) {
    throw UsageError("--rows expects A:B (row indices, B exclusive), got '" + s + "'");
  }
  if (*a < 0 || *b > rows || *a > *b)
    throw UsageError("--rows " + s + " is out of range: the tensor has " + std::to_string(rows) + " rows");
}

int cmd_dump_tensor(const Args& args) {
  args.allow_only({"rows", "dot", "isa"});
  if (args.positional.size() != 2)
    throw UsageError("usage: hybrid dump-tensor MODEL NAME [--rows A:B] [--dot X.f32] [--isa scalar|avx2] [--no-values] [--json]");
  auto file = GgufFile::open(args.positional[0]);
  const hybrid::gguf::Tensor& t = file->get_tensor(args.positional[1]);
  int64_t r0, r1;
  parse_rows(args, t.rows(), &r0, &r1);
  fmt::Isa isa = fmt::best_isa();
  if (args.has("isa")) {
    const std::string s = args.get("isa");
    if (s == "scalar") isa = fmt::Isa::Scalar;
    else if (s == "avx2") isa = fmt::Isa::Avx2;
    else throw UsageError("--isa expects scalar or avx2, got '" + s + "'");
    if (!fmt::isa_available(isa)) throw UsageError("--isa " + s + " is not available on this CPU");
  }

  const int64_t n = t.ne[0];
  std::vector<float> values(static_cast<size_t>((r1 - r0) * n));
  for (int64_t r = r0; r < r1; ++r) fmt::dequantize_row(t.format, t.row(r), values.data() + (r - r0) * n, n);

  std::vector<float> dots, dots_q;
  if (args.has("dot")) {
    const std::string path = args.get("dot");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw hybrid::InputError("cannot open " + path);
    std::vector<char> raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (raw.size() != static_cast<size_t>(n) * 4)
      throw hybrid::InputError(path + ": " + std::to_string(raw.size()) + " bytes, expected " + std::to_string(n) +
                               " little-endian f32 values (" + std::to_string(n * 4) + " bytes)");
    std::vector<float> x(static_cast<size_t>(n));
    std::memcpy(x.data(), raw.data(), raw.size());
    std::vector<uint8_t> xq(fmt::activation_bytes(t.format, n));
    fmt::quantize_activations(t.format, x.data(), xq.data(), n);
    const fmt::VecDotFn vd = fmt::vec_dot_fn(t.format, isa);
    for (int64_t r = r0; r < r1; ++r) {
      dots.push_back(fmt::dot_f32(t.format, t.row(r), x.data(), n));
      dots_q.push_back(vd(t.row(r), xq.data(), n));
    }
  }

  if (args.flag("json")) {
    JsonWriter w;
    w.begin_object();
    w.field("name", t.name).field("type", std::string(fmt::format_name(t.format)));
    w.key("ne").begin_array();
    for (uint32_t d = 0; d < t.n_dims; ++d) w.value(t.ne[d]);
    w.end_array();
    w.field("rowStart", r0).field("rowEnd", r1).field("isa", std::string(fmt::isa_name(isa)));
    if (!args.flag("no-values")) {
      w.key("values").begin_array();
      for (float v : values) w.value(static_cast<double>(v));
      w.end_array();
    }
    if (args.has("dot")) {
      w.key("dot").begin_array();
      for (float v : dots) w.value(static_cast<double>(v));
      w.end_array();
      w.field("activationType", std::string(fmt::format_name(fmt::activation_format(t.format))));
      w.key("dotQ").begin_array();
      for (float v : dots_q) w.value(static_cast<double>(v));
      w.end_array();
    }
    w.end_object();
    std::printf("%s\n", w.str().c_str());
    return 0;
  }
  std::printf("%s %s %s rows %lld..%lld\n", t.name.c_str(), fmt::format_name(t.format), t.shape_string().c_str(),
              static_cast<long long>(r0), static_cast<long long>(r1));
  for (int64_t r = r0; r < r1; ++r) {
    std::string line;
    char buf[32];
    for (int64_t j = 0; j < (args.flag("no-values") ? 0 : n); ++j) {
      std::snprintf(buf, sizeof buf, "%s%.9g", j ? " " : "", static_cast<double>(values[static_cast<size_t>((r - r0) * n + j)]));
      line += buf;
    }
    if (!dots.empty()) {
      std::snprintf(buf, sizeof buf, " | dot %.9g", static_cast<double>(dots[static_cast<size_t>(r - r0)]));
      line += buf;
      std::snprintf(buf, sizeof buf, " dotQ %.9g", static_cast<double>(dots_q[static_cast<size_t>(r - r0)]));
      line += buf;
    }
    std::printf("%s\n", line.c_str());
  }
  return 0;
}

}  // namespace

HYBRID_CLI_COMMAND("info", "info MODEL [--json]",
                    "architecture, layers, formats and tokenizer facts of a model file (--metadata: all keys)",
                    {"json", "metadata"}, cmd_info);
HYBRID_CLI_COMMAND("dump-tensor", "dump-tensor MODEL NAME",
                    "(debug) a tensor decoded to f32 [--rows A:B] [--dot X.f32] [--isa scalar|avx2] [--no-values] [--json]",
                    {"json", "no-values"}, cmd_dump_tensor);
