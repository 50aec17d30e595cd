#include "mle/build_info.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace mle {

int max_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

}  // namespace mle
