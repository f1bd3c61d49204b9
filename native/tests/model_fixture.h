// A tiny random-weight nemotron_h model written by the native tests themselves (no Node needed, so the
// same tests run on a GPU machine with only CMake). Shapes follow llama.cpp's tensor table; weights are
// scaled like test/fixtures/nemotron-h.ts so activations stay in a sane range.
#pragma once
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

#include "formats/formats.h"
#include "gguf/writer.h"

namespace fixture {

struct TinyModel {
  std::string pattern = "M-M*M-";
  uint32_t E = 64, H = 4, P = 16, N = 8, G = 2, K = 4, nh = 4, nkv = 2, hd = 16, ff = 128, V = 96;
  hybrid::formats::Format mm = hybrid::formats::Format::F32;
  uint32_t seed = 1;

  // Writes the model to a fresh temporary file and returns its path (removed by ~TempFile).
  std::string write(const std::string& tag) const {
    using hybrid::formats::Format;
    hybrid::gguf::Writer w;
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::uniform_real_distribution<float> uni(0.0f, 1.0f);
    const uint32_t L = static_cast<uint32_t>(pattern.size()), D = H * P, C = D + 2 * G * N;
    w.str("general.architecture", "nemotron_h").str("general.name", "native test fixture");
    w.u32("nemotron_h.context_length", 8192).u32("nemotron_h.embedding_length", E).u32("nemotron_h.block_count", L);
    std::vector<int32_t> ffs, kvs;
    for (char c : pattern) {
      ffs.push_back(c == '-' ? static_cast<int32_t>(ff) : 0);
      kvs.push_back(c == '*' ? static_cast<int32_t>(nkv) : 0);
    }
    w.arr_i32("nemotron_h.feed_forward_length", ffs).u32("nemotron_h.attention.head_count", nh);
    w.arr_i32("nemotron_h.attention.head_count_kv", kvs).u32("nemotron_h.attention.key_length", hd);
    w.u32("nemotron_h.attention.value_length", hd).f32("nemotron_h.attention.layer_norm_epsilon", 1e-5f);
    w.u32("nemotron_h.ssm.conv_kernel", K).u32("nemotron_h.ssm.inner_size", D).u32("nemotron_h.ssm.state_size", N);
    w.u32("nemotron_h.ssm.time_step_rank", H).u32("nemotron_h.ssm.group_count", G);
    auto values = [&](int64_t n, float scale, float offset = 0.0f) {
      std::vector<float> v(static_cast<size_t>(n));
      for (auto& x : v) x = offset + scale * normal(rng);
      return v;
    };
    auto mat = [&](const std::string& name, int64_t in, int64_t out) {
      w.tensor_f32(name, mm, {in, out}, values(in * out, 1.0f / std::sqrt(static_cast<float>(in))));
    };
    auto vec = [&](const std::string& name, std::vector<int64_t> ne, std::vector<float> v) {
      w.tensor_f32(name, Format::F32, ne, v);
    };
    w.tensor_f32("token_embd.weight", mm, {E, V}, values(int64_t(E) * V, 1.0f));
    for (uint32_t il = 0; il < L; ++il) {
      const std::string b = "blk." + std::to_string(il) + ".";
      vec(b + "attn_norm.weight", {E}, values(E, 0.1f, 1.0f));
      if (pattern[il] == 'M') {
        mat(b + "ssm_in.weight", E, 2 * D + 2 * G * N + H);
        vec(b + "ssm_conv1d.weight", {K, C}, values(int64_t(K) * C, 0.5f));
        vec(b + "ssm_conv1d.bias", {C}, values(C, 0.1f));
        std::vector<float> dtb(H), a(H), d(H);
        for (uint32_t h = 0; h < H; ++h) {
          // softplus(dt_bias) in [1e-3, 0.1]: dt_bias = log(exp(dt) - 1)
          const float dt = std::exp(std::log(1e-3f) + uni(rng) * (std::log(0.1f) - std::log(1e-3f)));
          dtb[h] = std::log(std::expm1(dt));
          a[h] = -(1.0f + 15.0f * uni(rng));  // A = -exp(A_log) in [-16, -1]
          d[h] = 1.0f + 0.1f * normal(rng);
        }
        vec(b + "ssm_dt.bias", {H}, dtb);
        vec(b + "ssm_a", {1, H}, a);
        vec(b + "ssm_d", {1, H}, d);
        vec(b + "ssm_norm.weight", {D / G, G}, values(D, 0.1f, 1.0f));
        mat(b + "ssm_out.weight", D, E);
      } else if (pattern[il] == '*') {
        mat(b + "attn_q.weight", E, nh * hd);
        mat(b + "attn_k.weight", E, nkv * hd);
        mat(b + "attn_v.weight", E, nkv * hd);
        mat(b + "attn_output.weight", nh * hd, E);
      } else {
        mat(b + "ffn_up.weight", E, ff);
        mat(b + "ffn_down.weight", ff, E);
      }
    }
    vec("output_norm.weight", {E}, values(E, 0.1f, 1.0f));
    mat("output.weight", E, V);
    char path[] = "/tmp/hybrid-test-XXXXXX";
    int fd = mkstemp(path);
    if (fd >= 0) close(fd);
    std::string p = std::string(path) + "-" + tag + ".gguf";
    std::rename(path, p.c_str());
    w.write_file(p);
    return p;
  }
};

// Removes a file when it goes out of scope.
struct TempFile {
  std::string path;
  explicit TempFile(std::string p) : path(std::move(p)) {}
  ~TempFile() { std::remove(path.c_str()); }
};

}  // namespace fixture
