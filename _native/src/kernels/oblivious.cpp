// Oblivious (symmetric) tree ensembles, as CatBoost builds them: every level of a tree tests one
// binary feature "x[feature] > border", the same for all nodes of that level, so a row's leaf
// index is one bit per level (level d sets bit d) and no branch is needed.
//
// Per block of rows the kernel first binarises each used feature once: the row's bin is the
// number of that feature's borders the value is greater than (borders strictly increase, so
// "x > border j" is "bin > j"). Values are compared as float32, as CatBoost stores its input:
// float64 input is rounded to float32 first. NaN compares false against every border (bin 0,
// CatBoost's "AsIs" and "AsFalse" treatments); features with the "AsTrue" treatment count NaN
// as above every border. Bins are counted with AVX2 compares across rows where the CPU has
// them (chosen at run time), by a branch-free binary search otherwise and for single rows.
// Then, for a chunk of trees at a time, each tree builds the leaf indices of all rows of the
// block from its levels' bits (vectorised across rows), and each row adds the chunk's leaf
// values (one per output dimension) to its sum, kept in registers: in tree order and in double
// precision, exactly as CatBoost sums them. Last comes `scale * sum + bias`. A single row skips
// the block loops.
//
// Layout (attributes of the op, validated here before any use):
//   features       int32 [F]        input column of each used feature
//   border_offsets int32 [F + 1]    borders of feature f: borders[border_offsets[f] ..
//                                   border_offsets[f + 1]), strictly increasing, no NaN
//   borders        float32 [B]
//   nan_as_true    uint8 [F]        1: NaN counts as greater than every border
//   splits         int32 [S, 2]     per level, in tree order: (feature slot f, border index j
//                                   within feature f); the level's bit is "bin[f] > j"
//   depths         int32 [T]        levels per tree (0 .. kMaxDepth); their sum is S (see
//                                   "complete" for non-symmetric trees)
//   leaves         float64 [L, D]   leaf rows, tree after tree; L = sum of 2^depth
//   scale          number           ; bias float64 [D]
//   complete       bool, default false: non-symmetric trees stored as complete
//                  binary trees, one split per node (2^depth - 1 per tree, level by level; node
//                  2^d - 1 + p is the p-th of level d), the leaf index built from the root's bit
//                  down (bit 1: right child, "x > border")
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "mle/kernel.h"
#include "mle/plan.h"

namespace mle {
namespace {

constexpr int32_t kMaxDepth = 16;  // CatBoost's own limit for symmetric trees
constexpr int64_t kMaxRows = 128;  // rows per block
static_assert(kMaxRows == Model::kBlockRows, "the kernel's row buffers hold one block");
constexpr int64_t kLinearBorders = 12;  // up to this many borders: count with a linear scan
constexpr int64_t kChunk = 64;  // trees whose leaf indices are built before summing

#if defined(__x86_64__)
bool cpu_has_avx2() {
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
  }();
  return has;
}

// cnt[r] = number of the nb borders that vals[r] is greater than (NaN: 0), eight rows per
// register and 64 rows per pass: one broadcast, eight compares and eight subtractions per
// border. Used for blocks of many rows; single rows use the binary search.
__attribute__((target("avx2"))) void count_above_avx2(const float* vals, int64_t rows,
                                                      const float* b, int64_t nb,
                                                      int32_t* cnt) {
  int64_t r = 0;
  for (; r + 64 <= rows; r += 64) {
    __m256 v[8];
    __m256i c[8];
    for (int i = 0; i < 8; ++i) {
      v[i] = _mm256_loadu_ps(vals + r + 8 * i);
      c[i] = _mm256_setzero_si256();
    }
    for (int64_t k = 0; k < nb; ++k) {
      const __m256 t = _mm256_broadcast_ss(b + k);
      for (int i = 0; i < 8; ++i)
        c[i] = _mm256_sub_epi32(c[i], _mm256_castps_si256(_mm256_cmp_ps(v[i], t, _CMP_GT_OQ)));
    }
    for (int i = 0; i < 8; ++i)
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(cnt + r + 8 * i), c[i]);
  }
  for (; r + 8 <= rows; r += 8) {
    const __m256 v = _mm256_loadu_ps(vals + r);
    __m256i c = _mm256_setzero_si256();
    for (int64_t k = 0; k < nb; ++k)
      c = _mm256_sub_epi32(
          c, _mm256_castps_si256(_mm256_cmp_ps(v, _mm256_broadcast_ss(b + k), _CMP_GT_OQ)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(cnt + r), c);
  }
  for (; r < rows; ++r) {
    int32_t n = 0;
    for (int64_t k = 0; k < nb; ++k) n += vals[r] > b[k];
    cnt[r] = n;
  }
}
#endif

class ObliviousEnsemble final : public Kernel {
 public:
  const int32_t* features = nullptr;
  const int32_t* border_offsets = nullptr;
  const float* borders = nullptr;
  const uint8_t* nan_as_true = nullptr;
  const int32_t* splits = nullptr;  // pairs (feature slot, border index)
  const int32_t* depths = nullptr;
  const double* leaves = nullptr;
  const double* bias = nullptr;
  double scale = 1.0;
  int64_t n_used = 0;
  int64_t n_trees = 0;
  int64_t dim = 1;
  int32_t max_depth = 0;
  bool wide_bins = false;  // some feature has more than 255 borders: 16-bit bins
  bool complete = false;   // one split per node (non-symmetric trees), see "complete" above
  int64_t total_depth = 0;

  double cost_per_row() const override {
    return 2.0 * static_cast<double>(total_depth) +
           static_cast<double>(n_trees) * static_cast<double>(dim) +
           4.0 * static_cast<double>(n_used);
  }

  void run(int64_t rows, const View* in, const View& out) const override {
    dispatch_float(in[0].dtype, [&](auto tag) {
      using TX = decltype(tag);
      if (wide_bins) {
        if (max_depth <= 8)
          eval<TX, uint16_t, uint8_t>(rows, in[0], out);
        else
          eval<TX, uint16_t, uint16_t>(rows, in[0], out);
      } else {
        if (max_depth <= 8)
          eval<TX, uint8_t, uint8_t>(rows, in[0], out);
        else
          eval<TX, uint8_t, uint16_t>(rows, in[0], out);
      }
    });
  }

 private:
  // bins[f * stride + r] for the rows of one block.
  template <class TX, class BinT>
  void binarize(int64_t rows, const View& x, BinT* bins, int64_t stride) const {
    float vals[kMaxRows];
    const float inf = std::numeric_limits<float>::infinity();
    for (int64_t f = 0; f < n_used; ++f) {
      const int64_t col = features[f];
      const float* b = borders + border_offsets[f];
      const int64_t nb = border_offsets[f + 1] - border_offsets[f];
      BinT* out = bins + f * stride;
      const TX* xc = x.row<TX>(0) + col;
      for (int64_t r = 0; r < rows; ++r) vals[r] = static_cast<float>(xc[r * x.ld]);
      if (nan_as_true[f])
        for (int64_t r = 0; r < rows; ++r)
          if (std::isnan(vals[r])) vals[r] = inf;
#if defined(__x86_64__)
      if (nb > kLinearBorders && rows >= 16 && cpu_has_avx2()) {
        int32_t cnt[kMaxRows];
        count_above_avx2(vals, rows, b, nb, cnt);
        for (int64_t r = 0; r < rows; ++r) out[r] = static_cast<BinT>(cnt[r]);
        continue;
      }
#endif
      if (nb <= kLinearBorders) {
        for (int64_t r = 0; r < rows; ++r) out[r] = 0;
        for (int64_t k = 0; k < nb; ++k) {
          const float t = b[k];
          for (int64_t r = 0; r < rows; ++r) out[r] = static_cast<BinT>(out[r] + (vals[r] > t));
        }
      } else {
        // Branch-free lower bound (the number of borders below the value; NaN: none), eight
        // rows at a time so that their independent searches overlap.
        int64_t r = 0;
        for (; r + 8 <= rows; r += 8) {
          const float* p[8];
          for (int i = 0; i < 8; ++i) p[i] = b;
          int64_t n = nb;
          while (n > 1) {
            const int64_t half = n >> 1;
            for (int i = 0; i < 8; ++i) p[i] = (p[i][half - 1] < vals[r + i]) ? p[i] + half : p[i];
            n -= half;
          }
          for (int i = 0; i < 8; ++i)
            out[r + i] = static_cast<BinT>((p[i] - b) + (*p[i] < vals[r + i]));
        }
        for (; r < rows; ++r) {
          const float v = vals[r];
          const float* base = b;
          int64_t n = nb;
          while (n > 1) {
            const int64_t half = n >> 1;
            base = (base[half - 1] < v) ? base + half : base;
            n -= half;
          }
          out[r] = static_cast<BinT>((base - b) + (*base < v));
        }
      }
    }
  }

  template <class TX, class BinT, class IdxT>
  void eval(int64_t rows, const View& x, const View& y) const {
    // Per-thread scratch, reused across blocks and calls: the block's bins, then the leaf
    // indices of a chunk of trees.
    thread_local std::vector<uint8_t> scratch;
    const size_t bin_bytes = static_cast<size_t>(n_used * rows) * sizeof(BinT);
    const size_t need = bin_bytes + static_cast<size_t>(kChunk * rows) * sizeof(IdxT) + 64;
    if (scratch.size() < need) scratch.resize(need);
    BinT* bins = reinterpret_cast<BinT*>(scratch.data());
    IdxT* idx = reinterpret_cast<IdxT*>(scratch.data() + ((bin_bytes + 63) & ~size_t(63)));
    binarize<TX, BinT>(rows, x, bins, rows);
    for (int64_t r = 0; r < rows; ++r) {
      double* yr = y.row<double>(r);
      for (int64_t k = 0; k < dim; ++k) yr[k] = 0.0;
    }
    if (rows == 1) {
      one_row<BinT>(bins, y.row<double>(0));
    } else {
      switch (dim) {
        case 1: trees<BinT, IdxT, 1>(rows, bins, idx, y); break;
        case 2: trees<BinT, IdxT, 2>(rows, bins, idx, y); break;
        case 3: trees<BinT, IdxT, 3>(rows, bins, idx, y); break;
        case 4: trees<BinT, IdxT, 4>(rows, bins, idx, y); break;
        default: trees<BinT, IdxT, 0>(rows, bins, idx, y); break;
      }
    }
    for (int64_t r = 0; r < rows; ++r) {
      double* yr = y.row<double>(r);
      for (int64_t k = 0; k < dim; ++k) yr[k] = yr[k] * scale + bias[k];
    }
  }

  // A single row: no per-block loops; each tree's leaf index straight from the row's bins.
  template <class BinT>
  void one_row(const BinT* bins, double* yr) const {
    const int32_t* sp = splits;
    const double* lv = leaves;
    if (complete) {
      for (int64_t t = 0; t < n_trees; ++t) {
        const int32_t depth = depths[t];
        uint32_t pos = 0;
        for (int32_t d = 0; d < depth; ++d) {
          const int32_t* nd = sp + 2 * ((int64_t(1) << d) - 1 + pos);
          pos = 2 * pos + static_cast<uint32_t>(bins[nd[0]] > static_cast<BinT>(nd[1]));
        }
        sp += 2 * ((int64_t(1) << depth) - 1);
        const double* l = lv + static_cast<int64_t>(pos) * dim;
        for (int64_t k = 0; k < dim; ++k) yr[k] += l[k];
        lv += (int64_t(1) << depth) * dim;
      }
      return;
    }
    if (dim == 1) {
      double a = yr[0];
      for (int64_t t = 0; t < n_trees; ++t) {
        const int32_t depth = depths[t];
        uint32_t id = 0;
        for (int32_t d = 0; d < depth; ++d, sp += 2)
          id |= static_cast<uint32_t>(bins[sp[0]] > static_cast<BinT>(sp[1])) << d;
        a += lv[id];
        lv += int64_t(1) << depth;
      }
      yr[0] = a;
      return;
    }
    for (int64_t t = 0; t < n_trees; ++t) {
      const int32_t depth = depths[t];
      uint32_t id = 0;
      for (int32_t d = 0; d < depth; ++d, sp += 2)
        id |= static_cast<uint32_t>(bins[sp[0]] > static_cast<BinT>(sp[1])) << d;
      const double* l = lv + static_cast<int64_t>(id) * dim;
      for (int64_t k = 0; k < dim; ++k) yr[k] += l[k];
      lv += (int64_t(1) << depth) * dim;
    }
  }

  // Trees in chunks of kChunk: first every tree's leaf index for every row of the block (one
  // bit per level, vectorised across rows), then each row's sum over the chunk's trees, in
  // tree order, kept in registers (DIM > 0: the output width, fixed at compile time).
  template <class BinT, class IdxT, int DIM>
  void trees(int64_t rows, const BinT* bins, IdxT* idx, const View& y) const {
    const int32_t* sp = splits;
    const double* lv = leaves;
    int64_t leaf_off[kChunk];
    for (int64_t t0 = 0; t0 < n_trees; t0 += kChunk) {
      const int64_t nc = std::min<int64_t>(kChunk, n_trees - t0);
      int64_t lo = 0;
      for (int64_t c = 0; c < nc; ++c) {
        const int32_t depth = depths[t0 + c];
        IdxT* id = idx + c * rows;
        for (int64_t r = 0; r < rows; ++r) id[r] = 0;
        if (complete) {  // level d: node 2^d - 1 + position; bit 1 goes to the right child
          for (int32_t d = 0; d < depth; ++d) {
            const int32_t* level = sp + 2 * ((int64_t(1) << d) - 1);
            for (int64_t r = 0; r < rows; ++r) {
              const int32_t* nd = level + 2 * static_cast<int64_t>(id[r]);
              id[r] = static_cast<IdxT>(2 * id[r] +
                                        (bins[nd[0] * rows + r] > static_cast<BinT>(nd[1])));
            }
          }
          sp += 2 * ((int64_t(1) << depth) - 1);
          leaf_off[c] = lo;
          lo += int64_t(1) << depth;
          continue;
        }
        for (int32_t d = 0; d < depth; ++d, sp += 2) {
          const BinT* b = bins + static_cast<int64_t>(sp[0]) * rows;
          const BinT j = static_cast<BinT>(sp[1]);
          const IdxT bit = static_cast<IdxT>(1u << d);
          for (int64_t r = 0; r < rows; ++r)
            id[r] = static_cast<IdxT>(id[r] | (bit & static_cast<IdxT>(-(b[r] > j))));
        }
        leaf_off[c] = lo;
        lo += int64_t(1) << depth;
      }
      if (DIM > 0) {
        // Rows in groups of kGroup: their sums are independent chains of additions, so the
        // additions of several rows overlap (each row's own sum stays in tree order).
        constexpr int kGroup = DIM == 1 ? 8 : 4;
        constexpr int D = DIM > 0 ? DIM : 1;
        int64_t r = 0;
        for (; r + kGroup <= rows; r += kGroup) {
          double a[kGroup][D];
          for (int i = 0; i < kGroup; ++i)
            for (int k = 0; k < D; ++k) a[i][k] = y.row<double>(r + i)[k];
          const IdxT* id = idx + r;
          for (int64_t c = 0; c < nc; ++c) {
            const double* lc = lv + leaf_off[c] * D;
            const IdxT* ic = id + c * rows;
            for (int i = 0; i < kGroup; ++i) {
              const double* l = lc + static_cast<int64_t>(ic[i]) * D;
              for (int k = 0; k < D; ++k) a[i][k] += l[k];
            }
          }
          for (int i = 0; i < kGroup; ++i)
            for (int k = 0; k < D; ++k) y.row<double>(r + i)[k] = a[i][k];
        }
        for (; r < rows; ++r) {
          double a[D];
          double* yr = y.row<double>(r);
          for (int k = 0; k < D; ++k) a[k] = yr[k];
          const IdxT* id = idx + r;
          for (int64_t c = 0; c < nc; ++c) {
            const double* l = lv + (leaf_off[c] + id[c * rows]) * D;
            for (int k = 0; k < D; ++k) a[k] += l[k];
          }
          for (int k = 0; k < D; ++k) yr[k] = a[k];
        }
      } else {
        for (int64_t r = 0; r < rows; ++r) {
          double* yr = y.row<double>(r);
          const IdxT* id = idx + r;
          for (int64_t c = 0; c < nc; ++c) {
            const double* l = lv + (leaf_off[c] + id[c * rows]) * dim;
            for (int64_t k = 0; k < dim; ++k) yr[k] += l[k];
          }
        }
      }
      lv += lo * dim;
    }
  }
};

Status make_oblivious(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  ValueInfo in;
  MLE_RETURN_IF_ERROR(b.float_input(&in));
  const TensorRef *features, *offsets, *borders, *nan_true, *splits, *depths, *leaves, *bias;
  MLE_RETURN_IF_ERROR(b.tensor("features", DType::kI32, {-1}, &features));
  const int64_t n_used = features->shape[0];
  MLE_RETURN_IF_ERROR(b.tensor("border_offsets", DType::kI32, {n_used + 1}, &offsets));
  MLE_RETURN_IF_ERROR(b.tensor("borders", DType::kF32, {-1}, &borders));
  MLE_RETURN_IF_ERROR(b.tensor("nan_as_true", DType::kU8, {n_used}, &nan_true));
  MLE_RETURN_IF_ERROR(b.tensor("splits", DType::kI32, {-1, 2}, &splits));
  MLE_RETURN_IF_ERROR(b.tensor("depths", DType::kI32, {-1}, &depths));
  MLE_RETURN_IF_ERROR(b.tensor("leaves", DType::kF64, {-1, -1}, &leaves));
  const int64_t dim = leaves->shape[1];
  if (dim < 1 || dim > 65536) return b.error("leaf values must have 1 to 65536 columns");
  MLE_RETURN_IF_ERROR(b.tensor("bias", DType::kF64, {dim}, &bias));
  double scale;
  MLE_RETURN_IF_ERROR(b.number("scale", &scale));
  if (!std::isfinite(scale)) return b.error("scale must be finite");

  auto e = std::make_unique<ObliviousEnsemble>();
  // Used features: input columns in range.
  const int32_t* f = features->as<int32_t>();
  for (int64_t i = 0; i < n_used; ++i)
    if (f[i] < 0 || f[i] >= in.cols)
      return b.error("feature " + std::to_string(i) + " reads input column " +
                     std::to_string(f[i]) + ", outside the input's " + std::to_string(in.cols) +
                     " columns");
  // Borders: offsets start at 0, never decrease, end at the border count; each feature's
  // borders strictly increase and are not NaN.
  const int32_t* off = offsets->as<int32_t>();
  const float* bd = borders->as<float>();
  const int64_t n_borders = borders->shape[0];
  if (off[0] != 0 || off[n_used] != n_borders)
    return b.error("border_offsets must start at 0 and end at the number of borders (" +
                   std::to_string(n_borders) + ")");
  // All offsets first (non-decreasing, so inside [0, n_borders]), then the borders they delimit.
  for (int64_t i = 0; i < n_used; ++i)
    if (off[i + 1] < off[i])
      return b.error("border_offsets must not decrease (feature " + std::to_string(i) + ")");
  int64_t widest = 0;
  for (int64_t i = 0; i < n_used; ++i) {
    const int64_t nb = off[i + 1] - off[i];
    widest = std::max(widest, nb);
    for (int64_t j = off[i]; j < off[i + 1]; ++j) {
      if (std::isnan(bd[j])) return b.error("feature " + std::to_string(i) + " has a NaN border");
      if (j > off[i] && !(bd[j - 1] < bd[j]))
        return b.error("the borders of feature " + std::to_string(i) +
                       " must strictly increase");
    }
    const uint8_t nt = nan_true->as<uint8_t>()[i];
    if (nt > 1) return b.error("nan_as_true must hold 0 or 1");
  }
  if (widest > 65535) return b.error("a feature has more than 65535 borders");
  // Trees: depths in [0, kMaxDepth], the splits they use add up to the split table, each split
  // names a used feature and one of its borders, and the leaf rows add up to the leaf table.
  bool complete = false;
  MLE_RETURN_IF_ERROR(b.boolean_or("complete", false, &complete));
  const int64_t n_trees = depths->shape[0];
  if (n_trees < 1) return b.error("ensemble has no trees");
  const int32_t* dp = depths->as<int32_t>();
  int64_t total_depth = 0, total_leaves = 0, total_splits = 0;
  int32_t max_depth = 0;
  for (int64_t t = 0; t < n_trees; ++t) {
    if (dp[t] < 0 || dp[t] > kMaxDepth)
      return b.error("tree " + std::to_string(t) + " has depth " + std::to_string(dp[t]) +
                     "; depths must be in [0, " + std::to_string(kMaxDepth) + "]");
    max_depth = std::max(max_depth, dp[t]);
    total_depth += dp[t];
    total_leaves += int64_t(1) << dp[t];
    total_splits += complete ? (int64_t(1) << dp[t]) - 1 : dp[t];
  }
  if (total_splits != splits->shape[0])
    return b.error("the trees' depths need " + std::to_string(total_splits) +
                   " splits (levels) but the split table has " +
                   std::to_string(splits->shape[0]));
  if (total_leaves != leaves->shape[0])
    return b.error("the trees need " + std::to_string(total_leaves) +
                   " leaf rows but the leaf table has " + std::to_string(leaves->shape[0]));
  const int32_t* sp = splits->as<int32_t>();
  for (int64_t s = 0; s < total_splits; ++s) {
    const int32_t slot = sp[2 * s], j = sp[2 * s + 1];
    if (slot < 0 || slot >= n_used)
      return b.error("split " + std::to_string(s) + " names feature slot " +
                     std::to_string(slot) + ", outside [0, " + std::to_string(n_used) + ")");
    if (j < 0 || j >= off[slot + 1] - off[slot])
      return b.error("split " + std::to_string(s) + " names border " + std::to_string(j) +
                     " of a feature with " + std::to_string(off[slot + 1] - off[slot]) +
                     " borders");
  }
  e->features = f;
  e->border_offsets = off;
  e->borders = bd;
  e->nan_as_true = nan_true->as<uint8_t>();
  e->splits = sp;
  e->depths = dp;
  e->leaves = leaves->as<double>();
  e->bias = bias->as<double>();
  e->scale = scale;
  e->n_used = n_used;
  e->n_trees = n_trees;
  e->dim = dim;
  e->max_depth = max_depth;
  e->wide_bins = widest > 255;
  e->total_depth = total_depth;
  e->complete = complete;
  *out = ValueInfo{dim, ValueKind::kF64};
  *k = std::move(e);
  return Status::OK();
}

}  // namespace

using attr::tensor;

const OpRegistrar kRegistered({
    {"ObliviousEnsemble", make_oblivious, 1,
     {tensor("features", DType::kI32), tensor("border_offsets", DType::kI32),
      tensor("borders", DType::kF32), tensor("nan_as_true", DType::kU8),
      tensor("splits", DType::kI32), tensor("depths", DType::kI32),
      tensor("leaves", DType::kF64), tensor("bias", DType::kF64), attr::number("scale"),
      attr::boolean("complete", kOptional)}},
});

}  // namespace mle
