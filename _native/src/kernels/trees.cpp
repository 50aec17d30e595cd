// Tree ensembles: decision trees, random forests, gradient boosting. One kernel, templated on
// what varies per model (node record / threshold type, '<' or '<=', missing-value handling) and
// dispatched once per block. Trees are walked one at a time over the whole row block so each
// tree stays in cache; per-row sums are accumulated in tree order, exactly as the source
// frameworks add them.
#include <cmath>
#include <cstring>

#include "mle/kernel.h"
#include "mle/trees.h"

namespace mle {
namespace {

using trees::Node32;
using trees::Node64;

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

template <class Node, bool LT, bool HasMissing, class TX>
inline uint32_t find_leaf(const Node* tree, const TX* x) {
  using TC = typename Cmp<Node>::T;
  uint32_t i = 0;
  for (;;) {
    const Node& nd = tree[i];
    const uint32_t ff = nd.feature_flags;
    if (ff & trees::kLeaf) return nd.right;
    TC v = static_cast<TC>(x[ff & trees::kFeatureMask]);
    if (HasMissing) {
      const uint32_t mk = (ff & trees::kMissingMask) >> trees::kMissingShift;
      if (mk != trees::kMissingNone) {
        if (std::isnan(v)) {
          if (mk == trees::kMissingNaN) {
            i = (ff & trees::kDefaultLeft) ? i + 1 : nd.right;
            continue;
          }
          v = TC(0);
        }
        if (mk == trees::kMissingZero && v == TC(0)) {
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
  bool lt = false;
  bool has_missing = false;

  void run(int64_t rows, const View* in, const View& out) const override {
    for (int64_t r = 0; r < rows; ++r) {
      double* y = out.row<double>(r);
      for (int64_t k = 0; k < n_out; ++k) y[k] = base ? base[k] : 0.0;
    }
    dispatch_float(in[0].dtype, [&](auto tag) {
      using TX = decltype(tag);
      if (wide)
        by_flags<Node64, TX>(rows, in[0], out);
      else
        by_flags<Node32, TX>(rows, in[0], out);
    });
    if (average) {
      const double n = static_cast<double>(n_trees);
      for (int64_t r = 0; r < rows; ++r) {
        double* y = out.row<double>(r);
        for (int64_t k = 0; k < n_out; ++k) y[k] /= n;
      }
    }
  }

 private:
  template <class Node, class TX>
  void by_flags(int64_t rows, const View& x, const View& y) const {
    if (lt) {
      if (has_missing)
        walk<Node, true, true, TX>(rows, x, y);
      else
        walk<Node, true, false, TX>(rows, x, y);
    } else {
      if (has_missing)
        walk<Node, false, true, TX>(rows, x, y);
      else
        walk<Node, false, false, TX>(rows, x, y);
    }
  }

  template <class Node, bool LT, bool HasMissing, class TX>
  void walk(int64_t rows, const View& x, const View& y) const {
    const Node* all = reinterpret_cast<const Node*>(nodes);
    for (int64_t t = 0; t < n_trees; ++t) {
      const Node* tree = all + roots[t];
      if (n_out == 1) {
        for (int64_t r = 0; r < rows; ++r)
          y.row<double>(r)[0] += leaves[find_leaf<Node, LT, HasMissing>(tree, x.row<TX>(r))];
      } else {
        for (int64_t r = 0; r < rows; ++r) {
          const double* lv =
              leaves + static_cast<int64_t>(find_leaf<Node, LT, HasMissing>(tree, x.row<TX>(r))) * n_out;
          double* yr = y.row<double>(r);
          for (int64_t k = 0; k < n_out; ++k) yr[k] += lv[k];
        }
      }
    }
  }
};

// Validates every tree: children in range and after their parent (so acyclic), feature
// indices below the input width, leaf rows inside the leaf matrix, known flags only.
template <class Node>
Status check_trees(const NodeBuild& b, const Node* nodes, int64_t n_nodes, const int32_t* roots,
                   int64_t n_trees, int64_t n_features, int64_t n_leaves, bool* has_missing) {
  *has_missing = false;
  for (int64_t t = 0; t < n_trees; ++t) {
    const int64_t start = roots[t];
    const int64_t end = t + 1 < n_trees ? roots[t + 1] : n_nodes;
    if (start < 0 || end <= start || end > n_nodes)
      return b.error("tree " + std::to_string(t) + ": root offsets must increase within the " +
                     "node array");
    const int64_t size = end - start;
    for (int64_t i = 0; i < size; ++i) {
      const Node& nd = nodes[start + i];
      const uint32_t ff = nd.feature_flags;
      if ((ff & trees::kFlagMask) & ~trees::kKnownFlags)
        return b.error("tree " + std::to_string(t) + " node " + std::to_string(i) +
                       ": unknown flags");
      if (ff & trees::kLeaf) {
        if (static_cast<int64_t>(nd.right) >= n_leaves)
          return b.error("tree " + std::to_string(t) + " node " + std::to_string(i) +
                         ": leaf row " + std::to_string(nd.right) + " is outside [0, " +
                         std::to_string(n_leaves) + ")");
        continue;
      }
      if (ff & trees::kCategorical)
        return Status::Unsupported(b.where() + ": categorical splits are not supported by "
                                   "this version of mle_runtime");
      if (static_cast<int64_t>(ff & trees::kFeatureMask) >= n_features)
        return b.error("tree " + std::to_string(t) + " node " + std::to_string(i) +
                       ": feature " + std::to_string(ff & trees::kFeatureMask) +
                       " is beyond the input's " + std::to_string(n_features) + " features");
      if (i + 1 >= size || static_cast<int64_t>(nd.right) <= i ||
          static_cast<int64_t>(nd.right) >= size)
        return b.error("tree " + std::to_string(t) + " node " + std::to_string(i) +
                       ": child index out of range (children must follow their parent "
                       "inside the tree)");
      if (ff & trees::kMissingMask) *has_missing = true;
    }
  }
  return Status::OK();
}

Status make_tree_ensemble(const NodeBuild& b, std::unique_ptr<Kernel>* k, ValueInfo* out) {
  MLE_RETURN_IF_ERROR(b.expect_inputs(1));
  const ValueInfo in = b.inputs()[0];
  if (in.kind == ValueKind::kI64) return b.error("input must be floating point");
  std::string fmt, agg, cmp;
  MLE_RETURN_IF_ERROR(b.string("node_format", &fmt));
  MLE_RETURN_IF_ERROR(b.string("aggregate", &agg));
  MLE_RETURN_IF_ERROR(b.string("compare", &cmp));
  if (fmt != "node32" && fmt != "node64")
    return b.error("node_format must be 'node32' or 'node64', got '" + fmt + "'");
  if (agg != "sum" && agg != "mean") return b.error("aggregate must be 'sum' or 'mean'");
  if (cmp != "<" && cmp != "<=") return b.error("compare must be '<' or '<='");
  auto e = std::make_unique<TreeEnsemble>();
  e->wide = fmt == "node64";
  e->average = agg == "mean";
  e->lt = cmp == "<";
  const int64_t rec = e->wide ? sizeof(Node64) : sizeof(Node32);
  const TensorRef *nodes, *roots, *leaves, *base;
  MLE_RETURN_IF_ERROR(b.tensor("nodes", DType::kU8, {-1, rec}, &nodes));
  MLE_RETURN_IF_ERROR(b.tensor("roots", DType::kI32, {-1}, &roots));
  MLE_RETURN_IF_ERROR(b.tensor("leaves", DType::kF64, {-1, -1}, &leaves));
  if (roots->shape[0] == 0) return b.error("ensemble has no trees");
  if (leaves->shape[1] == 0) return b.error("leaf values have no columns");
  MLE_RETURN_IF_ERROR(b.tensor("base", DType::kF64, {leaves->shape[1]}, &base, true));
  if (nodes->shape[0] > (int64_t(1) << 31)) return b.error("too many nodes");
  e->nodes = nodes->as<uint8_t>();
  e->roots = roots->as<int32_t>();
  e->n_trees = roots->shape[0];
  e->leaves = leaves->as<double>();
  e->n_out = leaves->shape[1];
  e->base = base ? base->as<double>() : nullptr;
  if (e->wide)
    MLE_RETURN_IF_ERROR(check_trees(b, reinterpret_cast<const Node64*>(e->nodes),
                                    nodes->shape[0], e->roots, e->n_trees, in.cols,
                                    leaves->shape[0], &e->has_missing));
  else
    MLE_RETURN_IF_ERROR(check_trees(b, reinterpret_cast<const Node32*>(e->nodes),
                                    nodes->shape[0], e->roots, e->n_trees, in.cols,
                                    leaves->shape[0], &e->has_missing));
  *out = ValueInfo{e->n_out, ValueKind::kF64};
  *k = std::move(e);
  return Status::OK();
}

}  // namespace

const OpEntry kTreeOps[] = {
    {"TreeEnsemble", make_tree_ensemble},
    {nullptr, nullptr},
};

}  // namespace mle
