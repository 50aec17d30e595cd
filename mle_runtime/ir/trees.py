"""Building the packed tree-ensemble layout (``TreeEnsemble`` op) from per-tree arrays.

Exporters describe each tree as struct-of-arrays in the framework's own node numbering
(children, feature, threshold, per-node missing-value rule, leaf values); this module renumbers
the nodes depth-first so the left child follows its parent, packs the node records the kernel
reads (``Node32``/``Node64``) and stacks the leaf values. It runs once, at dump time.
"""

from dataclasses import dataclass

import numpy as np

from mle_runtime import _native
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
    return _native.tree_order(left, right, [0, len(left)])[0]


def largest_float32_not_above(t):
    """t' = the largest float32 <= t, so that float32(x) <= t  <=>  float32(x) <= t'."""
    t = np.asarray(t, dtype=np.float64)
    t32 = t.astype(np.float32)
    over = t32.astype(np.float64) > t
    t32[over] = np.nextafter(t32[over], np.float32(-np.inf))
    return t32


@dataclass
class TreeBatch:
    """Many trees at once: the fields of :class:`Tree` of every tree concatenated, tree after
    tree (child indices stay tree-relative), and ``offsets`` (int64, n_trees + 1): tree t owns
    nodes ``offsets[t]:offsets[t + 1]``. ``leaf_value`` is ``(n_nodes, n_out)``; absent
    per-node fields are None (as in :class:`Tree`). Exporters that read whole ensembles as
    flat arrays build one directly; :func:`batch` makes one from a list of trees."""

    offsets: np.ndarray
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


def _joined(trees, field, dtype, fill):
    values = [getattr(t, field) for t in trees]
    if all(v is None for v in values):
        return None
    return np.concatenate([np.full(len(t.left), fill, dtype=dtype) if v is None
                           else np.asarray(v, dtype=dtype).reshape(-1)
                           for t, v in zip(trees, values)])


def _rows(values, n):
    a = np.asarray(values, dtype=np.float64)
    return a.reshape(n, -1) if n else a.reshape(0, a.shape[1] if a.ndim == 2 else 1)


def batch(trees):
    """The :class:`TreeBatch` of a list of :class:`Tree` (a TreeBatch is returned as is)."""
    if isinstance(trees, TreeBatch):
        return trees
    trees = list(trees)
    sizes = [len(t.left) for t in trees]
    offsets = np.zeros(len(trees) + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    return TreeBatch(
        offsets=offsets,
        left=_joined(trees, "left", np.int64, -1),
        right=_joined(trees, "right", np.int64, -1),
        feature=_joined(trees, "feature", np.int64, 0),
        threshold=_joined(trees, "threshold", np.float64, 0.0),
        leaf_value=np.concatenate([_rows(t.leaf_value, n) for t, n in zip(trees, sizes)]),
        default_left=_joined(trees, "default_left", bool, False),
        missing=_joined(trees, "missing", np.int64, L.TREE_MISSING_NONE),
        categorical=_joined(trees, "categorical", bool, False),
        cat_left=_joined(trees, "cat_left", np.int64, 0),
        cat_known=_joined(trees, "cat_known", np.int64, -1),
    )


def pack(trees, n_features, *, wide, threshold32=None):
    """Packs trees into (nodes uint8 [n, record], roots int32 [n_trees], leaves float64).

    trees : list of Tree, or a TreeBatch
    wide : bool
        Node64 (float64 thresholds) instead of Node32.
    threshold32 : callable or None
        For Node32: maps float64 thresholds (elementwise) to the float32 values stored
        (default: exact cast, which must not round).

    The depth-first renumbering and the records are made natively (``_native.tree_order``,
    ``_native.pack_nodes``, ``_native.unique_rows``: ``_native/src/pack.cpp``) over all the
    trees' nodes at once.
    """
    if n_features > L.TREE_FEATURE_MASK + 1:
        raise UnsupportedModelError(
            f"tree models with more than {L.TREE_FEATURE_MASK + 1} features are not supported"
        )
    dtype = L.TREE_NODE64_DTYPE if wide else L.TREE_NODE32_DTYPE
    b = batch(trees)
    offsets = np.asarray(b.offsets, dtype=np.int64)
    left = np.asarray(b.left, dtype=np.int64).reshape(-1)
    order, counts = _native.tree_order(left, b.right, offsets)
    n_nodes = len(order)
    if n_nodes >= 2**31:
        raise UnsupportedModelError("ensembles with 2**31 nodes or more are not supported")
    # The stored thresholds of the nodes reached, numerical splits only (0 elsewhere), in the
    # exporter's numbering (threshold32 works elementwise).
    numerical = np.zeros(len(left), dtype=bool)
    numerical[order] = True
    numerical &= left >= 0
    categorical = None
    if b.categorical is not None:
        categorical = np.asarray(b.categorical, dtype=bool).reshape(-1)
        if (numerical & categorical).any():
            numerical &= ~categorical
        else:
            categorical = None
    thr = np.where(numerical, np.asarray(b.threshold, dtype=np.float64).reshape(-1), 0.0)
    if not wide:
        t32 = threshold32(thr) if threshold32 is not None else thr.astype(np.float32)
        if threshold32 is None and not np.array_equal(t32.astype(np.float64), thr):
            raise UnsupportedModelError("tree thresholds do not fit float32 exactly")
        thr = t32
    records, leaf_nodes = _native.pack_nodes(
        offsets, order, counts, left, b.right, b.feature, thr, n_features, wide,
        missing=b.missing, default_left=b.default_left, categorical=categorical,
        cat_left=None if categorical is None else b.cat_left,
        cat_known=None if categorical is None else b.cat_known)
    roots = np.zeros(len(counts), dtype=np.int32)
    np.cumsum(counts[:-1], out=roots[1:])
    leaf_matrix = np.asarray(b.leaf_value, dtype=np.float64).reshape(len(left), -1)[leaf_nodes]
    # Identical leaf rows are stored once (fully grown forests have mostly pure leaves), in
    # np.unique(axis=0)'s order.
    first, inverse = _native.unique_rows(leaf_matrix)
    if len(first) < len(leaf_matrix):
        nodes = records.view(dtype).reshape(-1)
        is_leaf = (nodes["feature_flags"] & np.uint32(L.TREE_LEAF)) != 0
        nodes["right"][is_leaf] = inverse.astype(np.uint32)
        leaf_matrix = leaf_matrix[first]
    return records, roots, leaf_matrix


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
