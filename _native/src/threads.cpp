// The native core's thread pool (see mle/threads.h for what it promises).
//
// State: one Pool, created on the first parallel loop and never destroyed (its workers are
// detached and live as long as the process; destroying it at exit would race with them). A
// loop is a Job on its caller's stack, listed in the pool while it still hands out ranges; idle
// workers sleep on a condition variable and join any listed job that wants more helpers.
//
// fork(): the prepare handler takes the pool's lock, so no job list or counter is half updated
// when the address space is copied; the parent handler releases it. In the child only the
// forking thread exists: the old pool (its workers, their jobs, its lock and condition variables)
// is abandoned as it is, never touched or freed, and the next parallel loop creates a new pool.

#include "mle/threads.h"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

namespace mle {
namespace threads {
namespace {

constexpr int kMaxWorkers = 1024;  // n_threads beyond this many are served by 1024 workers

struct Job {
  RangeFn body;
  void* ctx;
  int64_t n_items;
  int64_t grain;
  std::atomic<int64_t> next{0};  // first item not handed out yet
  std::atomic<bool> failed{false};
  // guarded by Pool::mu
  int max_helpers = 0;
  int helpers = 0;  // workers that joined so far; worker k runs as slot k (1-based)
  std::atomic<int> active{0};  // workers still running ranges of this job (changed under mu)
  std::condition_variable done;  // signalled when `active` drops to 0
};

// Busy-waits up to kSpinNs for ready() before the caller blocks: batches often come back to
// back (a server, a loop over chunks), and a worker or caller that is still awake takes the next
// one at once instead of paying a futex wake-up and a trip through the scheduler.
constexpr int64_t kSpinNs = 50'000;

template <class Ready>
bool spin_until(Ready ready) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::nanoseconds(kSpinNs);
  for (;;) {
    for (int k = 0; k < 64; ++k) {
      if (ready()) return true;
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#elif defined(__aarch64__)
      asm volatile("yield");
#endif
    }
    if (std::chrono::steady_clock::now() >= until) return ready();
  }
}

void run_ranges(Job& j, int slot) {
  for (;;) {
    if (j.failed.load(std::memory_order_relaxed)) return;
    const int64_t b = j.next.fetch_add(j.grain, std::memory_order_relaxed);
    if (b >= j.n_items) return;
    const int64_t e = std::min(b + j.grain, j.n_items);
    try {
      j.body(j.ctx, slot, b, e);
    } catch (...) {
      j.failed.store(true, std::memory_order_relaxed);
    }
  }
}

struct Pool {
  std::mutex mu;
  std::condition_variable work;  // idle workers wait here
  std::vector<Job*> jobs;        // loops that may still take helpers
  std::atomic<int> listed{0};    // jobs.size(), read without the lock by spinning workers
  int n_workers = 0;

  // Under mu: a listed job that wants another helper and still has ranges to hand out.
  Job* claimable() {
    for (Job* j : jobs)
      if (j->helpers < j->max_helpers &&
          j->next.load(std::memory_order_relaxed) < j->n_items)
        return j;
    return nullptr;
  }

  static void worker_main(Pool* p) {
    std::unique_lock<std::mutex> lk(p->mu);
    for (;;) {
      Job* j = p->claimable();
      if (!j) {
        lk.unlock();
        spin_until([p] { return p->listed.load(std::memory_order_relaxed) > 0; });
        lk.lock();
        p->work.wait(lk, [&] { return (j = p->claimable()) != nullptr; });
      }
      const int slot = ++j->helpers;
      ++j->active;
      lk.unlock();
      run_ranges(*j, slot);
      lk.lock();
      // j is not touched after this; its caller takes mu before it lets j go, so this
      // notify_all has finished by then even when the caller saw active == 0 while spinning
      if (j->active.fetch_sub(1) == 1) j->done.notify_all();
    }
  }

  // Under mu: starts workers until there are `want` (or thread creation fails: the loops then
  // run on fewer threads, the calling thread included, and still finish).
  void grow(int want) {
    want = std::min(want, kMaxWorkers);
    while (n_workers < want) {
      try {
        std::thread(worker_main, this).detach();
      } catch (...) {
        return;
      }
      ++n_workers;
    }
  }
};

std::mutex g_mu;        // guards g_pool's creation; taken before Pool::mu
Pool* g_pool = nullptr;  // guarded by g_mu
bool g_atfork_registered = false;

void before_fork() {
  g_mu.lock();
  if (g_pool) g_pool->mu.lock();
}

void after_fork_parent() {
  if (g_pool) g_pool->mu.unlock();
  g_mu.unlock();
}

void after_fork_child() {
  g_pool = nullptr;  // abandoned with its lock held: its workers do not exist here
  g_mu.unlock();     // locked by this same thread in before_fork
}

Pool* pool() {
  std::lock_guard<std::mutex> lk(g_mu);
  if (!g_atfork_registered) {
    if (pthread_atfork(before_fork, after_fork_parent, after_fork_child) != 0) return nullptr;
    g_atfork_registered = true;
  }
  if (!g_pool) g_pool = new (std::nothrow) Pool();
  return g_pool;
}

int compute_default_threads() {
  if (const char* env = std::getenv("OMP_NUM_THREADS")) {
    char* end = nullptr;
    const long v = std::strtol(env, &end, 10);  // "4" or the first entry of "4,2"
    if (end != env && v > 0 && (*end == '\0' || *end == ',')) return static_cast<int>(
        std::min<long>(v, 1 << 16));
  }
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  const unsigned hc = std::thread::hardware_concurrency();
  return hc > 0 ? static_cast<int>(hc) : 1;
}

}  // namespace

int default_threads() {
  static const int n = compute_default_threads();
  return n;
}

bool parallel_for(int n_threads, int64_t n_items, int64_t grain, RangeFn body, void* ctx) {
  if (n_items <= 0) return true;
  if (grain < 1) grain = 1;
  if (n_threads <= 0) n_threads = default_threads();
  const int64_t ranges = (n_items - 1) / grain + 1;
  const int helpers = static_cast<int>(std::min<int64_t>(n_threads, ranges)) - 1;
  Job j;
  j.body = body;
  j.ctx = ctx;
  j.n_items = n_items;
  j.grain = grain;
  Pool* p = helpers > 0 ? pool() : nullptr;
  if (!p) {  // one thread, or no pool could be made: the calling thread does it all
    run_ranges(j, 0);
    return !j.failed.load();
  }
  try {
    std::lock_guard<std::mutex> lk(p->mu);
    p->jobs.push_back(&j);
    p->listed.store(static_cast<int>(p->jobs.size()), std::memory_order_relaxed);
    p->grow(helpers);
    j.max_helpers = helpers;
  } catch (...) {  // no memory to list the job: run it on this thread alone
    run_ranges(j, 0);
    return !j.failed.load();
  }
  for (int k = 0; k < helpers; ++k) p->work.notify_one();
  run_ranges(j, 0);
  {
    std::lock_guard<std::mutex> lk(p->mu);  // no worker joins from now on
    p->jobs.erase(std::find(p->jobs.begin(), p->jobs.end(), &j));
    p->listed.store(static_cast<int>(p->jobs.size()), std::memory_order_relaxed);
  }
  spin_until([&] { return j.active.load(std::memory_order_acquire) == 0; });
  {
    std::unique_lock<std::mutex> lk(p->mu);
    j.done.wait(lk, [&] { return j.active.load(std::memory_order_relaxed) == 0; });
  }
  return !j.failed.load();
}

}  // namespace threads
}  // namespace mle
