// Values that do not depend on the input's numbers (DummyClassifier, DummyRegressor), and
// thresholding (BernoulliNB's binarize).
#include <cmath>

#include "mle/kernel.h"

namespace mle {
namespace {

// Every row is `values` (the input only gives the row count: NaN and infinity in it change
// nothing, as scikit-learn's dummy estimators never read X).
class Constant final : public Kernel {
 public:
  Constant(int64_t k, const double* values) : k_(k), v_(values) {}
  double cost_per_row() const override { return static_cast<double>(k_); }
  void run(int64_t rows, const View*, const View& out) const override {
    for (int64_t r = 0; r < rows; ++r) {
      double* y = out.row<double>(r);
      for (int64_t c = 0; c < k_; ++c) y[c] = v_[c];
    }
  }

 private:
  int64_t k_;
  const double* v_;
};

Status make_constant(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  ValueInfo in;
  MLE_RETURN_IF_ERROR(b.float_input(&in));
  const TensorRef* v;
  MLE_RETURN_IF_ERROR(b.tensor("values", DType::kF64, {-1}, &v));
  if (v->shape[0] == 0) return b.error("values is empty");
  k->reset(new Constant(v->shape[0], v->as<double>()));
  *out = ValueInfo{v->shape[0], ValueKind::kF64};
  return Status::OK();
}

// sklearn.preprocessing.binarize: 1 where x > threshold, else 0, compared in the data's own
// type (numpy rounds the Python float threshold to float32 for float32 data).
class Binarize final : public Kernel {
 public:
  Binarize(int64_t cols, double t) : cols_(cols), t_(t) {}
  void run(int64_t rows, const View* in, const View& out) const override {
    if (in[0].dtype == DType::kF32) {
      const float t = static_cast<float>(t_);
      for (int64_t r = 0; r < rows; ++r) {
        const float* x = in[0].row<float>(r);
        float* y = out.row<float>(r);
        for (int64_t c = 0; c < cols_; ++c) y[c] = x[c] > t ? 1.0f : 0.0f;
      }
    } else {
      for (int64_t r = 0; r < rows; ++r) {
        const double* x = in[0].row<double>(r);
        double* y = out.row<double>(r);
        for (int64_t c = 0; c < cols_; ++c) y[c] = x[c] > t_ ? 1.0 : 0.0;
      }
    }
  }

 private:
  int64_t cols_;
  double t_;
};

Status make_binarize(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  ValueInfo in;
  MLE_RETURN_IF_ERROR(b.float_input(&in));
  double t;
  MLE_RETURN_IF_ERROR(b.number("threshold", &t));
  if (!std::isfinite(t)) return b.error("threshold must be finite");
  k->reset(new Binarize(in.cols, t));
  *out = ValueInfo{in.cols, in.kind};
  return Status::OK();
}

}  // namespace

const OpRegistrar kRegistered({
    {"Constant", make_constant, 1, {attr::tensor("values", DType::kF64)}},
    {"Binarize", make_binarize, 1, {attr::number("threshold")}},
});

}  // namespace mle
