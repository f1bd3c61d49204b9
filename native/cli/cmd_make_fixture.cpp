// `hybrid make-fixture`: a random-weight nemotron_h GGUF with given dimensions, for benchmarks on machines
// without Node (the GPU check) — nano9b has NVIDIA-Nemotron-Nano-9B-v2's real dimensions and all its layers
// (hybrid_override_pattern M-M-M-MM-M-M-M*-M-M-M*-M-M-M-M*-M-M-M-M*-M-MM-M-M-M-M-M-: 27 Mamba-2, 25 MLP, 4
// attention; hidden 4480, Mamba 128 heads x 80, state 128, 8 groups, conv 4; attention 40 heads / 8 KV x 128;
// MLP 15680; vocabulary 131072). Weights are scaled like tests/model_fixture.h (matrices ~ 1/sqrt(in), so
// activations stay sane), drawn from a fast per-row PRNG on every core and written straight to their place in
// the file (pwrite), so an 18 GB BF16 file takes seconds. The tokenizer is a minimal valid gpt2-style one
// (byte tokens + filler tokens, no merges) so the file loads everywhere.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "formats/formats.h"
#include "gguf/gguf.h"
#include "util/error.h"
#include "util/json.h"

namespace {

using hybrid::cli::Args;
using hybrid::cli::UsageError;
using hybrid::formats::Format;
using hybrid::gguf::ValueType;

struct Preset {
  std::string pattern;
  uint32_t E, H, P, N, G, K, nh, nkv, hd, ff, V;
};

Preset preset(const std::string& name) {
  if (name == "nano9b")
    return {"M-M-M-MM-M-M-M*-M-M-M*-M-M-M-M*-M-M-M-M*-M-MM-M-M-M-M-M-", 4480, 128, 80, 128, 8, 4, 40, 8, 128, 15680, 131072};
  if (name == "small") return {"M-M*M-M-M*M-", 1024, 16, 64, 64, 4, 4, 16, 4, 64, 4096, 32768};
  if (name == "tiny") return {"M-M*M-", 256, 8, 32, 16, 2, 4, 8, 2, 32, 256, 512};
  throw UsageError("--preset must be nano9b, small or tiny, got '" + name + "'");
}

// ---- GGUF encoding ----
struct Buf {
  std::vector<uint8_t> b;
  template <typename T>
  void put(T v) {
    const size_t n = b.size();
    b.resize(n + sizeof(T));
    std::memcpy(b.data() + n, &v, sizeof(T));
  }
  void str(const std::string& s) {
    put<uint64_t>(s.size());
    b.insert(b.end(), s.begin(), s.end());
  }
};

struct Meta {
  Buf buf;
  uint64_t count = 0;
  void key(const std::string& k, ValueType t) {
    buf.str(k);
    buf.put<uint32_t>(static_cast<uint32_t>(t));
    ++count;
  }
  void u32(const std::string& k, uint32_t v) { key(k, ValueType::U32); buf.put(v); }
  void f32(const std::string& k, float v) { key(k, ValueType::F32); buf.put(v); }
  void boolean(const std::string& k, bool v) { key(k, ValueType::Bool); buf.put<uint8_t>(v ? 1 : 0); }
  void str(const std::string& k, const std::string& v) { key(k, ValueType::String); buf.str(v); }
  void arr_i32(const std::string& k, const std::vector<int32_t>& v) {
    key(k, ValueType::Array);
    buf.put<uint32_t>(static_cast<uint32_t>(ValueType::I32));
    buf.put<uint64_t>(v.size());
    for (int32_t x : v) buf.put(x);
  }
  void arr_str(const std::string& k, const std::vector<std::string>& v) {
    key(k, ValueType::Array);
    buf.put<uint32_t>(static_cast<uint32_t>(ValueType::String));
    buf.put<uint64_t>(v.size());
    for (const auto& s : v) buf.str(s);
  }
};

// What a tensor holds: a matrix ~ N(0, 1/in) (uniform with that variance), or a vector `offset + scale * u`.
enum class Fill { Matrix, Vector, DtBias, A };
struct TensorSpec {
  std::string name;
  std::vector<int64_t> ne;
  Format format;
  Fill fill;
  float scale = 1.0f, offset = 0.0f;
  uint64_t offset_in_data = 0, nbytes = 0;
};

// A fast PRNG (splitmix64 seeding, xorshift-multiply stream): uniform floats in [-1, 1).
struct Rng {
  uint64_t s;
  static uint64_t mix(uint64_t z) {
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  explicit Rng(uint64_t seed) : s(mix(seed) | 1) {}
  uint64_t next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 0x2545f4914f6cdd1dull;
  }
  float uniform() { return static_cast<float>(static_cast<int64_t>(next() >> 40) - (1ll << 23)) * (1.0f / (1 << 23)); }
  float unit() { return static_cast<float>(next() >> 40) * (1.0f / (1 << 24)); }  // [0, 1)
};

// Values of one row of a tensor (deterministic per seed, tensor and row).
void fill_row(const TensorSpec& t, uint64_t seed, uint64_t tensor_index, int64_t row, float* out) {
  Rng r(seed * 0x100000001b3ull ^ (tensor_index << 40) ^ static_cast<uint64_t>(row));
  const int64_t n = t.ne[0];
  const float sqrt3 = 1.7320508f;
  switch (t.fill) {
    case Fill::Matrix: {
      const float s = sqrt3 * t.scale;
      for (int64_t i = 0; i < n; ++i) out[i] = s * r.uniform();
      break;
    }
    case Fill::Vector:
      for (int64_t i = 0; i < n; ++i) out[i] = t.offset + sqrt3 * t.scale * r.uniform();
      break;
    case Fill::DtBias:  // softplus(dt_bias) in [1e-3, 0.1]
      for (int64_t i = 0; i < n; ++i) {
        const float dt = std::exp(std::log(1e-3f) + r.unit() * (std::log(0.1f) - std::log(1e-3f)));
        out[i] = std::log(std::expm1(dt));
      }
      break;
    case Fill::A:  // A = -exp(A_log) in [-16, -1]
      for (int64_t i = 0; i < n; ++i) out[i] = -(1.0f + 15.0f * r.unit());
      break;
  }
}

void pwrite_all(int fd, const void* data, size_t n, uint64_t off) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  while (n > 0) {
    const ssize_t w = ::pwrite(fd, p, n, static_cast<off_t>(off));
    if (w < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("write failed: ") + std::strerror(errno));
    }
    p += w;
    n -= static_cast<size_t>(w);
    off += static_cast<uint64_t>(w);
  }
}

// GPT-2's byte-to-unicode map, as UTF-8 strings.
std::vector<std::string> byte_tokens() {
  std::vector<std::string> out(256);
  int extra = 0;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    const uint32_t cp = printable ? static_cast<uint32_t>(b) : 256u + static_cast<uint32_t>(extra++);
    std::string s;
    if (cp < 0x80) {
      s += static_cast<char>(cp);
    } else {
      s += static_cast<char>(0xC0 | (cp >> 6));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    }
    out[b] = s;
  }
  return out;
}

int cmd_make_fixture(const Args& a) {
  a.allow_only({"preset", "type", "out", "seed", "layers", "threads"});
  if (!a.positional.empty()) throw UsageError("make-fixture takes no positional arguments");
  const std::string out_path = a.get("out");
  if (out_path.empty()) throw UsageError("--out PATH is required");
  Preset p = preset(a.get("preset", "tiny"));
  Format type;
  if (!hybrid::formats::parse_format(a.get("type", "bf16"), &type))
    throw UsageError("--type must be one of bf16, f16, q8_0, q4_k, f32 (" + hybrid::formats::file_formats_list() + ")");
  const uint64_t seed = static_cast<uint64_t>(a.get_int("seed", 1));
  if (a.has("layers")) {
    const long long L = a.get_int("layers", 0);
    if (L < 1 || L > static_cast<long long>(p.pattern.size()))
      throw UsageError("--layers must be between 1 and " + std::to_string(p.pattern.size()));
    p.pattern = p.pattern.substr(0, static_cast<size_t>(L));
  }
  int threads = static_cast<int>(a.get_int("threads", 0));
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const auto t0 = std::chrono::steady_clock::now();

  const uint32_t L = static_cast<uint32_t>(p.pattern.size()), D = p.H * p.P, C = D + 2 * p.G * p.N;
  // The matrix format of a tensor with rows of `in` values: `type` when its blocks divide the row, else what
  // llama.cpp's quantizer falls back to (Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0), else F16.
  auto mat_format = [&](int64_t in) {
    const auto& fi = hybrid::formats::format_info(type);
    if (in % fi.block_size == 0) return type;
    Format fb = type == Format::Q4_K ? Format::Q5_0 : type == Format::Q5_K ? Format::Q5_1 : type == Format::Q6_K ? Format::Q8_0 : Format::F16;
    if (in % hybrid::formats::format_info(fb).block_size == 0) return fb;
    return Format::F16;
  };

  std::vector<TensorSpec> ts;
  auto mat = [&](const std::string& name, int64_t in, int64_t out, float scale) {
    ts.push_back({name, {in, out}, mat_format(in), Fill::Matrix, scale});
  };
  auto vec = [&](const std::string& name, std::vector<int64_t> ne, Fill f, float scale = 0, float offset = 0) {
    ts.push_back({name, std::move(ne), Format::F32, f, scale, offset});
  };
  mat("token_embd.weight", p.E, p.V, 1.0f);
  for (uint32_t il = 0; il < L; ++il) {
    const std::string b = "blk." + std::to_string(il) + ".";
    vec(b + "attn_norm.weight", {p.E}, Fill::Vector, 0.1f, 1.0f);
    const char k = p.pattern[il];
    if (k == 'M') {
      mat(b + "ssm_in.weight", p.E, 2 * D + 2 * p.G * p.N + p.H, 1.0f / std::sqrt(float(p.E)));
      vec(b + "ssm_conv1d.weight", {p.K, C}, Fill::Vector, 0.5f);
      vec(b + "ssm_conv1d.bias", {C}, Fill::Vector, 0.1f);
      vec(b + "ssm_dt.bias", {p.H}, Fill::DtBias);
      vec(b + "ssm_a", {1, p.H}, Fill::A);
      vec(b + "ssm_d", {1, p.H}, Fill::Vector, 0.1f, 1.0f);
      vec(b + "ssm_norm.weight", {D / p.G, p.G}, Fill::Vector, 0.1f, 1.0f);
      mat(b + "ssm_out.weight", D, p.E, 1.0f / std::sqrt(float(D)));
    } else if (k == '*') {
      mat(b + "attn_q.weight", p.E, p.nh * p.hd, 1.0f / std::sqrt(float(p.E)));
      mat(b + "attn_k.weight", p.E, p.nkv * p.hd, 1.0f / std::sqrt(float(p.E)));
      mat(b + "attn_v.weight", p.E, p.nkv * p.hd, 1.0f / std::sqrt(float(p.E)));
      mat(b + "attn_output.weight", p.nh * p.hd, p.E, 1.0f / std::sqrt(float(p.nh * p.hd)));
    } else {
      mat(b + "ffn_up.weight", p.E, p.ff, 1.0f / std::sqrt(float(p.E)));
      mat(b + "ffn_down.weight", p.ff, p.E, 1.0f / std::sqrt(float(p.ff)));
    }
  }
  vec("output_norm.weight", {p.E}, Fill::Vector, 0.1f, 1.0f);
  mat("output.weight", p.E, p.V, 1.0f / std::sqrt(float(p.E)));

  // ---- metadata ----
  Meta m;
  const std::string A = "nemotron_h.";
  m.str("general.architecture", "nemotron_h");
  m.str("general.name", "random-weight fixture (" + a.get("preset", "tiny") + ", " + hybrid::formats::format_name(type) + ")");
  m.u32("general.alignment", 32);
  m.u32(A + "context_length", 131072);
  m.u32(A + "embedding_length", p.E);
  m.u32(A + "block_count", L);
  std::vector<int32_t> ffs, kvs;
  for (char c : p.pattern) {
    ffs.push_back(c == '-' ? static_cast<int32_t>(p.ff) : 0);
    kvs.push_back(c == '*' ? static_cast<int32_t>(p.nkv) : 0);
  }
  m.arr_i32(A + "feed_forward_length", ffs);
  m.u32(A + "attention.head_count", p.nh);
  m.arr_i32(A + "attention.head_count_kv", kvs);
  m.u32(A + "attention.key_length", p.hd);
  m.u32(A + "attention.value_length", p.hd);
  m.f32(A + "attention.layer_norm_rms_epsilon", 1e-5f);
  m.u32(A + "ssm.conv_kernel", p.K);
  m.u32(A + "ssm.inner_size", D);
  m.u32(A + "ssm.state_size", p.N);
  m.u32(A + "ssm.time_step_rank", p.H);
  m.u32(A + "ssm.group_count", p.G);
  // tokenizer: <unk> <s> </s>, the 256 byte tokens, filler tokens up to V
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
  for (auto& s : byte_tokens()) tokens.push_back(s);
  for (uint32_t i = static_cast<uint32_t>(tokens.size()); i < p.V; ++i) tokens.push_back("t" + std::to_string(i));
  tokens.resize(p.V);
  std::vector<int32_t> types(p.V, 1);
  for (int i = 0; i < 3 && i < static_cast<int>(p.V); ++i) types[i] = 3;
  m.str("tokenizer.ggml.model", "gpt2");
  m.str("tokenizer.ggml.pre", "default");
  m.arr_str("tokenizer.ggml.tokens", tokens);
  m.arr_i32("tokenizer.ggml.token_type", types);
  m.arr_str("tokenizer.ggml.merges", {});
  m.u32("tokenizer.ggml.bos_token_id", 1);
  m.u32("tokenizer.ggml.eos_token_id", 2);
  m.u32("tokenizer.ggml.unknown_token_id", 0);
  m.boolean("tokenizer.ggml.add_bos_token", false);

  // ---- header: magic, version, counts, metadata, tensor infos; data aligned to 32 ----
  constexpr uint64_t kAlign = 32;
  uint64_t data_off = 0;
  for (auto& t : ts) {
    int64_t rows = 1;
    for (size_t d = 1; d < t.ne.size(); ++d) rows *= t.ne[d];
    t.nbytes = hybrid::formats::row_bytes(t.format, t.ne[0]) * static_cast<uint64_t>(rows);
    t.offset_in_data = data_off;
    data_off += (t.nbytes + kAlign - 1) / kAlign * kAlign;
  }
  Buf h;
  h.b = {'G', 'G', 'U', 'F'};
  h.put<uint32_t>(3);
  h.put<uint64_t>(ts.size());
  h.put<uint64_t>(m.count);
  h.b.insert(h.b.end(), m.buf.b.begin(), m.buf.b.end());
  for (const auto& t : ts) {
    h.str(t.name);
    h.put<uint32_t>(static_cast<uint32_t>(t.ne.size()));
    for (int64_t d : t.ne) h.put<uint64_t>(static_cast<uint64_t>(d));
    h.put<uint32_t>(static_cast<uint32_t>(t.format));
    h.put<uint64_t>(t.offset_in_data);
  }
  const uint64_t data_start = (h.b.size() + kAlign - 1) / kAlign * kAlign;
  h.b.resize(data_start, 0);
  const uint64_t total = data_start + data_off;

  const int fd = ::open(out_path.c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0644);
  if (fd < 0) throw hybrid::InputError("make-fixture: cannot create " + out_path + ": " + std::strerror(errno));
  try {
    if (::ftruncate(fd, static_cast<off_t>(total)) != 0)
      throw std::runtime_error(std::string("cannot size the file: ") + std::strerror(errno));
    pwrite_all(fd, h.b.data(), h.b.size(), 0);
    // Work items: (tensor, chunk of rows); threads take them in order.
    struct Item { size_t t; int64_t r0, r1; };
    std::vector<Item> items;
    for (size_t i = 0; i < ts.size(); ++i) {
      int64_t rows = 1;
      for (size_t d = 1; d < ts[i].ne.size(); ++d) rows *= ts[i].ne[d];
      const int64_t per = std::max<int64_t>(1, (int64_t(4) << 20) / std::max<int64_t>(1, ts[i].ne[0] * 4));
      for (int64_t r = 0; r < rows; r += per) items.push_back({i, r, std::min(rows, r + per)});
    }
    std::atomic<size_t> next{0};
    std::atomic<bool> failed{false};
    std::string error;
    std::vector<std::thread> pool;
    for (int th = 0; th < threads; ++th) {
      pool.emplace_back([&] {
        std::vector<float> row;
        std::vector<uint8_t> bytes;
        try {
          for (size_t k; !failed && (k = next.fetch_add(1)) < items.size();) {
            const Item& it = items[k];
            const TensorSpec& t = ts[it.t];
            const int64_t n = t.ne[0];
            const size_t rb = hybrid::formats::row_bytes(t.format, n);
            row.resize(static_cast<size_t>(n));
            bytes.resize(rb * static_cast<size_t>(it.r1 - it.r0));
            for (int64_t r = it.r0; r < it.r1; ++r) {
              fill_row(t, seed, it.t, r, row.data());
              hybrid::formats::quantize_row(t.format, row.data(), bytes.data() + rb * (r - it.r0), n);
            }
            pwrite_all(fd, bytes.data(), bytes.size(), data_start + t.offset_in_data + rb * it.r0);
          }
        } catch (const std::exception& e) {
          if (!failed.exchange(true)) error = e.what();
        }
      });
    }
    for (auto& t : pool) t.join();
    if (failed) throw std::runtime_error(error);
  } catch (const std::exception& e) {
    ::close(fd);
    std::remove(out_path.c_str());
    throw hybrid::InputError("make-fixture: " + out_path + ": " + e.what());
  }
  ::close(fd);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  hybrid::JsonWriter w;
  w.begin_object().field("path", out_path).field("bytes", total).field("tensors", static_cast<uint64_t>(ts.size()));
  w.field("layers", static_cast<uint64_t>(L)).field("pattern", p.pattern).field("type", hybrid::formats::format_name(type));
  w.field("threads", threads).field("seconds", secs).end_object();
  std::printf("%s\n", w.str().c_str());
  return 0;
}

HYBRID_CLI_COMMAND("make-fixture",
                   "make-fixture --preset nano9b|small|tiny --type bf16|f16|q8_0|q4_k|f32 --out PATH [--seed S] [--layers N]",
                   "write a random-weight nemotron_h GGUF (nano9b: Nemotron-Nano-9B-v2's real dimensions)", {},
                   cmd_make_fixture);

}  // namespace
