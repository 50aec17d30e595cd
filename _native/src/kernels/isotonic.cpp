// Piecewise-linear interpolation over sorted knots, on every element: IsotonicRegression's
// predict and transform (scipy.interpolate.interp1d(kind="linear") over X_thresholds_,
// y_thresholds_), also as the isotonic calibrators of CalibratedClassifierCV.
#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <string>

#include "mle/kernel.h"

namespace mle {
namespace {

inline double get(const View& v, int64_t r, int64_t c) {
  return v.dtype == DType::kF32 ? static_cast<double>(v.row<float>(r)[c]) : v.row<double>(r)[c];
}

std::string repr(double v) {
  std::ostringstream o;
  o.precision(17);
  o << v;
  return o.str();
}

enum class Bounds { kNan, kClip, kRaise };

// One knot: every value maps to y[0] (scikit-learn's constant prediction, whatever the bounds
// rule). Otherwise, with "clip" the value is first clipped to [x[0], x[n-1]]; outside that
// range "nan" gives NaN and "raise" refuses the block; inside, as interp1d._call_linear:
// i = searchsorted(x, v) (side left) clipped to [1, n-1], lo = i - 1, hi = i,
// slope = (y[hi] - y[lo]) / (x[hi] - x[lo]), y = slope * (v - x[lo]) + y[lo].
class Interp1D final : public Kernel {
 public:
  Interp1D(int64_t cols, int64_t n, const double* x, const double* y, Bounds bounds)
      : cols_(cols), n_(n), x_(x), y_(y), bounds_(bounds) {}

  double cost_per_row() const override {
    return 2.0 * static_cast<double>(cols_) * std::log2(static_cast<double>(n_) + 1);
  }
  bool checks_input() const override { return bounds_ == Bounds::kRaise && n_ > 1; }

  std::string refusal(int64_t rows, const View* in) const override {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols_; ++c) {
        const double v = get(in[0], r, c);
        if (v < x_[0])
          return "A value (" + repr(v) + ") in x_new is below the interpolation range's "
                 "minimum value (" + repr(x_[0]) + ").";
      }
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols_; ++c) {
        const double v = get(in[0], r, c);
        if (v > x_[n_ - 1])
          return "A value (" + repr(v) + ") in x_new is above the interpolation range's "
                 "maximum value (" + repr(x_[n_ - 1]) + ").";
      }
    return {};
  }

  void run(int64_t rows, const View* in, const View& out) const override {
    for (int64_t r = 0; r < rows; ++r) {
      double* o = out.row<double>(r);
      for (int64_t c = 0; c < cols_; ++c) o[c] = at(get(in[0], r, c));
    }
  }

 private:
  double at(double v) const {
    if (n_ == 1) return y_[0];
    if (bounds_ == Bounds::kClip) v = std::min(std::max(v, x_[0]), x_[n_ - 1]);
    if (bounds_ == Bounds::kNan && (v < x_[0] || v > x_[n_ - 1]))
      return std::numeric_limits<double>::quiet_NaN();
    int64_t i = std::lower_bound(x_, x_ + n_, v) - x_;
    i = std::min(std::max<int64_t>(i, 1), n_ - 1);
    const double slope = (y_[i] - y_[i - 1]) / (x_[i] - x_[i - 1]);
    return slope * (v - x_[i - 1]) + y_[i - 1];
  }

  int64_t cols_;
  int64_t n_;
  const double *x_, *y_;
  Bounds bounds_;
};

Status make_interp(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  ValueInfo in;
  MLE_RETURN_IF_ERROR(b.float_input(&in));
  const TensorRef *x, *y;
  MLE_RETURN_IF_ERROR(b.tensor("x", DType::kF64, {-1}, &x));
  const int64_t n = x->shape[0];
  if (n == 0) return b.error("x is empty");
  MLE_RETURN_IF_ERROR(b.tensor("y", DType::kF64, {n}, &y));
  const double* xs = x->as<double>();
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(xs[i]) || (i > 0 && !(xs[i - 1] < xs[i])))
      return b.error("x must be finite and strictly increasing");
  std::string mode;
  MLE_RETURN_IF_ERROR(b.string("out_of_bounds", &mode));
  Bounds bounds = mode == "clip" ? Bounds::kClip : mode == "raise" ? Bounds::kRaise : Bounds::kNan;
  if (mode != "clip" && mode != "raise" && mode != "nan")
    return b.error("out_of_bounds must be 'nan', 'clip' or 'raise', got '" + mode + "'");
  k->reset(new Interp1D(in.cols, n, xs, y->as<double>(), bounds));
  *out = ValueInfo{in.cols, ValueKind::kF64};
  return Status::OK();
}

}  // namespace

const OpRegistrar kRegistered({
    {"Interp1D", make_interp, 1,
     {attr::tensor("x", DType::kF64), attr::tensor("y", DType::kF64),
      attr::string("out_of_bounds", {"nan", "clip", "raise"})}},
});

}  // namespace mle
