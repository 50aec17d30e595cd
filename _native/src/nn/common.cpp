// Shared helpers of the neural-network ops (mle/nn.h).
#include <cmath>
#include <string>

#include "mle/dense.h"
#include "mle/nn.h"

namespace mle {
namespace nn {

Status float_value(const NodeBuild& b, size_t i, int64_t* cols) {
  if (i >= b.inputs().size()) return b.error("missing input " + std::to_string(i));
  const ValueInfo& v = b.inputs()[i];
  if (v.kind != ValueKind::kInput)
    return b.error("input " + std::to_string(i) + " must be a float32 tensor value (X or a "
                   "neural-network op's output)");
  *cols = v.cols;
  return Status::OK();
}

Status shape_attr(const NodeBuild& b, const char* key, std::vector<int64_t>* shape,
                  int64_t* numel) {
  const TensorRef* t;
  MLE_RETURN_IF_ERROR(b.tensor(key, DType::kI64, {-1}, &t));
  if (t->numel < 1 || t->numel > 8)
    return b.error(std::string("shape '") + key + "' must have 1 to 8 sizes, got " +
                   std::to_string(t->numel));
  shape->assign(t->as<int64_t>(), t->as<int64_t>() + t->numel);
  int64_t n = 1;
  for (int64_t d : *shape) {
    if (d < 1 || d > kMaxDim)
      return b.error(std::string("shape '") + key + "' has a size out of [1, 2^31]: " +
                     std::to_string(d));
    n *= d;
    if (n > kMaxDim)
      return b.error(std::string("shape '") + key + "' has more than 2^31 elements");
  }
  *numel = n;
  return Status::OK();
}

Status int_attr(const NodeBuild& b, const char* key, int64_t lo, int64_t hi, int64_t* out) {
  double v;
  MLE_RETURN_IF_ERROR(b.number(key, &v));
  if (!(v >= static_cast<double>(lo) && v <= static_cast<double>(hi)) || v != std::floor(v))
    return b.error(std::string("attribute '") + key + "' must be an integer in [" +
                   std::to_string(lo) + ", " + std::to_string(hi) + "]");
  *out = static_cast<int64_t>(v);
  return Status::OK();
}

Status int_attr_or(const NodeBuild& b, const char* key, int64_t lo, int64_t hi, int64_t dflt,
                   int64_t* out) {
  if (!b.has(key)) {
    *out = dflt;
    return Status::OK();
  }
  return int_attr(b, key, lo, hi, out);
}

void gemm_f32(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
              const float* bias, float* c, int64_t ldc) {
  dense::matmul(m, n, k, a, lda, b, bias, c, ldc);
}

void gemm_f32_reference(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                        const float* b, const float* bias, float* c, int64_t ldc) {
  for (int64_t r = 0; r < m; ++r)
    for (int64_t j = 0; j < n; ++j) {
      double s = bias ? bias[j] : 0.0;
      for (int64_t i = 0; i < k; ++i)
        s += static_cast<double>(a[r * lda + i]) * static_cast<double>(b[i * n + j]);
      c[r * ldc + j] = static_cast<float>(s);
    }
}

}  // namespace nn
}  // namespace mle
