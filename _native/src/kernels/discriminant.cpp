// Discriminant analysis heads: QuadraticDiscriminantAnalysis's per-class squared norms and
// LinearDiscriminantAnalysis's log of probabilities with zeros lifted to the smallest normal.
#include <cmath>
#include <limits>
#include <string>

#include "mle/kernel.h"

namespace mle {
namespace {

inline double get(const View& v, int64_t r, int64_t c) {
  return v.dtype == DType::kF32 ? static_cast<double>(v.row<float>(r)[c]) : v.row<double>(r)[c];
}

inline void put(const View& v, int64_t r, int64_t c, double x) {
  if (v.dtype == DType::kF32)
    v.row<float>(r)[c] = static_cast<float>(x);
  else
    v.row<double>(r)[c] = x;
}

// Output column k: scale * (sum of z_j ** 2 over the k-th block of segments[k] columns +
// offset[k]) + bias[k]  (QDA: -0.5 * (norm2 + u) + log(priors_)).
class SegmentSumSquares final : public Kernel {
 public:
  SegmentSumSquares(const int64_t* seg, int64_t n, const double* off, const double* bias,
                    double scale)
      : seg_(seg), n_(n), off_(off), bias_(bias), scale_(scale) {}
  void run(int64_t rows, const View* in, const View& out) const override {
    for (int64_t r = 0; r < rows; ++r) {
      int64_t start = 0;
      for (int64_t k = 0; k < n_; ++k) {
        double s = 0.0;
        for (int64_t c = 0; c < seg_[k]; ++c) {
          const double z = get(in[0], r, start + c);
          s += z * z;
        }
        start += seg_[k];
        put(out, r, k, scale_ * (s + off_[k]) + bias_[k]);
      }
    }
  }

 private:
  const int64_t* seg_;
  int64_t n_;
  const double *off_, *bias_;
  double scale_;
};

Status make_segment_sum_squares(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  ValueInfo in;
  MLE_RETURN_IF_ERROR(b.float_input(&in));
  const TensorRef *seg, *off, *bias;
  MLE_RETURN_IF_ERROR(b.tensor("segments", DType::kI64, {-1}, &seg));
  const int64_t n = seg->shape[0];
  if (n == 0) return b.error("segments is empty");
  MLE_RETURN_IF_ERROR(b.tensor("offset", DType::kF64, {n}, &off));
  MLE_RETURN_IF_ERROR(b.tensor("bias", DType::kF64, {n}, &bias));
  double scale;
  MLE_RETURN_IF_ERROR(b.number("scale", &scale));
  const int64_t* s = seg->as<int64_t>();
  int64_t total = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (s[i] <= 0 || s[i] > in.cols - total)
      return b.error("segments must be positive widths adding up to the input's " +
                     std::to_string(in.cols) + " columns");
    total += s[i];
  }
  if (total != in.cols)
    return b.error("segments add up to " + std::to_string(total) + ", the input has " +
                   std::to_string(in.cols) + " columns");
  k->reset(new SegmentSumSquares(s, n, off->as<double>(), bias->as<double>(), scale));
  *out = ValueInfo{n, in.kind};
  return Status::OK();
}

// log(p) with p == 0 replaced by the smallest normal number of the value's type
// (LinearDiscriminantAnalysis.predict_log_proba).
class LogNonzero final : public Kernel {
 public:
  explicit LogNonzero(int64_t cols) : cols_(cols) {}
  void run(int64_t rows, const View* in, const View& out) const override {
    const double tiny = in[0].dtype == DType::kF32
                            ? static_cast<double>(std::numeric_limits<float>::min())
                            : std::numeric_limits<double>::min();
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols_; ++c) {
        const double p = get(in[0], r, c);
        put(out, r, c, std::log(p == 0.0 ? tiny : p));
      }
  }

 private:
  int64_t cols_;
};

Status make_log_nonzero(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  ValueInfo in;
  MLE_RETURN_IF_ERROR(b.float_input(&in));
  k->reset(new LogNonzero(in.cols));
  *out = ValueInfo{in.cols, in.kind};
  return Status::OK();
}

}  // namespace

const OpRegistrar kRegistered({
    {"SegmentSumSquares", make_segment_sum_squares, 1,
     {attr::tensor("segments", DType::kI64), attr::tensor("offset", DType::kF64),
      attr::tensor("bias", DType::kF64), attr::number("scale")}},
    {"LogNonzero", make_log_nonzero, 1, {}},
});

}  // namespace mle
