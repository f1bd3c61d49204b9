#include "gguf/writer.h"

#include <cstring>
#include <fstream>
#include <stdexcept>

#include "util/error.h"

namespace hybrid::gguf {
namespace {

template <typename T>
void append(std::vector<uint8_t>& out, T v) {
  const size_t at = out.size();
  out.resize(at + sizeof(T));
  std::memcpy(out.data() + at, &v, sizeof(T));
}

void append_bytes(std::vector<uint8_t>& out, const std::vector<uint8_t>& b) { out.insert(out.end(), b.begin(), b.end()); }

template <typename T>
std::vector<uint8_t> array_bytes(ValueType type, const std::vector<T>& v) {
  std::vector<uint8_t> b;
  append(b, static_cast<uint32_t>(type));
  append(b, static_cast<uint64_t>(v.size()));
  for (const T& x : v) append(b, x);
  return b;
}

uint64_t pad_to(uint64_t n, uint64_t a) { return (a - n % a) % a; }

}  // namespace

std::vector<uint8_t> Writer::string_bytes(const std::string& s) {
  std::vector<uint8_t> b;
  append(b, static_cast<uint64_t>(s.size()));
  b.insert(b.end(), s.begin(), s.end());
  return b;
}

Writer& Writer::arr_i32(const std::string& key, const std::vector<int32_t>& v) {
  return raw(key, ValueType::Array, array_bytes(ValueType::I32, v));
}
Writer& Writer::arr_u32(const std::string& key, const std::vector<uint32_t>& v) {
  return raw(key, ValueType::Array, array_bytes(ValueType::U32, v));
}
Writer& Writer::arr_f32(const std::string& key, const std::vector<float>& v) {
  return raw(key, ValueType::Array, array_bytes(ValueType::F32, v));
}
Writer& Writer::arr_str(const std::string& key, const std::vector<std::string>& v) {
  std::vector<uint8_t> b;
  append(b, static_cast<uint32_t>(ValueType::String));
  append(b, static_cast<uint64_t>(v.size()));
  for (const std::string& s : v) append_bytes(b, string_bytes(s));
  return raw(key, ValueType::Array, std::move(b));
}

Writer& Writer::raw(const std::string& key, ValueType type, std::vector<uint8_t> value) {
  kvs_.push_back(Kv{key, type, std::move(value)});
  return *this;
}

bool Writer::remove(const std::string& key) {
  const size_t n = kvs_.size();
  std::vector<Kv> kept;
  for (Kv& kv : kvs_)
    if (kv.key != key) kept.push_back(std::move(kv));
  kvs_ = std::move(kept);
  return kvs_.size() != n;
}

Writer& Writer::tensor(const std::string& name, formats::Format format, const std::vector<int64_t>& ne, std::vector<uint8_t> data) {
  tensors_.push_back(T{name, format, ne, std::move(data)});
  return *this;
}

Writer& Writer::tensor_f32(const std::string& name, formats::Format format, const std::vector<int64_t>& ne,
                           const std::vector<float>& values) {
  if (ne.empty()) throw std::invalid_argument("Writer::tensor_f32: no dimensions");
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  if (static_cast<int64_t>(values.size()) != n) throw std::invalid_argument("Writer::tensor_f32: " + name + ": wrong value count");
  const int64_t cols = ne[0];
  const size_t rb = formats::row_bytes(format, cols);
  std::vector<uint8_t> data(static_cast<size_t>(n / cols) * rb);
  for (int64_t r = 0; r < n / cols; ++r)
    formats::quantize_row(format, values.data() + r * cols, data.data() + static_cast<size_t>(r) * rb, cols);
  return tensor(name, format, ne, std::move(data));
}

bool Writer::remove_tensor(const std::string& name) {
  for (auto it = tensors_.begin(); it != tensors_.end(); ++it) {
    if (it->name == name) {
      tensors_.erase(it);
      return true;
    }
  }
  return false;
}

uint32_t Writer::alignment() const {
  for (const Kv& kv : kvs_) {
    if (kv.key == "general.alignment" && kv.type == ValueType::U32 && kv.value.size() == 4) {
      uint32_t a;
      std::memcpy(&a, kv.value.data(), 4);
      if (a != 0) return a;
    }
  }
  return 32;
}

std::vector<uint8_t> Writer::build(uint32_t version) const {
  const uint32_t align = alignment();
  std::vector<uint8_t> out = {'G', 'G', 'U', 'F'};
  append(out, version);
  append(out, static_cast<uint64_t>(tensors_.size()));
  append(out, static_cast<uint64_t>(kvs_.size()));
  for (const Kv& kv : kvs_) {
    append_bytes(out, string_bytes(kv.key));
    append(out, static_cast<uint32_t>(kv.type));
    append_bytes(out, kv.value);
  }
  uint64_t offset = 0;
  for (const T& t : tensors_) {
    append_bytes(out, string_bytes(t.name));
    append(out, static_cast<uint32_t>(t.ne.size()));
    for (int64_t d : t.ne) append(out, static_cast<uint64_t>(d));
    append(out, static_cast<uint32_t>(t.format));
    append(out, offset);
    offset += t.data.size() + pad_to(t.data.size(), align);
  }
  out.resize(out.size() + pad_to(out.size(), align), 0);
  for (const T& t : tensors_) {
    append_bytes(out, t.data);
    out.resize(out.size() + pad_to(t.data.size(), align), 0);
  }
  return out;
}

void Writer::write_file(const std::string& path, uint32_t version) const {
  const std::vector<uint8_t> b = build(version);
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  if (!f) throw InputError("cannot write " + path);
}

}  // namespace hybrid::gguf
