// Kernel approximations computed entry by entry (docs/FORMAT.md, section 11.13):
// AdditiveChi2Sampler's sampled feature map of the additive chi-squared kernel, and
// PolynomialCountSketch's count sketches and their circular convolution (TensorSketch).
#include <cmath>
#include <string>
#include <vector>

#include "mle/kernel.h"

namespace mle {
namespace {

constexpr double kPi = 3.141592653589793;  // numpy's np.pi

// y: blocks of c columns, [sqrt(x L)], then for j = 1 .. steps-1 [f_j cos(j L log x)] and
// [f_j sin(j L log x)], f_j = sqrt(2 x L / cosh(pi j L)); 0 where x == 0. float32 input is
// computed as numpy computes it for float32 X (products with L, the log and the cosine in
// float32, f_j in float64, each entry rounded to float32).
class AdditiveChi2 final : public Kernel {
 public:
  AdditiveChi2(int64_t cols, int64_t steps, double interval)
      : cols_(cols), steps_(steps), interval_(interval) {
    for (int64_t j = 1; j < steps; ++j) cosh_.push_back(std::cosh(kPi * j * interval));
  }

  double cost_per_row() const override { return 40.0 * static_cast<double>(cols_ * steps_); }

  bool checks_input() const override { return true; }

  std::string refusal(int64_t rows, const View* in) const override {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols_; ++c) {
        const double x = in[0].dtype == DType::kF32
                             ? static_cast<double>(in[0].row<float>(r)[c]) : in[0].row<double>(r)[c];
        if (x < 0.0) return "Negative values in data passed to X in AdditiveChi2Sampler.";
      }
    return {};
  }

  void run(int64_t rows, const View* in, const View& out) const override {
    const int64_t c = cols_;
    if (in[0].dtype == DType::kF32) {
      const float L = static_cast<float>(interval_);
      for (int64_t r = 0; r < rows; ++r) {
        const float* x = in[0].row<float>(r);
        float* y = out.row<float>(r);
        for (int64_t k = 0; k < c; ++k) {
          const float v = x[k];
          if (v == 0.0f) {
            for (int64_t b = 0; b < 2 * steps_ - 1; ++b) y[b * c + k] = 0.0f;
            continue;
          }
          const float a = v * L;
          y[k] = static_cast<float>(std::sqrt(static_cast<double>(a)));
          const float lg = static_cast<float>(std::log(static_cast<double>(v)));
          const float ls = L * lg;
          const float step = (2.0f * v) * L;
          for (int64_t j = 1; j < steps_; ++j) {
            const double f = std::sqrt(static_cast<double>(step) / cosh_[j - 1]);
            const float arg = static_cast<float>(j) * ls;
            const float cs = static_cast<float>(std::cos(static_cast<double>(arg)));
            const float sn = static_cast<float>(std::sin(static_cast<double>(arg)));
            y[(2 * j - 1) * c + k] = static_cast<float>(f * static_cast<double>(cs));
            y[(2 * j) * c + k] = static_cast<float>(f * static_cast<double>(sn));
          }
        }
      }
      return;
    }
    const double L = interval_;
    for (int64_t r = 0; r < rows; ++r) {
      const double* x = in[0].row<double>(r);
      double* y = out.row<double>(r);
      for (int64_t k = 0; k < c; ++k) {
        const double v = x[k];
        if (v == 0.0) {
          for (int64_t b = 0; b < 2 * steps_ - 1; ++b) y[b * c + k] = 0.0;
          continue;
        }
        y[k] = std::sqrt(v * L);
        const double ls = L * std::log(v);
        const double step = (2.0 * v) * L;
        for (int64_t j = 1; j < steps_; ++j) {
          const double f = std::sqrt(step / cosh_[j - 1]);
          const double arg = static_cast<double>(j) * ls;
          y[(2 * j - 1) * c + k] = f * std::cos(arg);
          y[(2 * j) * c + k] = f * std::sin(arg);
        }
      }
    }
  }

 private:
  int64_t cols_, steps_;
  double interval_;
  std::vector<double> cosh_;
};

Status make_additive_chi2(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  ValueInfo in;
  MLE_RETURN_IF_ERROR(b.float_input(&in));
  if (in.cols < 1) return b.error("the input has no columns");
  double steps, interval;
  MLE_RETURN_IF_ERROR(b.number("sample_steps", &steps));
  MLE_RETURN_IF_ERROR(b.number("sample_interval", &interval));
  if (!(steps >= 1.0 && steps <= 64.0) || steps != std::floor(steps))
    return b.error("sample_steps must be an integer in [1, 64]");
  if (!std::isfinite(interval) || !(interval > 0.0) ||
      !(static_cast<float>(interval) > 0.0f) ||
      !std::isfinite(static_cast<double>(static_cast<float>(interval))))
    return b.error("sample_interval must be a positive number, finite and positive in float32");
  const int64_t s = static_cast<int64_t>(steps);
  if (in.cols > (int64_t(1) << 31) / (2 * s - 1))
    return b.error("the output would have more than 2^31 columns");
  k->reset(new AdditiveChi2(in.cols, s, interval));
  *out = ValueInfo{in.cols * (2 * s - 1), in.kind};
  return Status::OK();
}

// PolynomialCountSketch: z = [g x, c0] (c0 appended when has_coef0), the count sketches
// s_d[index_hash[d, j]] += bit_hash[d, j] z_j (j in order, for each d), and y the circular
// convolution s_0 * s_1 * ... (what scikit-learn's FFT product computes, without its FFT
// rounding). Output float64, n_components columns.
class CountSketch final : public Kernel {
 public:
  CountSketch(int64_t cols, int64_t n_in, int64_t degree, int64_t n, std::vector<int64_t> index,
              std::vector<double> bit, double g, double c0)
      : cols_(cols), n_in_(n_in), degree_(degree), n_(n), index_(std::move(index)),
        bit_(std::move(bit)), g_(g), c0_(c0) {}

  double cost_per_row() const override {
    return static_cast<double>(degree_) * static_cast<double>(n_ * n_ + n_in_);
  }

  void run(int64_t rows, const View* in, const View& out) const override {
    const int64_t n = n_;
    std::vector<double> s(static_cast<size_t>(degree_ * n)), acc(static_cast<size_t>(n)),
        next(static_cast<size_t>(n));
    for (int64_t r = 0; r < rows; ++r) {
      std::fill(s.begin(), s.end(), 0.0);
      for (int64_t j = 0; j < n_in_; ++j) {
        double z;
        if (j < cols_)
          z = g_ * (in[0].dtype == DType::kF32 ? static_cast<double>(in[0].row<float>(r)[j])
                                               : in[0].row<double>(r)[j]);
        else
          z = c0_;
        for (int64_t d = 0; d < degree_; ++d) {
          const size_t at = static_cast<size_t>(d * n_in_ + j);
          s[static_cast<size_t>(d * n + index_[at])] += bit_[at] * z;
        }
      }
      double* y = out.row<double>(r);
      std::copy(s.begin(), s.begin() + n, acc.begin());
      for (int64_t d = 1; d < degree_; ++d) {
        const double* b = s.data() + d * n;
        for (int64_t k = 0; k < n; ++k) {
          double t = 0.0;
          for (int64_t i = 0; i <= k; ++i) t += acc[i] * b[k - i];
          for (int64_t i = k + 1; i < n; ++i) t += acc[i] * b[n + k - i];
          next[k] = t;
        }
        acc.swap(next);
      }
      for (int64_t k = 0; k < n; ++k) y[k] = acc[k];
    }
  }

 private:
  int64_t cols_, n_in_, degree_, n_;
  std::vector<int64_t> index_;
  std::vector<double> bit_;
  double g_, c0_;
};

Status make_count_sketch(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  ValueInfo in;
  MLE_RETURN_IF_ERROR(b.float_input(&in));
  if (in.cols < 1) return b.error("the input has no columns");
  double nc, g, c0 = 0.0;
  MLE_RETURN_IF_ERROR(b.number("n_components", &nc));
  MLE_RETURN_IF_ERROR(b.number("gamma_sqrt", &g));
  const bool has_c0 = b.has("coef0_sqrt");
  if (has_c0) MLE_RETURN_IF_ERROR(b.number("coef0_sqrt", &c0));
  if (!(nc >= 1.0 && nc <= 16384.0) || nc != std::floor(nc))
    return b.error("n_components must be an integer in [1, 16384]");
  if (!std::isfinite(g) || !std::isfinite(c0))
    return b.error("gamma_sqrt and coef0_sqrt must be finite numbers");
  const int64_t n = static_cast<int64_t>(nc);
  const int64_t n_in = in.cols + (has_c0 ? 1 : 0);
  const TensorRef *index, *bit;
  MLE_RETURN_IF_ERROR(b.tensor("index_hash", DType::kI64, {-1, n_in}, &index));
  MLE_RETURN_IF_ERROR(b.tensor("bit_hash", DType::kF64, {index->shape[0], n_in}, &bit));
  const int64_t degree = index->shape[0];
  if (degree < 1 || degree > 64) return b.error("index_hash must have 1 to 64 rows (the degree)");
  const size_t size = static_cast<size_t>(degree * n_in);
  std::vector<int64_t> idx(index->as<int64_t>(), index->as<int64_t>() + size);
  std::vector<double> bits(bit->as<double>(), bit->as<double>() + size);
  for (int64_t v : idx)
    if (v < 0 || v >= n) return b.error("an index_hash entry is outside [0, n_components)");
  for (double v : bits)
    if (v != 1.0 && v != -1.0) return b.error("bit_hash entries must be -1 or 1");
  k->reset(new CountSketch(in.cols, n_in, degree, n, std::move(idx), std::move(bits), g, c0));
  *out = ValueInfo{n, ValueKind::kF64};
  return Status::OK();
}

}  // namespace

using attr::number;
using attr::tensor;

const OpRegistrar kRegistered({
    {"AdditiveChi2", make_additive_chi2, 1, {number("sample_steps"), number("sample_interval")}},
    {"CountSketch", make_count_sketch, 1,
     {number("n_components"), number("gamma_sqrt"), number("coef0_sqrt", kOptional),
      tensor("index_hash", DType::kI64), tensor("bit_hash", DType::kF64)}},
});

}  // namespace mle
