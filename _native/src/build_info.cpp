#include "mle/build_info.h"

#include "mle/threads.h"

namespace mle {

const char* simd_level() {
#if defined(__x86_64__)
  static const char* level = [] {
    __builtin_cpu_init();
    const bool avx2 = __builtin_cpu_supports("avx2");
    const bool vpclmul = __builtin_cpu_supports("avx512f") &&
                         __builtin_cpu_supports("vpclmulqdq");
    if (avx2 && vpclmul) return "avx2 avx512-vpclmulqdq";
    if (avx2) return "avx2";
    if (__builtin_cpu_supports("sse4.2")) return "sse4.2";
    return "baseline";
  }();
  return level;
#else
  return "baseline";
#endif
}

int max_threads() { return threads::default_threads(); }

}  // namespace mle
