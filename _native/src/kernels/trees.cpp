// Tree ensembles: decision trees, random forests, gradient boosting. One kernel, templated on
// what varies per model (node record / threshold type, '<' or '<=', missing-value handling) and
// dispatched once per block. Trees are walked one at a time over the whole row block so each
// tree stays in cache; per-row sums are accumulated in tree order, exactly as the source
// frameworks add them.
//
// Walks: find_leaf (the scalar reference, one row and one node at a time; single rows and
// categorical or "zero"-rule ensembles), find_leaves_avx2 (32 rows of one node32 tree in AVX2
// lanes), find_leaves_rows / find_leaves_trees (branch-free, several rows of one tree or
// several trees of one row at once). Ensembles with float64 thresholds are stored with binned
// input where they can be (ir/tree_bins.py, docs/FORMAT.md 11.3): each block is binned once
// and walked as node32. trees::set_walk_override forces a walk for the tests that compare
// every walk with the reference (tests/native/test_tree_walks.py).
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <type_traits>
#include <vector>

#include "mle/kernel.h"
#include "mle/threads.h"
#include "mle/trees.h"

namespace mle {
namespace {

using trees::Node32;
using trees::Node64;
using trees::Walk;
using trees::walk_override;

std::atomic<int> g_walk{0};  // a trees::Walk (tests)

template <class Node>
struct Cmp;
template <>
struct Cmp<Node32> {
  using T = float;
};
template <>
struct Cmp<Node64> {
  using T = double;
};

// Category sets: set k is the bitset cat_words[cat_offsets[k] .. cat_offsets[k + 1]).
// How a categorical node sends a value (docs/FORMAT.md 11.2), aspect by aspect:
// how the value becomes a category and which values are valid categories (cast), where NaN
// and other invalid values go (the default direction, or where a category outside the set
// goes), which side a category in the node's set goes to, and whether the node's known set
// applies (a valid category in neither set then goes the default direction).
enum class CategoryCast : uint8_t {
  kTruncateUint8,    // valid: 0 <= x < 2^32; category uint8(int64(x))
  kFloat32Truncate,  // f = float32(x); valid: 0 <= f < 2^24; category uint32(f)
  kTruncateInt32,    // valid: -1 < x < 2^31; category int64(x), truncated toward zero
};

struct CategorySets {
  const uint32_t* offsets = nullptr;
  const uint32_t* words = nullptr;
  CategoryCast cast = CategoryCast::kTruncateUint8;
  bool nan_default = true;      // NaN: the default direction (else: the not-in-set side)
  bool invalid_default = true;  // an invalid value: the default direction (else: not-in-set)
  bool set_left = true;         // a category in the set goes left (else: right)
  bool known = true;            // the node's known set applies
  bool contains(uint32_t set, uint32_t c) const {
    const uint32_t w = c >> 5;
    if (w >= offsets[set + 1] - offsets[set]) return false;
    return (words[offsets[set] + w] >> (c & 31)) & 1u;
  }
};

constexpr uint32_t kNoSet = 0xFFFFFFFFu;

// Set references of a categorical node, kept in the threshold field's bits: Node64 holds the
// left set in the low 32 bits and the known-categories set in the high 32 bits (kNoSet: none);
// Node32 holds only the left set.
inline void category_refs(const trees::Node64& nd, uint32_t* left, uint32_t* known) {
  uint64_t bits;
  std::memcpy(&bits, &nd.threshold, 8);
  *left = static_cast<uint32_t>(bits);
  *known = static_cast<uint32_t>(bits >> 32);
}
inline void category_refs(const trees::Node32& nd, uint32_t* left, uint32_t* known) {
  std::memcpy(left, &nd.threshold, 4);
  *known = kNoSet;
}

// The decision of a categorical node (docs/FORMAT.md 11.2). The three casts are the rules of
// scikit-learn's HistGradientBoosting (_predictor.pyx: truncated to an 8-bit bin), XGBoost's
// common::Decision (the value as the float32 XGBoost stores) and LightGBM's
// Tree::CategoricalDecision (truncated to an int; on x86-64 NaN and values beyond the int
// range convert to INT_MIN, a negative category).
template <class Node, class TX>
inline bool category_goes_left(const Node& nd, TX v, const CategorySets& cats) {
  const bool dflt = (nd.feature_flags & trees::kDefaultLeft) != 0;
  const bool not_in_set = !cats.set_left;  // the side of a category outside the set
  uint32_t c;
  switch (cats.cast) {
    case CategoryCast::kFloat32Truncate: {
      const float f = static_cast<float>(v);
      if (std::isnan(f)) return cats.nan_default ? dflt : not_in_set;
      if (f < 0.0f || !(f < 16777216.0f)) return cats.invalid_default ? dflt : not_in_set;
      c = static_cast<uint32_t>(f);
      break;
    }
    case CategoryCast::kTruncateInt32:
      if (std::isnan(v)) return cats.nan_default ? dflt : not_in_set;
      if (!(v > TX(-1)) || !(v < TX(2147483648.0))) return cats.invalid_default ? dflt : not_in_set;
      c = static_cast<uint32_t>(static_cast<int64_t>(v));  // (-1, 0] -> 0
      break;
    default:  // kTruncateUint8
      if (std::isnan(v)) return cats.nan_default ? dflt : not_in_set;
      // beyond any category (and keeps the cast defined)
      if (v < TX(0) || !(v < TX(4294967296.0))) return cats.invalid_default ? dflt : not_in_set;
      c = static_cast<uint8_t>(static_cast<int64_t>(v));
      break;
  }
  uint32_t left, known;
  category_refs(nd, &left, &known);
  if (cats.contains(left, c)) return cats.set_left;
  if (cats.known && known != kNoSet && !cats.contains(known, c)) return dflt;
  return not_in_set;
}

// Miss: 0 no node has a missing-value rule; 1 only "NaN" rules (missing values are rare, so
// they are tested once, on the value, before the rule is looked at); 2 "zero" rules too.
template <class Node, bool LT, int Miss, bool HasCat, class TX>
inline uint32_t find_leaf(const Node* tree, const TX* x, const CategorySets& cats) {
  using TC = typename Cmp<Node>::T;
  uint32_t i = 0;
  for (;;) {
    const Node& nd = tree[i];
    const uint32_t ff = nd.feature_flags;
    if (ff & trees::kLeaf) return nd.right;
    if (HasCat && (ff & trees::kCategorical)) {
      i = category_goes_left(nd, x[ff & trees::kFeatureMask], cats) ? i + 1 : nd.right;
      continue;
    }
    TC v = static_cast<TC>(x[ff & trees::kFeatureMask]);
    if (Miss == 1 && std::isnan(v)) {
      // "NaN": the default direction; "none": compared as is (goes right)
      const uint32_t mk = (ff & trees::kMissingMask) >> trees::kMissingShift;
      i = (mk == trees::kMissingNaN && (ff & trees::kDefaultLeft)) ? i + 1 : nd.right;
      continue;
    }
    if (Miss == 2) {
      const uint32_t mk = (ff & trees::kMissingMask) >> trees::kMissingShift;
      if (mk != trees::kMissingNone) {
        if (std::isnan(v)) {
          if (mk == trees::kMissingNaN) {
            i = (ff & trees::kDefaultLeft) ? i + 1 : nd.right;
            continue;
          }
          v = TC(0);
        }
        // LightGBM's IsZero: |v| <= kZeroThreshold (what its predictor zeroes on input)
        if (mk == trees::kMissingZero && std::fabs(v) <= TC(trees::kZeroThreshold)) {
          i = (ff & trees::kDefaultLeft) ? i + 1 : nd.right;
          continue;
        }
      }
    }
    const TC t = static_cast<TC>(nd.threshold);
    const bool left = LT ? (v < t) : (v <= t);
    i = left ? i + 1 : nd.right;
  }
}

// One step of a branch-free walk for trees without categorical nodes and with missing-value
// rules "none" or "NaN" only (Miss: some node has the "NaN" rule): the node after node i for
// the row x. A leaf stays where it is and reads column 0 whatever its feature bits (they are
// not validated for leaves); `internal` is 1 when node i is not a leaf. The same decision as
// find_leaf<Node, LT, Miss, false>.
template <class Node, bool LT, bool Miss, class TX>
inline uint32_t step_branchless(const Node* tree, uint32_t i, const TX* x, uint32_t* internal) {
  using TC = typename Cmp<Node>::T;
  const Node& nd = tree[i];
  const uint32_t ff = nd.feature_flags;
  const uint32_t in = (ff >> 31) ^ 1u;
  const TC v = static_cast<TC>(x[ff & trees::kFeatureMask & (0u - in)]);
  const TC t = nd.threshold;
  bool left = LT ? (v < t) : (v <= t);
  if (Miss) {
    constexpr uint32_t kNaNLeft =
        trees::kDefaultLeft | (trees::kMissingNaN << trees::kMissingShift);
    left |= (v != v) & ((ff & (trees::kDefaultLeft | trees::kMissingMask)) == kNaNLeft);
  }
  // selects by masks: a branch here would be mispredicted at every other node
  const uint32_t right = nd.right;
  const uint32_t next = right ^ ((right ^ (i + 1)) & (0u - static_cast<uint32_t>(left)));
  *internal = in;
  return i ^ ((i ^ next) & (0u - in));
}

// G rows of one tree walked together, each level one branch-free step of every row (their
// loads overlap instead of waiting on each other); the loop ends when every row is at a leaf.
// Rows are x0 + g * ld. Writes each row's leaf row.
template <class Node, bool LT, bool Miss, int G, class TX>
inline void find_leaves_rows(const Node* tree, const TX* x0, int64_t ld, int n,
                             uint32_t* leaf) {
  uint32_t idx[G];
  const TX* xr[G];
  for (int g = 0; g < G; ++g) {
    idx[g] = 0;
    xr[g] = x0 + (g < n ? g : 0) * ld;
  }
  for (;;) {
    uint32_t any = 0;
    for (int g = 0; g < G; ++g) {
      uint32_t in;
      idx[g] = step_branchless<Node, LT, Miss>(tree, idx[g], xr[g], &in);
      any |= in;
    }
    if (!any) break;
  }
  for (int g = 0; g < n; ++g) leaf[g] = tree[idx[g]].right;
}

// G trees of one row walked together (the one-row walk: the trees' loads overlap).
template <class Node, bool LT, bool Miss, int G, class TX>
inline void find_leaves_trees(const Node* all, const int32_t* roots, const TX* x,
                              uint32_t* leaf) {
  uint32_t idx[G];
  for (int g = 0; g < G; ++g) idx[g] = 0;
  for (;;) {
    uint32_t any = 0;
    for (int g = 0; g < G; ++g) {
      uint32_t in;
      idx[g] = step_branchless<Node, LT, Miss>(all + roots[g], idx[g], x, &in);
      any |= in;
    }
    if (!any) break;
  }
  for (int g = 0; g < G; ++g) leaf[g] = all[roots[g] + idx[g]].right;
}

// Rows walked through one tree together: four AVX2 registers of eight, whose gathers overlap
// (measured on a 2-core AMD EPYC: 16 rows 68k rows/s, 24 rows 61k, 32 rows 72k for XGBoost's
// 500 x 3 trees of depth 6, one thread).
constexpr int kLanes = 32;
// Rows of one tree (walk_rows) and trees of one row (walk_trees) advanced together by the
// scalar branch-free walks, and from how many rows a block is walked tree by tree.
constexpr int kRowGroup = 8;
constexpr int kTreeGroup = 8;
constexpr int64_t kRowsMin = 8;

#if defined(__x86_64__)
bool cpu_has_avx2();

// Walks kLanes rows through one Node32 tree at once without branches on the data: each step
// moves every row that is not at a leaf yet one level down, and no comparison outcome is ever
// predicted. The rows' node words and feature values are gathered into AVX2 lanes and every
// step is a handful of vector instructions; the groups of eight rows advance together so that
// their gathers overlap. For trees without categorical nodes whose missing-value rules are
// "none" or "NaN"; gives find_leaf's result. A leaf never moves, and reads column 0 whatever
// its feature bits. The rows are x_rows[j * stride] for j < n (n <= kLanes; spare lanes repeat
// row 0).
struct Avx2Walk {
  __m256i feat_mask, dl_bits, dl_nan, one, zero;
  __attribute__((target("avx2"))) Avx2Walk()
      : feat_mask(_mm256_set1_epi32(static_cast<int>(trees::kFeatureMask))),
        dl_bits(_mm256_set1_epi32(static_cast<int>(trees::kDefaultLeft | trees::kMissingMask))),
        dl_nan(_mm256_set1_epi32(static_cast<int>(
            trees::kDefaultLeft | (trees::kMissingNaN << trees::kMissingShift)))),
        one(_mm256_set1_epi32(1)),
        zero(_mm256_setzero_si256()) {}

  // The feature_flags word of the node each lane is at (w: the node's word offset).
  __attribute__((target("avx2"))) static inline __m256i flags(const int* words, __m256i w) {
    return _mm256_i32gather_epi32(words + 1, w, 4);
  }
  __attribute__((target("avx2"))) inline __m256i internal(__m256i ff) const {
    return _mm256_cmpeq_epi32(_mm256_srli_epi32(ff, 31), zero);
  }

  // One level down for the eight rows at idx (w = 3 * idx, ff their flags, in the lanes at
  // internal nodes; rows at leaves stay).
  template <bool LT, class TX>
  __attribute__((target("avx2"))) inline __m256i step(const int* words, const TX* x_rows,
                                                      __m256i row_off, __m256i idx, __m256i w,
                                                      __m256i ff, __m256i in) const {
    const __m256 t = _mm256_castsi256_ps(_mm256_i32gather_epi32(words, w, 4));
    const __m256i right = _mm256_i32gather_epi32(words + 2, w, 4);
    const __m256i at = _mm256_add_epi32(row_off, _mm256_and_si256(_mm256_and_si256(ff, feat_mask), in));
    __m256 v;
    if constexpr (std::is_same_v<TX, float>) {
      v = _mm256_i32gather_ps(x_rows, at, 4);
    } else {
      const __m256d lo = _mm256_i32gather_pd(x_rows, _mm256_castsi256_si128(at), 8);
      const __m256d hi = _mm256_i32gather_pd(x_rows, _mm256_extracti128_si256(at, 1), 8);
      v = _mm256_set_m128(_mm256_cvtpd_ps(hi), _mm256_cvtpd_ps(lo));
    }
    const __m256 cmp = _mm256_cmp_ps(v, t, LT ? _CMP_LT_OQ : _CMP_LE_OQ);
    const __m256 nan = _mm256_cmp_ps(v, v, _CMP_UNORD_Q);
    const __m256i dl = _mm256_cmpeq_epi32(_mm256_and_si256(ff, dl_bits), dl_nan);
    const __m256i left = _mm256_or_si256(_mm256_castps_si256(cmp),
                                         _mm256_and_si256(_mm256_castps_si256(nan), dl));
    const __m256i next = _mm256_blendv_epi8(right, _mm256_add_epi32(idx, one), left);
    return _mm256_blendv_epi8(idx, next, in);
  }
};

template <bool LT, class TX>
__attribute__((target("avx2"))) inline void find_leaves_avx2(const trees::Node32* tree,
                                                              const TX* x_rows, int64_t stride,
                                                              int n, uint32_t* leaf_rows) {
  static const Avx2Walk k;
  constexpr int G = kLanes / 8;  // independent groups of eight rows
  const int* words = reinterpret_cast<const int*>(tree);
  const __m256i vn = _mm256_set1_epi32(n);
  const __m256i vs = _mm256_set1_epi32(static_cast<int>(stride));
  __m256i off[G], idx[G], w[G], ff[G], in[G];
  for (int g = 0; g < G; ++g) {
    const __m256i lane = _mm256_add_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                          _mm256_set1_epi32(8 * g));
    off[g] = _mm256_mullo_epi32(_mm256_and_si256(lane, _mm256_cmpgt_epi32(vn, lane)), vs);
    idx[g] = k.zero;
  }
  for (;;) {
    __m256i any = k.zero;
    for (int g = 0; g < G; ++g) {
      w[g] = _mm256_add_epi32(idx[g], _mm256_add_epi32(idx[g], idx[g]));  // 3 words per node
      ff[g] = Avx2Walk::flags(words, w[g]);
      in[g] = k.internal(ff[g]);
      any = _mm256_or_si256(any, in[g]);
    }
    if (_mm256_movemask_epi8(any) == 0) break;  // every row at a leaf
    for (int g = 0; g < G; ++g)
      idx[g] = k.step<LT>(words, x_rows, off[g], idx[g], w[g], ff[g], in[g]);
  }
  for (int g = 0; g < G; ++g)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(leaf_rows + 8 * g),
                        _mm256_i32gather_epi32(words + 2, w[g], 4));
}
#endif

class TreeEnsemble final : public Kernel {
 public:
  const uint8_t* nodes = nullptr;
  bool wide = false;  // Node64 records
  const int32_t* roots = nullptr;
  int64_t n_trees = 0;
  const double* leaves = nullptr;
  int64_t n_out = 0;
  const double* base = nullptr;
  bool average = false;
  const double* median_weights = nullptr;  // aggregate="weighted_median" (AdaBoostRegressor)
  const int32_t* targets = nullptr;  // per tree: the one output column its scalar leaves add to
  bool lt = false;
  bool acc32 = false;  // accumulate="float32": the sum is rounded to float32 after every tree
  bool has_missing = false;
  bool has_cat = false;
  bool lanes_ok = false;  // no categorical node (find_leaves_avx2)
  bool has_zero = false;  // some node uses a "zero" missing-value rule
  int64_t n_features = 0;  // the input's width
  CategorySets cats;
  // Binned input (docs/FORMAT.md 11.3): each value is first replaced by its bin, the float32
  // count of its feature's bin thresholds below it (bin_lt: at or below it), and the node32
  // records compare bins with '<='.
  const uint32_t* bin_offsets = nullptr;
  const double* bin_thresholds = nullptr;
  const uint8_t* bin_missing = nullptr;
  bool bin_lt = false;

  // A node visit costs a few multiply-adds' time; assume depth ~8 per tree.
  double cost_per_row() const override { return 32.0 * static_cast<double>(n_trees); }

  void run(int64_t rows, const View* in, const View& out) const override {
    if (median_weights) {
      dispatch_float(in[0].dtype, [&](auto tag) {
        using TX = decltype(tag);
        if (wide)
          weighted_median<Node64, TX>(rows, in[0], out);
        else
          weighted_median<Node32, TX>(rows, in[0], out);
      });
      return;
    }
    for (int64_t r = 0; r < rows; ++r) {
      double* y = out.row<double>(r);
      for (int64_t k = 0; k < n_out; ++k) y[k] = base ? base[k] : 0.0;
    }
    if (bin_offsets) {
      // a block of narrow rows (the common case) fits on the stack: no allocation per call
      constexpr int64_t kStack = 4096;
      float stack[kStack];
      std::vector<float> heap;
      float* f = stack;
      if (rows * n_features > kStack) {
        heap.resize(static_cast<size_t>(rows * n_features));
        f = heap.data();
      }
      dispatch_float(in[0].dtype, [&](auto tag) {
        using TX = decltype(tag);
        if (bin_lt)
          bin_rows<true, TX>(rows, in[0], f);
        else
          bin_rows<false, TX>(rows, in[0], f);
      });
      by_flags<Node32, float>(rows, View{f, n_features, DType::kF32}, out);
    } else {
      dispatch_float(in[0].dtype, [&](auto tag) {
        using TX = decltype(tag);
        if (wide)
          by_flags<Node64, TX>(rows, in[0], out);
        else
          by_flags<Node32, TX>(rows, in[0], out);
      });
    }
    if (average) {
      const double n = static_cast<double>(n_trees);
      for (int64_t r = 0; r < rows; ++r) {
        double* y = out.row<double>(r);
        for (int64_t k = 0; k < n_out; ++k) y[k] /= n;
      }
    }
  }

 private:
  // Chooses the kernel instance once per block.
  template <class F>
  void by_flags(F&& f) const {
    auto cat = [&](auto lt_tag, auto miss_tag) {
      if (has_cat)
        f(lt_tag, miss_tag, std::true_type{});
      else
        f(lt_tag, miss_tag, std::false_type{});
    };
    auto miss = [&](auto lt_tag) {
      if (has_zero)
        cat(lt_tag, std::integral_constant<int, 2>{});
      else if (has_missing)
        cat(lt_tag, std::integral_constant<int, 1>{});
      else
        cat(lt_tag, std::integral_constant<int, 0>{});
    };
    if (lt)
      miss(std::true_type{});
    else
      miss(std::false_type{});
  }

  template <class Node, class TX>
  void by_flags(int64_t rows, const View& x, const View& y) const {
    by_flags([&](auto lt, auto miss, auto cat) {
      walk<Node, decltype(lt)::value, decltype(miss)::value, decltype(cat)::value, TX>(rows, x, y);
    });
  }

  template <class Node, bool LT, int Miss, bool HasCat, class TX>
  void walk(int64_t rows, const View& x, const View& y) const {
    // float32 nodes compare float32 values: a float64 block is rounded once, here, instead of
    // at every node visit (the same rounding), when there are enough trees to repay it.
    if constexpr (std::is_same_v<Node, Node32> && std::is_same_v<TX, double>) {
      if (n_trees >= 16 && x.ld > 0) {
        // a block of narrow rows (the common case) fits on the stack: no allocation per call
        constexpr int64_t kStack = 4096;
        float stack[kStack];
        std::vector<float> heap;
        float* f = stack;
        if (rows * x.ld > kStack) {
          heap.resize(static_cast<size_t>(rows * x.ld));
          f = heap.data();
        }
        for (int64_t r = 0; r < rows; ++r) {
          const double* src = x.row<double>(r);
          float* dst = f + r * x.ld;
          for (int64_t c = 0; c < x.ld; ++c) dst[c] = static_cast<float>(src[c]);
        }
        return walk<Node, LT, Miss, HasCat, float>(rows, View{f, x.ld, DType::kF32}, y);
      }
    }
    if (acc32)
      walk_acc<Node, LT, Miss, HasCat, TX, true>(rows, x, y);
    else
      walk_acc<Node, LT, Miss, HasCat, TX, false>(rows, x, y);
  }

  // The bin of every value of the block (11.3): the number of the feature's thresholds t with
  // t < v (LT: t <= v), by a branch-free binary search; NaN, and with bin_missing 2 values in
  // LightGBM's zero band, become NaN (the nodes' missing-value rule then applies); with
  // bin_missing 1 a NaN is binned as 0.
  template <bool LT, class TX>
  void bin_rows(int64_t rows, const View& x, float* dst) const {
    for (int64_t r = 0; r < rows; ++r) {
      const TX* src = x.row<TX>(r);
      float* d = dst + r * n_features;
      for (int64_t c = 0; c < n_features; ++c) {
        double v = static_cast<double>(src[c]);
        const uint8_t mode = bin_missing[c];
        if (std::isnan(v)) {
          if (mode != 1) {
            d[c] = std::numeric_limits<float>::quiet_NaN();
            continue;
          }
          v = 0.0;
        }
        if (mode == 2 && std::fabs(v) <= trees::kZeroThreshold) {
          d[c] = std::numeric_limits<float>::quiet_NaN();
          continue;
        }
        const double* t = bin_thresholds + bin_offsets[c];
        uint32_t n = bin_offsets[c + 1] - bin_offsets[c];
        uint32_t b = 0;
        if (n) {
          const double* p = t;
          while (n > 1) {
            const uint32_t half = n >> 1;
            p += (LT ? (p[half] <= v) : (p[half] < v)) ? half : 0;
            n -= half;
          }
          b = static_cast<uint32_t>(p - t) + static_cast<uint32_t>(LT ? (*p <= v) : (*p < v));
        }
        d[c] = static_cast<float>(b);
      }
    }
  }

  template <bool Acc32>
  static void add(double& y, double v) {
    if (Acc32)
      y = static_cast<double>(static_cast<float>(y) + static_cast<float>(v));
    else
      y += v;
  }

  template <class Node, bool LT, int Miss, bool HasCat, class TX, bool Acc32>
  void walk_acc(int64_t rows, const View& x, const View& y) const {
    if constexpr (!HasCat && Miss < 2) {
      const Walk w = walk_override();
      if (w != Walk::kReference && n_features >= 1) {
#if defined(__x86_64__)
        if constexpr (std::is_same_v<Node, Node32>) {
          const int64_t x_stride = rows > 1 ? (x.row<TX>(1) - x.row<TX>(0)) : 0;
          if ((w == Walk::kLanes || (w == Walk::kAuto && rows >= kLanes / 2)) && lanes_ok &&
              x_stride < (int64_t(1) << 26) && cpu_has_avx2())
            return walk_lanes<LT, TX, Acc32>(rows, x, x_stride, y);
        }
#endif
        // Single rows stay on the reference walk: its branches are predicted well when the
        // same model sees similar rows, and it measured faster there than walk_trees (which
        // wins on rows that vary: one measurement each, XGBoost 500 x 3, 12 vs 17 us for a
        // repeated row, 124 vs 80 us over 500 different rows).
        if (w == Walk::kRows || (w == Walk::kAuto && rows >= kRowsMin))
          return walk_rows<Node, LT, Miss == 1, TX, Acc32>(rows, x, y);
        if (w == Walk::kTrees)
          return walk_trees<Node, LT, Miss == 1, TX, Acc32>(rows, x, y);
      }
    }
    const Node* all = reinterpret_cast<const Node*>(nodes);
    for (int64_t t = 0; t < n_trees; ++t) {
      const Node* tree = all + roots[t];
      if (targets) {  // one scalar per leaf, added to this tree's output column
        const int64_t col = targets[t];
        for (int64_t r = 0; r < rows; ++r)
          add<Acc32>(y.row<double>(r)[col],
                     leaves[find_leaf<Node, LT, Miss, HasCat>(tree, x.row<TX>(r), cats)]);
      } else if (n_out == 1) {
        for (int64_t r = 0; r < rows; ++r)
          add<Acc32>(y.row<double>(r)[0],
                     leaves[find_leaf<Node, LT, Miss, HasCat>(tree, x.row<TX>(r), cats)]);
      } else {
        for (int64_t r = 0; r < rows; ++r) {
          const double* lv =
              leaves + static_cast<int64_t>(
                           find_leaf<Node, LT, Miss, HasCat>(tree, x.row<TX>(r), cats)) *
                           n_out;
          double* yr = y.row<double>(r);
          for (int64_t k = 0; k < n_out; ++k) add<Acc32>(yr[k], lv[k]);
        }
      }
    }
  }

  // Adds one tree's leaf row to output row yr (the tree's column with targets).
  template <bool Acc32>
  inline void add_leaf(double* yr, int64_t t, uint32_t leaf) const {
    if (targets) {
      add<Acc32>(yr[targets[t]], leaves[leaf]);
    } else if (n_out == 1) {
      add<Acc32>(yr[0], leaves[leaf]);
    } else {
      const double* lv = leaves + static_cast<int64_t>(leaf) * n_out;
      for (int64_t k = 0; k < n_out; ++k) add<Acc32>(yr[k], lv[k]);
    }
  }

  // walk_acc with find_leaves_rows: tree by tree, kRowGroup rows at a time.
  template <class Node, bool LT, bool Miss, class TX, bool Acc32>
  void walk_rows(int64_t rows, const View& x, const View& y) const {
    const Node* all = reinterpret_cast<const Node*>(nodes);
    for (int64_t t = 0; t < n_trees; ++t) {
      const Node* tree = all + roots[t];
      for (int64_t r0 = 0; r0 < rows; r0 += kRowGroup) {
        const int n = static_cast<int>(std::min<int64_t>(kRowGroup, rows - r0));
        uint32_t leaf[kRowGroup];
        find_leaves_rows<Node, LT, Miss, kRowGroup>(tree, x.row<TX>(r0), x.ld, n, leaf);
        for (int j = 0; j < n; ++j) add_leaf<Acc32>(y.row<double>(r0 + j), t, leaf[j]);
      }
    }
  }

  // walk_acc with find_leaves_trees: row by row, kTreeGroup trees at a time, their leaves
  // added in tree order.
  template <class Node, bool LT, bool Miss, class TX, bool Acc32>
  void walk_trees(int64_t rows, const View& x, const View& y) const {
    const Node* all = reinterpret_cast<const Node*>(nodes);
    const int64_t grouped = n_trees - n_trees % kTreeGroup;
    for (int64_t r = 0; r < rows; ++r) {
      const TX* xr = x.row<TX>(r);
      double* yr = y.row<double>(r);
      for (int64_t t0 = 0; t0 < grouped; t0 += kTreeGroup) {
        uint32_t leaf[kTreeGroup];
        find_leaves_trees<Node, LT, Miss, kTreeGroup>(all, roots + t0, xr, leaf);
        for (int j = 0; j < kTreeGroup; ++j) add_leaf<Acc32>(yr, t0 + j, leaf[j]);
      }
      for (int64_t t = grouped; t < n_trees; ++t)
        add_leaf<Acc32>(yr, t, find_leaf<Node, LT, Miss ? 1 : 0, false>(all + roots[t], xr, cats));
    }
  }

#if defined(__x86_64__)
  // walk_acc with kLanes rows at a time (find_leaves_avx2); the last group repeats row 0 in
  // its spare lanes and drops their results. Sums are added in the same tree order.
  template <bool LT, class TX, bool Acc32>
  void walk_lanes(int64_t rows, const View& x, int64_t x_stride, const View& y) const {
    const Node32* all = reinterpret_cast<const Node32*>(nodes);
    for (int64_t t = 0; t < n_trees; ++t) {
      const Node32* tree = all + roots[t];
      const int64_t col = targets ? targets[t] : 0;
      for (int64_t r0 = 0; r0 < rows; r0 += kLanes) {
        const int n = static_cast<int>(std::min<int64_t>(kLanes, rows - r0));
        uint32_t leaf[kLanes];
        find_leaves_avx2<LT, TX>(tree, x.row<TX>(r0), x_stride, n, leaf);
        if (targets || n_out == 1) {
          for (int j = 0; j < n; ++j) add<Acc32>(y.row<double>(r0 + j)[col], leaves[leaf[j]]);
        } else {
          for (int j = 0; j < n; ++j) {
            const double* lv = leaves + static_cast<int64_t>(leaf[j]) * n_out;
            double* yr = y.row<double>(r0 + j);
            for (int64_t k = 0; k < n_out; ++k) add<Acc32>(yr[k], lv[k]);
          }
        }
      }
    }
  }
#endif

  // AdaBoostRegressor._get_median_predict: the prediction of the tree at which the cumulative
  // weight, in order of increasing prediction, first reaches half the total.
  template <class Node, class TX>
  void weighted_median(int64_t rows, const View& x, const View& y) const {
    std::vector<double> vals(static_cast<size_t>(n_trees));
    std::vector<int64_t> order(static_cast<size_t>(n_trees));
    const Node* all = reinterpret_cast<const Node*>(nodes);
    for (int64_t r = 0; r < rows; ++r) {
      by_flags([&](auto lt, auto miss, auto cat) {
        for (int64_t t = 0; t < n_trees; ++t)
          vals[t] = leaves[find_leaf<Node, decltype(lt)::value, decltype(miss)::value,
                                     decltype(cat)::value>(all + roots[t], x.row<TX>(r), cats)];
      });
      for (int64_t t = 0; t < n_trees; ++t) order[t] = t;
      std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
        return vals[a] < vals[b] || (vals[a] == vals[b] && a < b);
      });
      double total = 0.0;
      for (int64_t t = 0; t < n_trees; ++t) total += median_weights[order[t]];
      const double half = 0.5 * total;
      double cdf = 0.0;
      int64_t pick = order[n_trees - 1];
      for (int64_t t = 0; t < n_trees; ++t) {
        cdf += median_weights[order[t]];
        if (cdf >= half) {
          pick = order[t];
          break;
        }
      }
      y.row<double>(r)[0] = vals[pick];
    }
  }
};

// Validates every tree: children in range and after their parent (so acyclic), feature
// indices below the input width, leaf rows inside the leaf matrix, known flags only.
// A branch-free pass over all nodes finds whether anything is wrong; only then a second,
// slower pass finds the first offending node to name it in the error.
// The scalar check of nodes [from, size) of one tree; see tree_ok.
template <class Node>
bool tree_ok_scalar(const Node* nodes, uint32_t from, uint32_t sz, uint32_t n_features,
                    uint32_t n_leaves, uint32_t* flags_seen) {
  // Read the two trailing 32-bit words of each record directly (records are 4-byte aligned).
  constexpr size_t kWords = sizeof(Node) / 4;
  const uint32_t* w = reinterpret_cast<const uint32_t*>(nodes) + from * kWords + (kWords - 2);
  uint32_t bad = 0, seen = 0;
  for (uint32_t i = from; i < sz; ++i, w += kWords) {
    const uint32_t ff = w[0];
    const uint32_t right = w[1];
    const uint32_t m = (ff >> 31) - 1u;  // all ones for internal nodes, 0 for leaves
    // internal: i < right < sz  <=>  right - i - 1 < sz - i - 1 (unsigned); leaf: right < n_leaves
    const uint32_t val = right - ((i + 1u) & m);
    const uint32_t lim = ((sz - i - 1u) & m) | (n_leaves & ~m);
    bad |= static_cast<uint32_t>(val >= lim);
    bad |= static_cast<uint32_t>(((ff & trees::kFeatureMask) & m) >= n_features);
    bad |= ff & (trees::kFlagMask & ~trees::kKnownFlags);
    seen |= ff & m;
  }
  *flags_seen |= seen;
  return bad == 0;
}

#if defined(__x86_64__)
// The feature_flags and right words of eight consecutive records, gathered into lanes from
// plain 256-bit loads with permutes and blends (12-byte Node32: three loads; 16-byte Node64:
// four). kWords: 32-bit words per eight records.
struct Node32Lanes {
  static constexpr uint32_t kWords = 24;
  __attribute__((target("avx2"))) static void load(const uint32_t* w, __m256i* ff, __m256i* rt) {
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w));
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 8));
    const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 16));
    // ff at words 1,4,7 | 10,13 | 16,19,22; right at 2,5 | 8,11,14 | 17,20,23
    *ff = _mm256_blend_epi32(
        _mm256_blend_epi32(_mm256_permutevar8x32_epi32(a, _mm256_setr_epi32(1, 4, 7, 0, 0, 0, 0, 0)),
                           _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 0, 0, 2, 5, 0, 0, 0)),
                           0x18),
        _mm256_permutevar8x32_epi32(c, _mm256_setr_epi32(0, 0, 0, 0, 0, 0, 3, 6)), 0xE0);
    *rt = _mm256_blend_epi32(
        _mm256_blend_epi32(_mm256_permutevar8x32_epi32(a, _mm256_setr_epi32(2, 5, 0, 0, 0, 0, 0, 0)),
                           _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 0, 0, 3, 6, 0, 0, 0)),
                           0x1C),
        _mm256_permutevar8x32_epi32(c, _mm256_setr_epi32(0, 0, 0, 0, 0, 1, 4, 7)), 0xE0);
  }
};

struct Node64Lanes {
  static constexpr uint32_t kWords = 32;
  // word `perm` of each of the eight records held by a..d (two per register)
  __attribute__((target("avx2"))) static __m256i pick(__m256i a, __m256i b, __m256i c,
                                                      __m256i d, __m256i perm) {
    return _mm256_blend_epi32(
        _mm256_blend_epi32(_mm256_permutevar8x32_epi32(a, perm),
                           _mm256_permutevar8x32_epi32(b, perm), 0x0C),
        _mm256_blend_epi32(_mm256_permutevar8x32_epi32(c, perm),
                           _mm256_permutevar8x32_epi32(d, perm), 0xC0),
        0xF0);
  }
  __attribute__((target("avx2"))) static void load(const uint32_t* w, __m256i* ff, __m256i* rt) {
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w));
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 8));
    const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 16));
    const __m256i d = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 24));
    *ff = pick(a, b, c, d, _mm256_setr_epi32(2, 6, 2, 6, 2, 6, 2, 6));
    *rt = pick(a, b, c, d, _mm256_setr_epi32(3, 7, 3, 7, 3, 7, 3, 7));
  }
};

// tree_ok_scalar's checks, eight records at a time: unsigned compares as max/equal. Returns
// how many nodes it checked (a multiple of 8).
template <class Lanes, class Node>
__attribute__((target("avx2"))) uint32_t tree_ok_avx2(const Node* nodes, uint32_t sz,
                                                      uint32_t n_features, uint32_t n_leaves,
                                                      uint32_t* bad_out, uint32_t* seen_out) {
  const uint32_t* w = reinterpret_cast<const uint32_t*>(nodes);
  const __m256i feat_mask = _mm256_set1_epi32(static_cast<int>(trees::kFeatureMask));
  const __m256i unknown = _mm256_set1_epi32(
      static_cast<int>(trees::kFlagMask & ~trees::kKnownFlags));
  const __m256i nf = _mm256_set1_epi32(static_cast<int>(n_features));
  const __m256i nl = _mm256_set1_epi32(static_cast<int>(n_leaves));
  const __m256i vsz = _mm256_set1_epi32(static_cast<int>(sz));
  __m256i idx = _mm256_setr_epi32(1, 2, 3, 4, 5, 6, 7, 8);  // i + 1
  const __m256i eight = _mm256_set1_epi32(8);
  const __m256i zero = _mm256_setzero_si256();
  __m256i bad = zero, seen = zero;
  uint32_t i = 0;
  for (; i + 8 <= sz; i += 8, w += Lanes::kWords) {
    __m256i ff, rt;
    Lanes::load(w, &ff, &rt);
    const __m256i m = _mm256_cmpeq_epi32(_mm256_srli_epi32(ff, 31), zero);  // internal
    const __m256i val = _mm256_sub_epi32(rt, _mm256_and_si256(idx, m));
    const __m256i lim = _mm256_or_si256(_mm256_and_si256(_mm256_sub_epi32(vsz, idx), m),
                                        _mm256_andnot_si256(m, nl));
    // unsigned a >= b  <=>  max(a, b) == a
    bad = _mm256_or_si256(bad, _mm256_cmpeq_epi32(_mm256_max_epu32(val, lim), val));
    const __m256i feat = _mm256_and_si256(_mm256_and_si256(ff, feat_mask), m);
    bad = _mm256_or_si256(bad, _mm256_cmpeq_epi32(_mm256_max_epu32(feat, nf), feat));
    bad = _mm256_or_si256(bad, _mm256_and_si256(ff, unknown));
    seen = _mm256_or_si256(seen, _mm256_and_si256(ff, m));
    idx = _mm256_add_epi32(idx, eight);
  }
  alignas(32) uint32_t lanes[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), bad);
  uint32_t b_all = 0;
  for (uint32_t v : lanes) b_all |= v;
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), seen);
  uint32_t s_all = 0;
  for (uint32_t v : lanes) s_all |= v;
  *bad_out |= b_all;
  *seen_out |= s_all;
  return i;
}

bool cpu_has_avx2() {
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
  }();
  return has;
}
#endif

// Checks one tree (nodes of a tree are numbered from 0): children in range and after their
// parent (so acyclic), feature indices below the input width, leaf rows inside the leaf
// matrix, known flags only. Branch-free; only when it fails does a slower pass (tree_error)
// find the offending node to name it.
template <class Node>
bool tree_ok(const Node* nodes, int64_t size, uint32_t n_features, uint32_t n_leaves,
             uint32_t* flags_seen) {
  const uint32_t sz = static_cast<uint32_t>(size);
  uint32_t from = 0;
#if defined(__x86_64__)
  if (cpu_has_avx2()) {
    uint32_t bad = 0;
    if constexpr (std::is_same_v<Node, trees::Node32>)
      from = tree_ok_avx2<Node32Lanes>(nodes, sz, n_features, n_leaves, &bad, flags_seen);
    else
      from = tree_ok_avx2<Node64Lanes>(nodes, sz, n_features, n_leaves, &bad, flags_seen);
    if (bad) return false;
  }
#endif
  return tree_ok_scalar(nodes, from, sz, n_features, n_leaves, flags_seen);
}

template <class Node>
Status tree_error(const NodeBuild& b, int64_t t, const Node* nodes, int64_t size,
                  int64_t n_features, int64_t n_leaves) {
  for (int64_t i = 0; i < size; ++i) {
    const Node& nd = nodes[i];
    const uint32_t ff = nd.feature_flags;
    const std::string at = "tree " + std::to_string(t) + " node " + std::to_string(i) + ": ";
    if ((ff & trees::kFlagMask) & ~trees::kKnownFlags) return b.error(at + "unknown flags");
    if (ff & trees::kLeaf) {
      if (static_cast<int64_t>(nd.right) >= n_leaves)
        return b.error(at + "leaf row " + std::to_string(nd.right) + " is outside [0, " +
                       std::to_string(n_leaves) + ")");
      continue;
    }
    if (static_cast<int64_t>(ff & trees::kFeatureMask) >= n_features)
      return b.error(at + "feature " + std::to_string(ff & trees::kFeatureMask) +
                     " is beyond the input's " + std::to_string(n_features) + " features");
    if (static_cast<int64_t>(nd.right) <= i || static_cast<int64_t>(nd.right) >= size)
      return b.error(at + "child index out of range (children must follow their parent "
                     "inside the tree)");
  }
  return b.error("tree " + std::to_string(t) + ": invalid");
}

template <class Node>
Status check_trees(const NodeBuild& b, const Node* nodes, int64_t n_nodes, const int32_t* roots,
                   int64_t n_trees, int64_t n_features, int64_t n_leaves, bool* has_missing,
                   bool* has_cat, bool* lanes_ok, bool* has_zero) {
  if (n_features > static_cast<int64_t>(trees::kMaxFeatures) || n_leaves >= (int64_t(1) << 32))
    return b.error("too many features or leaves for tree nodes");
  int64_t largest = 0;  // nodes of the largest tree
  for (int64_t t = 0; t < n_trees; ++t) {
    const int64_t start = roots[t];
    const int64_t end = t + 1 < n_trees ? roots[t + 1] : n_nodes;
    largest = std::max(largest, end - start);
    if (start < 0 || end <= start || end > n_nodes)
      return b.error("tree " + std::to_string(t) + ": root offsets must increase within the " +
                     "node array");
  }
  // Large ensembles are checked on all cores (this is most of the load time of a big forest);
  // below a few hundred thousand nodes the check takes less time than waking the pool.
  const int nt = n_nodes > 262144 ? threads::default_threads() : 1;
  std::vector<uint32_t> seen_by(static_cast<size_t>(nt), 0);
  std::vector<int64_t> bad_by(static_cast<size_t>(nt), -1);
  auto check = [&](int slot, int64_t t0, int64_t t1) {
    // accumulated here and stored once per range: the slots share a cache line
    uint32_t seen = 0;
    int64_t bad = -1;
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t start = roots[t];
      const int64_t end = t + 1 < n_trees ? roots[t + 1] : n_nodes;
      uint32_t s = 0;
      if (!tree_ok(nodes + start, end - start, static_cast<uint32_t>(n_features),
                   static_cast<uint32_t>(n_leaves), &s))
        bad = std::max(bad, t);
      seen |= s;
    }
    seen_by[slot] |= seen;
    bad_by[slot] = std::max(bad_by[slot], bad);
  };
  threads::parallel_for(nt, n_trees, std::max<int64_t>(1, n_trees / (int64_t(nt) * 4)), check);
  uint32_t seen = 0;
  int64_t first_bad = -1;
  for (int k = 0; k < nt; ++k) {
    seen |= seen_by[k];
    first_bad = std::max(first_bad, bad_by[k]);
  }
  if (first_bad >= 0) {
    const int64_t start = roots[first_bad];
    const int64_t end = first_bad + 1 < n_trees ? roots[first_bad + 1] : n_nodes;
    return tree_error(b, first_bad, nodes + start, end - start, n_features, n_leaves);
  }
  *has_cat = (seen & trees::kCategorical) != 0;
  *has_missing = (seen & trees::kMissingMask) != 0;
  // The AVX2 walk addresses a node's words as 32-bit lane offsets (3 words per Node32 record)
  *lanes_ok = !*has_cat && largest <= INT32_MAX / 3;
  // the "zero" rules (values 2 and 3) have the field's high bit; "none"/"NaN" do not
  *has_zero = (seen & (2u << trees::kMissingShift)) != 0;
  return Status::OK();
}

// Validates the category-set tables and every categorical node's set references.
template <class Node>
Status check_category_refs(const NodeBuild& b, const Node* nodes, int64_t n_nodes,
                           uint32_t n_sets) {
  for (int64_t i = 0; i < n_nodes; ++i) {
    const uint32_t ff = nodes[i].feature_flags;
    if ((ff & trees::kLeaf) || !(ff & trees::kCategorical)) continue;
    uint32_t left, known;
    category_refs(nodes[i], &left, &known);
    if (left >= n_sets || (known != kNoSet && known >= n_sets))
      return b.error("node " + std::to_string(i) + ": category set index out of range");
  }
  return Status::OK();
}

// The names of category rules in files written before version 1.3, and the aspects each one
// means (docs/FORMAT.md 11.2).
struct NamedRule {
  const char* name;
  const char* cast;
  const char* nan;
  const char* invalid;
  const char* side;
  bool known;
};
constexpr NamedRule kNamedRules[] = {
    {"hist_gradient_boosting", "truncate_uint8", "default", "default", "left", true},
    {"xgboost", "float32_truncate", "default", "not_in_set", "right", false},
    {"lightgbm", "truncate_int32", "not_in_set", "not_in_set", "left", false},
};

// The category rule's five aspects, or the one `category_rule` name that files written before
// version 1.3 carry, mapped onto them.
Status category_rule(const NodeBuild& b, CategorySets* cats) {
  const bool named = b.has("category_rule");
  for (const char* key : {"category_cast", "category_nan", "category_invalid", "category_set",
                          "category_known"})
    if (named && b.has(key))
      return b.error(std::string("'category_rule' (the rule's name in files before version "
                                 "1.3) and '") + key + "' cannot both be given");
  std::string cast, nan, invalid, side;
  bool known = false;
  if (named) {
    std::string name;
    MLE_RETURN_IF_ERROR(b.string("category_rule", &name));
    // the schema allows only these names
    for (const NamedRule& r : kNamedRules) {
      if (name != r.name) continue;
      cast = r.cast;
      nan = r.nan;
      invalid = r.invalid;
      side = r.side;
      known = r.known;
    }
  } else {
    MLE_RETURN_IF_ERROR(b.string("category_cast", &cast));
    MLE_RETURN_IF_ERROR(b.string("category_nan", &nan));
    MLE_RETURN_IF_ERROR(b.string("category_invalid", &invalid));
    MLE_RETURN_IF_ERROR(b.string("category_set", &side));
    MLE_RETURN_IF_ERROR(b.boolean_or("category_known", false, &known));
  }
  // The values were checked against the op's schema before the factory ran.
  cats->cast = cast == "float32_truncate" ? CategoryCast::kFloat32Truncate
               : cast == "truncate_int32" ? CategoryCast::kTruncateInt32
                                          : CategoryCast::kTruncateUint8;
  cats->nan_default = nan == "default";
  cats->invalid_default = invalid == "default";
  cats->set_left = side == "left";
  cats->known = known;
  return Status::OK();
}

Status check_categories(const NodeBuild& b, TreeEnsemble& e, int64_t n_nodes) {
  const TensorRef *off, *words;
  MLE_RETURN_IF_ERROR(b.tensor("cat_offsets", DType::kU32, {-1}, &off));
  MLE_RETURN_IF_ERROR(b.tensor("cat_words", DType::kU32, {-1}, &words));
  MLE_RETURN_IF_ERROR(category_rule(b, &e.cats));
  const int64_t n_sets = off->shape[0] - 1;
  if (n_sets < 1 || n_sets >= kNoSet) return b.error("cat_offsets must list at least one set");
  const uint32_t* o = off->as<uint32_t>();
  if (o[0] != 0) return b.error("cat_offsets must start at 0");
  for (int64_t k = 0; k < n_sets; ++k)
    if (o[k + 1] < o[k] || static_cast<int64_t>(o[k + 1]) > words->shape[0])
      return b.error("cat_offsets must increase and stay inside cat_words");
  e.cats.offsets = o;
  e.cats.words = words->as<uint32_t>();
  if (e.wide)
    return check_category_refs(b, reinterpret_cast<const Node64*>(e.nodes), n_nodes,
                               static_cast<uint32_t>(n_sets));
  return check_category_refs(b, reinterpret_cast<const Node32*>(e.nodes), n_nodes,
                             static_cast<uint32_t>(n_sets));
}

// The binned-input tables (docs/FORMAT.md 11.3): all three or none; node32 records without
// categorical nodes or "zero" missing-value rules; each feature's thresholds strictly
// increasing and not NaN, fewer than 2^24 of them (bins are exact float32 integers).
Status check_bins(const NodeBuild& b, TreeEnsemble& e, bool median) {
  const int have = b.has("bin_offsets") + b.has("bin_thresholds") + b.has("bin_missing");
  if (have == 0) return Status::OK();
  if (have != 3)
    return b.error("bin_offsets, bin_thresholds and bin_missing must be given together");
  if (e.wide) return b.error("binned input needs node_format 'node32'");
  if (e.has_cat) return b.error("binned input cannot be combined with categorical nodes");
  if (e.has_zero)
    return b.error("binned input cannot be combined with the 'zero' missing-value rules "
                   "(bin_missing applies them)");
  if (median) return b.error("binned input cannot be combined with 'weighted_median'");
  const int64_t nf = e.n_features;
  const TensorRef *off, *thr, *miss;
  MLE_RETURN_IF_ERROR(b.tensor("bin_offsets", DType::kU32, {nf + 1}, &off));
  MLE_RETURN_IF_ERROR(b.tensor("bin_thresholds", DType::kF64, {-1}, &thr));
  MLE_RETURN_IF_ERROR(b.tensor("bin_missing", DType::kU8, {nf}, &miss));
  const uint32_t* o = off->as<uint32_t>();
  const double* t = thr->as<double>();
  const uint8_t* m = miss->as<uint8_t>();
  if (o[0] != 0) return b.error("bin_offsets must start at 0");
  for (int64_t c = 0; c < nf; ++c) {
    const std::string at = "feature " + std::to_string(c) + ": ";
    if (o[c + 1] < o[c] || static_cast<int64_t>(o[c + 1]) > thr->shape[0])
      return b.error("bin_offsets must increase and stay inside bin_thresholds");
    if (o[c + 1] - o[c] >= (uint32_t(1) << 24))
      return b.error(at + "2^24 or more bin thresholds");
    for (uint32_t j = o[c]; j < o[c + 1]; ++j)
      if (std::isnan(t[j]) || (j > o[c] && !(t[j - 1] < t[j])))
        return b.error(at + "bin thresholds must be strictly increasing and not NaN");
    if (m[c] > 2) return b.error(at + "bin_missing must be 0, 1 or 2");
  }
  e.bin_offsets = o;
  e.bin_thresholds = t;
  e.bin_missing = m;
  e.bin_lt = e.lt;
  e.lt = false;  // the nodes compare bins with '<='
  return Status::OK();
}

Status make_tree_ensemble(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  ValueInfo in;
  MLE_RETURN_IF_ERROR(b.float_input(&in));
  std::string fmt, agg, cmp;
  MLE_RETURN_IF_ERROR(b.string("node_format", &fmt));
  MLE_RETURN_IF_ERROR(b.string("aggregate", &agg));
  MLE_RETURN_IF_ERROR(b.string("compare", &cmp));
  if (fmt != "node32" && fmt != "node64")
    return b.error("node_format must be 'node32' or 'node64', got '" + fmt + "'");
  if (agg != "sum" && agg != "mean" && agg != "weighted_median")
    return b.error("aggregate must be 'sum', 'mean' or 'weighted_median'");
  if (cmp != "<" && cmp != "<=") return b.error("compare must be '<' or '<='");
  auto e = std::make_unique<TreeEnsemble>();
  e->wide = fmt == "node64";
  e->average = agg == "mean";
  e->lt = cmp == "<";
  std::string acc;
  MLE_RETURN_IF_ERROR(b.string_or("accumulate", "float64", &acc));
  if (acc != "float64" && acc != "float32")
    return b.error("accumulate must be 'float64' or 'float32', got '" + acc + "'");
  e->acc32 = acc == "float32";
  const int64_t rec = e->wide ? sizeof(Node64) : sizeof(Node32);
  const TensorRef *nodes, *roots, *leaves, *base;
  MLE_RETURN_IF_ERROR(b.tensor("nodes", DType::kU8, {-1, rec}, &nodes));
  MLE_RETURN_IF_ERROR(b.tensor("roots", DType::kI32, {-1}, &roots));
  MLE_RETURN_IF_ERROR(b.tensor("leaves", DType::kF64, {-1, -1}, &leaves));
  if (roots->shape[0] == 0) return b.error("ensemble has no trees");
  if (leaves->shape[1] == 0) return b.error("leaf values have no columns");
  // With `targets`, every leaf holds one value and tree t adds it to column targets[t] of
  // `n_outputs` (a tree per class and round, as gradient boosting builds them).
  const TensorRef* targets;
  MLE_RETURN_IF_ERROR(b.tensor("targets", DType::kI32, {roots->shape[0]}, &targets, true));
  int64_t n_out = leaves->shape[1];
  if (targets) {
    double n_outputs;
    MLE_RETURN_IF_ERROR(b.number("n_outputs", &n_outputs));
    if (!(n_outputs >= 1 && n_outputs <= 65536) || n_outputs != static_cast<int64_t>(n_outputs))
      return b.error("n_outputs must be an integer in [1, 65536]");
    if (leaves->shape[1] != 1) return b.error("with targets, leaves must have one column");
    n_out = static_cast<int64_t>(n_outputs);
    for (int64_t t = 0; t < roots->shape[0]; ++t)
      if (targets->as<int32_t>()[t] < 0 || targets->as<int32_t>()[t] >= n_out)
        return b.error("tree " + std::to_string(t) + ": target column out of range");
    e->targets = targets->as<int32_t>();
  }
  MLE_RETURN_IF_ERROR(b.tensor("base", DType::kF64, {n_out}, &base, true));
  // Every output column is backed by the file: by a base value, or by a tree adding to it.
  if (targets && !base && n_out > roots->shape[0])
    return b.error("n_outputs is " + std::to_string(n_out) + " but there are only " +
                   std::to_string(roots->shape[0]) + " trees and no base: some output " +
                   "columns would come from no stored number");
  if (nodes->shape[0] > (int64_t(1) << 31)) return b.error("too many nodes");
  if (reinterpret_cast<uintptr_t>(nodes->data) % (e->wide ? 8 : 4) != 0)
    return b.error("node records are not aligned to their threshold size");
  e->nodes = nodes->as<uint8_t>();
  e->roots = roots->as<int32_t>();
  e->n_trees = roots->shape[0];
  e->leaves = leaves->as<double>();
  e->n_out = n_out;
  e->base = base ? base->as<double>() : nullptr;
  e->n_features = in.cols;
  if (e->wide)
    MLE_RETURN_IF_ERROR(check_trees(b, reinterpret_cast<const Node64*>(e->nodes),
                                    nodes->shape[0], e->roots, e->n_trees, in.cols,
                                    leaves->shape[0], &e->has_missing, &e->has_cat,
                                    &e->lanes_ok, &e->has_zero));
  else
    MLE_RETURN_IF_ERROR(check_trees(b, reinterpret_cast<const Node32*>(e->nodes),
                                    nodes->shape[0], e->roots, e->n_trees, in.cols,
                                    leaves->shape[0], &e->has_missing, &e->has_cat,
                                    &e->lanes_ok, &e->has_zero));
  if (agg == "weighted_median") {
    const TensorRef* w;
    MLE_RETURN_IF_ERROR(b.tensor("median_weights", DType::kF64, {e->n_trees}, &w));
    if (e->n_out != 1 || base || e->targets)
      return b.error("weighted_median needs one output, no base and no targets");
    e->median_weights = w->as<double>();
  }
  if (e->has_cat) MLE_RETURN_IF_ERROR(check_categories(b, *e, nodes->shape[0]));
  MLE_RETURN_IF_ERROR(check_bins(b, *e, agg == "weighted_median"));
  *out = ValueInfo{e->n_out, ValueKind::kF64};
  *k = std::move(e);
  return Status::OK();
}

}  // namespace

Walk trees::walk_override() { return static_cast<Walk>(g_walk.load(std::memory_order_relaxed)); }
void trees::set_walk_override(Walk w) { g_walk.store(static_cast<int>(w), std::memory_order_relaxed); }

using attr::tensor;

const OpRegistrar kRegistered({
    {"TreeEnsemble", make_tree_ensemble, 1,
     {tensor("nodes", DType::kU8), tensor("roots", DType::kI32), tensor("leaves", DType::kF64),
      tensor("base", DType::kF64, kOptional), tensor("median_weights", DType::kF64, kOptional),
      tensor("targets", DType::kI32, kOptional), attr::number("n_outputs", kOptional),
      tensor("cat_offsets", DType::kU32, kOptional), tensor("cat_words", DType::kU32, kOptional),
      attr::string("category_cast", {"truncate_uint8", "float32_truncate", "truncate_int32"},
                   kOptional),
      attr::string("category_nan", {"default", "not_in_set"}, kOptional),
      attr::string("category_invalid", {"default", "not_in_set"}, kOptional),
      attr::string("category_set", {"left", "right"}, kOptional),
      attr::boolean("category_known", kOptional),
      attr::string("category_rule", {"hist_gradient_boosting", "xgboost", "lightgbm"},
                   kOptional),
      attr::string("accumulate", {"float64", "float32"}, kOptional),
      tensor("bin_offsets", DType::kU32, kOptional),
      tensor("bin_thresholds", DType::kF64, kOptional),
      tensor("bin_missing", DType::kU8, kOptional),
      attr::string("node_format", {"node32", "node64"}),
      attr::string("compare", {"<", "<="}),
      attr::string("aggregate", {"sum", "mean", "weighted_median"})}},
});

}  // namespace mle
