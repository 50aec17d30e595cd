// Distances and kernel matrices of rows against stored rows (mle/dense.h), written the way
// scikit-learn's sklearn.metrics.pairwise computes them: the cross products through the BLAS
// product, then the same elementwise steps in the same order.
#include <algorithm>
#include <cmath>
#include <vector>

#include "mle/dense.h"

namespace mle {
namespace dense {

double pairwise_sum(const double* a, int64_t n) {
  if (n < 8) {
    double res = 0.0;
    for (int64_t i = 0; i < n; ++i) res += a[i];
    return res;
  }
  if (n <= 128) {
    double r[8];
    for (int j = 0; j < 8; ++j) r[j] = a[j];
    int64_t i = 8;
    for (; i < n - (n % 8); i += 8)
      for (int j = 0; j < 8; ++j) r[j] += a[i + j];
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += a[i];
    return res;
  }
  int64_t n2 = n / 2;
  n2 -= n2 % 8;
  return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}

void row_sq_norms(int64_t m, int64_t k, const double* a, int64_t lda, double* out) {
  for (int64_t r = 0; r < m; ++r) {
    const double* ar = a + r * lda;
    double s = 0;
    for (int64_t i = 0; i < k; ++i) s = s + ar[i] * ar[i];
    out[r] = s;
  }
}

void sq_euclidean(int64_t m, int64_t n, int64_t k, const double* x, int64_t ldx,
                  const double* y, const double* y_sq, double* out, int64_t ldo) {
  // distances = -2 * X @ Y.T; distances += XX; distances += YY; maximum(distances, 0)
  gemm_nt(m, n, k, -2.0, x, ldx, y, k, 0.0, out, ldo);
  for (int64_t r = 0; r < m; ++r) {
    double xx;
    row_sq_norms(1, k, x + r * ldx, ldx, &xx);
    double* o = out + r * ldo;
    for (int64_t j = 0; j < n; ++j) {
      double d = (o[j] + xx) + y_sq[j];
      o[j] = d > 0.0 ? d : 0.0;  // np.maximum(d, 0): NaN stays NaN
      if (std::isnan(d)) o[j] = d;
    }
  }
}

void kernel_matrix(const KernelParams& p, int64_t m, int64_t n, int64_t k, const double* x,
                   int64_t ldx, const double* y, const double* y_aux, double* out, int64_t ldo) {
  switch (p.kind) {
    case KernelKind::kLinear:
      gemm_nt(m, n, k, 1.0, x, ldx, y, k, 0.0, out, ldo);
      return;
    case KernelKind::kPoly:
    case KernelKind::kSigmoid:
      // K = X @ Y.T; K *= gamma; K += coef0; then K **= degree or tanh(K)
      gemm_nt(m, n, k, 1.0, x, ldx, y, k, 0.0, out, ldo);
      for (int64_t r = 0; r < m; ++r) {
        double* o = out + r * ldo;
        for (int64_t j = 0; j < n; ++j) {
          const double v = o[j] * p.gamma + p.coef0;
          o[j] = p.kind == KernelKind::kPoly ? std::pow(v, p.degree) : std::tanh(v);
        }
      }
      return;
    case KernelKind::kRbf:
      // K = euclidean_distances(X, Y, squared=True); K *= -gamma; exp(K)
      sq_euclidean(m, n, k, x, ldx, y, y_aux, out, ldo);
      for (int64_t r = 0; r < m; ++r) {
        double* o = out + r * ldo;
        for (int64_t j = 0; j < n; ++j) o[j] = std::exp(o[j] * -p.gamma);
      }
      return;
    case KernelKind::kCosine: {
      // normalize(X) @ normalize(Y).T, Y normalised at dump time (y_aux unused); a row of
      // norm 0 is divided by 1 (sklearn.preprocessing.normalize).
      thread_local std::vector<double> xn;
      xn.resize(static_cast<size_t>(m * k));
      for (int64_t r = 0; r < m; ++r) {
        double nrm;
        row_sq_norms(1, k, x + r * ldx, ldx, &nrm);
        nrm = std::sqrt(nrm);
        if (nrm == 0.0) nrm = 1.0;
        for (int64_t i = 0; i < k; ++i) xn[r * k + i] = x[r * ldx + i] / nrm;
      }
      gemm_nt(m, n, k, 1.0, xn.data(), k, y, k, 0.0, out, ldo);
      return;
    }
  }
}

}  // namespace dense
}  // namespace mle
