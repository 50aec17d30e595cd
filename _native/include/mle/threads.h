// The native core's thread pool: parallel loops over independent items (row blocks, trees,
// checksum chunks) without OpenMP.
//
// - One process-wide pool of worker threads, started lazily on the first loop that wants more
//   than one thread and grown on demand; a loop run with one thread never touches it.
// - The calling thread always takes part in its own loop, so every loop finishes even while
//   all workers are busy with loops of other threads. Many threads may run loops at once (the
//   GIL is released around native calls): workers help whichever loops are waiting, and a loop
//   is never helped by more than `n_threads - 1` workers.
// - fork() safe: pthread_atfork handlers hold the pool's lock across fork(), and the child
//   forgets the parent's workers (they do not exist in the child) and starts a fresh pool on
//   its first parallel loop, so a forked child runs multi-threaded like its parent.
#pragma once
#include <cstdint>

namespace mle {
namespace threads {

// The thread count that n_threads <= 0 means: OMP_NUM_THREADS when set to a positive number
// (its first entry), otherwise the CPUs this process may run on (sched_getaffinity).
int default_threads();

// Calls body(ctx, slot, begin, end) over consecutive ranges covering [0, n_items) on up to
// `n_threads` threads (n_threads <= 0: default_threads()); `slot` in [0, n_threads) is unique
// among the calls running at the same time, so per-thread state can be indexed by it. Ranges are
// at most `grain` items long and handed out in order. The body must not throw; if it does, the
// remaining ranges are skipped and the function returns false. Returns true otherwise.
using RangeFn = void (*)(void* ctx, int slot, int64_t begin, int64_t end);
bool parallel_for(int n_threads, int64_t n_items, int64_t grain, RangeFn body, void* ctx);

// The same with any callable `f(int slot, int64_t begin, int64_t end)`.
template <class F>
bool parallel_for(int n_threads, int64_t n_items, int64_t grain, F& f) {
  return parallel_for(
      n_threads, n_items, grain,
      [](void* c, int slot, int64_t b, int64_t e) { (*static_cast<F*>(c))(slot, b, e); }, &f);
}

}  // namespace threads
}  // namespace mle
