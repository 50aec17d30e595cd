// Support vector machines: the pair decision values of a multi-class SVC (OvoPairSums, below)
// and the probability estimates: libsvm's predict_probability as
// scikit-learn's SVC/NuSVC(probability=True).predict_proba compute it (docs/FORMAT.md 11).
//
// Input: the k(k-1)/2 decision values of the class pairs (i, j), i < j, in libsvm's order
// (i outer, j inner), with libsvm's sign (positive for class i). For each pair p:
//   f = value * probA[p] + probB[p];
//   s = f >= 0 ? exp(-f) / (1 + exp(-f)) : 1 / (1 + exp(f))      (libsvm's sigmoid_predict)
//   r[i][j] = min(max(s, 1e-7), 1 - 1e-7), r[j][i] = 1 - r[i][j]
// with libsvm's min/max ((x < y) ? x : y, (x > y) ? x : y), then libsvm's
// multiclass_probability (Wu, Lin and Weng's method 2) for every k >= 2, two classes
// included: Q[t][t] = sum_{j != t} r[j][t]^2, Q[t][j] = -r[j][t] * r[t][j]; p = 1/k;
// up to max(100, k) iterations, each first recomputing Qp = Q p and pQp = p'Qp, stopping when
// max_t |Qp[t] - pQp| < 0.005 / k, else updating every t in order:
//   diff = (-Qp[t] + pQp) / Q[t][t]; p[t] += diff;
//   pQp = (pQp + diff * (diff * Q[t][t] + 2 * Qp[t])) / (1 + diff) / (1 + diff);
//   for every j: Qp[j] = (Qp[j] + diff * Q[t][j]) / (1 + diff); p[j] /= (1 + diff).
// Every operation is performed in the order written (the build keeps -ffp-contract=off).
// Output: p, one column per class in libsvm's (sorted, scikit-learn's classes_) order.
#include <cmath>
#include <string>
#include <vector>

#include "mle/kernel.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace mle {
namespace {

inline double get(const View& v, int64_t r, int64_t c) {
  return v.dtype == DType::kF32 ? static_cast<double>(v.row<float>(r)[c]) : v.row<double>(r)[c];
}

// libsvm's min and max (not std::min/std::max: the argument order decides NaN's fate).
// The most classes an OvoPairSums node may have (k(k-1)/2 output columns).
constexpr int64_t kMaxOvoClasses = 65536;

inline double lmin(double x, double y) { return (x < y) ? x : y; }
inline double lmax(double x, double y) { return (x > y) ? x : y; }

double sigmoid_predict(double decision_value, double a, double b) {
  const double f = decision_value * a + b;
  if (f >= 0) return std::exp(-f) / (1.0 + std::exp(-f));
  return 1.0 / (1 + std::exp(f));
}

class PairwiseCoupling final : public Kernel {
 public:
  PairwiseCoupling(int64_t k, const double* a, const double* b) : k_(k), a_(a), b_(b) {}

  double cost_per_row() const override {
    const double k = static_cast<double>(k_);
    return 2.0 * k * k * (k > 100 ? k : 100.0);
  }

  void run(int64_t rows, const View* in, const View& out) const override {
    const size_t k = static_cast<size_t>(k_);
    std::vector<double> r(k * k), q(k * k), qp(k);
    for (int64_t row = 0; row < rows; ++row) {
      size_t pair = 0;
      for (size_t i = 0; i < k; ++i)
        for (size_t j = i + 1; j < k; ++j, ++pair) {
          const double s = sigmoid_predict(get(in[0], row, static_cast<int64_t>(pair)),
                                           a_[pair], b_[pair]);
          r[i * k + j] = lmin(lmax(s, kMinProb), 1 - kMinProb);
          r[j * k + i] = 1 - r[i * k + j];
        }
      couple(r.data(), q.data(), qp.data(), out.row<double>(row));
    }
  }

 private:
  static constexpr double kMinProb = 1e-7;

  void couple(const double* r, double* q, double* qp, double* p) const {
    const size_t k = static_cast<size_t>(k_);
    const int max_iter = k_ > 100 ? static_cast<int>(k_) : 100;
    const double eps = 0.005 / static_cast<double>(k_);
    for (size_t t = 0; t < k; ++t) {
      p[t] = 1.0 / static_cast<double>(k_);
      double* qt = q + t * k;
      qt[t] = 0;
      for (size_t j = 0; j < t; ++j) {
        qt[t] += r[j * k + t] * r[j * k + t];
        qt[j] = q[j * k + t];
      }
      for (size_t j = t + 1; j < k; ++j) {
        qt[t] += r[j * k + t] * r[j * k + t];
        qt[j] = -r[j * k + t] * r[t * k + j];
      }
    }
    for (int iter = 0; iter < max_iter; ++iter) {
      double pqp = 0;
      for (size_t t = 0; t < k; ++t) {
        qp[t] = 0;
        for (size_t j = 0; j < k; ++j) qp[t] += q[t * k + j] * p[j];
        pqp += p[t] * qp[t];
      }
      double max_error = 0;
      for (size_t t = 0; t < k; ++t) {
        const double error = std::fabs(qp[t] - pqp);
        if (error > max_error) max_error = error;
      }
      if (max_error < eps) break;
      for (size_t t = 0; t < k; ++t) {
        const double* qt = q + t * k;
        const double diff = (-qp[t] + pqp) / qt[t];
        p[t] += diff;
        pqp = (pqp + diff * (diff * qt[t] + 2 * qp[t])) / (1 + diff) / (1 + diff);
        for (size_t j = 0; j < k; ++j) {
          qp[j] = (qp[j] + diff * qt[j]) / (1 + diff);
          p[j] /= (1 + diff);
        }
      }
    }
  }

  int64_t k_;
  const double *a_, *b_;
};

Status make_pairwise_coupling(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  ValueInfo in;
  MLE_RETURN_IF_ERROR(b.float_input(&in));
  double nc;
  MLE_RETURN_IF_ERROR(b.number("n_classes", &nc));
  if (!(nc >= 2.0 && nc <= 4096.0) || nc != std::floor(nc))
    return b.error("'n_classes' must be an integer in [2, 4096]");
  const int64_t n = static_cast<int64_t>(nc);
  const int64_t pairs = n * (n - 1) / 2;
  if (in.cols != pairs)
    return b.error("input must hold " + std::to_string(pairs) + " pair decision values, got " +
                   std::to_string(in.cols));
  const TensorRef *pa, *pb;
  MLE_RETURN_IF_ERROR(b.tensor("probA", DType::kF64, {pairs}, &pa));
  MLE_RETURN_IF_ERROR(b.tensor("probB", DType::kF64, {pairs}, &pb));
  const double* a = pa->as<double>();
  const double* c = pb->as<double>();
  for (int64_t i = 0; i < pairs; ++i)
    if (!std::isfinite(a[i]) || !std::isfinite(c[i]))
      return b.error("probA and probB must be finite");
  k->reset(new PairwiseCoupling(n, a, c));
  *out = ValueInfo{n, ValueKind::kF64};
  return Status::OK();
}

// The k(k-1)/2 pair decision values of a multi-class SVC/NuSVC, as libsvm's
// svm_predict_values sums them. Input: the kernel values K[s] of a row against the n_SV
// support vectors, grouped by class (counts[c] vectors of class c, in order). For the pair
// p = (i, j), i < j, i outer:
//   sum = 0; for s in class i, in order: sum += coef[j-1][s] * K[s];
//            for s in class j, in order: sum += coef[i][s] * K[s];
//   value = sum + bias[p]          (libsvm's sum -= rho[p], bias = -rho: the same rounding)
class OvoPairSums final : public Kernel {
 public:
  OvoPairSums(int64_t k, int64_t n_sv, const double* coef, std::vector<int64_t> start,
              const double* bias)
      : k_(k), n_sv_(n_sv), coef_(coef), start_(std::move(start)), bias_(bias) {}

  double cost_per_row() const override {
    return static_cast<double>(n_sv_) * static_cast<double>(k_ - 1) + 1.0;
  }

  void run(int64_t rows, const View* in, const View& out) const override {
    dispatch_float(in[0].dtype, [&](auto tag) {
      using T = decltype(tag);
      int64_t row = 0;
      if (rows >= kLanes) {
        // kLanes rows at a time, each row's sums still in the reference order: the kernel
        // values transposed so that the lanes of one support vector are contiguous.
        std::vector<double> kt(static_cast<size_t>(n_sv_ * kLanes));
        for (; row + kLanes <= rows; row += kLanes) {
          for (int64_t l = 0; l < kLanes; ++l) {
            const T* kv = in[0].row<T>(row + l);
            for (int64_t s = 0; s < n_sv_; ++s) kt[s * kLanes + l] = static_cast<double>(kv[s]);
          }
          sums_lanes(kt.data(), out, row);
        }
      }
      for (; row < rows; ++row) sums(in[0].row<T>(row), out.row<double>(row));
    });
  }

 private:
  static constexpr int64_t kLanes = 16;  // segment_sums_avx2 holds 4 x 4 lanes

  // The reference path: one row.
  template <class T>
  void sums(const T* kv, double* out) const {
    int64_t p = 0;
    for (int64_t i = 0; i < k_; ++i)
      for (int64_t j = i + 1; j < k_; ++j, ++p) {
        double sum = 0;
        const double* c1 = coef_ + (j - 1) * n_sv_;
        const double* c2 = coef_ + i * n_sv_;
        for (int64_t s = start_[i]; s < start_[i + 1]; ++s)
          sum += c1[s] * static_cast<double>(kv[s]);
        for (int64_t s = start_[j]; s < start_[j + 1]; ++s)
          sum += c2[s] * static_cast<double>(kv[s]);
        out[p] = sum + bias_[p];
      }
  }

  // kLanes rows: kt[s * kLanes + l] is row (row0 + l)'s kernel value of support vector s.
  // Each lane is one row's sum, every product and addition a separate rounding in the
  // reference order (vector multiplies and adds, never fused), so the lanes equal sums().
  void sums_lanes(const double* kt, const View& out, int64_t row0) const {
    int64_t p = 0;
    for (int64_t i = 0; i < k_; ++i)
      for (int64_t j = i + 1; j < k_; ++j, ++p) {
        double sum[kLanes];
        segment_sums(coef_ + (j - 1) * n_sv_, coef_ + i * n_sv_, kt, start_[i], start_[i + 1],
                     start_[j], start_[j + 1], sum);
        for (int64_t l = 0; l < kLanes; ++l) out.row<double>(row0 + l)[p] = sum[l] + bias_[p];
      }
  }

  // sum[l] = the class i segment [a0, a1) with weights c1, then the class j segment [b0, b1)
  // with weights c2, each lane accumulated in index order from 0.
  static void segment_sums(const double* c1, const double* c2, const double* kt, int64_t a0,
                           int64_t a1, int64_t b0, int64_t b1, double* sum) {
#if defined(__x86_64__)
    if (cpu_avx2()) return segment_sums_avx2(c1, c2, kt, a0, a1, b0, b1, sum);
    __m128d acc[kLanes / 2];
    for (auto& v : acc) v = _mm_setzero_pd();
    auto step = [&](double c, const double* v) {
      const __m128d cc = _mm_set1_pd(c);
      for (int64_t q = 0; q < kLanes / 2; ++q)
        acc[q] = _mm_add_pd(acc[q], _mm_mul_pd(cc, _mm_loadu_pd(v + 2 * q)));
    };
    for (int64_t s = a0; s < a1; ++s) step(c1[s], kt + s * kLanes);
    for (int64_t s = b0; s < b1; ++s) step(c2[s], kt + s * kLanes);
    for (int64_t q = 0; q < kLanes / 2; ++q) _mm_storeu_pd(sum + 2 * q, acc[q]);
#else
    for (int64_t l = 0; l < kLanes; ++l) sum[l] = 0;
    for (int64_t s = a0; s < a1; ++s)
      for (int64_t l = 0; l < kLanes; ++l) sum[l] += c1[s] * kt[s * kLanes + l];
    for (int64_t s = b0; s < b1; ++s)
      for (int64_t l = 0; l < kLanes; ++l) sum[l] += c2[s] * kt[s * kLanes + l];
#endif
  }

#if defined(__x86_64__)
  static bool cpu_avx2() {
    static const bool has = [] {
      __builtin_cpu_init();
      return __builtin_cpu_supports("avx2") != 0;
    }();
    return has;
  }

  __attribute__((target("avx2"))) static void segment_sums_avx2(
      const double* c1, const double* c2, const double* kt, int64_t a0, int64_t a1, int64_t b0,
      int64_t b1, double* sum) {
    __m256d acc0 = _mm256_setzero_pd(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    for (int64_t s = a0; s < a1; ++s) {
      const __m256d c = _mm256_set1_pd(c1[s]);
      const double* v = kt + s * kLanes;
      acc0 = _mm256_add_pd(acc0, _mm256_mul_pd(c, _mm256_loadu_pd(v)));
      acc1 = _mm256_add_pd(acc1, _mm256_mul_pd(c, _mm256_loadu_pd(v + 4)));
      acc2 = _mm256_add_pd(acc2, _mm256_mul_pd(c, _mm256_loadu_pd(v + 8)));
      acc3 = _mm256_add_pd(acc3, _mm256_mul_pd(c, _mm256_loadu_pd(v + 12)));
    }
    for (int64_t s = b0; s < b1; ++s) {
      const __m256d c = _mm256_set1_pd(c2[s]);
      const double* v = kt + s * kLanes;
      acc0 = _mm256_add_pd(acc0, _mm256_mul_pd(c, _mm256_loadu_pd(v)));
      acc1 = _mm256_add_pd(acc1, _mm256_mul_pd(c, _mm256_loadu_pd(v + 4)));
      acc2 = _mm256_add_pd(acc2, _mm256_mul_pd(c, _mm256_loadu_pd(v + 8)));
      acc3 = _mm256_add_pd(acc3, _mm256_mul_pd(c, _mm256_loadu_pd(v + 12)));
    }
    _mm256_storeu_pd(sum, acc0);
    _mm256_storeu_pd(sum + 4, acc1);
    _mm256_storeu_pd(sum + 8, acc2);
    _mm256_storeu_pd(sum + 12, acc3);
  }
#endif

  int64_t k_, n_sv_;
  const double* coef_;
  std::vector<int64_t> start_;
  const double* bias_;
};

Status make_ovo_pair_sums(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  ValueInfo in;
  MLE_RETURN_IF_ERROR(b.float_input(&in));
  const int64_t n_sv = in.cols;
  if (n_sv < 1) return b.error("input must have at least one column (kernel values)");
  const TensorRef* pc;
  MLE_RETURN_IF_ERROR(b.tensor("counts", DType::kI64, {-1}, &pc));
  const int64_t n = pc->shape[0];
  if (n < 2 || n > kMaxOvoClasses)
    return b.error("'counts' must hold one count per class, 2 to " +
                   std::to_string(kMaxOvoClasses) + " classes, got " + std::to_string(n));
  const int64_t* counts = pc->as<int64_t>();
  std::vector<int64_t> start(static_cast<size_t>(n) + 1, 0);
  for (int64_t c = 0; c < n; ++c) {
    if (counts[c] < 0 || counts[c] > n_sv - start[c])
      return b.error("'counts' must be non-negative and sum to the input's " +
                     std::to_string(n_sv) + " columns");
    start[c + 1] = start[c] + counts[c];
  }
  if (start[n] != n_sv)
    return b.error("'counts' must sum to the input's " + std::to_string(n_sv) +
                   " columns, got " + std::to_string(start[n]));
  const int64_t pairs = n * (n - 1) / 2;
  const TensorRef *pw, *pb;
  MLE_RETURN_IF_ERROR(b.tensor("coef", DType::kF64, {n - 1, n_sv}, &pw));
  MLE_RETURN_IF_ERROR(b.tensor("bias", DType::kF64, {pairs}, &pb));
  const double* coef = pw->as<double>();
  const double* bias = pb->as<double>();
  for (int64_t i = 0; i < (n - 1) * n_sv; ++i)
    if (!std::isfinite(coef[i])) return b.error("'coef' must be finite");
  for (int64_t i = 0; i < pairs; ++i)
    if (!std::isfinite(bias[i])) return b.error("'bias' must be finite");
  k->reset(new OvoPairSums(n, n_sv, coef, std::move(start), bias));
  *out = ValueInfo{pairs, ValueKind::kF64};
  return Status::OK();
}

}  // namespace

const OpRegistrar kRegistered({
    {"PairwiseCoupling", make_pairwise_coupling, 1,
     {attr::tensor("probA", DType::kF64), attr::tensor("probB", DType::kF64),
      attr::number("n_classes")}},
    {"OvoPairSums", make_ovo_pair_sums, 1,
     {attr::tensor("coef", DType::kF64), attr::tensor("counts", DType::kI64),
      attr::tensor("bias", DType::kF64)}},
});

}  // namespace mle
