// Fuzz target: a model file from anywhere, through everything that reads it before any weight is used —
// the GGUF reader (gguf::GgufFile::from_memory), the metadata getters, the architecture checks
// (model::load_architecture), the tokenizer built from the file (vocab_from_gguf + Tokenizer), the JSON the
// CLI and the addon write about it (chat template included), and one row of every tensor decoded.
// Any input must end in success or one hybrid::InputError; never a crash, a sanitizer report, a read
// outside the input or an allocation in proportion to a number the file claims.
//
// The bytes are copied to a 64-byte aligned buffer first: a mapped file starts page-aligned, and tensor
// data is aligned relative to the file's start.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "fuzz_common.h"
#include "formats/formats.h"
#include "gguf/gguf.h"
#include "model/arch.h"
#include "tokenizer/vocab_gguf.h"
#include "util/error.h"
#include "util/json.h"

namespace {

using hybrid::gguf::Value;
using hybrid::gguf::ValueType;

void walk_value(hybrid::JsonWriter& w, const Value& v, int depth) {
  (void)v.type_string();
  (void)v.as_i64();
  (void)v.as_u64();
  if (v.type == ValueType::String) {
    w.value(std::string(v.str));
  } else if (v.type == ValueType::Array) {
    w.begin_array();
    for (uint64_t k = 0; k < v.count && k < 64; ++k) {
      if (v.elem_type == ValueType::Array) {
        FUZZ_CHECK(k < v.arrays.size(), "nested array element %llu of %zu", (unsigned long long)k, v.arrays.size());
        walk_value(w, v.arrays[static_cast<size_t>(k)], depth + 1);
      } else {
        walk_value(w, v.item(k), depth + 1);
      }
    }
    w.end_array();
  } else if (v.is_float()) {
    w.value(v.f);
  } else if (auto i = v.as_i64()) {
    w.value(*i);
  } else {
    w.value(v.u);
  }
}

void read_model(const hybrid::gguf::GgufFile& f) {
  hybrid::JsonWriter w;
  w.begin_object();
  for (const auto& kv : f.metadata()) {
    w.key(std::string(kv.key));
    walk_value(w, kv.value, 0);
    // Every typed getter on every key: each converts or throws InputError.
    try { (void)f.opt_u32(kv.key); } catch (const hybrid::InputError&) {}
    try { (void)f.opt_i64(kv.key); } catch (const hybrid::InputError&) {}
    try { (void)f.opt_f32(kv.key); } catch (const hybrid::InputError&) {}
    try { (void)f.opt_bool(kv.key); } catch (const hybrid::InputError&) {}
    try { (void)f.opt_str(kv.key); } catch (const hybrid::InputError&) {}
    try { (void)f.get_int_array(kv.key); } catch (const hybrid::InputError&) {}
    try { (void)f.get_str_array(kv.key); } catch (const hybrid::InputError&) {}
  }
  w.end_object();

  // One row of each tensor decoded (the reader has checked that every tensor lies inside the file).
  std::vector<float> row;
  for (const auto& t : f.tensors()) {
    FUZZ_CHECK(t.data >= f.bytes() && t.data + t.nbytes <= f.bytes() + f.file_size(), "tensor %s outside the file", t.name.c_str());
    FUZZ_CHECK(f.find_tensor(t.name) == &t, "tensor index broken for %s", t.name.c_str());
    if (t.ne[0] > (1 << 16)) continue;
    FUZZ_CHECK(hybrid::formats::row_bytes(t.format, t.ne[0]) == t.row_bytes(), "row bytes of %s", t.name.c_str());
    row.resize(static_cast<size_t>(t.ne[0]));
    hybrid::formats::dequantize_row(t.format, t.row(0), row.data(), t.ne[0]);
  }

  // The checks the runtime makes before loading (what `hybrid info` prints).
  try {
    const hybrid::model::Model m = hybrid::model::load_architecture(f);
    const auto& hp = m.hp;
    (void)hp.pattern();
    FUZZ_CHECK(hp.kinds.size() == hp.n_layer, "%zu kinds for %u layers", hp.kinds.size(), hp.n_layer);
    if (hp.count(hybrid::model::LayerKind::Mamba2) > 0) {
      (void)hp.ssm_head_dim();
      (void)hp.ssm_conv_channels();
      (void)hp.ssm_in_rows();
    }
    for (uint32_t il = 0; il < hp.n_layer; ++il)
      for (size_t r = 0; r < hybrid::model::kRoleCount; ++r) (void)m.tensors.get(static_cast<hybrid::model::Role>(r), static_cast<int>(il));
    (void)m.tensors.output();
  } catch (const hybrid::InputError&) {
  }

  // The tokenizer the addon builds from the file, and a prompt through it.
  if (f.has("tokenizer.ggml.model")) {
    try {
      hybrid::tok::Tokenizer tok(hybrid::tok::vocab_from_gguf(f));
      hybrid::tok::EncodeOptions o;
      o.parse_special = true;
      std::vector<hybrid::tok::TokenId> ids;
      try {
        ids = tok.encode("<|im_start|>user\nHello, wörld\n<think>\n", o);
      } catch (const hybrid::InputError&) {
        o.add_special = false;
        ids = tok.encode("<|im_start|>user\nHello, wörld\n<think>\n", o);
      }
      for (auto id : ids) FUZZ_CHECK(tok.valid(id), "token id %d of %zu", id, tok.size());
      (void)tok.detokenize(ids, true, true);
      hybrid::JsonWriter j;
      j.begin_object();
      for (auto id : tok.eog_ids()) j.field("eog", tok.piece(id));
      if (tok.special().bos != hybrid::tok::kNoToken) j.field("bosText", tok.piece(tok.special().bos));
      j.end_object();
    } catch (const hybrid::InputError&) {
    }
  }
  // What the addon's model_info_json() writes about the file; a wrong type is an InputError (the addon's
  // load_model() checks these keys up front, so info() cannot throw later).
  try {
    hybrid::JsonWriter j;
    j.begin_object();
    if (auto name = f.opt_str("general.name")) j.field("name", std::string(*name));
    if (auto tpl = f.opt_str("tokenizer.chat_template")) j.field("chatTemplate", std::string(*tpl));
    j.end_object();
  } catch (const hybrid::InputError&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // An aligned copy of exactly `size` bytes: ASan still sees a read one byte past the end.
  struct AlignedDelete {
    void operator()(uint8_t* p) const { ::operator delete[](p, std::align_val_t{64}); }
  };
  std::unique_ptr<uint8_t[], AlignedDelete> buf(new (std::align_val_t{64}) uint8_t[size]);
  if (size) std::memcpy(buf.get(), data, size);
  std::unique_ptr<hybrid::gguf::GgufFile> f;
  try {
    f = hybrid::gguf::GgufFile::from_memory("fuzz.gguf", buf.get(), size);
  } catch (const hybrid::InputError& e) {
    FUZZ_CHECK(std::strncmp(e.what(), "fuzz.gguf: ", 11) == 0, "error does not name the file: %s", e.what());
    return 0;
  }
  read_model(*f);
  return 0;
}
