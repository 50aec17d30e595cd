// Nearest neighbours among stored rows (scikit-learn's sklearn.neighbors): the k nearest
// stored rows of each row, found and ordered exactly as scikit-learn finds and orders them,
// and the votes and averages of their targets.
//
// KNearest writes, per row, the k distances (nearest first) then the k row indices (as
// float64). Three searches, as the fitted estimator's `_fit_method` says:
// - "brute": scikit-learn's ArgKmin reduction. Every stored row, in index order, is pushed
//   onto a fixed-size max-heap (a candidate equal to the heap's largest is not taken) keyed by
//   the surrogate distance: for "euclidean" ||x||^2 + (-2 x.y) + ||y||^2 with the cross
//   products from the BLAS product over chunks of 256 stored rows and ||x||^2 from the BLAS
//   dot product (||y||^2 is stored, computed at dump by scikit-learn's own function), clipped
//   at 0; for the other metrics the metric's reduced distance of the differences. When the
//   call's batch is no larger than the stored rows nor than 4 chunks (1024 rows), the heap is
//   then pushed again, in its array order, onto a fresh heap (the merge of ArgKmin's
//   parallel-on-stored-rows strategy, which scikit-learn then uses with one thread; a larger
//   batch is searched in parallel on its rows, without that merge). The heap is sorted with
//   scikit-learn's introsort (insertion sort up to 15 entries, stable), so equal distances
//   keep that order. The choice depends on the whole call's rows (not on the plan's block).
// - "kd_tree", "ball_tree": the stored tree (sklearn.neighbors.KDTree / BallTree arrays:
//   idx_array, node_data, node_bounds) queried depth-first as BinaryTree.query does: a node
//   is trimmed when its lower bound exceeds the heap's largest, leaves push their points in
//   idx_array order, the child with the smaller lower bound first (the left one on equality);
//   then the same sort.
// Reduced distances: euclidean sum (x - y)^2 (distance: sqrt), minkowski sum |x - y|^p
// (distance: r^(1/p)), manhattan sum |x - y|, chebyshev max |x - y|.
//
// NeighborVote (classifiers) and NeighborMean (regressors) read KNearest's output.
#include <cblas.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "mle/dense.h"
#include "mle/kernel.h"
#include "../call_rows.h"

namespace mle {
namespace {

enum class Metric { kEuclidean, kManhattan, kChebyshev, kMinkowski };
enum class Search { kBrute, kKdTree, kBallTree };

constexpr int64_t kChunk = 256;  // scikit-learn's pairwise_dist_chunk_size

// ---------------------------------------------------------------- heap and sort

// A fixed-size max-heap of (value, index) pairs (sklearn.utils._heap.heap_push).
inline void heap_push(double* v, int64_t* ix, int64_t size, double val, int64_t val_idx) {
  if (val >= v[0]) return;
  int64_t cur = 0;
  for (;;) {
    const int64_t l = 2 * cur + 1, r = l + 1;
    int64_t sw;
    if (l >= size) break;
    if (r >= size) {
      if (v[l] > val) sw = l;
      else break;
    } else if (v[l] >= v[r]) {
      if (val < v[l]) sw = l;
      else break;
    } else {
      if (val < v[r]) sw = r;
      else break;
    }
    v[cur] = v[sw];
    ix[cur] = ix[sw];
    cur = sw;
  }
  v[cur] = val;
  ix[cur] = val_idx;
}

inline void swap2(double* v, int64_t* ix, int64_t i, int64_t j) {
  std::swap(v[i], v[j]);
  std::swap(ix[i], ix[j]);
}

void sift_down(double* v, int64_t* ix, int64_t start, int64_t end) {
  int64_t root = start;
  for (;;) {
    const int64_t child = root * 2 + 1;
    int64_t mx = root;
    if (child < end && v[mx] < v[child]) mx = child;
    if (child + 1 < end && v[mx] < v[child + 1]) mx = child + 1;
    if (mx == root) return;
    swap2(v, ix, root, mx);
    root = mx;
  }
}

void heap_sort(double* v, int64_t* ix, int64_t n) {
  int64_t start = (n - 2) / 2;
  for (;;) {
    sift_down(v, ix, start, n);
    if (start == 0) break;
    --start;
  }
  for (int64_t end = n - 1; end > 0; --end) {
    swap2(v, ix, 0, end);
    sift_down(v, ix, 0, end);
  }
}

void insertion_sort(double* v, int64_t* ix, int64_t n) {
  for (int64_t i = 1; i < n; ++i) {
    const double tv = v[i];
    const int64_t ti = ix[i];
    int64_t j = i;
    while (j > 0 && v[j - 1] > tv) {
      v[j] = v[j - 1];
      ix[j] = ix[j - 1];
      --j;
    }
    v[j] = tv;
    ix[j] = ti;
  }
}

// sklearn.utils._sorting.simultaneous_sort (two-way introsort, median of three).
void introsort(double* v, int64_t* ix, int64_t n, int64_t maxd) {
  while (n > 15) {
    if (maxd <= 0) {
      heap_sort(v, ix, n);
      return;
    }
    --maxd;
    const int64_t mid = n / 2;
    if (v[0] > v[n - 1]) swap2(v, ix, 0, n - 1);
    if (v[n - 1] > v[mid]) {
      swap2(v, ix, n - 1, mid);
      if (v[0] > v[n - 1]) swap2(v, ix, 0, n - 1);
    }
    const double pivot = v[n - 1];
    int64_t i = 1, j = n - 2;
    for (;;) {
      while (i <= j && v[i] < pivot) ++i;
      while (i <= j && v[j] > pivot) --j;
      if (i >= j) break;
      swap2(v, ix, i, j);
      ++i;
      --j;
    }
    swap2(v, ix, i, n - 1);
    introsort(v, ix, i, maxd);
    v += i + 1;
    ix += i + 1;
    n -= i + 1;
  }
  insertion_sort(v, ix, n);
}

void simultaneous_sort(double* v, int64_t* ix, int64_t n) {
  if (n == 0) return;
  introsort(v, ix, n, 2 * static_cast<int64_t>(std::log2(static_cast<double>(n))));
}

// ---------------------------------------------------------------- distances

struct MetricFn {
  Metric metric;
  double p;

  double rdist(const double* a, const double* b, int64_t d) const {
    double s = 0.0;
    switch (metric) {
      case Metric::kEuclidean:
        for (int64_t j = 0; j < d; ++j) {
          const double t = a[j] - b[j];
          s += t * t;
        }
        return s;
      case Metric::kManhattan:
        for (int64_t j = 0; j < d; ++j) s += std::fabs(a[j] - b[j]);
        return s;
      case Metric::kChebyshev:
        for (int64_t j = 0; j < d; ++j) s = std::fmax(s, std::fabs(a[j] - b[j]));
        return s;
      case Metric::kMinkowski:
        for (int64_t j = 0; j < d; ++j) s += std::pow(std::fabs(a[j] - b[j]), p);
        return s;
    }
    return s;
  }
  double rdist_to_dist(double r) const {
    if (metric == Metric::kEuclidean) return std::sqrt(r);
    if (metric == Metric::kMinkowski) return std::pow(r, 1.0 / p);
    return r;
  }
  double dist(const double* a, const double* b, int64_t d) const {
    return rdist_to_dist(rdist(a, b, d));
  }
  double dist_to_rdist(double x) const {
    if (metric == Metric::kEuclidean) return x * x;
    if (metric == Metric::kMinkowski) return std::pow(x, p);
    return x;
  }
  // The p of the kd-tree's bound (the metric's p attribute; chebyshev: infinity).
  double tree_p() const {
    switch (metric) {
      case Metric::kEuclidean: return 2.0;
      case Metric::kManhattan: return 1.0;
      case Metric::kChebyshev: return std::numeric_limits<double>::infinity();
      case Metric::kMinkowski: return p;
    }
    return p;
  }
};

const double* as_f64(const View& v, int64_t rows, int64_t cols, int64_t* ld) {
  return rows_as_f64(v, rows, cols, ld);
}

double dot_self(const double* x, int64_t d) {
  if (dense::reference()) {
    double s = 0.0;
    for (int64_t j = 0; j < d; ++j) s += x[j] * x[j];
    return s;
  }
  return scipy_cblas_ddot(static_cast<blasint>(d), x, 1, x, 1);
}

// ---------------------------------------------------------------- KNearest

struct Tree {
  const int64_t* idx = nullptr;    // idx_array (n)
  const int64_t* nodes = nullptr;  // (n_nodes, 3): idx_start, idx_end, is_leaf
  const double* radius = nullptr;  // (n_nodes)
  const double* bounds = nullptr;  // kd: (2, n_nodes, d) lower, upper; ball: (1, n_nodes, d)
  int64_t n_nodes = 0;
};

class KNearest final : public Kernel {
 public:
  KNearest(int64_t n, int64_t d, int64_t k, const double* data, const double* y_sq, MetricFn m,
           Search s, Tree t)
      : n_(n), d_(d), k_(k), data_(data), y_sq_(y_sq), m_(m), search_(s), tree_(t) {}

  double cost_per_row() const override {
    if (search_ == Search::kBrute) return static_cast<double>(n_ * (d_ + 2));
    return static_cast<double>(d_ + 2) * 32.0 * std::log2(static_cast<double>(n_) + 2);
  }
  // float32 rows: scikit-learn's brute-force search (ArgKmin needs X and the stored rows in one
  // dtype) then takes another path, pairwise distances and numpy's argpartition and argsort,
  // whose choice among tied neighbours this search does not reproduce. The tree searches
  // widen float32 rows to float64, as scikit-learn's trees do.
  bool checks_input() const override { return search_ == Search::kBrute; }
  std::string refusal(int64_t, const View* in) const override {
    if (in[0].dtype != DType::kF32) return {};
    return "float32 input to a brute-force nearest-neighbour search is not supported: "
           "scikit-learn searches float32 rows by another method, whose order of tied "
           "neighbours is not reproduced; pass float64 rows (scikit-learn's float64 search)";
  }

  void run(int64_t rows, const View* in, const View& out) const override {
    int64_t ldx;
    const double* x = as_f64(in[0], rows, d_, &ldx);
    thread_local std::vector<double> hv, mv;
    thread_local std::vector<int64_t> hi, mi;
    if (search_ == Search::kBrute) {
      // parallel on the stored rows (whose heaps are merged) unless ArgKmin's "auto"
      // strategy, with one thread, picks parallel on the batch's rows
      // (ArgKmin's strategy depends on the call's rows, not on this block's)
      const int64_t call_rows = current_block_rows().call_rows;
      const bool merge = !(n_ < call_rows || 4 * kChunk < call_rows);
      for (int64_t r0 = 0; r0 < rows; r0 += kChunk) {
        const int64_t m = std::min(kChunk, rows - r0);
        hv.assign(static_cast<size_t>(m * k_), DBL_MAX);
        hi.assign(static_cast<size_t>(m * k_), 0);
        brute(m, x + r0 * ldx, ldx, hv.data(), hi.data());
        for (int64_t i = 0; i < m; ++i)
          finish(hv.data() + i * k_, hi.data() + i * k_, out.row<double>(r0 + i), merge, &mv,
                 &mi);
      }
      return;
    }
    hv.resize(static_cast<size_t>(k_));
    hi.resize(static_cast<size_t>(k_));
    for (int64_t r = 0; r < rows; ++r) {
      std::fill(hv.begin(), hv.end(), std::numeric_limits<double>::infinity());
      std::fill(hi.begin(), hi.end(), 0);
      const double* pt = x + r * ldx;
      query(0, pt, hv.data(), hi.data(), min_rdist(0, pt));
      finish(hv.data(), hi.data(), out.row<double>(r), false, &mv, &mi);
    }
  }

 private:
  // Distances (rows m of x) to every stored row, pushed onto the m heaps in index order.
  void brute(int64_t m, const double* x, int64_t ldx, double* hv, int64_t* hi) const {
    if (m_.metric != Metric::kEuclidean) {
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n_; ++j)
          heap_push(hv + i * k_, hi + i * k_, k_, m_.rdist(x + i * ldx, data_ + j * d_, d_), j);
      return;
    }
    thread_local std::vector<double> mid, xx;
    xx.resize(static_cast<size_t>(m));
    for (int64_t i = 0; i < m; ++i) xx[i] = dot_self(x + i * ldx, d_);
    for (int64_t y0 = 0; y0 < n_; y0 += kChunk) {
      const int64_t ny = std::min(kChunk, n_ - y0);
      mid.resize(static_cast<size_t>(m * ny));
      dense::gemm_nt(m, ny, d_, -2.0, x, ldx, data_ + y0 * d_, d_, 0.0, mid.data(), ny);
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < ny; ++j) {
          double v = (xx[i] + mid[i * ny + j]) + y_sq_[y0 + j];
          v = 0.0 > v ? 0.0 : v;
          heap_push(hv + i * k_, hi + i * k_, k_, v, y0 + j);
        }
    }
  }

  // The heap of one row into its output: re-pushed onto a fresh heap (brute), sorted, the
  // reduced distances turned into distances.
  void finish(double* hv, int64_t* hi, double* o, bool merge, std::vector<double>* mv,
              std::vector<int64_t>* mi) const {
    if (merge) {
      mv->assign(static_cast<size_t>(k_), DBL_MAX);
      mi->assign(static_cast<size_t>(k_), 0);
      for (int64_t j = 0; j < k_; ++j) heap_push(mv->data(), mi->data(), k_, hv[j], hi[j]);
      hv = mv->data();
      hi = mi->data();
    }
    simultaneous_sort(hv, hi, k_);
    for (int64_t j = 0; j < k_; ++j) {
      const double r = merge ? std::max(hv[j], 0.0) : hv[j];
      o[j] = m_.rdist_to_dist(r);
      o[k_ + j] = static_cast<double>(hi[j]);
    }
  }

  double min_rdist(int64_t node, const double* pt) const {
    if (search_ == Search::kKdTree) {
      const double* lo = tree_.bounds + node * d_;
      const double* hi = tree_.bounds + (tree_.n_nodes + node) * d_;
      const double p = m_.tree_p();
      double rd = 0.0;
      for (int64_t j = 0; j < d_; ++j) {
        const double dlo = lo[j] - pt[j], dhi = pt[j] - hi[j];
        const double dd = (dlo + std::fabs(dlo)) + (dhi + std::fabs(dhi));
        if (std::isinf(p))
          rd = std::fmax(rd, 0.5 * dd);
        else
          rd += std::pow(0.5 * dd, p);
      }
      return rd;
    }
    const double dist = m_.dist(pt, tree_.bounds + node * d_, d_);
    return m_.dist_to_rdist(std::fmax(0.0, dist - tree_.radius[node]));
  }

  void query(int64_t node, const double* pt, double* hv, int64_t* hi, double lb) const {
    const int64_t* nd = tree_.nodes + 3 * node;
    if (lb > hv[0]) return;
    if (nd[2] != 0) {
      for (int64_t i = nd[0]; i < nd[1]; ++i) {
        const int64_t row = tree_.idx[i];
        heap_push(hv, hi, k_, m_.rdist(pt, data_ + row * d_, d_), row);
      }
      return;
    }
    const int64_t c1 = 2 * node + 1, c2 = c1 + 1;
    const double lb1 = min_rdist(c1, pt), lb2 = min_rdist(c2, pt);
    if (lb1 <= lb2) {
      query(c1, pt, hv, hi, lb1);
      query(c2, pt, hv, hi, lb2);
    } else {
      query(c2, pt, hv, hi, lb2);
      query(c1, pt, hv, hi, lb1);
    }
  }

  int64_t n_, d_, k_;
  const double* data_;
  const double* y_sq_;
  MetricFn m_;
  Search search_;
  Tree tree_;
};

// The stored rows, metric and search of a KNearest or RadiusNeighbors node, validated.
struct Stored {
  int64_t n = 0, d = 0;
  const double* data = nullptr;
  const double* y_sq = nullptr;
  MetricFn m{Metric::kEuclidean, 2.0};
  Search s = Search::kBrute;
  Tree t;
};

// The bounds of the distance from pt to tree node `node`, as scikit-learn's min_max_dist
// computes them: a ball's centre distance minus and plus its radius; a box's per-axis gaps.
void node_min_max_dist(const Stored& st, int64_t node, const double* pt, double* lo_out,
                       double* hi_out) {
  const int64_t d = st.d;
  if (st.s == Search::kBallTree) {
    const double dp = st.m.dist(pt, st.t.bounds + node * d, d);
    const double rad = st.t.radius[node];
    *lo_out = std::fmax(0.0, dp - rad);
    *hi_out = dp + rad;
    return;
  }
  const double* lo = st.t.bounds + node * d;
  const double* hi = st.t.bounds + (st.t.n_nodes + node) * d;
  const double p = st.m.tree_p();
  double mn = 0.0, mx = 0.0;
  for (int64_t j = 0; j < d; ++j) {
    const double dlo = lo[j] - pt[j], dhi = pt[j] - hi[j];
    const double dd = (dlo + std::fabs(dlo)) + (dhi + std::fabs(dhi));
    if (std::isinf(p)) {
      mn = std::fmax(mn, 0.5 * dd);
      mx = std::fmax(mx, std::fabs(dlo));
      mx = std::fmax(mx, std::fabs(dhi));
    } else {
      mn += std::pow(0.5 * dd, p);
      mx += std::pow(std::fmax(std::fabs(dlo), std::fabs(dhi)), p);
    }
  }
  if (!std::isinf(p)) {
    mn = std::pow(mn, 1.0 / p);
    mx = std::pow(mx, 1.0 / p);
  }
  *lo_out = mn;
  *hi_out = mx;
}

Status parse_stored(const NodeBuild& b, Stored* st) {
  ValueInfo in;
  MLE_RETURN_IF_ERROR(b.float_input(&in));
  const TensorRef* data;
  MLE_RETURN_IF_ERROR(b.tensor("data", DType::kF64, {-1, in.cols}, &data));
  const int64_t n = data->shape[0], d = in.cols;
  if (n == 0) return b.error("data has no rows");
  std::string metric, algorithm;
  MLE_RETURN_IF_ERROR(b.string("metric", &metric));
  MLE_RETURN_IF_ERROR(b.string("algorithm", &algorithm));
  MetricFn m{Metric::kEuclidean, 2.0};
  if (metric == "euclidean") m.metric = Metric::kEuclidean;
  else if (metric == "manhattan") m.metric = Metric::kManhattan;
  else if (metric == "chebyshev") m.metric = Metric::kChebyshev;
  else if (metric == "minkowski") m.metric = Metric::kMinkowski;
  else return b.error("unknown metric '" + metric + "'");
  if (m.metric == Metric::kMinkowski) {
    if (!b.has("p")) return b.error("metric 'minkowski' needs p");
    MLE_RETURN_IF_ERROR(b.number("p", &m.p));
    if (!(m.p >= 1.0) || !std::isfinite(m.p)) return b.error("p must be finite and >= 1");
  } else if (b.has("p")) {
    return b.error("p is only for metric 'minkowski'");
  }
  Search s;
  if (algorithm == "brute") s = Search::kBrute;
  else if (algorithm == "kd_tree") s = Search::kKdTree;
  else if (algorithm == "ball_tree") s = Search::kBallTree;
  else return b.error("unknown algorithm '" + algorithm + "'");
  const TensorRef* ysq = nullptr;
  MLE_RETURN_IF_ERROR(b.tensor("row_sq_norms", DType::kF64, {n}, &ysq, true));
  if (s == Search::kBrute && m.metric == Metric::kEuclidean && ysq == nullptr)
    return b.error("brute euclidean search needs row_sq_norms");
  if (ysq != nullptr && !(s == Search::kBrute && m.metric == Metric::kEuclidean))
    return b.error("row_sq_norms is only for brute euclidean search");
  if (s == Search::kBrute && d > 2147483647) return b.error("too many features");
  Tree t;
  const bool tree = s != Search::kBrute;
  for (const char* key : {"tree_index", "tree_nodes", "tree_radius", "tree_bounds"})
    if (b.has(key) != tree)
      return b.error(std::string(key) + (tree ? " is required by a tree search"
                                              : " is only for a tree search"));
  if (tree) {
    const TensorRef *idx, *nodes, *radius, *bounds;
    MLE_RETURN_IF_ERROR(b.tensor("tree_index", DType::kI64, {n}, &idx));
    MLE_RETURN_IF_ERROR(b.tensor("tree_nodes", DType::kI64, {-1, 3}, &nodes));
    t.n_nodes = nodes->shape[0];
    if (t.n_nodes == 0) return b.error("tree_nodes is empty");
    MLE_RETURN_IF_ERROR(b.tensor("tree_radius", DType::kF64, {t.n_nodes}, &radius));
    MLE_RETURN_IF_ERROR(b.tensor("tree_bounds", DType::kF64,
                                 {s == Search::kKdTree ? 2 : 1, t.n_nodes, d}, &bounds));
    t.idx = idx->as<int64_t>();
    t.nodes = nodes->as<int64_t>();
    t.radius = radius->as<double>();
    t.bounds = bounds->as<double>();
    for (int64_t i = 0; i < n; ++i)
      if (t.idx[i] < 0 || t.idx[i] >= n) return b.error("tree_index out of range");
    for (int64_t i = 0; i < t.n_nodes; ++i) {
      const int64_t* nd = t.nodes + 3 * i;
      if (nd[0] < 0 || nd[0] > nd[1] || nd[1] > n)
        return b.error("tree_nodes: a node's point range is out of bounds");
      if (nd[2] != 0 && nd[2] != 1) return b.error("tree_nodes: is_leaf must be 0 or 1");
      // An inner node's children (2i + 1, 2i + 2) must exist: they come after it, so the
      // descent ends.
      if (nd[2] == 0 && (i > (t.n_nodes - 3) / 2 || 2 * i + 2 >= t.n_nodes))
        return b.error("tree_nodes: an inner node has no children");
    }
  }
  *st = Stored{n, d, data->as<double>(), ysq ? ysq->as<double>() : nullptr, m, s, t};
  return Status::OK();
}

Status make_knearest(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  Stored st;
  MLE_RETURN_IF_ERROR(parse_stored(b, &st));
  double kk;
  MLE_RETURN_IF_ERROR(b.number("k", &kk));
  if (!(kk >= 1 && kk <= static_cast<double>(st.n) && kk == std::floor(kk)))
    return b.error("k must be an integer in [1, the number of stored rows]");
  const int64_t nk = static_cast<int64_t>(kk);
  if (nk > (int64_t{1} << 24)) return b.error("k is too large");
  k->reset(new KNearest(st.n, st.d, nk, st.data, st.y_sq, st.m, st.s, st.t));
  *out = ValueInfo{2 * nk, ValueKind::kF64};
  return Status::OK();
}

// ---------------------------------------------------------------- RadiusNeighbors

// The stored rows within `radius` of each row, as scikit-learn's radius_neighbors finds them
// (unsorted), aggregated at once (their number varies): brute: every stored row in index
// order whose surrogate distance is <= the reduced radius (euclidean: the ArgKmin form above
// against radius^2); trees: BinaryTree.query_radius's depth-first walk (a node whose lower
// bound exceeds the radius is skipped; one whose upper bound is within it gives all its points;
// a leaf checks each; children left first). Outputs: "mean" (NaN without neighbours),
// "proba" (weights added per class in neighbour order, the row given 1 at `outlier_index`
// when it has no neighbour, divided by the pairwise sum unless that is 0), "predict" (the
// first largest of "proba", or the class `outlier_predict` for a row of zeros), "graph" (the
// neighbours themselves, for radius_neighbors_graph: n distances then n stored-row indices,
// the row's neighbours first, padded with distance 0 and index -1; with `sort_results` sorted
// as scikit-learn sorts them: brute on the surrogate distances, trees on the distances, by
// its simultaneous_sort).
enum class RadiusOut { kMean, kProba, kPredict, kGraph };

void neighbor_weights(const double* dist, int64_t k, bool distance, double* w);

class RadiusNeighbors final : public Kernel {
 public:
  RadiusNeighbors(Stored st, double radius, bool distance, RadiusOut o, int64_t q,
                  const double* y, const int64_t* codes, int64_t n_classes,
                  int64_t outlier_index, int64_t outlier_predict, bool refuse_outliers,
                  bool sort_results = false)
      : st_(st), radius_(radius), distance_(distance), out_(o), q_(q), y_(y), codes_(codes),
        c_(n_classes), outlier_index_(outlier_index), outlier_predict_(outlier_predict),
        refuse_(refuse_outliers), sort_(sort_results) {}

  double cost_per_row() const override { return static_cast<double>(st_.n * (st_.d + 2)); }
  bool checks_input() const override { return refuse_ || st_.s == Search::kBrute; }

  std::string refusal(int64_t rows, const View* in) const override {
    // float32 rows: scikit-learn's brute-force radius search takes another path (pairwise
    // distances; for classifiers without its class-mode reduction, so outliers' probabilities
    // follow the other rule): refused as KNearest refuses them.
    if (st_.s == Search::kBrute && in[0].dtype == DType::kF32)
      return "float32 input to a brute-force nearest-neighbour search is not supported: "
             "scikit-learn searches float32 rows by another method, which is not reproduced; "
             "pass float64 rows (scikit-learn's float64 search)";
    if (!refuse_) return {};
    bool empty = false;
    each_row(rows, in, [&](int64_t, const std::vector<double>& dist,
                           const std::vector<int64_t>&, const std::vector<double>&) {
      empty = empty || dist.empty();
    });
    if (!empty) return {};
    return "No neighbors found for some test samples, you can try using larger radius, giving "
           "a label for outliers, or considering removing them from your dataset.";
  }

  void run(int64_t rows, const View* in, const View& out) const override {
    thread_local std::vector<double> w, t, proba, keys;
    thread_local std::vector<int64_t> order;
    each_row(rows, in, [&](int64_t r, const std::vector<double>& dist,
                           const std::vector<int64_t>& idx, const std::vector<double>& key) {
      const int64_t m = static_cast<int64_t>(dist.size());
      if (out_ == RadiusOut::kGraph) {
        double* o = out.row<double>(r);
        const int64_t n = st_.n;
        std::fill(o, o + n, 0.0);
        std::fill(o + n, o + 2 * n, -1.0);
        if (!sort_) {
          for (int64_t j = 0; j < m; ++j) {
            o[j] = dist[j];
            o[n + j] = static_cast<double>(idx[j]);
          }
          return;
        }
        keys.assign(key.begin(), key.end());
        order.assign(idx.begin(), idx.end());
        if (m > 0) simultaneous_sort(keys.data(), order.data(), m);
        for (int64_t j = 0; j < m; ++j) {
          o[j] = st_.s == Search::kBrute ? st_.m.rdist_to_dist(std::max(keys[j], 0.0)) : keys[j];
          o[n + j] = static_cast<double>(order[j]);
        }
        return;
      }
      w.resize(static_cast<size_t>(m));
      neighbor_weights(dist.data(), m, distance_, w.data());
      if (out_ == RadiusOut::kMean) {
        double* o = out.row<double>(r);
        if (m == 0) {
          std::fill(o, o + q_, std::numeric_limits<double>::quiet_NaN());
          return;
        }
        t.resize(static_cast<size_t>(m));
        const double denom = distance_ ? dense::pairwise_sum(w.data(), m) : 0.0;
        for (int64_t c = 0; c < q_; ++c) {
          for (int64_t j = 0; j < m; ++j) {
            const double yv = y_[idx[j] * q_ + c];
            t[j] = distance_ ? yv * w[j] : yv;
          }
          const double sum = dense::pairwise_sum(t.data(), m);
          o[c] = distance_ ? sum / denom : sum / static_cast<double>(m);
        }
        return;
      }
      proba.assign(static_cast<size_t>(c_), 0.0);
      for (int64_t j = 0; j < m; ++j) proba[codes_[idx[j]]] += w[j];
      if (m == 0 && outlier_index_ >= 0) proba[outlier_index_] = 1.0;
      double norm = dense::pairwise_sum(proba.data(), c_);
      if (norm == 0.0) norm = 1.0;
      for (int64_t c = 0; c < c_; ++c) proba[c] /= norm;
      if (out_ == RadiusOut::kProba) {
        std::copy(proba.begin(), proba.end(), out.row<double>(r));
        return;
      }
      int64_t best = 0;
      bool zero = true;
      for (int64_t c = 0; c < c_; ++c) {
        if (proba[c] > proba[best]) best = c;
        zero = zero && proba[c] == 0.0;
      }
      out.row<int64_t>(r)[0] = zero ? outlier_predict_ : best;
    });
  }

 private:
  template <class F>
  void each_row(int64_t rows, const View* in, F&& f) const {
    int64_t ldx;
    const double* x = as_f64(in[0], rows, st_.d, &ldx);
    thread_local std::vector<double> dist, mid, key;
    thread_local std::vector<int64_t> idx;
    const int64_t d = st_.d;
    const bool keyed = out_ == RadiusOut::kGraph && sort_;  // sort keys wanted
    if (st_.s == Search::kBrute && st_.m.metric == Metric::kEuclidean) {
      const double r2 = radius_ * radius_;
      for (int64_t r0 = 0; r0 < rows; r0 += kChunk) {
        const int64_t mrows = std::min(kChunk, rows - r0);
        const double* xb = x + r0 * ldx;
        std::vector<std::vector<double>> dd(static_cast<size_t>(mrows));
        std::vector<std::vector<double>> kk(static_cast<size_t>(mrows));
        std::vector<std::vector<int64_t>> ii(static_cast<size_t>(mrows));
        std::vector<double> xx(static_cast<size_t>(mrows));
        for (int64_t i = 0; i < mrows; ++i) xx[i] = dot_self(xb + i * ldx, d);
        for (int64_t y0 = 0; y0 < st_.n; y0 += kChunk) {
          const int64_t ny = std::min(kChunk, st_.n - y0);
          mid.resize(static_cast<size_t>(mrows * ny));
          dense::gemm_nt(mrows, ny, d, -2.0, xb, ldx, st_.data + y0 * d, d, 0.0, mid.data(),
                         ny);
          for (int64_t i = 0; i < mrows; ++i)
            for (int64_t j = 0; j < ny; ++j) {
              double v = (xx[i] + mid[i * ny + j]) + st_.y_sq[y0 + j];
              v = 0.0 > v ? 0.0 : v;
              if (v <= r2) {
                dd[i].push_back(std::sqrt(v));
                ii[i].push_back(y0 + j);
                if (keyed) kk[i].push_back(v);
              }
            }
        }
        for (int64_t i = 0; i < mrows; ++i) f(r0 + i, dd[i], ii[i], kk[i]);
      }
      return;
    }
    for (int64_t r = 0; r < rows; ++r) {
      dist.clear();
      idx.clear();
      key.clear();
      const double* pt = x + r * ldx;
      if (st_.s == Search::kBrute) {
        const double rr = st_.m.dist_to_rdist(radius_);
        for (int64_t j = 0; j < st_.n; ++j) {
          const double v = st_.m.rdist(pt, st_.data + j * d, d);
          if (v <= rr) {
            dist.push_back(st_.m.rdist_to_dist(std::max(v, 0.0)));
            idx.push_back(j);
            if (keyed) key.push_back(v);
          }
        }
      } else {
        walk(0, pt, &dist, &idx);
        if (keyed) key.assign(dist.begin(), dist.end());
      }
      f(r, dist, idx, key);
    }
  }

  void walk(int64_t node, const double* pt, std::vector<double>* dist,
            std::vector<int64_t>* idx) const {
    const int64_t* nd = st_.t.nodes + 3 * node;
    const int64_t d = st_.d;
    double lb, ub;
    node_min_max_dist(st_, node, pt, &lb, &ub);
    if (lb > radius_) return;
    if (ub <= radius_) {
      for (int64_t i = nd[0]; i < nd[1]; ++i) {
        const int64_t row = st_.t.idx[i];
        dist->push_back(st_.m.dist(pt, st_.data + row * d, d));
        idx->push_back(row);
      }
      return;
    }
    if (nd[2] != 0) {
      const double rr = st_.m.dist_to_rdist(radius_);
      for (int64_t i = nd[0]; i < nd[1]; ++i) {
        const int64_t row = st_.t.idx[i];
        const double v = st_.m.rdist(pt, st_.data + row * d, d);
        if (v <= rr) {
          dist->push_back(st_.m.rdist_to_dist(v));
          idx->push_back(row);
        }
      }
      return;
    }
    walk(2 * node + 1, pt, dist, idx);
    walk(2 * node + 2, pt, dist, idx);
  }

  Stored st_;
  double radius_;
  bool distance_;
  RadiusOut out_;
  int64_t q_;
  const double* y_;
  const int64_t* codes_;
  int64_t c_, outlier_index_, outlier_predict_;
  bool refuse_;
  bool sort_;
};

Status make_radius(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  Stored st;
  MLE_RETURN_IF_ERROR(parse_stored(b, &st));
  double radius;
  MLE_RETURN_IF_ERROR(b.number("radius", &radius));
  if (!(radius >= 0.0) || !std::isfinite(radius))
    return b.error("radius must be finite and >= 0");
  std::string weights, mode;
  MLE_RETURN_IF_ERROR(b.string("output", &mode));
  if (mode == "graph") {
    // the neighbours themselves: nothing to aggregate, so no weights, targets or classes
    for (const char* key : {"weights", "y", "codes", "n_classes", "outlier_index",
                            "outlier_predict", "refuse_outliers"})
      if (b.has(key)) return b.error(std::string(key) + " is not used by output 'graph'");
    bool sort;
    MLE_RETURN_IF_ERROR(b.boolean_or("sort_results", false, &sort));
    if (st.n > (int64_t(1) << 30)) return b.error("too many stored rows for output 'graph'");
    k->reset(new RadiusNeighbors(st, radius, false, RadiusOut::kGraph, 0, nullptr, nullptr, 0,
                                 -1, 0, false, sort));
    *out = ValueInfo{2 * st.n, ValueKind::kF64};
    return Status::OK();
  }
  if (b.has("sort_results")) return b.error("sort_results is only used by output 'graph'");
  if (!b.has("weights")) return b.error("weights is required by output '" + mode + "'");
  MLE_RETURN_IF_ERROR(b.string("weights", &weights));
  if (weights != "uniform" && weights != "distance") return b.error("unknown weights");
  const RadiusOut o = mode == "mean" ? RadiusOut::kMean
                      : mode == "proba" ? RadiusOut::kProba : RadiusOut::kPredict;
  if (mode != "mean" && mode != "proba" && mode != "predict") return b.error("unknown output");
  const bool classes = o != RadiusOut::kMean;
  // y (targets) only for "mean"; codes, n_classes, outlier_index (and refuse_outliers) only
  // for "proba" and "predict"; outlier_predict only for "predict".
  const std::pair<const char*, bool> needed[] = {
      {"y", !classes}, {"codes", classes}, {"n_classes", classes}, {"outlier_index", classes},
      {"outlier_predict", o == RadiusOut::kPredict}};
  for (const auto& [key, want] : needed)
    if (b.has(key) != want)
      return b.error(std::string(key) + (want ? " is required by output '" + mode + "'"
                                              : " is not used by output '" + mode + "'"));
  if (!classes && b.has("refuse_outliers"))
    return b.error("refuse_outliers is not used by output 'mean'");
  const TensorRef* y;
  if (!classes) {
    MLE_RETURN_IF_ERROR(b.tensor("y", DType::kF64, {st.n, -1}, &y));
    if (y->shape[1] == 0) return b.error("y has no columns");
    k->reset(new RadiusNeighbors(st, radius, weights == "distance", o, y->shape[1],
                                 y->as<double>(), nullptr, 0, -1, 0, false));
    *out = ValueInfo{y->shape[1], ValueKind::kF64};
    return Status::OK();
  }
  const TensorRef* codes;
  MLE_RETURN_IF_ERROR(b.tensor("codes", DType::kI64, {st.n}, &codes));
  double nc, oi, op = 0;
  MLE_RETURN_IF_ERROR(b.number("n_classes", &nc));
  if (!(nc >= 1 && nc <= 1e7 && nc == std::floor(nc)))
    return b.error("n_classes must be an integer in [1, 1e7]");
  const int64_t c = static_cast<int64_t>(nc);
  const int64_t* cv = codes->as<int64_t>();
  for (int64_t i = 0; i < st.n; ++i)
    if (cv[i] < 0 || cv[i] >= c) return b.error("codes has a class index out of range");
  MLE_RETURN_IF_ERROR(b.number("outlier_index", &oi));
  if (!(oi >= -1 && oi < nc && oi == std::floor(oi)))
    return b.error("outlier_index must be -1 or a class index");
  bool refuse;
  MLE_RETURN_IF_ERROR(b.boolean_or("refuse_outliers", false, &refuse));
  if (o == RadiusOut::kPredict) {
    MLE_RETURN_IF_ERROR(b.number("outlier_predict", &op));
    if (!(op >= 0 && op < nc && op == std::floor(op)))
      return b.error("outlier_predict must be a class index");
  }
  k->reset(new RadiusNeighbors(st, radius, weights == "distance", o, 0, nullptr, cv, c,
                               static_cast<int64_t>(oi), static_cast<int64_t>(op), refuse));
  if (o == RadiusOut::kProba) {
    *out = ValueInfo{c, ValueKind::kF64};
  } else {
    *out = ValueInfo{1, ValueKind::kI64};
    out->index_bound = std::max<int64_t>(2, c);
  }
  return Status::OK();
}

// ---------------------------------------------------------------- votes and averages

// The neighbours' weights as scikit-learn's _get_weights gives them: uniform 1; distance
// 1 / d, except that a row with a neighbour at distance 0 weighs those neighbours 1 and the
// others 0.
void neighbor_weights(const double* dist, int64_t k, bool distance, double* w) {
  if (!distance) {
    std::fill(w, w + k, 1.0);
    return;
  }
  bool inf_row = false;
  for (int64_t j = 0; j < k; ++j) {
    w[j] = 1.0 / dist[j];
    inf_row = inf_row || std::isinf(w[j]);
  }
  if (inf_row)
    for (int64_t j = 0; j < k; ++j) w[j] = std::isinf(w[j]) ? 1.0 : 0.0;
}

// Neighbour j's stored-row index in a KNearest output row; -1 (with an input error for the
// call) when it is not an index of the n stored targets (an input that is not a KNearest of
// those rows).
int64_t neighbor_at(const double* row, int64_t k, int64_t j, int64_t n) {
  const double v = row[k + j];
  if (!(v >= 0.0 && v < static_cast<double>(n))) {
    report_input_error("a neighbour index is out of range of the stored targets");
    return -1;
  }
  return static_cast<int64_t>(v);
}

// Per row: "proba": the class weights accumulated in neighbour order, divided by their
// (pairwise) sum, as KNeighborsClassifier.predict_proba; "scores": each class's weight as
// weighted_mode sums it (np.sum over the k neighbours' weights of that class), whose first
// maximum is predict.
class NeighborVote final : public Kernel {
 public:
  NeighborVote(int64_t k, int64_t n, int64_t n_classes, const int64_t* y, bool distance,
               bool proba)
      : k_(k), n_(n), c_(n_classes), y_(y), distance_(distance), proba_(proba) {}

  double cost_per_row() const override { return static_cast<double>(k_ * 2 + c_); }

  void run(int64_t rows, const View* in, const View& out) const override {
    thread_local std::vector<double> w, t;
    w.resize(static_cast<size_t>(k_));
    t.resize(static_cast<size_t>(k_));
    for (int64_t r = 0; r < rows; ++r) {
      const double* row = in[0].row<double>(r);
      double* o = out.row<double>(r);
      neighbor_weights(row, k_, distance_, w.data());
      std::fill(o, o + c_, 0.0);
      if (proba_) {
        for (int64_t j = 0; j < k_; ++j) {
          const int64_t i = neighbor_at(row, k_, j, n_);
          if (i >= 0) o[y_[i]] += w[j];
        }
        const double s = dense::pairwise_sum(o, c_);
        for (int64_t c = 0; c < c_; ++c) o[c] /= s;
        continue;
      }
      for (int64_t c = 0; c < c_; ++c) {
        for (int64_t j = 0; j < k_; ++j) {
          const int64_t i = neighbor_at(row, k_, j, n_);
          t[j] = i >= 0 && y_[i] == c ? w[j] : 0.0;
        }
        o[c] = dense::pairwise_sum(t.data(), k_);
      }
    }
  }

 private:
  int64_t k_, n_, c_;
  const int64_t* y_;
  bool distance_, proba_;
};

// Per row and target column: uniform: np.mean over the k neighbours' targets; distance:
// np.sum(y * w) / np.sum(w).
class NeighborMean final : public Kernel {
 public:
  NeighborMean(int64_t k, int64_t n, int64_t n_out, const double* y, bool distance)
      : k_(k), n_(n), q_(n_out), y_(y), distance_(distance) {}

  double cost_per_row() const override { return static_cast<double>(k_ * (q_ + 1)); }

  void run(int64_t rows, const View* in, const View& out) const override {
    thread_local std::vector<double> w, t;
    w.resize(static_cast<size_t>(k_));
    t.resize(static_cast<size_t>(k_));
    for (int64_t r = 0; r < rows; ++r) {
      const double* row = in[0].row<double>(r);
      double* o = out.row<double>(r);
      neighbor_weights(row, k_, distance_, w.data());
      const double denom = distance_ ? dense::pairwise_sum(w.data(), k_) : 0.0;
      for (int64_t q = 0; q < q_; ++q) {
        for (int64_t j = 0; j < k_; ++j) {
          const int64_t i = neighbor_at(row, k_, j, n_);
          const double yv = i >= 0 ? y_[i * q_ + q] : 0.0;
          t[j] = distance_ ? yv * w[j] : yv;
        }
        const double s = dense::pairwise_sum(t.data(), k_);
        o[q] = distance_ ? s / denom : s / static_cast<double>(k_);
      }
    }
  }

 private:
  int64_t k_, n_, q_;
  const double* y_;
  bool distance_;
};

// The KNearest input of a vote or mean: 2k float64 columns (k distances, k indices). Each
// index is checked against the stored targets when it is read (neighbor_at).
Status neighbor_input(const NodeBuild& b, int64_t* k) {
  MLE_RETURN_IF_ERROR(b.expect_inputs(1));
  const ValueInfo& in = b.inputs()[0];
  if (in.kind != ValueKind::kF64 || in.index_bound != 0 || in.cols < 2 || in.cols % 2 != 0)
    return b.error("the input must be a KNearest output (2k float64 columns)");
  *k = in.cols / 2;
  return Status::OK();
}

Status make_vote(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  int64_t nk;
  MLE_RETURN_IF_ERROR(neighbor_input(b, &nk));
  const TensorRef* y;
  MLE_RETURN_IF_ERROR(b.tensor("y", DType::kI64, {-1}, &y));
  double nc;
  MLE_RETURN_IF_ERROR(b.number("n_classes", &nc));
  if (!(nc >= 1 && nc <= 1e7 && nc == std::floor(nc)))
    return b.error("n_classes must be an integer in [1, 1e7]");
  const int64_t c = static_cast<int64_t>(nc);
  const int64_t* yv = y->as<int64_t>();
  for (int64_t i = 0; i < y->shape[0]; ++i)
    if (yv[i] < 0 || yv[i] >= c) return b.error("y has a class index out of range");
  std::string weights, mode;
  MLE_RETURN_IF_ERROR(b.string("weights", &weights));
  MLE_RETURN_IF_ERROR(b.string("output", &mode));
  if (weights != "uniform" && weights != "distance") return b.error("unknown weights");
  if (mode != "proba" && mode != "scores") return b.error("unknown output");
  auto* kern = new NeighborVote(nk, y->shape[0], c, yv, weights == "distance", mode == "proba");
  k->reset(kern);
  *out = ValueInfo{c, ValueKind::kF64};
  return Status::OK();
}

Status make_mean(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  int64_t nk;
  MLE_RETURN_IF_ERROR(neighbor_input(b, &nk));
  const TensorRef* y;
  MLE_RETURN_IF_ERROR(b.tensor("y", DType::kF64, {-1, -1}, &y));
  if (y->shape[1] == 0) return b.error("y has no columns");
  std::string weights;
  MLE_RETURN_IF_ERROR(b.string("weights", &weights));
  if (weights != "uniform" && weights != "distance") return b.error("unknown weights");
  k->reset(new NeighborMean(nk, y->shape[0], y->shape[1], y->as<double>(),
                            weights == "distance"));
  *out = ValueInfo{y->shape[1], ValueKind::kF64};
  return Status::OK();
}

// ---------------------------------------------------------------- LocalOutlierScore

// LocalOutlierFactor(novelty=True).score_samples from a KNearest output (input 0) of the
// n_neighbors_ nearest training rows: distances rounded to float32 when X (input 1, read only
// for its dtype) is float32, reach_j = max(d_j, k_distance[i_j]), lrd = 1 / (mean(reach) +
// 1e-10), score = -mean(lrd_train[i_j] / lrd), the means as np.mean (pairwise sums / k).
class LocalOutlierScore final : public Kernel {
 public:
  LocalOutlierScore(int64_t k, int64_t n, const double* kdist, const double* lrd)
      : k_(k), n_(n), kdist_(kdist), lrd_(lrd) {}

  double cost_per_row() const override { return static_cast<double>(4 * k_); }

  void run(int64_t rows, const View* in, const View& out) const override {
    thread_local std::vector<double> reach, ratio;
    reach.resize(static_cast<size_t>(k_));
    ratio.resize(static_cast<size_t>(k_));
    const bool f32 = in[1].dtype == DType::kF32;
    const double kk = static_cast<double>(k_);
    for (int64_t r = 0; r < rows; ++r) {
      const double* row = in[0].row<double>(r);
      bool ok = true;
      for (int64_t j = 0; j < k_; ++j) {
        const int64_t i = neighbor_at(row, k_, j, n_);
        if (i < 0) {
          ok = false;
          break;
        }
        double dj = row[j];
        if (f32) dj = static_cast<double>(static_cast<float>(dj));
        reach[j] = std::max(dj, kdist_[i]);
        ratio[j] = lrd_[i];
      }
      double* o = out.row<double>(r);
      if (!ok) {
        o[0] = 0.0;
        continue;
      }
      const double lrd = 1.0 / (dense::pairwise_sum(reach.data(), k_) / kk + 1e-10);
      for (int64_t j = 0; j < k_; ++j) ratio[j] /= lrd;
      o[0] = -(dense::pairwise_sum(ratio.data(), k_) / kk);
    }
  }

 private:
  int64_t k_, n_;
  const double *kdist_, *lrd_;
};

Status make_lof(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  MLE_RETURN_IF_ERROR(b.expect_inputs(2));
  const ValueInfo& near = b.inputs()[0];
  if (near.kind != ValueKind::kF64 || near.index_bound != 0 || near.cols < 2 ||
      near.cols % 2 != 0)
    return b.error("input 0 must be a KNearest output (2k float64 columns)");
  if (b.inputs()[1].kind == ValueKind::kI64)
    return b.error("input 1 must be the float input X");
  const TensorRef *kdist, *lrd;
  MLE_RETURN_IF_ERROR(b.tensor("k_distance", DType::kF64, {-1}, &kdist));
  MLE_RETURN_IF_ERROR(b.tensor("lrd", DType::kF64, {kdist->shape[0]}, &lrd));
  k->reset(new LocalOutlierScore(near.cols / 2, kdist->shape[0], kdist->as<double>(),
                                 lrd->as<double>()));
  *out = ValueInfo{1, ValueKind::kF64};
  return Status::OK();
}

// ---------------------------------------------------------------- KernelDensity

// KernelDensity.score_samples: BinaryTree.kernel_density(return_log=True) over the stored
// tree, depth-first or breadth-first, with its bounds, pruning tests and log-sum arithmetic
// step for step (atol and rtol included), plus the kernel's normalisation, minus log(N).
enum class KdeKernel { kGaussian, kTophat, kEpanechnikov, kExponential, kLinear, kCosine };

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

inline double kde_logaddexp(double x1, double x2) {
  const double a = std::fmax(x1, x2);
  if (a == kNegInf) return kNegInf;
  return a + std::log(std::exp(x1 - a) + std::exp(x2 - a));
}

inline double kde_logsubexp(double x1, double x2) {
  if (x1 <= x2) return kNegInf;
  return x1 + std::log(1 - std::exp(x2 - x1));
}

inline double kde_log_kernel(double dist, double h, KdeKernel k) {
  switch (k) {
    case KdeKernel::kGaussian: return -0.5 * (dist * dist) / (h * h);
    case KdeKernel::kTophat: return dist < h ? 0.0 : kNegInf;
    case KdeKernel::kEpanechnikov: return dist < h ? std::log(1.0 - (dist * dist) / (h * h))
                                                   : kNegInf;
    case KdeKernel::kExponential: return -dist / h;
    case KdeKernel::kLinear: return dist < h ? std::log(1 - dist / h) : kNegInf;
    case KdeKernel::kCosine: return dist < h ? std::log(std::cos(0.5 * M_PI * dist / h))
                                             : kNegInf;
  }
  return kNegInf;
}

double kde_log_vn(int64_t n) {
  return 0.5 * static_cast<double>(n) * std::log(M_PI) - std::lgamma(0.5 * n + 1);
}
double kde_log_sn(int64_t n) { return std::log(2 * M_PI) + kde_log_vn(n - 1); }

double kde_log_norm(double h, int64_t d, KdeKernel k) {
  double factor = 0.0;
  switch (k) {
    case KdeKernel::kGaussian: factor = 0.5 * d * std::log(2 * M_PI); break;
    case KdeKernel::kTophat: factor = kde_log_vn(d); break;
    case KdeKernel::kEpanechnikov: factor = kde_log_vn(d) + std::log(2. / (d + 2.)); break;
    case KdeKernel::kExponential:
      factor = kde_log_sn(d - 1) + std::lgamma(static_cast<double>(d));
      break;
    case KdeKernel::kLinear: factor = kde_log_vn(d) - std::log(d + 1.); break;
    case KdeKernel::kCosine: {
      double tmp = 2. / M_PI;
      for (int64_t kk = 1; kk < d + 1; kk += 2) {
        factor += tmp;
        tmp *= static_cast<double>(-(d - kk) * (d - kk - 1)) * std::pow(2. / M_PI, 2.0);
      }
      factor = std::log(factor) + kde_log_sn(d - 1);
      break;
    }
  }
  return -factor - static_cast<double>(d) * std::log(h);
}

class KernelDensity final : public Kernel {
 public:
  KernelDensity(Stored st, KdeKernel kernel, double h, double log_atol, double log_rtol,
                bool breadth_first, const double* weights, double sum_weight)
      : st_(st), kernel_(kernel), h_(h), log_atol_(log_atol), log_rtol_(log_rtol),
        breadth_first_(breadth_first), weights_(weights), sum_weight_(sum_weight) {
    log_knorm_ = kde_log_norm(h, st.d, kernel);
    n_total_ = weights ? sum_weight : static_cast<double>(st.n);
    node_weight_.resize(static_cast<size_t>(st.t.n_nodes));
    for (int64_t i = 0; i < st.t.n_nodes; ++i) {
      const int64_t* nd = st.t.nodes + 3 * i;
      if (weights) {
        double s = 0.0;
        for (int64_t j = nd[0]; j < nd[1]; ++j) s += weights[st.t.idx[j]];
        node_weight_[i] = s;
      } else {
        node_weight_[i] = static_cast<double>(nd[1] - nd[0]);
      }
    }
  }

  double cost_per_row() const override { return static_cast<double>(st_.n * (st_.d + 4)); }

  void run(int64_t rows, const View* in, const View& out) const override {
    int64_t ldx;
    const double* x = as_f64(in[0], rows, st_.d, &ldx);
    const double log_n = std::log(n_total_);
    for (int64_t r = 0; r < rows; ++r) {
      const double* pt = x + r * ldx;
      const double v = breadth_first_ ? breadth_first(pt) : depth_first(pt);
      out.row<double>(r)[0] = (v + log_knorm_) - log_n;
    }
  }

 private:
  double point_term(const double* pt, int64_t i) const {
    const int64_t row = st_.t.idx[i];
    const double dist = st_.m.dist(pt, st_.data + row * st_.d, st_.d);
    const double lw = weights_ ? std::log(weights_[row]) : 0.;
    return kde_log_kernel(dist, h_, kernel_) + lw;
  }

  double depth_first(const double* pt) const {
    double lb, ub;
    node_min_max_dist(st_, 0, pt, &lb, &ub);
    double gmin = std::log(sum_weight_) + kde_log_kernel(ub, h_, kernel_);
    const double gmax = std::log(sum_weight_) + kde_log_kernel(lb, h_, kernel_);
    double gspread = kde_logsubexp(gmax, gmin);
    const double lmin = gmin, lspread = gspread;
    descend(0, pt, lmin, lspread, &gmin, &gspread);
    return kde_logaddexp(gmin, gspread - std::log(2));
  }

  void descend(int64_t node, const double* pt, double lmin, double lspread, double* gmin,
               double* gspread) const {
    const int64_t* nd = st_.t.nodes + 3 * node;
    const double n1 = node_weight_[node];
    const double n2 = weights_ ? sum_weight_ : static_cast<double>(st_.n);
    if (log_knorm_ + lspread - std::log(n1) + std::log(n2) <=
        kde_logaddexp(log_atol_, (log_rtol_ + log_knorm_ + lmin))) {
      return;
    } else if (log_knorm_ + *gspread <=
               kde_logaddexp(log_atol_, (log_rtol_ + log_knorm_ + *gmin))) {
      return;
    } else if (nd[2] != 0) {
      *gmin = kde_logsubexp(*gmin, lmin);
      *gspread = kde_logsubexp(*gspread, lspread);
      for (int64_t i = nd[0]; i < nd[1]; ++i) *gmin = kde_logaddexp(*gmin, point_term(pt, i));
      return;
    }
    const int64_t i1 = 2 * node + 1, i2 = 2 * node + 2;
    const double w1 = node_weight_[i1], w2 = node_weight_[i2];
    double lb, ub;
    node_min_max_dist(st_, i1, pt, &lb, &ub);
    const double c1min = std::log(w1) + kde_log_kernel(ub, h_, kernel_);
    const double c1spread = kde_logsubexp(std::log(w1) + kde_log_kernel(lb, h_, kernel_), c1min);
    node_min_max_dist(st_, i2, pt, &lb, &ub);
    const double c2min = std::log(w2) + kde_log_kernel(ub, h_, kernel_);
    const double c2spread = kde_logsubexp(std::log(w2) + kde_log_kernel(lb, h_, kernel_), c2min);
    *gmin = kde_logsubexp(*gmin, lmin);
    *gmin = kde_logaddexp(*gmin, c1min);
    *gmin = kde_logaddexp(*gmin, c2min);
    *gspread = kde_logsubexp(*gspread, lspread);
    *gspread = kde_logaddexp(*gspread, c1spread);
    *gspread = kde_logaddexp(*gspread, c2spread);
    descend(i1, pt, c1min, c1spread, gmin, gspread);
    descend(i2, pt, c2min, c2spread, gmin, gspread);
  }

  // scikit-learn's NodeHeap: a binary min-heap on val (its push and pop, ties included).
  struct HeapItem {
    double val;
    int64_t node;
  };
  static void heap_push_node(std::vector<HeapItem>* h, HeapItem item) {
    h->push_back(item);
    HeapItem* a = h->data();
    int64_t i = static_cast<int64_t>(h->size()) - 1;
    while (i > 0) {
      const int64_t parent = (i - 1) / 2;
      if (a[parent].val <= a[i].val) break;
      std::swap(a[i], a[parent]);
      i = parent;
    }
  }
  static HeapItem heap_pop_node(std::vector<HeapItem>* h) {
    HeapItem* a = h->data();
    const HeapItem top = a[0];
    const int64_t n = static_cast<int64_t>(h->size()) - 1;
    a[0] = a[n];
    h->pop_back();
    int64_t i = 0;
    while (i < n) {
      const int64_t c1 = 2 * i + 1, c2 = 2 * i + 2;
      int64_t sw = 0;
      if (c2 < n) sw = a[c1].val <= a[c2].val ? c1 : c2;
      else if (c1 < n) sw = c1;
      else break;
      if (sw > 0 && a[sw].val <= a[i].val) {
        std::swap(a[i], a[sw]);
        i = sw;
      } else {
        break;
      }
    }
    return top;
  }

  double breadth_first(const double* pt) const {
    thread_local std::vector<HeapItem> heap;
    thread_local std::vector<double> node_min, node_spread;
    heap.clear();
    node_min.assign(static_cast<size_t>(st_.t.n_nodes), kNegInf);
    node_spread.assign(static_cast<size_t>(st_.t.n_nodes), 0.0);
    const double n_all = n_total_;
    double lb, ub;
    node_min_max_dist(st_, 0, pt, &lb, &ub);
    heap_push_node(&heap, HeapItem{lb, 0});
    double gmin = std::log(n_all) + kde_log_kernel(ub, h_, kernel_);
    const double gmax = std::log(n_all) + kde_log_kernel(lb, h_, kernel_);
    double gspread = kde_logsubexp(gmax, gmin);
    node_min[0] = gmin;
    node_spread[0] = gspread;
    while (!heap.empty()) {
      const int64_t node = heap_pop_node(&heap).node;
      const int64_t* nd = st_.t.nodes + 3 * node;
      const double n1 = node_weight_[node];
      if (log_knorm_ + node_spread[node] - std::log(n1) + std::log(n_all) <=
          kde_logaddexp(log_atol_, (log_rtol_ + log_knorm_ + node_min[node]))) {
        continue;
      } else if (log_knorm_ + gspread <=
                 kde_logaddexp(log_atol_, log_rtol_ + log_knorm_ + gmin)) {
        break;
      } else if (nd[2] != 0) {
        gmin = kde_logsubexp(gmin, node_min[node]);
        gspread = kde_logsubexp(gspread, node_spread[node]);
        for (int64_t i = nd[0]; i < nd[1]; ++i) gmin = kde_logaddexp(gmin, point_term(pt, i));
        continue;
      }
      const int64_t i1 = 2 * node + 1, i2 = 2 * node + 2;
      const double w1 = node_weight_[i1], w2 = node_weight_[i2];
      double lb1, ub1, lb2, ub2;
      node_min_max_dist(st_, i1, pt, &lb1, &ub1);
      node_min_max_dist(st_, i2, pt, &lb2, &ub2);
      // scikit-learn keeps each child's upper bound (not its spread) as its "spread" here
      node_min[i1] = std::log(w1) + kde_log_kernel(ub1, h_, kernel_);
      node_spread[i1] = std::log(w1) + kde_log_kernel(lb1, h_, kernel_);
      node_min[i2] = std::log(w2) + kde_log_kernel(ub2, h_, kernel_);
      node_spread[i2] = std::log(w2) + kde_log_kernel(lb2, h_, kernel_);
      gmin = kde_logsubexp(gmin, node_min[node]);
      gmin = kde_logaddexp(gmin, node_min[i1]);
      gmin = kde_logaddexp(gmin, node_min[i2]);
      gspread = kde_logsubexp(gspread, node_spread[node]);
      gspread = kde_logaddexp(gspread, node_spread[i1]);
      gspread = kde_logaddexp(gspread, node_spread[i2]);
      heap_push_node(&heap, HeapItem{lb1, i1});
      heap_push_node(&heap, HeapItem{lb2, i2});
    }
    return kde_logaddexp(gmin, gspread - std::log(2));
  }

  Stored st_;
  KdeKernel kernel_;
  double h_, log_atol_, log_rtol_;
  bool breadth_first_;
  const double* weights_;
  double sum_weight_;
  double log_knorm_ = 0.0, n_total_ = 0.0;
  std::vector<double> node_weight_;
};

Status make_kernel_density(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  std::string algorithm;
  MLE_RETURN_IF_ERROR(b.string("algorithm", &algorithm));
  if (algorithm == "brute") return b.error("algorithm must be 'kd_tree' or 'ball_tree'");
  Stored st;
  MLE_RETURN_IF_ERROR(parse_stored(b, &st));
  std::string kname;
  MLE_RETURN_IF_ERROR(b.string("kernel", &kname));
  KdeKernel kern = KdeKernel::kGaussian;
  if (kname == "tophat") kern = KdeKernel::kTophat;
  else if (kname == "epanechnikov") kern = KdeKernel::kEpanechnikov;
  else if (kname == "exponential") kern = KdeKernel::kExponential;
  else if (kname == "linear") kern = KdeKernel::kLinear;
  else if (kname == "cosine") kern = KdeKernel::kCosine;
  double h, atol, rtol, sum_weight;
  MLE_RETURN_IF_ERROR(b.number("bandwidth", &h));
  if (!(h > 0.0) || !std::isfinite(h)) return b.error("bandwidth must be finite and positive");
  MLE_RETURN_IF_ERROR(b.number("atol", &atol));
  MLE_RETURN_IF_ERROR(b.number("rtol", &rtol));
  if (!(atol >= 0.0) || !std::isfinite(atol) || !(rtol >= 0.0) || !std::isfinite(rtol))
    return b.error("atol and rtol must be finite and non-negative");
  MLE_RETURN_IF_ERROR(b.number("sum_weight", &sum_weight));
  if (!(sum_weight > 0.0) || !std::isfinite(sum_weight))
    return b.error("sum_weight must be finite and positive");
  bool breadth_first;
  MLE_RETURN_IF_ERROR(b.boolean("breadth_first", &breadth_first));
  const TensorRef* w = nullptr;
  MLE_RETURN_IF_ERROR(b.tensor("weights", DType::kF64, {st.n}, &w, true));
  const double* weights = w ? w->as<double>() : nullptr;
  if (weights) {
    for (int64_t i = 0; i < st.n; ++i)
      if (!(weights[i] >= 0.0) || !std::isfinite(weights[i]))
        return b.error("weights must be finite and non-negative");
  } else if (sum_weight != static_cast<double>(st.n)) {
    return b.error("sum_weight must be the number of stored rows without weights");
  }
  if (st.d > 100000) return b.error("too many features");
  k->reset(new KernelDensity(st, kern, h, std::log(atol), std::log(rtol), breadth_first,
                             weights, sum_weight));
  *out = ValueInfo{1, ValueKind::kF64};
  return Status::OK();
}

}  // namespace

const OpRegistrar kRegistered({
    {"KNearest", make_knearest, 1,
     {attr::tensor("data", DType::kF64), attr::number("k"),
      attr::string("metric", {"euclidean", "manhattan", "chebyshev", "minkowski"}),
      attr::number("p", kOptional),
      attr::string("algorithm", {"brute", "kd_tree", "ball_tree"}),
      attr::tensor("row_sq_norms", DType::kF64, kOptional),
      attr::tensor("tree_index", DType::kI64, kOptional),
      attr::tensor("tree_nodes", DType::kI64, kOptional),
      attr::tensor("tree_radius", DType::kF64, kOptional),
      attr::tensor("tree_bounds", DType::kF64, kOptional)}},
    {"NeighborVote", make_vote, 1,
     {attr::tensor("y", DType::kI64), attr::number("n_classes"),
      attr::string("weights", {"uniform", "distance"}),
      attr::string("output", {"proba", "scores"})}},
    {"RadiusNeighbors", make_radius, 1,
     {attr::tensor("data", DType::kF64), attr::number("radius"),
      attr::string("metric", {"euclidean", "manhattan", "chebyshev", "minkowski"}),
      attr::number("p", kOptional),
      attr::string("algorithm", {"brute", "kd_tree", "ball_tree"}),
      attr::tensor("row_sq_norms", DType::kF64, kOptional),
      attr::tensor("tree_index", DType::kI64, kOptional),
      attr::tensor("tree_nodes", DType::kI64, kOptional),
      attr::tensor("tree_radius", DType::kF64, kOptional),
      attr::tensor("tree_bounds", DType::kF64, kOptional),
      attr::string("weights", {"uniform", "distance"}, kOptional),
      attr::string("output", {"mean", "proba", "predict", "graph"}),
      attr::boolean("sort_results", kOptional),
      attr::tensor("y", DType::kF64, kOptional), attr::tensor("codes", DType::kI64, kOptional),
      attr::number("n_classes", kOptional), attr::number("outlier_index", kOptional),
      attr::number("outlier_predict", kOptional), attr::boolean("refuse_outliers", kOptional)}},
    {"LocalOutlierScore", make_lof, 2,
     {attr::tensor("k_distance", DType::kF64), attr::tensor("lrd", DType::kF64)}},
    {"NeighborMean", make_mean, 1,
     {attr::tensor("y", DType::kF64), attr::string("weights", {"uniform", "distance"})}},
});

// KernelDensity (docs/FORMAT.md 11.12).
const OpRegistrar kRegisteredDensity({
    {"KernelDensity", make_kernel_density, 1,
     {attr::tensor("data", DType::kF64),
      attr::string("metric", {"euclidean", "manhattan", "chebyshev", "minkowski"}),
      attr::number("p", kOptional),
      attr::string("algorithm", {"brute", "kd_tree", "ball_tree"}),
      attr::tensor("row_sq_norms", DType::kF64, kOptional),
      attr::tensor("tree_index", DType::kI64),
      attr::tensor("tree_nodes", DType::kI64),
      attr::tensor("tree_radius", DType::kF64),
      attr::tensor("tree_bounds", DType::kF64),
      attr::string("kernel", {"gaussian", "tophat", "epanechnikov", "exponential", "linear",
                              "cosine"}),
      attr::number("bandwidth"), attr::number("atol"), attr::number("rtol"),
      attr::number("sum_weight"), attr::boolean("breadth_first"),
      attr::tensor("weights", DType::kF64, kOptional)}},
});

}  // namespace mle
