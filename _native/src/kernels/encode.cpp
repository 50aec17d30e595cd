// Categorical encoders over numeric values (scikit-learn's OneHotEncoder and OrdinalEncoder).
// String columns never reach the graph: the input adapter turns them into codes against the
// vocabulary of the graph's input rule "strings" (docs/FORMAT.md, section 9.3), so every
// category here is a float64 value (a number, or a string's code). Unknown values that the
// encoder refuses or warns about are found by the input rule "unknown" before the native call;
// here an unknown value always takes the feature's `unknown` entry.
//
// Per input feature f the categories are categories[offsets[f] .. offsets[f + 1]): finite and
// strictly increasing, optionally followed by one NaN (NaN was a category at fit time).
#include <algorithm>
#include <cmath>
#include <limits>

#include "mle/kernel.h"

namespace mle {
namespace {

// The position of v among feature f's categories, or -1 when it is not one of them.
inline int64_t find_category(double v, const double* first, const double* last, bool has_nan) {
  if (std::isnan(v)) return has_nan ? (last - first) - 1 : -1;
  const double* end = has_nan ? last - 1 : last;
  const double* it = std::lower_bound(first, end, v);
  return (it != end && *it == v) ? it - first : -1;
}

struct Categories {
  int64_t n = 0;                // input features
  const int64_t* offsets = nullptr;
  const double* values = nullptr;
  std::vector<uint8_t> has_nan;  // per feature: the last category is NaN
};

Status read_categories(const NodeBuild& b, int64_t n, Categories* c) {
  const TensorRef *offs, *cats;
  MLE_RETURN_IF_ERROR(b.tensor("offsets", DType::kI64, {n + 1}, &offs));
  MLE_RETURN_IF_ERROR(b.tensor("categories", DType::kF64, {-1}, &cats));
  const int64_t* o = offs->as<int64_t>();
  const double* v = cats->as<double>();
  if (o[0] != 0 || o[n] != cats->shape[0])
    return b.error("offsets must start at 0 and end at the number of categories");
  c->n = n;
  c->offsets = o;
  c->values = v;
  c->has_nan.assign(static_cast<size_t>(n), 0);
  for (int64_t f = 0; f < n; ++f)  // all of them before any category is read
    if (o[f + 1] < o[f]) return b.error("offsets must not decrease");
  for (int64_t f = 0; f < n; ++f) {
    for (int64_t i = o[f]; i < o[f + 1]; ++i) {
      if (std::isnan(v[i])) {
        if (i != o[f + 1] - 1) return b.error("a NaN category must be its feature's last");
        c->has_nan[static_cast<size_t>(f)] = 1;
      } else if (!std::isfinite(v[i]) || (i > o[f] && !(v[i - 1] < v[i]))) {
        return b.error("categories must be finite and strictly increasing per feature");
      }
    }
  }
  return Status::OK();
}

// OneHotEncoder: feature f's category i sets output column columns[offsets[f] + i] to 1 (-1:
// the category was dropped, nothing is set); a value that is not a category sets column
// unknown[f] (-1: none; the infrequent column under handle_unknown="infrequent_if_exist").
// Every other output is 0. Output float64.
class OneHot final : public Kernel {
 public:
  OneHot(Categories cats, const int64_t* columns, const int64_t* unknown, int64_t width)
      : c_(std::move(cats)), columns_(columns), unknown_(unknown), width_(width) {}
  void run(int64_t rows, const View* in, const View& out) const override {
    dispatch_float(in[0].dtype, [&](auto tag) {
      using T = decltype(tag);
      for (int64_t r = 0; r < rows; ++r) {
        const T* x = in[0].row<T>(r);
        double* y = out.row<double>(r);
        std::fill(y, y + width_, 0.0);
        for (int64_t f = 0; f < c_.n; ++f) {
          const int64_t lo = c_.offsets[f], hi = c_.offsets[f + 1];
          const int64_t i = find_category(static_cast<double>(x[f]), c_.values + lo,
                                          c_.values + hi, c_.has_nan[static_cast<size_t>(f)]);
          const int64_t col = i < 0 ? unknown_[f] : columns_[lo + i];
          if (col >= 0) y[col] = 1.0;
        }
      }
    });
  }
  double cost_per_row() const override { return static_cast<double>(c_.n * 4 + width_); }

 private:
  Categories c_;
  const int64_t* columns_;
  const int64_t* unknown_;
  int64_t width_;
};

Status make_onehot(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  ValueInfo in;
  MLE_RETURN_IF_ERROR(b.float_input(&in));
  Categories cats;
  MLE_RETURN_IF_ERROR(read_categories(b, in.cols, &cats));
  const int64_t n_cats = cats.offsets[in.cols];
  const TensorRef *cols, *unk, *width;
  MLE_RETURN_IF_ERROR(b.tensor("columns", DType::kI64, {n_cats}, &cols));
  MLE_RETURN_IF_ERROR(b.tensor("unknown", DType::kI64, {in.cols}, &unk));
  MLE_RETURN_IF_ERROR(b.tensor("width", DType::kI64, {1}, &width));
  const int64_t w = width->as<int64_t>()[0];
  if (w < 1 || w > n_cats + in.cols)
    return b.error("width must be between 1 and the number of categories plus features");
  const int64_t* c = cols->as<int64_t>();
  const int64_t* u = unk->as<int64_t>();
  for (int64_t i = 0; i < n_cats; ++i)
    if (c[i] < -1 || c[i] >= w) return b.error("a category's output column is outside the width");
  for (int64_t f = 0; f < in.cols; ++f)
    if (u[f] < -1 || u[f] >= w) return b.error("an unknown value's output column is outside the width");
  k->reset(new OneHot(std::move(cats), c, u, w));
  *out = ValueInfo{w, ValueKind::kF64};
  return Status::OK();
}

// OrdinalEncoder: feature f's category i becomes codes[offsets[f] + i], a value that is not a
// category becomes unknown[f] (both may be NaN: encoded_missing_value, unknown_value).
// Output float64, one column per feature.
class CategoryMap final : public Kernel {
 public:
  CategoryMap(Categories cats, const double* codes, const double* unknown)
      : c_(std::move(cats)), codes_(codes), unknown_(unknown) {}
  void run(int64_t rows, const View* in, const View& out) const override {
    dispatch_float(in[0].dtype, [&](auto tag) {
      using T = decltype(tag);
      for (int64_t r = 0; r < rows; ++r) {
        const T* x = in[0].row<T>(r);
        double* y = out.row<double>(r);
        for (int64_t f = 0; f < c_.n; ++f) {
          const int64_t lo = c_.offsets[f], hi = c_.offsets[f + 1];
          const int64_t i = find_category(static_cast<double>(x[f]), c_.values + lo,
                                          c_.values + hi, c_.has_nan[static_cast<size_t>(f)]);
          y[f] = i < 0 ? unknown_[f] : codes_[lo + i];
        }
      }
    });
  }
  double cost_per_row() const override { return static_cast<double>(c_.n * 4); }

 private:
  Categories c_;
  const double* codes_;
  const double* unknown_;
};

Status make_category_map(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  ValueInfo in;
  MLE_RETURN_IF_ERROR(b.float_input(&in));
  Categories cats;
  MLE_RETURN_IF_ERROR(read_categories(b, in.cols, &cats));
  const TensorRef *codes, *unk;
  MLE_RETURN_IF_ERROR(b.tensor("codes", DType::kF64, {cats.offsets[in.cols]}, &codes));
  MLE_RETURN_IF_ERROR(b.tensor("unknown", DType::kF64, {in.cols}, &unk));
  const int64_t cols = in.cols;
  k->reset(new CategoryMap(std::move(cats), codes->as<double>(), unk->as<double>()));
  *out = ValueInfo{cols, ValueKind::kF64};
  return Status::OK();
}

// MissingIndicator (SimpleImputer's add_indicator): output column j is 1 where input column
// columns[j] is missing (NaN, or equal to missing_value), else 0. Output: the input's kind.
class MissingMask final : public Kernel {
 public:
  MissingMask(int64_t cols, const int64_t* columns, bool nan, double missing)
      : cols_(cols), columns_(columns), nan_(nan), missing_(missing) {}
  void run(int64_t rows, const View* in, const View& out) const override {
    dispatch_float(out.dtype, [&](auto tag) {
      using T = decltype(tag);
      for (int64_t r = 0; r < rows; ++r) {
        const T* x = in[0].row<T>(r);
        T* y = out.row<T>(r);
        for (int64_t c = 0; c < cols_; ++c) {
          const T v = x[columns_[c]];
          y[c] = (nan_ ? std::isnan(v) : v == static_cast<T>(missing_)) ? T(1) : T(0);
        }
      }
    });
  }

 private:
  int64_t cols_;
  const int64_t* columns_;
  bool nan_;
  double missing_;
};

Status make_missing_mask(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  ValueInfo in;
  MLE_RETURN_IF_ERROR(b.float_input(&in));
  const TensorRef* cols;
  MLE_RETURN_IF_ERROR(b.tensor("columns", DType::kI64, {-1}, &cols));
  const int64_t n = cols->shape[0];
  if (n == 0) return b.error("no output columns");
  const int64_t* c = cols->as<int64_t>();
  for (int64_t j = 0; j < n; ++j)
    if (c[j] < 0 || c[j] >= in.cols)
      return b.error("column index " + std::to_string(c[j]) + " is outside [0, " +
                     std::to_string(in.cols) + ")");
  bool nan;
  double missing = 0;
  MLE_RETURN_IF_ERROR(b.boolean("missing_is_nan", &nan));
  if (!nan) MLE_RETURN_IF_ERROR(b.number("missing_value", &missing));
  k->reset(new MissingMask(n, c, nan, missing));
  *out = ValueInfo{n, in.kind};
  return Status::OK();
}

}  // namespace

using attr::boolean;
using attr::number;
using attr::tensor;

const OpRegistrar kRegistered({
    {"OneHot", make_onehot, 1,
     {tensor("offsets", DType::kI64), tensor("categories", DType::kF64),
      tensor("columns", DType::kI64), tensor("unknown", DType::kI64),
      tensor("width", DType::kI64)}},
    {"CategoryMap", make_category_map, 1,
     {tensor("offsets", DType::kI64), tensor("categories", DType::kF64),
      tensor("codes", DType::kF64), tensor("unknown", DType::kF64)}},
    {"MissingMask", make_missing_mask, 1,
     {tensor("columns", DType::kI64), boolean("missing_is_nan"),
      number("missing_value", kOptional)}},
});

}  // namespace mle
