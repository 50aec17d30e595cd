// Distances to stored rows that are not products: the manhattan (L1) distance of each row to
// every stored row, summed in feature order (scikit-learn's ManhattanDistance and scipy's
// cityblock), for NearestCentroid(metric="manhattan"); and SkewedChi2Sampler's
// log(X + skewedness), which refuses entries at or below -skewedness as scikit-learn does; and
// the median of groups of columns (FeatureAgglomeration(pooling_func=np.median)).
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "mle/kernel.h"

namespace mle {
namespace {

inline double get(const View& v, int64_t r, int64_t c) {
  return v.dtype == DType::kF32 ? static_cast<double>(v.row<float>(r)[c]) : v.row<double>(r)[c];
}

class ManhattanDistances final : public Kernel {
 public:
  ManhattanDistances(int64_t c, int64_t n, const double* rows) : c_(c), n_(n), rows_(rows) {}

  double cost_per_row() const override { return 2.0 * static_cast<double>(c_ * n_); }

  void run(int64_t rows, const View* in, const View& out) const override {
    for (int64_t r = 0; r < rows; ++r) {
      double* y = out.row<double>(r);
      for (int64_t i = 0; i < n_; ++i) {
        const double* p = rows_ + i * c_;
        double s = 0.0;
        for (int64_t j = 0; j < c_; ++j) s += std::fabs(get(in[0], r, j) - p[j]);
        y[i] = s;
      }
    }
  }

 private:
  int64_t c_, n_;
  const double* rows_;
};

Status make_manhattan(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  ValueInfo in;
  MLE_RETURN_IF_ERROR(b.float_input(&in));
  if (in.cols < 1) return b.error("the input has no columns");
  const TensorRef* rows;
  MLE_RETURN_IF_ERROR(b.tensor("rows", DType::kF64, {-1, in.cols}, &rows));
  const int64_t n = rows->shape[0];
  if (n < 1) return b.error("rows has no rows");
  k->reset(new ManhattanDistances(in.cols, n, rows->as<double>()));
  *out = ValueInfo{n, ValueKind::kF64};
  return Status::OK();
}

// y = T(log(T(x + T(shift)))), T the value's float type (numpy's float32 arithmetic with a
// Python float); a block holding x <= T(-shift) is refused.
class ShiftedLog final : public Kernel {
 public:
  ShiftedLog(int64_t cols, double shift) : cols_(cols), shift_(shift) {}

  bool checks_input() const override { return true; }

  std::string refusal(int64_t rows, const View* in) const override {
    // float32 data is compared with -shift rounded to float32, as numpy compares it
    const double bound = in[0].dtype == DType::kF32
                             ? static_cast<double>(static_cast<float>(-shift_)) : -shift_;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols_; ++c)
        if (get(in[0], r, c) <= bound)
          return "X may not contain entries smaller than -skewedness.";
    return {};
  }

  void run(int64_t rows, const View* in, const View& out) const override {
    if (in[0].dtype == DType::kF32) {
      const float s = static_cast<float>(shift_);
      for (int64_t r = 0; r < rows; ++r) {
        const float* x = in[0].row<float>(r);
        float* y = out.row<float>(r);
        for (int64_t c = 0; c < cols_; ++c)
          y[c] = static_cast<float>(std::log(static_cast<double>(x[c] + s)));
      }
      return;
    }
    for (int64_t r = 0; r < rows; ++r) {
      const double* x = in[0].row<double>(r);
      double* y = out.row<double>(r);
      for (int64_t c = 0; c < cols_; ++c) y[c] = std::log(x[c] + shift_);
    }
  }

 private:
  int64_t cols_;
  double shift_;
};

Status make_shifted_log(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  ValueInfo in;
  MLE_RETURN_IF_ERROR(b.float_input(&in));
  double shift;
  MLE_RETURN_IF_ERROR(b.number("shift", &shift));
  if (!std::isfinite(shift) || !(shift > 0.0) ||
      !std::isfinite(static_cast<double>(static_cast<float>(shift))))
    return b.error("shift must be a positive number, finite in float32 too");
  k->reset(new ShiftedLog(in.cols, shift));
  *out = ValueInfo{in.cols, in.kind};
  return Status::OK();
}

// Group g holds input columns columns[start_g .. start_g + segments[g]); y_g is their median
// as np.median computes it: the middle value, or for an even count T(T(a + b) / 2) of the two
// middle ones (np.mean of them in the data's type).
class SegmentMedian final : public Kernel {
 public:
  SegmentMedian(std::vector<int64_t> columns, std::vector<int64_t> starts, int64_t widest)
      : columns_(std::move(columns)), starts_(std::move(starts)), widest_(widest) {}

  double cost_per_row() const override { return 4.0 * static_cast<double>(columns_.size()); }

  void run(int64_t rows, const View* in, const View& out) const override {
    if (in[0].dtype == DType::kF32)
      body<float>(rows, in[0], out);
    else
      body<double>(rows, in[0], out);
  }

 private:
  template <class T>
  void body(int64_t rows, const View& in, const View& out) const {
    std::vector<T> buf(static_cast<size_t>(widest_));
    const size_t k = starts_.size() - 1;
    for (int64_t r = 0; r < rows; ++r) {
      const T* x = in.row<T>(r);
      T* y = out.row<T>(r);
      for (size_t g = 0; g < k; ++g) {
        const int64_t n = starts_[g + 1] - starts_[g];
        for (int64_t i = 0; i < n; ++i) buf[i] = x[columns_[starts_[g] + i]];
        T* b = buf.data();
        const int64_t h = n / 2;
        std::nth_element(b, b + h, b + n);
        if (n % 2 == 1) {
          y[g] = b[h];
        } else {
          const T lo = *std::max_element(b, b + h);
          const T sum = static_cast<T>(lo + b[h]);
          y[g] = static_cast<T>(sum / static_cast<T>(2));
        }
      }
    }
  }

  std::vector<int64_t> columns_, starts_;
  int64_t widest_;
};

Status make_segment_median(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  ValueInfo in;
  MLE_RETURN_IF_ERROR(b.float_input(&in));
  const TensorRef *cols, *segs;
  MLE_RETURN_IF_ERROR(b.tensor("columns", DType::kI64, {-1}, &cols));
  MLE_RETURN_IF_ERROR(b.tensor("segments", DType::kI64, {-1}, &segs));
  if (segs->shape[0] < 1) return b.error("segments is empty");
  std::vector<int64_t> columns(cols->as<int64_t>(), cols->as<int64_t>() + cols->shape[0]);
  for (int64_t c : columns)
    if (c < 0 || c >= in.cols) return b.error("a column index is outside the input's columns");
  std::vector<int64_t> starts{0};
  int64_t widest = 0;
  for (int64_t g = 0; g < segs->shape[0]; ++g) {
    const int64_t w = segs->as<int64_t>()[g];
    if (w < 1 || w > cols->shape[0] - starts.back())
      return b.error("segments must be positive widths adding up to the number of columns");
    starts.push_back(starts.back() + w);
    widest = std::max(widest, w);
  }
  if (starts.back() != cols->shape[0])
    return b.error("segments must be positive widths adding up to the number of columns");
  k->reset(new SegmentMedian(std::move(columns), std::move(starts), widest));
  *out = ValueInfo{segs->shape[0], in.kind};
  return Status::OK();
}

}  // namespace

using attr::number;
using attr::tensor;

const OpRegistrar kRegistered({
    {"ManhattanDistances", make_manhattan, 1, {tensor("rows", DType::kF64)}},
    {"ShiftedLog", make_shifted_log, 1, {number("shift")}},
    {"SegmentMedian", make_segment_median, 1,
     {tensor("columns", DType::kI64), tensor("segments", DType::kI64)}},
});

}  // namespace mle
