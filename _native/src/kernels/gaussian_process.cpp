// Gaussian processes (sklearn.gaussian_process): the fitted kernel k(x, X_train) or its
// diagonal k(x, x) (GPKernel), the predictive variance through the Cholesky factor
// (GPVariance) and the Laplace approximation's class probability (GPLaplaceProba).
//
// GPKernel's kernel is a postfix program over scikit-learn's kernels (docs/FORMAT.md 11.16):
// each token pushes one kernel matrix or combines the top ones; leaf tokens read their
// parameters from `params` in order. Every token, parameter count and stack depth is checked
// when the plan is built.
#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "mle/kernel.h"

namespace mle {
namespace {

enum class Tok : uint8_t {
  kConstant,  // C: constant_value
  kWhite,     // W: noise_level (0 off the diagonal)
  kRBF,       // RBF: one length scale per feature
  kMatern05,  // M05, M15, M25, Minf: one length scale per feature
  kMatern15,
  kMatern25,
  kMaternInf,
  kRQ,    // RQ: alpha, 2 * alpha * length_scale**2
  kESS,   // ESS: pi / periodicity, length_scale
  kDot,   // DOT: sigma_0**2
  kSum,   // +
  kProd,  // *
  kPow,   // ^: exponent
};

struct Instr {
  Tok tok;
  int64_t p;  // first parameter's index in params
};

// The leaf's parameter count for d features, -1 for an unknown token.
int64_t parse_token(const std::string& s, int64_t d, Tok* t) {
  struct Entry { const char* name; Tok tok; int64_t n; };
  static const Entry kTable[] = {
      {"C", Tok::kConstant, 1}, {"W", Tok::kWhite, 1},      {"RBF", Tok::kRBF, -2},
      {"M05", Tok::kMatern05, -2}, {"M15", Tok::kMatern15, -2}, {"M25", Tok::kMatern25, -2},
      {"Minf", Tok::kMaternInf, -2}, {"RQ", Tok::kRQ, 2},   {"ESS", Tok::kESS, 2},
      {"DOT", Tok::kDot, 1},      {"+", Tok::kSum, 0},        {"*", Tok::kProd, 0},
      {"^", Tok::kPow, 1}};
  for (const Entry& e : kTable)
    if (s == e.name) {
      *t = e.tok;
      return e.n == -2 ? d : e.n;
    }
  return -1;
}

bool is_leaf(Tok t) { return t != Tok::kSum && t != Tok::kProd && t != Tok::kPow; }
bool scaled(Tok t) {
  return t == Tok::kRBF || t == Tok::kMatern05 || t == Tok::kMatern15 || t == Tok::kMatern25 ||
         t == Tok::kMaternInf;
}

// Per row x (d features) against m stored rows (or its diagonal, m = 1): evaluates the
// program with a stack of m-wide rows, as scikit-learn's kernels compute elementwise.
class GPKernel final : public Kernel {
 public:
  GPKernel(std::vector<Instr> prog, const double* params, int64_t d, int64_t m,
           const double* rows, bool diag, int depth)
      : prog_(std::move(prog)), params_(params), d_(d), m_(m), rows_(rows), diag_(diag),
        depth_(depth) {
    // The stored rows divided by each scaled leaf's length scales once, as
    // cdist(X / length_scale, Y / length_scale) divides both sides.
    if (!diag_)
      for (const Instr& in : prog_)
        if (scaled(in.tok)) {
          std::vector<double> s(static_cast<size_t>(m_ * d_));
          for (int64_t j = 0; j < m_; ++j)
            for (int64_t c = 0; c < d_; ++c)
              s[j * d_ + c] = rows_[j * d_ + c] / params_[in.p + c];
          scaled_rows_.push_back(std::move(s));
        }
  }
  double cost_per_row() const override {
    return static_cast<double>(prog_.size()) * static_cast<double>(m_) *
           static_cast<double>(d_ + 8);
  }

  void run(int64_t rows, const View* in, const View& out) const override {
    int64_t ldx;
    const double* x = rows_as_f64(in[0], rows, d_, &ldx);
    std::vector<double> stack(static_cast<size_t>(depth_ * m_));
    std::vector<double> xs(static_cast<size_t>(d_));
    for (int64_t r = 0; r < rows; ++r) {
      const double* xr = x + r * ldx;
      int sp = 0;
      size_t scaled_k = 0;
      for (const Instr& ins : prog_) {
        const double* p = params_ + ins.p;
        if (!is_leaf(ins.tok)) {
          double* a = &stack[(sp - (ins.tok == Tok::kPow ? 1 : 2)) * m_];
          if (ins.tok == Tok::kPow) {
            for (int64_t j = 0; j < m_; ++j) a[j] = std::pow(a[j], p[0]);
            continue;
          }
          const double* b = a + m_;
          if (ins.tok == Tok::kSum)
            for (int64_t j = 0; j < m_; ++j) a[j] = a[j] + b[j];
          else
            for (int64_t j = 0; j < m_; ++j) a[j] = a[j] * b[j];
          --sp;
          continue;
        }
        double* o = &stack[sp * m_];
        ++sp;
        if (diag_) {
          o[0] = leaf_diag(ins.tok, p, xr);
          continue;
        }
        const double* y = rows_;
        if (scaled(ins.tok)) {
          for (int64_t c = 0; c < d_; ++c) xs[c] = xr[c] / p[c];
          y = scaled_rows_[scaled_k++].data();
        }
        const double* u = scaled(ins.tok) ? xs.data() : xr;
        for (int64_t j = 0; j < m_; ++j) o[j] = leaf(ins.tok, p, u, y + j * d_);
      }
      double* dst = out.row<double>(r);
      for (int64_t j = 0; j < m_; ++j) dst[j] = stack[j];
    }
  }

 private:
  double sqdist(const double* u, const double* v) const {
    double s = 0;
    for (int64_t c = 0; c < d_; ++c) {
      const double t = u[c] - v[c];
      s += t * t;
    }
    return s;
  }

  double leaf(Tok t, const double* p, const double* u, const double* v) const {
    switch (t) {
      case Tok::kConstant: return p[0];
      case Tok::kWhite: return 0.0;
      case Tok::kRBF: return std::exp(-0.5 * sqdist(u, v));
      case Tok::kMatern05: return std::exp(-std::sqrt(sqdist(u, v)));
      case Tok::kMatern15: {
        const double k = std::sqrt(sqdist(u, v)) * std::sqrt(3.0);
        return (1.0 + k) * std::exp(-k);
      }
      case Tok::kMatern25: {
        const double k = std::sqrt(sqdist(u, v)) * std::sqrt(5.0);
        return (1.0 + k + k * k / 3.0) * std::exp(-k);
      }
      case Tok::kMaternInf: {
        const double e = std::sqrt(sqdist(u, v));
        return std::exp(-(e * e) / 2.0);
      }
      case Tok::kRQ: return std::pow(1 + sqdist(u, v) / p[1], -p[0]);
      case Tok::kESS: {
        const double s = std::sin(p[0] * std::sqrt(sqdist(u, v))) / p[1];
        return std::exp(-2 * (s * s));
      }
      case Tok::kDot: {
        double s = 0;
        for (int64_t c = 0; c < d_; ++c) s += u[c] * v[c];
        return s + p[0];
      }
      default: return 0.0;
    }
  }

  double leaf_diag(Tok t, const double* p, const double* x) const {
    switch (t) {
      case Tok::kConstant:
      case Tok::kWhite: return p[0];
      case Tok::kDot: {
        double s = 0;
        for (int64_t c = 0; c < d_; ++c) s += x[c] * x[c];
        return s + p[0];
      }
      default: return 1.0;  // the stationary kernels: k(x, x) = 1
    }
  }

  std::vector<Instr> prog_;
  const double* params_;
  int64_t d_, m_;
  const double* rows_;
  bool diag_;
  int depth_;
  std::vector<std::vector<double>> scaled_rows_;
};

Status make_gp_kernel(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  ValueInfo in;
  MLE_RETURN_IF_ERROR(b.float_input(&in));
  const int64_t d = in.cols;
  if (d < 1) return b.error("GPKernel needs at least one input column");
  bool diag;
  MLE_RETURN_IF_ERROR(b.boolean_or("diag", false, &diag));
  const TensorRef* rows = nullptr;
  MLE_RETURN_IF_ERROR(b.tensor("rows", DType::kF64, {-1, d}, &rows, diag));
  if (diag && rows) return b.error("the diagonal (diag) takes no stored rows");
  const int64_t m = diag ? 1 : rows->shape[0];
  if (m < 1) return b.error("rows must hold at least one stored row");
  if (!diag)
    for (int64_t i = 0; i < rows->numel; ++i)
      if (!std::isfinite(rows->as<double>()[i])) return b.error("rows must be finite");
  const TensorRef* params;
  MLE_RETURN_IF_ERROR(b.tensor("params", DType::kF64, {-1}, &params));
  const double* pv = params->as<double>();
  for (int64_t i = 0; i < params->numel; ++i)
    if (!std::isfinite(pv[i])) return b.error("params must be finite");
  std::string text;
  MLE_RETURN_IF_ERROR(b.string("program", &text));
  std::istringstream words(text);
  std::string w;
  std::vector<Instr> prog;
  int64_t used = 0;
  int sp = 0, depth = 0;
  while (words >> w) {
    Tok t;
    const int64_t n = parse_token(w, d, &t);
    if (n < 0) return b.error("program: unknown token '" + w + "'");
    if (prog.size() >= 4096) return b.error("program: more than 4096 tokens");
    if (n > params->numel - used) return b.error("program: token '" + w + "' reads past params");
    const int needs = t == Tok::kPow ? 1 : is_leaf(t) ? 0 : 2;
    if (sp < needs) return b.error("program: token '" + w + "' needs " +
                                   std::to_string(needs) + " kernels on the stack");
    const double* p = pv + used;
    if (scaled(t))
      for (int64_t c = 0; c < d; ++c)
        if (!(p[c] > 0)) return b.error("program: length scales must be positive");
    if (t == Tok::kRQ && !(p[1] > 0)) return b.error("program: RQ's scale must be positive");
    if (t == Tok::kESS && !(p[1] > 0)) return b.error("program: ESS's length scale must be positive");
    prog.push_back(Instr{t, used});
    used += n;
    sp += is_leaf(t) ? 1 : t == Tok::kPow ? 0 : -1;
    if (sp > depth) depth = sp;
  }
  if (prog.empty() || sp != 1) return b.error("program must leave exactly one kernel");
  if (used != params->numel) return b.error("program does not read every entry of params");
  k->reset(new GPKernel(std::move(prog), pv, d, m, diag ? nullptr : rows->as<double>(), diag,
                        depth));
  *out = ValueInfo{m, ValueKind::kF64};
  return Status::OK();
}

inline double get(const View& v, int64_t r, int64_t c) {
  return v.dtype == DType::kF32 ? static_cast<double>(v.row<float>(r)[c]) : v.row<double>(r)[c];
}

// var = diag - sum_i v_i^2, v = L^-1 (w * k) by forward substitution (L lower triangular,
// m x m; w = 1 without `weight`). "std": sqrt(max(var, 0) * scale_t) per target t
// (GaussianProcessRegressor.predict's return_std); "variance": var (the Laplace
// approximation's latent variance).
class GPVariance final : public Kernel {
 public:
  GPVariance(int64_t m, const double* l, const double* w, const double* scale, int64_t t,
             bool std_out)
      : m_(m), l_(l), w_(w), scale_(scale), t_(t), std_(std_out) {}
  double cost_per_row() const override { return 0.5 * static_cast<double>(m_ * m_); }
  // Rows are solved in blocks of kBlock, v laid out [i][row] so that the innermost loop runs
  // over the block's rows (vectorisable); each row's arithmetic stays in the order above.
  void run(int64_t rows, const View* in, const View& out) const override {
    constexpr int64_t kBlock = 8;
    std::vector<double> v(static_cast<size_t>(m_ * kBlock));
    double s[kBlock];
    for (int64_t r0 = 0; r0 < rows; r0 += kBlock) {
      const int64_t nb = rows - r0 < kBlock ? rows - r0 : kBlock;
      for (int64_t i = 0; i < m_; ++i) {
        for (int64_t b = 0; b < kBlock; ++b) {
          const double k = b < nb ? get(in[0], r0 + b, i) : 0.0;
          s[b] = w_ ? w_[i] * k : k;
        }
        const double* li = l_ + i * m_;
        for (int64_t j = 0; j < i; ++j) {
          const double l = li[j];
          const double* vj = &v[j * kBlock];
          for (int64_t b = 0; b < kBlock; ++b) s[b] -= l * vj[b];
        }
        double* vi = &v[i * kBlock];
        for (int64_t b = 0; b < kBlock; ++b) vi[b] = s[b] / li[i];
      }
      for (int64_t b = 0; b < nb; ++b) {
        double q = 0;
        for (int64_t i = 0; i < m_; ++i) q += v[i * kBlock + b] * v[i * kBlock + b];
        const double var = get(in[1], r0 + b, 0) - q;
        double* o = out.row<double>(r0 + b);
        if (!std_) {
          o[0] = var;
          continue;
        }
        const double clamped = var < 0 ? 0.0 : var;
        for (int64_t c = 0; c < t_; ++c) o[c] = std::sqrt(clamped * scale_[c]);
      }
    }
  }

 private:
  int64_t m_;
  const double *l_, *w_, *scale_;
  int64_t t_;
  bool std_;
};

Status make_gp_variance(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  MLE_RETURN_IF_ERROR(b.expect_inputs(2));
  const ValueInfo& kin = b.inputs()[0];
  const ValueInfo& din = b.inputs()[1];
  if (kin.kind == ValueKind::kI64 || din.kind == ValueKind::kI64)
    return b.error("GPVariance needs float inputs");
  const int64_t m = kin.cols;
  if (m < 1) return b.error("the kernel input needs at least one column");
  if (din.cols != 1) return b.error("the diagonal input must have one column");
  const TensorRef *l, *w, *scale;
  MLE_RETURN_IF_ERROR(b.tensor("L", DType::kF64, {m, m}, &l));
  MLE_RETURN_IF_ERROR(b.tensor("weight", DType::kF64, {m}, &w, true));
  MLE_RETURN_IF_ERROR(b.tensor("scale", DType::kF64, {-1}, &scale, true));
  std::string mode;
  MLE_RETURN_IF_ERROR(b.string("output", &mode));
  const double* lv = l->as<double>();
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j <= i; ++j)
      if (!std::isfinite(lv[i * m + j])) return b.error("L must be finite");
    if (lv[i * m + i] == 0) return b.error("L has a zero on its diagonal");
  }
  if (w)
    for (int64_t i = 0; i < m; ++i)
      if (!std::isfinite(w->as<double>()[i])) return b.error("weight must be finite");
  const bool std_out = mode == "std";
  int64_t t = 1;
  if (std_out) {
    if (!scale || scale->numel < 1) return b.error("output 'std' needs a non-empty scale");
    t = scale->numel;
    for (int64_t i = 0; i < t; ++i)
      if (!(scale->as<double>()[i] >= 0) || !std::isfinite(scale->as<double>()[i]))
        return b.error("scale must be finite and non-negative");
  } else if (scale) {
    return b.error("output 'variance' takes no scale");
  }
  k->reset(new GPVariance(m, lv, w ? w->as<double>() : nullptr,
                          scale ? scale->as<double>() : nullptr, t, std_out));
  *out = ValueInfo{t, ValueKind::kF64};
  return Status::OK();
}

// The Laplace approximation's P(y = 1) from the latent mean f and variance s
// (_BinaryGaussianProcessClassifierLaplace.predict_proba): a = 1 / (2 s),
// I_j = sqrt(pi / a) * erf(lambda_j f * sqrt(a / (a + lambda_j^2))) / (2 sqrt(s * 2 pi)),
// p = sum_j coef_j I_j + offset; output [1 - p, p].
class GPLaplaceProba final : public Kernel {
 public:
  GPLaplaceProba(const double* lam, const double* coef, int64_t n, double offset)
      : lam_(lam), coef_(coef), n_(n), offset_(offset) {}
  void run(int64_t rows, const View* in, const View& out) const override {
    const double pi = 3.141592653589793;
    for (int64_t r = 0; r < rows; ++r) {
      const double f = get(in[0], r, 0);
      const double s = get(in[1], r, 0);
      const double a = 1 / (2 * s);
      double p = 0;
      for (int64_t j = 0; j < n_; ++j) {
        const double g = lam_[j] * f;
        const double integral = std::sqrt(pi / a) *
                                std::erf(g * std::sqrt(a / (a + lam_[j] * lam_[j]))) /
                                (2 * std::sqrt(s * 2 * pi));
        p += coef_[j] * integral;
      }
      p += offset_;
      double* o = out.row<double>(r);
      o[0] = 1 - p;
      o[1] = p;
    }
  }

 private:
  const double *lam_, *coef_;
  int64_t n_;
  double offset_;
};

Status make_gp_laplace(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  MLE_RETURN_IF_ERROR(b.expect_inputs(2));
  for (const ValueInfo& v : b.inputs())
    if (v.kind == ValueKind::kI64 || v.cols != 1)
      return b.error("GPLaplaceProba needs two float inputs of one column");
  const TensorRef *lam, *coef;
  MLE_RETURN_IF_ERROR(b.tensor("lambdas", DType::kF64, {-1}, &lam));
  MLE_RETURN_IF_ERROR(b.tensor("coefs", DType::kF64, {lam->numel}, &coef));
  if (lam->numel < 1) return b.error("lambdas must not be empty");
  for (int64_t i = 0; i < lam->numel; ++i)
    if (!std::isfinite(lam->as<double>()[i]) || !std::isfinite(coef->as<double>()[i]))
      return b.error("lambdas and coefs must be finite");
  double offset;
  MLE_RETURN_IF_ERROR(b.number("offset", &offset));
  if (!std::isfinite(offset)) return b.error("offset must be finite");
  k->reset(new GPLaplaceProba(lam->as<double>(), coef->as<double>(), lam->numel, offset));
  *out = ValueInfo{2, ValueKind::kF64};
  return Status::OK();
}

}  // namespace

const OpRegistrar kRegistered({
    {"GPKernel", make_gp_kernel, 1,
     {attr::string("program", {}), attr::tensor("params", DType::kF64),
      attr::tensor("rows", DType::kF64, kOptional), attr::boolean("diag", kOptional)}},
    {"GPVariance", make_gp_variance, 2,
     {attr::tensor("L", DType::kF64), attr::tensor("weight", DType::kF64, kOptional),
      attr::tensor("scale", DType::kF64, kOptional),
      attr::string("output", {"std", "variance"})}},
    {"GPLaplaceProba", make_gp_laplace, 2,
     {attr::tensor("lambdas", DType::kF64), attr::tensor("coefs", DType::kF64),
      attr::number("offset")}},
});

}  // namespace mle
