"""ir.trees.pack (native renumbering, records and leaf deduplication) against the former
Python implementation (tests/tree_packing_reference.py), byte for byte, on random trees."""

import numpy as np
import pytest

import tree_packing_reference as ref
from mle_runtime import _native
from mle_runtime.errors import UnsupportedModelError
from mle_runtime.format import layout as L
from mle_runtime.ir.trees import Tree, batch, largest_float32_not_above, pack, preorder


def _random_tree(rng, n_features, n_out, *, categorical, known, float32, unreachable,
                 leaf_pool):
    """A random tree in a shuffled numbering (root 0), optionally with unreachable nodes."""
    n_internal = int(rng.integers(0, 40))
    n = 2 * n_internal + 1
    # grow: each internal node takes the next two free slots, then shuffle the numbering
    left = np.full(n, -1, dtype=np.int64)
    right = np.full(n, -1, dtype=np.int64)
    leaves, nxt = [0], 1
    for _ in range(n_internal):
        node = leaves.pop(int(rng.integers(len(leaves))))
        left[node], right[node] = nxt, nxt + 1
        leaves += [nxt, nxt + 1]
        nxt += 2
    extra = int(rng.integers(0, 4)) if unreachable else 0
    perm = np.concatenate([[0], 1 + rng.permutation(n - 1 + extra)])
    m = n + extra
    L_ = np.full(m, -1, dtype=np.int64)
    R_ = np.full(m, -1, dtype=np.int64)
    L_[perm[:n]] = np.where(left >= 0, perm[np.maximum(left, 0)], -1)
    R_[perm[:n]] = np.where(right >= 0, perm[np.maximum(right, 0)], -1)
    if extra:  # unreachable nodes, some of them pointing at reachable ones
        for j in perm[n:]:
            if rng.random() < 0.5:
                L_[j], R_[j] = 0, 0
    threshold = rng.standard_normal(m) * np.exp(rng.uniform(-5, 5, m))
    threshold[rng.random(m) < 0.1] = 0.0
    threshold[rng.random(m) < 0.05] = -0.0
    if float32:
        threshold = threshold.astype(np.float32).astype(np.float64)
    leaf_value = leaf_pool[rng.integers(len(leaf_pool), size=m)][:, :n_out]
    cat = rng.random(m) < 0.2 if categorical else None
    return Tree(
        left=L_, right=R_, feature=rng.integers(0, n_features, m),
        threshold=threshold, leaf_value=leaf_value,
        default_left=rng.random(m) < 0.5 if rng.random() < 0.8 else None,
        missing=rng.integers(0, 4, m) if rng.random() < 0.8 else None,
        categorical=cat,
        cat_left=rng.integers(0, 50, m) if categorical else None,
        cat_known=(np.where(rng.random(m) < 0.5, -1, rng.integers(0, 50, m))
                   if categorical and known else None),
    )


def _same(a, b):
    for x, y in zip(a, b):
        assert x.dtype == y.dtype and x.shape == y.shape
        assert x.tobytes() == y.tobytes()


CONFIGS = [
    # wide, threshold32, categorical, known
    (False, largest_float32_not_above, False, False),  # scikit-learn trees
    (False, None, False, False),  # XGBoost, CatBoost: exact float32
    (False, None, True, False),  # XGBoost categorical
    (True, None, False, False),  # LightGBM, HistGradientBoosting
    (True, None, True, True),  # HistGradientBoosting categorical (known sets)
    (True, None, True, False),  # LightGBM categorical
]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("wide,threshold32,categorical,known", CONFIGS)
def test_pack_matches_the_former_implementation(seed, wide, threshold32, categorical, known):
    rng = np.random.default_rng(seed)
    n_out = int(rng.integers(1, 4))
    pool = rng.standard_normal((int(rng.integers(1, 30)), 3))  # repeated leaf rows
    pool[0] = 0.0
    trees = [_random_tree(rng, 12, n_out, categorical=categorical, known=known,
                          float32=threshold32 is None and not wide, unreachable=seed % 2 == 1,
                          leaf_pool=pool)
             for _ in range(int(rng.integers(1, 30)))]
    expected = ref.pack(trees, 12, wide=wide, threshold32=threshold32)
    _same(pack(trees, 12, wide=wide, threshold32=threshold32), expected)
    _same(pack(batch(trees), 12, wide=wide, threshold32=threshold32), expected)


def test_pack_matches_on_a_large_forest_with_few_distinct_leaves():
    rng = np.random.default_rng(7)
    pool = np.eye(3)[rng.integers(0, 3, 50)]  # pure leaves of a fully grown classifier
    pool[::7] = rng.random((len(pool[::7]), 3))
    trees = [_random_tree(rng, 30, 3, categorical=False, known=False, float32=False,
                          unreachable=False, leaf_pool=pool) for _ in range(200)]
    _same(pack(trees, 30, wide=False, threshold32=largest_float32_not_above),
          ref.pack(trees, 30, wide=False, threshold32=largest_float32_not_above))


@pytest.mark.parametrize("left,right", [
    ([1, -1], [5, -1]),  # right child out of range
    ([1, -1, -1], [1, -1, -1]),  # a node reached twice
    ([0], [0]),  # a cycle through the root
    ([], []),  # no root
])
def test_malformed_trees_are_refused_as_before(left, right):
    left, right = np.array(left, dtype=np.int64), np.array(right, dtype=np.int64)
    with pytest.raises(UnsupportedModelError, match="malformed tree"):
        ref.preorder(left, right)
    with pytest.raises(UnsupportedModelError, match="malformed tree"):
        preorder(left, right)
    tree = Tree(left=left, right=right, feature=np.zeros(len(left), np.int64),
                threshold=np.zeros(len(left)), leaf_value=np.zeros((len(left), 1)))
    with pytest.raises(UnsupportedModelError, match="malformed tree"):
        pack([tree], 1, wide=True)


def test_errors_match_the_former_implementation():
    tree = Tree(left=np.array([1, -1, -1]), right=np.array([2, -1, -1]),
                feature=np.array([3, 0, 0]), threshold=np.array([0.1, 0, 0]),
                leaf_value=np.zeros((3, 1)))
    for impl in (ref.pack, pack):
        with pytest.raises(UnsupportedModelError, match="feature index outside"):
            impl([tree], 3, wide=True)
        with pytest.raises(UnsupportedModelError, match="do not fit float32 exactly"):
            impl([tree], 4, wide=False)
    cat = Tree(left=np.array([1, -1, -1]), right=np.array([2, -1, -1]),
               feature=np.array([0, 0, 0]), threshold=np.zeros(3), leaf_value=np.zeros((3, 1)),
               categorical=np.array([True, False, False]), cat_left=np.zeros(3, np.int64),
               cat_known=np.array([2, -1, -1]))
    for impl in (ref.pack, pack):
        with pytest.raises(UnsupportedModelError, match="known-category sets need float64"):
            impl([cat], 1, wide=False)


@pytest.mark.parametrize("seed", range(4))
def test_unique_rows_is_numpy_unique(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(1, 5))
    rows = rng.integers(-3, 4, (500, k)).astype(np.float64) / 2  # many repeats
    rows[rng.random(500) < 0.1, 0] = np.inf
    rows[rng.random(500) < 0.1, -1] = -np.inf
    first, inverse = _native.unique_rows(rows)
    unique, inv = np.unique(rows, axis=0, return_inverse=True)
    assert rows[first].tobytes() == unique.tobytes()
    assert np.array_equal(inverse, inv.reshape(-1))
    assert np.array_equal(first, [np.flatnonzero((rows == u).all(axis=1))[0] for u in unique])


def test_unique_rows_tells_signed_zeros_apart_and_sorts_nan_last():
    rows = np.array([[0.0], [-0.0], [np.nan], [1.0], [0.0], [np.nan]])
    first, inverse = _native.unique_rows(rows)
    got = rows[first]
    assert got[0, 0] == 0 and got[1, 0] == 0 and {np.signbit(got[0, 0]), np.signbit(got[1, 0])} \
        == {True, False}  # a leaf's -0.0 is kept as stored
    assert got[2, 0] == 1.0 and np.isnan(got[3, 0])
    assert np.array_equal(rows[first][inverse].view(np.uint64), rows.view(np.uint64))


def test_native_helpers_check_their_arguments():
    with pytest.raises(ValueError, match="offsets"):
        _native.tree_order(np.array([-1]), np.array([-1]), [0, 2])
    with pytest.raises(ValueError, match="right"):
        _native.tree_order(np.array([-1, -1]), np.array([-1]), [0, 2])
    with pytest.raises(ValueError, match="matrix"):
        _native.unique_rows(np.zeros(3))
    order, counts = _native.tree_order(np.array([-1]), np.array([-1]), [0, 1])
    with pytest.raises(ValueError, match="threshold"):
        _native.pack_nodes([0, 1], order, counts, [-1], [-1], [0], np.zeros(2), 1, True)
    with pytest.raises(ValueError, match="counts"):
        _native.pack_nodes([0, 1], order, [2], [-1], [-1], [0], np.zeros(1), 1, True)
    bad = np.array([5], dtype=np.int64)  # an order entry outside its tree
    with pytest.raises(Exception, match="outside its tree"):
        _native.pack_nodes([0, 1], bad, [1], [-1], [-1], [0], np.zeros(1), 1, True)
    assert L.TREE_NODE32_DTYPE.itemsize == 12 and L.TREE_NODE64_DTYPE.itemsize == 16
