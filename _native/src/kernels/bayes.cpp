// Naive Bayes: the joint log-likelihoods of GaussianNB and CategoricalNB, and the
// log-sum-exp normalisation every naive Bayes classifier applies to them. Each mirrors the
// numpy code of scikit-learn's sklearn/naive_bayes.py (named per kernel).
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

// GaussianNB._joint_log_likelihood, per class i:
//   log_prior[i] + (norm[i] - 0.5 * sum_j ((x_j - theta[i, j]) ** 2 / var[i, j]))
// with norm[i] = -0.5 * sum(log(2 pi var[i])) computed at export exactly as scikit-learn does.
// X - theta_ is float64 arithmetic for float32 input too (theta_ is float64).
class GaussianLogLikelihood final : public Kernel {
 public:
  GaussianLogLikelihood(int64_t c, int64_t k, const double* theta, const double* var,
                        const double* log_prior, const double* norm)
      : c_(c), k_(k), theta_(theta), var_(var), lp_(log_prior), norm_(norm) {}

  double cost_per_row() const override { return 3.0 * static_cast<double>(c_ * k_); }

  void run(int64_t rows, const View* in, const View& out) const override {
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t i = 0; i < k_; ++i) {
        const double* t = theta_ + i * c_;
        const double* v = var_ + i * c_;
        double s = 0.0;
        for (int64_t j = 0; j < c_; ++j) {
          const double d = get(in[0], r, j) - t[j];
          s += (d * d) / v[j];
        }
        put(out, r, i, lp_[i] + (norm_[i] - 0.5 * s));
      }
    }
  }

 private:
  int64_t c_, k_;
  const double *theta_, *var_, *lp_, *norm_;
};

Status make_gaussian(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  ValueInfo in;
  MLE_RETURN_IF_ERROR(b.float_input(&in));
  const TensorRef *theta, *var, *lp, *norm;
  MLE_RETURN_IF_ERROR(b.tensor("theta", DType::kF64, {-1, in.cols}, &theta));
  const int64_t n = theta->shape[0];
  if (n == 0) return b.error("theta has no rows (no classes)");
  MLE_RETURN_IF_ERROR(b.tensor("var", DType::kF64, {n, in.cols}, &var));
  MLE_RETURN_IF_ERROR(b.tensor("log_prior", DType::kF64, {n}, &lp));
  MLE_RETURN_IF_ERROR(b.tensor("norm", DType::kF64, {n}, &norm));
  k->reset(new GaussianLogLikelihood(in.cols, n, theta->as<double>(), var->as<double>(),
                                     lp->as<double>(), norm->as<double>()));
  *out = ValueInfo{n, ValueKind::kF64};
  return Status::OK();
}

// CategoricalNB._joint_log_likelihood: X is converted to int64 (as numpy's astype does:
// truncation toward zero), then per class jll = sum over features, in feature order, of
// feature_log_prob_[j][class, x_j], plus class_log_prior_. table holds feature j's rows
// (one per category, one column per class) at offsets[j] .. offsets[j + 1].
// scikit-learn raises on a negative value (ValueError) and on a category the feature does not
// have (IndexError): those blocks are refused.
class CategoricalLogLikelihood final : public Kernel {
 public:
  CategoricalLogLikelihood(int64_t c, int64_t k, const int64_t* offsets, const double* table,
                           const double* log_prior)
      : c_(c), k_(k), off_(offsets), table_(table), lp_(log_prior) {}

  double cost_per_row() const override { return static_cast<double>(c_ * k_); }
  bool checks_input() const override { return true; }

  // numpy's float -> int64 conversion on x86-64: in range, truncation; otherwise INT64_MIN.
  static int64_t to_int64(double v) {
    const double t = std::trunc(v);
    if (!(t >= -9223372036854775808.0 && t < 9223372036854775808.0))
      return std::numeric_limits<int64_t>::min();
    return static_cast<int64_t>(t);
  }

  std::string refusal(int64_t rows, const View* in) const override {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < c_; ++j)
        if (to_int64(get(in[0], r, j)) < 0)
          return "Negative values in data passed to CategoricalNB (input X).";
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < c_; ++j) {
        const int64_t v = to_int64(get(in[0], r, j));
        const int64_t n = off_[j + 1] - off_[j];
        if (v >= n)
          return "index " + std::to_string(v) + " is out of bounds for axis 1 with size " +
                 std::to_string(n) + ": feature " + std::to_string(j) + " has category " +
                 std::to_string(v) + ", but CategoricalNB knows only categories 0 to " +
                 std::to_string(n - 1) +
                 " for it (scikit-learn raises IndexError here; fit with min_categories to "
                 "allow more)";
      }
    return {};
  }

  void run(int64_t rows, const View* in, const View& out) const override {
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t i = 0; i < k_; ++i) {
        double s = 0.0;
        for (int64_t j = 0; j < c_; ++j) {
          const int64_t v = to_int64(get(in[0], r, j));
          s += table_[(off_[j] + v) * k_ + i];
        }
        put(out, r, i, s + lp_[i]);
      }
    }
  }

 private:
  int64_t c_, k_;
  const int64_t* off_;
  const double *table_, *lp_;
};

Status make_categorical(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  ValueInfo in;
  MLE_RETURN_IF_ERROR(b.float_input(&in));
  const TensorRef *offs, *table, *lp;
  MLE_RETURN_IF_ERROR(b.tensor("offsets", DType::kI64, {in.cols + 1}, &offs));
  MLE_RETURN_IF_ERROR(b.tensor("table", DType::kF64, {-1, -1}, &table));
  const int64_t n = table->shape[1];
  if (n == 0) return b.error("table has no columns (no classes)");
  MLE_RETURN_IF_ERROR(b.tensor("log_prior", DType::kF64, {n}, &lp));
  const int64_t* o = offs->as<int64_t>();
  if (o[0] != 0) return b.error("offsets must start at 0");
  for (int64_t j = 0; j < in.cols; ++j)
    if (o[j + 1] <= o[j]) return b.error("offsets must increase (every feature has a category)");
  if (o[in.cols] != table->shape[0])
    return b.error("offsets must end at the number of table rows (" +
                   std::to_string(table->shape[0]) + "), got " + std::to_string(o[in.cols]));
  k->reset(new CategoricalLogLikelihood(in.cols, n, o, table->as<double>(), lp->as<double>()));
  *out = ValueInfo{n, ValueKind::kF64};
  return Status::OK();
}

// _BaseNB.predict_log_proba: jll - logsumexp(jll) per row, with scikit-learn's _logsumexp
// (sklearn/utils/_array_api.py): a = max, m = how many entries equal it, s = sum of
// exp(x - a) over the others (in column order), s /= m unless 0,
// lse = (log1p(s) + log(m)) + a (a replaced by 0 as the shift when it is not finite).
class LogSumExpNormalize final : public Kernel {
 public:
  explicit LogSumExpNormalize(int64_t cols) : cols_(cols) {}
  void run(int64_t rows, const View* in, const View& out) const override {
    for (int64_t r = 0; r < rows; ++r) {
      const double lse = row_logsumexp(in[0], r, cols_);
      for (int64_t c = 0; c < cols_; ++c) put(out, r, c, get(in[0], r, c) - lse);
    }
  }

 private:
  int64_t cols_;
};

Status make_lse_normalize(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  ValueInfo in;
  MLE_RETURN_IF_ERROR(b.float_input(&in));
  k->reset(new LogSumExpNormalize(in.cols));
  *out = ValueInfo{in.cols, in.kind};
  return Status::OK();
}

}  // namespace

using attr::tensor;

const OpRegistrar kRegistered({
    {"GaussianLogLikelihood", make_gaussian, 1,
     {tensor("theta", DType::kF64), tensor("var", DType::kF64), tensor("log_prior", DType::kF64),
      tensor("norm", DType::kF64)}},
    {"CategoricalLogLikelihood", make_categorical, 1,
     {tensor("offsets", DType::kI64), tensor("table", DType::kF64),
      tensor("log_prior", DType::kF64)}},
    {"LogSumExpNormalize", make_lse_normalize, 1, {}},
});

double row_logsumexp(const View& v, int64_t r, int64_t cols) {
  double a = get(v, r, 0);
  for (int64_t c = 1; c < cols; ++c) {
    const double x = get(v, r, c);
    if (x > a || std::isnan(x)) a = x;
    if (std::isnan(a)) break;
  }
  const double shift = std::isfinite(a) ? a : 0.0;
  double m = 0.0, s = 0.0;
  for (int64_t c = 0; c < cols; ++c) {
    const double x = get(v, r, c);
    if (x == a)
      m += 1.0;
    else
      s += std::exp(x - shift);
  }
  if (s != 0.0) s = s / m;
  return (std::log1p(s) + std::log(m)) + a;
}

}  // namespace mle
