#include "tokenizer/vocab_gguf.h"

namespace hybrid::tok {

Vocab vocab_from_gguf(const gguf::GgufFile& f) {
  Vocab v;
  if (!f.has("tokenizer.ggml.model")) f.fail("no tokenizer in this file (tokenizer.ggml.model is missing)");
  v.model = std::string(f.get_str("tokenizer.ggml.model"));
  if (auto pre = f.opt_str("tokenizer.ggml.pre")) v.pre = std::string(*pre);

  for (std::string_view t : f.get_str_array("tokenizer.ggml.tokens")) v.tokens.emplace_back(t);
  if (f.has("tokenizer.ggml.token_type")) {
    for (int64_t t : f.get_int_array("tokenizer.ggml.token_type")) v.token_types.push_back(static_cast<int32_t>(t));
    if (v.token_types.size() < v.tokens.size()) {
      f.fail("tokenizer.ggml.token_type has " + std::to_string(v.token_types.size()) + " entries for " +
             std::to_string(v.tokens.size()) + " tokens");
    }
  }
  if (v.model == "gpt2") {
    if (!f.has("tokenizer.ggml.merges")) f.fail("BPE tokenizer without tokenizer.ggml.merges");
    for (std::string_view m : f.get_str_array("tokenizer.ggml.merges")) v.merges.emplace_back(m);
  }

  struct Key {
    const char* name;
    std::optional<uint32_t> Vocab::*field;
  };
  static const Key kIds[] = {
      {"tokenizer.ggml.bos_token_id", &Vocab::bos},
      {"tokenizer.ggml.eos_token_id", &Vocab::eos},
      {"tokenizer.ggml.eot_token_id", &Vocab::eot},
      {"tokenizer.ggml.eom_token_id", &Vocab::eom},
      {"tokenizer.ggml.unknown_token_id", &Vocab::unk},
      {"tokenizer.ggml.seperator_token_id", &Vocab::sep},  // sic: llama.cpp's key name
      {"tokenizer.ggml.padding_token_id", &Vocab::pad},
      {"tokenizer.ggml.mask_token_id", &Vocab::mask},
      {"tokenizer.ggml.fim_pre_token_id", &Vocab::fim_pre},
      {"tokenizer.ggml.fim_suf_token_id", &Vocab::fim_suf},
      {"tokenizer.ggml.fim_mid_token_id", &Vocab::fim_mid},
      {"tokenizer.ggml.fim_pad_token_id", &Vocab::fim_pad},
      {"tokenizer.ggml.fim_rep_token_id", &Vocab::fim_rep},
      {"tokenizer.ggml.fim_sep_token_id", &Vocab::fim_sep},
      // older names, read after the new ones as llama.cpp does (so they win when both are present)
      {"tokenizer.ggml.prefix_token_id", &Vocab::fim_pre},
      {"tokenizer.ggml.suffix_token_id", &Vocab::fim_suf},
      {"tokenizer.ggml.middle_token_id", &Vocab::fim_mid},
  };
  for (const Key& k : kIds) {
    if (auto id = f.opt_u32(k.name)) v.*k.field = *id;
  }
  v.add_bos = f.opt_bool("tokenizer.ggml.add_bos_token");
  v.add_eos = f.opt_bool("tokenizer.ggml.add_eos_token");
  v.add_sep = f.opt_bool("tokenizer.ggml.add_sep_token");
  return v;
}

}  // namespace hybrid::tok
