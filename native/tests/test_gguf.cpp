// The GGUF reader: round trips of every value type and tensor format written by gguf::Writer, typed
// getters and their errors, and hostile input (every truncation, random corruption) that must end in
// hybrid::InputError and nothing else. HYBRID_TEST_GGUF=path additionally opens a real model file.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "check.h"
#include "formats/formats.h"
#include "gguf/gguf.h"
#include "gguf/writer.h"
#include "model/arch.h"
#include "util/error.h"

using hybrid::InputError;
using namespace hybrid::gguf;
namespace fmt = hybrid::formats;

constexpr size_t kFormats = sizeof fmt::kFileFormats / sizeof fmt::kFileFormats[0];

namespace {

std::string error_of(const std::vector<uint8_t>& b) {
  try {
    GgufFile::from_memory("t.gguf", b.data(), b.size());
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

std::vector<float> ramp(size_t n, float scale) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = scale * static_cast<float>(static_cast<int>(i % 37) - 18) / 7.0f;
  return v;
}

// Every metadata type, nested and empty arrays, and one tensor per file format.
Writer sample_writer() {
  Writer w;
  w.str("general.architecture", "test").u8("t.u8", 200).i8("t.i8", -100).u16("t.u16", 60000).i16("t.i16", -30000);
  w.u32("t.u32", 4000000000u).i32("t.i32", -2000000000).u64("t.u64", std::numeric_limits<uint64_t>::max());
  w.i64("t.i64", std::numeric_limits<int64_t>::min()).f32("t.f32", 0.25f).f64("t.f64", -1.5e300);
  w.boolean("t.true", true).boolean("t.false", false).str("t.empty", "").str("t.utf8", "h\xc3\xa9llo \xf0\x9f\x99\x82");
  w.arr_i32("t.ai32", {1, -2, 3}).arr_f32("t.af32", {0.5f, -1.0f}).arr_str("t.astr", {"a", "", "\xce\xbb"});
  w.arr_u32("t.aempty", {});
  // array[array[u8]] of two arrays [1,2] and [] built by hand
  std::vector<uint8_t> nested;
  auto put32 = [&](uint32_t v) { auto b = Writer::bytes_of(v); nested.insert(nested.end(), b.begin(), b.end()); };
  auto put64 = [&](uint64_t v) { auto b = Writer::bytes_of(v); nested.insert(nested.end(), b.begin(), b.end()); };
  put32(static_cast<uint32_t>(ValueType::Array));
  put64(2);
  put32(static_cast<uint32_t>(ValueType::U8));
  put64(2);
  nested.push_back(1);
  nested.push_back(2);
  put32(static_cast<uint32_t>(ValueType::U8));
  put64(0);
  w.raw("t.nested", ValueType::Array, nested);
  int i = 0;
  for (fmt::Format f : fmt::kFileFormats) {
    const int64_t cols = fmt::format_info(f).block_size == 256 ? 512 : 64;
    w.tensor_f32("tensor." + std::to_string(i++) + "." + fmt::format_name(f), f, {cols, 3}, ramp(static_cast<size_t>(cols * 3), 0.1f));
  }
  w.tensor_f32("vector", fmt::Format::F32, {5}, {1, 2, 3, 4, 5});
  w.tensor_f32("four.d", fmt::Format::F32, {2, 3, 1, 2}, ramp(12, 1.0f));
  return w;
}

}  // namespace

TEST("round trip: every metadata type and every tensor format, v3 and v2, alignment 32 and 64") {
  for (uint32_t version : {3u, 2u}) {
    for (uint32_t align : {32u, 64u}) {
      Writer w = sample_writer();
      if (align != 32) w.u32("general.alignment", align);
      const std::vector<uint8_t> bytes = w.build(version);
      auto f = GgufFile::from_memory("sample.gguf", bytes.data(), bytes.size());
      CHECK_EQ(f->version(), version);
      CHECK_EQ(f->alignment(), align);
      CHECK_EQ(f->file_size(), bytes.size());
      CHECK_EQ(f->data_offset() % align, uint64_t{0});
      CHECK_EQ(std::string(f->get_str("general.architecture")), std::string("test"));
      CHECK_EQ(f->get_u32("t.u8"), 200u);
      CHECK_EQ(f->get_i64("t.i8"), -100);
      CHECK_EQ(f->get_u32("t.u16"), 60000u);
      CHECK_EQ(f->get_i64("t.i16"), -30000);
      CHECK_EQ(f->get_u32("t.u32"), 4000000000u);
      CHECK_EQ(f->get_i64("t.i32"), -2000000000);
      CHECK_EQ(f->get_u64("t.u64"), std::numeric_limits<uint64_t>::max());
      CHECK_EQ(f->get_i64("t.i64"), std::numeric_limits<int64_t>::min());
      CHECK_EQ(f->get_f32("t.f32"), 0.25f);
      CHECK_EQ(f->find("t.f64")->f, -1.5e300);
      CHECK(f->get_bool("t.true"));
      CHECK(!f->get_bool("t.false"));
      CHECK(f->get_str("t.empty").empty());
      CHECK_EQ(std::string(f->get_str("t.utf8")), std::string("h\xc3\xa9llo \xf0\x9f\x99\x82"));
      CHECK(f->get_int_array("t.ai32") == (std::vector<int64_t>{1, -2, 3}));
      const Value& af = f->get_arr("t.af32");
      CHECK_EQ(af.count, uint64_t{2});
      CHECK_EQ(af.item(1).f, -1.0);
      CHECK_EQ(af.type_string(), std::string("array[f32]"));
      const auto& strs = f->get_str_array("t.astr");
      CHECK_EQ(strs.size(), size_t{3});
      CHECK_EQ(std::string(strs[2]), std::string("\xce\xbb"));
      CHECK_EQ(f->get_arr("t.aempty").count, uint64_t{0});
      const Value& n = f->get_arr("t.nested");
      CHECK_EQ(n.type_string(), std::string("array[array[u8]]"));
      CHECK_EQ(n.arrays.size(), size_t{2});
      CHECK_EQ(n.arrays[0].item(1).u, uint64_t{2});
      CHECK_EQ(n.arrays[1].count, uint64_t{0});
      CHECK_EQ(f->metadata().size(), size_t{20} + (align != 32));
      CHECK_EQ(std::string(f->metadata()[0].key), std::string("general.architecture"));

      CHECK_EQ(f->tensors().size(), kFormats + 2);
      uint64_t expect_offset = 0;
      int i = 0;
      for (const Tensor& t : f->tensors()) {
        CHECK_EQ(t.offset, expect_offset);
        CHECK(t.data == f->bytes() + f->data_offset() + t.offset);
        CHECK_EQ(static_cast<uint64_t>(t.data - f->bytes()) % align, uint64_t{0});
        CHECK(f->find_tensor(t.name) == &t);
        expect_offset += (t.nbytes + align - 1) / align * align;
        if (static_cast<size_t>(i) < kFormats) {
          const fmt::Format want = fmt::kFileFormats[i];
          CHECK(t.format == want);
          CHECK_EQ(t.rows(), int64_t{3});
          CHECK_EQ(t.nbytes, 3 * fmt::row_bytes(want, t.ne[0]));
          // The decoded tensor equals what the writer's quantizer produced.
          std::vector<float> src = ramp(static_cast<size_t>(t.ne[0] * 3), 0.1f), back(src.size()), direct(src.size());
          for (int64_t r = 0; r < 3; ++r) fmt::dequantize_row(t.format, t.row(r), back.data() + r * t.ne[0], t.ne[0]);
          std::vector<uint8_t> q(static_cast<size_t>(t.nbytes));
          for (int64_t r = 0; r < 3; ++r)
            fmt::quantize_row(t.format, src.data() + r * t.ne[0], q.data() + r * t.row_bytes(), t.ne[0]);
          CHECK(std::memcmp(q.data(), t.data, q.size()) == 0);
        }
        ++i;
      }
      const Tensor& v = f->get_tensor("vector");
      CHECK_EQ(v.n_dims, 1u);
      CHECK_EQ(v.shape_string(), std::string("{5}"));
      CHECK_EQ(reinterpret_cast<const float*>(v.data)[4], 5.0f);
      const Tensor& d4 = f->get_tensor("four.d");
      CHECK_EQ(d4.n_dims, 4u);
      CHECK_EQ(d4.nelements, int64_t{12});
      CHECK_EQ(d4.rows(), int64_t{6});
      CHECK(f->find_tensor("nope") == nullptr);
      CHECK_THROWS(f->get_tensor("nope"));
    }
  }
}

TEST("open(): maps a file from disk; missing files and directories are clear InputErrors") {
  const std::string path = "native-test-gguf-open.gguf";
  sample_writer().write_file(path);
  {
    auto f = GgufFile::open(path);
    CHECK_EQ(f->name(), path);
    CHECK_EQ(f->tensors().size(), kFormats + 2);
    CHECK_EQ(std::string(f->get_str("t.utf8")), std::string("h\xc3\xa9llo \xf0\x9f\x99\x82"));
  }
  std::remove(path.c_str());
  try {
    GgufFile::open("no-such-dir/model.gguf");
    CHECK(false);
  } catch (const InputError& e) {
    CHECK(std::string(e.what()).find("cannot open no-such-dir/model.gguf") == 0);
  }
  CHECK_THROWS(GgufFile::open("."));
}

TEST("typed getters convert integer widths that fit and name the key when they cannot") {
  Writer w;
  w.i32("neg", -1).u64("big", 1ull << 40).f64("dbl", 0.5).str("s", "x").u32("u", 7).i64("i", 9).u8("small", 3);
  const auto b = w.build();
  auto f = GgufFile::from_memory("g.gguf", b.data(), b.size());
  CHECK_EQ(f->get_u32("u"), 7u);
  CHECK_EQ(f->get_u32("i"), 9u);
  CHECK_EQ(f->get_u64("small"), uint64_t{3});
  CHECK_EQ(f->get_i64("u"), 7);
  CHECK_EQ(f->get_f32("dbl"), 0.5f);
  CHECK(!f->opt_u32("missing").has_value());
  CHECK(!f->opt_str("missing").has_value());
  CHECK(f->opt_arr("missing") == nullptr);
  auto msg = [&](auto fn) {
    try { fn(); } catch (const InputError& e) { return std::string(e.what()); }
    return std::string();
  };
  CHECK_EQ(msg([&] { f->get_u32("neg"); }), std::string("g.gguf: metadata key 'neg' = -1 is negative, expected an unsigned integer"));
  CHECK_EQ(msg([&] { f->get_u32("big"); }), std::string("g.gguf: metadata key 'big' = 1099511627776 does not fit in 32 bits"));
  CHECK_EQ(msg([&] { f->get_u32("s"); }), std::string("g.gguf: metadata key 's' has type string, expected an unsigned integer"));
  CHECK_EQ(msg([&] { f->get_f32("u"); }), std::string("g.gguf: metadata key 'u' has type u32, expected f32"));
  CHECK_EQ(msg([&] { f->get_str("u"); }), std::string("g.gguf: metadata key 'u' has type u32, expected string"));
  CHECK_EQ(msg([&] { f->get_bool("u"); }), std::string("g.gguf: metadata key 'u' has type u32, expected bool"));
  CHECK_EQ(msg([&] { f->get_arr("u"); }), std::string("g.gguf: metadata key 'u' has type u32, expected an array"));
  CHECK_EQ(msg([&] { f->get_u32("missing"); }), std::string("g.gguf: required metadata key 'missing' is missing"));
}

TEST("the reader's rules: alignment, tensor order, names, types, dimensions") {
  auto base = [] {
    Writer w;
    w.str("general.architecture", "test");
    w.tensor_f32("a", fmt::Format::F32, {8}, ramp(8, 1));
    w.tensor_f32("b", fmt::Format::Q8_0, {32, 2}, ramp(64, 1));
    return w;
  };
  CHECK_EQ(error_of(base().build()), std::string(""));
  {
    Writer w = base();
    w.u32("general.alignment", 48);
    CHECK(error_of(w.build()).find("general.alignment = 48 is invalid") != std::string::npos);
  }
  {
    Writer w = base();
    w.str("general.architecture", "dup");
    CHECK_EQ(error_of(w.build()), std::string("t.gguf: duplicate metadata key 'general.architecture' (entries #0 and #1)"));
  }
  {
    Writer w = base();
    w.tensor_f32("a", fmt::Format::F32, {8}, ramp(8, 1));
    CHECK_EQ(error_of(w.build()), std::string("t.gguf: duplicate tensor name 'a' (tensors #0 and #2)"));
  }
  {
    Writer w = base();
    w.tensor(std::string(64, 'n'), fmt::Format::F32, {1}, std::vector<uint8_t>(4));
    CHECK(error_of(w.build()).find("longer than ggml's limit of 63") != std::string::npos);
    Writer ok = base();
    ok.tensor(std::string(63, 'n'), fmt::Format::F32, {1}, std::vector<uint8_t>(4));
    CHECK_EQ(error_of(ok.build()), std::string(""));
  }
  {
    Writer w;
    w.tensor("z", fmt::Format::F32, {1, 1, 1, 1, 1}, std::vector<uint8_t>(4));
    CHECK_EQ(error_of(w.build()), std::string("t.gguf: tensor z: n_dims = 5 is out of range (1..4)"));
  }
  {
    // Tensor "b"'s info is name (u64 1, 'b'), n_dims (u32 2), ne (2 x u64), type (u32), offset (u64).
    std::vector<uint8_t> b = base().build();
    const uint8_t info[] = {1, 0, 0, 0, 0, 0, 0, 0, 'b', 2, 0, 0, 0};
    size_t pos = 0;
    for (size_t i = 0; i + sizeof info <= b.size(); ++i)
      if (std::memcmp(&b[i], info, sizeof info) == 0) { pos = i + sizeof info + 16 + 4; break; }
    CHECK(pos != 0);
    uint64_t off;
    std::memcpy(&off, &b[pos], 8);
    CHECK_EQ(off, uint64_t{32});  // "a" (32 bytes) padded to 32
    off = 0;                      // overlaps "a"
    std::memcpy(&b[pos], &off, 8);
    CHECK_EQ(error_of(b), std::string("t.gguf: tensor b: data offset 0 does not follow the previous tensor's data (expected 32): "
                                      "tensors must be stored in order, each padded to the alignment 32"));
    off = 40;                     // misaligned
    std::memcpy(&b[pos], &off, 8);
    CHECK_EQ(error_of(b), std::string("t.gguf: tensor b: data offset 40 is not a multiple of the alignment 32"));
    off = 1ull << 62;             // far past the end
    std::memcpy(&b[pos], &off, 8);
    CHECK(error_of(b).find("past the end of the file (" + std::to_string(b.size()) + " bytes)") != std::string::npos);
  }
}

TEST("nested arrays beyond the element budget are rejected before they are built") {
  // array[array[u8]] with 2^20 + 1 empty inner arrays: 12 bytes of file each
  const uint64_t n = (1u << 20) + 1;
  std::vector<uint8_t> v = Writer::bytes_of(static_cast<uint32_t>(ValueType::Array));
  for (uint8_t byte : Writer::bytes_of(n)) v.push_back(byte);
  for (uint64_t i = 0; i < n; ++i) {
    for (uint8_t byte : Writer::bytes_of(static_cast<uint32_t>(ValueType::U8))) v.push_back(byte);
    for (int k = 0; k < 8; ++k) v.push_back(0);
  }
  Writer w;
  w.raw("deep", ValueType::Array, std::move(v));
  CHECK_EQ(error_of(w.build()), std::string("t.gguf: metadata key 'deep': nested arrays with more than 1048576 elements in all are not supported"));
}

TEST("every truncation of a valid file is an InputError naming the file, never anything else") {
  const std::vector<uint8_t> full = sample_writer().build();
  size_t last_data_end = 0;
  {
    auto f = GgufFile::from_memory("x", full.data(), full.size());
    const Tensor& t = f->tensors().back();
    last_data_end = static_cast<size_t>(f->data_offset() + t.offset + t.nbytes);
  }
  int errors = 0;
  for (size_t n = 0; n < last_data_end; ++n) {
    std::vector<uint8_t> b(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));  // exact size: ASan sees overreads
    try {
      GgufFile::from_memory("cut.gguf", b.data(), b.size());
      std::printf("  truncation to %zu bytes was accepted\n", n);
      CHECK(false);
    } catch (const InputError& e) {
      ++errors;
      if (std::string(e.what()).rfind("cut.gguf: ", 0) != 0) { CHECK(false); break; }
    }
  }
  CHECK_EQ(static_cast<size_t>(errors), last_data_end);
  std::printf("  %d truncations rejected\n", errors);
}

TEST("random corruption: 20000 mutated files parse or fail with InputError, nothing else") {
  const std::vector<uint8_t> full = sample_writer().build();
  std::mt19937_64 rng(1234);
  int ok = 0, rejected = 0;
  for (int it = 0; it < 20000; ++it) {
    std::vector<uint8_t> b = full;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const size_t at = rng() % 2048 % b.size();  // mostly the header
      switch (rng() % 4) {
        case 0: b[at] = static_cast<uint8_t>(rng()); break;
        case 1: b[at] ^= static_cast<uint8_t>(1u << (rng() % 8)); break;
        case 2: if (at + 8 <= b.size()) { uint64_t v = rng() >> (rng() % 64); std::memcpy(&b[at], &v, 8); } break;
        case 3: b.resize(at); break;
      }
      if (b.empty()) break;
    }
    try {
      auto f = GgufFile::from_memory("fuzz.gguf", b.data(), b.size());
      // Whatever parsed must be self-consistent: every tensor inside the file.
      for (const Tensor& t : f->tensors()) CHECK(t.data + t.nbytes <= b.data() + b.size());
      ++ok;
    } catch (const InputError&) {
      ++rejected;
    }
  }
  std::printf("  %d parsed, %d rejected\n", ok, rejected);
  CHECK(rejected > 10000);
}

TEST("HYBRID_TEST_GGUF: a real model file opens and validates (skipped when unset)") {
  const char* path = std::getenv("HYBRID_TEST_GGUF");
  if (!path || !*path) {
    std::printf("  HYBRID_TEST_GGUF not set, skipped\n");
    return;
  }
  auto f = GgufFile::open(path);
  const hybrid::model::Model m = hybrid::model::load_architecture(*f);
  std::printf("  %s: %zu tensors, %u layers (%s), vocab %u\n", path, f->tensors().size(), m.hp.n_layer, m.hp.pattern().c_str(),
              m.hp.n_vocab);
  CHECK(m.hp.n_layer > 0);
}

TEST("utf8 validation and printable()") {
  CHECK(is_valid_utf8(""));
  CHECK(is_valid_utf8("abc\xc3\xa9\xe2\x82\xac\xf0\x9f\x99\x82"));
  CHECK(!is_valid_utf8("\xc0\xaf"));          // overlong
  CHECK(!is_valid_utf8("\xed\xa0\x80"));      // surrogate
  CHECK(!is_valid_utf8("\xf4\x90\x80\x80"));  // > U+10FFFF
  CHECK(!is_valid_utf8("\xe2\x82"));          // truncated
  CHECK(!is_valid_utf8("\x80"));
  CHECK_EQ(printable(std::string("a\nb\xff", 4)), std::string("a\\x0ab\\xff"));
  CHECK_EQ(printable(std::string(100, 'x'), 10), std::string(10, 'x') + "...");
}

TEST_MAIN()
