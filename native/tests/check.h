// A minimal test harness for the native unit tests (one executable per file, run by ctest).
// CHECK records a failure and continues; the process exit code is the number of failures (capped).
#pragma once
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace check {
inline int& failures() { static int n = 0; return n; }
struct Case { const char* name; std::function<void()> fn; };
inline std::vector<Case>& cases() { static std::vector<Case> c; return c; }
struct Reg { Reg(const char* n, std::function<void()> f) { cases().push_back({n, std::move(f)}); } };
inline int run_all() {
  int failed_cases = 0;
  for (auto& c : cases()) {
    int before = failures();
    try {
      c.fn();
    } catch (const std::exception& e) {
      std::printf("  exception: %s\n", e.what());
      ++failures();
    }
    bool ok = failures() == before;
    failed_cases += !ok;
    std::printf("%s - %s\n", ok ? "ok" : "FAIL", c.name);
  }
  std::printf("%zu passed, %d failed\n", cases().size() - failed_cases, failed_cases);
  return failed_cases > 100 ? 100 : failed_cases;
}
}  // namespace check

#define TEST_CAT2(a, b) a##b
#define TEST_CAT(a, b) TEST_CAT2(a, b)
#define TEST(name)                                                        \
  static void TEST_CAT(test_fn_, __LINE__)();                             \
  static check::Reg TEST_CAT(test_reg_, __LINE__)(name, TEST_CAT(test_fn_, __LINE__)); \
  static void TEST_CAT(test_fn_, __LINE__)()
#define CHECK(cond)                                                                   \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      std::printf("  %s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);         \
      ++check::failures();                                                            \
    }                                                                                 \
  } while (0)
#define CHECK_EQ(a, b)                                                                           \
  do {                                                                                           \
    auto va_ = (a); auto vb_ = (b);                                                              \
    if (!(va_ == vb_)) {                                                                         \
      std::printf("  %s:%d: CHECK_EQ failed: %s != %s\n", __FILE__, __LINE__, #a, #b);          \
      ++check::failures();                                                                       \
    }                                                                                            \
  } while (0)
#define CHECK_NEAR(a, b, tol)                                                                     \
  do {                                                                                            \
    double va_ = (a), vb_ = (b);                                                                  \
    if (!(std::fabs(va_ - vb_) <= (tol))) {                                                       \
      std::printf("  %s:%d: CHECK_NEAR failed: %s=%.9g vs %s=%.9g (tol %g)\n", __FILE__, __LINE__, #a, va_, #b, vb_, (double)(tol)); \
      ++check::failures();                                                                        \
    }                                                                                             \
  } while (0)
#define CHECK_THROWS(expr)                                                                          \
  do {                                                                                              \
    bool threw_ = false;                                                                            \
    try { (void)(expr); } catch (...) { threw_ = true; }                                            \
    if (!threw_) { std::printf("  %s:%d: expected exception: %s\n", __FILE__, __LINE__, #expr); ++check::failures(); } \
  } while (0)
#define TEST_MAIN() int main() { return check::run_all(); }
