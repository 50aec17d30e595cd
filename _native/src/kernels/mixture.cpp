// Mixture models: the log-sum-exp of each row (GaussianMixture.score_samples), with
// scipy.special.logsumexp's arithmetic, the same as LogSumExpNormalize's (kernels/bayes.cpp),
// and the rounding of a float64 value to the caller's float type (scikit-learn stores
// GaussianMixture's squared Mahalanobis distances in an array of X's dtype).
#include <cmath>

#include "mle/kernel.h"

namespace mle {
namespace {

inline double get(const View& v, int64_t r, int64_t c) {
  return v.dtype == DType::kF32 ? static_cast<double>(v.row<float>(r)[c]) : v.row<double>(r)[c];
}

inline void put(const View& v, int64_t r, double x) {
  if (v.dtype == DType::kF32)
    v.row<float>(r)[0] = static_cast<float>(x);
  else
    v.row<double>(r)[0] = x;
}

// Per row: a = max (NaN wins), m = how many entries equal it, s = sum in column order of
// exp(x - a') over the others (a' = a when finite, else 0), s /= m unless 0,
// y = (log1p(s) + log(m)) + a.
class LogSumExp final : public Kernel {
 public:
  explicit LogSumExp(int64_t cols) : cols_(cols) {}
  void run(int64_t rows, const View* in, const View& out) const override {
    for (int64_t r = 0; r < rows; ++r) put(out, r, row_logsumexp(in[0], r, cols_));
  }

 private:
  int64_t cols_;
};

Status make_logsumexp(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  ValueInfo in;
  MLE_RETURN_IF_ERROR(b.float_input(&in));
  if (in.cols < 1) return Status::Format("LogSumExp needs at least one input column");
  k->reset(new LogSumExp(in.cols));
  *out = ValueInfo{1, in.kind};
  return Status::OK();
}

// y = T(x), T the caller's float type (float64: the identity).
class InputType final : public Kernel {
 public:
  explicit InputType(int64_t cols) : cols_(cols) {}
  void run(int64_t rows, const View* in, const View& out) const override {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols_; ++c) {
        const double v = get(in[0], r, c);
        if (out.dtype == DType::kF32)
          out.row<float>(r)[c] = static_cast<float>(v);
        else
          out.row<double>(r)[c] = v;
      }
  }

 private:
  int64_t cols_;
};

Status make_input_type(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  ValueInfo in;
  MLE_RETURN_IF_ERROR(b.float_input(&in));
  k->reset(new InputType(in.cols));
  *out = ValueInfo{in.cols, ValueKind::kInput};
  return Status::OK();
}

}  // namespace

const OpRegistrar kRegistered({
    {"LogSumExp", make_logsumexp, 1, {}},
    {"AsInputType", make_input_type, 1, {}},
});

}  // namespace mle
