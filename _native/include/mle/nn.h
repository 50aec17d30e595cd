// Neural-network ops (docs/FORMAT.md 11, "Neural networks"): values are float32 tensors of
// shape (batch, *shape), stored per row in C order, so that the plan's row blocks are blocks
// of the batch and every op here works on whole rows. The per-row shapes an op needs are its
// attributes (int64 tensors or numbers), validated against its inputs' widths at load.
#pragma once
#include <cstdint>
#include <vector>

#include "mle/kernel.h"

namespace mle {
namespace nn {

// The largest per-row tensor dimension and element count an nn op accepts (2^31).
constexpr int64_t kMaxDim = int64_t(1) << 31;
// The largest im2col buffer of a convolution, in floats (one row, one group): 2^28.
constexpr int64_t kMaxColumns = int64_t(1) << 28;

// Every nn kernel computes in float32 (the model then refuses float64 X).
class Kernel32 : public Kernel {
 public:
  bool float32_only() const override { return true; }
};

// Input i must be a float value of the caller's dtype (float32 at run time); its columns.
Status float_value(const NodeBuild& b, size_t i, int64_t* cols);
// An int64 shape tensor attribute: 1 to 8 sizes in [1, kMaxDim], product at most kMaxDim.
Status shape_attr(const NodeBuild& b, const char* key, std::vector<int64_t>* shape,
                  int64_t* numel);
// A number attribute that must be an integer in [lo, hi].
Status int_attr(const NodeBuild& b, const char* key, int64_t lo, int64_t hi, int64_t* out);
// The same, `dflt` when absent.
Status int_attr_or(const NodeBuild& b, const char* key, int64_t lo, int64_t hi, int64_t dflt,
                   int64_t* out);

// C = A . B (+ bias broadcast over rows when bias != nullptr): A m x k (row stride lda), B
// k x n contiguous, C m x n (row stride ldc). Every nn product goes through this one function
// (the shared dense layer, mle/dense.h); gemm_f32_reference is the plain scalar reference
// the tests compare against.
void gemm_f32(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
              const float* bias, float* c, int64_t ldc);
void gemm_f32_reference(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                        const float* b, const float* bias, float* c, int64_t ldc);

}  // namespace nn
}  // namespace mle
