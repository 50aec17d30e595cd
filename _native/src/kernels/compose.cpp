// Column routing: Columns (a gather of some of a value's columns) and Concat (the row-wise
// concatenation of several values), what scikit-learn's ColumnTransformer, FeatureUnion and
// the meta-estimators that stack their members' outputs do with numpy indexing and np.hstack.
#include <cstring>

#include "mle/kernel.h"

namespace mle {
namespace {

// y[:, j] = x[:, columns[j]] (numpy fancy indexing: repeats allowed, any order).
class Columns final : public Kernel {
 public:
  Columns(const int64_t* columns, int64_t k) : columns_(columns), k_(k) {}
  void run(int64_t rows, const View* in, const View& out) const override {
    dispatch_float(out.dtype, [&](auto tag) {
      using T = decltype(tag);
      for (int64_t r = 0; r < rows; ++r) {
        const T* x = in[0].row<T>(r);
        T* y = out.row<T>(r);
        for (int64_t j = 0; j < k_; ++j) y[j] = x[columns_[j]];
      }
    });
  }
  double cost_per_row() const override { return static_cast<double>(k_) / 4.0; }

 private:
  const int64_t* columns_;
  int64_t k_;
};

Status make_columns(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  ValueInfo in;
  MLE_RETURN_IF_ERROR(b.float_input(&in));
  const TensorRef* columns;
  MLE_RETURN_IF_ERROR(b.tensor("columns", DType::kI64, {-1}, &columns));
  const int64_t n = columns->shape[0];
  if (n < 1) return b.error("'columns' must list at least one column");
  const int64_t* idx = columns->as<int64_t>();
  for (int64_t j = 0; j < n; ++j)
    if (idx[j] < 0 || idx[j] >= in.cols)
      return b.error("'columns' entry " + std::to_string(j) + " is " + std::to_string(idx[j]) +
                     "; the input has " + std::to_string(in.cols) + " column(s)");
  k->reset(new Columns(idx, n));
  *out = ValueInfo{n, in.kind};
  return Status::OK();
}

// np.hstack of float values: each input's columns in order. The output is float64 unless
// every input has the caller's float type (float32 data stays float32, as numpy keeps it).
class Concat final : public Kernel {
 public:
  explicit Concat(std::vector<int64_t> widths) : widths_(std::move(widths)) {}
  void run(int64_t rows, const View* in, const View& out) const override {
    dispatch_float(out.dtype, [&](auto tag) {
      using T = decltype(tag);
      for (int64_t r = 0; r < rows; ++r) {
        T* y = out.row<T>(r);
        for (size_t i = 0; i < widths_.size(); ++i) {
          const int64_t w = widths_[i];
          if (in[i].dtype == out.dtype) {
            std::memcpy(y, in[i].row<T>(r), static_cast<size_t>(w) * sizeof(T));
          } else {  // only float32 into float64: exact
            const float* x = in[i].row<float>(r);
            for (int64_t j = 0; j < w; ++j) y[j] = static_cast<T>(x[j]);
          }
          y += w;
        }
      }
    });
  }
  double cost_per_row() const override {
    int64_t total = 0;
    for (int64_t w : widths_) total += w;
    return static_cast<double>(total) / 8.0;
  }

 private:
  std::vector<int64_t> widths_;
};

Status make_concat(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  const std::vector<ValueInfo>& ins = b.inputs();
  if (ins.empty()) return b.error("needs at least one input");
  std::vector<int64_t> widths;
  widths.reserve(ins.size());
  int64_t total = 0;
  bool all_input = true;
  for (size_t i = 0; i < ins.size(); ++i) {
    if (ins[i].kind == ValueKind::kI64)
      return b.error("input " + std::to_string(i) + " must be floating point");
    if (ins[i].kind != ValueKind::kInput) all_input = false;
    widths.push_back(ins[i].cols);
    total += ins[i].cols;  // at most 1024 inputs of at most 2^31 columns: no overflow
  }
  k->reset(new Concat(std::move(widths)));
  *out = ValueInfo{total, all_input ? ValueKind::kInput : ValueKind::kF64};
  return Status::OK();
}

const OpRegistrar kRegistered({
    {"Columns", make_columns, 1, {attr::tensor("columns", DType::kI64)}},
    {"Concat", make_concat, kAnyInputs, {}},
});

}  // namespace
}  // namespace mle
