// A GGUF writer: metadata of every type and tensors in any file format, laid out as ggml's gguf.cpp
// writes them (tensor data in order, each padded to the alignment). For native tests and tools; the
// fixture models of the TypeScript tests come from test/fixtures/gguf-writer.ts.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "formats/formats.h"
#include "gguf/gguf.h"

namespace hybrid::gguf {

class Writer {
 public:
  // Scalars.
  Writer& u8(const std::string& key, uint8_t v) { return raw(key, ValueType::U8, bytes_of(v)); }
  Writer& i8(const std::string& key, int8_t v) { return raw(key, ValueType::I8, bytes_of(v)); }
  Writer& u16(const std::string& key, uint16_t v) { return raw(key, ValueType::U16, bytes_of(v)); }
  Writer& i16(const std::string& key, int16_t v) { return raw(key, ValueType::I16, bytes_of(v)); }
  Writer& u32(const std::string& key, uint32_t v) { return raw(key, ValueType::U32, bytes_of(v)); }
  Writer& i32(const std::string& key, int32_t v) { return raw(key, ValueType::I32, bytes_of(v)); }
  Writer& u64(const std::string& key, uint64_t v) { return raw(key, ValueType::U64, bytes_of(v)); }
  Writer& i64(const std::string& key, int64_t v) { return raw(key, ValueType::I64, bytes_of(v)); }
  Writer& f32(const std::string& key, float v) { return raw(key, ValueType::F32, bytes_of(v)); }
  Writer& f64(const std::string& key, double v) { return raw(key, ValueType::F64, bytes_of(v)); }
  Writer& boolean(const std::string& key, bool v) { return raw(key, ValueType::Bool, {static_cast<uint8_t>(v ? 1 : 0)}); }
  Writer& str(const std::string& key, const std::string& v) { return raw(key, ValueType::String, string_bytes(v)); }
  // Arrays of scalars or strings.
  Writer& arr_i32(const std::string& key, const std::vector<int32_t>& v);
  Writer& arr_u32(const std::string& key, const std::vector<uint32_t>& v);
  Writer& arr_f32(const std::string& key, const std::vector<float>& v);
  Writer& arr_str(const std::string& key, const std::vector<std::string>& v);
  // Any value, given its type and encoded bytes (nested arrays, hostile values).
  Writer& raw(const std::string& key, ValueType type, std::vector<uint8_t> value);
  bool remove(const std::string& key);  // every entry with this key

  // Tensor data as given (must be the size the shape and format imply).
  Writer& tensor(const std::string& name, formats::Format format, const std::vector<int64_t>& ne, std::vector<uint8_t> data);
  // Values in ggml order (ne[0] fastest), encoded with formats::quantize_row row by row.
  Writer& tensor_f32(const std::string& name, formats::Format format, const std::vector<int64_t>& ne, const std::vector<float>& values);
  bool remove_tensor(const std::string& name);

  // The data alignment: general.alignment when set (as u32), else 32.
  uint32_t alignment() const;
  std::vector<uint8_t> build(uint32_t version = 3) const;
  void write_file(const std::string& path, uint32_t version = 3) const;

  // Encoders for raw(): little-endian scalars and GGUF strings (u64 length + bytes).
  template <typename T>
  static std::vector<uint8_t> bytes_of(T v) {
    std::vector<uint8_t> b(sizeof(T));
    std::memcpy(b.data(), &v, sizeof(T));
    return b;
  }
  static std::vector<uint8_t> string_bytes(const std::string& s);

 private:
  struct Kv {
    std::string key;
    ValueType type;
    std::vector<uint8_t> value;
  };
  struct T {
    std::string name;
    formats::Format format;
    std::vector<int64_t> ne;
    std::vector<uint8_t> data;
  };
  std::vector<Kv> kvs_;
  std::vector<T> tensors_;
};

}  // namespace hybrid::gguf
