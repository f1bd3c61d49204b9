// One persistent pool of CPU threads for all compute. The caller thread takes part (thread index 0), so
// a pool of n threads starts n-1 workers. Dispatch is a generation counter the workers spin on briefly
// and then sleep on, so a decode step of a few hundred small ops pays microseconds, not thread starts.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace hybrid::cpu {

class ThreadPool {
 public:
  // n_threads <= 0: one per physical core as far as we can tell (logical cores / 2 when SMT, at least 1).
  explicit ThreadPool(int n_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Runs fn(thread_index) on every thread of the pool (thread 0 = the caller) and waits for all.
  void run(const std::function<void(int thread)>& fn);

  // Splits [0, n) into contiguous ranges, one or more per thread, and runs fn(begin, end, thread).
  // `grain`: the smallest range worth a thread; small n runs on fewer threads.
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t begin, int64_t end, int thread)>& fn);

  static int default_threads();

 private:
  void worker(int index);

  int n_threads_;
  std::vector<std::thread> workers_;
  const std::function<void(int)>* job_ = nullptr;
  int active_ = 0;  // threads taking part in the current job
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  std::atomic<int> sleepers_{0};
};

}  // namespace hybrid::cpu
