// Output heads of classifiers: link functions, probability normalisation and label choice.
// Each mirrors the numpy code of the scikit-learn method it serves (named per kernel).
#include <algorithm>
#include <cmath>

#include "mle/kernel.h"

namespace mle {
namespace {

// Reads column c of row r of a float view as double.
inline double get(const View& v, int64_t r, int64_t c) {
  return v.dtype == DType::kF32 ? static_cast<double>(v.row<float>(r)[c]) : v.row<double>(r)[c];
}

// Writes a double into a float view (float32 values are rounded once, at the end).
inline void put(const View& v, int64_t r, int64_t c, double x) {
  if (v.dtype == DType::kF32)
    v.row<float>(r)[c] = static_cast<float>(x);
  else
    v.row<double>(r)[c] = x;
}

// Heads keep the float type of their input: float64 for float64 models, and the caller's type
// for models fitted on float32 data, as numpy does in scikit-learn's own code.
ValueInfo same_kind(const NodeBuild& b, int64_t cols) { return ValueInfo{cols, b.inputs()[0].kind}; }

Status float_input(const NodeBuild& b) {
  ValueInfo in;
  return b.float_input(&in);
}

// Elementwise maps: Sigmoid (scipy.special.expit), Log (np.log), Exp (np.exp), HuberScale
// ((clip(x, -1, 1) + 1) / 2, SGDClassifier's modified_huber probability), SignedSquare
// (sign(x) * x * x, LightGBM's regression objectives with reg_sqrt) and Log1pExp
// (log1p(exp(x)), LightGBM's cross_entropy_lambda), each written as its framework writes it.
template <int Fn>
class Elementwise final : public Kernel {
 public:
  explicit Elementwise(int64_t cols) : cols_(cols) {}
  void run(int64_t rows, const View* in, const View& out) const override {
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < cols_; ++c) {
        double v = get(in[0], r, c);
        double y;
        if (Fn == 0) {
          y = 1.0 / (1.0 + std::exp(-v));
        } else if (Fn == 1) {
          y = std::log(v);
        } else if (Fn == 3) {
          y = std::exp(v);
        } else if (Fn == 5) {
          const double sign = static_cast<double>((v > 0.0) - (v < 0.0));
          y = sign * v * v;
        } else if (Fn == 6) {
          y = std::log1p(std::exp(v));
        } else if (Fn == 4) {
          y = -std::pow(2.0, -v);  // IsolationForest.score_samples: -(2 ** -(depth / c))
        } else {
          double p = std::min(std::max(v, -1.0), 1.0);
          p += 1.0;
          y = p / 2.0;
        }
        put(out, r, c, y);
      }
    }
  }

 private:
  int64_t cols_;
};

template <int Fn>
Status make_elementwise(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  MLE_RETURN_IF_ERROR(float_input(b));
  k->reset(new Elementwise<Fn>(b.inputs()[0].cols));
  *out = same_kind(b, b.inputs()[0].cols);
  return Status::OK();
}

// One positive-class probability column p -> [1 - p, p].
class BinaryProba final : public Kernel {
 public:
  void run(int64_t rows, const View* in, const View& out) const override {
    for (int64_t r = 0; r < rows; ++r) {
      double p = get(in[0], r, 0);
      put(out, r, 0, 1.0 - p);
      put(out, r, 1, p);
    }
  }
};

Status make_binary_proba(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  MLE_RETURN_IF_ERROR(float_input(b));
  if (b.inputs()[0].cols != 1) return b.error("input must have exactly one column");
  k->reset(new BinaryProba());
  *out = same_kind(b, 2);
  return Status::OK();
}

// Row normalisation p / p.sum(axis=1). A row summing to zero becomes uniform with
// zero_rows="uniform" (LinearClassifierMixin._predict_proba_lr, SGDClassifier modified_huber),
// is left as it is with zero_rows="keep" (OneVsRestClassifier.predict_proba) and is divided
// by its zero sum with zero_rows="divide" (0 / 0 = NaN: LabelPropagation.predict_proba).
class NormalizeRows final : public Kernel {
 public:
  NormalizeRows(int64_t cols, bool uniform, bool divide)
      : cols_(cols), uniform_(uniform), divide_(divide) {}
  void run(int64_t rows, const View* in, const View& out) const override {
    for (int64_t r = 0; r < rows; ++r) {
      double s = 0.0;
      for (int64_t c = 0; c < cols_; ++c) s += get(in[0], r, c);
      for (int64_t c = 0; c < cols_; ++c) {
        double v = get(in[0], r, c);
        if (s != 0.0 || divide_)
          v /= s;
        else if (uniform_)
          v = 1.0 / static_cast<double>(cols_);
        put(out, r, c, v);
      }
    }
  }

 private:
  int64_t cols_;
  bool uniform_, divide_;
};

Status make_normalize_rows(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  MLE_RETURN_IF_ERROR(float_input(b));
  std::string mode;
  MLE_RETURN_IF_ERROR(b.string("zero_rows", &mode));
  if (mode != "uniform" && mode != "keep" && mode != "divide")
    return b.error("zero_rows must be 'uniform', 'keep' or 'divide', got '" + mode + "'");
  k->reset(new NormalizeRows(b.inputs()[0].cols, mode == "uniform", mode == "divide"));
  *out = same_kind(b, b.inputs()[0].cols);
  return Status::OK();
}

// sklearn.utils.extmath.softmax: subtract the row max, exponentiate, divide by the sum.
class Softmax final : public Kernel {
 public:
  explicit Softmax(int64_t cols) : cols_(cols) {}
  void run(int64_t rows, const View* in, const View& out) const override {
    constexpr int64_t kStack = 64;
    double stack[kStack];
    std::unique_ptr<double[]> heap(cols_ > kStack ? new double[cols_] : nullptr);
    double* e = heap ? heap.get() : stack;
    for (int64_t r = 0; r < rows; ++r) {
      double m = get(in[0], r, 0);
      for (int64_t c = 1; c < cols_; ++c) m = std::max(m, get(in[0], r, c));
      double s = 0.0;
      for (int64_t c = 0; c < cols_; ++c) {
        e[c] = std::exp(get(in[0], r, c) - m);
        s += e[c];
      }
      for (int64_t c = 0; c < cols_; ++c) put(out, r, c, e[c] / s);
    }
  }

 private:
  int64_t cols_;
};

Status make_softmax(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  MLE_RETURN_IF_ERROR(float_input(b));
  k->reset(new Softmax(b.inputs()[0].cols));
  *out = same_kind(b, b.inputs()[0].cols);
  return Status::OK();
}

// Class index per row. One column: index 1 where the score is > 0 (binary decision function;
// >= 0 with ge=true, as GradientBoostingClassifier.predict). Several: the arg-max, the first
// maximum on ties (np.argmax).
class ArgMax final : public Kernel {
 public:
  ArgMax(int64_t cols, bool ge) : cols_(cols), ge_(ge) {}
  void run(int64_t rows, const View* in, const View& out) const override {
    for (int64_t r = 0; r < rows; ++r) {
      int64_t* y = out.row<int64_t>(r);
      if (cols_ == 1) {
        const double v = get(in[0], r, 0);
        y[0] = (ge_ ? v >= 0.0 : v > 0.0) ? 1 : 0;
        continue;
      }
      int64_t best = 0;
      double bv = get(in[0], r, 0);
      for (int64_t c = 1; c < cols_; ++c) {
        double v = get(in[0], r, c);
        if (v > bv) {
          bv = v;
          best = c;
        }
      }
      y[0] = best;
    }
  }

 private:
  int64_t cols_;
  bool ge_;
};

Status make_argmax(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  MLE_RETURN_IF_ERROR(float_input(b));
  bool ge;
  MLE_RETURN_IF_ERROR(b.boolean_or("ge", false, &ge));
  k->reset(new ArgMax(b.inputs()[0].cols, ge));
  *out = ValueInfo{1, ValueKind::kI64, std::max<int64_t>(2, b.inputs()[0].cols)};
  return Status::OK();
}

// Multi-output classifiers: the input's columns are consecutive segments (one per output, of
// segments[k] columns); output column k is the arg-max inside segment k (first maximum on ties).
class SegmentArgMax final : public Kernel {
 public:
  SegmentArgMax(const int64_t* seg, int64_t n) : seg_(seg), n_(n) {}
  void run(int64_t rows, const View* in, const View& out) const override {
    for (int64_t r = 0; r < rows; ++r) {
      int64_t* y = out.row<int64_t>(r);
      int64_t start = 0;
      for (int64_t k = 0; k < n_; ++k) {
        int64_t best = 0;
        double bv = get(in[0], r, start);
        for (int64_t c = 1; c < seg_[k]; ++c) {
          const double v = get(in[0], r, start + c);
          if (v > bv) {
            bv = v;
            best = c;
          }
        }
        y[k] = best;
        start += seg_[k];
      }
    }
  }

 private:
  const int64_t* seg_;
  int64_t n_;
};

Status make_segment_argmax(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  MLE_RETURN_IF_ERROR(float_input(b));
  const TensorRef* seg;
  MLE_RETURN_IF_ERROR(b.tensor("segments", DType::kI64, {-1}, &seg));
  int64_t total = 0;
  for (int64_t i = 0; i < seg->shape[0]; ++i) {
    const int64_t s = seg->as<int64_t>()[i];
    if (s < 1 || s > b.inputs()[0].cols) return b.error("segment sizes must be positive");
    total += s;
  }
  if (seg->shape[0] == 0 || total != b.inputs()[0].cols)
    return b.error("segments must cover the input's columns exactly");
  k->reset(new SegmentArgMax(seg->as<int64_t>(), seg->shape[0]));
  *out = ValueInfo{seg->shape[0], ValueKind::kI64, 0, seg->as<int64_t>()};
  return Status::OK();
}

// Outlier detectors' predict: -1 where the decision function is < 0, else 1 (int64).
class OutlierLabel final : public Kernel {
 public:
  void run(int64_t rows, const View* in, const View& out) const override {
    for (int64_t r = 0; r < rows; ++r) out.row<int64_t>(r)[0] = get(in[0], r, 0) < 0.0 ? -1 : 1;
  }
};

Status make_outlier_label(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  MLE_RETURN_IF_ERROR(float_input(b));
  if (b.inputs()[0].cols != 1) return b.error("input must have exactly one column");
  k->reset(new OutlierLabel());
  *out = ValueInfo{1, ValueKind::kI64};
  return Status::OK();
}

// y = x * factor (ExponentialLoss: expit(2 * raw)).
class Scale final : public Kernel {
 public:
  Scale(int64_t cols, double f) : cols_(cols), f_(f) {}
  void run(int64_t rows, const View* in, const View& out) const override {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols_; ++c) put(out, r, c, get(in[0], r, c) * f_);
  }

 private:
  int64_t cols_;
  double f_;
};

Status make_scale(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  MLE_RETURN_IF_ERROR(float_input(b));
  double f;
  MLE_RETURN_IF_ERROR(b.number("factor", &f));
  k->reset(new Scale(b.inputs()[0].cols, f));
  *out = same_kind(b, b.inputs()[0].cols);
  return Status::OK();
}

// Log-probabilities from raw scores, computed without cancellation: log(sigmoid(x)) is
// -log1p(exp(-x)) for x >= 0 and x - log1p(exp(x)) below (CatBoost's "LogProbability").
inline double log_sigmoid(double x) {
  return x >= 0.0 ? -std::log1p(std::exp(-x)) : x - std::log1p(std::exp(x));
}

// One raw score column x -> [log(1 - sigmoid(x)), log(sigmoid(x))].
class BinaryLogProba final : public Kernel {
 public:
  void run(int64_t rows, const View* in, const View& out) const override {
    for (int64_t r = 0; r < rows; ++r) {
      const double x = get(in[0], r, 0);
      put(out, r, 0, log_sigmoid(-x));
      put(out, r, 1, log_sigmoid(x));
    }
  }
};

Status make_binary_log_proba(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  MLE_RETURN_IF_ERROR(float_input(b));
  if (b.inputs()[0].cols != 1) return b.error("input must have exactly one column");
  k->reset(new BinaryLogProba());
  *out = same_kind(b, 2);
  return Status::OK();
}

// log(sigmoid(x)) per element (one-vs-all classifiers).
class LogSigmoid final : public Kernel {
 public:
  explicit LogSigmoid(int64_t cols) : cols_(cols) {}
  void run(int64_t rows, const View* in, const View& out) const override {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols_; ++c) put(out, r, c, log_sigmoid(get(in[0], r, c)));
  }

 private:
  int64_t cols_;
};

Status make_log_sigmoid(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  MLE_RETURN_IF_ERROR(float_input(b));
  k->reset(new LogSigmoid(b.inputs()[0].cols));
  *out = same_kind(b, b.inputs()[0].cols);
  return Status::OK();
}

// Row-wise log of the softmax: x - max - log(sum(exp(x - max))).
class LogSoftmax final : public Kernel {
 public:
  explicit LogSoftmax(int64_t cols) : cols_(cols) {}
  void run(int64_t rows, const View* in, const View& out) const override {
    for (int64_t r = 0; r < rows; ++r) {
      double m = get(in[0], r, 0);
      for (int64_t c = 1; c < cols_; ++c) m = std::max(m, get(in[0], r, c));
      double s = 0.0;
      for (int64_t c = 0; c < cols_; ++c) s += std::exp(get(in[0], r, c) - m);
      const double ls = std::log(s);
      for (int64_t c = 0; c < cols_; ++c) put(out, r, c, (get(in[0], r, c) - m) - ls);
    }
  }

 private:
  int64_t cols_;
};

Status make_log_softmax(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  MLE_RETURN_IF_ERROR(float_input(b));
  k->reset(new LogSoftmax(b.inputs()[0].cols));
  *out = same_kind(b, b.inputs()[0].cols);
  return Status::OK();
}

// [mean, log_sigma] -> [mean, exp(2 * log_sigma)] (CatBoost's RMSEWithUncertainty prediction:
// the mean and the variance).
class MeanVariance final : public Kernel {
 public:
  void run(int64_t rows, const View* in, const View& out) const override {
    for (int64_t r = 0; r < rows; ++r) {
      put(out, r, 0, get(in[0], r, 0));
      put(out, r, 1, std::exp(2.0 * get(in[0], r, 1)));
    }
  }
};

Status make_mean_variance(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  MLE_RETURN_IF_ERROR(float_input(b));
  if (b.inputs()[0].cols != 2) return b.error("input must have exactly two columns");
  k->reset(new MeanVariance());
  *out = same_kind(b, 2);
  return Status::OK();
}

}  // namespace

const OpRegistrar kRegistered({
    {"BinaryLogProba", make_binary_log_proba, 1, {}},
    {"LogSigmoid", make_log_sigmoid, 1, {}},
    {"LogSoftmax", make_log_softmax, 1, {}},
    {"MeanVariance", make_mean_variance, 1, {}},
    {"Scale", make_scale, 1, {attr::number("factor")}},
    {"Sigmoid", make_elementwise<0>, 1, {}},
    {"Log", make_elementwise<1>, 1, {}},
    {"Exp", make_elementwise<3>, 1, {}},
    {"AnomalyScore", make_elementwise<4>, 1, {}},
    {"OutlierLabel", make_outlier_label, 1, {}},
    {"SegmentArgMax", make_segment_argmax, 1, {attr::tensor("segments", DType::kI64)}},
    {"HuberScale", make_elementwise<2>, 1, {}},
    {"SignedSquare", make_elementwise<5>, 1, {}},
    {"Log1pExp", make_elementwise<6>, 1, {}},
    {"BinaryProba", make_binary_proba, 1, {}},
    {"NormalizeRows", make_normalize_rows, 1,
     {attr::string("zero_rows", {"uniform", "keep", "divide"})}},
    {"Softmax", make_softmax, 1, {}},
    {"ArgMax", make_argmax, 1, {attr::boolean("ge", kOptional)}},
});

}  // namespace mle
