"""mle_runtime.ir.trees: the float32 threshold rule, depth-first renumbering and packing."""

import numpy as np
import pytest

from mle_runtime.errors import UnsupportedModelError
from mle_runtime.format import layout as L
from mle_runtime.ir.trees import Tree, largest_float32_not_above, pack, preorder

F32 = np.float32


def _edge_thresholds():
    rng = np.random.default_rng(0)
    base = rng.standard_normal(2000) * np.exp(rng.uniform(-30, 30, 2000))
    f32 = rng.standard_normal(200).astype(F32).astype(np.float64)  # exactly representable
    halfway = (f32[:-1] + np.nextafter(f32[:-1].astype(F32), F32(np.inf)).astype(np.float64)) / 2
    special = np.array([0.0, -0.0, 1e-45, -1e-45, 1.5e-45, 3.4028234663852886e38, 1e39, -1e39,
                        np.finfo(F32).tiny / 3, -np.finfo(F32).tiny / 3, 0.1, -0.1, 1 / 3])
    return np.concatenate([base, f32, halfway, special])


@pytest.mark.filterwarnings("ignore:overflow encountered")
def test_rounded_threshold_is_the_largest_float32_not_above():
    t = _edge_thresholds()
    t2 = largest_float32_not_above(t)
    assert t2.dtype == F32
    assert np.all(t2.astype(np.float64) <= t)
    above = np.nextafter(t2, F32(np.inf))
    assert np.all(above.astype(np.float64) > t)


@pytest.mark.filterwarnings("ignore:overflow encountered")
@pytest.mark.parametrize("t", [0.1, -0.1, 1 / 3, 2.5, 1e-40, -7.000000000000001, 1e39, -1e39])
def test_comparison_is_unchanged_for_every_nearby_float32(t):
    t2 = largest_float32_not_above(np.array([t]))[0]
    start = F32(t) if np.isfinite(F32(t)) else np.finfo(F32).max * np.sign(t)
    xs = [start]
    for direction in (F32(np.inf), F32(-np.inf)):
        x = F32(start)
        for _ in range(4):
            x = np.nextafter(x, direction)
            xs.append(x)
    xs += [F32(np.inf), F32(-np.inf), F32(0.0), F32(-0.0)]
    for x in xs:
        assert (float(x) <= t) == (x <= t2), (t, x)


def test_exact_float32_thresholds_are_kept():
    t = np.array([0.5, -2.0, 0.0, 1e-3], dtype=F32).astype(np.float64)
    assert np.array_equal(largest_float32_not_above(t).astype(np.float64), t)


def _tree(left, right, feature=None, threshold=None, values=None):
    n = len(left)
    return Tree(left=np.array(left), right=np.array(right),
                feature=np.array(feature if feature is not None else [0] * n),
                threshold=np.array(threshold if threshold is not None else [0.5] * n, float),
                leaf_value=np.array(values if values is not None else
                                    [[float(i)] for i in range(n)], float))


def test_preorder_puts_the_left_subtree_first():
    #        0
    #      /   \
    #     3     1
    #    / \
    #   4   2
    left, right = [3, -1, -1, 4, -1], [1, -1, -1, 2, -1]
    assert preorder(np.array(left), np.array(right)).tolist() == [0, 3, 4, 2, 1]


def test_preorder_leaves_out_unreachable_nodes():
    assert preorder(np.array([1, -1, -1]), np.array([2, -1, -1])).tolist() == [0, 1, 2]
    assert preorder(np.array([-1, 0]), np.array([-1, 0])).tolist() == [0]


@pytest.mark.parametrize("left,right", [
    ([1, -1], [5, -1]),            # child out of range
    ([1, 0], [1, 0]),              # a node visited twice (a cycle)
    ([1, -1, -1], [1, -1, -1]),    # both children the same node
])
def test_preorder_refuses_malformed_trees(left, right):
    with pytest.raises(UnsupportedModelError, match="malformed tree"):
        preorder(np.array(left), np.array(right))


def test_pack_layout_near_child_adjacent_and_leaves_deduplicated():
    # root splits on feature 1; both leaves hold the same value, so one leaf row is stored
    t = _tree([1, -1, -1], [2, -1, -1], feature=[1, 0, 0], threshold=[0.25, 0, 0],
              values=[[0.0], [7.0], [7.0]])
    nodes, roots, leaves = pack([t, t], n_features=2, wide=False)
    rec = nodes.view(L.TREE_NODE32_DTYPE).reshape(-1)
    assert roots.tolist() == [0, 3]
    assert leaves.tolist() == [[7.0]]
    flags = rec["feature_flags"]
    assert (flags[0] & np.uint32(L.TREE_FEATURE_MASK)) == 1 and not flags[0] & L.TREE_LEAF
    assert rec["right"][0] == 2  # the far child's position; the near child is next (1)
    assert all(flags[i] & L.TREE_LEAF for i in (1, 2, 4, 5))
    assert rec["right"][1] == rec["right"][2] == 0  # both leaves point at the one row
    assert rec["threshold"][0] == F32(0.25)


def test_pack_refuses_what_the_kernel_cannot_represent():
    t = _tree([1, -1, -1], [2, -1, -1], feature=[3, 0, 0])
    with pytest.raises(UnsupportedModelError, match="feature index outside"):
        pack([t], n_features=2, wide=False)
    t = _tree([1, -1, -1], [2, -1, -1], threshold=[0.1, 0, 0])
    with pytest.raises(UnsupportedModelError, match="float32 exactly"):
        pack([t], n_features=1, wide=False)
    nodes, _, _ = pack([t], n_features=1, wide=True)  # float64 records keep it
    assert nodes.view(L.TREE_NODE64_DTYPE)["threshold"][0] == 0.1
