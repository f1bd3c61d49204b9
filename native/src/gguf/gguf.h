// GGUF v2/v3 reader: the file is memory-mapped read-only, metadata strings and tensor data are views
// into the map (zero copy). Every count, length, dimension, offset and size is checked before use, with
// overflow-safe arithmetic, so a hostile file fails fast with one clear hybrid::InputError
// ("model.gguf: tensor blk.3.ssm_in.weight: data ends at byte …, past the end of the file (… bytes)")
// and never allocates in proportion to a number it claims.
//
// Format: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md; ggml/src/gguf.cpp is the loader
// whose rules we keep (tensor data stored in order, each padded to the alignment; names < 64 bytes).
// Multi-byte values are little-endian; this reader assumes a little-endian host.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "formats/formats.h"

namespace hybrid::gguf {

class MappedFile;

enum class ValueType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, Bool = 7,
  String = 8, Array = 9, U64 = 10, I64 = 11, F64 = 12,
};
const char* value_type_name(ValueType t);  // "u8", "i32", "f32", "bool", "string", "array", ...

// One metadata value. Strings and the elements of numeric arrays are views into the file's bytes.
struct Value {
  ValueType type = ValueType::U8;
  uint64_t u = 0;  // unsigned integers and bool (0/1)
  int64_t i = 0;   // signed integers
  double f = 0;    // f32 / f64
  std::string_view str;
  // arrays
  ValueType elem_type = ValueType::U8;
  uint64_t count = 0;
  const uint8_t* raw = nullptr;               // numeric elements, packed little-endian
  std::vector<std::string_view> strings;      // elem_type String
  std::vector<Value> arrays;                  // elem_type Array (nested)

  bool is_integer() const;   // u8..u64, i8..i64 (not bool)
  bool is_float() const { return type == ValueType::F32 || type == ValueType::F64; }
  std::optional<int64_t> as_i64() const;   // integer that fits
  std::optional<uint64_t> as_u64() const;  // non-negative integer
  // Element i of an array of scalars or strings, as a scalar Value (nested arrays: `arrays[i]`).
  Value item(uint64_t idx) const;
  std::string type_string() const;  // "u32", "array[i32]", "array[array[string]]"
};

struct KeyValue {
  std::string_view key;
  Value value;
};

struct Tensor {
  std::string name;
  formats::Format format = formats::Format::F32;  // the ggml type, one of formats::kFileFormats
  uint32_t n_dims = 0;
  int64_t ne[4] = {1, 1, 1, 1};  // ggml order: ne[0] is contiguous; unused dims are 1
  uint64_t offset = 0;           // from the start of the data section
  uint64_t nbytes = 0;
  int64_t nelements = 0;
  const uint8_t* data = nullptr;  // into the map, aligned to the file's alignment (>= 8)

  int64_t rows() const { return nelements / ne[0]; }
  size_t row_bytes() const { return static_cast<size_t>(nbytes / static_cast<uint64_t>(rows())); }
  const uint8_t* row(int64_t r) const { return data + static_cast<size_t>(r) * row_bytes(); }
  std::string shape_string() const;  // "{64, 292}"
};

class GgufFile {
 public:
  // `path` also names the file in error messages.
  static std::unique_ptr<GgufFile> open(const std::string& path);
  // Parses bytes owned by the caller (kept alive as long as the GgufFile); for tests and tools.
  static std::unique_ptr<GgufFile> from_memory(const std::string& name, const void* data, uint64_t size);
  ~GgufFile();

  const std::string& name() const { return name_; }
  uint32_t version() const { return version_; }
  uint64_t file_size() const { return size_; }
  uint32_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }  // where the data section starts
  const uint8_t* bytes() const { return base_; }

  // Metadata, in file order.
  const std::vector<KeyValue>& metadata() const { return kvs_; }
  const Value* find(std::string_view key) const;
  bool has(std::string_view key) const { return find(key) != nullptr; }
  // Typed getters: get_* throws InputError when the key is missing or its value does not convert;
  // opt_* returns nullopt when missing and throws on a wrong type. Integers of any width convert when
  // the value fits; floats accept f32 and f64.
  uint32_t get_u32(std::string_view key) const;
  std::optional<uint32_t> opt_u32(std::string_view key) const;
  uint64_t get_u64(std::string_view key) const;
  std::optional<uint64_t> opt_u64(std::string_view key) const;
  int64_t get_i64(std::string_view key) const;
  std::optional<int64_t> opt_i64(std::string_view key) const;
  float get_f32(std::string_view key) const;
  std::optional<float> opt_f32(std::string_view key) const;
  bool get_bool(std::string_view key) const;
  std::optional<bool> opt_bool(std::string_view key) const;
  std::string_view get_str(std::string_view key) const;
  std::optional<std::string_view> opt_str(std::string_view key) const;
  const Value& get_arr(std::string_view key) const;  // any array
  const Value* opt_arr(std::string_view key) const;
  std::vector<int64_t> get_int_array(std::string_view key) const;  // array of integers
  const std::vector<std::string_view>& get_str_array(std::string_view key) const;

  const std::vector<Tensor>& tensors() const { return tensors_; }
  const Tensor* find_tensor(std::string_view name) const;
  const Tensor& get_tensor(std::string_view name) const;  // InputError when absent

  // Throws InputError("<file>: <what>").
  [[noreturn]] void fail(const std::string& what) const;

 private:
  GgufFile() = default;
  void parse();

  std::string name_;
  std::unique_ptr<MappedFile> map_;
  const uint8_t* base_ = nullptr;
  uint64_t size_ = 0;
  uint32_t version_ = 0;
  uint32_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<KeyValue> kvs_;
  std::unordered_map<std::string_view, size_t> kv_index_;
  std::vector<Tensor> tensors_;
  std::unordered_map<std::string_view, size_t> tensor_index_;
};

// True when s is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF).
bool is_valid_utf8(std::string_view s);
// s with control characters and invalid bytes written as \xNN and cut to max_len, for error messages.
std::string printable(std::string_view s, size_t max_len = 80);

}  // namespace hybrid::gguf
