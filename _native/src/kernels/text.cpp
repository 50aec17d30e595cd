// Text vectorizers (docs/FORMAT.md, section 11): a document arrives as its token ids (the input
// rule "text" turns each document into the columns of its tokens, -1 padding the row), and
//   TextCounts  gives the dense row of scikit-learn's CountVectorizer / HashingVectorizer /
//               TfidfVectorizer (TfidfTransformer) transform,
//   TextLinear  gives that row's product with a weight matrix plus a bias (a linear model
//               after the vectorizer) without materialising the dense row.
// Both build the sparse row as scikit-learn does: the distinct columns in increasing order
// with their counts (or, hashed, the sum of the tokens' signs, zero sums kept), then
// binary, sublinear tf (log(tf) + 1), the idf multiply, and the l1/l2 row normalisation
// (a double sum in column order, divided by when non-zero), and the product sums each
// output's terms in column order from 0.0, as scipy's csr times dense does.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "mle/kernel.h"

namespace mle {
namespace {

enum class Norm { kNone, kL1, kL2 };

struct TextSpec {
  int64_t n_features = 0;
  bool binary = false;
  bool signed_ids = false;  // hashed with alternate_sign: id <= -2 is column -id-2, sign -1
  bool sublinear = false;
  bool integer = false;  // output int64 counts (CountVectorizer's dtype)
  bool f32 = false;      // dtype float32: each step rounded to float32 as scikit-learn's
  const double* idf = nullptr;
  Norm norm = Norm::kNone;
};

inline double id_at(const View& v, int64_t r, int64_t c) {
  return v.dtype == DType::kF32 ? static_cast<double>(v.row<float>(r)[c]) : v.row<double>(r)[c];
}

// Sublinear tf, idf and the row norm over a sparse row (its entries in column order), in
// binary64, or with f32 as scikit-learn computes on float32 data.
void weigh(const TextSpec& s, bool f32, std::vector<std::pair<int64_t, double>>* row) {
  if (f32) {
    // float32 data (counts exact): the idf product computed in double and rounded to
    // float32 (numpy's in-place multiply; for a float32 idf, the float32 product); the norms
    // sum in double (l2: each square rounded to float32 first, as C computes a float times
    // a float) and divide in double, the quotient rounded to float32
    for (auto& e : *row) e.second = static_cast<float>(e.second);
    if (s.idf)
      for (auto& e : *row) e.second = static_cast<float>(e.second * s.idf[e.first]);
    double sum = 0.0;
    if (s.norm == Norm::kL1) {
      for (const auto& e : *row) sum += std::fabs(e.second);
    } else if (s.norm == Norm::kL2) {
      for (const auto& e : *row) {
        const float v = static_cast<float>(e.second);
        sum += static_cast<double>(v * v);
      }
      sum = std::sqrt(sum);
    }
    if (s.norm != Norm::kNone && sum != 0.0)
      for (auto& e : *row) e.second = static_cast<float>(e.second / sum);
    return;
  }
  if (s.sublinear)
    for (auto& e : *row) e.second = std::log(e.second) + 1.0;
  if (s.idf)
    for (auto& e : *row) e.second *= s.idf[e.first];
  if (s.norm != Norm::kNone && s.sublinear) {
    // log of a negative (or zero: a hashed sum of 0) tf: scikit-learn's normalize refuses it
    for (const auto& e : *row)
      if (std::isnan(e.second)) {
        report_input_error("Input contains NaN (the log of a negative term frequency, "
                           "sublinear_tf=True), which the row normalisation refuses.");
        return;
      } else if (std::isinf(e.second)) {
        report_input_error("Input contains infinity or a value too large for "
                           "dtype('float64') (the log of a zero term frequency, "
                           "sublinear_tf=True), which the row normalisation refuses.");
        return;
      }
  }
  if (s.norm == Norm::kL1) {
    double sum = 0.0;
    for (const auto& e : *row) sum += std::fabs(e.second);
    if (sum != 0.0)
      for (auto& e : *row) e.second /= sum;
  } else if (s.norm == Norm::kL2) {
    double sum = 0.0;
    for (const auto& e : *row) sum += e.second * e.second;
    if (sum != 0.0) {
      sum = std::sqrt(sum);
      for (auto& e : *row) e.second /= sum;
    }
  }
}

// The sparse row of document r: (column, value) pairs in increasing column order. Returns
// false (after reporting an input error) on an id that names no column.
bool sparse_row(const TextSpec& s, const View& in, int64_t r,
                std::vector<std::pair<int64_t, double>>* row,
                std::vector<std::pair<int64_t, int64_t>>* ids) {
  ids->clear();
  row->clear();
  const int64_t width = in.ld;
  for (int64_t c = 0; c < width; ++c) {
    const double v = id_at(in, r, c);
    if (v == -1.0) continue;  // padding
    if (!(v == std::floor(v)) || !(v >= -2.0 - static_cast<double>(s.n_features)) ||
        !(v < static_cast<double>(s.n_features)) || (v < 0 && !s.signed_ids)) {
      report_input_error("a token id of the text input names no column of the vectorizer");
      return false;
    }
    const int64_t id = static_cast<int64_t>(v);
    if (id >= 0) {
      ids->emplace_back(id, 1);
    } else {
      const int64_t col = -id - 2;
      if (col >= s.n_features) {
        report_input_error("a token id of the text input names no column of the vectorizer");
        return false;
      }
      ids->emplace_back(col, -1);
    }
  }
  std::sort(ids->begin(), ids->end(),
            [](const std::pair<int64_t, int64_t>& a, const std::pair<int64_t, int64_t>& b) {
              return a.first < b.first;
            });
  for (size_t i = 0; i < ids->size();) {
    const int64_t col = (*ids)[i].first;
    int64_t sum = 0;
    for (; i < ids->size() && (*ids)[i].first == col; ++i) sum += (*ids)[i].second;
    // hashed tokens whose signs cancel keep their (explicit zero) entry, as scipy's
    // sum_duplicates keeps it: binary makes it 1, sublinear_tf takes its log
    row->emplace_back(col, s.binary ? 1.0 : static_cast<double>(sum));
  }
  if (s.integer) return true;
  weigh(s, s.f32, row);
  return true;
}

thread_local std::vector<std::pair<int64_t, double>> t_row;
thread_local std::vector<std::pair<int64_t, int64_t>> t_ids;

class TextCounts final : public Kernel {
 public:
  explicit TextCounts(TextSpec s) : s_(s) {}
  double cost_per_row() const override { return 64.0 + static_cast<double>(s_.n_features); }

  void run(int64_t rows, const View* in, const View& out) const override {
    const int64_t n = s_.n_features;
    for (int64_t r = 0; r < rows; ++r) {
      const bool ok = sparse_row(s_, in[0], r, &t_row, &t_ids);
      if (s_.integer) {
        int64_t* o = out.row<int64_t>(r);
        std::fill(o, o + n, int64_t(0));
        if (!ok) return;
        for (const auto& e : t_row) o[e.first] = static_cast<int64_t>(e.second);
      } else {
        double* o = out.row<double>(r);
        std::fill(o, o + n, 0.0);
        if (!ok) return;
        for (const auto& e : t_row) o[e.first] = e.second;
      }
    }
  }

 private:
  TextSpec s_;
};

class TextLinear final : public Kernel {
 public:
  TextLinear(TextSpec s, int64_t k, const double* w, const double* bias)
      : s_(s), k_(k), w_(w), bias_(bias) {}
  double cost_per_row() const override { return 64.0 * static_cast<double>(k_ + 1); }

  void run(int64_t rows, const View* in, const View& out) const override {
    const int64_t n = s_.n_features;
    for (int64_t r = 0; r < rows; ++r) {
      double* o = out.row<double>(r);
      if (!sparse_row(s_, in[0], r, &t_row, &t_ids)) {
        std::fill(o, o + k_, 0.0);
        return;
      }
      for (int64_t c = 0; c < k_; ++c) {
        const double* wc = w_ + c * n;
        double acc = 0.0;
        for (const auto& e : t_row) acc += e.second * wc[e.first];
        o[c] = bias_ ? acc + bias_[c] : acc;
      }
    }
  }

 private:
  TextSpec s_;
  int64_t k_;
  const double* w_;
  const double* bias_;
};

// TfidfTransformer on numbers: the row's non-zero entries are its sparse row (scipy's
// csr_array of a dense row), weighed as the vectorizers' rows are; float32 input is computed
// as scikit-learn computes on float32 data, and written as float32.
class TfidfRows final : public Kernel {
 public:
  TfidfRows(TextSpec s, int64_t cols) : s_(s), cols_(cols) {}
  double cost_per_row() const override { return 4.0 * static_cast<double>(cols_); }

  void run(int64_t rows, const View* in, const View& out) const override {
    const bool f32 = in[0].dtype == DType::kF32;
    if (f32 && s_.sublinear) {
      report_input_error("float32 input with sublinear_tf is not supported: numpy's float32 "
                         "log is not correctly rounded; pass float64");
      return;
    }
    for (int64_t r = 0; r < rows; ++r) {
      t_row.clear();
      for (int64_t c = 0; c < cols_; ++c) {
        const double v = id_at(in[0], r, c);
        if (v != 0.0) t_row.emplace_back(c, v);
      }
      weigh(s_, f32, &t_row);
      if (f32) {
        float* o = out.row<float>(r);
        std::fill(o, o + cols_, 0.0f);
        for (const auto& e : t_row) o[e.first] = static_cast<float>(e.second);
      } else {
        double* o = out.row<double>(r);
        std::fill(o, o + cols_, 0.0);
        for (const auto& e : t_row) o[e.first] = e.second;
      }
    }
  }

 private:
  TextSpec s_;
  int64_t cols_;
};

Status make_tfidf_rows(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  ValueInfo in;
  MLE_RETURN_IF_ERROR(b.float_input(&in));
  TextSpec s;
  s.n_features = in.cols;
  MLE_RETURN_IF_ERROR(b.boolean_or("sublinear_tf", false, &s.sublinear));
  const TensorRef* idf = nullptr;
  MLE_RETURN_IF_ERROR(b.tensor("idf", DType::kF64, {in.cols}, &idf, true));
  if (idf) {
    for (int64_t j = 0; j < in.cols; ++j)
      if (!std::isfinite(idf->as<double>()[j])) return b.error("idf must be finite");
    s.idf = idf->as<double>();
  }
  std::string norm;
  MLE_RETURN_IF_ERROR(b.string_or("norm", "none", &norm));
  s.norm = norm == "l1" ? Norm::kL1 : norm == "l2" ? Norm::kL2 : Norm::kNone;
  if (norm != "l1" && norm != "l2" && norm != "none")
    return b.error("norm must be 'l1', 'l2' or 'none', got '" + norm + "'");
  k->reset(new TfidfRows(s, in.cols));
  *out = ValueInfo{in.cols, ValueKind::kInput};
  return Status::OK();
}

Status text_spec(const NodeBuild& b, TextSpec* s) {
  if (b.inputs().size() != 1) return b.error("takes one input (the token ids)");
  const ValueInfo& in = b.inputs()[0];
  if (in.kind == ValueKind::kI64) return b.error("the token ids must be a float value");
  double nf = 0;
  MLE_RETURN_IF_ERROR(b.number("n_features", &nf));
  if (!(nf >= 1 && nf <= double(int64_t(1) << 31) && nf == std::floor(nf)))
    return b.error("n_features must be an integer in [1, 2^31]");
  s->n_features = static_cast<int64_t>(nf);
  MLE_RETURN_IF_ERROR(b.boolean_or("binary", false, &s->binary));
  MLE_RETURN_IF_ERROR(b.boolean_or("signed", false, &s->signed_ids));
  MLE_RETURN_IF_ERROR(b.boolean_or("sublinear_tf", false, &s->sublinear));
  MLE_RETURN_IF_ERROR(b.boolean_or("float32", false, &s->f32));
  if (s->f32 && s->sublinear)
    return b.error("float32 cannot be combined with sublinear_tf");
  const TensorRef* idf = nullptr;
  MLE_RETURN_IF_ERROR(b.tensor("idf", DType::kF64, {s->n_features}, &idf, true));
  if (idf) {
    const double* v = idf->as<double>();
    for (int64_t j = 0; j < s->n_features; ++j)
      if (!std::isfinite(v[j]) || (s->f32 && static_cast<double>(static_cast<float>(v[j])) != v[j]))
        return b.error(s->f32 ? "idf must be finite float32 values" : "idf must be finite");
    s->idf = v;
  }
  std::string norm;
  MLE_RETURN_IF_ERROR(b.string_or("norm", "none", &norm));
  if (norm == "l1") {
    s->norm = Norm::kL1;
  } else if (norm == "l2") {
    s->norm = Norm::kL2;
  } else if (norm != "none") {
    return b.error("norm must be 'l1', 'l2' or 'none', got '" + norm + "'");
  }
  return Status::OK();
}

Status make_text_counts(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  TextSpec s;
  MLE_RETURN_IF_ERROR(text_spec(b, &s));
  MLE_RETURN_IF_ERROR(b.boolean_or("integer", false, &s.integer));
  if (s.integer && (s.sublinear || s.idf || s.norm != Norm::kNone || s.f32))
    return b.error("integer counts cannot be combined with sublinear_tf, idf, norm or float32");
  k->reset(new TextCounts(s));
  *out = ValueInfo{s.n_features, s.integer ? ValueKind::kI64 : ValueKind::kF64};
  return Status::OK();
}

Status make_text_linear(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  TextSpec s;
  MLE_RETURN_IF_ERROR(text_spec(b, &s));
  const TensorRef *w, *bias = nullptr;
  MLE_RETURN_IF_ERROR(b.tensor("weight", DType::kF64, {-1, s.n_features}, &w));
  const int64_t nk = w->shape[0];
  if (nk < 1) return b.error("weight must have at least one row");
  MLE_RETURN_IF_ERROR(b.tensor("bias", DType::kF64, {nk}, &bias, true));
  k->reset(new TextLinear(s, nk, w->as<double>(), bias ? bias->as<double>() : nullptr));
  *out = ValueInfo{nk, ValueKind::kF64};
  return Status::OK();
}

std::vector<AttrSpec> text_attrs(bool linear) {
  std::vector<AttrSpec> a = {
      attr::number("n_features"),
      attr::boolean("binary", kOptional),
      attr::boolean("signed", kOptional),
      attr::boolean("sublinear_tf", kOptional),
      attr::boolean("float32", kOptional),
      attr::tensor("idf", DType::kF64, kOptional),
      attr::string("norm", {"l1", "l2", "none"}, kOptional),
  };
  if (linear) {
    a.push_back(attr::tensor("weight", DType::kF64));
    a.push_back(attr::tensor("bias", DType::kF64, kOptional));
  } else {
    a.push_back(attr::boolean("integer", kOptional));
  }
  return a;
}

}  // namespace

const OpRegistrar kRegistered({
    {"TextCounts", make_text_counts, 1, text_attrs(false)},
    {"TextLinear", make_text_linear, 1, text_attrs(true)},
    {"TfidfRows", make_tfidf_rows, 1,
     {attr::boolean("sublinear_tf", kOptional), attr::tensor("idf", DType::kF64, kOptional),
      attr::string("norm", {"l1", "l2", "none"}, kOptional)}},
});

}  // namespace mle
