// Neural-network ops over whole rows: activations, softmax, broadcasting arithmetic, layout
// (views, permutations, concatenation), reductions, layer normalisation and embeddings.
// Each is the plain scalar reference; transcendental functions are evaluated in double and
// rounded once to float32.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "mle/nn.h"

namespace mle {
namespace nn {
namespace {

// ---------------------------------------------------------------- activations

enum class Act { kRelu, kLeakyRelu, kGelu, kGeluTanh, kSilu, kSigmoid, kTanh };

class Activation final : public Kernel32 {
 public:
  Activation(Act fn, int64_t cols, float alpha) : fn_(fn), cols_(cols), alpha_(alpha) {}
  double cost_per_row() const override { return static_cast<double>(cols_) * 4; }
  void run(int64_t rows, const View* in, const View& out) const override {
    for (int64_t r = 0; r < rows; ++r) {
      const float* x = in[0].row<float>(r);
      float* y = out.row<float>(r);
      switch (fn_) {
        case Act::kRelu:
          for (int64_t c = 0; c < cols_; ++c) y[c] = (x[c] > 0.0f || x[c] != x[c]) ? x[c] : 0.0f;
          break;
        case Act::kLeakyRelu:
          for (int64_t c = 0; c < cols_; ++c) y[c] = x[c] > 0.0f ? x[c] : x[c] * alpha_;
          break;
        case Act::kGelu:
          for (int64_t c = 0; c < cols_; ++c) {
            const double v = x[c];
            y[c] = static_cast<float>(0.5 * v * (1.0 + std::erf(v * 0.70710678118654752440)));
          }
          break;
        case Act::kGeluTanh:
          for (int64_t c = 0; c < cols_; ++c) {
            const double v = x[c];
            const double inner = 0.79788456080286535588 * (v + 0.044715 * v * v * v);
            y[c] = static_cast<float>(0.5 * v * (1.0 + std::tanh(inner)));
          }
          break;
        case Act::kSilu:
          for (int64_t c = 0; c < cols_; ++c) {
            const double v = x[c];
            y[c] = static_cast<float>(v / (1.0 + std::exp(-v)));
          }
          break;
        case Act::kSigmoid:
          for (int64_t c = 0; c < cols_; ++c)
            y[c] = static_cast<float>(1.0 / (1.0 + std::exp(-static_cast<double>(x[c]))));
          break;
        case Act::kTanh:
          for (int64_t c = 0; c < cols_; ++c) y[c] = static_cast<float>(std::tanh(double(x[c])));
          break;
      }
    }
  }

 private:
  Act fn_;
  int64_t cols_;
  float alpha_;
};

Status make_activation(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  int64_t cols;
  MLE_RETURN_IF_ERROR(float_value(b, 0, &cols));
  std::string fn;
  MLE_RETURN_IF_ERROR(b.string("fn", &fn));
  static const std::pair<const char*, Act> names[] = {
      {"relu", Act::kRelu}, {"leaky_relu", Act::kLeakyRelu}, {"gelu", Act::kGelu},
      {"gelu_tanh", Act::kGeluTanh}, {"silu", Act::kSilu}, {"sigmoid", Act::kSigmoid},
      {"tanh", Act::kTanh}};
  Act act = Act::kRelu;
  for (const auto& n : names)
    if (fn == n.first) act = n.second;
  double alpha = 0.0;
  if (act == Act::kLeakyRelu) {
    MLE_RETURN_IF_ERROR(b.number("alpha", &alpha));
    if (!std::isfinite(alpha) || std::fabs(alpha) > 3.0e38)
      return b.error("attribute 'alpha' must be a finite float32");
  } else if (b.has("alpha")) {
    return b.error("attribute 'alpha' is only for fn 'leaky_relu'");
  }
  k->reset(new Activation(act, cols, static_cast<float>(alpha)));
  *out = ValueInfo{cols, ValueKind::kInput};
  return Status::OK();
}

// ---------------------------------------------------------------- [outer, size, inner] ops

// The per-row layout (outer, size, inner) of the axis an op works along; its product must be
// the input's width.
Status axis_layout(const NodeBuild& b, int64_t cols, int64_t* outer, int64_t* size,
                   int64_t* inner) {
  MLE_RETURN_IF_ERROR(int_attr(b, "outer", 1, kMaxDim, outer));
  MLE_RETURN_IF_ERROR(int_attr(b, "size", 1, kMaxDim, size));
  MLE_RETURN_IF_ERROR(int_attr(b, "inner", 1, kMaxDim, inner));
  if (*outer * *size > kMaxDim || *outer * *size * *inner != cols)
    return b.error("outer x size x inner must equal the input's " + std::to_string(cols) +
                   " columns");
  return Status::OK();
}

class Softmax final : public Kernel32 {
 public:
  Softmax(int64_t outer, int64_t size, int64_t inner, bool log)
      : outer_(outer), size_(size), inner_(inner), log_(log) {}
  double cost_per_row() const override { return static_cast<double>(outer_ * size_ * inner_) * 8; }
  void run(int64_t rows, const View* in, const View& out) const override {
    for (int64_t r = 0; r < rows; ++r) {
      const float* x = in[0].row<float>(r);
      float* y = out.row<float>(r);
      for (int64_t o = 0; o < outer_; ++o)
        for (int64_t i = 0; i < inner_; ++i) {
          const float* xs = x + o * size_ * inner_ + i;
          float* ys = y + o * size_ * inner_ + i;
          double m = -INFINITY;
          for (int64_t s = 0; s < size_; ++s) m = std::max(m, double(xs[s * inner_]));
          double sum = 0;
          for (int64_t s = 0; s < size_; ++s) sum += std::exp(double(xs[s * inner_]) - m);
          const double lse = m + std::log(sum);
          for (int64_t s = 0; s < size_; ++s) {
            const double v = double(xs[s * inner_]);
            ys[s * inner_] = static_cast<float>(log_ ? v - lse : std::exp(v - m) / sum);
          }
        }
    }
  }

 private:
  int64_t outer_, size_, inner_;
  bool log_;
};

Status make_softmax(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  int64_t cols, outer, size, inner;
  MLE_RETURN_IF_ERROR(float_value(b, 0, &cols));
  MLE_RETURN_IF_ERROR(axis_layout(b, cols, &outer, &size, &inner));
  bool log;
  MLE_RETURN_IF_ERROR(b.boolean_or("log", false, &log));
  k->reset(new Softmax(outer, size, inner, log));
  *out = ValueInfo{cols, ValueKind::kInput};
  return Status::OK();
}

class Mean final : public Kernel32 {
 public:
  Mean(int64_t outer, int64_t size, int64_t inner) : outer_(outer), size_(size), inner_(inner) {}
  void run(int64_t rows, const View* in, const View& out) const override {
    for (int64_t r = 0; r < rows; ++r) {
      const float* x = in[0].row<float>(r);
      float* y = out.row<float>(r);
      for (int64_t o = 0; o < outer_; ++o)
        for (int64_t i = 0; i < inner_; ++i) {
          double s = 0;
          for (int64_t j = 0; j < size_; ++j) s += x[(o * size_ + j) * inner_ + i];
          y[o * inner_ + i] = static_cast<float>(s / static_cast<double>(size_));
        }
    }
  }

 private:
  int64_t outer_, size_, inner_;
};

Status make_mean(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  int64_t cols, outer, size, inner;
  MLE_RETURN_IF_ERROR(float_value(b, 0, &cols));
  MLE_RETURN_IF_ERROR(axis_layout(b, cols, &outer, &size, &inner));
  k->reset(new Mean(outer, size, inner));
  *out = ValueInfo{outer * inner, ValueKind::kInput};
  return Status::OK();
}

class Concat final : public Kernel32 {
 public:
  Concat(int64_t outer, int64_t inner, std::vector<int64_t> sizes)
      : outer_(outer), inner_(inner), sizes_(std::move(sizes)) {}
  void run(int64_t rows, const View* in, const View& out) const override {
    int64_t total = 0;
    for (int64_t s : sizes_) total += s;
    for (int64_t r = 0; r < rows; ++r) {
      float* y = out.row<float>(r);
      for (int64_t o = 0; o < outer_; ++o) {
        int64_t at = o * total * inner_;
        for (size_t i = 0; i < sizes_.size(); ++i) {
          const int64_t n = sizes_[i] * inner_;
          std::memcpy(y + at, in[i].row<float>(r) + o * n, static_cast<size_t>(n) * 4);
          at += n;
        }
      }
    }
  }

 private:
  int64_t outer_, inner_;
  std::vector<int64_t> sizes_;
};

Status make_concat(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  int64_t outer, inner, total = 0;
  MLE_RETURN_IF_ERROR(int_attr(b, "outer", 1, kMaxDim, &outer));
  MLE_RETURN_IF_ERROR(int_attr(b, "inner", 1, kMaxDim, &inner));
  if (outer * inner > kMaxDim) return b.error("outer x inner must be at most 2^31");
  std::vector<int64_t> sizes;
  for (size_t i = 0; i < b.inputs().size(); ++i) {
    int64_t cols;
    MLE_RETURN_IF_ERROR(float_value(b, i, &cols));
    if (cols % (outer * inner) != 0)
      return b.error("input " + std::to_string(i) + " has " + std::to_string(cols) +
                     " columns, not a multiple of outer x inner = " +
                     std::to_string(outer * inner));
    sizes.push_back(cols / (outer * inner));
    total += cols;
    if (total > kMaxDim) return b.error("the concatenation has more than 2^31 columns");
  }
  k->reset(new Concat(outer, inner, std::move(sizes)));
  *out = ValueInfo{total, ValueKind::kInput};
  return Status::OK();
}

// ---------------------------------------------------------------- broadcasting arithmetic

enum class BinOp { kAdd, kSub, kMul, kDiv };

inline float apply(BinOp op, float a, float b) {
  switch (op) {
    case BinOp::kAdd: return a + b;
    case BinOp::kSub: return a - b;
    case BinOp::kMul: return a * b;
    case BinOp::kDiv: return a / b;
  }
  return 0.0f;
}

// out[i] = a[ia(i)] op b[ib(i)] over one row, numpy's broadcasting of equal-rank shapes.
class Broadcast {
 public:
  Status init(const NodeBuild& b, int64_t a_cols, int64_t b_cols, int64_t* out_cols) {
    std::vector<int64_t> as, bs;
    int64_t an, bn, on;
    MLE_RETURN_IF_ERROR(shape_attr(b, "a_shape", &as, &an));
    MLE_RETURN_IF_ERROR(shape_attr(b, "b_shape", &bs, &bn));
    MLE_RETURN_IF_ERROR(shape_attr(b, "shape", &shape_, &on));
    if (as.size() != shape_.size() || bs.size() != shape_.size())
      return b.error("a_shape, b_shape and shape must have the same number of sizes");
    if (an != a_cols) return b.error("a_shape does not match the first operand's width");
    if (bn != b_cols) return b.error("b_shape does not match the second operand's width");
    for (size_t d = 0; d < shape_.size(); ++d)
      if ((as[d] != 1 && as[d] != shape_[d]) || (bs[d] != 1 && bs[d] != shape_[d]) ||
          shape_[d] != std::max(as[d], bs[d]))
        return b.error("shapes do not broadcast at dimension " + std::to_string(d));
    sa_.assign(shape_.size(), 0);
    sb_.assign(shape_.size(), 0);
    int64_t ma = 1, mb = 1;
    for (size_t d = shape_.size(); d-- > 0;) {
      sa_[d] = as[d] == 1 ? 0 : ma;
      sb_[d] = bs[d] == 1 ? 0 : mb;
      ma *= as[d];
      mb *= bs[d];
    }
    same_ = an == on && bn == on;
    b_scalar_ = an == on && bn == 1;
    n_ = on;
    *out_cols = on;
    return Status::OK();
  }

  void row(BinOp op, const float* a, const float* b, float* y) const {
    if (same_) {
      for (int64_t i = 0; i < n_; ++i) y[i] = apply(op, a[i], b[i]);
      return;
    }
    if (b_scalar_) {
      for (int64_t i = 0; i < n_; ++i) y[i] = apply(op, a[i], b[0]);
      return;
    }
    const size_t nd = shape_.size();
    int64_t idx[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t ia = 0, ib = 0;
    for (int64_t i = 0; i < n_; ++i) {
      y[i] = apply(op, a[ia], b[ib]);
      for (size_t d = nd; d-- > 0;) {
        ia += sa_[d];
        ib += sb_[d];
        if (++idx[d] < shape_[d]) break;
        ia -= sa_[d] * shape_[d];
        ib -= sb_[d] * shape_[d];
        idx[d] = 0;
      }
    }
  }

 private:
  std::vector<int64_t> shape_, sa_, sb_;
  bool same_ = false, b_scalar_ = false;
  int64_t n_ = 0;
};

Status bin_op(const NodeBuild& b, BinOp* op) {
  std::string s;
  MLE_RETURN_IF_ERROR(b.string("fn", &s));
  *op = s == "add" ? BinOp::kAdd : s == "sub" ? BinOp::kSub : s == "mul" ? BinOp::kMul : BinOp::kDiv;
  return Status::OK();
}

class Binary final : public Kernel32 {
 public:
  Binary(BinOp op, Broadcast bc) : op_(op), bc_(std::move(bc)) {}
  void run(int64_t rows, const View* in, const View& out) const override {
    for (int64_t r = 0; r < rows; ++r) bc_.row(op_, in[0].row<float>(r), in[1].row<float>(r),
                                               out.row<float>(r));
  }

 private:
  BinOp op_;
  Broadcast bc_;
};

Status make_binary(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  int64_t ca, cb, co;
  MLE_RETURN_IF_ERROR(float_value(b, 0, &ca));
  MLE_RETURN_IF_ERROR(float_value(b, 1, &cb));
  BinOp op;
  MLE_RETURN_IF_ERROR(bin_op(b, &op));
  Broadcast bc;
  MLE_RETURN_IF_ERROR(bc.init(b, ca, cb, &co));
  k->reset(new Binary(op, std::move(bc)));
  *out = ValueInfo{co, ValueKind::kInput};
  return Status::OK();
}

// x op c for a stored constant c; with reverse, c op x (the constant then broadcast to the
// input's shape once, at load).
class BinaryConst final : public Kernel32 {
 public:
  BinaryConst(BinOp op, Broadcast bc, const float* c, std::vector<float> expanded)
      : op_(op), bc_(std::move(bc)), c_(c), expanded_(std::move(expanded)) {}
  void run(int64_t rows, const View* in, const View& out) const override {
    if (expanded_.empty()) {
      for (int64_t r = 0; r < rows; ++r) bc_.row(op_, in[0].row<float>(r), c_, out.row<float>(r));
      return;
    }
    const int64_t n = static_cast<int64_t>(expanded_.size());
    for (int64_t r = 0; r < rows; ++r) {
      const float* x = in[0].row<float>(r);
      float* y = out.row<float>(r);
      for (int64_t i = 0; i < n; ++i) y[i] = apply(op_, expanded_[i], x[i]);
    }
  }

 private:
  BinOp op_;
  Broadcast bc_;
  const float* c_;
  std::vector<float> expanded_;
};

Status make_binary_const(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  int64_t ca, co;
  MLE_RETURN_IF_ERROR(float_value(b, 0, &ca));
  BinOp op;
  MLE_RETURN_IF_ERROR(bin_op(b, &op));
  const TensorRef* c;
  MLE_RETURN_IF_ERROR(b.tensor("const", DType::kF32, {-1}, &c));
  Broadcast bc;
  MLE_RETURN_IF_ERROR(bc.init(b, ca, c->numel, &co));
  bool reverse;
  MLE_RETURN_IF_ERROR(b.boolean_or("reverse", false, &reverse));
  if (reverse && co != ca)
    return b.error("'reverse' needs the constant to broadcast to the input's shape");
  std::vector<float> expanded;
  if (reverse) {  // c broadcast to x's shape: 0 + c
    expanded.resize(static_cast<size_t>(co));
    std::vector<float> zeros(static_cast<size_t>(ca), 0.0f);
    bc.row(BinOp::kAdd, zeros.data(), c->as<float>(), expanded.data());
  }
  k->reset(new BinaryConst(op, std::move(bc), c->as<float>(), std::move(expanded)));
  *out = ValueInfo{co, ValueKind::kInput};
  return Status::OK();
}

// ---------------------------------------------------------------- layout

// reshape / view / flatten / squeeze / unsqueeze: the same values, another per-row shape (the
// next op's attributes say which).
class Reshape final : public Kernel32 {
 public:
  explicit Reshape(int64_t cols) : cols_(cols) {}
  bool is_view() const override { return true; }
  double cost_per_row() const override { return 0.0; }
  void run(int64_t rows, const View* in, const View& out) const override {
    for (int64_t r = 0; r < rows; ++r)
      std::memcpy(out.row<float>(r), in[0].row<float>(r), static_cast<size_t>(cols_) * 4);
  }

 private:
  int64_t cols_;
};

Status make_reshape(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  int64_t cols;
  MLE_RETURN_IF_ERROR(float_value(b, 0, &cols));
  k->reset(new Reshape(cols));
  *out = ValueInfo{cols, ValueKind::kInput};
  return Status::OK();
}

class Permute final : public Kernel32 {
 public:
  Permute(std::vector<int64_t> out_shape, std::vector<int64_t> in_strides, int64_t n)
      : shape_(std::move(out_shape)), strides_(std::move(in_strides)), n_(n) {}
  void run(int64_t rows, const View* in, const View& out) const override {
    const size_t nd = shape_.size();
    for (int64_t r = 0; r < rows; ++r) {
      const float* x = in[0].row<float>(r);
      float* y = out.row<float>(r);
      int64_t idx[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      int64_t src = 0;
      for (int64_t i = 0; i < n_; ++i) {
        y[i] = x[src];
        for (size_t d = nd; d-- > 0;) {
          src += strides_[d];
          if (++idx[d] < shape_[d]) break;
          src -= strides_[d] * shape_[d];
          idx[d] = 0;
        }
      }
    }
  }

 private:
  std::vector<int64_t> shape_, strides_;
  int64_t n_;
};

Status make_permute(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  int64_t cols, n;
  MLE_RETURN_IF_ERROR(float_value(b, 0, &cols));
  std::vector<int64_t> shape;
  MLE_RETURN_IF_ERROR(shape_attr(b, "shape", &shape, &n));
  if (n != cols) return b.error("shape does not match the input's width");
  const TensorRef* p;
  MLE_RETURN_IF_ERROR(b.tensor("perm", DType::kI64, {static_cast<int64_t>(shape.size())}, &p));
  std::vector<int64_t> in_strides(shape.size()), out_shape(shape.size()), strides(shape.size());
  int64_t m = 1;
  for (size_t d = shape.size(); d-- > 0;) {
    in_strides[d] = m;
    m *= shape[d];
  }
  std::vector<char> seen(shape.size(), 0);
  for (size_t d = 0; d < shape.size(); ++d) {
    const int64_t s = p->as<int64_t>()[d];
    if (s < 0 || s >= static_cast<int64_t>(shape.size()) || seen[static_cast<size_t>(s)])
      return b.error("perm must be a permutation of 0.." + std::to_string(shape.size() - 1));
    seen[static_cast<size_t>(s)] = 1;
    out_shape[d] = shape[static_cast<size_t>(s)];
    strides[d] = in_strides[static_cast<size_t>(s)];
  }
  k->reset(new Permute(std::move(out_shape), std::move(strides), n));
  *out = ValueInfo{cols, ValueKind::kInput};
  return Status::OK();
}

// ---------------------------------------------------------------- normalisation, embeddings

class LayerNorm final : public Kernel32 {
 public:
  LayerNorm(int64_t groups, int64_t size, double eps, const float* w, const float* bias)
      : groups_(groups), size_(size), eps_(eps), w_(w), b_(bias) {}
  void run(int64_t rows, const View* in, const View& out) const override {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t g = 0; g < groups_; ++g) {
        const float* x = in[0].row<float>(r) + g * size_;
        float* y = out.row<float>(r) + g * size_;
        double mean = 0;
        for (int64_t i = 0; i < size_; ++i) mean += x[i];
        mean /= static_cast<double>(size_);
        double var = 0;
        for (int64_t i = 0; i < size_; ++i) var += (x[i] - mean) * (x[i] - mean);
        var /= static_cast<double>(size_);
        const double inv = 1.0 / std::sqrt(var + eps_);
        for (int64_t i = 0; i < size_; ++i) {
          double v = (x[i] - mean) * inv;
          if (w_) v *= w_[i];
          if (b_) v += b_[i];
          y[i] = static_cast<float>(v);
        }
      }
  }

 private:
  int64_t groups_, size_;
  double eps_;
  const float* w_;
  const float* b_;
};

Status make_layer_norm(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  int64_t cols, size;
  MLE_RETURN_IF_ERROR(float_value(b, 0, &cols));
  MLE_RETURN_IF_ERROR(int_attr(b, "size", 1, kMaxDim, &size));
  if (cols % size != 0)
    return b.error("size " + std::to_string(size) + " does not divide the input's " +
                   std::to_string(cols) + " columns");
  double eps;
  MLE_RETURN_IF_ERROR(b.number("eps", &eps));
  if (!(eps >= 0.0) || !std::isfinite(eps)) return b.error("'eps' must be finite and >= 0");
  const TensorRef *w, *bias;
  MLE_RETURN_IF_ERROR(b.tensor("weight", DType::kF32, {size}, &w, true));
  MLE_RETURN_IF_ERROR(b.tensor("bias", DType::kF32, {size}, &bias, true));
  k->reset(new LayerNorm(cols / size, size, eps, w ? w->as<float>() : nullptr,
                         bias ? bias->as<float>() : nullptr));
  *out = ValueInfo{cols, ValueKind::kInput};
  return Status::OK();
}

class Embedding final : public Kernel32 {
 public:
  Embedding(int64_t tokens, int64_t vocab, int64_t dim, const float* w)
      : tokens_(tokens), vocab_(vocab), dim_(dim), w_(w) {}
  void run(int64_t rows, const View* in, const View& out) const override {
    for (int64_t r = 0; r < rows; ++r) {
      const float* ids = in[0].row<float>(r);
      float* y = out.row<float>(r);
      for (int64_t t = 0; t < tokens_; ++t) {
        const float id = ids[t];
        if (!(id >= 0.0f && id < static_cast<float>(vocab_)) || id != std::floor(id)) {
          report_input_error("an embedding's token id is not an integer in [0, num_embeddings)");
          std::memset(y + t * dim_, 0, static_cast<size_t>(dim_) * 4);
          continue;
        }
        std::memcpy(y + t * dim_, w_ + static_cast<int64_t>(id) * dim_,
                    static_cast<size_t>(dim_) * 4);
      }
    }
  }

 private:
  int64_t tokens_, vocab_, dim_;
  const float* w_;
};

Status make_embedding(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  int64_t cols;
  MLE_RETURN_IF_ERROR(float_value(b, 0, &cols));
  const TensorRef* w;
  MLE_RETURN_IF_ERROR(b.tensor("weight", DType::kF32, {-1, -1}, &w));
  if (w->shape[0] < 1 || w->shape[1] < 1) return b.error("weight must not be empty");
  if (w->shape[0] > (int64_t(1) << 24))
    return b.error("at most 2^24 embeddings (token ids travel as exact float32)");
  if (cols * w->shape[1] > kMaxDim) return b.error("the output has more than 2^31 columns");
  k->reset(new Embedding(cols, w->shape[0], w->shape[1], w->as<float>()));
  *out = ValueInfo{cols * w->shape[1], ValueKind::kInput};
  return Status::OK();
}

}  // namespace

const OpRegistrar kRegistered({
    {"NnActivation", make_activation, 1,
     {attr::string("fn", {"relu", "leaky_relu", "gelu", "gelu_tanh", "silu", "sigmoid", "tanh"}),
      attr::number("alpha", kOptional)}},
    {"NnSoftmax", make_softmax, 1,
     {attr::number("outer"), attr::number("size"), attr::number("inner"),
      attr::boolean("log", kOptional)}},
    {"NnMean", make_mean, 1, {attr::number("outer"), attr::number("size"), attr::number("inner")}},
    {"NnConcat", make_concat, kAnyInputs, {attr::number("outer"), attr::number("inner")}},
    {"NnBinary", make_binary, 2,
     {attr::string("fn", {"add", "sub", "mul", "div"}), attr::tensor("a_shape", DType::kI64),
      attr::tensor("b_shape", DType::kI64), attr::tensor("shape", DType::kI64)}},
    {"NnBinaryConst", make_binary_const, 1,
     {attr::string("fn", {"add", "sub", "mul", "div"}), attr::tensor("const", DType::kF32),
      attr::tensor("a_shape", DType::kI64), attr::tensor("b_shape", DType::kI64),
      attr::tensor("shape", DType::kI64), attr::boolean("reverse", kOptional)}},
    {"NnReshape", make_reshape, 1, {}},
    {"NnPermute", make_permute, 1,
     {attr::tensor("shape", DType::kI64), attr::tensor("perm", DType::kI64)}},
    {"NnLayerNorm", make_layer_norm, 1,
     {attr::number("size"), attr::number("eps"), attr::tensor("weight", DType::kF32, kOptional),
      attr::tensor("bias", DType::kF32, kOptional)}},
    {"NnEmbedding", make_embedding, 1, {attr::tensor("weight", DType::kF32)}},
});

}  // namespace nn
}  // namespace mle
