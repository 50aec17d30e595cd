// Label indices from numbers: LabelEncoder.inverse_transform and LabelBinarizer's binary
// inverse (class indices that the output's label set maps to labels).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "mle/kernel.h"

namespace mle {
namespace {

inline double get(const View& v, int64_t r) {
  return v.dtype == DType::kF32 ? static_cast<double>(v.row<float>(r)[0]) : v.row<double>(r)[0];
}

// A number as numpy prints an element of the array it belongs to: integers without a point
// when every listed value is one, otherwise the shortest repr that reads back.
std::string number_text(double v, bool all_integral) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  if (all_integral && std::fabs(v) < 9.2e18) {
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
    return buf;
  }
  for (int p = 1; p <= 17; ++p) {
    std::snprintf(buf, sizeof buf, "%.*g", p, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  std::string s = buf;
  if (s.find_first_of(".e") == std::string::npos) s += ".";
  return s;
}

// Each value (one column) must be an integer in [0, n): it becomes that index (int64, bound
// n). Anything else (a fraction, a value out of range, NaN) refuses the block as scikit-learn
// does: "y contains previously unseen labels: [v ...]", the distinct values sorted.
class LabelIndex final : public Kernel {
 public:
  explicit LabelIndex(int64_t n) : n_(n) {}

  bool checks_input() const override { return true; }

  std::string refusal(int64_t rows, const View* in) const override {
    std::vector<double> bad;
    for (int64_t r = 0; r < rows; ++r) {
      const double v = get(in[0], r);
      if (!valid(v)) bad.push_back(v);
    }
    if (bad.empty()) return {};
    std::sort(bad.begin(), bad.end(), [](double a, double b) {
      return std::isnan(b) ? !std::isnan(a) : a < b;  // NaN last, as numpy sorts
    });
    std::vector<double> uniq;
    for (double v : bad)
      if (uniq.empty() || !(uniq.back() == v || (std::isnan(v) && std::isnan(uniq.back()))))
        uniq.push_back(v);
    bool integral = true;
    for (double v : uniq) integral = integral && std::isfinite(v) && v == std::floor(v);
    std::string s = "y contains previously unseen labels: [";
    for (size_t i = 0; i < uniq.size() && i < 1000; ++i) {
      if (i) s += " ";
      s += number_text(uniq[i], integral);
    }
    return s + "]";
  }

  void run(int64_t rows, const View* in, const View& out) const override {
    for (int64_t r = 0; r < rows; ++r) {
      const double v = get(in[0], r);
      out.row<int64_t>(r)[0] = valid(v) ? static_cast<int64_t>(v) : 0;  // refused before
    }
  }

 private:
  bool valid(double v) const {
    return v >= 0 && v < static_cast<double>(n_) && v == std::floor(v);
  }
  int64_t n_;
};

Status make_label_index(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  ValueInfo in;
  MLE_RETURN_IF_ERROR(b.float_input(&in));
  if (in.cols != 1) return b.error("the input must have one column");
  double n;
  MLE_RETURN_IF_ERROR(b.number("n_classes", &n));
  if (!(n >= 1 && n <= 2147483648.0 && n == std::floor(n)))
    return b.error("n_classes must be an integer in [1, 2^31]");
  auto* kernel = new LabelIndex(static_cast<int64_t>(n));
  k->reset(kernel);
  *out = ValueInfo{1, ValueKind::kI64, static_cast<int64_t>(n)};
  return Status::OK();
}

}  // namespace

const OpRegistrar kRegistered({
    {"LabelIndex", make_label_index, 1, {attr::number("n_classes")}},
});

}  // namespace mle
