// Where the running block of rows lies in its call (for the few kernels whose framework
// computes a row's value from its position among the rows of one call: BernoulliRBM's
// score_samples draws one random number per row, in row order, from a generator seeded per
// call; a brute-force neighbour search picks scikit-learn's strategy by the call's size). Set by the plan before it runs a block's kernels (plan.cpp).
#pragma once
#include <cstdint>

namespace mle {

struct BlockRows {
  int64_t first_row = 0;  // the block's first row, as an index into the call's rows
  uint64_t call = 0;      // distinct for every call of every model in this process
  int64_t call_rows = 0;  // the number of rows of the call
};

// The block the current thread is running.
BlockRows current_block_rows();

}  // namespace mle
