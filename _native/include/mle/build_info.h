// Facts about this build that `mle-runtime --version` and tests report.
#pragma once

namespace mle {

inline bool built_with_openmp() {
#ifdef _OPENMP
  return true;
#else
  return false;
#endif
}

int max_threads();  // the thread count n_threads <= 0 means (threads::default_threads)

// The vector instruction sets the kernels use on this CPU, chosen at run time: the tree walks
// and tree validation use AVX2, the checksum AVX-512 VPCLMULQDQ (or SSE4.2's crc32). Like
// "avx2 avx512-vpclmulqdq", or "baseline" without either.
const char* simd_level();

}  // namespace mle
