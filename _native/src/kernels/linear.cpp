// Dense affine maps: y = x @ W.T + b (every linear model's decision function).
#include "mle/kernel.h"

namespace mle {
namespace {

class Linear final : public Kernel {
 public:
  Linear(int64_t in_cols, int64_t out_cols, const double* w, const double* bias)
      : n_(in_cols), k_(out_cols), w_(w), b_(bias) {}

  double cost_per_row() const override { return static_cast<double>(n_ * k_); }

  void run(int64_t rows, const View* in, const View& out) const override {
    dispatch_float(in[0].dtype, [&](auto tag) {
      using TI = decltype(tag);
      if (out.dtype == DType::kF32)
        go<TI, float>(rows, in[0], out);
      else
        go<TI, double>(rows, in[0], out);
    });
  }

 private:
  // One output (regressors, binary classifiers): four rows at a time for instruction-level
  // parallelism; each row keeps exactly the summation order of the general path below.
  template <class TI, class TO>
  int64_t go_single_output(int64_t rows, const View& x, const View& y) const {
    const double* w = w_;
    const double bias = b_ ? b_[0] : 0.0;
    const int64_t n4 = n_ / 4 * 4;
    int64_t r = 0;
    for (; r + 4 <= rows; r += 4) {
      const TI* xr[4] = {x.row<TI>(r), x.row<TI>(r + 1), x.row<TI>(r + 2), x.row<TI>(r + 3)};
      double s0[4] = {0, 0, 0, 0}, s1[4] = {0, 0, 0, 0}, s2[4] = {0, 0, 0, 0},
             s3[4] = {0, 0, 0, 0};
      for (int64_t c = 0; c < n4; c += 4) {
        for (int q = 0; q < 4; ++q) {
          s0[q] += static_cast<double>(xr[q][c]) * w[c];
          s1[q] += static_cast<double>(xr[q][c + 1]) * w[c + 1];
          s2[q] += static_cast<double>(xr[q][c + 2]) * w[c + 2];
          s3[q] += static_cast<double>(xr[q][c + 3]) * w[c + 3];
        }
      }
      for (int64_t c = n4; c < n_; ++c)
        for (int q = 0; q < 4; ++q) s0[q] += static_cast<double>(xr[q][c]) * w[c];
      for (int q = 0; q < 4; ++q) {
        double s = (s0[q] + s1[q]) + (s2[q] + s3[q]);
        if (b_) s += bias;
        y.row<TO>(r + q)[0] = static_cast<TO>(s);
      }
    }
    return r;
  }

  template <class TI, class TO>
  void go(int64_t rows, const View& x, const View& y) const {
    int64_t r0 = 0;
    if (k_ == 1) r0 = go_single_output<TI, TO>(rows, x, y);
    for (int64_t r = r0; r < rows; ++r) {
      const TI* xr = x.row<TI>(r);
      TO* yr = y.row<TO>(r);
      for (int64_t j = 0; j < k_; ++j) {
        const double* w = w_ + j * n_;
        // Four partial sums keep the FPU busy; the order is fixed, so results are deterministic.
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int64_t c = 0;
        for (; c + 4 <= n_; c += 4) {
          s0 += static_cast<double>(xr[c]) * w[c];
          s1 += static_cast<double>(xr[c + 1]) * w[c + 1];
          s2 += static_cast<double>(xr[c + 2]) * w[c + 2];
          s3 += static_cast<double>(xr[c + 3]) * w[c + 3];
        }
        for (; c < n_; ++c) s0 += static_cast<double>(xr[c]) * w[c];
        double s = (s0 + s1) + (s2 + s3);
        if (b_) s += b_[j];
        yr[j] = static_cast<TO>(s);
      }
    }
  }

  int64_t n_, k_;
  const double* w_;
  const double* b_;
};

Status make_linear(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  ValueInfo in;
  MLE_RETURN_IF_ERROR(b.float_input(&in));
  const TensorRef *w, *bias;
  MLE_RETURN_IF_ERROR(b.tensor("weight", DType::kF64, {-1, in.cols}, &w));
  if (w->shape[0] == 0) return b.error("weight has no rows");
  MLE_RETURN_IF_ERROR(b.tensor("bias", DType::kF64, {w->shape[0]}, &bias, true));
  // Every output column comes from stored numbers (its weight row or its bias): a weight of
  // shape (k, 0) holds nothing, and without a bias k would be a width the file only claims.
  if (in.cols == 0 && !bias)
    return b.error("weight has " + std::to_string(w->shape[0]) +
                   " rows but no columns (the input has none) and there is no bias: the " +
                   "output columns are not backed by any stored number");
  // follow_input: scikit-learn computes float32 @ float32 coefficients in float32, so the
  // output keeps the caller's float type; otherwise the result is float64.
  bool follow;
  MLE_RETURN_IF_ERROR(b.boolean_or("follow_input_dtype", false, &follow));
  if (follow && in.kind != ValueKind::kInput)
    return b.error("follow_input_dtype needs an input of the caller's dtype");
  k->reset(new Linear(in.cols, w->shape[0], w->as<double>(), bias ? bias->as<double>() : nullptr));
  *out = ValueInfo{w->shape[0], follow ? ValueKind::kInput : ValueKind::kF64};
  return Status::OK();
}

}  // namespace

const OpRegistrar kRegistered({
    {"Linear", make_linear, 1,
     {attr::tensor("weight", DType::kF64), attr::tensor("bias", DType::kF64, kOptional),
      attr::boolean("follow_input_dtype", kOptional)}},
});

}  // namespace mle
