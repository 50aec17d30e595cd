// Feature expansions: bin indices over sorted edges (KBinsDiscretizer), products of input
// columns (PolynomialFeatures) and B-spline bases (SplineTransformer). Each op computes what
// scikit-learn's transform computes, in the same order of floating-point operations
// (docs/FORMAT.md, section 11.5).
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "mle/kernel.h"

namespace mle {
namespace {

// A double rounded to binary32 (to nearest, ties to even), infinity beyond its range: the
// conversion numpy's astype performs, without C++'s undefined out-of-range cast.
inline float to_float32(double v) {
  if (std::fabs(v) >= 0x1.ffffffp127 && std::isfinite(v))
    return v > 0 ? std::numeric_limits<float>::infinity()
                 : -std::numeric_limits<float>::infinity();
  return static_cast<float>(v);
}

template <class U>
inline U narrow(double v) {
  if constexpr (std::is_same_v<U, float>) return to_float32(v);
  else return v;
}

// ---------------------------------------------------------------- Digitize

// Per input column f the edges are edges[offsets[f] .. offsets[f + 1]): finite,
// non-decreasing. The bin of v is the number of edges <= v (numpy's searchsorted(edges, v,
// side="right"), KBinsDiscretizer's transform over bin_edges_[f][1:-1]); with round_float32
// v is first rounded to binary32 (KBinsDiscretizer(dtype=np.float32) converts X first).
// encode "ordinal": one column per feature, the bin; "onehot": one block of
// (number of edges + 1) columns per feature, 1 in the bin's column and 0 elsewhere.
class Digitize final : public Kernel {
 public:
  Digitize(int64_t cols, const int64_t* offsets, const double* edges, bool onehot,
           bool round_float32, int64_t width)
      : cols_(cols), offsets_(offsets), edges_(edges), onehot_(onehot),
        round_float32_(round_float32), width_(width) {}

  double cost_per_row() const override {
    return static_cast<double>(cols_) * 4.0 + (onehot_ ? static_cast<double>(width_) : 0.0);
  }

  // scikit-learn converts X to float32 before checking it is finite: a float64 value beyond
  // float32's range becomes infinity and is refused.
  bool checks_input() const override { return round_float32_; }
  std::string refusal(int64_t rows, const View* in) const override {
    if (in[0].dtype != DType::kF64) return {};
    for (int64_t r = 0; r < rows; ++r) {
      const double* x = in[0].row<double>(r);
      for (int64_t c = 0; c < cols_; ++c)
        if (std::isfinite(x[c]) && std::isinf(to_float32(x[c])))
          return "Input X contains infinity or a value too large for dtype('float32').";
    }
    return {};
  }

  void run(int64_t rows, const View* in, const View& out) const override {
    dispatch_float(in[0].dtype, [&](auto tag) {
      using T = decltype(tag);
      dispatch_float(out.dtype, [&](auto out_tag) {
        using U = decltype(out_tag);
        for (int64_t r = 0; r < rows; ++r) bins<T, U>(in[0].row<T>(r), out.row<U>(r));
      });
    });
  }

 private:
  template <class T, class U>
  void bins(const T* x, U* y) const {
    if (onehot_) std::fill(y, y + width_, U(0));
    int64_t base = 0;
    for (int64_t f = 0; f < cols_; ++f) {
      double v = static_cast<double>(x[f]);
      if (round_float32_) v = static_cast<double>(to_float32(v));
      const double* lo = edges_ + offsets_[f];
      const double* hi = edges_ + offsets_[f + 1];
      const int64_t bin = std::upper_bound(lo, hi, v) - lo;
      if (onehot_) {
        y[base + bin] = U(1);
        base += (hi - lo) + 1;
      } else {
        y[f] = static_cast<U>(bin);
      }
    }
  }

  int64_t cols_;
  const int64_t* offsets_;
  const double* edges_;
  bool onehot_, round_float32_;
  int64_t width_;
};

// Checks offsets (n + 1 entries from 0, non-decreasing, ending at `total`).
Status check_offsets(const NodeBuild& b, const int64_t* off, int64_t n, int64_t total,
                     const char* what) {
  if (off[0] != 0) return b.error(std::string(what) + "[0] must be 0");
  for (int64_t i = 0; i < n; ++i)
    if (off[i + 1] < off[i]) return b.error(std::string(what) + " must be non-decreasing");
  if (off[n] != total)
    return b.error(std::string(what) + " must end at the length of its table");
  return Status::OK();
}

Status make_digitize(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  ValueInfo in;
  MLE_RETURN_IF_ERROR(b.float_input(&in));
  const TensorRef *off, *edges;
  MLE_RETURN_IF_ERROR(b.tensor("offsets", DType::kI64, {in.cols + 1}, &off));
  MLE_RETURN_IF_ERROR(b.tensor("edges", DType::kF64, {-1}, &edges));
  const int64_t n_edges = edges->shape[0];
  const int64_t* o = off->as<int64_t>();
  MLE_RETURN_IF_ERROR(check_offsets(b, o, in.cols, n_edges, "offsets"));
  const double* e = edges->as<double>();
  for (int64_t f = 0; f < in.cols; ++f)
    for (int64_t i = o[f]; i < o[f + 1]; ++i)
      if (!std::isfinite(e[i]) || (i > o[f] && !(e[i - 1] <= e[i])))
        return b.error("each column's edges must be finite and sorted");
  std::string encode;
  MLE_RETURN_IF_ERROR(b.string("encode", &encode));
  if (encode != "ordinal" && encode != "onehot")
    return b.error("encode must be 'ordinal' or 'onehot', got '" + encode + "'");
  bool round32 = false, f64 = false;
  MLE_RETURN_IF_ERROR(b.boolean_or("round_float32", false, &round32));
  MLE_RETURN_IF_ERROR(b.boolean_or("float64", false, &f64));
  const bool onehot = encode == "onehot";
  const int64_t width = onehot ? n_edges + in.cols : in.cols;
  if (width < 1) return b.error("the output has no columns");
  k->reset(new Digitize(in.cols, o, e, onehot, round32, width));
  *out = ValueInfo{width, f64 ? ValueKind::kF64 : ValueKind::kInput};
  return Status::OK();
}

// ---------------------------------------------------------------- Monomials

// Output column j is the product of the input columns factors[offsets[j] .. offsets[j + 1])
// (non-decreasing column indices; none: 1), multiplied from the last factor to the first in
// the data's type: x[i1] * (x[i2] * (... * x[id])), as PolynomialFeatures builds each
// degree's terms from the previous degree's (XP[:, start:end] * X[:, i]).
class Monomials final : public Kernel {
 public:
  Monomials(int64_t width, const int64_t* offsets, const int64_t* factors, int64_t n_factors)
      : width_(width), offsets_(offsets), factors_(factors), n_factors_(n_factors) {}

  double cost_per_row() const override {
    return static_cast<double>(width_ + n_factors_);
  }

  void run(int64_t rows, const View* in, const View& out) const override {
    dispatch_float(in[0].dtype, [&](auto tag) {
      using T = decltype(tag);
      for (int64_t r = 0; r < rows; ++r) {
        const T* x = in[0].row<T>(r);
        T* y = out.row<T>(r);
        for (int64_t j = 0; j < width_; ++j) {
          T acc = T(1);
          for (int64_t i = offsets_[j + 1]; i > offsets_[j]; --i) acc = x[factors_[i - 1]] * acc;
          y[j] = acc;
        }
      }
    });
  }

 private:
  int64_t width_;
  const int64_t* offsets_;
  const int64_t* factors_;
  int64_t n_factors_;
};

Status make_monomials(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  ValueInfo in;
  MLE_RETURN_IF_ERROR(b.float_input(&in));
  const TensorRef *off, *fac;
  MLE_RETURN_IF_ERROR(b.tensor("offsets", DType::kI64, {-1}, &off));
  MLE_RETURN_IF_ERROR(b.tensor("factors", DType::kI64, {-1}, &fac));
  const int64_t width = off->shape[0] - 1;
  if (width < 1) return b.error("offsets must have at least 2 entries (one output column)");
  const int64_t n = fac->shape[0];
  const int64_t* o = off->as<int64_t>();
  MLE_RETURN_IF_ERROR(check_offsets(b, o, width, n, "offsets"));
  const int64_t* f = fac->as<int64_t>();
  for (int64_t j = 0; j < width; ++j)
    for (int64_t i = o[j]; i < o[j + 1]; ++i)
      if (f[i] < 0 || f[i] >= in.cols || (i > o[j] && f[i] < f[i - 1]))
        return b.error("each output's factors must be input columns in non-decreasing order");
  k->reset(new Monomials(width, o, f, n));
  *out = ValueInfo{width, ValueKind::kInput};
  return Status::OK();
}

// ---------------------------------------------------------------- BSplineBasis

enum class Extrapolation { kError, kConstant, kLinear, kContinue, kPeriodic };

// numpy's remainder (np.remainder / %) for a finite divisor b > 0: the result has b's sign.
inline double py_remainder(double a, double b) {
  double m = std::fmod(a, b);
  if (m != 0) {
    if ((b < 0) != (m < 0)) m += b;
  } else {
    m = std::copysign(0.0, b);
  }
  return m;
}

// One feature's B-spline basis over the knots t[0 .. nt) of degree k: n_coef = nt - k - 1
// coefficient rows; basis row i contributes to output column i (i mod n_splines for periodic
// splines, whose first k bases are continued by the last k rows). Evaluation follows the
// Cox-de Boor recursion of the non-zero bases on the knot interval of x, then sums each
// output column over those bases with 0/1 coefficients, as a spline with an identity
// coefficient matrix is evaluated (scipy's BSpline, which SplineTransformer calls).
class BSplineBasis final : public Kernel {
 public:
  BSplineBasis(int64_t cols, const double* knots, int64_t nt, int k, Extrapolation ex,
               bool include_bias, bool missing_zeros, const double* boundary,
               const double* limits, const int64_t* ends)
      : cols_(cols), knots_(knots), nt_(nt), k_(k), n_coef_(nt - k - 1),
        n_splines_(ex == Extrapolation::kPeriodic ? nt - 2 * k - 1 : nt - k - 1), ex_(ex),
        include_bias_(include_bias), missing_zeros_(missing_zeros), boundary_(boundary),
        limits_(limits), ends_(ends) {}

  int64_t width() const { return cols_ * (include_bias_ ? n_splines_ : n_splines_ - 1); }

  double cost_per_row() const override {
    return static_cast<double>(cols_) * (k_ + 1) * (k_ + 1 + n_splines_);
  }

  bool checks_input() const override { return ex_ == Extrapolation::kError; }
  std::string refusal(int64_t rows, const View* in) const override {
    std::string bad;
    dispatch_float(in[0].dtype, [&](auto tag) {
      using T = decltype(tag);
      for (int64_t r = 0; r < rows && bad.empty(); ++r) {
        const T* x = in[0].row<T>(r);
        for (int64_t f = 0; f < cols_; ++f) {
          const double v = static_cast<double>(x[f]);
          const double* t = knots_ + f * nt_;
          if (std::isnan(v) ? !missing_zeros_ : (v < t[k_] || v > t[n_coef_])) {
            bad = "`X` contains values beyond the limits of the knots.";
            break;
          }
        }
      }
    });
    return bad;
  }

  void run(int64_t rows, const View* in, const View& out) const override {
    std::vector<double> work(static_cast<size_t>(2 * (k_ + 1) + n_splines_));
    double* h = work.data();
    double* hh = h + (k_ + 1);
    double* basis = hh + (k_ + 1);
    dispatch_float(in[0].dtype, [&](auto tag) {
      using T = decltype(tag);
      dispatch_float(out.dtype, [&](auto out_tag) {
        using U = decltype(out_tag);
        const int64_t per = include_bias_ ? n_splines_ : n_splines_ - 1;
        for (int64_t r = 0; r < rows; ++r) {
          const T* x = in[0].row<T>(r);
          U* y = out.row<U>(r);
          for (int64_t f = 0; f < cols_; ++f) {
            feature(f, static_cast<double>(x[f]), h, hh, basis);
            for (int64_t j = 0; j < per; ++j) y[f * per + j] = narrow<U>(basis[j]);
          }
        }
      });
    });
  }

 private:
  // The knot interval l in [k, n_coef - 1] with t[l] <= x < t[l + 1] (the first or last
  // interval beyond the ends); -1 for NaN, or outside [t[k], t[n_coef]] without extrapolate.
  int64_t interval(const double* t, double x, bool extrapolate) const {
    if (std::isnan(x)) return -1;
    if (!extrapolate && (x < t[k_] || x > t[n_coef_])) return -1;
    int64_t l = (std::upper_bound(t, t + nt_, x) - t) - 1;
    return std::min<int64_t>(std::max<int64_t>(l, k_), n_coef_ - 1);
  }

  // basis[0 .. n_splines) for x on knots t, as BSpline(t, identity, k)(x).
  void evaluate(const double* t, double x, bool extrapolate, double* h, double* hh,
                double* basis) const {
    const int64_t l = interval(t, x, extrapolate);
    if (l < 0) {
      std::fill(basis, basis + n_splines_, std::numeric_limits<double>::quiet_NaN());
      return;
    }
    h[0] = 1.0;
    for (int j = 1; j <= k_; ++j) {
      std::copy(h, h + j, hh);
      h[0] = 0.0;
      for (int n = 1; n <= j; ++n) {
        const double xb = t[l + n], xa = t[l + n - j];
        if (xb == xa) {
          h[n] = 0.0;
          continue;
        }
        const double w = hh[n - 1] / (xb - xa);
        h[n - 1] += w * (xb - x);
        h[n] = w * (x - xa);
      }
    }
    for (int64_t col = 0; col < n_splines_; ++col) {
      double s = 0.0;
      for (int a = 0; a <= k_; ++a) {
        const int64_t row = l - k_ + a;
        const double c = (row % n_splines_) == col ? 1.0 : 0.0;
        s += c * h[a];
      }
      basis[col] = s;
    }
  }

  void feature(int64_t f, double v, double* h, double* hh, double* basis) const {
    const double* t = knots_ + f * nt_;
    switch (ex_) {
      case Extrapolation::kError:
      case Extrapolation::kContinue:
        evaluate(t, v, ex_ == Extrapolation::kContinue, h, hh, basis);
        break;
      case Extrapolation::kPeriodic: {
        const double period = t[n_coef_] - t[k_];
        const double xp = period > 0 ? t[k_] + py_remainder(v - t[k_], period) : 0.0;
        evaluate(t, xp, true, h, hh, basis);
        break;
      }
      case Extrapolation::kConstant:
      case Extrapolation::kLinear: {
        const double xmin = limits_[2 * f], xmax = limits_[2 * f + 1];
        if (xmin <= v && v <= xmax) {
          evaluate(t, v, false, h, hh, basis);
          return;
        }
        std::fill(basis, basis + n_splines_, 0.0);
        const double* fmin = boundary_ + f * 4 * n_splines_;
        const double* fmax = fmin + n_splines_;
        const double* dmin = fmax + n_splines_;
        const double* dmax = dmin + n_splines_;
        const int64_t ends = ends_[f];
        if (ex_ == Extrapolation::kConstant) {
          if (v < xmin)
            for (int64_t j = 0; j < ends; ++j) basis[j] = fmin[j];
          if (v > xmax)
            for (int64_t j = n_splines_ - ends; j < n_splines_; ++j) basis[j] = fmax[j];
        } else {
          for (int64_t j = 0; j < ends; ++j) {
            if (v < xmin) basis[j] = fmin[j] + (v - xmin) * dmin[j];
            const int64_t c = n_splines_ - 1 - j;
            if (v > xmax) basis[c] = fmax[c] + (v - xmax) * dmax[c];
          }
        }
        return;
      }
    }
    if (missing_zeros_ && std::isnan(v)) std::fill(basis, basis + n_splines_, 0.0);
  }

  int64_t cols_;
  const double* knots_;
  int64_t nt_;
  int k_;
  int64_t n_coef_, n_splines_;
  Extrapolation ex_;
  bool include_bias_, missing_zeros_;
  const double* boundary_;
  const double* limits_;   // per feature [xmin, xmax]: constant and linear only
  const int64_t* ends_;    // per feature: the number of end bases continued
};

constexpr int kMaxSplineDegree = 64;

Status make_bspline(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  ValueInfo in;
  MLE_RETURN_IF_ERROR(b.float_input(&in));
  double degree;
  MLE_RETURN_IF_ERROR(b.number("degree", &degree));
  if (!(degree >= 0 && degree <= kMaxSplineDegree) || degree != std::floor(degree))
    return b.error("degree must be an integer in [0, " + std::to_string(kMaxSplineDegree) +
                   "]");
  const int deg = static_cast<int>(degree);
  std::string mode;
  MLE_RETURN_IF_ERROR(b.string("extrapolation", &mode));
  Extrapolation ex;
  if (mode == "error") ex = Extrapolation::kError;
  else if (mode == "constant") ex = Extrapolation::kConstant;
  else if (mode == "linear") ex = Extrapolation::kLinear;
  else if (mode == "continue") ex = Extrapolation::kContinue;
  else if (mode == "periodic") ex = Extrapolation::kPeriodic;
  else return b.error("unknown extrapolation '" + mode + "'");
  const TensorRef* knots;
  MLE_RETURN_IF_ERROR(b.tensor("knots", DType::kF64, {in.cols, -1}, &knots));
  const int64_t nt = knots->shape[1];
  const bool periodic = ex == Extrapolation::kPeriodic;
  const int64_t n_splines = periodic ? nt - 2 * deg - 1 : nt - deg - 1;
  if (nt < 2 * deg + 2 || n_splines < 1)
    return b.error("knots must have at least 2 * degree + 2 columns (and, periodic, at least "
                   "one basis function)");
  const double* t = knots->as<double>();
  for (int64_t f = 0; f < in.cols; ++f)
    for (int64_t i = 0; i < nt; ++i) {
      const double v = t[f * nt + i];
      if (!std::isfinite(v) || (i > 0 && !(t[f * nt + i - 1] <= v)))
        return b.error("each column's knots must be finite and sorted");
    }
  bool include_bias, missing_zeros, f64 = false;
  MLE_RETURN_IF_ERROR(b.boolean("include_bias", &include_bias));
  MLE_RETURN_IF_ERROR(b.boolean_or("float64", false, &f64));
  MLE_RETURN_IF_ERROR(b.boolean("missing_zeros", &missing_zeros));
  const bool needs_boundary = ex == Extrapolation::kConstant || ex == Extrapolation::kLinear;
  const TensorRef *boundary = nullptr, *limits = nullptr, *ends = nullptr;
  if (needs_boundary) {
    MLE_RETURN_IF_ERROR(b.tensor("boundary", DType::kF64, {in.cols, 4, n_splines}, &boundary));
    MLE_RETURN_IF_ERROR(b.tensor("limits", DType::kF64, {in.cols, 2}, &limits));
    MLE_RETURN_IF_ERROR(b.tensor("ends", DType::kI64, {in.cols}, &ends));
    const double* v = boundary->as<double>();
    for (int64_t i = 0; i < in.cols * 4 * n_splines; ++i)
      if (!std::isfinite(v[i])) return b.error("boundary values must be finite");
    const double* lim = limits->as<double>();
    const int64_t* e = ends->as<int64_t>();
    for (int64_t f = 0; f < in.cols; ++f) {
      const double* tf = t + f * nt;
      if (!(tf[deg] <= lim[2 * f] && lim[2 * f] <= lim[2 * f + 1] &&
            lim[2 * f + 1] <= tf[nt - deg - 1]))
        return b.error("each column's limits must lie within its knots t[degree] .. "
                       "t[nt - degree - 1], in order");
      if (e[f] < 0 || e[f] > n_splines)
        return b.error("ends must be between 0 and the number of basis functions");
    }
  } else if (b.has("boundary") || b.has("limits") || b.has("ends")) {
    return b.error("boundary, limits and ends are only for constant and linear extrapolation");
  }
  std::unique_ptr<BSplineBasis> kern(new BSplineBasis(
      in.cols, t, nt, deg, ex, include_bias, missing_zeros,
      boundary ? boundary->as<double>() : nullptr, limits ? limits->as<double>() : nullptr,
      ends ? ends->as<int64_t>() : nullptr));
  const int64_t width = kern->width();
  if (width < 1) return b.error("the output has no columns");
  *out = ValueInfo{width, f64 ? ValueKind::kF64 : ValueKind::kInput};
  k->reset(kern.release());
  return Status::OK();
}

}  // namespace

using attr::boolean;
using attr::number;
using attr::string;
using attr::tensor;

const OpRegistrar kRegistered({
    {"Digitize", make_digitize, 1,
     {tensor("offsets", DType::kI64), tensor("edges", DType::kF64),
      string("encode", {"ordinal", "onehot"}), boolean("round_float32", kOptional),
      boolean("float64", kOptional)}},
    {"Monomials", make_monomials, 1,
     {tensor("offsets", DType::kI64), tensor("factors", DType::kI64)}},
    {"BSplineBasis", make_bspline, 1,
     {tensor("knots", DType::kF64), number("degree"),
      string("extrapolation", {"error", "constant", "linear", "continue", "periodic"}),
      boolean("include_bias"), boolean("missing_zeros"),
      tensor("boundary", DType::kF64, kOptional), tensor("limits", DType::kF64, kOptional),
      tensor("ends", DType::kI64, kOptional), boolean("float64", kOptional)}},
});

}  // namespace mle
