// The driver of a fuzz target outside libFuzzer (any compiler): runs LLVMFuzzerTestOneInput on every
// file named on the command line or found in a named folder (sorted, not recursive). Each input is one
// test case; the last line is "N passed, N failed" as every native test prints it. A crash or a failed
// FUZZ_CHECK aborts the process, so ctest reports the test as failed and the log names the input.
//
// Files ending in ".hex" hold the input as hex digits (whitespace ignored; lines starting with '#' are
// comments that say what the input found): regression inputs stay readable in review.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <dirent.h>
#include <fstream>
#include <iterator>
#include <string>
#include <sys/stat.h>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool read_input(const std::string& path, std::vector<uint8_t>& out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  std::string raw((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  out.clear();
  if (!ends_with(path, ".hex")) {
    out.assign(raw.begin(), raw.end());
    return true;
  }
  int hi = -1;
  bool comment = false;
  for (char c : raw) {
    if (comment) {
      comment = c != '\n';
      continue;
    }
    if (c == '#') { comment = true; continue; }
    int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (v < 0) continue;
    if (hi < 0) hi = v;
    else {
      out.push_back(static_cast<uint8_t>(hi * 16 + v));
      hi = -1;
    }
  }
  return hi < 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> files;
  for (int a = 1; a < argc; ++a) {
    const std::string arg = argv[a];
    struct stat st;
    if (stat(arg.c_str(), &st) != 0) continue;  // a folder that does not exist yet holds no regressions
    if (!S_ISDIR(st.st_mode)) {
      files.push_back(arg);
      continue;
    }
    std::vector<std::string> in_dir;
    if (DIR* d = opendir(arg.c_str())) {
      while (dirent* e = readdir(d)) {
        const std::string name = e->d_name;
        if (name.empty() || name[0] == '.' || ends_with(name, ".md")) continue;
        const std::string p = arg + "/" + name;
        if (stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode)) in_dir.push_back(p);
      }
      closedir(d);
    }
    std::sort(in_dir.begin(), in_dir.end());
    files.insert(files.end(), in_dir.begin(), in_dir.end());
  }
  int passed = 0, failed = 0;
  std::vector<uint8_t> input;
  for (const std::string& f : files) {
    if (!read_input(f, input)) {
      std::printf("FAIL - %s (cannot read it, or an odd number of hex digits)\n", f.c_str());
      ++failed;
      continue;
    }
    std::printf("run  - %s (%zu bytes)\n", f.c_str(), input.size());
    std::fflush(stdout);
    static const uint8_t kNone = 0;  // libFuzzer never passes a null pointer, even for an empty input
    LLVMFuzzerTestOneInput(input.empty() ? &kNone : input.data(), input.size());
    std::printf("ok - %s\n", f.c_str());
    ++passed;
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed > 100 ? 100 : failed;
}
