"""RowKernel's kernels of elementwise differences (docs/FORMAT.md 11, "Dense kernels"):
laplacian, additive_chi2 and chi2, bit for bit against their formulas summed in feature order;
the chi2 kernels refuse negative input; plan building refuses every malformed node."""

import math

import numpy as np
import pytest

import mle_runtime as mle
from mle_runtime import FormatError, _native
from mle_runtime.errors import InputError
from mle_runtime.format import layout as L
from mle_runtime.format import writer
from mle_runtime.ir import Graph

from native.test_plan_validation import CODES, encode, refuse  # noqa: F401  (refuse: a fixture)
from native.test_plan_validation import graph_json as _json

ROWS = np.abs(np.random.default_rng(5).normal(size=(7, 4)))
ROWS[0, 1] = 0.0  # x + y == 0 terms are skipped by the chi2 kernels


def kernel_graph(kind, rows=ROWS, **attrs):
    g = Graph("KernelRidge", rows.shape[1])
    g.allow_nan = True
    g.allow_inf = True
    g.output("predict", g.add("RowKernel", ["X"], rows=g.tensor(rows, "float64"), kernel=kind,
                              **attrs))
    return g


def _load(g, tmp_path):
    graph, arrays = _json(g)
    path = tmp_path / "k.mle"
    path.write_bytes(encode(graph, arrays, {}))
    return mle.load(path)


def reference(kind, X, gamma=None):
    out = np.empty((len(X), len(ROWS)))
    for r, x in enumerate(X):
        for j, y in enumerate(ROWS):
            s = 0.0
            for a, b in zip(map(float, x), map(float, y)):
                if kind == "laplacian":
                    s += abs(a - b)
                elif a + b != 0:
                    s += (a - b) * (a - b) / (a + b)
            out[r, j] = (math.exp(-gamma * s) if kind == "laplacian"
                         else -s if kind == "additive_chi2" else math.exp(-s * gamma))
    return out


@pytest.mark.parametrize("kind, attrs", [("laplacian", {"gamma": 0.7}),
                                         ("additive_chi2", {}), ("chi2", {"gamma": 1.3})])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_follows_the_formulas_bit_for_bit(kind, attrs, dtype, tmp_path):
    model = _load(kernel_graph(kind, **attrs), tmp_path)
    rng = np.random.default_rng(1)
    X = np.abs(rng.normal(size=(60, 4))) * 2
    X[0] = 0.0
    X[1] = ROWS[3]
    X = X.astype(dtype)
    got = model.predict(X)
    np.testing.assert_array_equal(got, reference(kind, X, attrs.get("gamma")))
    np.testing.assert_array_equal(model.predict(X[1:2]), got[1:2])


@pytest.mark.parametrize("kind, attrs", [("additive_chi2", {}), ("chi2", {"gamma": 1.0})])
def test_chi2_kernels_refuse_negative_input(kind, attrs, tmp_path):
    model = _load(kernel_graph(kind, **attrs), tmp_path)
    X = np.abs(np.random.default_rng(2).normal(size=(5, 4)))
    X[3, 2] = -0.0  # not negative
    model.predict(X)
    X[4, 1] = -1e-30
    for x in (X, X.astype(np.float32), X[4:]):
        with pytest.raises(InputError, match="X contains negative values"):
            model.predict(x)


def test_laplacian_takes_any_sign(tmp_path):
    model = _load(kernel_graph("laplacian", gamma=0.5), tmp_path)
    X = np.random.default_rng(3).normal(size=(9, 4))
    np.testing.assert_array_equal(model.predict(X), reference("laplacian", X, 0.5))


def _node(graph):
    return [n for n in graph["nodes"] if n[0] == "RowKernel"][0]


@pytest.mark.parametrize("kind, attrs, fragment", [
    ("laplacian", {}, "laplacian needs gamma"),
    ("laplacian", {"gamma": None}, "laplacian needs gamma"),
    ("chi2", {}, "chi2 needs gamma"),
    ("additive_chi2", {"gamma": 1.0}, "additive_chi2 takes no gamma"),
    ("laplacian", {"gamma": 1.0, "coef0": 1.0}, "takes no coef0 or degree"),
    ("chi2", {"gamma": 1.0, "degree": 2.0}, "takes no coef0 or degree"),
    ("laplacian", {"gamma": "1"}, "gamma"),
    ("laplacian", {"gamma": True}, "gamma"),
])
def test_refuses_bad_parameters(refuse, kind, attrs, fragment):
    graph, arrays = _json(kernel_graph(kind))
    _node(graph)[3].update(attrs)
    refuse(graph, arrays, "(RowKernel)", fragment)


@pytest.mark.parametrize("text", [b"1e999", b"-1e999"])
def test_refuses_an_infinite_gamma(text):
    """A JSON number beyond the float range (the writer never writes one) is refused."""
    graph, arrays = _json(kernel_graph("laplacian", gamma=1.0))
    blob, offsets, align = writer.pack_tensors(arrays)
    graph["tensors"] = [[off, CODES[a.dtype], list(a.shape)] for off, a in zip(offsets, arrays)]
    encoded = writer.encode_json(graph)
    assert encoded.count(b'"gamma":1.0') == 1
    data = writer.pack_sections([
        (L.SECTION_META, writer.encode_json({})),
        (L.SECTION_GRAPH, encoded.replace(b'"gamma":1.0', b'"gamma":' + text)),
        (L.SECTION_DATA, blob, align)])
    with pytest.raises(FormatError, match="number out of range"):
        _native.load_buffer(data)


@pytest.mark.parametrize("kind", ["chi2", "additive_chi2"])
@pytest.mark.parametrize("value", [-1.0, np.nan, np.inf])
def test_chi2_kernels_refuse_bad_stored_rows(refuse, kind, value):
    attrs = {"gamma": 1.0} if kind == "chi2" else {}
    graph, arrays = _json(kernel_graph(kind, **attrs))
    rows = ROWS.copy()
    rows[2, 3] = value
    arrays[_node(graph)[3]["rows"]] = rows
    refuse(graph, arrays, "(RowKernel)", "finite and non-negative")


@pytest.mark.parametrize("kind", ["laplacian", "chi2", "additive_chi2"])
def test_refuses_malformed_rows(refuse, kind):
    attrs = {"gamma": 1.0} if kind != "additive_chi2" else {}
    graph, arrays = _json(kernel_graph(kind, **attrs))
    node = _node(graph)
    for bad, fragment in ((ROWS[:, :3], "rows"), (ROWS.ravel(), "rows"),
                          (ROWS.astype(np.float32), "rows"), (ROWS[:0], "rows")):
        arrays[node[3]["rows"]] = np.ascontiguousarray(bad)
        refuse(graph, arrays, "(RowKernel)", fragment)
    graph, arrays = _json(kernel_graph(kind, **attrs))
    arrays.append(np.ones(len(ROWS)))
    graph["tensors"].append([0, 0, [len(ROWS)]])
    _node(graph)[3]["row_sq_norms"] = len(arrays) - 1
    refuse(graph, arrays, "(RowKernel)")


def test_refuses_a_kernel_without_input_columns(refuse):
    g = Graph("KernelRidge", 0)
    g.output("predict", g.add("RowKernel", ["X"], rows=g.tensor(np.ones((3, 0)), "float64"),
                              kernel="laplacian", gamma=1.0))
    graph, arrays = _json(g)
    refuse(graph, arrays, "RowKernel")
