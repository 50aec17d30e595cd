// Combining the outputs of several models: WeightedMean (soft voting, calibrated ensembles,
// np.average over the members), Vote (hard voting: np.argmax(np.bincount(x, weights))),
// AsFloat64 (class indices or float values as float64 columns, for stacking and transforms),
// IndexConcat
// (class indices of several outputs side by side) and MathFn (elementwise numpy functions:
// FunctionTransformer, TransformedTargetRegressor).
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "mle/kernel.h"

namespace mle {
namespace {

inline double get(const View& v, int64_t r, int64_t c) {
  return v.dtype == DType::kF32 ? static_cast<double>(v.row<float>(r)[c]) : v.row<double>(r)[c];
}

// y = (x_0 * w_0 + x_1 * w_1 + ...) / (w_0 + w_1 + ...), both sums in input order, or without
// weights (x_0 + x_1 + ...) / m: np.average(np.asarray(values), axis=0, weights=w), which adds
// the members one after another. Without weights the arithmetic is in the output's type (numpy
// keeps float32 members in float32); with weights it is float64.
class WeightedMean final : public Kernel {
 public:
  WeightedMean(int64_t m, int64_t cols, const double* weights, double total)
      : m_(m), cols_(cols), weights_(weights), total_(total) {}
  void run(int64_t rows, const View* in, const View& out) const override {
    dispatch_float(out.dtype, [&](auto tag) {
      using T = decltype(tag);
      for (int64_t r = 0; r < rows; ++r) {
        T* y = out.row<T>(r);
        for (int64_t c = 0; c < cols_; ++c) {
          T acc;
          if (weights_) {
            acc = static_cast<T>(get(in[0], r, c) * weights_[0]);
            for (int64_t i = 1; i < m_; ++i)
              acc = static_cast<T>(acc + get(in[i], r, c) * weights_[i]);
            y[c] = static_cast<T>(acc / total_);
          } else {
            acc = static_cast<T>(get(in[0], r, c));
            for (int64_t i = 1; i < m_; ++i) acc = static_cast<T>(acc + static_cast<T>(get(in[i], r, c)));
            y[c] = static_cast<T>(acc / static_cast<T>(m_));
          }
        }
      }
    });
  }
  double cost_per_row() const override { return static_cast<double>(m_ * cols_) / 2.0; }

 private:
  int64_t m_, cols_;
  const double* weights_;
  double total_;
};

Status finite_vector(const NodeBuild& b, const char* key, const TensorRef* t) {
  const double* v = t->as<double>();
  for (int64_t i = 0; i < t->shape[0]; ++i)
    if (!std::isfinite(v[i]))
      return b.error(std::string("'") + key + "' entry " + std::to_string(i) + " is not finite");
  return Status::OK();
}

Status make_weighted_mean(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  const std::vector<ValueInfo>& ins = b.inputs();
  if (ins.empty()) return b.error("needs at least one input");
  const int64_t m = static_cast<int64_t>(ins.size());
  bool all_input = true;
  for (int64_t i = 0; i < m; ++i) {
    if (ins[i].kind == ValueKind::kI64)
      return b.error("input " + std::to_string(i) + " must be floating point");
    if (ins[i].cols != ins[0].cols)
      return b.error("input " + std::to_string(i) + " has " + std::to_string(ins[i].cols) +
                     " column(s); input 0 has " + std::to_string(ins[0].cols));
    if (ins[i].kind != ValueKind::kInput) all_input = false;
  }
  const TensorRef* w;
  MLE_RETURN_IF_ERROR(b.tensor("weights", DType::kF64, {m}, &w, true));
  double total = 0.0;
  if (w) {
    MLE_RETURN_IF_ERROR(finite_vector(b, "weights", w));
    total = w->as<double>()[0];
    for (int64_t i = 1; i < m; ++i) total += w->as<double>()[i];
    if (!(total != 0.0) || !std::isfinite(total))
      return b.error("'weights' must have a finite, non-zero sum");
  }
  k->reset(new WeightedMean(m, ins[0].cols, w ? w->as<double>() : nullptr, total));
  *out = ValueInfo{ins[0].cols, (all_input && !w) ? ValueKind::kInput : ValueKind::kF64};
  return Status::OK();
}

// Hard voting. Each input is one column of class indices in [0, n_classes); per row the
// output is np.argmax(np.bincount(indices, weights)): each member adds its weight (1 without
// weights) to its class, in input order; the winner is the first class with the largest sum
// among classes 0 .. the largest index voted for.
class Vote final : public Kernel {
 public:
  Vote(int64_t m, int64_t n_classes, const double* weights)
      : m_(m), n_classes_(n_classes), weights_(weights) {}
  void run(int64_t rows, const View* in, const View& out) const override {
    std::vector<double> count(static_cast<size_t>(n_classes_), 0.0);
    for (int64_t r = 0; r < rows; ++r) {
      int64_t top = 0;
      for (int64_t i = 0; i < m_; ++i) {
        const int64_t c = in[i].row<int64_t>(r)[0];
        if (c > top) top = c;
      }
      for (int64_t c = 0; c <= top; ++c) count[c] = 0.0;
      for (int64_t i = 0; i < m_; ++i)
        count[in[i].row<int64_t>(r)[0]] += weights_ ? weights_[i] : 1.0;
      int64_t best = 0;
      for (int64_t c = 1; c <= top; ++c)
        if (count[c] > count[best]) best = c;
      out.row<int64_t>(r)[0] = best;
    }
  }
  double cost_per_row() const override { return static_cast<double>(m_ + n_classes_); }

 private:
  int64_t m_, n_classes_;
  const double* weights_;
};

constexpr int64_t kMaxClasses = int64_t{1} << 24;

Status make_vote(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  const std::vector<ValueInfo>& ins = b.inputs();
  if (ins.empty()) return b.error("needs at least one input");
  const int64_t m = static_cast<int64_t>(ins.size());
  double nc;
  MLE_RETURN_IF_ERROR(b.number("n_classes", &nc));
  if (!(nc >= 1.0 && nc <= static_cast<double>(kMaxClasses)) || nc != std::floor(nc))
    return b.error("'n_classes' must be an integer in [1, 2^24]");
  const int64_t n_classes = static_cast<int64_t>(nc);
  for (int64_t i = 0; i < m; ++i) {
    const ValueInfo& v = ins[i];
    if (v.kind != ValueKind::kI64 || v.cols != 1)
      return b.error("input " + std::to_string(i) + " must be one column of class indices");
    const int64_t bound = v.index_bounds ? v.index_bounds[0] : v.index_bound;
    if (bound < 1 || bound > n_classes)
      return b.error("input " + std::to_string(i) + " is not a class index below 'n_classes'");
  }
  const TensorRef* w;
  MLE_RETURN_IF_ERROR(b.tensor("weights", DType::kF64, {m}, &w, true));
  if (w) MLE_RETURN_IF_ERROR(finite_vector(b, "weights", w));
  k->reset(new Vote(m, n_classes, w ? w->as<double>() : nullptr));
  *out = ValueInfo{1, ValueKind::kI64, n_classes};
  return Status::OK();
}

// float64 copy of a value: class indices (int64) or floats, exactly.
class AsFloat64 final : public Kernel {
 public:
  explicit AsFloat64(int64_t cols) : cols_(cols) {}
  void run(int64_t rows, const View* in, const View& out) const override {
    for (int64_t r = 0; r < rows; ++r) {
      double* y = out.row<double>(r);
      if (in[0].dtype == DType::kI64) {
        const int64_t* x = in[0].row<int64_t>(r);
        for (int64_t c = 0; c < cols_; ++c) y[c] = static_cast<double>(x[c]);
      } else {
        for (int64_t c = 0; c < cols_; ++c) y[c] = get(in[0], r, c);
      }
    }
  }
  double cost_per_row() const override { return static_cast<double>(cols_) / 8.0; }

 private:
  int64_t cols_;
};

Status make_as_float64(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  MLE_RETURN_IF_ERROR(b.expect_inputs(1));
  const ValueInfo& in = b.inputs()[0];
  if (in.kind == ValueKind::kI64) {
    // Only class indices (bounded, so exact in float64) convert.
    for (int64_t c = 0; c < in.cols; ++c) {
      const int64_t bound = in.index_bounds ? in.index_bounds[c] : in.index_bound;
      if (bound < 1 || bound > (int64_t{1} << 53))
        return b.error("an int64 input must hold class indices");
    }
  }
  k->reset(new AsFloat64(in.cols));
  *out = ValueInfo{in.cols, ValueKind::kF64};
  return Status::OK();
}

// Several one-column-or-more class-index values side by side (multi-output classifiers'
// predict: np.asarray([e.predict(X) for e in estimators_]).T, before the labels). Each
// output column keeps its input column's index bound.
class IndexConcat final : public Kernel {
 public:
  IndexConcat(std::vector<int64_t> widths, std::vector<int64_t> bounds)
      : widths_(std::move(widths)), bounds_(std::move(bounds)) {}
  void run(int64_t rows, const View* in, const View& out) const override {
    for (int64_t r = 0; r < rows; ++r) {
      int64_t* y = out.row<int64_t>(r);
      for (size_t i = 0; i < widths_.size(); ++i) {
        const int64_t* x = in[i].row<int64_t>(r);
        for (int64_t j = 0; j < widths_[i]; ++j) *y++ = x[j];
      }
    }
  }
  const int64_t* bounds() const { return bounds_.data(); }
  double cost_per_row() const override { return static_cast<double>(bounds_.size()) / 8.0; }

 private:
  std::vector<int64_t> widths_;
  std::vector<int64_t> bounds_;
};

Status make_index_concat(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  const std::vector<ValueInfo>& ins = b.inputs();
  if (ins.empty()) return b.error("needs at least one input");
  std::vector<int64_t> widths, bounds;
  for (size_t i = 0; i < ins.size(); ++i) {
    const ValueInfo& v = ins[i];
    if (v.kind != ValueKind::kI64)
      return b.error("input " + std::to_string(i) + " must hold class indices");
    for (int64_t c = 0; c < v.cols; ++c) {
      const int64_t bound = v.index_bounds ? v.index_bounds[c] : v.index_bound;
      if (bound < 1) return b.error("input " + std::to_string(i) + " must hold class indices");
      bounds.push_back(bound);
    }
    widths.push_back(v.cols);
  }
  const int64_t total = static_cast<int64_t>(bounds.size());
  auto* kernel = new IndexConcat(std::move(widths), std::move(bounds));
  k->reset(kernel);
  *out = ValueInfo{total, ValueKind::kI64, 0, kernel->bounds()};
  return Status::OK();
}

// Elementwise numpy functions (FunctionTransformer's func, TransformedTargetRegressor's
// func/inverse_func), by name in kMathFns. The output keeps the input's float kind (computed in
// float64 with the C library's function, rounded once).
double np_sign(double v) { return v > 0.0 ? 1.0 : v < 0.0 ? -1.0 : v == 0.0 ? 0.0 : v; }
double np_square(double v) { return v * v; }
double np_negative(double v) { return -v; }
double np_reciprocal(double v) { return 1.0 / v; }
double np_expm1(double v) { return std::expm1(v); }
double np_log1p(double v) { return std::log1p(v); }
double np_sqrt(double v) { return std::sqrt(v); }
double np_exp(double v) { return std::exp(v); }
double np_log(double v) { return std::log(v); }
double np_exp2(double v) { return std::exp2(v); }
double np_log2(double v) { return std::log2(v); }
double np_log10(double v) { return std::log10(v); }
double np_cbrt(double v) { return std::cbrt(v); }
double np_abs(double v) { return std::fabs(v); }
double np_sin(double v) { return std::sin(v); }
double np_cos(double v) { return std::cos(v); }
double np_tanh(double v) { return std::tanh(v); }
double np_sinh(double v) { return std::sinh(v); }
double np_cosh(double v) { return std::cosh(v); }
double np_arcsinh(double v) { return std::asinh(v); }
double np_arctan(double v) { return std::atan(v); }

struct MathFnEntry {
  const char* name;
  double (*fn)(double);
};
const MathFnEntry kMathFns[] = {
    {"expm1", np_expm1},     {"log1p", np_log1p},     {"sqrt", np_sqrt},
    {"square", np_square},   {"exp", np_exp},         {"log", np_log},
    {"exp2", np_exp2},       {"log2", np_log2},       {"log10", np_log10},
    {"cbrt", np_cbrt},       {"abs", np_abs},         {"negative", np_negative},
    {"reciprocal", np_reciprocal}, {"sign", np_sign}, {"sin", np_sin},
    {"cos", np_cos},         {"tanh", np_tanh},       {"sinh", np_sinh},
    {"cosh", np_cosh},       {"arcsinh", np_arcsinh}, {"arctan", np_arctan},
};

std::vector<std::string> math_fn_names() {
  std::vector<std::string> names;
  for (const MathFnEntry& e : kMathFns) names.emplace_back(e.name);
  return names;
}

class MathFn final : public Kernel {
 public:
  MathFn(int64_t cols, double (*fn)(double)) : cols_(cols), fn_(fn) {}
  void run(int64_t rows, const View* in, const View& out) const override {
    dispatch_float(out.dtype, [&](auto tag) {
      using T = decltype(tag);
      for (int64_t r = 0; r < rows; ++r) {
        T* y = out.row<T>(r);
        for (int64_t c = 0; c < cols_; ++c) y[c] = static_cast<T>(fn_(get(in[0], r, c)));
      }
    });
  }

 private:
  int64_t cols_;
  double (*fn_)(double);
};

Status make_math_fn(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  ValueInfo in;
  MLE_RETURN_IF_ERROR(b.float_input(&in));
  std::string fn;
  MLE_RETURN_IF_ERROR(b.string("fn", &fn));
  for (const MathFnEntry& e : kMathFns)
    if (fn == e.name) {
      k->reset(new MathFn(in.cols, e.fn));
      *out = ValueInfo{in.cols, in.kind};
      return Status::OK();
    }
  return b.error("unknown 'fn' '" + fn + "'");
}

// One-vs-one decision values (scikit-learn's _ovr_decision_function): input 0 holds the m =
// K (K - 1) / 2 pairwise predictions (class indices 0 or 1, pairs (i, j), i < j, in order),
// input 1 their confidences. For pair k = (i, j): votes[i] += 1 where the prediction is 0,
// votes[j] += 1 where it is 1; s[i] -= conf_k, s[j] += conf_k (from 0, in pair order).
// y = votes + s / (3 * (|s| + 1)).
class OvoDecision final : public Kernel {
 public:
  explicit OvoDecision(int64_t n_classes) : k_(n_classes) {}
  void run(int64_t rows, const View* in, const View& out) const override {
    std::vector<double> votes(static_cast<size_t>(k_)), s(static_cast<size_t>(k_));
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t* p = in[0].row<int64_t>(r);
      std::fill(votes.begin(), votes.end(), 0.0);
      std::fill(s.begin(), s.end(), 0.0);
      int64_t pair = 0;
      for (int64_t i = 0; i < k_; ++i) {
        for (int64_t j = i + 1; j < k_; ++j, ++pair) {
          const double c = get(in[1], r, pair);
          s[i] -= c;
          s[j] += c;
          if (p[pair] == 0) votes[i] += 1.0;
          else if (p[pair] == 1) votes[j] += 1.0;
        }
      }
      double* y = out.row<double>(r);
      for (int64_t c = 0; c < k_; ++c) y[c] = votes[c] + s[c] / (3.0 * (std::fabs(s[c]) + 1.0));
    }
  }
  double cost_per_row() const override { return static_cast<double>(k_ * k_); }

 private:
  int64_t k_;
};

Status make_ovo_decision(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  MLE_RETURN_IF_ERROR(b.expect_inputs(2));
  const ValueInfo& pred = b.inputs()[0];
  const ValueInfo& conf = b.inputs()[1];
  double nc;
  MLE_RETURN_IF_ERROR(b.number("n_classes", &nc));
  if (!(nc >= 2.0 && nc <= 65536.0) || nc != std::floor(nc))
    return b.error("'n_classes' must be an integer in [2, 65536]");
  const int64_t n = static_cast<int64_t>(nc);
  const int64_t pairs = n * (n - 1) / 2;
  if (pred.kind != ValueKind::kI64 || pred.cols != pairs)
    return b.error("input 0 must hold " + std::to_string(pairs) + " columns of class indices");
  for (int64_t c = 0; c < pairs; ++c) {
    const int64_t bound = pred.index_bounds ? pred.index_bounds[c] : pred.index_bound;
    if (bound < 1 || bound > 2) return b.error("input 0 must hold binary class indices");
  }
  if (conf.kind == ValueKind::kI64 || conf.cols != pairs)
    return b.error("input 1 must hold " + std::to_string(pairs) + " floating-point columns");
  k->reset(new OvoDecision(n));
  *out = ValueInfo{n, ValueKind::kF64};
  return Status::OK();
}

const OpRegistrar kRegistered({
    {"WeightedMean", make_weighted_mean, kAnyInputs,
     {attr::tensor("weights", DType::kF64, kOptional)}},
    {"Vote", make_vote, kAnyInputs,
     {attr::number("n_classes"), attr::tensor("weights", DType::kF64, kOptional)}},
    {"AsFloat64", make_as_float64, 1, {}},
    {"IndexConcat", make_index_concat, kAnyInputs, {}},
    {"MathFn", make_math_fn, 1, {attr::string("fn", math_fn_names())}},
    {"OvoDecision", make_ovo_decision, 2, {attr::number("n_classes")}},
});

}  // namespace
}  // namespace mle
