"""Building the packed tree-ensemble layout (``TreeEnsemble`` op) from per-tree arrays.

Exporters describe each tree as struct-of-arrays in the framework's own node numbering
(children, feature, threshold, per-node missing-value rule, leaf values); this module renumbers
the nodes depth-first so the left child follows its parent, packs the node records the kernel
reads (``Node32``/``Node64``) and stacks the leaf values. It runs once, at dump time.
"""

from dataclasses import dataclass

import numpy as np

from mle_runtime.errors import UnsupportedModelError
from mle_runtime.format import layout as L
from mle_runtime.ir.tree_bins import binned


@dataclass
class Tree:
    """One tree in framework numbering; node 0 is the root.

    left, right : int arrays, -1 for leaves
    feature : int array (ignored for leaves)
    threshold : float64 array (ignored for leaves)
    leaf_value : float64 array (n_nodes, n_out); only rows of leaves are used
    default_left : bool array or None (missing values go left)
    missing : int array or None of TREE_MISSING_* kinds (None: TREE_MISSING_NONE)
    categorical : bool array or None; categorical nodes test category sets instead of the
        threshold: ``cat_left`` (set of categories going left) and ``cat_known`` (set of known
        categories, or -1 for none), both indices into the ensemble's category sets
    """

    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    leaf_value: np.ndarray
    default_left: np.ndarray = None
    missing: np.ndarray = None
    categorical: np.ndarray = None
    cat_left: np.ndarray = None
    cat_known: np.ndarray = None


@dataclass(frozen=True)
class CategoryRule:
    """How the categorical nodes of an ensemble send a value (docs/FORMAT.md 11.2), aspect by
    aspect, named by what it does.

    cast : {"truncate_uint8", "float32_truncate", "truncate_int32"}
        How a value becomes a category, and which values are valid categories:
        ``"truncate_uint8"``: ``0 <= x < 2**32``, category ``uint8(int64(x))``;
        ``"float32_truncate"``: ``f = float32(x)``, ``0 <= f < 2**24``, category ``uint32(f)``;
        ``"truncate_int32"``: ``-1 < x < 2**31``, category ``int64(x)`` (toward zero).
    nan, invalid : {"default", "not_in_set"}
        Where NaN, and a value that is no valid category, go: the node's default direction, or
        the side a category outside the node's set goes.
    in_set : {"left", "right"}
        The side a category in the node's set goes.
    known_sets : bool
        Whether the nodes' known-category sets apply: a valid category in neither the node's
        set nor its known set then goes the default direction.
    """

    cast: str
    nan: str
    invalid: str
    in_set: str
    known_sets: bool = False

    def attrs(self):
        """The TreeEnsemble attributes that carry the rule."""
        return {"category_cast": self.cast, "category_nan": self.nan,
                "category_invalid": self.invalid, "category_set": self.in_set,
                "category_known": bool(self.known_sets)}


def preorder(left, right):
    """Depth-first order of the nodes reachable from node 0 (left subtree first)."""
    n = len(left)
    order = []
    stack = [0]
    seen = np.zeros(n, dtype=bool)
    while stack:
        i = stack.pop()
        if i < 0 or i >= n or seen[i]:
            raise UnsupportedModelError("malformed tree: a child index is invalid or repeated")
        seen[i] = True
        order.append(i)
        if left[i] >= 0:
            stack.append(int(right[i]))
            stack.append(int(left[i]))
    return np.asarray(order, dtype=np.int64)


def largest_float32_not_above(t):
    """t' = the largest float32 <= t, so that float32(x) <= t  <=>  float32(x) <= t'."""
    t = np.asarray(t, dtype=np.float64)
    t32 = t.astype(np.float32)
    over = t32.astype(np.float64) > t
    t32[over] = np.nextafter(t32[over], np.float32(-np.inf))
    return t32


def pack(trees, n_features, *, wide, threshold32=None):
    """Packs trees into (nodes uint8 [n, record], roots int32 [n_trees], leaves float64).

    wide : bool
        Node64 (float64 thresholds) instead of Node32.
    threshold32 : callable or None
        For Node32: maps float64 thresholds to the float32 values stored (default: exact cast,
        which must not round).
    """
    if n_features > L.TREE_FEATURE_MASK + 1:
        raise UnsupportedModelError(
            f"tree models with more than {L.TREE_FEATURE_MASK + 1} features are not supported"
        )
    dtype = L.TREE_NODE64_DTYPE if wide else L.TREE_NODE32_DTYPE
    records, leaves, roots = [], [], []
    n_nodes = 0
    n_leaves = 0
    for tree in trees:
        order = preorder(tree.left, tree.right)
        pos = np.full(len(tree.left), -1, dtype=np.int64)
        pos[order] = np.arange(len(order))
        is_leaf = tree.left[order] < 0
        rec = np.zeros(len(order), dtype=dtype)
        internal = ~is_leaf
        feat = np.asarray(tree.feature)[order].astype(np.int64)
        if np.any(internal & ((feat < 0) | (feat >= n_features))):
            raise UnsupportedModelError("a tree splits on a feature index outside the input")
        flags = np.where(internal, feat, 0).astype(np.uint64)
        if tree.missing is not None:
            miss = np.asarray(tree.missing)[order].astype(np.uint64)
            flags |= np.where(internal, miss << L.TREE_MISSING_SHIFT, 0).astype(np.uint64)
        if tree.default_left is not None:
            dl = np.asarray(tree.default_left)[order].astype(bool)
            flags |= np.where(internal & dl, L.TREE_DEFAULT_LEFT, 0).astype(np.uint64)
        leaf_rows = np.cumsum(is_leaf) - 1 + n_leaves
        flags |= np.where(is_leaf, L.TREE_LEAF, 0).astype(np.uint64)
        rec["feature_flags"] = flags.astype(np.uint32)
        right = np.where(internal, pos[np.maximum(np.asarray(tree.right)[order], 0)], leaf_rows)
        rec["right"] = right.astype(np.uint32)
        cat = np.zeros(len(order), dtype=bool)
        if tree.categorical is not None:
            cat = internal & np.asarray(tree.categorical, dtype=bool)[order]
            rec["feature_flags"] |= np.where(cat, L.TREE_CATEGORICAL, 0).astype(np.uint32)
        thr = np.where(internal & ~cat, np.asarray(tree.threshold, dtype=np.float64)[order], 0.0)
        if wide:
            rec["threshold"] = thr
        else:
            t32 = threshold32(thr) if threshold32 is not None else thr.astype(np.float32)
            if threshold32 is None and not np.array_equal(t32.astype(np.float64), thr):
                raise UnsupportedModelError("tree thresholds do not fit float32 exactly")
            rec["threshold"] = t32
        if cat.any():
            left_set = np.asarray(tree.cat_left, dtype=np.int64)[order]
            known = (np.full(len(order), -1, dtype=np.int64) if tree.cat_known is None
                     else np.asarray(tree.cat_known, dtype=np.int64)[order])
            if wide:
                known = np.where(known < 0, 0xFFFFFFFF, known).astype(np.uint64)
                bits = (known << np.uint64(32)) | left_set.astype(np.uint64)
                tbits = rec["threshold"].view(np.uint64)
            else:  # Node32 holds the one set reference in the threshold's 32 bits
                if np.any(known[cat] >= 0):
                    raise UnsupportedModelError("known-category sets need float64 node records")
                bits = left_set.astype(np.uint32)
                tbits = rec["threshold"].view(np.uint32)
            tbits[cat] = bits[cat]
        records.append(rec)
        leaves.append(np.asarray(tree.leaf_value, dtype=np.float64)[order][is_leaf])
        roots.append(n_nodes)
        n_nodes += len(order)
        n_leaves += int(is_leaf.sum())
    if n_nodes >= 2**31:
        raise UnsupportedModelError("ensembles with 2**31 nodes or more are not supported")
    nodes = np.concatenate(records)
    leaf_matrix = np.concatenate(leaves).reshape(n_leaves, -1)
    # Identical leaf rows are stored once (fully grown forests have mostly pure leaves).
    unique, inverse = np.unique(leaf_matrix, axis=0, return_inverse=True)
    if len(unique) < len(leaf_matrix):
        is_leaf = (nodes["feature_flags"] & np.uint32(L.TREE_LEAF)) != 0
        nodes["right"][is_leaf] = inverse.reshape(-1)[nodes["right"][is_leaf]]
        leaf_matrix = unique
    return (nodes.view(np.uint8).reshape(n_nodes, dtype.itemsize),
            np.asarray(roots, dtype=np.int32), leaf_matrix)


def add_ensemble(graph, x, trees, *, n_features, wide, compare, aggregate, base=None,
                 threshold32=None, median_weights=None, category_sets=None, category_rule=None,
                 targets=None, n_outputs=None, accumulate=None):
    """Adds a TreeEnsemble node over value x (n_features columns); returns its output value.

    targets, n_outputs : per tree, the output column (of n_outputs) its one-value leaves add to.
    accumulate : "float32" rounds the running sum to float32 after every tree (XGBoost);
        None or "float64" adds in float64.
    category_sets : list of uint32 bitset arrays, referenced by the trees' cat_left/cat_known.
    category_rule : CategoryRule
        How the categorical nodes send a value; required with ``category_sets``.
    """
    nodes, roots, leaves = pack(trees, n_features, wide=wide, threshold32=threshold32)
    nodes, wide, attrs = binned(graph, nodes, wide=wide, n_features=n_features,
                                median=median_weights is not None)
    if category_sets:
        sizes = [len(np.asarray(s).reshape(-1)) for s in category_sets]
        attrs["cat_offsets"] = graph.tensor(np.concatenate([[0], np.cumsum(sizes)]), "uint32")
        attrs["cat_words"] = graph.tensor(
            np.concatenate([np.asarray(s, dtype=np.uint32).reshape(-1) for s in category_sets]),
            "uint32")
        if not isinstance(category_rule, CategoryRule):
            raise TypeError("category_sets need a category_rule (an ir.trees.CategoryRule), got "
                            f"{category_rule!r}")
        attrs.update(category_rule.attrs())
    if median_weights is not None:
        attrs["median_weights"] = graph.tensor(np.asarray(median_weights, np.float64), "float64")
    if targets is not None:
        attrs["targets"] = graph.tensor(np.asarray(targets), "int32")
        attrs["n_outputs"] = int(n_outputs)
    return graph.add(
        "TreeEnsemble", [x],
        nodes=graph.tensor(nodes, "uint8"), roots=graph.tensor(roots, "int32"),
        leaves=graph.tensor(leaves, "float64"),
        base=None if base is None else graph.tensor(np.asarray(base, dtype=np.float64), "float64"),
        node_format="node64" if wide else "node32", compare=compare, aggregate=aggregate,
        accumulate=None if accumulate in (None, "float64") else accumulate, **attrs,
    )
