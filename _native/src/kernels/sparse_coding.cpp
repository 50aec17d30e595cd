// Sparse coding (docs/FORMAT.md, section 11.15): scikit-learn's sparse_encode, the transform
// of SparseCoder, DictionaryLearning and MiniBatchDictionaryLearning, per row:
//
// - "threshold": sign(c) * max(|c| - alpha, 0), c = D @ x (clipped at 0 with positive);
// - "omp": orthogonal matching pursuit on the Gram matrix (orthogonal_mp_gram with
//   n_nonzero_coefs and no tolerance), its Cholesky updates and stopping rules;
// - "lasso_cd": Lasso's cyclic coordinate descent on the Gram matrix
//   (enet_coordinate_descent_gram with beta = 0, its duality gap and gap safe screening);
// - "lars", "lasso_lars": the least angle regression path on the Gram matrix
//   (_lars_path_solver with return_path=False: its Cholesky updates, drops and stopping);
//
// then, with split_sign, [max(code, 0), -min(code, 0)].
//
// And BernoulliRBM.score_samples (RbmPseudoLikelihood): the free energy of each row and of
// the row with one feature flipped, that feature drawn per row in row order from
// RandomState(seed).randint(0, n_features, n_rows) (MT19937, numpy's legacy seeding and
// masked rejection draw).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "../call_rows.h"
#include "mle/dense.h"
#include "mle/kernel.h"

namespace mle {
namespace {

enum class Algo { kThreshold, kOmp, kLassoCd, kLars, kLassoLars };

struct Params {
  Algo algo = Algo::kThreshold;
  int64_t k = 0;  // atoms
  int64_t d = 0;  // features
  const double* dict = nullptr;  // [k, d]
  const double* gram = nullptr;  // [k, k]
  double alpha = 0.0;
  int64_t n_nonzero = 0;
  int64_t max_iter = 0;
  double tol = 0.0;
  bool positive = false;
  bool split_sign = false;
};

inline double fsign(double f) { return f == 0 ? 0.0 : (f > 0 ? 1.0 : -1.0); }

// c[j] = sum_f D[j, f] * x[f], in feature order from 0.0.
void covariance(const Params& p, const double* x, double* c) {
  for (int64_t j = 0; j < p.k; ++j) {
    const double* dj = p.dict + j * p.d;
    double s = 0.0;
    for (int64_t f = 0; f < p.d; ++f) s += dj[f] * x[f];
    c[j] = s;
  }
}

void threshold(const Params& p, const double* c, double* code) {
  for (int64_t j = 0; j < p.k; ++j) {
    double v = fsign(c[j]) * std::max(std::fabs(c[j]) - p.alpha, 0.0);
    if (p.positive && v < 0) v = 0.0;
    code[j] = v;
  }
}

// _gram_omp with tol None: T is the Gram matrix's type (the caller's float type), the
// covariance and residual correlations are float64.
template <class T>
void omp(const Params& p, const double* cov, double* code, std::vector<T>& gram,
         std::vector<T>& L, std::vector<double>& xy, std::vector<double>& alpha,
         std::vector<T>& gamma, std::vector<T>& tmp, std::vector<int64_t>& indices) {
  const int64_t k = p.k;
  const int64_t m = p.n_nonzero;
  for (int64_t i = 0; i < k * k; ++i) gram[i] = static_cast<T>(p.gram[i]);
  for (int64_t i = 0; i < k; ++i) {
    xy[i] = cov[i];
    alpha[i] = cov[i];
    indices[i] = i;
  }
  const double min_float = static_cast<double>(std::numeric_limits<T>::epsilon());
  int64_t n_active = 0;
  auto G = [&](int64_t r, int64_t c) -> T& { return gram[r * k + c]; };
  auto Lm = [&](int64_t r, int64_t c) -> T& { return L[r * m + c]; };
  while (true) {
    int64_t lam = 0;
    double best = std::fabs(alpha[0]);
    for (int64_t i = 1; i < k; ++i) {
      const double a = std::fabs(alpha[i]);
      if (a > best) {
        best = a;
        lam = i;
      }
    }
    if (lam < n_active || alpha[lam] * alpha[lam] < min_float) break;
    if (n_active > 0) {
      // forward substitution: L[:n, :n] w = Gram[lam, :n]
      for (int64_t i = 0; i < n_active; ++i) {
        T s = G(lam, i);
        for (int64_t j = 0; j < i; ++j) s -= Lm(i, j) * Lm(n_active, j);
        Lm(n_active, i) = s / Lm(i, i);
      }
      double ss = 0.0;
      for (int64_t j = 0; j < n_active; ++j) {
        const double w = static_cast<double>(Lm(n_active, j));
        ss += w * w;
      }
      const double nrm = static_cast<double>(static_cast<T>(std::sqrt(ss)));
      const double v = nrm * nrm;
      const T lkk = G(lam, lam) - static_cast<T>(v);
      if (static_cast<double>(lkk) <= min_float) break;
      Lm(n_active, n_active) = static_cast<T>(std::sqrt(static_cast<double>(lkk)));
    } else {
      Lm(0, 0) = static_cast<T>(std::sqrt(static_cast<double>(G(lam, lam))));
    }
    if (lam != n_active) {
      for (int64_t c = 0; c < k; ++c) std::swap(G(n_active, c), G(lam, c));
      for (int64_t r = 0; r < k; ++r) std::swap(G(r, n_active), G(r, lam));
      std::swap(indices[n_active], indices[lam]);
      std::swap(xy[n_active], xy[lam]);
    }
    ++n_active;
    // L L' gamma = Xy[:n] (in T)
    for (int64_t i = 0; i < n_active; ++i) {
      T s = static_cast<T>(xy[i]);
      for (int64_t j = 0; j < i; ++j) s -= Lm(i, j) * tmp[j];
      tmp[i] = s / Lm(i, i);
    }
    for (int64_t i = n_active - 1; i >= 0; --i) {
      T s = tmp[i];
      for (int64_t j = i + 1; j < n_active; ++j) s -= Lm(j, i) * gamma[j];
      gamma[i] = s / Lm(i, i);
    }
    for (int64_t r = 0; r < k; ++r) {
      T b = 0;
      for (int64_t j = 0; j < n_active; ++j) b += G(r, j) * gamma[j];
      alpha[r] = xy[r] - static_cast<double>(b);
    }
    if (n_active == m) break;
  }
  for (int64_t i = 0; i < k; ++i) code[i] = 0.0;
  for (int64_t i = 0; i < n_active; ++i) code[indices[i]] = static_cast<double>(gamma[i]);
}

struct Gap {
  double gap, dual_norm;
};

// gap_enet_gram with beta = 0; XtA is written.
Gap gap_gram(const Params& p, const double* w, const double* qw, const double* q,
             double y_norm2, double* xta, double alpha) {
  const int64_t n = p.k;
  double q_dot_w = 0.0, wqw = 0.0;
  for (int64_t j = 0; j < n; ++j) q_dot_w += w[j] * q[j];
  for (int64_t j = 0; j < n; ++j) wqw += w[j] * qw[j];
  const double r_norm2 = y_norm2 + wqw - 2.0 * q_dot_w;
  if (alpha == 0) {
    for (int64_t j = 0; j < n; ++j) xta[j] = q[j] - qw[j];
    double s = 0.0;
    for (int64_t j = 0; j < n; ++j) s += xta[j] * xta[j];
    return Gap{s, s};
  }
  const double ry = y_norm2 - q_dot_w;
  for (int64_t j = 0; j < n; ++j) xta[j] = q[j] - qw[j] - 0.0 * w[j];
  double dn;
  if (p.positive) {
    dn = xta[0];
    for (int64_t j = 1; j < n; ++j)
      if (xta[j] > dn) dn = xta[j];
  } else {
    dn = std::fabs(xta[0]);
    for (int64_t j = 1; j < n; ++j)
      if (std::fabs(xta[j]) > dn) dn = std::fabs(xta[j]);
  }
  double l1 = 0.0;
  for (int64_t j = 0; j < n; ++j) l1 += std::fabs(w[j]);
  const double primal = 0.5 * (r_norm2 + 0.0 * 0.0) + alpha * l1;
  const double scale = dn > alpha ? alpha / dn : 1.0;
  const double dual = -0.5 * (scale * scale) * (r_norm2 + 0.0 * 0.0) + scale * ry;
  return Gap{primal - dual, dn};
}

void lasso_cd(const Params& p, const double* x, const double* q, double* w, double* qw,
              double* xta, uint32_t* active, uint8_t* excluded) {
  const int64_t n = p.k;
  const double* Q = p.gram;
  const double alpha = p.alpha;
  for (int64_t j = 0; j < n; ++j) {
    w[j] = 0.0;
    qw[j] = 0.0;  // Q @ 0
  }
  double y_norm2 = 0.0;
  for (int64_t f = 0; f < p.d; ++f) y_norm2 += x[f] * x[f];
  const bool screening = alpha != 0;
  const double tol = p.tol * y_norm2;
  const double d_w_tol = p.tol;
  auto axpy = [&](double a, int64_t j) {
    const double* qj = Q + j * n;
    for (int64_t i = 0; i < n; ++i) qw[i] += a * qj[i];
  };
  auto screen = [&](const Gap& g, bool first, int64_t* n_active) {
    const double radius = std::sqrt(2 * std::fabs(g.gap)) / alpha;
    *n_active = 0;
    for (int64_t j = 0; j < n; ++j) {
      if (first) {
        if (Q[j * n + j] == 0) {
          w[j] = 0;
          excluded[j] = 1;
          continue;
        }
      } else if (excluded[j]) {
        continue;
      }
      const double xj_theta = xta[j] / std::max(alpha, g.dual_norm);
      const double d_j = (1 - std::fabs(xj_theta)) / std::sqrt(Q[j * n + j] + 0.0);
      if (d_j <= radius) {
        active[(*n_active)++] = static_cast<uint32_t>(j);
        excluded[j] = 0;
      } else {
        if (w[j] != 0) {
          axpy(-w[j], j);
          w[j] = 0;
        }
        excluded[j] = 1;
      }
    }
  };
  Gap g = gap_gram(p, w, qw, q, y_norm2, xta, alpha);
  if (0 <= g.gap && g.gap <= tol) return;
  int64_t n_active = n;
  if (screening) screen(g, true, &n_active);
  for (int64_t it = 0; it < p.max_iter; ++it) {
    double w_max = 0.0, d_w_max = 0.0;
    for (int64_t f = 0; f < n_active; ++f) {
      const int64_t j = screening ? static_cast<int64_t>(active[f]) : f;
      const double qjj = Q[j * n + j];
      if (qjj == 0.0) continue;
      const double w_j = w[j];
      const double t = q[j] - qw[j] + w_j * qjj;
      if (p.positive && t < 0)
        w[j] = 0.0;
      else
        w[j] = fsign(t) * std::max(std::fabs(t) - alpha, 0.0) / (qjj + 0.0);
      if (w[j] != w_j) axpy(w[j] - w_j, j);
      const double d_w_j = std::fabs(w[j] - w_j);
      if (d_w_j > d_w_max) d_w_max = d_w_j;
      if (std::fabs(w[j]) > w_max) w_max = std::fabs(w[j]);
    }
    if (w_max == 0.0 || d_w_max / w_max <= d_w_tol || it == p.max_iter - 1) {
      g = gap_gram(p, w, qw, q, y_norm2, xta, alpha);
      if (g.gap <= tol) break;
      if (screening) screen(g, false, &n_active);
    }
  }
}

// _lars_path_solver with a Gram matrix and return_path=False (Lars / LassoLars with
// precompute=gram, fit_path=False), for float64 X (T = double; float32 X is refused).
// drotg as OpenBLAS computes it (the hypotenuse in extended precision).
inline void rotg(double* a, double* b, double* c, double* s) {
  const double da = *a, db = *b;
  const double ada = std::fabs(da), adb = std::fabs(db);
  const double roe = ada > adb ? da : db;
  if (ada + adb == 0.0) {
    *c = 1.0, *s = 0.0, *a = 0.0, *b = 0.0;
    return;
  }
  double r = static_cast<double>(std::sqrt(static_cast<long double>(da) * da +
                                           static_cast<long double>(db) * db));
  if (roe < 0) r = -r;
  *c = da / r;
  *s = db / r;
  *a = r;
  *b = 1.0;
}

// scikit-learn's arrayfuncs.cholesky_delete on the n x n leading block of L (row stride ld).
template <class T>
void cholesky_delete(T* L, int64_t ld, int64_t n, int64_t go_out) {
  T* L1 = L + go_out * ld;
  for (int64_t i = go_out; i < n - 1; ++i) {
    for (int64_t j = 0; j < i + 2; ++j) L1[j] = L1[ld + j];
    L1 += ld;
  }
  L1 = L + go_out * ld;
  for (int64_t i = go_out; i < n - 1; ++i) {
    T c, s;
    rotg(L1 + i, L1 + i + 1, &c, &s);
    if (L1[i] < 0) {
      L1[i] = std::fabs(L1[i]);
      c = -c;
      s = -s;
    }
    L1[i + 1] = 0.;
    L1 += ld;
    T* x = L1 + i;
    T* y = L1 + i + 1;
    for (int64_t r = 0; r < n - i - 2; ++r) {
      const T xv = x[r * ld], yv = y[r * ld];
      x[r * ld] = c * xv + s * yv;
      y[r * ld] = c * yv - s * xv;
    }
  }
}

inline double min_pos(const std::vector<double>& v) {
  double m = std::numeric_limits<double>::max();
  for (double x : v)
    if (0. < x && x < m) m = x;
  return m;
}

// numpy's around(x, 15): rint(x * 1e15) / 1e15
inline double around15(double x) { return std::nearbyint(x * 1e15) / 1e15; }

constexpr const char* kLarsDegenerate =
    "the least angle regression path of a row reached a degenerate active set (linearly "
    "dependent atoms; scikit-learn warns 'Regressors in active set degenerate'): its result "
    "then depends on scikit-learn's BLAS rounding and is not reproduced";
constexpr const char* kLarsTie =
    "the least angle regression path of a row met two atoms with equal correlations (to "
    "rounding; duplicated or dependent atoms): scikit-learn's choice then depends on its "
    "BLAS rounding and is not reproduced";

// false (with an input error reported) where scikit-learn's path turns on rounding.
template <class T>
bool lars(const Params& p, const double* xy, double* out) {
  const int64_t nf = p.k;
  const double n_samples = static_cast<double>(p.d);
  const bool lasso = p.algo == Algo::kLassoLars;
  const bool positive = p.positive;
  const double alpha_min = lasso ? p.alpha : 0.0;
  const int64_t max_iter = p.max_iter;
  const int64_t max_features = std::min<int64_t>(max_iter, nf);
  const double eps = std::numeric_limits<double>::epsilon();
  const double tiny32 = static_cast<double>(std::numeric_limits<float>::min());
  const double eq_tol = static_cast<double>(std::numeric_limits<float>::epsilon());
  std::vector<T> gram(nf * nf), gram_copy(nf * nf);
  for (int64_t i = 0; i < nf * nf; ++i) gram_copy[i] = gram[i] = static_cast<T>(p.gram[i]);
  auto G = [&](int64_t r, int64_t c) -> T& { return gram[r * nf + c]; };
  std::vector<double> cov(xy, xy + nf), cov_copy(xy, xy + nf);
  std::vector<double> coef(nf, 0.0), prev_coef(nf, 0.0);
  double alpha = 0.0, prev_alpha = 0.0;
  int64_t n_iter = 0, n_active = 0;
  std::vector<int64_t> active, indices(nf);
  for (int64_t i = 0; i < nf; ++i) indices[i] = i;
  std::vector<int8_t> sign_active(std::max<int64_t>(max_features, 0), 0);
  bool drop = false;
  const int64_t ld = std::max<int64_t>(max_features, 1);
  std::vector<T> L(ld * ld, T(0));
  auto Lm = [&](int64_t r, int64_t c) -> T& { return L[r * ld + c]; };
  std::vector<T> ls, tmp;
  std::vector<double> corr, q1, q2, z;
  std::vector<int64_t> idx;
  // L L' x = b for the n x n leading block (potrs), b given as int8 signs
  auto solve = [&](const std::vector<T>& Lx, int64_t ldx, int64_t n, std::vector<T>& x) {
    x.assign(n, T(0));
    tmp.assign(n, T(0));
    for (int64_t i = 0; i < n; ++i) {
      T s = static_cast<T>(sign_active[i]);
      for (int64_t j = 0; j < i; ++j) s -= Lx[i * ldx + j] * tmp[j];
      tmp[i] = s / Lx[i * ldx + i];
    }
    for (int64_t i = n - 1; i >= 0; --i) {
      T s = tmp[i];
      for (int64_t j = i + 1; j < n; ++j) s -= Lx[j * ldx + i] * x[j];
      x[i] = s / Lx[i * ldx + i];
    }
  };
  auto sum_signed = [&](const std::vector<T>& x, int64_t n) {
    std::vector<double> prod(n);
    for (int64_t i = 0; i < n; ++i) prod[i] = static_cast<double>(x[i] * static_cast<T>(sign_active[i]));
    if (sizeof(T) == sizeof(double)) return dense::pairwise_sum(prod.data(), n);
    float s = 0.0f;  // float32: numpy's float32 sum of up to 8 values is sequential
    for (int64_t i = 0; i < n; ++i) s += static_cast<float>(prod[i]);
    return static_cast<double>(s);
  };
  while (true) {
    int64_t c_idx = 0;
    double C_ = 0.0, C = 0.0;
    if (!cov.empty()) {
      double best = positive ? cov[0] : std::fabs(cov[0]);
      for (size_t i = 1; i < cov.size(); ++i) {
        const double a = positive ? cov[i] : std::fabs(cov[i]);
        if (a > best) best = a, c_idx = static_cast<int64_t>(i);
      }
      C_ = cov[c_idx];
      C = positive ? C_ : std::fabs(C_);
    }
    alpha = C / n_samples;
    if (alpha <= alpha_min + eq_tol) {
      if (std::fabs(alpha - alpha_min) > eq_tol) {
        if (n_iter > 0) {
          const double ss = (prev_alpha - alpha_min) / (prev_alpha - alpha);
          for (int64_t i = 0; i < nf; ++i) coef[i] = prev_coef[i] + ss * (coef[i] - prev_coef[i]);
        }
        alpha = alpha_min;
      }
      break;
    }
    if (n_iter >= max_iter || n_active >= nf) break;
    if (!drop) {
      // a tie (to rounding) for the largest correlation: scikit-learn's pick follows its BLAS
      for (size_t i = 0; i < cov.size(); ++i) {
        const double a = positive ? cov[i] : std::fabs(cov[i]);
        if (static_cast<int64_t>(i) != c_idx && C > 0 && a >= C * (1 - 1e-9)) {
          report_input_error(kLarsTie);
          return false;
        }
      }
      // more active atoms than features: they are linearly dependent
      if (n_active >= p.d) {
        report_input_error(kLarsDegenerate);
        return false;
      }
      if (n_active >= static_cast<int64_t>(sign_active.size())) sign_active.resize(n_active + 1, 0);
      sign_active[n_active] = positive ? 1 : static_cast<int8_t>(C_ > 0 ? 1 : (C_ < 0 ? -1 : 0));
      const int64_t m = n_active, n = c_idx + n_active;
      std::swap(cov[c_idx], cov[0]);
      std::swap(indices[n], indices[m]);
      cov.erase(cov.begin());
      if (m != n) {
        for (int64_t c = 0; c < nf; ++c) std::swap(G(m, c), G(n, c));
        for (int64_t r = 0; r < nf; ++r) std::swap(G(r, m), G(r, n));
      }
      const T c = G(n_active, n_active);
      for (int64_t j = 0; j < n_active; ++j) Lm(n_active, j) = G(n_active, j);
      for (int64_t i = 0; i < n_active; ++i) {
        T s = Lm(n_active, i);
        for (int64_t j = 0; j < i; ++j) s -= Lm(i, j) * Lm(n_active, j);
        Lm(n_active, i) = s / Lm(i, i);
      }
      T v = 0;
      for (int64_t j = 0; j < n_active; ++j) v += Lm(n_active, j) * Lm(n_active, j);
      const double diag = std::max(static_cast<double>(std::sqrt(std::fabs(c - v))), eps);
      Lm(n_active, n_active) = static_cast<T>(diag);
      if (diag < 1e-7) {
        report_input_error(kLarsDegenerate);
        return false;
      }
      active.push_back(indices[n_active]);
      ++n_active;
    }
    if (lasso && n_iter > 0 && prev_alpha < alpha) break;
    solve(L, ld, n_active, ls);
    double AA;
    if (n_active == 1 && ls[0] == 0) {
      ls[0] = 1;
      AA = 1.0;
    } else {
      AA = 1.0 / std::sqrt(sum_signed(ls, n_active));
      if (!std::isfinite(AA)) {
        int i = 0;
        std::vector<T> L_(n_active * n_active);
        for (int64_t r = 0; r < n_active; ++r)
          for (int64_t c = 0; c < n_active; ++c) L_[r * n_active + c] = Lm(r, c);
        while (!std::isfinite(AA)) {
          for (int64_t r = 0; r < n_active; ++r)
            L_[r * n_active + r] += static_cast<T>(std::ldexp(1.0, i) * eps);
          solve(L_, n_active, n_active, ls);
          const double t = std::max(sum_signed(ls, n_active), eps);
          AA = 1.0 / std::sqrt(t);
          ++i;
        }
      }
      for (int64_t i = 0; i < n_active; ++i) ls[i] = static_cast<T>(ls[i] * AA);
    }
    const int64_t rest = nf - n_active;
    corr.assign(rest, 0.0);
    for (int64_t j = 0; j < rest; ++j) {
      T s = 0;
      for (int64_t i = 0; i < n_active; ++i) s += G(i, n_active + j) * ls[i];
      corr[j] = around15(static_cast<double>(s));
    }
    q1.resize(rest);
    for (int64_t j = 0; j < rest; ++j) q1[j] = (C - cov[j]) / (AA - corr[j] + tiny32);
    double gamma = min_pos(q1);
    if (positive) {
      gamma = std::min(gamma, C / AA);
    } else {
      q2.resize(rest);
      for (int64_t j = 0; j < rest; ++j) q2[j] = (C + cov[j]) / (AA + corr[j] + tiny32);
      const double g2 = min_pos(q2);
      const double g3 = C / AA;
      if (g2 < gamma) gamma = g2;
      if (g3 < gamma) gamma = g3;
    }
    drop = false;
    z.resize(n_active);
    for (int64_t i = 0; i < n_active; ++i)
      z[i] = -coef[active[i]] / (static_cast<double>(ls[i]) + tiny32);
    const double z_pos = min_pos(z);
    if (z_pos < gamma) {
      idx.clear();
      for (int64_t i = n_active - 1; i >= 0; --i)
        if (z[i] == z_pos) idx.push_back(i);
      for (int64_t i : idx) sign_active[i] = static_cast<int8_t>(-sign_active[i]);
      if (lasso) gamma = z_pos;
      drop = true;
    }
    ++n_iter;
    prev_coef = coef;
    prev_alpha = alpha;
    std::fill(coef.begin(), coef.end(), 0.0);
    for (int64_t i = 0; i < n_active; ++i)
      coef[active[i]] = prev_coef[active[i]] + gamma * static_cast<double>(ls[i]);
    for (int64_t j = 0; j < rest; ++j) cov[j] -= gamma * corr[j];
    if (drop && lasso) {
      for (int64_t ii : idx) cholesky_delete(L.data(), ld, n_active, ii);
      --n_active;
      std::vector<int64_t> drop_idx;
      for (int64_t ii : idx) {
        drop_idx.push_back(active[ii]);
        active.erase(active.begin() + ii);
      }
      for (int64_t ii : idx)
        for (int64_t i = ii; i < n_active; ++i) {
          std::swap(indices[i], indices[i + 1]);
          for (int64_t c = 0; c < nf; ++c) std::swap(G(i, c), G(i + 1, c));
          for (int64_t r = 0; r < nf; ++r) std::swap(G(r, i), G(r, i + 1));
        }
      std::vector<double> temp(drop_idx.size());
      for (size_t t = 0; t < drop_idx.size(); ++t) {
        double s = 0.0;
        for (int64_t c = 0; c < nf; ++c)
          s += static_cast<double>(gram_copy[drop_idx[t] * nf + c]) * coef[c];
        temp[t] = cov_copy[drop_idx[t]] - s;
      }
      cov.insert(cov.begin(), temp.begin(), temp.end());
      // np.delete(sign_active, idx) then a 0 appended for each... once
      std::vector<int8_t> kept;
      for (int64_t i = 0; i < static_cast<int64_t>(sign_active.size()); ++i)
        if (std::find(idx.begin(), idx.end(), i) == idx.end()) kept.push_back(sign_active[i]);
      kept.push_back(0);
      sign_active = kept;
    }
  }
  for (int64_t i = 0; i < nf; ++i) out[i] = coef[i];
  return true;
}

class SparseEncode final : public Kernel {
 public:
  explicit SparseEncode(const Params& p) : p_(p) {}

  double cost_per_row() const override {
    const double k = static_cast<double>(p_.k), d = static_cast<double>(p_.d);
    if (p_.algo == Algo::kThreshold) return k * d;
    if (p_.algo == Algo::kOmp) return k * d + static_cast<double>(p_.n_nonzero) * k * k;
    return k * d + 20.0 * k * k;
  }

  void run(int64_t rows, const View* in, const View& out) const override {
    if (p_.algo == Algo::kLassoCd && in[0].dtype == DType::kF32) {
      report_input_error(
          "transform_algorithm='lasso_cd' needs float64 X: scikit-learn's coordinate descent "
          "refuses float32 data (Buffer dtype mismatch); convert X to float64");
      return;
    }
    if ((p_.algo == Algo::kLars || p_.algo == Algo::kLassoLars) &&
        in[0].dtype == DType::kF32) {
      report_input_error(
          "transform_algorithm 'lars' and 'lasso_lars' take float64 X here: scikit-learn "
          "solves float32 X partly in float32 (its Gram matrix and Cholesky factor), which is "
          "not reproduced; convert X to float64");
      return;
    }
    const int64_t k = p_.k;
    int64_t ld = 0;
    const double* xs = rows_as_f64(in[0], rows, p_.d, &ld);
    std::vector<double> cov(k), code(k), a(k), b(k), c(k);
    std::vector<uint32_t> active(k);
    std::vector<uint8_t> excluded(k);
    std::vector<int64_t> indices(k);
    std::vector<double> gd, Ld, gmd, tmpd;
    std::vector<float> gf, Lf, gmf, tmpf;
    const bool f32 = in[0].dtype == DType::kF32;
    if (p_.algo == Algo::kOmp) {
      const size_t mm = static_cast<size_t>(p_.n_nonzero * p_.n_nonzero);
      if (f32) {
        gf.resize(k * k), Lf.resize(mm), gmf.resize(k), tmpf.resize(k);
      } else {
        gd.resize(k * k), Ld.resize(mm), gmd.resize(k), tmpd.resize(k);
      }
    }
    for (int64_t r = 0; r < rows; ++r) {
      const double* x = xs + r * ld;
      switch (p_.algo) {
        case Algo::kThreshold:
          covariance(p_, x, cov.data());
          threshold(p_, cov.data(), code.data());
          break;
        case Algo::kOmp:
          covariance(p_, x, cov.data());
          if (f32)
            omp<float>(p_, cov.data(), code.data(), gf, Lf, a, b, gmf, tmpf, indices);
          else
            omp<double>(p_, cov.data(), code.data(), gd, Ld, a, b, gmd, tmpd, indices);
          break;
        case Algo::kLars:
        case Algo::kLassoLars:
          covariance(p_, x, cov.data());
          if (!lars<double>(p_, cov.data(), code.data())) return;
          break;
        case Algo::kLassoCd:
          covariance(p_, x, cov.data());
          lasso_cd(p_, x, cov.data(), code.data(), a.data(), c.data(), active.data(),
                   excluded.data());
          break;
      }
      // the output: float64, or the caller's float type (omp without split_sign)
      const bool out32 = out.dtype == DType::kF32;
      for (int64_t j = 0; j < k; ++j) {
        const double v = code[j];
        if (p_.split_sign) {
          double* o = out.row<double>(r);
          // omp's float32 code is held in float64 (split_sign's array is float64)
          o[j] = std::max(v, 0.0);
          o[k + j] = -std::min(v, 0.0);
        } else if (out32) {
          out.row<float>(r)[j] = static_cast<float>(v);
        } else {
          out.row<double>(r)[j] = v;
        }
      }
    }
  }

 private:
  Params p_;
};

Status make_sparse_encode(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  ValueInfo in;
  MLE_RETURN_IF_ERROR(b.float_input(&in));
  Params p;
  std::string algo;
  MLE_RETURN_IF_ERROR(b.string("algorithm", &algo));
  p.algo = algo == "omp"          ? Algo::kOmp
           : algo == "lasso_cd"   ? Algo::kLassoCd
           : algo == "lars"       ? Algo::kLars
           : algo == "lasso_lars" ? Algo::kLassoLars
                                  : Algo::kThreshold;
  const TensorRef* dict = nullptr;
  MLE_RETURN_IF_ERROR(b.tensor("dictionary", DType::kF64, {-1, in.cols}, &dict));
  p.k = dict->shape[0];
  p.d = in.cols;
  if (p.k < 1) return b.error("dictionary needs at least one atom (row)");
  if (p.d < 1) return b.error("SparseEncode needs at least one input column");
  p.dict = dict->as<double>();
  for (int64_t i = 0; i < p.k * p.d; ++i)
    if (!std::isfinite(p.dict[i])) return b.error("dictionary values must be finite");
  const TensorRef* gram = nullptr;
  MLE_RETURN_IF_ERROR(b.tensor("gram", DType::kF64, {p.k, p.k}, &gram, true));
  if (p.algo != Algo::kThreshold) {
    if (gram == nullptr) return b.error("algorithm '" + algo + "' needs the gram tensor");
    p.gram = gram->as<double>();
    for (int64_t i = 0; i < p.k * p.k; ++i)
      if (!std::isfinite(p.gram[i])) return b.error("gram values must be finite");
  }
  MLE_RETURN_IF_ERROR(b.boolean_or("positive", false, &p.positive));
  MLE_RETURN_IF_ERROR(b.boolean_or("split_sign", false, &p.split_sign));
  if (p.algo == Algo::kOmp || p.algo == Algo::kLars) {
    double m = 0;
    MLE_RETURN_IF_ERROR(b.number("n_nonzero_coefs", &m));
    if (!(m >= 1 && m <= static_cast<double>(p.k)) || m != std::floor(m))
      return b.error("n_nonzero_coefs must be an integer in [1, number of atoms]");
    p.n_nonzero = static_cast<int64_t>(m);
    p.max_iter = p.n_nonzero;
    if (p.positive) return b.error("positive is not defined for algorithm '" + algo + "'");
  } else {
    double a = 0;
    MLE_RETURN_IF_ERROR(b.number("alpha", &a));
    if (!std::isfinite(a) || a < 0) return b.error("alpha must be finite and >= 0");
    p.alpha = a;
  }
  if (p.algo == Algo::kLassoLars) {
    double mi = 0;
    MLE_RETURN_IF_ERROR(b.number("max_iter", &mi));
    if (!(mi >= 0 && mi <= 4294967295.0) || mi != std::floor(mi))
      return b.error("max_iter must be an integer in [0, 2^32 - 1]");
    p.max_iter = static_cast<int64_t>(mi);
  }
  if (p.algo == Algo::kLassoCd) {
    double mi = 0, tol = 0;
    MLE_RETURN_IF_ERROR(b.number("max_iter", &mi));
    if (!(mi >= 0 && mi <= 4294967295.0) || mi != std::floor(mi))
      return b.error("max_iter must be an integer in [0, 2^32 - 1]");
    p.max_iter = static_cast<int64_t>(mi);
    MLE_RETURN_IF_ERROR(b.number("tol", &tol));
    if (!std::isfinite(tol) || tol < 0) return b.error("tol must be finite and >= 0");
    p.tol = tol;
  }
  const ValueKind kind =
      (p.algo == Algo::kOmp && !p.split_sign) ? ValueKind::kInput : ValueKind::kF64;
  k->reset(new SparseEncode(p));
  *out = ValueInfo{p.split_sign ? 2 * p.k : p.k, kind};
  return Status::OK();
}

// ---------------------------------------------------------------- BernoulliRBM

// MT19937 as numpy's legacy RandomState(seed) seeds it (init_genrand) and draws 32 bits.
struct Mt19937 {
  uint32_t key[624];
  int pos = 624;
  void seed(uint32_t s) {
    for (int i = 0; i < 624; ++i) {
      key[i] = s;
      s = 1812433253u * (s ^ (s >> 30)) + static_cast<uint32_t>(i + 1);
    }
    pos = 624;
  }
  void generate() {
    constexpr uint32_t kUpper = 0x80000000u, kLower = 0x7fffffffu, kMatrix = 0x9908b0dfu;
    int i = 0;
    for (; i < 624 - 397; ++i) {
      const uint32_t y = (key[i] & kUpper) | (key[i + 1] & kLower);
      key[i] = key[i + 397] ^ (y >> 1) ^ (-(y & 1u) & kMatrix);
    }
    for (; i < 623; ++i) {
      const uint32_t y = (key[i] & kUpper) | (key[i + 1] & kLower);
      key[i] = key[i + (397 - 624)] ^ (y >> 1) ^ (-(y & 1u) & kMatrix);
    }
    const uint32_t y = (key[623] & kUpper) | (key[0] & kLower);
    key[623] = key[396] ^ (y >> 1) ^ (-(y & 1u) & kMatrix);
    pos = 0;
  }
  uint32_t next32() {
    if (pos == 624) generate();
    uint32_t y = key[pos++];
    y ^= (y >> 11);
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= (y >> 18);
    return y;
  }
};

// numpy's logaddexp(x, y) (npy_logaddexp).
inline double logaddexp(double x, double y) {
  if (x == y) return x + 0.693147180559945309417232121458176568;
  const double tmp = x - y;
  if (tmp > 0) return x + std::log1p(std::exp(-tmp));
  if (tmp <= 0) return y + std::log1p(std::exp(tmp));
  return tmp;
}

class RbmPseudoLikelihood final : public Kernel {
 public:
  RbmPseudoLikelihood(int64_t k, int64_t d, const double* w, const double* hb, const double* vb,
                      uint32_t seed)
      : k_(k), d_(d), w_(w), hb_(hb), vb_(vb), seed_(seed) {
    range_ = static_cast<uint32_t>(d - 1);
    mask_ = range_;
    for (int s = 1; s < 32; s <<= 1) mask_ |= mask_ >> s;
  }
  double cost_per_row() const override { return 2.0 * static_cast<double>(k_ * d_); }

  void run(int64_t rows, const View* in, const View& out) const override {
    // The generator of this call, advanced to this block's first row. A thread runs a call's
    // blocks in increasing order: it continues from where its last block of the call ended.
    struct Cache {
      const void* owner = nullptr;
      uint64_t call = 0;
      int64_t next_row = 0;
      Mt19937 mt;
    };
    thread_local Cache cache;
    const BlockRows br = current_block_rows();
    if (cache.owner != this || cache.call != br.call || cache.next_row > br.first_row) {
      cache.owner = this;
      cache.call = br.call;
      cache.next_row = 0;
      cache.mt.seed(seed_);
    }
    while (cache.next_row < br.first_row) {
      draw(cache.mt);
      ++cache.next_row;
    }
    std::vector<double> v(d_), t(k_);
    const bool f32 = in[0].dtype == DType::kF32;
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t j = draw(cache.mt);
      ++cache.next_row;
      for (int64_t f = 0; f < d_; ++f)
        v[f] = f32 ? static_cast<double>(in[0].row<float>(r)[f]) : in[0].row<double>(r)[f];
      const double fe = free_energy(v.data(), t.data());
      // v_[j] = 1 - v[j], in X's float type
      v[j] = f32 ? static_cast<double>(1.0f - in[0].row<float>(r)[j]) : 1.0 - v[j];
      const double fe_ = free_energy(v.data(), t.data());
      const double y = -static_cast<double>(d_) * logaddexp(0.0, -(fe_ - fe));
      if (out.dtype == DType::kF32)
        out.row<float>(r)[0] = static_cast<float>(y);
      else
        out.row<double>(r)[0] = y;
    }
  }

 private:
  int64_t draw(Mt19937& mt) const {
    if (range_ == 0) return 0;
    if (range_ == 0xffffffffu) return mt.next32();
    uint32_t val;
    while ((val = (mt.next32() & mask_)) > range_) {
    }
    return val;
  }

  // -(v @ intercept_visible_) - logaddexp(0, v @ components_.T + intercept_hidden_).sum()
  double free_energy(const double* v, double* t) const {
    double lin = 0.0;
    for (int64_t f = 0; f < d_; ++f) lin += v[f] * vb_[f];
    for (int64_t c = 0; c < k_; ++c) {
      const double* wc = w_ + c * d_;
      double s = 0.0;
      for (int64_t f = 0; f < d_; ++f) s += v[f] * wc[f];
      t[c] = logaddexp(0.0, s + hb_[c]);
    }
    return -lin - dense::pairwise_sum(t, k_);
  }

  int64_t k_, d_;
  const double *w_, *hb_, *vb_;
  uint32_t seed_, range_ = 0, mask_ = 0;
};

Status make_rbm(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  ValueInfo in;
  MLE_RETURN_IF_ERROR(b.float_input(&in));
  if (in.cols < 1) return b.error("RbmPseudoLikelihood needs at least one input column");
  if (in.cols > 4294967296LL) return b.error("too many input columns");
  const TensorRef *w = nullptr, *hb = nullptr, *vb = nullptr;
  MLE_RETURN_IF_ERROR(b.tensor("components", DType::kF64, {-1, in.cols}, &w));
  const int64_t kk = w->shape[0];
  if (kk < 1) return b.error("components needs at least one row");
  MLE_RETURN_IF_ERROR(b.tensor("intercept_hidden", DType::kF64, {kk}, &hb));
  MLE_RETURN_IF_ERROR(b.tensor("intercept_visible", DType::kF64, {in.cols}, &vb));
  double seed = 0;
  MLE_RETURN_IF_ERROR(b.number("seed", &seed));
  if (!(seed >= 0 && seed <= 4294967295.0) || seed != std::floor(seed))
    return b.error("seed must be an integer in [0, 2^32 - 1]");
  k->reset(new RbmPseudoLikelihood(kk, in.cols, w->as<double>(), hb->as<double>(),
                                   vb->as<double>(), static_cast<uint32_t>(seed)));
  *out = ValueInfo{1, ValueKind::kF64};
  return Status::OK();
}

}  // namespace

const OpRegistrar kRegistered({
    {"SparseEncode",
     make_sparse_encode,
     1,
     {attr::string("algorithm", {"threshold", "omp", "lasso_cd", "lars", "lasso_lars"}),
      attr::tensor("dictionary", DType::kF64), attr::tensor("gram", DType::kF64, kOptional),
      attr::number("alpha", kOptional), attr::number("n_nonzero_coefs", kOptional),
      attr::number("max_iter", kOptional), attr::number("tol", kOptional),
      attr::boolean("positive", kOptional), attr::boolean("split_sign", kOptional)}},
    {"RbmPseudoLikelihood",
     make_rbm,
     1,
     {attr::tensor("components", DType::kF64), attr::tensor("intercept_hidden", DType::kF64),
      attr::tensor("intercept_visible", DType::kF64), attr::number("seed")}},
});

}  // namespace mle
