// Transformers towards a target distribution: QuantileTransform (QuantileTransformer's
// transform, uniform or normal output) and PowerTransform (PowerTransformer's Yeo-Johnson and
// Box-Cox transforms, before its standardisation). Also the inverse of the standard normal
// CDF (ndtri), which the normal output needs.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "mle/kernel.h"

namespace mle {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kSqrt2Pi = 2.5066282746310002;   // sqrt(2 pi)
constexpr double kSqrtPi = 1.7724538509055160;    // sqrt(pi)
constexpr double kSqrt1_2 = 0.70710678118654752;  // 1 / sqrt(2)

// A starting point for ndtri on p in (0, 0.5]: P. J. Acklam's rational approximations of
// the inverse normal CDF (relative error below 1.2e-9).
double ndtri_start(double p) {
  static const double a[6] = {-3.969683028665376e+01, 2.209460984245205e+02,
                              -2.759285104469687e+02, 1.383577518672690e+02,
                              -3.066479806614716e+01, 2.506628277459239e+00};
  static const double b[5] = {-5.447609879822406e+01, 1.615858368580409e+02,
                              -1.556989798598866e+02, 6.680131188771972e+01,
                              -1.328068155288572e+01};
  static const double c[6] = {-7.784894002430293e-03, -3.223964580411365e-01,
                              -2.400758277161838e+00, -2.549732539343734e+00,
                              4.374664141464968e+00, 2.938163982698783e+00};
  static const double d[4] = {7.784695709041462e-03, 3.224671290700398e-01,
                              2.445134137142996e+00, 3.754408661907416e+00};
  if (p < 0.02425) {
    const double q = std::sqrt(-2.0 * std::log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
           ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0);
  }
  const double q = p - 0.5, r = q * q;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
         (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0);
}

// The inverse of the standard normal CDF Phi (scipy.special.ndtri, scipy.stats.norm.ppf):
// -inf at 0, inf at 1, NaN outside [0, 1]. For p > 1/2 it is -ndtri(1 - p) (1 - p is exact
// there). From the starting point, two steps of Halley's iteration on Phi(x) = p, with
// u = (Phi(x) - p) / phi(x) and x -= u / (1 + x u / 2). The residual keeps its relative
// precision in each range: 0.5 erf(x / sqrt 2) - (p - 1/2) near the centre (p - 1/2 exact),
// p ((Phi(x) / p) - 1) with Phi from erfc in the tail, and, below 1e-290 (where erfc's
// result is subnormal), log Phi from erfc's asymptotic series.
double ndtri(double p) {
  if (!(p > 0.0 && p < 1.0)) {
    if (p == 0.0) return -kInf;
    if (p == 1.0) return kInf;
    return kNaN;
  }
  const bool upper = p > 0.5;
  const double pp = upper ? 1.0 - p : p;
  double x = ndtri_start(pp);
  for (int step = 0; step < 2; ++step) {
    double u;
    if (pp < 1e-290) {
      const double t2 = 0.5 * x * x, t = -x * kSqrt1_2;
      double term = 1.0, s = 1.0;
      for (int k = 1; k < 40; ++k) {
        term *= -(2.0 * k - 1.0) / (2.0 * t2);
        s += term;
        if (std::fabs(term) < 1e-18) break;
      }
      const double log_cdf = -t2 - std::log(2.0 * t * kSqrtPi) + std::log(s);
      const double q = std::expm1(log_cdf - std::log(pp));
      u = q * std::exp(std::log(pp) + t2) * kSqrt2Pi;
    } else if (pp > 0.25) {
      const double r = 0.5 * std::erf(x * kSqrt1_2) - (pp - 0.5);
      u = r * kSqrt2Pi * std::exp(0.5 * x * x);
    } else {
      const double q = 0.5 * std::erfc(-x * kSqrt1_2) / pp - 1.0;
      const double e = std::exp(0.25 * x * x);
      u = q * ((pp * e) * e) * kSqrt2Pi;
    }
    x -= u / (1.0 + 0.5 * x * u);
  }
  return upper ? -x : x;
}

inline double get(const View& v, int64_t r, int64_t c) {
  return v.dtype == DType::kF32 ? static_cast<double>(v.row<float>(r)[c]) : v.row<double>(r)[c];
}

// np.interp(x, xp, fp) for x not NaN and xp non-decreasing, as numpy computes it: fp[0] below
// xp[0], fp[n-1] above xp[n-1]; else j with xp[j] <= x < xp[j+1] (or j = n - 1), fp[j] when
// j = n - 1 or xp[j] == x, otherwise slope (x - xp[j]) + fp[j], slope = (fp[j+1] - fp[j]) /
// (xp[j+1] - xp[j]); a NaN there is retried from the right end, then fp[j] when fp[j] ==
// fp[j+1].
double interp(double x, const double* xp, const double* fp, int64_t n) {
  if (n == 1 || x < xp[0]) return fp[0];
  if (x > xp[n - 1]) return fp[n - 1];
  const int64_t j = (std::upper_bound(xp, xp + n, x) - xp) - 1;
  if (j == n - 1 || xp[j] == x) return fp[j];
  const double slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j]);
  double y = slope * (x - xp[j]) + fp[j];
  if (std::isnan(y)) {
    y = slope * (x - xp[j + 1]) + fp[j + 1];
    if (std::isnan(y) && fp[j] == fp[j + 1]) y = fp[j];
  }
  return y;
}

constexpr double kBoundsThreshold = 1e-7;  // scikit-learn's BOUNDS_THRESHOLD

// QuantileTransformer._transform_col, column by column (n quantiles, c columns).
class QuantileTransform final : public Kernel {
 public:
  QuantileTransform(int64_t cols, int64_t n, const double* quantiles, const double* refs,
                    bool normal, double clip_min, double clip_max)
      : cols_(cols), n_(n), normal_(normal), clip_min_(clip_min), clip_max_(clip_max),
        q_(static_cast<size_t>(cols * n)), nq_(static_cast<size_t>(cols * n)),
        r_(refs, refs + n), nr_(static_cast<size_t>(n)) {
    for (int64_t c = 0; c < cols; ++c)
      for (int64_t k = 0; k < n; ++k) {
        q_[c * n + k] = quantiles[k * cols + c];
        nq_[c * n + k] = -quantiles[(n - 1 - k) * cols + c];
      }
    for (int64_t k = 0; k < n; ++k) nr_[k] = -refs[n - 1 - k];
  }

  double cost_per_row() const override {
    return static_cast<double>(cols_) * (4.0 * std::log2(static_cast<double>(n_) + 1) +
                                         (normal_ ? 60.0 : 4.0));
  }

  void run(int64_t rows, const View* in, const View& out) const override {
    dispatch_float(out.dtype, [&](auto tag) {
      using T = decltype(tag);
      for (int64_t r = 0; r < rows; ++r) {
        T* y = out.row<T>(r);
        for (int64_t c = 0; c < cols_; ++c) y[c] = static_cast<T>(at(in[0], r, c, tag));
      }
    });
  }

 private:
  // One value, in the output's type T (the input's, or float64).
  template <typename T>
  T at(const View& v, int64_t r, int64_t c, T) const {
    const double x = get(v, r, c);
    if (std::isnan(x)) return static_cast<T>(x);
    const double* q = q_.data() + c * n_;
    const double lo = q[0], hi = q[n_ - 1];
    bool below, above;
    if (!normal_) {
      below = x == lo;
      above = x == hi;
    } else if (v.dtype == DType::kF32) {
      // numpy computes X_col -/+ BOUNDS_THRESHOLD in float32, then compares in float64.
      const float xf = static_cast<float>(x), t = static_cast<float>(kBoundsThreshold);
      below = static_cast<double>(xf - t) < lo;
      above = static_cast<double>(xf + t) > hi;
    } else {
      below = x - kBoundsThreshold < lo;
      above = x + kBoundsThreshold > hi;
    }
    // The mean of the interpolations in both directions, stored in the column's type.
    T value = static_cast<T>(
        0.5 * (interp(x, q, r_.data(), n_) - interp(-x, nq_.data() + c * n_, nr_.data(), n_)));
    if (above) value = T(1);
    if (below) value = T(0);
    if (!normal_) return value;
    const double z = ndtri(static_cast<double>(value));
    return static_cast<T>(std::min(std::max(z, clip_min_), clip_max_));
  }

  int64_t cols_, n_;
  bool normal_;
  double clip_min_, clip_max_;
  std::vector<double> q_, nq_;  // per column: the quantiles, and -quantiles[::-1]
  std::vector<double> r_, nr_;  // the references, and -references[::-1]
};

Status make_quantile_transform(const NodeBuild& b, std::unique_ptr<Kernel>* k,
                               ValueInfo* out) {
  ValueInfo in;
  MLE_RETURN_IF_ERROR(b.float_input(&in));
  const TensorRef *q, *refs;
  MLE_RETURN_IF_ERROR(b.tensor("quantiles", DType::kF64, {-1, in.cols}, &q));
  const int64_t n = q->shape[0];
  if (n < 1) return b.error("'quantiles' needs at least one row");
  MLE_RETURN_IF_ERROR(b.tensor("references", DType::kF64, {n}, &refs));
  const double* qs = q->as<double>();
  for (int64_t c = 0; c < in.cols; ++c)
    for (int64_t i = 0; i < n; ++i) {
      const double v = qs[i * in.cols + c];
      if (!std::isfinite(v) || (i > 0 && v < qs[(i - 1) * in.cols + c]))
        return b.error("'quantiles' column " + std::to_string(c) +
                       " must be finite and non-decreasing");
    }
  const double* rs = refs->as<double>();
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(rs[i])) return b.error("'references' must be finite");
  std::string dist;
  MLE_RETURN_IF_ERROR(b.string("output_distribution", &dist));
  if (dist != "uniform" && dist != "normal")
    return b.error("'output_distribution' must be 'uniform' or 'normal', got '" + dist + "'");
  const bool normal = dist == "normal";
  double lo = 0.0, hi = 0.0;
  if (normal) {
    if (!b.has("clip_min") || !b.has("clip_max"))
      return b.error("the normal output needs 'clip_min' and 'clip_max'");
    MLE_RETURN_IF_ERROR(b.number("clip_min", &lo));
    MLE_RETURN_IF_ERROR(b.number("clip_max", &hi));
    if (!std::isfinite(lo) || !std::isfinite(hi) || !(lo <= hi))
      return b.error("'clip_min' and 'clip_max' must be finite with clip_min <= clip_max");
  } else if (b.has("clip_min") || b.has("clip_max")) {
    return b.error("'clip_min' and 'clip_max' belong to the normal output only");
  }
  k->reset(new QuantileTransform(in.cols, n, qs, rs, normal, lo, hi));
  *out = ValueInfo{in.cols, in.kind};
  return Status::OK();
}

// scipy.stats.yeojohnson(x, lmbda) and scipy.special.boxcox(x, lmbda), per column lambda.
class PowerTransform final : public Kernel {
 public:
  PowerTransform(int64_t cols, const double* lambdas, bool box_cox)
      : cols_(cols), lambdas_(lambdas), box_cox_(box_cox) {}

  double cost_per_row() const override { return 40.0 * static_cast<double>(cols_); }
  bool checks_input() const override { return box_cox_; }

  // PowerTransformer refuses Box-Cox input whose smallest non-NaN value is not positive.
  std::string refusal(int64_t rows, const View* in) const override {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols_; ++c)
        if (get(in[0], r, c) <= 0.0)
          return "The Box-Cox transformation can only be applied to strictly positive data";
    return {};
  }

  void run(int64_t rows, const View* in, const View& out) const override {
    dispatch_float(out.dtype, [&](auto tag) {
      using T = decltype(tag);
      for (int64_t r = 0; r < rows; ++r) {
        T* y = out.row<T>(r);
        for (int64_t c = 0; c < cols_; ++c) {
          const double x = get(in[0], r, c), l = lambdas_[c];
          y[c] = static_cast<T>(box_cox_ ? box_cox(x, l) : yeo_johnson(x, l));
        }
      }
    });
  }

 private:
  static double yeo_johnson(double x, double l) {
    constexpr double eps = std::numeric_limits<double>::epsilon();
    if (x >= 0.0) return std::fabs(l) < eps ? std::log1p(x) : std::expm1(l * std::log1p(x)) / l;
    // x < 0, and NaN
    if (std::fabs(l - 2.0) > eps) return -std::expm1((2.0 - l) * std::log1p(-x)) / (2.0 - l);
    return -std::log1p(-x);
  }
  static double box_cox(double x, double l) {
    if (std::fabs(l) < 1e-19) return std::log(x);
    const double lx = l * std::log(x);
    if (lx < 709.78) return std::expm1(lx) / l;
    return std::copysign(1.0, l) * std::exp(lx - std::log(std::fabs(l))) - 1.0 / l;
  }

  int64_t cols_;
  const double* lambdas_;
  bool box_cox_;
};

Status make_power_transform(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  ValueInfo in;
  MLE_RETURN_IF_ERROR(b.float_input(&in));
  const TensorRef* l;
  MLE_RETURN_IF_ERROR(b.tensor("lambdas", DType::kF64, {in.cols}, &l));
  for (int64_t c = 0; c < in.cols; ++c)
    if (!std::isfinite(l->as<double>()[c]))
      return b.error("'lambdas' entry " + std::to_string(c) + " is not finite");
  std::string method;
  MLE_RETURN_IF_ERROR(b.string("method", &method));
  if (method != "yeo-johnson" && method != "box-cox")
    return b.error("'method' must be 'yeo-johnson' or 'box-cox', got '" + method + "'");
  k->reset(new PowerTransform(in.cols, l->as<double>(), method == "box-cox"));
  *out = ValueInfo{in.cols, in.kind};
  return Status::OK();
}

}  // namespace

const OpRegistrar kRegistered({
    {"QuantileTransform", make_quantile_transform, 1,
     {attr::tensor("quantiles", DType::kF64), attr::tensor("references", DType::kF64),
      attr::string("output_distribution", {"uniform", "normal"}),
      attr::number("clip_min", kOptional), attr::number("clip_max", kOptional)}},
    {"PowerTransform", make_power_transform, 1,
     {attr::tensor("lambdas", DType::kF64), attr::string("method", {"yeo-johnson", "box-cox"})}},
});

}  // namespace mle
