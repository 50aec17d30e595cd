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

int max_threads();  // OpenMP's default team size (1 without OpenMP)

}  // namespace mle
