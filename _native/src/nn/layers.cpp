// Neural-network layers with weights: dense products (Linear / addmm / matmul with a stored
// right-hand side), 2-D convolution (1-D convolutions are 2-D ones of height 1; BatchNorm is
// folded into the weights at dump time), and 2-D pooling. Products go through gemm_f32.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "mle/nn.h"

namespace mle {
namespace nn {
namespace {

// y = x . W + b over the last dimension: each row holds m vectors of k values, each mapped
// to n values (W stored k x n, transposed at dump time).
class Gemm final : public Kernel32 {
 public:
  Gemm(int64_t m, int64_t k, int64_t n, const float* w, const float* bias)
      : m_(m), k_(k), n_(n), w_(w), b_(bias) {}
  double cost_per_row() const override { return static_cast<double>(m_ * k_ * n_); }
  void run(int64_t rows, const View* in, const View& out) const override {
    // rows are contiguous (ld == width) in every value of the plan
    gemm_f32(rows * m_, n_, k_, in[0].row<float>(0), k_, w_, b_, out.row<float>(0), n_);
  }

 private:
  int64_t m_, k_, n_;
  const float* w_;
  const float* b_;
};

Status make_gemm(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  int64_t cols;
  MLE_RETURN_IF_ERROR(float_value(b, 0, &cols));
  const TensorRef *w, *bias;
  MLE_RETURN_IF_ERROR(b.tensor("weight", DType::kF32, {-1, -1}, &w));
  const int64_t kk = w->shape[0], n = w->shape[1];
  if (kk < 1 || n < 1) return b.error("weight must not be empty");
  if (cols % kk != 0)
    return b.error("the input's " + std::to_string(cols) + " columns are not a multiple of the "
                   "weight's " + std::to_string(kk) + " rows");
  MLE_RETURN_IF_ERROR(b.tensor("bias", DType::kF32, {n}, &bias, true));
  const int64_t m = cols / kk;
  if (m * n > kMaxDim) return b.error("the output has more than 2^31 columns");
  k->reset(new Gemm(m, kk, n, w->as<float>(), bias ? bias->as<float>() : nullptr));
  *out = ValueInfo{m * n, ValueKind::kInput};
  return Status::OK();
}

// The spatial geometry shared by convolution and pooling: input (c, h, w), window (kh, kw),
// stride, padding, dilation; output (oh, ow).
struct Geometry {
  int64_t c = 0, h = 0, w = 0, kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1;
  int64_t oh = 0, ow = 0;
};

Status read_geometry(const NodeBuild& b, int64_t cols, bool ceil_mode, Geometry* g) {
  std::vector<int64_t> shape;
  int64_t n;
  MLE_RETURN_IF_ERROR(shape_attr(b, "in_shape", &shape, &n));
  if (shape.size() != 3) return b.error("in_shape must be (channels, height, width)");
  if (n != cols) return b.error("in_shape does not match the input's width");
  g->c = shape[0];
  g->h = shape[1];
  g->w = shape[2];
  const int64_t big = int64_t(1) << 20;
  MLE_RETURN_IF_ERROR(int_attr(b, "stride_h", 1, big, &g->sh));
  MLE_RETURN_IF_ERROR(int_attr(b, "stride_w", 1, big, &g->sw));
  MLE_RETURN_IF_ERROR(int_attr(b, "pad_h", 0, big, &g->ph));
  MLE_RETURN_IF_ERROR(int_attr(b, "pad_w", 0, big, &g->pw));
  const int64_t eh = g->dh * (g->kh - 1) + 1, ew = g->dw * (g->kw - 1) + 1;  // window extent
  const int64_t nh = g->h + 2 * g->ph - eh, nw = g->w + 2 * g->pw - ew;
  if (nh < 0 || nw < 0) return b.error("the window is larger than the padded input");
  if (ceil_mode) {
    g->oh = (nh + g->sh - 1) / g->sh + 1;
    g->ow = (nw + g->sw - 1) / g->sw + 1;
    // the last window must start inside the input or its left padding (PyTorch's rule)
    if ((g->oh - 1) * g->sh >= g->h + g->ph) --g->oh;
    if ((g->ow - 1) * g->sw >= g->w + g->pw) --g->ow;
  } else {
    g->oh = nh / g->sh + 1;
    g->ow = nw / g->sw + 1;
  }
  return Status::OK();
}

class Conv final : public Kernel32 {
 public:
  Conv(Geometry g, int64_t cout, int64_t groups, const float* w, const float* bias)
      : g_(g), cout_(cout), groups_(groups), w_(w), b_(bias) {
    cg_ = g_.c / groups_;
    coutg_ = cout_ / groups_;
    ckk_ = cg_ * g_.kh * g_.kw;
    hw_ = g_.oh * g_.ow;
    direct_ = g_.kh == 1 && g_.kw == 1 && g_.sh == 1 && g_.sw == 1 && g_.ph == 0 && g_.pw == 0;
  }
  double cost_per_row() const override { return static_cast<double>(cout_ * hw_ * ckk_); }
  void run(int64_t rows, const View* in, const View& out) const override {
    thread_local std::vector<float> col;
    if (!direct_ && col.size() < static_cast<size_t>(ckk_ * hw_))
      col.resize(static_cast<size_t>(ckk_ * hw_));
    for (int64_t r = 0; r < rows; ++r) {
      const float* x = in[0].row<float>(r);
      float* y = out.row<float>(r);
      for (int64_t gi = 0; gi < groups_; ++gi) {
        const float* xg = x + gi * cg_ * g_.h * g_.w;
        const float* b = xg;
        if (!direct_) {
          im2col(xg, col.data());
          b = col.data();
        }
        gemm_f32(coutg_, hw_, ckk_, w_ + gi * coutg_ * ckk_, ckk_, b, nullptr,
                 y + gi * coutg_ * hw_, hw_);
      }
      if (b_)
        for (int64_t o = 0; o < cout_; ++o)
          for (int64_t i = 0; i < hw_; ++i) y[o * hw_ + i] += b_[o];
    }
  }

 private:
  // col[(c, i, j), (oy, ox)] = x[c, oy*sh - ph + i*dh, ox*sw - pw + j*dw] (0 outside)
  void im2col(const float* x, float* col) const {
    for (int64_t c = 0; c < cg_; ++c)
      for (int64_t i = 0; i < g_.kh; ++i)
        for (int64_t j = 0; j < g_.kw; ++j) {
          float* dst = col + ((c * g_.kh + i) * g_.kw + j) * hw_;
          for (int64_t oy = 0; oy < g_.oh; ++oy) {
            const int64_t iy = oy * g_.sh - g_.ph + i * g_.dh;
            float* d = dst + oy * g_.ow;
            if (iy < 0 || iy >= g_.h) {
              std::memset(d, 0, static_cast<size_t>(g_.ow) * 4);
              continue;
            }
            const float* src = x + (c * g_.h + iy) * g_.w;
            for (int64_t ox = 0; ox < g_.ow; ++ox) {
              const int64_t ix = ox * g_.sw - g_.pw + j * g_.dw;
              d[ox] = (ix >= 0 && ix < g_.w) ? src[ix] : 0.0f;
            }
          }
        }
  }

  Geometry g_;
  int64_t cout_, groups_, cg_ = 0, coutg_ = 0, ckk_ = 0, hw_ = 0;
  bool direct_ = false;
  const float* w_;
  const float* b_;
};

Status make_conv(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  int64_t cols;
  MLE_RETURN_IF_ERROR(float_value(b, 0, &cols));
  const TensorRef *w, *bias;
  MLE_RETURN_IF_ERROR(b.tensor("weight", DType::kF32, {-1, -1, -1, -1}, &w));
  Geometry g;
  const int64_t cout = w->shape[0];
  g.kh = w->shape[2];
  g.kw = w->shape[3];
  if (cout < 1 || w->shape[1] < 1 || g.kh < 1 || g.kw < 1) return b.error("weight must not be empty");
  int64_t groups;
  const int64_t big = int64_t(1) << 20;
  MLE_RETURN_IF_ERROR(int_attr(b, "dil_h", 1, big, &g.dh));
  MLE_RETURN_IF_ERROR(int_attr(b, "dil_w", 1, big, &g.dw));
  MLE_RETURN_IF_ERROR(int_attr(b, "groups", 1, kMaxDim, &groups));
  MLE_RETURN_IF_ERROR(read_geometry(b, cols, false, &g));
  if (g.c % groups != 0 || cout % groups != 0)
    return b.error("groups must divide the input and output channels");
  if (w->shape[1] != g.c / groups)
    return b.error("weight dimension 1 must be in_channels / groups = " +
                   std::to_string(g.c / groups));
  MLE_RETURN_IF_ERROR(b.tensor("bias", DType::kF32, {cout}, &bias, true));
  const int64_t hw = g.oh * g.ow;
  if (static_cast<double>(hw) * static_cast<double>(cout) > static_cast<double>(kMaxDim)) return b.error("the output has more than 2^31 columns");
  if (static_cast<double>(w->shape[1]) * static_cast<double>(g.kh) * static_cast<double>(g.kw) *
          static_cast<double>(hw) > static_cast<double>(kMaxColumns))
    return b.error("the convolution's im2col buffer would exceed 2^28 floats");
  k->reset(new Conv(g, cout, groups, w->as<float>(), bias ? bias->as<float>() : nullptr));
  *out = ValueInfo{cout * hw, ValueKind::kInput};
  return Status::OK();
}

// max and average pooling, PyTorch's max_pool2d / avg_pool2d (padding, ceil_mode,
// count_include_pad); NaN propagates through max as in PyTorch.
class Pool final : public Kernel32 {
 public:
  Pool(Geometry g, bool max, bool include_pad) : g_(g), max_(max), include_pad_(include_pad) {}
  void run(int64_t rows, const View* in, const View& out) const override {
    for (int64_t r = 0; r < rows; ++r) {
      const float* x = in[0].row<float>(r);
      float* y = out.row<float>(r);
      for (int64_t c = 0; c < g_.c; ++c)
        for (int64_t oy = 0; oy < g_.oh; ++oy)
          for (int64_t ox = 0; ox < g_.ow; ++ox) {
            int64_t y0 = oy * g_.sh - g_.ph, x0 = ox * g_.sw - g_.pw;
            int64_t y1 = std::min(y0 + g_.kh, g_.h + g_.ph), x1 = std::min(x0 + g_.kw, g_.w + g_.pw);
            const int64_t pool = (y1 - y0) * (x1 - x0);
            y0 = std::max<int64_t>(y0, 0);
            x0 = std::max<int64_t>(x0, 0);
            y1 = std::min(y1, g_.h);
            x1 = std::min(x1, g_.w);
            const float* xc = x + c * g_.h * g_.w;
            float v;
            if (max_) {
              v = -std::numeric_limits<float>::infinity();
              for (int64_t iy = y0; iy < y1; ++iy)
                for (int64_t ix = x0; ix < x1; ++ix) {
                  const float e = xc[iy * g_.w + ix];
                  if (e > v || e != e) v = e;
                  if (v != v) break;
                }
            } else {
              double s = 0;
              for (int64_t iy = y0; iy < y1; ++iy)
                for (int64_t ix = x0; ix < x1; ++ix) s += xc[iy * g_.w + ix];
              const int64_t div = include_pad_ ? pool : (y1 - y0) * (x1 - x0);
              v = static_cast<float>(div > 0 ? s / static_cast<double>(div) : 0.0);
            }
            y[(c * g_.oh + oy) * g_.ow + ox] = v;
          }
    }
  }

 private:
  Geometry g_;
  bool max_, include_pad_;
};

Status make_pool(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  int64_t cols;
  MLE_RETURN_IF_ERROR(float_value(b, 0, &cols));
  std::string kind;
  MLE_RETURN_IF_ERROR(b.string("kind", &kind));
  Geometry g;
  const int64_t big = int64_t(1) << 20;
  MLE_RETURN_IF_ERROR(int_attr(b, "kernel_h", 1, big, &g.kh));
  MLE_RETURN_IF_ERROR(int_attr(b, "kernel_w", 1, big, &g.kw));
  bool ceil_mode, include_pad;
  MLE_RETURN_IF_ERROR(b.boolean_or("ceil_mode", false, &ceil_mode));
  MLE_RETURN_IF_ERROR(b.boolean_or("count_include_pad", true, &include_pad));
  MLE_RETURN_IF_ERROR(read_geometry(b, cols, ceil_mode, &g));
  if (2 * g.ph > g.kh || 2 * g.pw > g.kw)
    return b.error("padding must be at most half the kernel size");
  if (static_cast<double>(g.c) * static_cast<double>(g.oh) * static_cast<double>(g.ow) >
      static_cast<double>(kMaxDim))
    return b.error("the output has more than 2^31 columns");
  k->reset(new Pool(g, kind == "max", include_pad));
  *out = ValueInfo{g.c * g.oh * g.ow, ValueKind::kInput};
  return Status::OK();
}

// adaptive_avg_pool2d: output cell (i, j) averages rows [floor(i*h/oh), ceil((i+1)*h/oh))
// and the same for columns.
class AdaptiveAvgPool final : public Kernel32 {
 public:
  AdaptiveAvgPool(int64_t c, int64_t h, int64_t w, int64_t oh, int64_t ow)
      : c_(c), h_(h), w_(w), oh_(oh), ow_(ow) {}
  void run(int64_t rows, const View* in, const View& out) const override {
    for (int64_t r = 0; r < rows; ++r) {
      const float* x = in[0].row<float>(r);
      float* y = out.row<float>(r);
      for (int64_t c = 0; c < c_; ++c)
        for (int64_t i = 0; i < oh_; ++i) {
          const int64_t y0 = i * h_ / oh_, y1 = ((i + 1) * h_ + oh_ - 1) / oh_;
          for (int64_t j = 0; j < ow_; ++j) {
            const int64_t x0 = j * w_ / ow_, x1 = ((j + 1) * w_ + ow_ - 1) / ow_;
            double s = 0;
            for (int64_t iy = y0; iy < y1; ++iy)
              for (int64_t ix = x0; ix < x1; ++ix) s += x[(c * h_ + iy) * w_ + ix];
            y[(c * oh_ + i) * ow_ + j] =
                static_cast<float>(s / static_cast<double>((y1 - y0) * (x1 - x0)));
          }
        }
    }
  }

 private:
  int64_t c_, h_, w_, oh_, ow_;
};

Status make_adaptive_avg_pool(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  int64_t cols, n, oh, ow;
  MLE_RETURN_IF_ERROR(float_value(b, 0, &cols));
  std::vector<int64_t> shape;
  MLE_RETURN_IF_ERROR(shape_attr(b, "in_shape", &shape, &n));
  if (shape.size() != 3) return b.error("in_shape must be (channels, height, width)");
  if (n != cols) return b.error("in_shape does not match the input's width");
  MLE_RETURN_IF_ERROR(int_attr(b, "out_h", 1, int64_t(1) << 20, &oh));
  MLE_RETURN_IF_ERROR(int_attr(b, "out_w", 1, int64_t(1) << 20, &ow));
  if (static_cast<double>(shape[0]) * static_cast<double>(oh) * static_cast<double>(ow) >
      static_cast<double>(kMaxDim))
    return b.error("the output has more than 2^31 columns");
  k->reset(new AdaptiveAvgPool(shape[0], shape[1], shape[2], oh, ow));
  *out = ValueInfo{shape[0] * oh * ow, ValueKind::kInput};
  return Status::OK();
}

}  // namespace

const OpRegistrar kRegistered({
    {"NnGemm", make_gemm, 1,
     {attr::tensor("weight", DType::kF32), attr::tensor("bias", DType::kF32, kOptional)}},
    {"NnConv", make_conv, 1,
     {attr::tensor("weight", DType::kF32), attr::tensor("bias", DType::kF32, kOptional),
      attr::tensor("in_shape", DType::kI64), attr::number("stride_h"), attr::number("stride_w"),
      attr::number("pad_h"), attr::number("pad_w"), attr::number("dil_h"),
      attr::number("dil_w"), attr::number("groups")}},
    {"NnPool", make_pool, 1,
     {attr::string("kind", {"max", "avg"}), attr::tensor("in_shape", DType::kI64),
      attr::number("kernel_h"), attr::number("kernel_w"), attr::number("stride_h"),
      attr::number("stride_w"), attr::number("pad_h"), attr::number("pad_w"),
      attr::boolean("ceil_mode", kOptional), attr::boolean("count_include_pad", kOptional)}},
    {"NnAdaptiveAvgPool", make_adaptive_avg_pool, 1,
     {attr::tensor("in_shape", DType::kI64), attr::number("out_h"), attr::number("out_w")}},
});

}  // namespace nn
}  // namespace mle
