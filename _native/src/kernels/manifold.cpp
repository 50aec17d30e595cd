// Manifold learning's out-of-sample maps (scikit-learn's sklearn.manifold), both read a
// KNearest output (input 0: k distances then k stored-row indices, kernels/neighbors.cpp)
// and the caller's X (input 1):
//
// GeodesicKernel (Isomap.transform before its KernelPCA projection): per row, the geodesic
// distance to every stored row c, g_c = min_j (dist_matrix[i_j, c] + d_j) over the k
// neighbours; rounded to float32 when X is float32 (scikit-learn's G_X has X's dtype), squared
// in that type and scaled by -0.5: K_c = -0.5 * g_c^2. Then centred as KernelCenterer.transform
// centres it, in float64 and in its order: K_c - K_fit_rows_[c] - sum(K) / n + K_fit_all_
// (the sum as np.sum sums a row, pairwise).
//
// Barycenter (LocallyLinearEmbedding.transform): scikit-learn's barycenter_weights of each row
// x from its k neighbours y_j = data[i_j]: C = Y - x (float64), G = C C^T, R = reg * trace(G)
// when the trace is > 0 else reg, G += R I, w = solve(G, 1) (Cholesky: scipy's
// assume_a="pos"; a matrix that is not positive definite is an input error, as scipy raises
// LinAlgError), w /= sum(w) (rounded to float32 when X is float32: scikit-learn stores the
// weights in X's dtype); the output is embedding[i_j]^T w, summed in neighbour order.
#include <cmath>
#include <memory>
#include <vector>

#include "mle/dense.h"
#include "mle/kernel.h"

namespace mle {
namespace {

// Neighbour j's stored-row index in a KNearest output row; -1 (with an input error for the
// call) when it is not an index of the n stored rows.
int64_t stored_index(const double* row, int64_t k, int64_t j, int64_t n) {
  const double v = row[k + j];
  if (!(v >= 0.0 && v < static_cast<double>(n))) {
    report_input_error("a neighbour index is out of range of the stored rows");
    return -1;
  }
  return static_cast<int64_t>(v);
}

Status check_neighbors(const NodeBuild& b, int64_t* k) {
  MLE_RETURN_IF_ERROR(b.expect_inputs(2));
  const ValueInfo& near = b.inputs()[0];
  if (near.kind != ValueKind::kF64 || near.index_bound != 0 || near.cols < 2 ||
      near.cols % 2 != 0)
    return b.error("input 0 must be a KNearest output (2k float64 columns)");
  if (b.inputs()[1].kind == ValueKind::kI64)
    return b.error("input 1 must be the float input X");
  *k = near.cols / 2;
  return Status::OK();
}

// ---------------------------------------------------------------- GeodesicKernel

class GeodesicKernel final : public Kernel {
 public:
  GeodesicKernel(int64_t k, int64_t n, const double* dist, const double* fit_rows,
                 double fit_all)
      : k_(k), n_(n), dist_(dist), fit_rows_(fit_rows), fit_all_(fit_all) {}

  double cost_per_row() const override { return static_cast<double>(k_ * n_ + 4 * n_); }

  void run(int64_t rows, const View* in, const View& out) const override {
    const bool f32 = in[1].dtype == DType::kF32;
    for (int64_t r = 0; r < rows; ++r) {
      const double* near = in[0].row<double>(r);
      double* o = out.row<double>(r);
      bool ok = true;
      for (int64_t j = 0; j < k_ && ok; ++j) {
        const int64_t i = stored_index(near, k_, j, n_);
        if (i < 0) {
          ok = false;
          break;
        }
        const double d = near[j];
        const double* drow = dist_ + i * n_;
        if (j == 0) {
          for (int64_t c = 0; c < n_; ++c) o[c] = drow[c] + d;
        } else {
          for (int64_t c = 0; c < n_; ++c) {
            const double v = drow[c] + d;
            if (v < o[c]) o[c] = v;
          }
        }
      }
      if (!ok) {
        for (int64_t c = 0; c < n_; ++c) o[c] = 0.0;
        continue;
      }
      for (int64_t c = 0; c < n_; ++c) {
        if (f32) {
          const float g = static_cast<float>(o[c]);
          const float sq = g * g;
          o[c] = static_cast<double>(sq * -0.5f);
        } else {
          o[c] = (o[c] * o[c]) * -0.5;
        }
      }
      const double pred = dense::pairwise_sum(o, n_) / static_cast<double>(n_);
      for (int64_t c = 0; c < n_; ++c) o[c] = ((o[c] - fit_rows_[c]) - pred) + fit_all_;
    }
  }

 private:
  int64_t k_, n_;
  const double *dist_, *fit_rows_;
  double fit_all_;
};

Status make_geodesic(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  int64_t kk;
  MLE_RETURN_IF_ERROR(check_neighbors(b, &kk));
  const TensorRef *dist, *rows;
  MLE_RETURN_IF_ERROR(b.tensor("dist_matrix", DType::kF64, {-1, -1}, &dist));
  const int64_t n = dist->shape[0];
  if (n < 1 || dist->shape[1] != n)
    return b.error("dist_matrix must be a square matrix of at least one row");
  MLE_RETURN_IF_ERROR(b.tensor("fit_rows", DType::kF64, {n}, &rows));
  double fit_all;
  MLE_RETURN_IF_ERROR(b.number("fit_all", &fit_all));
  if (!std::isfinite(fit_all)) return b.error("fit_all must be finite");
  k->reset(new GeodesicKernel(kk, n, dist->as<double>(), rows->as<double>(), fit_all));
  *out = ValueInfo{n, ValueKind::kF64};
  return Status::OK();
}

// ---------------------------------------------------------------- Barycenter

class Barycenter final : public Kernel {
 public:
  Barycenter(int64_t k, int64_t n, int64_t d, int64_t c, const double* data,
             const double* embedding, double reg)
      : k_(k), n_(n), d_(d), c_(c), data_(data), emb_(embedding), reg_(reg) {}

  double cost_per_row() const override {
    return static_cast<double>(k_ * k_ * d_ + k_ * k_ * k_ + k_ * c_);
  }

  void run(int64_t rows, const View* in, const View& out) const override {
    thread_local std::vector<double> cm, g, w;
    thread_local std::vector<int64_t> idx;
    cm.resize(static_cast<size_t>(k_ * d_));
    g.resize(static_cast<size_t>(k_ * k_));
    w.resize(static_cast<size_t>(k_));
    idx.resize(static_cast<size_t>(k_));
    const bool f32 = in[1].dtype == DType::kF32;
    int64_t ld;
    const double* x = rows_as_f64(in[1], rows, d_, &ld);
    for (int64_t r = 0; r < rows; ++r) {
      const double* near = in[0].row<double>(r);
      double* o = out.row<double>(r);
      for (int64_t c = 0; c < c_; ++c) o[c] = 0.0;
      bool ok = true;
      for (int64_t j = 0; j < k_; ++j) {
        idx[j] = stored_index(near, k_, j, n_);
        if (idx[j] < 0) {
          ok = false;
          break;
        }
      }
      if (!ok) continue;
      const double* xr = x + r * ld;
      for (int64_t j = 0; j < k_; ++j) {
        const double* y = data_ + idx[j] * d_;
        for (int64_t t = 0; t < d_; ++t) cm[j * d_ + t] = y[t] - xr[t];
      }
      for (int64_t a = 0; a < k_; ++a)
        for (int64_t bb = 0; bb <= a; ++bb) {
          double s = 0.0;
          for (int64_t t = 0; t < d_; ++t) s += cm[a * d_ + t] * cm[bb * d_ + t];
          g[a * k_ + bb] = s;
          g[bb * k_ + a] = s;
        }
      double trace = 0.0;
      for (int64_t a = 0; a < k_; ++a) trace += g[a * k_ + a];
      const double reg = trace > 0 ? reg_ * trace : reg_;
      for (int64_t a = 0; a < k_; ++a) g[a * k_ + a] += reg;
      // Cholesky G = L L^T in place (lower triangle)
      for (int64_t j = 0; j < k_ && ok; ++j) {
        double s = g[j * k_ + j];
        for (int64_t t = 0; t < j; ++t) s -= g[j * k_ + t] * g[j * k_ + t];
        if (!(s > 0.0)) {
          report_input_error(
              "the regularised neighbour Gram matrix of a row is not positive definite "
              "(scikit-learn raises LinAlgError); a larger reg avoids it");
          ok = false;
          break;
        }
        const double l = std::sqrt(s);
        g[j * k_ + j] = l;
        for (int64_t i = j + 1; i < k_; ++i) {
          double v = g[i * k_ + j];
          for (int64_t t = 0; t < j; ++t) v -= g[i * k_ + t] * g[j * k_ + t];
          g[i * k_ + j] = v / l;
        }
      }
      if (!ok) continue;
      for (int64_t i = 0; i < k_; ++i) {  // L z = 1
        double v = 1.0;
        for (int64_t t = 0; t < i; ++t) v -= g[i * k_ + t] * w[t];
        w[i] = v / g[i * k_ + i];
      }
      for (int64_t i = k_ - 1; i >= 0; --i) {  // L^T w = z
        double v = w[i];
        for (int64_t t = i + 1; t < k_; ++t) v -= g[t * k_ + i] * w[t];
        w[i] = v / g[i * k_ + i];
      }
      const double sum = dense::pairwise_sum(w.data(), k_);
      for (int64_t j = 0; j < k_; ++j) {
        w[j] /= sum;
        if (f32) w[j] = static_cast<double>(static_cast<float>(w[j]));
      }
      for (int64_t j = 0; j < k_; ++j) {
        const double* e = emb_ + idx[j] * c_;
        for (int64_t c = 0; c < c_; ++c) o[c] += e[c] * w[j];
      }
    }
  }

 private:
  int64_t k_, n_, d_, c_;
  const double *data_, *emb_;
  double reg_;
};

Status make_barycenter(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  int64_t kk;
  MLE_RETURN_IF_ERROR(check_neighbors(b, &kk));
  const int64_t d = b.inputs()[1].cols;
  const TensorRef *data, *emb;
  MLE_RETURN_IF_ERROR(b.tensor("data", DType::kF64, {-1, d}, &data));
  const int64_t n = data->shape[0];
  if (n < 1 || d < 1) return b.error("data must have at least one row and one column");
  MLE_RETURN_IF_ERROR(b.tensor("embedding", DType::kF64, {n, -1}, &emb));
  if (emb->shape[1] < 1) return b.error("embedding must have at least one column");
  double reg;
  MLE_RETURN_IF_ERROR(b.number("reg", &reg));
  if (!std::isfinite(reg)) return b.error("reg must be finite");
  k->reset(new Barycenter(kk, n, d, emb->shape[1], data->as<double>(), emb->as<double>(), reg));
  *out = ValueInfo{emb->shape[1], ValueKind::kF64};
  return Status::OK();
}

}  // namespace

const OpRegistrar kRegistered({
    {"GeodesicKernel", make_geodesic, 2,
     {attr::tensor("dist_matrix", DType::kF64), attr::tensor("fit_rows", DType::kF64),
      attr::number("fit_all")}},
    {"Barycenter", make_barycenter, 2,
     {attr::tensor("data", DType::kF64), attr::tensor("embedding", DType::kF64),
      attr::number("reg")}},
});

}  // namespace mle
