#include "gguf/gguf.h"

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <limits>

#include "gguf/mapped_file.h"
#include "util/error.h"

namespace hybrid::gguf {
namespace {

constexpr uint32_t kDefaultAlignment = 32;
constexpr size_t kMaxTensorName = 63;  // ggml's GGML_MAX_NAME (64) includes the terminating NUL
constexpr int kMaxArrayDepth = 8;      // nested arrays; real files use none
// Elements of nested arrays in the whole file: each costs a Value (~120 bytes) for ~12 bytes of file, so
// they get a budget of their own rather than one proportional to the file size.
constexpr uint64_t kMaxNestedElements = 1u << 20;
constexpr uint32_t kMaxDims = 4;

std::string u64s(uint64_t v) { return std::to_string(v); }

size_t scalar_size(ValueType t) {
  switch (t) {
    case ValueType::U8: case ValueType::I8: case ValueType::Bool: return 1;
    case ValueType::U16: case ValueType::I16: return 2;
    case ValueType::U32: case ValueType::I32: case ValueType::F32: return 4;
    case ValueType::U64: case ValueType::I64: case ValueType::F64: return 8;
    case ValueType::String: case ValueType::Array: return 0;
  }
  return 0;
}

bool known_value_type(uint32_t t) { return t <= static_cast<uint32_t>(ValueType::F64); }

// The fewest bytes an element of this type can take in the file: bounds array counts by the file size.
uint64_t min_encoded_size(ValueType t) {
  if (t == ValueType::String) return 8;          // length
  if (t == ValueType::Array) return 4 + 8;       // element type + count
  return scalar_size(t);
}

// Decodes one scalar from little-endian bytes (the host is little-endian; memcpy keeps it alignment-safe).
Value decode_scalar(ValueType t, const uint8_t* p) {
  Value v;
  v.type = t;
  switch (t) {
    case ValueType::U8: v.u = p[0]; break;
    case ValueType::I8: { int8_t x; std::memcpy(&x, p, 1); v.i = x; break; }
    case ValueType::Bool: v.u = p[0]; break;
    case ValueType::U16: { uint16_t x; std::memcpy(&x, p, 2); v.u = x; break; }
    case ValueType::I16: { int16_t x; std::memcpy(&x, p, 2); v.i = x; break; }
    case ValueType::U32: { uint32_t x; std::memcpy(&x, p, 4); v.u = x; break; }
    case ValueType::I32: { int32_t x; std::memcpy(&x, p, 4); v.i = x; break; }
    case ValueType::F32: { float x; std::memcpy(&x, p, 4); v.f = x; break; }
    case ValueType::U64: { uint64_t x; std::memcpy(&x, p, 8); v.u = x; break; }
    case ValueType::I64: { int64_t x; std::memcpy(&x, p, 8); v.i = x; break; }
    case ValueType::F64: { double x; std::memcpy(&x, p, 8); v.f = x; break; }
    case ValueType::String: case ValueType::Array: break;
  }
  return v;
}

bool is_unsigned(ValueType t) {
  return t == ValueType::U8 || t == ValueType::U16 || t == ValueType::U32 || t == ValueType::U64;
}
bool is_signed(ValueType t) {
  return t == ValueType::I8 || t == ValueType::I16 || t == ValueType::I32 || t == ValueType::I64;
}
bool is_integer_type(ValueType t) { return is_unsigned(t) || is_signed(t); }

// A bounds-checked cursor over the file's bytes. Every read states what it reads, so a truncated or
// corrupt file is reported as "<what> at offset X needs N bytes, but the file ends at S".
class Cursor {
 public:
  Cursor(const GgufFile& f, const uint8_t* base, uint64_t size) : f_(f), base_(base), size_(size) {}
  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return size_ - pos_; }

  const uint8_t* take(uint64_t n, const std::string& what) {
    if (n > remaining())
      f_.fail("truncated: " + what + " at offset " + u64s(pos_) + " needs " + u64s(n) + " bytes, but the file ends at byte " +
              u64s(size_));
    const uint8_t* p = base_ + pos_;
    pos_ += n;
    return p;
  }
  uint32_t u32(const std::string& what) { uint32_t v; std::memcpy(&v, take(4, what), 4); return v; }
  uint64_t u64(const std::string& what) { uint64_t v; std::memcpy(&v, take(8, what), 8); return v; }
  std::string_view str(const std::string& what) {
    const uint64_t at = pos_;
    const uint64_t len = u64(what + " length");
    if (len > remaining())
      f_.fail("truncated or corrupt: " + what + " at offset " + u64s(at) + " has length " + u64s(len) + ", but only " +
              u64s(remaining()) + " bytes follow in the file");
    return std::string_view(reinterpret_cast<const char*>(take(len, what)), static_cast<size_t>(len));
  }

 private:
  const GgufFile& f_;
  const uint8_t* base_;
  uint64_t size_;
  uint64_t pos_ = 0;
};

Value read_array(const GgufFile& f, Cursor& c, const std::string& what, int depth, uint64_t& nested_budget) {
  if (depth >= kMaxArrayDepth) f.fail(what + ": arrays nested more than " + std::to_string(kMaxArrayDepth) + " deep");
  Value v;
  v.type = ValueType::Array;
  const uint32_t et = c.u32(what + " element type");
  if (!known_value_type(et)) f.fail(what + ": unknown array element type " + std::to_string(et));
  v.elem_type = static_cast<ValueType>(et);
  const uint64_t at = c.pos();
  v.count = c.u64(what + " element count");
  const uint64_t min_size = min_encoded_size(v.elem_type);
  if (v.count > c.remaining() / min_size)
    f.fail("truncated or corrupt: " + what + " at offset " + u64s(at) + " claims " + u64s(v.count) + " elements of type " +
           value_type_name(v.elem_type) + ", more than the " + u64s(c.remaining()) + " remaining bytes can hold");
  if (v.elem_type == ValueType::String) {
    v.strings.reserve(static_cast<size_t>(v.count));
    for (uint64_t k = 0; k < v.count; ++k) v.strings.push_back(c.str(what + " element " + u64s(k)));
  } else if (v.elem_type == ValueType::Array) {
    if (v.count > nested_budget)
      f.fail(what + ": nested arrays with more than " + u64s(kMaxNestedElements) + " elements in all are not supported");
    nested_budget -= v.count;
    v.arrays.reserve(static_cast<size_t>(v.count));
    for (uint64_t k = 0; k < v.count; ++k)
      v.arrays.push_back(read_array(f, c, what + " element " + u64s(k), depth + 1, nested_budget));
  } else {
    v.raw = c.take(v.count * min_size, what + " data");
    if (v.elem_type == ValueType::Bool)
      for (uint64_t k = 0; k < v.count; ++k)
        if (v.raw[k] > 1) f.fail(what + ": element " + u64s(k) + " is bool " + std::to_string(v.raw[k]) + ", neither 0 nor 1");
  }
  return v;
}

Value read_value(const GgufFile& f, Cursor& c, ValueType t, const std::string& what, uint64_t& nested_budget) {
  if (t == ValueType::Array) return read_array(f, c, what, 0, nested_budget);
  if (t == ValueType::String) {
    Value v;
    v.type = ValueType::String;
    v.str = c.str(what);
    return v;
  }
  Value v = decode_scalar(t, c.take(scalar_size(t), what));
  if (t == ValueType::Bool && v.u > 1) f.fail(what + ": bool value " + u64s(v.u) + " is neither 0 nor 1");
  return v;
}

std::string quoted(std::string_view s) { return "'" + printable(s) + "'"; }

}  // namespace

// ---------------------------------------------------------------------------------------------------

const char* value_type_name(ValueType t) {
  switch (t) {
    case ValueType::U8: return "u8";
    case ValueType::I8: return "i8";
    case ValueType::U16: return "u16";
    case ValueType::I16: return "i16";
    case ValueType::U32: return "u32";
    case ValueType::I32: return "i32";
    case ValueType::F32: return "f32";
    case ValueType::Bool: return "bool";
    case ValueType::String: return "string";
    case ValueType::Array: return "array";
    case ValueType::U64: return "u64";
    case ValueType::I64: return "i64";
    case ValueType::F64: return "f64";
  }
  return "unknown";
}

bool Value::is_integer() const { return is_integer_type(type); }

std::optional<int64_t> Value::as_i64() const {
  if (is_signed(type)) return i;
  if (is_unsigned(type) && u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return static_cast<int64_t>(u);
  return std::nullopt;
}

std::optional<uint64_t> Value::as_u64() const {
  if (is_unsigned(type)) return u;
  if (is_signed(type) && i >= 0) return static_cast<uint64_t>(i);
  return std::nullopt;
}

Value Value::item(uint64_t idx) const {
  if (type != ValueType::Array || idx >= count || elem_type == ValueType::Array) return Value{};
  if (elem_type == ValueType::String) {
    Value v;
    v.type = ValueType::String;
    v.str = strings[static_cast<size_t>(idx)];
    return v;
  }
  return decode_scalar(elem_type, raw + idx * scalar_size(elem_type));
}

std::string Value::type_string() const {
  if (type != ValueType::Array) return value_type_name(type);
  if (elem_type == ValueType::Array) {
    // Nested arrays may differ in element type; name the first one's.
    return "array[" + (arrays.empty() ? std::string("array") : arrays[0].type_string()) + "]";
  }
  return std::string("array[") + value_type_name(elem_type) + "]";
}

std::string Tensor::shape_string() const {
  std::string s = "{";
  for (uint32_t d = 0; d < n_dims; ++d) s += (d ? ", " : "") + std::to_string(ne[d]);
  return s + "}";
}

bool is_valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n;
    uint32_t cp;
    if (c < 0x80) { ++i; continue; }
    if (c >= 0xc2 && c <= 0xdf) { n = 2; cp = c & 0x1f; }
    else if (c >= 0xe0 && c <= 0xef) { n = 3; cp = c & 0x0f; }
    else if (c >= 0xf0 && c <= 0xf4) { n = 4; cp = c & 0x07; }
    else return false;
    if (s.size() - i < n) return false;
    for (size_t k = 1; k < n; ++k) {
      const unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
      return false;
    i += n;
  }
  return true;
}

std::string printable(std::string_view s, size_t max_len) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (out.size() >= max_len) { out += "..."; break; }
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------

GgufFile::~GgufFile() = default;

std::unique_ptr<GgufFile> GgufFile::open(const std::string& path) {
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->name_ = path;
  f->map_ = std::make_unique<MappedFile>(path);
  f->base_ = f->map_->data();
  f->size_ = f->map_->size();
  f->parse();
  return f;
}

std::unique_ptr<GgufFile> GgufFile::from_memory(const std::string& name, const void* data, uint64_t size) {
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->name_ = name;
  f->base_ = static_cast<const uint8_t*>(data);
  f->size_ = size;
  f->parse();
  return f;
}

void GgufFile::fail(const std::string& what) const { throw InputError(name_ + ": " + what); }

void GgufFile::parse() {
  if (size_ == 0) fail("the file is empty, not a GGUF model");
  if (size_ < 4 || std::memcmp(base_, "GGUF", 4) != 0) {
    fail("not a GGUF file (it starts with '" + printable(std::string_view(reinterpret_cast<const char*>(base_), size_ < 4 ? size_ : 4)) +
         "', a GGUF model starts with 'GGUF')");
  }
  Cursor c(*this, base_, size_);
  c.take(4, "magic");
  version_ = c.u32("GGUF version");
  if (version_ != 2 && version_ != 3) {
    if (version_ == 0x02000000u || version_ == 0x03000000u)
      fail("GGUF version " + std::to_string(version_) + " looks byte-swapped: big-endian GGUF files are not supported");
    fail("GGUF version " + std::to_string(version_) + " is not supported (supported: 2, 3)");
  }
  const uint64_t n_tensors = c.u64("tensor count");
  const uint64_t n_kv = c.u64("metadata count");
  // Each tensor info takes at least 33 bytes (name length 8 + name 1 + n_dims 4 + one dim 8 + type 4 +
  // offset 8), each key/value at least 14 (key length 8 + key 1 + type 4 + value 1).
  if (n_kv > c.remaining() / 14)
    fail("corrupt header: it claims " + u64s(n_kv) + " metadata entries, but the file (" + u64s(size_) +
         " bytes) can hold at most " + u64s(c.remaining() / 14));
  if (n_tensors > c.remaining() / 33)
    fail("corrupt header: it claims " + u64s(n_tensors) + " tensors, but the file (" + u64s(size_) +
         " bytes) can hold at most " + u64s(c.remaining() / 33));

  // ---- metadata ----
  uint64_t nested_budget = kMaxNestedElements;
  for (uint64_t k = 0; k < n_kv; ++k) {
    const std::string what = "metadata entry #" + u64s(k);
    std::string_view key = c.str(what + " key");
    if (key.empty()) fail(what + ": the key is empty");
    if (!is_valid_utf8(key)) fail(what + ": the key " + quoted(key) + " is not valid UTF-8");
    const std::string kwhat = "metadata key '" + std::string(key) + "'";
    const uint32_t t = c.u32(kwhat + " value type");
    if (!known_value_type(t)) fail(kwhat + ": unknown value type " + std::to_string(t));
    Value v = read_value(*this, c, static_cast<ValueType>(t), kwhat, nested_budget);
    auto [it, inserted] = kv_index_.emplace(key, kvs_.size());
    if (!inserted) fail("duplicate metadata key '" + std::string(key) + "' (entries #" + u64s(it->second) + " and #" + u64s(k) + ")");
    kvs_.push_back(KeyValue{key, std::move(v)});
  }

  if (const Value* a = find("general.alignment")) {
    if (a->type != ValueType::U32)
      fail("metadata general.alignment has type " + a->type_string() + ", expected u32");
    if (a->u == 0 || (a->u & (a->u - 1)) != 0 || a->u % 8 != 0)
      fail("metadata general.alignment = " + u64s(a->u) + " is invalid: it must be a power of two and a multiple of 8");
    alignment_ = static_cast<uint32_t>(a->u);
  } else {
    alignment_ = kDefaultAlignment;
  }

  // ---- tensor infos ----
  tensors_.reserve(static_cast<size_t>(n_tensors));
  for (uint64_t k = 0; k < n_tensors; ++k) {
    std::string what = "tensor #" + u64s(k);
    std::string_view name = c.str(what + " name");
    if (name.empty()) fail(what + ": the name is empty");
    if (!is_valid_utf8(name)) fail(what + ": the name " + quoted(name) + " is not valid UTF-8");
    if (name.size() > kMaxTensorName)
      fail(what + ": the name " + quoted(name) + " is " + std::to_string(name.size()) + " bytes, longer than ggml's limit of " +
           std::to_string(kMaxTensorName));
    what = "tensor " + std::string(name);
    Tensor t;
    t.name = std::string(name);
    t.n_dims = c.u32(what + " n_dims");
    if (t.n_dims < 1 || t.n_dims > kMaxDims)
      fail(what + ": n_dims = " + std::to_string(t.n_dims) + " is out of range (1..4)");
    uint64_t nel = 1;
    for (uint32_t d = 0; d < t.n_dims; ++d) {
      const uint64_t ne = c.u64(what + " dimension " + std::to_string(d));
      if (ne == 0) fail(what + ": dimension " + std::to_string(d) + " is 0 (every dimension must be at least 1)");
      if (ne > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
          nel > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / ne)
        fail(what + ": the element count overflows (dimension " + std::to_string(d) + " is " + u64s(ne) + ")");
      t.ne[d] = static_cast<int64_t>(ne);
      nel *= ne;
    }
    t.nelements = static_cast<int64_t>(nel);
    const uint32_t type = c.u32(what + " type");
    const formats::FormatInfo* fi = formats::find_format(type);
    if (!fi || !fi->in_files) {
      const char* gname = formats::ggml_type_name(type);
      if (!gname) fail(what + ": type " + std::to_string(type) + " is not a ggml type");
      fail(what + ": type " + gname + " (" + std::to_string(type) + ") is not supported (supported: " +
           formats::file_formats_list() + ")");
    }
    t.format = fi->format;
    if (t.ne[0] % fi->block_size != 0)
      fail(what + ": rows of " + std::to_string(t.ne[0]) + " values are not a multiple of the " + fi->name + " block size " +
           std::to_string(fi->block_size));
    // nbytes = nel / block * type_size; nel/block < 2^63 and type_size <= 292, so check before multiplying.
    const uint64_t blocks = nel / fi->block_size;
    if (blocks > std::numeric_limits<uint64_t>::max() / fi->type_size)
      fail(what + ": the data size overflows");
    t.nbytes = blocks * fi->type_size;
    t.offset = c.u64(what + " data offset");
    auto [it, inserted] = tensor_index_.emplace(name, tensors_.size());
    if (!inserted) fail("duplicate tensor name '" + std::string(name) + "' (tensors #" + u64s(it->second) + " and #" + u64s(k) + ")");
    tensors_.push_back(std::move(t));
  }

  // ---- data section: starts at the header's end, padded to the alignment ----
  const uint64_t header_end = c.pos();
  const uint64_t pad = (alignment_ - header_end % alignment_) % alignment_;
  data_offset_ = header_end + pad;  // header_end <= size_ < 2^64 - 2^32, no overflow
  uint64_t expected = 0;             // gguf.cpp: each tensor's data follows the previous one, padded
  for (Tensor& t : tensors_) {
    const std::string what = "tensor " + t.name;
    if (t.offset % alignment_ != 0)
      fail(what + ": data offset " + u64s(t.offset) + " is not a multiple of the alignment " + std::to_string(alignment_));
    if (t.offset > size_ || data_offset_ > size_ - t.offset || t.nbytes > size_ - data_offset_ - t.offset) {
      // Report the end in absolute bytes; it may exceed 2^64 in a hostile file, so say so.
      const bool overflow = t.offset > std::numeric_limits<uint64_t>::max() - data_offset_ ||
                            t.nbytes > std::numeric_limits<uint64_t>::max() - data_offset_ - t.offset;
      fail(what + ": data ends at byte " + (overflow ? std::string("beyond 2^64") : u64s(data_offset_ + t.offset + t.nbytes)) +
           ", past the end of the file (" + u64s(size_) + " bytes)");
    }
    if (t.offset != expected)
      fail(what + ": data offset " + u64s(t.offset) + " does not follow the previous tensor's data (expected " + u64s(expected) +
           "): tensors must be stored in order, each padded to the alignment " + std::to_string(alignment_));
    t.data = base_ + data_offset_ + t.offset;
    expected = t.offset + t.nbytes + (alignment_ - t.nbytes % alignment_) % alignment_;  // < size_ + alignment
  }
}

// ---- metadata getters -----------------------------------------------------------------------------

const Value* GgufFile::find(std::string_view key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kvs_[it->second].value;
}

namespace {
std::string key_desc(std::string_view key) { return "metadata key '" + std::string(key) + "'"; }
}  // namespace

std::optional<uint64_t> GgufFile::opt_u64(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  if (!v->is_integer()) fail(key_desc(key) + " has type " + v->type_string() + ", expected an unsigned integer");
  auto u = v->as_u64();
  if (!u) fail(key_desc(key) + " = " + std::to_string(v->i) + " is negative, expected an unsigned integer");
  return u;
}

std::optional<uint32_t> GgufFile::opt_u32(std::string_view key) const {
  auto u = opt_u64(key);
  if (!u) return std::nullopt;
  if (*u > std::numeric_limits<uint32_t>::max()) fail(key_desc(key) + " = " + u64s(*u) + " does not fit in 32 bits");
  return static_cast<uint32_t>(*u);
}

std::optional<int64_t> GgufFile::opt_i64(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  if (!v->is_integer()) fail(key_desc(key) + " has type " + v->type_string() + ", expected an integer");
  auto i = v->as_i64();
  if (!i) fail(key_desc(key) + " = " + u64s(v->u) + " does not fit in a signed 64-bit integer");
  return i;
}

std::optional<float> GgufFile::opt_f32(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  if (!v->is_float()) fail(key_desc(key) + " has type " + v->type_string() + ", expected f32");
  return static_cast<float>(v->f);
}

std::optional<bool> GgufFile::opt_bool(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  if (v->type != ValueType::Bool) fail(key_desc(key) + " has type " + v->type_string() + ", expected bool");
  return v->u != 0;
}

std::optional<std::string_view> GgufFile::opt_str(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  if (v->type != ValueType::String) fail(key_desc(key) + " has type " + v->type_string() + ", expected string");
  return v->str;
}

const Value* GgufFile::opt_arr(std::string_view key) const {
  const Value* v = find(key);
  if (v && v->type != ValueType::Array) fail(key_desc(key) + " has type " + v->type_string() + ", expected an array");
  return v;
}

namespace {
template <typename T>
T required(const GgufFile& f, std::string_view key, std::optional<T> v) {
  if (!v) f.fail("required metadata key '" + std::string(key) + "' is missing");
  return *v;
}
}  // namespace

uint32_t GgufFile::get_u32(std::string_view key) const { return required(*this, key, opt_u32(key)); }
uint64_t GgufFile::get_u64(std::string_view key) const { return required(*this, key, opt_u64(key)); }
int64_t GgufFile::get_i64(std::string_view key) const { return required(*this, key, opt_i64(key)); }
float GgufFile::get_f32(std::string_view key) const { return required(*this, key, opt_f32(key)); }
bool GgufFile::get_bool(std::string_view key) const { return required(*this, key, opt_bool(key)); }
std::string_view GgufFile::get_str(std::string_view key) const { return required(*this, key, opt_str(key)); }

const Value& GgufFile::get_arr(std::string_view key) const {
  const Value* v = opt_arr(key);
  if (!v) fail("required metadata key '" + std::string(key) + "' is missing");
  return *v;
}

std::vector<int64_t> GgufFile::get_int_array(std::string_view key) const {
  const Value& a = get_arr(key);
  if (!is_integer_type(a.elem_type)) fail(key_desc(key) + " has type " + a.type_string() + ", expected an array of integers");
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(a.count));
  for (uint64_t k = 0; k < a.count; ++k) {
    auto i = a.item(k).as_i64();
    if (!i) fail(key_desc(key) + ": element " + u64s(k) + " does not fit in a signed 64-bit integer");
    out.push_back(*i);
  }
  return out;
}

const std::vector<std::string_view>& GgufFile::get_str_array(std::string_view key) const {
  const Value& a = get_arr(key);
  if (a.elem_type != ValueType::String) fail(key_desc(key) + " has type " + a.type_string() + ", expected array[string]");
  return a.strings;
}

const Tensor* GgufFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const Tensor& GgufFile::get_tensor(std::string_view name) const {
  const Tensor* t = find_tensor(name);
  if (!t) fail("tensor " + std::string(name) + " is missing");
  return *t;
}

}  // namespace hybrid::gguf
