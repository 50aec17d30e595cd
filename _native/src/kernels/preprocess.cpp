// Row-wise preprocessing: scalers, normalizer, imputer.
// Arithmetic mirrors scikit-learn's in-place numpy operations step by step: each step is computed
// in double and rounded to the value's dtype, which for float32 data gives exactly numpy's
// float32 result (one correctly rounded +,-,*,/ in double, then rounded to float, is the
// correctly rounded float result). Built with -ffp-contract=off so no step is fused.
#include <algorithm>
#include <cmath>
#include <limits>

#include "mle/kernel.h"

namespace mle {
namespace {

// y = ((x - sub) / div) with both parts optional, per column (StandardScaler, RobustScaler,
// MaxAbsScaler). With cast_params the parameters are first rounded to the data's dtype, as
// StandardScaler does (xp.astype(self.mean_, X.dtype)) before its float32 arithmetic.
class SubDiv final : public Kernel {
 public:
  SubDiv(int64_t cols, const double* sub, const double* div, bool cast)
      : cols_(cols), sub_(sub), div_(div), cast_(cast) {}
  void run(int64_t rows, const View* in, const View& out) const override {
    dispatch_float(out.dtype, [&](auto tag) {
      using T = decltype(tag);
      auto param = [&](const double* p, int64_t c) {
        return cast_ ? static_cast<double>(static_cast<T>(p[c])) : p[c];
      };
      for (int64_t r = 0; r < rows; ++r) {
        const T* x = in[0].row<T>(r);
        T* y = out.row<T>(r);
        for (int64_t c = 0; c < cols_; ++c) {
          T v = x[c];
          if (sub_) v = static_cast<T>(static_cast<double>(v) - param(sub_, c));
          if (div_) v = static_cast<T>(static_cast<double>(v) / param(div_, c));
          y[c] = v;
        }
      }
    });
  }

 private:
  int64_t cols_;
  const double* sub_;
  const double* div_;
  bool cast_;
};

Status make_subdiv(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  ValueInfo in;
  MLE_RETURN_IF_ERROR(b.float_input(&in));
  const TensorRef *sub, *div;
  MLE_RETURN_IF_ERROR(b.tensor("sub", DType::kF64, {in.cols}, &sub, true));
  MLE_RETURN_IF_ERROR(b.tensor("div", DType::kF64, {in.cols}, &div, true));
  bool cast;
  MLE_RETURN_IF_ERROR(b.boolean_or("cast_params", false, &cast));
  k->reset(new SubDiv(in.cols, sub ? sub->as<double>() : nullptr,
                      div ? div->as<double>() : nullptr, cast));
  *out = in;
  return Status::OK();
}

// y = clip(x * mul + add) (MinMaxScaler: X *= scale_; X += min_; optional np.clip). With
// cast_params the parameters are first rounded to the data's type (StandardScaler's
// inverse_transform: X *= scale_.astype(X.dtype); X += mean_.astype(X.dtype)).
class MulAdd final : public Kernel {
 public:
  MulAdd(int64_t cols, const double* mul, const double* add, bool clip, double lo, double hi,
         bool cast)
      : cols_(cols), mul_(mul), add_(add), clip_(clip), cast_(cast), lo_(lo), hi_(hi) {}
  void run(int64_t rows, const View* in, const View& out) const override {
    dispatch_float(out.dtype, [&](auto tag) {
      using T = decltype(tag);
      const T lo = static_cast<T>(lo_), hi = static_cast<T>(hi_);
      auto p = [this](double v) { return cast_ ? static_cast<double>(static_cast<T>(v)) : v; };
      for (int64_t r = 0; r < rows; ++r) {
        const T* x = in[0].row<T>(r);
        T* y = out.row<T>(r);
        for (int64_t c = 0; c < cols_; ++c) {
          T v = x[c];
          if (mul_) v = static_cast<T>(static_cast<double>(v) * p(mul_[c]));
          if (add_) v = static_cast<T>(static_cast<double>(v) + p(add_[c]));
          if (clip_) v = std::min(std::max(v, lo), hi);  // NaN stays NaN, as in np.clip
          y[c] = v;
        }
      }
    });
  }

 private:
  int64_t cols_;
  const double* mul_;
  const double* add_;
  bool clip_;
  bool cast_;
  double lo_, hi_;
};

Status make_muladd(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  ValueInfo in;
  MLE_RETURN_IF_ERROR(b.float_input(&in));
  const TensorRef *mul, *add;
  MLE_RETURN_IF_ERROR(b.tensor("mul", DType::kF64, {in.cols}, &mul, true));
  MLE_RETURN_IF_ERROR(b.tensor("add", DType::kF64, {in.cols}, &add, true));
  bool clip, cast;
  double lo = 0, hi = 0;
  MLE_RETURN_IF_ERROR(b.boolean_or("clip", false, &clip));
  MLE_RETURN_IF_ERROR(b.boolean_or("cast_params", false, &cast));
  if (clip) {
    MLE_RETURN_IF_ERROR(b.number("clip_min", &lo));
    MLE_RETURN_IF_ERROR(b.number("clip_max", &hi));
    if (!(lo <= hi)) return b.error("clip_min must not exceed clip_max");
  }
  k->reset(new MulAdd(in.cols, mul ? mul->as<double>() : nullptr,
                      add ? add->as<double>() : nullptr, clip, lo, hi, cast));
  *out = in;
  return Status::OK();
}

// Normalizer: each row divided by its l1, l2 or max norm; zero norms are treated as 1.
class Normalize final : public Kernel {
 public:
  enum Norm { kL1, kL2, kMax };
  Normalize(int64_t cols, Norm norm) : cols_(cols), norm_(norm) {}
  void run(int64_t rows, const View* in, const View& out) const override {
    dispatch_float(out.dtype, [&](auto tag) {
      using T = decltype(tag);
      for (int64_t r = 0; r < rows; ++r) {
        const T* x = in[0].row<T>(r);
        T* y = out.row<T>(r);
        double acc = 0.0;
        for (int64_t c = 0; c < cols_; ++c) {
          double v = x[c];
          if (norm_ == kL2)
            acc += v * v;
          else if (norm_ == kL1)
            acc += std::fabs(v);
          else
            acc = std::max(acc, std::fabs(v));
        }
        if (norm_ == kL2) acc = std::sqrt(acc);
        T norm = static_cast<T>(acc);
        if (norm == T(0)) norm = T(1);
        for (int64_t c = 0; c < cols_; ++c)
          y[c] = static_cast<T>(static_cast<double>(x[c]) / static_cast<double>(norm));
      }
    });
  }

 private:
  int64_t cols_;
  Norm norm_;
};

Status make_normalize(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  ValueInfo in;
  MLE_RETURN_IF_ERROR(b.float_input(&in));
  std::string norm;
  MLE_RETURN_IF_ERROR(b.string("norm", &norm));
  Normalize::Norm n;
  if (norm == "l1")
    n = Normalize::kL1;
  else if (norm == "l2")
    n = Normalize::kL2;
  else if (norm == "max")
    n = Normalize::kMax;
  else
    return b.error("norm must be 'l1', 'l2' or 'max', got '" + norm + "'");
  k->reset(new Normalize(in.cols, n));
  *out = in;
  return Status::OK();
}

// SimpleImputer: output column j takes input column columns[j] (j itself when `columns` is
// absent); missing entries (NaN, or equal to missing_value) become fill[j]. Columns dropped by
// the imputer are simply not listed. With compare_float32, a value is missing when its float32
// rounding equals missing_value (XGBoost reads its input as float32 before the comparison).
class Impute final : public Kernel {
 public:
  Impute(int64_t out_cols, const int64_t* columns, const double* fill, bool nan, double missing,
         bool f32)
      : cols_(out_cols), columns_(columns), fill_(fill), nan_(nan), missing_(missing), f32_(f32) {}
  void run(int64_t rows, const View* in, const View& out) const override {
    dispatch_float(out.dtype, [&](auto tag) {
      using T = decltype(tag);
      for (int64_t r = 0; r < rows; ++r) {
        const T* x = in[0].row<T>(r);
        T* y = out.row<T>(r);
        for (int64_t c = 0; c < cols_; ++c) {
          T v = x[columns_ ? columns_[c] : c];
          bool miss = nan_ ? std::isnan(v)
                      : f32_ ? (static_cast<float>(v) == static_cast<float>(missing_))
                             : (v == static_cast<T>(missing_));
          y[c] = miss ? static_cast<T>(fill_[c]) : v;
        }
      }
    });
  }

 private:
  int64_t cols_;
  const int64_t* columns_;
  const double* fill_;
  bool nan_;
  double missing_;
  bool f32_;
};

Status make_impute(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  ValueInfo in;
  MLE_RETURN_IF_ERROR(b.float_input(&in));
  const TensorRef *cols, *fill;
  MLE_RETURN_IF_ERROR(b.tensor("columns", DType::kI64, {-1}, &cols, true));
  const int64_t n_out = cols ? cols->shape[0] : in.cols;
  MLE_RETURN_IF_ERROR(b.tensor("fill", DType::kF64, {n_out}, &fill));
  if (n_out == 0) return b.error("imputer keeps no columns");
  for (int64_t j = 0; cols && j < n_out; ++j) {
    int64_t c = cols->as<int64_t>()[j];
    if (c < 0 || c >= in.cols)
      return b.error("column index " + std::to_string(c) + " is outside [0, " +
                     std::to_string(in.cols) + ")");
  }
  bool nan;
  double missing = 0;
  MLE_RETURN_IF_ERROR(b.boolean("missing_is_nan", &nan));
  if (!nan) MLE_RETURN_IF_ERROR(b.number("missing_value", &missing));
  bool f32;
  MLE_RETURN_IF_ERROR(b.boolean_or("compare_float32", false, &f32));
  k->reset(new Impute(n_out, cols ? cols->as<int64_t>() : nullptr, fill->as<double>(), nan,
                      missing, f32));
  *out = ValueInfo{n_out, in.kind};
  return Status::OK();
}

// OrdinalEncoder (handle_unknown="use_encoded_value", unknown_value=NaN, encoded_missing_value=
// NaN) fused with a column selection: output column j reads input column columns[j]; if it has
// categories (sorted, exact float64 values categories[cat_offsets[j] .. cat_offsets[j + 1])) the
// value becomes its category index, or NaN when missing or unknown; otherwise it passes through.
class OrdinalEncode final : public Kernel {
 public:
  OrdinalEncode(int64_t cols, const int64_t* columns, const int64_t* offsets, const double* cats)
      : cols_(cols), columns_(columns), offsets_(offsets), cats_(cats) {}
  void run(int64_t rows, const View* in, const View& out) const override {
    dispatch_float(out.dtype, [&](auto tag) {
      using T = decltype(tag);
      const T nan = std::numeric_limits<T>::quiet_NaN();
      for (int64_t r = 0; r < rows; ++r) {
        const T* x = in[0].row<T>(r);
        T* y = out.row<T>(r);
        for (int64_t c = 0; c < cols_; ++c) {
          const T v = x[columns_[c]];
          const int64_t lo = offsets_[c], hi = offsets_[c + 1];
          if (lo == hi) {
            y[c] = v;
            continue;
          }
          const double* first = cats_ + lo;
          const double* last = cats_ + hi;
          const double* it = std::lower_bound(first, last, static_cast<double>(v));
          y[c] = (it != last && *it == static_cast<double>(v)) ? static_cast<T>(it - first) : nan;
        }
      }
    });
  }

 private:
  int64_t cols_;
  const int64_t* columns_;
  const int64_t* offsets_;
  const double* cats_;
};

Status make_ordinal_encode(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  ValueInfo in;
  MLE_RETURN_IF_ERROR(b.float_input(&in));
  const TensorRef *cols, *offs, *cats;
  MLE_RETURN_IF_ERROR(b.tensor("columns", DType::kI64, {-1}, &cols));
  const int64_t n = cols->shape[0];
  if (n == 0) return b.error("no output columns");
  MLE_RETURN_IF_ERROR(b.tensor("cat_offsets", DType::kI64, {n + 1}, &offs));
  MLE_RETURN_IF_ERROR(b.tensor("categories", DType::kF64, {-1}, &cats));
  const int64_t* c = cols->as<int64_t>();
  const int64_t* o = offs->as<int64_t>();
  const double* v = cats->as<double>();
  if (o[0] != 0) return b.error("cat_offsets must start at 0");
  for (int64_t j = 0; j < n; ++j) {
    if (c[j] < 0 || c[j] >= in.cols)
      return b.error("column index " + std::to_string(c[j]) + " is outside [0, " +
                     std::to_string(in.cols) + ")");
    if (o[j + 1] < o[j] || o[j + 1] > cats->shape[0])
      return b.error("cat_offsets must increase and stay inside categories");
    for (int64_t i = o[j]; i < o[j + 1]; ++i)
      if (!(std::isfinite(v[i]) && (i == o[j] || v[i - 1] < v[i])))
        return b.error("categories must be finite and strictly increasing per column");
  }
  k->reset(new OrdinalEncode(n, c, o, v));
  *out = ValueInfo{n, in.kind};
  return Status::OK();
}

}  // namespace

using attr::boolean;
using attr::number;
using attr::tensor;

const OpRegistrar kRegistered({
    {"OrdinalEncode", make_ordinal_encode, 1,
     {tensor("columns", DType::kI64), tensor("cat_offsets", DType::kI64),
      tensor("categories", DType::kF64)}},
    {"SubDiv", make_subdiv, 1,
     {tensor("sub", DType::kF64, kOptional), tensor("div", DType::kF64, kOptional),
      boolean("cast_params", kOptional)}},
    {"MulAdd", make_muladd, 1,
     {tensor("mul", DType::kF64, kOptional), tensor("add", DType::kF64, kOptional),
      boolean("clip", kOptional), number("clip_min", kOptional),
      number("clip_max", kOptional), boolean("cast_params", kOptional)}},
    {"Normalize", make_normalize, 1, {attr::string("norm", {"l1", "l2", "max"})}},
    {"Impute", make_impute, 1,
     {tensor("columns", DType::kI64, kOptional), tensor("fill", DType::kF64),
      boolean("missing_is_nan"), number("missing_value", kOptional),
      boolean("compare_float32", kOptional)}},
});

}  // namespace mle
