// Link functions computed in float32 arithmetic, as XGBoost's predictor computes them
// (common::Sigmoid and common::Softmax): applied to float32 margins they reproduce XGBoost's
// probabilities bit for bit (same libm expf), so labels taken from them (p > 0.5, arg-max) agree
// with XGBoost's even at ties. Input: a float64 value holding float32 numbers (a TreeEnsemble
// with accumulate="float32"); output float64 holding the float32 results.
#include <algorithm>
#include <cmath>
#include <memory>

#include "mle/kernel.h"

namespace mle {
namespace {

inline float in32(const View& v, int64_t r, int64_t c) {
  return v.dtype == DType::kF32 ? v.row<float>(r)[c] : static_cast<float>(v.row<double>(r)[c]);
}

// 1 / (1 + exp(-x)) with the exponent clipped at 88.7 (XGBoost's guard against overflow).
class SigmoidF32 final : public Kernel {
 public:
  explicit SigmoidF32(int64_t cols) : cols_(cols) {}
  void run(int64_t rows, const View* in, const View& out) const override {
    for (int64_t r = 0; r < rows; ++r) {
      double* y = out.row<double>(r);
      for (int64_t c = 0; c < cols_; ++c) {
        const float x = std::min(-in32(in[0], r, c), 88.7f);
        const float denom = std::exp(x) + 1.0f;
        y[c] = static_cast<double>(1.0f / denom);
      }
    }
  }

 private:
  int64_t cols_;
};

// exp(x) in float32 (XGBoost's count:poisson, reg:gamma, reg:tweedie, survival links).
class ExpF32 final : public Kernel {
 public:
  explicit ExpF32(int64_t cols) : cols_(cols) {}
  void run(int64_t rows, const View* in, const View& out) const override {
    for (int64_t r = 0; r < rows; ++r) {
      double* y = out.row<double>(r);
      for (int64_t c = 0; c < cols_; ++c) y[c] = static_cast<double>(std::exp(in32(in[0], r, c)));
    }
  }

 private:
  int64_t cols_;
};

// exp(x - max) per column in float32, summed in order in double, each divided by the sum
// rounded to float32.
class SoftmaxF32 final : public Kernel {
 public:
  explicit SoftmaxF32(int64_t cols) : cols_(cols) {}
  void run(int64_t rows, const View* in, const View& out) const override {
    for (int64_t r = 0; r < rows; ++r) {
      double* y = out.row<double>(r);
      float m = in32(in[0], r, 0);
      for (int64_t c = 1; c < cols_; ++c) m = std::max(m, in32(in[0], r, c));
      double s = 0.0;  // XGBoost sums the float32 exponentials in double
      for (int64_t c = 0; c < cols_; ++c) {
        const float e = std::exp(in32(in[0], r, c) - m);
        y[c] = static_cast<double>(e);
        s += y[c];
      }
      const float sf = static_cast<float>(s);
      for (int64_t c = 0; c < cols_; ++c) y[c] = static_cast<double>(static_cast<float>(y[c]) / sf);
    }
  }

 private:
  int64_t cols_;
};

template <class K>
Status make(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  ValueInfo in;
  MLE_RETURN_IF_ERROR(b.float_input(&in));
  k->reset(new K(in.cols));
  *out = ValueInfo{in.cols, ValueKind::kF64};
  return Status::OK();
}

}  // namespace

const OpRegistrar kRegistered({
    {"SigmoidF32", make<SigmoidF32>, 1, {}},
    {"SoftmaxF32", make<SoftmaxF32>, 1, {}},
    {"ExpF32", make<ExpF32>, 1, {}},
});

}  // namespace mle
