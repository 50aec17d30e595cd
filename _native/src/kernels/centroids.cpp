// Distances to stored rows that are not products: the manhattan (L1) distance of each row to
// every stored row, summed in feature order (scikit-learn's ManhattanDistance and scipy's
// cityblock), for NearestCentroid(metric="manhattan"); and SkewedChi2Sampler's
// log(X + skewedness), which refuses entries at or below -skewedness as scikit-learn does.
#include <cmath>
#include <string>

#include "mle/kernel.h"

namespace mle {
namespace {

inline double get(const View& v, int64_t r, int64_t c) {
  return v.dtype == DType::kF32 ? static_cast<double>(v.row<float>(r)[c]) : v.row<double>(r)[c];
}

class ManhattanDistances final : public Kernel {
 public:
  ManhattanDistances(int64_t c, int64_t n, const double* rows) : c_(c), n_(n), rows_(rows) {}

  double cost_per_row() const override { return 2.0 * static_cast<double>(c_ * n_); }

  void run(int64_t rows, const View* in, const View& out) const override {
    for (int64_t r = 0; r < rows; ++r) {
      double* y = out.row<double>(r);
      for (int64_t i = 0; i < n_; ++i) {
        const double* p = rows_ + i * c_;
        double s = 0.0;
        for (int64_t j = 0; j < c_; ++j) s += std::fabs(get(in[0], r, j) - p[j]);
        y[i] = s;
      }
    }
  }

 private:
  int64_t c_, n_;
  const double* rows_;
};

Status make_manhattan(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  ValueInfo in;
  MLE_RETURN_IF_ERROR(b.float_input(&in));
  if (in.cols < 1) return b.error("the input has no columns");
  const TensorRef* rows;
  MLE_RETURN_IF_ERROR(b.tensor("rows", DType::kF64, {-1, in.cols}, &rows));
  const int64_t n = rows->shape[0];
  if (n < 1) return b.error("rows has no rows");
  k->reset(new ManhattanDistances(in.cols, n, rows->as<double>()));
  *out = ValueInfo{n, ValueKind::kF64};
  return Status::OK();
}

// y = T(log(T(x + T(shift)))), T the value's float type (numpy's float32 arithmetic with a
// Python float); a block holding x <= T(-shift) is refused.
class ShiftedLog final : public Kernel {
 public:
  ShiftedLog(int64_t cols, double shift) : cols_(cols), shift_(shift) {}

  bool checks_input() const override { return true; }

  std::string refusal(int64_t rows, const View* in) const override {
    // float32 data is compared with -shift rounded to float32, as numpy compares it
    const double bound = in[0].dtype == DType::kF32
                             ? static_cast<double>(static_cast<float>(-shift_)) : -shift_;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols_; ++c)
        if (get(in[0], r, c) <= bound)
          return "X may not contain entries smaller than -skewedness.";
    return {};
  }

  void run(int64_t rows, const View* in, const View& out) const override {
    if (in[0].dtype == DType::kF32) {
      const float s = static_cast<float>(shift_);
      for (int64_t r = 0; r < rows; ++r) {
        const float* x = in[0].row<float>(r);
        float* y = out.row<float>(r);
        for (int64_t c = 0; c < cols_; ++c)
          y[c] = static_cast<float>(std::log(static_cast<double>(x[c] + s)));
      }
      return;
    }
    for (int64_t r = 0; r < rows; ++r) {
      const double* x = in[0].row<double>(r);
      double* y = out.row<double>(r);
      for (int64_t c = 0; c < cols_; ++c) y[c] = std::log(x[c] + shift_);
    }
  }

 private:
  int64_t cols_;
  double shift_;
};

Status make_shifted_log(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  ValueInfo in;
  MLE_RETURN_IF_ERROR(b.float_input(&in));
  double shift;
  MLE_RETURN_IF_ERROR(b.number("shift", &shift));
  if (!std::isfinite(shift) || !(shift > 0.0) ||
      !std::isfinite(static_cast<double>(static_cast<float>(shift))))
    return b.error("shift must be a positive number, finite in float32 too");
  k->reset(new ShiftedLog(in.cols, shift));
  *out = ValueInfo{in.cols, in.kind};
  return Status::OK();
}

}  // namespace

using attr::number;
using attr::tensor;

const OpRegistrar kRegistered({
    {"ManhattanDistances", make_manhattan, 1, {tensor("rows", DType::kF64)}},
    {"ShiftedLog", make_shifted_log, 1, {number("shift")}},
});

}  // namespace mle
