"""NormalizeRows (docs/FORMAT.md 11, "Output heads"): x / x.sum(axis=1) as numpy computes it,
and its three rules for a row summing to zero ("uniform", "keep", "divide": 0 / 0 is NaN)."""

import numpy as np
import pytest

import mle_runtime as mle
from mle_runtime.format import writer
from mle_runtime.ir import Graph

from native.test_plan_validation import encode, refuse  # noqa: F401  (refuse: a fixture)


def _model(mode, tmp_path):
    g = Graph("x", 4)
    g.allow_nan = True
    g.output("predict_proba", g.add("NormalizeRows", ["X"], zero_rows=mode))
    _, offsets, _ = writer.pack_tensors(g.tensors)
    path = tmp_path / "n.mle"
    path.write_bytes(encode(g.to_json(offsets), list(g.tensors), {}))
    return mle.load(path)


@pytest.mark.parametrize("mode", ["uniform", "keep", "divide"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_zero_rows(mode, dtype, tmp_path):
    X = np.abs(np.random.default_rng(0).normal(size=(30, 4))).astype(dtype)
    X[3] = 0.0
    X[7] = [1.0, -1.0, 0.0, 0.0]
    got = _model(mode, tmp_path).predict_proba(X)
    assert got.dtype == dtype
    with np.errstate(all="ignore"):
        expected = (X.astype(np.float64) / X.astype(np.float64).sum(axis=1, keepdims=True))
    if mode == "uniform":
        expected[[3, 7]] = 0.25
    elif mode == "keep":
        expected[[3, 7]] = X[[3, 7]]
    np.testing.assert_array_equal(got, expected.astype(dtype))
    if mode == "divide":
        assert np.isnan(got[3]).all() and np.isinf(got[7, :2]).all()


def test_refuses_unknown_rules(refuse, tmp_path):
    g = Graph("x", 4)
    g.output("predict_proba", g.add("NormalizeRows", ["X"], zero_rows="divide"))
    _, offsets, _ = writer.pack_tensors(g.tensors)
    graph = g.to_json(offsets)
    for bad in ("nan", "Divide", 1, None):
        graph["nodes"][0][3]["zero_rows"] = bad
        refuse(graph, list(g.tensors), "(NormalizeRows)", "zero_rows")
