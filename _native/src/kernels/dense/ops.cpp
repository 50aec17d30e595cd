// Ops on the dense kernels (mle/dense.h): fully connected layers, nearest stored row and
// distances to stored rows, kernel matrices, and a threshold head.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "mle/dense.h"
#include "mle/kernel.h"

namespace mle {
namespace {

const double* as_f64(const View& v, int64_t rows, int64_t cols, int64_t* ld) {
  return rows_as_f64(v, rows, cols, ld);
}

// Scratch of one call's rows x cols doubles, per thread.
double* scratch(int64_t rows, int64_t cols) {
  thread_local std::vector<double> buf;
  buf.resize(static_cast<size_t>(rows * cols));
  return buf.data();
}

// The products go through BLAS, whose dimensions are 32-bit.
constexpr int64_t kMaxDim = 2147483647;

// ---------------------------------------------------------------- Dense

enum Activation : int { kIdentity, kRelu, kTanh, kLogistic, kCos };

// y = activation(x @ weight + bias), weight (in, out) row-major: scikit-learn's
// `activation = X @ coefs_[i]; activation += intercepts_[i]; ACTIVATIONS[...](activation)`.
class DenseLayer final : public Kernel {
 public:
  DenseLayer(int64_t in, int64_t out, const double* w, const double* b, int act)
      : k_(in), n_(out), w_(w), b_(b), act_(act) {}

  double cost_per_row() const override { return static_cast<double>(k_ * n_) + n_; }

  void run(int64_t rows, const View* in, const View& out) const override {
    int64_t ldx;
    const double* x = as_f64(in[0], rows, k_, &ldx);
    double* y = out.row<double>(0);
    dense::matmul(rows, n_, k_, x, ldx, w_, b_, y, out.ld);
    if (act_ == kIdentity) return;
    for (int64_t r = 0; r < rows; ++r) {
      double* yr = y + r * out.ld;
      switch (act_) {
        case kRelu:  // np.maximum(X, 0)
          for (int64_t j = 0; j < n_; ++j) yr[j] = std::isnan(yr[j]) || yr[j] > 0.0 ? yr[j] : 0.0;
          break;
        case kTanh:  // np.tanh
          for (int64_t j = 0; j < n_; ++j) yr[j] = std::tanh(yr[j]);
          break;
        case kCos:  // np.cos (random Fourier features)
          for (int64_t j = 0; j < n_; ++j) yr[j] = std::cos(yr[j]);
          break;
        default:  // scipy.special.expit
          for (int64_t j = 0; j < n_; ++j) yr[j] = 1.0 / (1.0 + std::exp(-yr[j]));
          break;
      }
    }
  }

 private:
  int64_t k_, n_;
  const double* w_;
  const double* b_;
  int act_;
};

Status make_dense(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  ValueInfo in;
  MLE_RETURN_IF_ERROR(b.float_input(&in));
  const TensorRef *w, *bias;
  MLE_RETURN_IF_ERROR(b.tensor("weight", DType::kF64, {in.cols, -1}, &w));
  if (w->ndim != 2) return b.error("weight must be 2-D (inputs, outputs)");
  const int64_t n = w->shape[1];
  if (n == 0) return b.error("weight has no columns (the layer has no outputs)");
  if (n > kMaxDim || in.cols > kMaxDim)
    return b.error("weight has more than 2^31 - 1 rows or columns");
  MLE_RETURN_IF_ERROR(b.tensor("bias", DType::kF64, {n}, &bias, true));
  if (in.cols == 0 && !bias)
    return b.error("the input has no columns and there is no bias: the " +
                   std::to_string(n) + " outputs are not backed by any stored number");
  std::string act;
  MLE_RETURN_IF_ERROR(b.string_or("activation", "identity", &act));
  const int a = act == "relu"       ? kRelu
                : act == "tanh"     ? kTanh
                : act == "logistic" ? kLogistic
                : act == "cos"      ? kCos
                                    : kIdentity;
  k->reset(new DenseLayer(in.cols, n, w->as<double>(), bias ? bias->as<double>() : nullptr, a));
  *out = ValueInfo{n, ValueKind::kF64};
  return Status::OK();
}

// ---------------------------------------------------------------- stored rows

// Shared validation of `rows` (n x in.cols float64) and `row_sq_norms` (n).
Status stored_rows(const NodeBuild& b, const ValueInfo& in, const TensorRef** rows,
                   const TensorRef** norms, bool norms_optional) {
  MLE_RETURN_IF_ERROR(b.tensor("rows", DType::kF64, {-1, in.cols}, rows));
  if ((*rows)->ndim != 2) return b.error("rows must be 2-D (stored rows, features)");
  if ((*rows)->shape[0] == 0) return b.error("rows is empty");
  if ((*rows)->shape[0] > kMaxDim || in.cols > kMaxDim)
    return b.error("rows has more than 2^31 - 1 rows or columns");
  return b.tensor("row_sq_norms", DType::kF64, {(*rows)->shape[0]}, norms, norms_optional);
}

// Index of the nearest stored row, as KMeans' assignment step computes it
// (sklearn/cluster/_k_means_lloyd.pyx, _update_chunk_dense): d = ||c||^2 filled in, then the
// BLAS product d += -2 X @ C.T, then the first strict minimum of d over the rows.
class NearestRow final : public Kernel {
 public:
  NearestRow(int64_t n, int64_t k, const double* c, const double* sq) : n_(n), k_(k), c_(c), sq_(sq) {}
  double cost_per_row() const override { return static_cast<double>(n_ * k_) + n_; }
  void run(int64_t rows, const View* in, const View& out) const override {
    int64_t ldx;
    const double* x = as_f64(in[0], rows, k_, &ldx);
    double* d = scratch(rows, n_);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < n_; ++j) d[r * n_ + j] = sq_[j];
    dense::gemm_nt(rows, n_, k_, -2.0, x, ldx, c_, k_, 1.0, d, n_);
    for (int64_t r = 0; r < rows; ++r) {
      const double* dr = d + r * n_;
      double best = dr[0];
      int64_t label = 0;
      for (int64_t j = 1; j < n_; ++j)
        if (dr[j] < best) {
          best = dr[j];
          label = j;
        }
      out.row<int64_t>(r)[0] = label;
    }
  }

 private:
  int64_t n_, k_;
  const double* c_;
  const double* sq_;
};

Status make_nearest_row(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  ValueInfo in;
  MLE_RETURN_IF_ERROR(b.float_input(&in));
  const TensorRef *rows, *norms;
  MLE_RETURN_IF_ERROR(stored_rows(b, in, &rows, &norms, false));
  k->reset(new NearestRow(rows->shape[0], in.cols, rows->as<double>(), norms->as<double>()));
  *out = ValueInfo{1, ValueKind::kI64, rows->shape[0]};
  return Status::OK();
}

// BisectingKMeans' predict (``_predict_recursive``): a tree of bisections whose internal node
// j holds two centers (rows 2j and 2j+1); a row goes to the second when its assignment step
// over the pair (as NearestRow, one product per node) picks it, until it reaches a leaf.
// children (m x 2, int32): >= 0 an internal node (always after its parent: the descent ends),
// < 0 the leaf label -1 - child.
class BisectTree final : public Kernel {
 public:
  BisectTree(int64_t m, int64_t k, const double* c, const double* sq, const int32_t* ch)
      : m_(m), k_(k), c_(c), sq_(sq), ch_(ch) {}
  double cost_per_row() const override { return static_cast<double>(2 * m_ * k_) + 2 * m_; }
  void run(int64_t rows, const View* in, const View& out) const override {
    int64_t ldx;
    const double* x = as_f64(in[0], rows, k_, &ldx);
    const int64_t w = 2 * m_;
    double* d = scratch(rows, w);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < w; ++j) d[r * w + j] = sq_[j];
    // One product per node, each of the pair's shape, as scikit-learn multiplies them.
    for (int64_t j = 0; j < m_; ++j)
      dense::gemm_nt(rows, 2, k_, -2.0, x, ldx, c_ + 2 * j * k_, k_, 1.0, d + 2 * j, w);
    for (int64_t r = 0; r < rows; ++r) {
      const double* dr = d + r * w;
      int64_t node = 0;
      for (;;) {
        const int side = dr[2 * node + 1] < dr[2 * node] ? 1 : 0;
        const int32_t next = ch_[2 * node + side];
        if (next < 0) {
          out.row<int64_t>(r)[0] = -1 - static_cast<int64_t>(next);
          break;
        }
        node = next;
      }
    }
  }

 private:
  int64_t m_, k_;
  const double* c_;
  const double* sq_;
  const int32_t* ch_;
};

Status make_bisect_tree(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  ValueInfo in;
  MLE_RETURN_IF_ERROR(b.float_input(&in));
  const TensorRef *rows, *norms, *children;
  MLE_RETURN_IF_ERROR(stored_rows(b, in, &rows, &norms, false));
  if (rows->shape[0] % 2 != 0) return b.error("rows must hold two centers per node");
  const int64_t m = rows->shape[0] / 2;
  MLE_RETURN_IF_ERROR(b.tensor("children", DType::kI32, {m, 2}, &children));
  const int32_t* ch = children->as<int32_t>();
  for (int64_t j = 0; j < m; ++j)
    for (int s = 0; s < 2; ++s) {
      const int32_t c = ch[2 * j + s];
      if (c >= 0 && (c <= j || c >= m))
        return b.error("children[" + std::to_string(j) + "][" + std::to_string(s) + "] = " +
                       std::to_string(c) + ": an internal node must come after its parent " +
                       "and lie below " + std::to_string(m));
    }
  k->reset(new BisectTree(m, in.cols, rows->as<double>(), norms->as<double>(), ch));
  *out = ValueInfo{1, ValueKind::kI64};
  return Status::OK();
}

// Kernel matrix (or distances) of X against stored rows: sklearn.metrics.pairwise's
// euclidean_distances (squared or not) and pairwise kernels.
class RowKernel final : public Kernel {
 public:
  RowKernel(int64_t n, int64_t k, const double* y, const double* aux, dense::KernelParams p,
            bool distance, bool squared)
      : n_(n), k_(k), y_(y), aux_(aux), p_(p), distance_(distance), squared_(squared) {}
  double cost_per_row() const override { return static_cast<double>(n_ * k_) + 4 * n_; }
  void run(int64_t rows, const View* in, const View& out) const override {
    int64_t ldx;
    const double* x = as_f64(in[0], rows, k_, &ldx);
    double* o = out.row<double>(0);
    if (!distance_) return dense::kernel_matrix(p_, rows, n_, k_, x, ldx, y_, aux_, o, out.ld);
    dense::sq_euclidean(rows, n_, k_, x, ldx, y_, aux_, o, out.ld);
    if (squared_) return;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < n_; ++j) o[r * out.ld + j] = std::sqrt(o[r * out.ld + j]);
  }

 private:
  int64_t n_, k_;
  const double* y_;
  const double* aux_;
  dense::KernelParams p_;
  bool distance_, squared_;
};

Status finite_number(const NodeBuild& b, const char* key, double dflt, double* v) {
  *v = dflt;
  if (!b.has(key)) return Status::OK();
  MLE_RETURN_IF_ERROR(b.number(key, v));
  if (!std::isfinite(*v)) return b.error(std::string(key) + " must be finite");
  return Status::OK();
}

// RowKernel's kernels of absolute differences and ratios, elementwise per pair of rows
// (sklearn.metrics.pairwise): "laplacian" exp(-gamma * sum_k |x_k - y_k|) (the sum in
// feature order, as scipy's cdist "cityblock" up to rounding), "additive_chi2"
// -sum_k (x_k - y_k)^2 / (x_k + y_k) over the k with x_k + y_k != 0 (in feature order, as
// _chi2_kernel_fast), "chi2" exp(gamma * additive_chi2). The chi2 kernels refuse negative
// input as scikit-learn does ("X contains negative values.").
class PairKernel final : public Kernel {
 public:
  enum Kind { kLaplacian, kAdditiveChi2, kChi2 };
  PairKernel(int64_t n, int64_t k, const double* y, Kind kind, double gamma)
      : n_(n), k_(k), y_(y), kind_(kind), gamma_(gamma) {}
  double cost_per_row() const override { return 3.0 * static_cast<double>(n_ * k_) + 4 * n_; }
  bool checks_input() const override { return kind_ != kLaplacian; }
  std::string refusal(int64_t rows, const View* in) const override {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < k_; ++c) {
        const bool neg = in[0].dtype == DType::kF32 ? in[0].row<float>(r)[c] < 0
                                                    : in[0].row<double>(r)[c] < 0;
        if (neg) return "X contains negative values.";
      }
    return {};
  }
  void run(int64_t rows, const View* in, const View& out) const override {
    int64_t ldx;
    const double* x = as_f64(in[0], rows, k_, &ldx);
    for (int64_t r = 0; r < rows; ++r) {
      const double* xr = x + r * ldx;
      double* o = out.row<double>(r);
      for (int64_t j = 0; j < n_; ++j) {
        const double* yj = y_ + j * k_;
        double s = 0;
        if (kind_ == kLaplacian) {
          for (int64_t c = 0; c < k_; ++c) s += std::fabs(xr[c] - yj[c]);
          o[j] = std::exp(-gamma_ * s);
          continue;
        }
        for (int64_t c = 0; c < k_; ++c) {
          const double d = xr[c] - yj[c];
          const double t = xr[c] + yj[c];
          if (t != 0) s += d * d / t;
        }
        o[j] = kind_ == kChi2 ? std::exp(-s * gamma_) : -s;
      }
    }
  }

 private:
  int64_t n_, k_;
  const double* y_;
  Kind kind_;
  double gamma_;
};

Status make_pair_kernel(const NodeBuild& b, const ValueInfo& in, const std::string& kind,
                        std::unique_ptr<Kernel>* k, ValueInfo* out) {
  const TensorRef *rows, *norms;
  MLE_RETURN_IF_ERROR(stored_rows(b, in, &rows, &norms, true));
  if (norms) return b.error("row_sq_norms is only used by rbf and distances");
  if (in.cols == 0) return b.error(kind + " needs at least one input column");
  if (b.has("coef0") || b.has("degree"))
    return b.error(kind + " takes no coef0 or degree");
  const PairKernel::Kind which = kind == "laplacian" ? PairKernel::kLaplacian
                                 : kind == "chi2" ? PairKernel::kChi2 : PairKernel::kAdditiveChi2;
  double gamma = 1.0;
  if (which == PairKernel::kAdditiveChi2) {
    if (b.has("gamma")) return b.error("additive_chi2 takes no gamma");
  } else {
    if (!b.has("gamma")) return b.error(kind + " needs gamma");
    MLE_RETURN_IF_ERROR(finite_number(b, "gamma", 1.0, &gamma));
  }
  if (which == PairKernel::kAdditiveChi2 || which == PairKernel::kChi2) {
    const double* y = rows->as<double>();
    for (int64_t i = 0; i < rows->shape[0] * in.cols; ++i)
      if (!(y[i] >= 0) || !std::isfinite(y[i]))
        return b.error(kind + ": the stored rows must be finite and non-negative");
  }
  k->reset(new PairKernel(rows->shape[0], in.cols, rows->as<double>(), which, gamma));
  *out = ValueInfo{rows->shape[0], ValueKind::kF64};
  return Status::OK();
}

Status make_row_kernel(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  ValueInfo in;
  MLE_RETURN_IF_ERROR(b.float_input(&in));
  std::string kind;
  MLE_RETURN_IF_ERROR(b.string("kernel", &kind));
  if (kind == "laplacian" || kind == "chi2" || kind == "additive_chi2")
    return make_pair_kernel(b, in, kind, k, out);
  const bool distance = kind == "euclidean" || kind == "sqeuclidean";
  const bool needs_norms = distance || kind == "rbf";
  const TensorRef *rows, *norms;
  MLE_RETURN_IF_ERROR(stored_rows(b, in, &rows, &norms, !needs_norms));
  if (!needs_norms && norms) return b.error("row_sq_norms is only used by rbf and distances");
  if (in.cols == 0 && !norms)
    return b.error("the input has no columns and there are no row_sq_norms: the " +
                   std::to_string(rows->shape[0]) +
                   " output columns are not backed by any stored number");
  dense::KernelParams p;
  p.kind = kind == "poly" ? dense::KernelKind::kPoly
           : kind == "rbf" ? dense::KernelKind::kRbf
           : kind == "sigmoid" ? dense::KernelKind::kSigmoid
           : kind == "cosine" ? dense::KernelKind::kCosine : dense::KernelKind::kLinear;
  MLE_RETURN_IF_ERROR(finite_number(b, "gamma", 1.0, &p.gamma));
  MLE_RETURN_IF_ERROR(finite_number(b, "coef0", 0.0, &p.coef0));
  MLE_RETURN_IF_ERROR(finite_number(b, "degree", 3.0, &p.degree));
  k->reset(new RowKernel(rows->shape[0], in.cols, rows->as<double>(),
                         norms ? norms->as<double>() : nullptr, p, distance,
                         kind == "sqeuclidean"));
  *out = ValueInfo{rows->shape[0], ValueKind::kF64};
  return Status::OK();
}

// ---------------------------------------------------------------- GaussianLogDensity

// PCA.score_samples: Xr = X - mean; -0.5 * sum(Xr * (Xr @ precision), axis=1) - constant,
// the row sums in numpy's pairwise order.
class GaussianLogDensity final : public Kernel {
 public:
  GaussianLogDensity(int64_t k, const double* mean, const double* p, double c)
      : k_(k), mean_(mean), p_(p), c_(c) {}
  double cost_per_row() const override { return static_cast<double>(k_ * k_) + 3 * k_; }
  void run(int64_t rows, const View* in, const View& out) const override {
    thread_local std::vector<double> buf;
    buf.resize(static_cast<size_t>(3 * rows * k_));
    double* xr = buf.data();
    double* t = xr + rows * k_;
    double* prod = t + rows * k_;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < k_; ++c) {
        const double v = in[0].dtype == DType::kF32 ? static_cast<double>(in[0].row<float>(r)[c])
                                                    : in[0].row<double>(r)[c];
        xr[r * k_ + c] = v - mean_[c];
      }
    dense::matmul(rows, k_, k_, xr, k_, p_, nullptr, t, k_);
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < k_; ++c) prod[r * k_ + c] = xr[r * k_ + c] * t[r * k_ + c];
      out.row<double>(r)[0] = -0.5 * dense::pairwise_sum(prod + r * k_, k_) - c_;
    }
  }

 private:
  int64_t k_;
  const double* mean_;
  const double* p_;
  double c_;
};

Status make_gaussian_log_likelihood(const NodeBuild& b, std::unique_ptr<Kernel>* k,
                                    ValueInfo* out) {
  ValueInfo in;
  MLE_RETURN_IF_ERROR(b.float_input(&in));
  const TensorRef *mean, *p;
  MLE_RETURN_IF_ERROR(b.tensor("mean", DType::kF64, {in.cols}, &mean));
  MLE_RETURN_IF_ERROR(b.tensor("precision", DType::kF64, {in.cols, in.cols}, &p));
  double c;
  MLE_RETURN_IF_ERROR(finite_number(b, "constant", 0.0, &c));
  k->reset(new GaussianLogDensity(in.cols, mean->as<double>(), p->as<double>(), c));
  *out = ValueInfo{1, ValueKind::kF64};
  return Status::OK();
}

// ---------------------------------------------------------------- GreaterThan

// 1 where x > threshold, else 0, per element (int64): LabelBinarizer.inverse_transform of a
// multilabel indicator, `(y > threshold).astype(int)`.
class GreaterThan final : public Kernel {
 public:
  GreaterThan(int64_t cols, double t) : cols_(cols), t_(t) {}
  void run(int64_t rows, const View* in, const View& out) const override {
    for (int64_t r = 0; r < rows; ++r) {
      int64_t* y = out.row<int64_t>(r);
      if (in[0].dtype == DType::kF32) {
        const float* x = in[0].row<float>(r);
        for (int64_t c = 0; c < cols_; ++c) y[c] = static_cast<double>(x[c]) > t_ ? 1 : 0;
      } else {
        const double* x = in[0].row<double>(r);
        for (int64_t c = 0; c < cols_; ++c) y[c] = x[c] > t_ ? 1 : 0;
      }
    }
  }

 private:
  int64_t cols_;
  double t_;
};

Status make_greater_than(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  ValueInfo in;
  MLE_RETURN_IF_ERROR(b.float_input(&in));
  double t;
  MLE_RETURN_IF_ERROR(b.number("threshold", &t));
  if (std::isnan(t)) return b.error("threshold is NaN");
  k->reset(new GreaterThan(in.cols, t));
  *out = ValueInfo{in.cols, ValueKind::kI64};
  return Status::OK();
}

}  // namespace

const OpRegistrar kRegistered({
    {"Dense", make_dense, 1,
     {attr::tensor("weight", DType::kF64), attr::tensor("bias", DType::kF64, kOptional),
      attr::string("activation", {"identity", "relu", "tanh", "logistic", "cos"}, kOptional)}},
    {"NearestRow", make_nearest_row, 1,
     {attr::tensor("rows", DType::kF64), attr::tensor("row_sq_norms", DType::kF64)}},
    {"BisectTree", make_bisect_tree, 1,
     {attr::tensor("rows", DType::kF64), attr::tensor("row_sq_norms", DType::kF64),
      attr::tensor("children", DType::kI32)}},
    {"RowKernel", make_row_kernel, 1,
     {attr::tensor("rows", DType::kF64), attr::tensor("row_sq_norms", DType::kF64, kOptional),
      attr::string("kernel",
                   {"euclidean", "sqeuclidean", "linear", "poly", "rbf", "sigmoid", "cosine",
                    "laplacian", "chi2", "additive_chi2"}),
      attr::number("gamma", kOptional), attr::number("coef0", kOptional),
      attr::number("degree", kOptional)}},
    {"GaussianLogDensity", make_gaussian_log_likelihood, 1,
     {attr::tensor("mean", DType::kF64), attr::tensor("precision", DType::kF64),
      attr::number("constant")}},
    {"GreaterThan", make_greater_than, 1, {attr::number("threshold")}},
});

const double* rows_as_f64(const View& v, int64_t rows, int64_t cols, int64_t* ld) {
  if (v.dtype == DType::kF64) {
    *ld = v.ld;
    return v.row<double>(0);
  }
  thread_local std::vector<double> buf;
  buf.resize(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = v.row<float>(r);
    for (int64_t c = 0; c < cols; ++c) buf[r * cols + c] = static_cast<double>(x[c]);
  }
  *ld = cols;
  return buf.data();
}

}  // namespace mle
