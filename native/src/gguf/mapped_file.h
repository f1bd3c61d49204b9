// A read-only memory map of a whole file (POSIX mmap / Windows file mapping). The bytes stay valid for
// the object's lifetime; the model's tensors point straight into them (no copy).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace hybrid::gguf {

class MappedFile {
 public:
  // Throws hybrid::InputError("cannot open PATH: reason") when the file cannot be opened or mapped.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }  // nullptr for an empty file
  uint64_t size() const { return size_; }

 private:
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
#ifdef _WIN32
  void* file_ = nullptr;
  void* mapping_ = nullptr;
#endif
};

}  // namespace hybrid::gguf
