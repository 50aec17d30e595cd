// Dump-time helpers for tree packing (mle_runtime/ir/trees.py): the parts of turning an
// exporter's per-tree arrays into the TreeEnsemble layout that do not vectorise in numpy.
// They run on arrays built by our exporters; every index is still checked before use.
#pragma once
#include <cstdint>
#include <vector>

#include "mle/status.h"

namespace mle {
namespace pack {

// Depth-first order of the nodes reachable from each tree's root (node 0), the left subtree
// first. left/right hold tree-relative child indices (a node is internal when left >= 0);
// tree t owns nodes [offsets[t], offsets[t + 1]) of them. Appends the global indices of the
// visited nodes, tree after tree, to *order and each tree's count to counts[t]. A child
// index outside its tree, or a node reached twice, is an Unsupported status.
Status tree_order(const int64_t* left, const int64_t* right, const int64_t* offsets,
                  int64_t n_trees, std::vector<int64_t>* order, int64_t* counts);

// The fields of every node, in the exporter's numbering (see ir/trees.py TreeBatch); each
// optional one may be null. threshold32 / threshold64: the value stored for numerical
// internal nodes (the one matching the record type is read).
struct NodeFields {
  const int64_t* left = nullptr;
  const int64_t* right = nullptr;
  const int64_t* feature = nullptr;
  const float* threshold32 = nullptr;
  const double* threshold64 = nullptr;
  const int64_t* missing = nullptr;       // TREE_MISSING_* kinds
  const uint8_t* default_left = nullptr;  // bool
  const uint8_t* categorical = nullptr;   // bool
  const int64_t* cat_left = nullptr;      // category set index (categorical nodes)
  const int64_t* cat_known = nullptr;     // known-category set index, or -1
};

// Writes the Node32 (wide false) or Node64 (wide true) records of the nodes in `order` (from
// tree_order, with its `counts`; trees own offsets[t]..offsets[t + 1] of the fields) to
// `records` (order_size records). Leaves point at consecutive leaf rows in record order;
// leaf_nodes receives the field index of each leaf, in that order (capacity order_size).
// Returns the number of leaves in *n_leaves. A feature index outside [0, n_features) at an
// internal node, or a known-category set with Node32 records, is an Unsupported status.
Status pack_nodes(const NodeFields& f, const int64_t* offsets, int64_t n_trees,
                  const int64_t* order, const int64_t* counts, int64_t n_fields,
                  int64_t n_features, bool wide, uint8_t* records, int64_t* leaf_nodes,
                  int64_t* n_leaves);

// The distinct rows of a C-order float64 matrix [n, k] (k >= 1), in the order np.unique(...,
// axis=0) gives them: lexicographic by value, NaN after every number. Rows are distinct when
// their bits differ (so -0.0 and 0.0 stay apart; rows with NaN in the same places and equal
// bits are one). *first receives, per distinct row in that order, the index of its first
// occurrence; inverse[i] the position of row i's distinct row.
Status unique_rows(const double* rows, int64_t n, int64_t k, std::vector<int64_t>* first,
                   int64_t* inverse);

}  // namespace pack
}  // namespace mle
