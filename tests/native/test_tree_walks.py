"""Every TreeEnsemble walk against the scalar reference walk, on random trees and edge values.

The kernel has several walks for trees without categorical nodes (the AVX2 vector walk over 32
rows, the branch-free walks of several rows or several trees at once) and may bin the input of
float64-threshold ensembles first (FORMAT.md 11.3). ``_native._tree_walk`` forces one walk
process-wide; the reference is the one-node-at-a-time walk (``"reference"``) over the file
written without binning. Each ensemble is also checked against a plain Python evaluation of the
trees' rules (FORMAT.md 11.1), so the reference itself is tested.

Inputs are built from the trees' own thresholds and their float32/float64 neighbours (a value
equal to a threshold, the next float above and below it), +-0, +-inf, NaN and subnormals.
"""

import zlib

import numpy as np
import pytest

import mle_runtime as mle
import mle_runtime.ir.trees as ir_trees
from mle_runtime import _native
from mle_runtime.format import layout as L
from mle_runtime.format import writer
from mle_runtime.ir import Graph
from mle_runtime.ir.trees import Tree, add_ensemble

pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")

WALKS = ["reference", "lanes", "rows", "trees", "auto"]
N_FEATURES = 6
F32 = np.float32


@pytest.fixture(autouse=True)
def _restore_walk():
    old = _native._tree_walk()
    yield
    _native._tree_walk(old)


def _threshold_pool(rng, f32):
    special = [0.0, -0.0, 5e-324, -5e-324, 1e-310, 1e-45, -1e-45, 1.4e-45, 1e-35, -1e-35,
               float(np.float32(1e-35)), 3.4028234663852886e38, -1e300, 1e300, 0.5, -2.25, 1 / 3]
    vals = np.concatenate([special, rng.standard_normal(40),
                           rng.standard_normal(20) * 10.0 ** rng.integers(-40, 40, 20)])
    return vals.astype(F32).astype(np.float64) if f32 else vals


def _random_tree(rng, pool, depth, n_out, missing_kinds):
    """A random tree in framework numbering: internal nodes test a pool value."""
    left, right, feature, threshold, dl, miss = [], [], [], [], [], []
    values = []

    def grow(d):
        i = len(left)
        left.append(-1), right.append(-1), feature.append(0), threshold.append(0.0)
        dl.append(False), miss.append(L.TREE_MISSING_NONE)
        values.append(rng.standard_normal(n_out))
        if d < depth and rng.random() < 0.85:
            f = int(rng.integers(N_FEATURES))
            feature[i] = f
            threshold[i] = float(rng.choice(pool))
            dl[i] = bool(rng.random() < 0.5)
            miss[i] = missing_kinds[f](rng)
            left[i] = grow(d + 1)
            right[i] = grow(d + 1)
        return i

    grow(0)
    return Tree(left=np.array(left), right=np.array(right), feature=np.array(feature),
                threshold=np.array(threshold), leaf_value=np.array(values),
                default_left=np.array(dl), missing=np.array(miss))


def _inputs(rng, pool, n_rows, f32):
    near = []
    for t in pool:
        if f32:
            t32 = F32(t)
            near += [t32, np.nextafter(t32, F32(np.inf)), np.nextafter(t32, F32(-np.inf))]
        else:
            near += [t, np.nextafter(t, np.inf), np.nextafter(t, -np.inf)]
    edge = [0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, -5e-324, 1e-40, -1e-40, 1e-36, -1e-36]
    choices = np.array([float(v) for v in near] + edge)
    X = rng.choice(choices, size=(n_rows, N_FEATURES))
    X[rng.random(X.shape) < 0.1] = np.nan
    return X


def _python_reference(trees, X, compare, wide, n_outputs, targets, base):
    """FORMAT.md 11.1 evaluated node by node on the framework-numbered trees."""
    out = np.tile(np.asarray(base, dtype=np.float64), (len(X), 1))
    cast = (lambda v: float(v)) if wide else (lambda v: float(F32(v)))
    for r, x in enumerate(X):
        for t, tree in enumerate(trees):
            i = 0
            while tree.left[i] >= 0:
                v = cast(x[tree.feature[i]])
                th = cast(tree.threshold[i])
                rule = tree.missing[i]
                go = None
                if np.isnan(v):
                    if rule == L.TREE_MISSING_NAN:
                        go = bool(tree.default_left[i])
                    elif rule in (L.TREE_MISSING_ZERO, L.TREE_MISSING_AS_ZERO):
                        v = 0.0
                if go is None and rule == L.TREE_MISSING_ZERO and abs(v) <= float(F32(1e-35)):
                    go = bool(tree.default_left[i])
                if go is None:
                    go = (v < th) if compare == "<" else (v <= th)
                i = tree.left[i] if go else tree.right[i]
            if targets is None:
                out[r] += tree.leaf_value[i]
            else:
                out[r, targets[t]] += tree.leaf_value[i][0]
    return out


def _model_file(path, trees, *, wide, compare, n_outputs, targets, base, binned):
    g = Graph("RandomTrees", N_FEATURES)
    g.allow_nan = g.allow_inf = True
    g.estimator_type = "regressor"
    old = ir_trees.binned
    if not binned:
        ir_trees.binned = lambda graph, nodes, **kw: (nodes, kw["wide"], {})
    try:
        y = add_ensemble(g, "X", trees, n_features=N_FEATURES, wide=wide, compare=compare,
                         aggregate="sum", base=base, targets=targets,
                         n_outputs=n_outputs if targets is not None else None)
    finally:
        ir_trees.binned = old
    g.output("predict", y)
    meta = {"framework": "test", "framework_version": "0", "model_class": "test.RandomTrees",
            "estimator_type": "regressor"}
    path.write_bytes(writer.model_file(g, meta))
    return g


def _nan_or_none(rng):
    return L.TREE_MISSING_NAN if rng.random() < 0.7 else L.TREE_MISSING_NONE


MISSING = {
    "none/nan": [_nan_or_none] * N_FEATURES,
    # LightGBM's rules: each feature one rule, as LightGBM's bin mappers give them
    "lightgbm": [lambda r: L.TREE_MISSING_AS_ZERO, lambda r: L.TREE_MISSING_ZERO,
                 lambda r: L.TREE_MISSING_NAN, lambda r: L.TREE_MISSING_AS_ZERO,
                 lambda r: L.TREE_MISSING_ZERO, lambda r: L.TREE_MISSING_NONE],
}

CONFIGS = [
    # (name, node64 records, compare, missing rules, outputs, one column per tree)
    ("node64<=", True, "<=", "none/nan", 1, False),
    ("node64<=-lightgbm", True, "<=", "lightgbm", 3, True),
    ("node64<", True, "<", "none/nan", 2, False),
    ("node32<", False, "<", "none/nan", 3, True),
    ("node32<=", False, "<=", "none/nan", 3, False),
]


@pytest.mark.parametrize("name,wide,compare,missing,n_out,per_tree", CONFIGS,
                         ids=[c[0] for c in CONFIGS])
def test_every_walk_matches_the_reference(tmp_path, name, wide, compare, missing, n_out,
                                          per_tree):
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    pool = _threshold_pool(rng, f32=not wide)
    n_trees = 37
    trees = [_random_tree(rng, pool, int(rng.integers(0, 10)), 1 if per_tree else n_out,
                          MISSING[missing]) for _ in range(n_trees)]
    targets = [t % n_out for t in range(n_trees)] if per_tree else None
    base = rng.standard_normal(n_out)
    kw = dict(wide=wide, compare=compare, n_outputs=n_out, targets=targets, base=base)
    plain, binned = tmp_path / "plain.mle", tmp_path / "binned.mle"
    _model_file(plain, trees, binned=False, **kw)
    g = _model_file(binned, trees, binned=True, **kw)
    ens = next(n for n in g.nodes if n.op == "TreeEnsemble")
    # float64 thresholds are binned unless a feature mixes LightGBM's zero rules with others
    assert ("bin_offsets" in ens.attrs) == wide

    X = _inputs(rng, pool, 301, f32=not wide)
    expected = _python_reference(trees, X, compare, wide, n_out, targets, base)
    _native._tree_walk("reference")
    ref = mle.load(plain, cache=False).predict(X)
    np.testing.assert_array_equal(ref, expected.reshape(ref.shape))
    for walk in WALKS:
        _native._tree_walk(walk)
        for path in (plain, binned):
            model = mle.load(path, cache=False)
            for rows in (1, 7, 8, 33, 301):  # single rows, partial groups, several blocks
                for dtype in (np.float64, np.float32):
                    Xd = X[:rows].astype(dtype)
                    if dtype is np.float32 and wide:
                        want = _python_reference(trees, Xd.astype(np.float64), compare, wide,
                                                 n_out, targets, base).reshape(-1, *ref.shape[1:])
                    else:
                        want = ref[:rows]
                    got = model.predict(Xd)
                    np.testing.assert_array_equal(got, want, err_msg=f"{walk} {path.name} "
                                                  f"{rows} rows {np.dtype(dtype).name}")


def test_the_walk_override_names_every_walk():
    for walk in WALKS:
        _native._tree_walk(walk)
        assert _native._tree_walk() == walk
    with pytest.raises(ValueError):
        _native._tree_walk("fastest")
