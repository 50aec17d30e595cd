// Matrix factorizations whose transform runs an iterative solver (docs/FORMAT.md, 11.14):
// scikit-learn's NMF and MiniBatchNMF (NMFTransform) and LatentDirichletAllocation
// (LDATransform). Each runs scikit-learn's iterations in its order of operations, with its
// stopping rule; the matrix products go through the BLAS product (dense::gemm_nt), as numpy's
// go through OpenBLAS, so results agree to the rounding of those products (the iterations
// carry it on; tests/exporters/test_sklearn_nmf_lda.py states the measured tolerance).
//
// NMFTransform (W given H = components, k x f) is a whole-batch kernel: scikit-learn starts
// from the batch mean (solver "mu", "minibatch") and stops on quantities summed over the batch.
// - "cd" (_fit_coordinate_descent with update_H=False): W = 0; per iteration one sweep of
//   _update_cdnmf_fast over the components in the stored order (order[iteration], or 0..k-1)
//   with HHt = `hht` (H H^T with the L2 term on its diagonal, computed at dump as scikit-learn
//   computes it) and XHt = X H^T - l1; violation summed over the sweep; stop when
//   violation_init == 0 or violation / violation_init <= tol, or after max_iter sweeps.
// - "mu" (_fit_multiplicative_update with update_H=False): W = sqrt(mean(X) / k) (numpy's
//   pairwise mean over the batch); _multiplicative_update_w per iteration with scikit-learn's
//   cached H H^T / X H^T / H_sum (for beta = 1 the cached row sums of H take the L1 term and
//   the zero-to-eps rule in place, each iteration, as numpy's broadcast view does); W < eps64
//   set to 0 for beta < 1; every 10 iterations the beta divergence (square root) decides.
// - "minibatch" (MiniBatchNMF._solve_W): the same start and update (nothing cached), stop
//   when ||W - W_prev|| / ||W|| <= tol (tol > 0), at most max_iter updates.
// LDATransform is scikit-learn's _update_doc_distribution with a constant start (transform's
// random_state=None), its own digamma (AS 103, as in _online_lda_fast.pyx), then the row's
// normalisation; rows are independent.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "mle/dense.h"
#include "mle/kernel.h"

namespace mle {
namespace {

constexpr double kEps32 = static_cast<double>(FLT_EPSILON);  // scikit-learn's EPSILON
constexpr double kEps64 = DBL_EPSILON;

// numpy's x ** e for the exponents its fast scalar power special-cases, else pow.
inline double npow(double x, double e) {
  if (e == 2.0) return x * x;
  if (e == 1.0) return x;
  if (e == 0.5) return std::sqrt(x);
  if (e == -1.0) return 1.0 / x;
  if (e == 0.0) return 1.0;
  return std::pow(x, e);
}

// A = X (m x kk) . B^T, B n x kk row-major: C m x n.
inline void prod_nt(int64_t m, int64_t n, int64_t kk, const double* a, const double* b,
                    double* c) {
  if (m == 0 || n == 0) return;
  if (kk == 0) {
    std::fill(c, c + m * n, 0.0);
    return;
  }
  dense::gemm_nt(m, n, kk, 1.0, a, kk, b, kk, 0.0, c, n);
}

enum class Solver { kCd, kMu, kMiniBatch };

class NMFTransform final : public Kernel {
 public:
  NMFTransform(std::string name, Solver solver, int64_t k, int64_t f, const double* h,
               const double* hht, const double* h_sum, const int64_t* order, double beta,
               double gamma, double tol, int64_t max_iter, double l1, double l2, bool nonneg)
      : name_(std::move(name)), solver_(solver), k_(k), f_(f), h_(h, h + k * f),
        hht_(hht, hht + k * k), beta_(beta), gamma_(gamma), tol_(tol), max_iter_(max_iter),
        l1_(l1), l2_(l2), nonneg_(nonneg) {
    if (h_sum) h_sum_.assign(h_sum, h_sum + k);
    if (order) order_.assign(order, order + max_iter * k);
    ht_.resize(static_cast<size_t>(k * f));
    for (int64_t t = 0; t < k; ++t)
      for (int64_t j = 0; j < f; ++j) ht_[j * k + t] = h_[t * f + j];
    hhtt_.resize(static_cast<size_t>(k * k));
    for (int64_t a = 0; a < k; ++a)
      for (int64_t c = 0; c < k; ++c) hhtt_[c * k + a] = hht_[a * k + c];
  }

  bool whole_batch() const override { return true; }
  bool checks_input() const override { return true; }
  double cost_per_row() const override {
    return static_cast<double>(std::max<int64_t>(max_iter_, 1)) * (k_ + 1) * (f_ + k_ + 1);
  }

  std::string refusal(int64_t rows, const View* in) const override {
    if (in[0].dtype == DType::kF32)
      return name_ + ".transform of a model fitted on float64 data computes in float64: pass "
             "X as float64 (X.astype(np.float64)); scikit-learn itself raises TypeError or "
             "computes in mixed float32 arithmetic for float32 X";
    bool has_zero = false;
    for (int64_t r = 0; r < rows; ++r) {
      const double* x = in[0].row<double>(r);
      for (int64_t j = 0; j < f_; ++j) {
        if (nonneg_ && x[j] < 0) return "Negative values in data passed to " + name_ + " (input X)";
        if (x[j] == 0) has_zero = true;
      }
    }
    if (solver_ == Solver::kMu && beta_ <= 0 && has_zero && rows > 0)
      return "When beta_loss <= 0 and X contains zeros, the solver may diverge. Please add "
             "small values to X, or use a positive beta_loss.";
    return {};
  }

  void run(int64_t rows, const View* in, const View& out) const override {
    const int64_t n = rows, k = k_, f = f_;
    if (n == 0) return;
    // X as one contiguous n x f block (the call's rows)
    std::vector<double> xs(static_cast<size_t>(n * f));
    for (int64_t r = 0; r < n; ++r) std::copy(in[0].row<double>(r), in[0].row<double>(r) + f,
                                              xs.data() + r * f);
    std::vector<double> w(static_cast<size_t>(n * k), 0.0);
    if (solver_ == Solver::kCd)
      cd(n, xs.data(), w.data());
    else
      mu(n, xs.data(), w.data());
    for (int64_t r = 0; r < n; ++r)
      std::copy(w.data() + r * k, w.data() + (r + 1) * k, out.row<double>(r));
  }

 private:
  void cd(int64_t n, const double* x, double* w) const {
    const int64_t k = k_, f = f_;
    std::vector<double> xht(static_cast<size_t>(n * k));
    prod_nt(n, k, f, x, h_.data(), xht.data());
    if (l1_ != 0.0)
      for (double& v : xht) v -= l1_;
    double violation_init = 0.0;
    for (int64_t it = 1; it <= max_iter_; ++it) {
      double violation = 0.0;
      for (int64_t s = 0; s < k; ++s) {
        const int64_t t = order_.empty() ? s : order_[(it - 1) * k + s];
        const double hess = hht_[t * k + t];
        for (int64_t i = 0; i < n; ++i) {
          double* wi = w + i * k;
          double grad = -xht[i * k + t];
          for (int64_t r = 0; r < k; ++r) grad += hht_[t * k + r] * wi[r];
          double pg = grad;
          if (wi[t] == 0) pg = grad < 0.0 ? grad : 0.0;  // Cython's min(0., grad)
          violation += std::fabs(pg);
          if (hess != 0) {
            const double v = wi[t] - grad / hess;
            wi[t] = 0.0 > v ? 0.0 : v;  // Cython's max(v, 0.)
          }
        }
      }
      if (it == 1) violation_init = violation;
      if (violation_init == 0) break;
      if (violation / violation_init <= tol_) break;
    }
  }

  // _beta_divergence(X, W, H, beta, square_root=True)
  double divergence(int64_t n, const double* x, const double* w, std::vector<double>& wh) const {
    const int64_t k = k_, f = f_, nf = n * f;
    prod_nt(n, f, k, w, ht_.data(), wh.data());
    double res;
    if (beta_ == 2) {
      double s = 0.0;
      for (int64_t i = 0; i < nf; ++i) {
        const double d = x[i] - wh[i];
        s += d * d;
      }
      res = s / 2.0;
      return std::sqrt(res * 2);
    }
    std::vector<double> xd, whd;
    xd.reserve(static_cast<size_t>(nf));
    whd.reserve(static_cast<size_t>(nf));
    for (int64_t i = 0; i < nf; ++i)
      if (x[i] > kEps32) {
        xd.push_back(x[i]);
        whd.push_back(wh[i] < kEps32 ? kEps32 : wh[i]);
      }
    const int64_t m = static_cast<int64_t>(xd.size());
    if (beta_ == 1) {
      std::vector<double> wsum(static_cast<size_t>(k), 0.0), hsum(static_cast<size_t>(k));
      for (int64_t i = 0; i < n; ++i)
        for (int64_t t = 0; t < k; ++t) wsum[t] += w[i * k + t];
      for (int64_t t = 0; t < k; ++t) hsum[t] = dense::pairwise_sum(h_.data() + t * f, f);
      double sum_wh = 0.0;
      for (int64_t t = 0; t < k; ++t) sum_wh += wsum[t] * hsum[t];
      double s = 0.0;
      for (int64_t i = 0; i < m; ++i) s += xd[i] * std::log(xd[i] / whd[i]);
      res = s + (sum_wh - dense::pairwise_sum(xd.data(), m));
    } else if (beta_ == 0) {
      std::vector<double> div(static_cast<size_t>(m)), lg(static_cast<size_t>(m));
      for (int64_t i = 0; i < m; ++i) {
        div[i] = xd[i] / whd[i];
        lg[i] = std::log(div[i]);
      }
      res = dense::pairwise_sum(div.data(), m) - static_cast<double>(nf) -
            dense::pairwise_sum(lg.data(), m);
    } else {
      std::vector<double> p(static_cast<size_t>(nf));
      for (int64_t i = 0; i < nf; ++i) p[i] = npow(wh[i], beta_);
      const double sum_wh_beta = dense::pairwise_sum(p.data(), nf);
      double sum_x_wh = 0.0;
      std::vector<double> xb(static_cast<size_t>(m));
      for (int64_t i = 0; i < m; ++i) {
        sum_x_wh += xd[i] * npow(whd[i], beta_ - 1);
        xb[i] = npow(xd[i], beta_);
      }
      res = dense::pairwise_sum(xb.data(), m) - beta_ * sum_x_wh;
      res += sum_wh_beta * (beta_ - 1);
      res /= beta_ * (beta_ - 1);
    }
    if (0 > res) res = 0;  // Python's max(res, 0)
    return std::sqrt(2 * res);
  }

  void mu(int64_t n, const double* x, double* w) const {
    const int64_t k = k_, f = f_, nf = n * f, nk = n * k;
    const double mean = dense::pairwise_sum(x, nf) / static_cast<double>(nf);
    const double avg = std::sqrt(mean / static_cast<double>(k));
    std::fill(w, w + nk, avg);
    std::vector<double> xht, num(static_cast<size_t>(nk)), den(static_cast<size_t>(nk)),
        wh, whx, prev;
    std::vector<double> h_sum = h_sum_;  // beta = 1, "mu": numpy's cached (and mutated) H_sum
    if (beta_ == 2) {
      xht.resize(static_cast<size_t>(nk));
      prod_nt(n, k, f, x, h_.data(), xht.data());
    } else {
      wh.resize(static_cast<size_t>(nf));
      whx.resize(static_cast<size_t>(nf));
    }
    const bool minibatch = solver_ == Solver::kMiniBatch;
    double error_at_init = 0, previous_error = 0;
    if (!minibatch) {
      std::vector<double> tmp(static_cast<size_t>(nf));
      error_at_init = previous_error = divergence(n, x, w, tmp);
    } else {
      prev.assign(w, w + nk);
    }
    std::vector<double> errbuf(minibatch ? 0 : static_cast<size_t>(nf));
    for (int64_t it = 1; it <= max_iter_; ++it) {
      // _multiplicative_update_w
      bool den_is_hsum = false;
      if (beta_ == 2) {
        num = xht;
        prod_nt(n, k, k, w, hhtt_.data(), den.data());  // W . HHt
      } else {
        prod_nt(n, f, k, w, ht_.data(), whx.data());  // W . H
        std::copy(whx.begin(), whx.end(), wh.begin());
        if (beta_ < 1)
          for (double& v : wh) v = v < kEps32 ? kEps32 : v;
        if (beta_ < 2)
          for (double& v : whx) v = v < kEps32 ? kEps32 : v;
        if (beta_ == 1) {
          for (int64_t i = 0; i < nf; ++i) whx[i] = x[i] / whx[i];
        } else if (beta_ == 0) {
          for (int64_t i = 0; i < nf; ++i) {
            const double r = 1.0 / whx[i];
            whx[i] = (r * r) * x[i];
          }
        } else {
          for (int64_t i = 0; i < nf; ++i) whx[i] = npow(whx[i], beta_ - 2) * x[i];
        }
        prod_nt(n, k, f, whx.data(), h_.data(), num.data());
        if (beta_ == 1) {
          if (minibatch) h_sum = h_sum_;  // recomputed on each call
          den_is_hsum = true;
        } else {
          for (double& v : wh) v = npow(v, beta_ - 1);
          prod_nt(n, k, f, wh.data(), h_.data(), den.data());
        }
      }
      if (den_is_hsum) {
        // denominator is a broadcast view of H_sum: += and the zero rule write into it
        if (l1_ > 0)
          for (double& v : h_sum) v += l1_;
        if (l2_ > 0) {
          for (int64_t i = 0; i < n; ++i)
            for (int64_t t = 0; t < k; ++t) den[i * k + t] = h_sum[t] + l2_ * w[i * k + t];
          for (double& v : den) if (v == 0) v = kEps32;
        } else {
          for (double& v : h_sum) if (v == 0) v = kEps32;
          for (int64_t i = 0; i < n; ++i)
            for (int64_t t = 0; t < k; ++t) den[i * k + t] = h_sum[t];
        }
      } else {
        if (l1_ > 0)
          for (double& v : den) v += l1_;
        if (l2_ > 0)
          for (int64_t i = 0; i < nk; ++i) den[i] = den[i] + l2_ * w[i];
        for (double& v : den) if (v == 0) v = kEps32;
      }
      for (int64_t i = 0; i < nk; ++i) {
        double d = num[i] / den[i];
        if (gamma_ != 1) d = npow(d, gamma_);
        w[i] *= d;
      }
      if (minibatch) {
        double a = 0, b = 0;
        for (int64_t i = 0; i < nk; ++i) {
          const double d = w[i] - prev[i];
          a += d * d;
          b += w[i] * w[i];
        }
        const double w_diff = std::sqrt(a) / std::sqrt(b);
        if (tol_ > 0 && w_diff <= tol_) break;
        std::copy(w, w + nk, prev.begin());
        continue;
      }
      if (beta_ < 1)
        for (int64_t i = 0; i < nk; ++i) if (w[i] < kEps64) w[i] = 0.0;
      if (tol_ > 0 && it % 10 == 0) {
        const double error = divergence(n, x, w, errbuf);
        if ((previous_error - error) / error_at_init < tol_) break;
        previous_error = error;
      }
    }
  }

  std::string name_;
  Solver solver_;
  int64_t k_, f_;
  std::vector<double> h_, hht_, ht_, hhtt_, h_sum_;
  std::vector<int64_t> order_;
  double beta_, gamma_, tol_;
  int64_t max_iter_;
  double l1_, l2_;
  bool nonneg_;
};

Status whole_number(const NodeBuild& b, const char* key, double lo, double hi, int64_t* out) {
  double v;
  MLE_RETURN_IF_ERROR(b.number(key, &v));
  if (!(v >= lo && v <= hi) || v != std::floor(v))
    return b.error(std::string("'") + key + "' must be a whole number in [" +
                   std::to_string(static_cast<int64_t>(lo)) + ", " +
                   std::to_string(static_cast<int64_t>(hi)) + "]");
  *out = static_cast<int64_t>(v);
  return Status::OK();
}

Status finite_number(const NodeBuild& b, const char* key, double* out) {
  MLE_RETURN_IF_ERROR(b.number(key, out));
  if (!std::isfinite(*out)) return b.error(std::string("'") + key + "' must be finite");
  return Status::OK();
}

constexpr double kMaxIter = 2147483647.0;

Status make_nmf(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  ValueInfo in;
  MLE_RETURN_IF_ERROR(b.float_input(&in));
  const TensorRef *h, *hht, *hsum = nullptr, *order = nullptr;
  MLE_RETURN_IF_ERROR(b.tensor("components", DType::kF64, {-1, in.cols}, &h));
  const int64_t nc = h->shape[0];
  if (nc < 1) return b.error("'components' needs at least one row");
  MLE_RETURN_IF_ERROR(b.tensor("hht", DType::kF64, {nc, nc}, &hht));
  std::string solver_s, name;
  MLE_RETURN_IF_ERROR(b.string("solver", &solver_s));
  MLE_RETURN_IF_ERROR(b.string("name", &name));
  const Solver solver = solver_s == "cd" ? Solver::kCd
                        : solver_s == "mu" ? Solver::kMu : Solver::kMiniBatch;
  double beta, gamma, tol, l1, l2;
  int64_t max_iter;
  MLE_RETURN_IF_ERROR(finite_number(b, "beta", &beta));
  MLE_RETURN_IF_ERROR(finite_number(b, "gamma", &gamma));
  MLE_RETURN_IF_ERROR(finite_number(b, "tol", &tol));
  MLE_RETURN_IF_ERROR(finite_number(b, "l1", &l1));
  MLE_RETURN_IF_ERROR(finite_number(b, "l2", &l2));
  MLE_RETURN_IF_ERROR(whole_number(b, "max_iter", 0, kMaxIter, &max_iter));
  bool nonneg;
  MLE_RETURN_IF_ERROR(b.boolean("nonnegative", &nonneg));
  if (solver == Solver::kCd && beta != 2) return b.error("solver \"cd\" needs beta 2");
  MLE_RETURN_IF_ERROR(b.tensor("h_sum", DType::kF64, {nc}, &hsum, true));
  if (solver != Solver::kCd && beta == 1 && !hsum)
    return b.error("beta 1 needs 'h_sum' (the row sums of 'components')");
  MLE_RETURN_IF_ERROR(b.tensor("order", DType::kI64, {max_iter, nc}, &order, true));
  if (order) {
    if (solver != Solver::kCd) return b.error("'order' belongs to solver \"cd\"");
    // each row: a permutation of 0..k-1
    std::vector<char> seen(static_cast<size_t>(nc));
    const int64_t* o = order->as<int64_t>();
    for (int64_t it = 0; it < max_iter; ++it) {
      std::fill(seen.begin(), seen.end(), 0);
      for (int64_t s = 0; s < nc; ++s) {
        const int64_t t = o[it * nc + s];
        if (t < 0 || t >= nc || seen[t])
          return b.error("'order' row " + std::to_string(it) + " is not a permutation of 0.." +
                         std::to_string(nc - 1));
        seen[t] = 1;
      }
    }
  }
  k->reset(new NMFTransform(name, solver, nc, in.cols, h->as<double>(), hht->as<double>(),
                            hsum ? hsum->as<double>() : nullptr,
                            order ? order->as<int64_t>() : nullptr, beta, gamma, tol, max_iter,
                            l1, l2, nonneg));
  *out = ValueInfo{nc, ValueKind::kF64};
  return Status::OK();
}

// sklearn.decomposition._online_lda_fast.psi (J. Bernardo, AS 103), in double.
inline double lda_psi(double x) {
  const double euler = 0.577215664901532860606512090082402431;
  if (x <= 1e-6) return -euler - 1. / x;
  double result = 0;
  while (x < 6) {
    result -= 1. / x;
    x += 1;
  }
  double r = 1. / x;
  result += std::log(x) - .5 * r;
  r = r * r;
  result -= r * ((1. / 12.) - r * ((1. / 120.) - r * (1. / 252.)));
  return result;
}

class LDATransform final : public Kernel {
 public:
  LDATransform(int64_t k, int64_t f, const double* e, const double* init, double prior,
               int64_t max_iter, double tol)
      : k_(k), f_(f), e_(e), init_(init, init + k), prior_(prior), max_iter_(max_iter),
        tol_(tol) {}

  bool checks_input() const override { return true; }
  double cost_per_row() const override {
    return static_cast<double>(std::max<int64_t>(max_iter_, 1)) * 2 * k_ * f_ / 4 + 1;
  }
  std::string refusal(int64_t rows, const View* in) const override {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < f_; ++j) {
        const double v = in[0].dtype == DType::kF32 ? in[0].row<float>(r)[j]
                                                    : in[0].row<double>(r)[j];
        if (v < 0) return "Negative values in data passed to LatentDirichletAllocation.transform";
      }
    return {};
  }

  void run(int64_t rows, const View* in, const View& out) const override {
    const int64_t k = k_, f = f_;
    int64_t ld;
    const double* x = rows_as_f64(in[0], rows, f, &ld);
    std::vector<int64_t> ids(static_cast<size_t>(f));
    std::vector<double> cnts(static_cast<size_t>(f)), phi(static_cast<size_t>(f)),
        last(static_cast<size_t>(k)), doc(static_cast<size_t>(k)), ex(static_cast<size_t>(k)),
        tmp(static_cast<size_t>(k));
    for (int64_t r = 0; r < rows; ++r) {
      const double* xr = x + r * ld;
      int64_t m = 0;
      for (int64_t j = 0; j < f; ++j)
        if (xr[j] != 0) {
          ids[m] = j;
          cnts[m] = xr[j];
          ++m;
        }
      std::fill(doc.begin(), doc.end(), 1.0);
      std::copy(init_.begin(), init_.end(), ex.begin());
      for (int64_t it = 0; it < max_iter_; ++it) {
        last = doc;
        // norm_phi = exp_doc_topic_d . exp_topic_word_d + eps
        for (int64_t j = 0; j < m; ++j) {
          double s = 0.0;
          for (int64_t t = 0; t < k; ++t) s += ex[t] * e_[t * f + ids[j]];
          phi[j] = s + kEps64;
        }
        for (int64_t j = 0; j < m; ++j) phi[j] = cnts[j] / phi[j];
        for (int64_t t = 0; t < k; ++t) {
          double s = 0.0;
          const double* et = e_ + t * f;
          for (int64_t j = 0; j < m; ++j) s += phi[j] * et[ids[j]];
          doc[t] = ex[t] * s;
        }
        // _dirichlet_expectation_1d(doc, prior, ex)
        double total = 0.0;
        for (int64_t t = 0; t < k; ++t) {
          const double dt = doc[t] + prior_;
          doc[t] = dt;
          total += dt;
        }
        const double psi_total = lda_psi(total);
        for (int64_t t = 0; t < k; ++t) ex[t] = std::exp(lda_psi(doc[t]) - psi_total);
        double change = 0.0;
        for (int64_t t = 0; t < k; ++t) change += std::fabs(last[t] - doc[t]);
        if (change / static_cast<double>(k) < tol_) break;
      }
      const double s = dense::pairwise_sum(doc.data(), k);
      double* o = out.row<double>(r);
      for (int64_t t = 0; t < k; ++t) o[t] = doc[t] / s;
    }
  }

 private:
  int64_t k_, f_;
  const double* e_;
  std::vector<double> init_;
  double prior_;
  int64_t max_iter_;
  double tol_;
};

Status make_lda(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  ValueInfo in;
  MLE_RETURN_IF_ERROR(b.float_input(&in));
  const TensorRef *e, *init;
  MLE_RETURN_IF_ERROR(b.tensor("exp_topic_word", DType::kF64, {-1, in.cols}, &e));
  const int64_t nc = e->shape[0];
  if (nc < 1) return b.error("'exp_topic_word' needs at least one row");
  MLE_RETURN_IF_ERROR(b.tensor("exp_doc_topic_init", DType::kF64, {nc}, &init));
  double prior, tol;
  int64_t max_iter;
  MLE_RETURN_IF_ERROR(finite_number(b, "doc_topic_prior", &prior));
  MLE_RETURN_IF_ERROR(finite_number(b, "tol", &tol));
  MLE_RETURN_IF_ERROR(whole_number(b, "max_iter", 0, kMaxIter, &max_iter));
  k->reset(new LDATransform(nc, in.cols, e->as<double>(), init->as<double>(), prior, max_iter,
                            tol));
  *out = ValueInfo{nc, ValueKind::kF64};
  return Status::OK();
}

}  // namespace

const OpRegistrar kRegistered({
    {"NMFTransform", make_nmf, 1,
     {attr::tensor("components", DType::kF64), attr::tensor("hht", DType::kF64),
      attr::tensor("h_sum", DType::kF64, kOptional), attr::tensor("order", DType::kI64, kOptional),
      attr::string("solver", {"cd", "mu", "minibatch"}), attr::string("name", {}),
      attr::number("beta"), attr::number("gamma"), attr::number("tol"),
      attr::number("max_iter"), attr::number("l1"), attr::number("l2"),
      attr::boolean("nonnegative")}},
    {"LDATransform", make_lda, 1,
     {attr::tensor("exp_topic_word", DType::kF64), attr::tensor("exp_doc_topic_init", DType::kF64),
      attr::number("doc_topic_prior"), attr::number("tol"), attr::number("max_iter")}},
})
;

}  // namespace mle
