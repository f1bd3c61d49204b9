// llama.cpp's own tokenizer on raw bytes, for text that is not valid UTF-8 (a JavaScript string cannot
// carry such bytes to node-llama-cpp). Built by llama-raw.ts against the headers and the prebuilt
// libllama that node-llama-cpp ships. Reads lines "p HEX" (parse_special off) or "s HEX" (on) and prints
// the token ids of each, comma-separated, one line per input line.
#include <cstdio>
#include <string>
#include <vector>

#include "llama.h"

static void quiet(ggml_log_level, const char*, void*) {}

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: llama-raw-tokenize MODEL.gguf < lines\n");
    return 2;
  }
  llama_log_set(quiet, nullptr);
  llama_backend_init();
  llama_model_params mp = llama_model_default_params();
  mp.vocab_only = true;
  llama_model* model = llama_model_load_from_file(argv[1], mp);
  if (!model) {
    std::fprintf(stderr, "cannot load %s\n", argv[1]);
    return 1;
  }
  const llama_vocab* vocab = llama_model_get_vocab(model);
  std::string line;
  int c;
  while ((c = std::getchar()) != EOF) {
    if (c != '\n') {
      line += static_cast<char>(c);
      continue;
    }
    bool special = !line.empty() && line[0] == 's';
    std::string bytes;
    for (size_t i = 2; i + 1 < line.size(); i += 2) bytes += static_cast<char>(std::stoi(line.substr(i, 2), nullptr, 16));
    std::vector<llama_token> out(bytes.size() + 8);
    int n = llama_tokenize(vocab, bytes.data(), static_cast<int32_t>(bytes.size()), out.data(), static_cast<int32_t>(out.size()), false, special);
    for (int i = 0; i < n; ++i) std::printf(i ? ",%d" : "%d", out[i]);
    std::printf("\n");
    std::fflush(stdout);
    line.clear();
  }
  llama_model_free(model);
  return 0;
}
