"""The tree packing and the model readers as they were written in Python before packing moved
to ``_native/src/pack.cpp`` and the exporters read XGBoost's UBJSON and LightGBM's text model.
Kept only as the reference the tests compare the current code with, byte for byte."""

import json

import numpy as np

from mle_runtime.errors import UnsupportedModelError
from mle_runtime.format import layout as L
from mle_runtime.ir.trees import Tree


def preorder(left, right):
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


def pack(trees, n_features, *, wide, threshold32=None):
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
            else:
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
    unique, inverse = np.unique(leaf_matrix, axis=0, return_inverse=True)
    if len(unique) < len(leaf_matrix):
        is_leaf = (nodes["feature_flags"] & np.uint32(L.TREE_LEAF)) != 0
        nodes["right"][is_leaf] = inverse.reshape(-1)[nodes["right"][is_leaf]]
        leaf_matrix = unique
    return (nodes.view(np.uint8).reshape(n_nodes, dtype.itemsize),
            np.asarray(roots, dtype=np.int32), leaf_matrix)


def xgboost_json_model(booster):
    """The XGBoost exporter's former input: the JSON model, arrays as lists."""
    return json.loads(booster.save_raw("json")), {}


def _lgb_bitset(categories):
    cats = np.asarray(categories, dtype=np.int64)
    if cats.size == 0:
        return np.zeros(1, dtype=np.uint32)
    words = np.zeros(int(cats.max()) // 32 + 1, dtype=np.uint64)
    np.bitwise_or.at(words, cats // 32, np.uint64(1) << (cats % 32).astype(np.uint64))
    return words.astype(np.uint32)


def lightgbm_convert_tree(info, sets, set_index, zeroed_threshold, missing_kinds):
    """The LightGBM exporter's former tree reader: one ``dump_model()`` tree_info entry."""
    left, right, feature, threshold, value = [], [], [], [], []
    default_left, missing, categorical, cat_left = [], [], [], []
    stack = [(info["tree_structure"], -1, False)]
    while stack:
        node, parent, is_right = stack.pop()
        i = len(left)
        if parent >= 0:
            (right if is_right else left)[parent] = i
        left.append(-1)
        right.append(-1)
        if "split_feature" not in node:
            feature.append(0)
            threshold.append(0.0)
            value.append(float(node["leaf_value"]))
            default_left.append(False)
            missing.append(L.TREE_MISSING_NONE)
            categorical.append(False)
            cat_left.append(0)
            continue
        feature.append(int(node["split_feature"]))
        value.append(0.0)
        default_left.append(bool(node.get("default_left", False)))
        kind = node.get("missing_type", "None")
        if node.get("decision_type") == "<=":
            threshold.append(zeroed_threshold(float(node["threshold"])))
            missing.append(missing_kinds[kind])
            categorical.append(False)
            cat_left.append(0)
        else:
            cats = [int(c) for c in str(node["threshold"]).split("||") if c != ""]
            key = tuple(sorted(set(cats)))
            if key not in set_index:
                set_index[key] = len(sets)
                sets.append(_lgb_bitset(key))
            threshold.append(0.0)
            missing.append(L.TREE_MISSING_NONE)
            categorical.append(True)
            cat_left.append(set_index[key])
        stack.append((node["right_child"], i, True))
        stack.append((node["left_child"], i, False))
    n = len(left)
    return Tree(
        left=np.asarray(left, dtype=np.int64), right=np.asarray(right, dtype=np.int64),
        feature=np.asarray(feature, dtype=np.int64),
        threshold=np.asarray(threshold, dtype=np.float64),
        leaf_value=np.asarray(value, dtype=np.float64).reshape(n, 1),
        default_left=np.asarray(default_left, dtype=bool),
        missing=np.asarray(missing, dtype=np.int64),
        categorical=np.asarray(categorical, dtype=bool),
        cat_left=np.asarray(cat_left, dtype=np.int64),
        cat_known=np.full(n, -1, dtype=np.int64),
    )
