// Distances to stored rows that are not products: the manhattan (L1) distance of each row to
// every stored row, summed in feature order (scikit-learn's ManhattanDistance and scipy's
// cityblock), for NearestCentroid(metric="manhattan").
#include <cmath>

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

}  // namespace

using attr::tensor;

const OpRegistrar kRegistered({
    {"ManhattanDistances", make_manhattan, 1, {tensor("rows", DType::kF64)}},
});

}  // namespace mle
