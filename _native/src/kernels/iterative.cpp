// IterativeImputer's round-robin step: one column of the current imputation replaced, in the
// rows where it was missing, by an estimator's clipped prediction (docs/FORMAT.md, 11.12).
#include <cmath>

#include "mle/kernel.h"

namespace mle {
namespace {

inline double get(const View& v, int64_t r, int64_t c) {
  return v.dtype == DType::kF32 ? static_cast<double>(v.row<float>(r)[c]) : v.row<double>(r)[c];
}

// y = x; where m[mask_column] != 0: y[column] = T(clip(v)), clip leaving NaN as NaN (np.clip).
class ReplaceMissing final : public Kernel {
 public:
  ReplaceMissing(int64_t cols, int64_t column, int64_t mask_column, bool has_lo, double lo,
                 bool has_hi, double hi)
      : cols_(cols), column_(column), mask_column_(mask_column), has_lo_(has_lo), lo_(lo),
        has_hi_(has_hi), hi_(hi) {}
  double cost_per_row() const override { return static_cast<double>(cols_); }
  void run(int64_t rows, const View* in, const View& out) const override {
    for (int64_t r = 0; r < rows; ++r) {
      if (out.dtype == DType::kF32) {
        float* y = out.row<float>(r);
        for (int64_t c = 0; c < cols_; ++c) y[c] = static_cast<float>(get(in[0], r, c));
      } else {
        double* y = out.row<double>(r);
        for (int64_t c = 0; c < cols_; ++c) y[c] = get(in[0], r, c);
      }
      if (get(in[2], r, mask_column_) == 0.0) continue;
      double v = get(in[1], r, 0);
      if (!std::isnan(v)) {
        if (has_lo_ && v < lo_) v = lo_;
        if (has_hi_ && v > hi_) v = hi_;
      }
      if (out.dtype == DType::kF32)
        out.row<float>(r)[column_] = static_cast<float>(v);
      else
        out.row<double>(r)[column_] = v;
    }
  }

 private:
  int64_t cols_, column_, mask_column_;
  bool has_lo_;
  double lo_;
  bool has_hi_;
  double hi_;
};

Status index_attr(const NodeBuild& b, const char* key, int64_t bound, int64_t* out) {
  double v;
  MLE_RETURN_IF_ERROR(b.number(key, &v));
  if (!(v >= 0.0 && v < static_cast<double>(bound)) || v != std::floor(v))
    return b.error(std::string("'") + key + "' must be an integer in [0, " +
                   std::to_string(bound) + ")");
  *out = static_cast<int64_t>(v);
  return Status::OK();
}

Status make_replace_missing(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  MLE_RETURN_IF_ERROR(b.expect_inputs(3));
  const ValueInfo& x = b.inputs()[0];
  const ValueInfo& v = b.inputs()[1];
  const ValueInfo& m = b.inputs()[2];
  if (x.kind == ValueKind::kI64 || v.kind == ValueKind::kI64 || m.kind == ValueKind::kI64)
    return b.error("inputs must be floating-point values");
  if (x.cols < 1) return b.error("input 0 must have at least one column");
  if (v.cols != 1) return b.error("input 1 must have exactly one column");
  int64_t column, mask_column;
  MLE_RETURN_IF_ERROR(index_attr(b, "column", x.cols, &column));
  MLE_RETURN_IF_ERROR(index_attr(b, "mask_column", m.cols, &mask_column));
  double lo = 0.0, hi = 0.0;
  const bool has_lo = b.has("clip_min"), has_hi = b.has("clip_max");
  if (has_lo) {
    MLE_RETURN_IF_ERROR(b.number("clip_min", &lo));
    if (std::isnan(lo)) return b.error("'clip_min' must not be NaN");
  }
  if (has_hi) {
    MLE_RETURN_IF_ERROR(b.number("clip_max", &hi));
    if (std::isnan(hi)) return b.error("'clip_max' must not be NaN");
  }
  if (has_lo && has_hi && !(lo <= hi)) return b.error("'clip_min' must not exceed 'clip_max'");
  k->reset(new ReplaceMissing(x.cols, column, mask_column, has_lo, lo, has_hi, hi));
  *out = ValueInfo{x.cols, x.kind};
  return Status::OK();
}

}  // namespace

const OpRegistrar kRegistered({
    {"ReplaceMissing", make_replace_missing, 3,
     {attr::number("column"), attr::number("mask_column"), attr::number("clip_min", kOptional),
      attr::number("clip_max", kOptional)}},
});

}  // namespace mle
