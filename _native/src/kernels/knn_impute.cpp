// KNNImputer (op KNNImpute): scikit-learn's transform with missing_values=NaN.
//
// Distances: nan_euclidean_distances of each row that has a missing value in a column seen
// at fit to the stored rows, in scikit-learn's arithmetic: with the missing entries of both
// sides set to 0, d = max((-2 x.y + ||x||^2) + ||y||^2, 0) (the BLAS product), then
// d -= (x*x).missing(y), d -= missing(x).(y*y) (BLAS products too), clipped at 0, NaN where the
// two rows share no present coordinate, divided by that count and multiplied by the number
// of features, square root.
// Donors of a missing entry (column c): among the stored rows with c present, the
// n_neighbors (at most their number) of smallest distance, NaN distances last; uniform
// weights 1, distance weights 1 / d, except that a donor set holding a distance 0 weighs
// those donors 1 and the others 0; NaN distances weigh 0. The value is sum(w v) / sum(w). A
// row whose distances to those rows are all NaN gets the column's mean over the rows where
// it is present (stored). Where the donor set is not determined by the distances (equal
// distances straddling the n_neighbors-th place, with different values and nonzero weights)
// scikit-learn's choice is numpy's argpartition order, which depends on the CPU's selection
// routine: such a row is refused with an input error instead of guessed.
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>
#include "mle/dense.h"
#include "mle/kernel.h"

namespace mle {
namespace {

constexpr int64_t kBlock = 64;

// ||x||^2 as numpy's einsum("ij,ij->i") adds it (scikit-learn's row_norms) with its baseline
// two-lane vectors: lane l sums x[i]^2 for i = l mod 2, blocks of 8 entries taken in the order
// 6-7, 4-5, 2-3, 0-1, the rest by pairs; then lane 0 + lane 1.
double einsum_sq_norm(const double* x, int64_t d) {
  double acc[2] = {0.0, 0.0};
  int64_t i = 0;
  for (; d - i >= 8; i += 8)
    for (int blk = 3; blk >= 0; --blk)
      for (int l = 0; l < 2; ++l) {
        const double v = x[i + 2 * blk + l];
        acc[l] = acc[l] + v * v;
      }
  for (; i < d; i += 2)
    for (int l = 0; l < 2 && i + l < d; ++l) {
      const double v = x[i + l];
      acc[l] = acc[l] + v * v;
    }
  return acc[0] + acc[1];
}

class KNNImpute final : public Kernel {
 public:
  KNNImpute(int64_t n, int64_t d, int64_t k, bool distance, bool keep_empty,
            const double* data, const double* y_sq, const double* col_mean)
      : n_(n), d_(d), k_(k), distance_(distance), keep_empty_(keep_empty), y_sq_(y_sq),
        col_mean_(col_mean) {
    const size_t nd = static_cast<size_t>(n * d);
    yz_.assign(nd, 0.0);
    yy_.assign(nd, 0.0);
    my_.assign(nd, 0.0);
    valid_.assign(static_cast<size_t>(d), 0);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < d; ++j) {
        const double v = data[i * d + j];
        const size_t at = static_cast<size_t>(i * d + j);
        if (std::isnan(v)) {
          my_[at] = 1.0;
        } else {
          yz_[at] = v;
          yy_[at] = v * v;
          valid_[j] = 1;
        }
      }
  }

  double cost_per_row() const override { return static_cast<double>(n_ * (3 * d_ + 8)); }

  void run(int64_t rows, const View* in, const View& out) const override {
    int64_t ldx;
    const double* x = rows_as_f64(in[0], rows, d_, &ldx);
    thread_local std::vector<int64_t> todo;
    for (int64_t r0 = 0; r0 < rows; r0 += kBlock) {
      const int64_t m = std::min(kBlock, rows - r0);
      todo.clear();
      for (int64_t i = 0; i < m; ++i) {
        const double* xr = x + (r0 + i) * ldx;
        bool missing = false;
        for (int64_t j = 0; j < d_ && !missing; ++j) missing = valid_[j] && std::isnan(xr[j]);
        if (missing) todo.push_back(r0 + i);
      }
      thread_local std::vector<double> imputed;
      imputed.assign(static_cast<size_t>(m * d_), 0.0);
      for (int64_t i = 0; i < m; ++i)
        std::copy(x + (r0 + i) * ldx, x + (r0 + i) * ldx + d_, imputed.data() + i * d_);
      if (!todo.empty()) impute(x, ldx, r0, todo, imputed.data());
      dispatch_float(out.dtype, [&](auto tag) {
        using T = decltype(tag);
        for (int64_t i = 0; i < m; ++i) {
          T* o = out.row<T>(r0 + i);
          const double* v = imputed.data() + i * d_;
          int64_t c = 0;
          for (int64_t j = 0; j < d_; ++j) {
            if (valid_[j]) o[c++] = static_cast<T>(v[j]);
            else if (keep_empty_) o[c++] = T(0);
          }
        }
      });
    }
  }

 private:
  // Imputes the rows of `todo` (absolute row numbers; their block starts at r0) in `imp`.
  void impute(const double* x, int64_t ldx, int64_t r0, const std::vector<int64_t>& rows,
              double* imp) const {
    thread_local std::vector<double> xz, xx2, mx, xsq, dist, a, b;
    const int64_t m = static_cast<int64_t>(rows.size());
    const size_t md = static_cast<size_t>(m * d_), mn = static_cast<size_t>(m * n_);
    xz.assign(md, 0.0);
    xx2.assign(md, 0.0);
    mx.assign(md, 0.0);
    xsq.assign(static_cast<size_t>(m), 0.0);
    for (int64_t i = 0; i < m; ++i) {
      const double* xr = x + rows[i] * ldx;
      for (int64_t j = 0; j < d_; ++j) {
        const size_t at = static_cast<size_t>(i * d_ + j);
        if (std::isnan(xr[j])) {
          mx[at] = 1.0;
        } else {
          xz[at] = xr[j];
          xx2[at] = xr[j] * xr[j];
        }
      }
      xsq[i] = einsum_sq_norm(xz.data() + i * d_, d_);
    }
    dist.resize(mn);
    a.resize(mn);
    b.resize(mn);
    dense::gemm_nt(m, n_, d_, -2.0, xz.data(), d_, yz_.data(), d_, 0.0, dist.data(), n_);
    dense::gemm_nt(m, n_, d_, 1.0, xx2.data(), d_, my_.data(), d_, 0.0, a.data(), n_);
    dense::gemm_nt(m, n_, d_, 1.0, mx.data(), d_, yy_.data(), d_, 0.0, b.data(), n_);
    const double nf = static_cast<double>(d_);
    for (int64_t i = 0; i < m; ++i) {
      const double* mxr = mx.data() + i * d_;
      for (int64_t j = 0; j < n_; ++j) {
        const size_t at = static_cast<size_t>(i * n_ + j);
        double v = (dist[at] + xsq[i]) + y_sq_[j];
        v = v > 0.0 ? v : 0.0;
        v -= a[at];
        v -= b[at];
        v = v > 0.0 ? v : 0.0;
        int64_t present = 0;
        const double* myr = my_.data() + j * d_;
        for (int64_t c = 0; c < d_; ++c) present += (mxr[c] == 0.0 && myr[c] == 0.0);
        if (present == 0) {
          dist[at] = std::numeric_limits<double>::quiet_NaN();
          continue;
        }
        v /= static_cast<double>(present);
        v *= nf;
        dist[at] = std::sqrt(v);
      }
      double* o = imp + (rows[i] - r0) * d_;
      for (int64_t c = 0; c < d_; ++c)
        if (valid_[c] && mxr[c] != 0.0) o[c] = donors_value(dist.data() + i * n_, c);
    }
  }

  // The imputed value of column c from one row's distances to the stored rows.
  double donors_value(const double* dist, int64_t c) const {
    thread_local std::vector<double> fin, w, wv;
    thread_local std::vector<int64_t> at;
    fin.clear();
    at.clear();
    int64_t potential = 0;
    for (int64_t j = 0; j < n_; ++j) {
      if (my_[static_cast<size_t>(j * d_ + c)] != 0.0) continue;
      ++potential;
      if (!std::isnan(dist[j])) {
        fin.push_back(dist[j]);
        at.push_back(j);
      }
    }
    if (fin.empty()) return col_mean_[c];
    const int64_t k = std::min(k_, potential);
    const int64_t nfin = static_cast<int64_t>(fin.size());
    // The chosen donors: all finite ones when they are at most k, else those below the k-th
    // smallest distance t and the first of those equal to it.
    thread_local std::vector<int64_t> chosen;
    chosen.clear();
    if (nfin <= k) {
      for (int64_t q = 0; q < nfin; ++q) chosen.push_back(q);
    } else {
      thread_local std::vector<double> sorted;
      sorted.assign(fin.begin(), fin.end());
      std::nth_element(sorted.begin(), sorted.begin() + (k - 1), sorted.end());
      const double t = sorted[static_cast<size_t>(k - 1)];
      bool zero = false;
      int64_t below = 0;
      for (int64_t q = 0; q < nfin; ++q)
        if (fin[q] < t) {
          chosen.push_back(q);
          ++below;
          zero = zero || fin[q] == 0.0;
        }
      int64_t need = k - below, tied = 0;
      double first = 0.0;
      bool differ = false;
      for (int64_t q = 0; q < nfin; ++q) {
        if (fin[q] != t) continue;
        const double v = yz_[static_cast<size_t>(at[q] * d_ + c)];
        if (tied == 0) first = v;
        else differ = differ || v != first;
        ++tied;
        if (need > 0) {
          chosen.push_back(q);
          --need;
        }
      }
      const bool weighed = !(distance_ && zero && t > 0.0);
      if (tied > k - below && weighed && differ)
        report_input_error(
            "a missing value's donors are not determined by the distances (equal "
            "distances at the n_neighbors-th place, with different values); scikit-learn then "
            "picks among them in numpy's argpartition order, which depends on the CPU, and "
            "this model does not guess it; impute such rows with the scikit-learn estimator");
    }
    const int64_t nc = static_cast<int64_t>(chosen.size());
    bool has_zero = false;
    for (int64_t q : chosen) has_zero = has_zero || fin[q] == 0.0;
    w.resize(static_cast<size_t>(nc));
    wv.resize(static_cast<size_t>(nc));
    for (int64_t i = 0; i < nc; ++i) {
      const double dq = fin[chosen[i]];
      const double wi = !distance_ ? 1.0 : has_zero ? (dq == 0.0 ? 1.0 : 0.0) : 1.0 / dq;
      w[i] = wi;
      wv[i] = yz_[static_cast<size_t>(at[chosen[i]] * d_ + c)] * wi;
    }
    return dense::pairwise_sum(wv.data(), nc) / dense::pairwise_sum(w.data(), nc);
  }

  int64_t n_, d_, k_;
  bool distance_, keep_empty_;
  const double* y_sq_;
  const double* col_mean_;
  std::vector<double> yz_, yy_, my_;  // stored rows: missing as 0, squared, missing mask
  std::vector<char> valid_;           // columns with a present value at fit
};

Status make_knn_impute(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  ValueInfo in;
  MLE_RETURN_IF_ERROR(b.float_input(&in));
  const int64_t d = in.cols;
  if (d < 1) return b.error("the input has no columns");
  if (d > 2147483647) return b.error("too many features");
  const TensorRef *data, *ysq, *mean;
  MLE_RETURN_IF_ERROR(b.tensor("data", DType::kF64, {-1, d}, &data));
  const int64_t n = data->shape[0];
  if (n < 1) return b.error("data has no rows");
  if (n > 2147483647) return b.error("data has too many rows");
  MLE_RETURN_IF_ERROR(b.tensor("row_sq_norms", DType::kF64, {n}, &ysq));
  MLE_RETURN_IF_ERROR(b.tensor("col_mean", DType::kF64, {d}, &mean));
  double kk;
  MLE_RETURN_IF_ERROR(b.number("n_neighbors", &kk));
  if (!(kk >= 1 && kk <= double(int64_t{1} << 24) && kk == std::floor(kk)))
    return b.error("n_neighbors must be an integer in [1, 2^24]");
  std::string weights;
  MLE_RETURN_IF_ERROR(b.string("weights", &weights));
  if (weights != "uniform" && weights != "distance")
    return b.error("weights must be 'uniform' or 'distance'");
  bool keep = false;
  MLE_RETURN_IF_ERROR(b.boolean_or("keep_empty", false, &keep));
  const double* v = data->as<double>();
  std::vector<char> valid(static_cast<size_t>(d), 0);
  for (int64_t i = 0; i < n * d; ++i) {
    if (std::isinf(v[i])) return b.error("data holds an infinite value");
    if (!std::isnan(v[i])) valid[static_cast<size_t>(i % d)] = 1;
  }
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(ysq->as<double>()[i]) || ysq->as<double>()[i] < 0)
      return b.error("row_sq_norms must be finite and >= 0");
  int64_t cols = 0;
  for (int64_t j = 0; j < d; ++j) {
    if (valid[j] && !std::isfinite(mean->as<double>()[j]))
      return b.error("col_mean must be finite in the columns with a stored value");
    cols += valid[j] || keep;
  }
  if (cols == 0) return b.error("no output column (every stored column is empty)");
  k->reset(new KNNImpute(n, d, static_cast<int64_t>(kk), weights == "distance", keep, v,
                         ysq->as<double>(), mean->as<double>()));
  *out = ValueInfo{cols, ValueKind::kInput};
  return Status::OK();
}

}  // namespace

const OpRegistrar kRegistered({
    {"KNNImpute", make_knn_impute, 1,
     {attr::tensor("data", DType::kF64), attr::tensor("row_sq_norms", DType::kF64),
      attr::tensor("col_mean", DType::kF64), attr::number("n_neighbors"),
      attr::string("weights", {"uniform", "distance"}),
      attr::boolean("keep_empty", kOptional)}},
});

}  // namespace mle
