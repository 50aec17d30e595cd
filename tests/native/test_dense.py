"""The dense kernels (_native/src/kernels/dense/): our own vectorised products against the
scalar reference (identical bits), the OpenBLAS path against it (rounding only), the ops'
arithmetic against numpy, and plan validation of hostile graphs for every dense op."""

import copy

import numpy as np
import pytest

import mle_runtime as mle
from mle_runtime import FormatError, _native
from mle_runtime.format import writer
from mle_runtime.ir import Graph


def test_own_kernels_equal_the_reference_and_blas_is_close():
    own, blas = _native.dense_self_check()
    assert own == 0.0  # every vectorised variant this CPU runs: the reference's bits
    assert blas < 1e-4  # float32 products, relative to sqrt(k) + 1


def test_version_reports_the_dense_isa():
    info = _native.build_info()["dense"]
    assert info.split(",")[0] in ("avx512f", "avx2", "scalar")
    assert "OpenBLAS" in info


def _bytes(g):
    return writer.model_file(g, {"estimator_type": "transformer"})


RNG = np.random.default_rng(0)
ROWS = RNG.normal(size=(5, 3))


def proxy(g, tmp_path):
    path = tmp_path / "m.mle"
    path.write_bytes(_bytes(g))
    return mle.load(path)


@pytest.mark.parametrize("activation", [None, "relu", "tanh", "logistic"])
def test_dense_layer(activation, tmp_path):
    g = Graph("test", 3)
    w, b = RNG.normal(size=(3, 7)), RNG.normal(size=7)
    v = g.add("Dense", ["X"], weight=g.tensor(w, "float64"), bias=g.tensor(b, "float64"),
              activation=activation)
    g.output("transform", v)
    m = proxy(g, tmp_path)
    X = RNG.normal(size=(300, 3))
    z = X @ w + b
    ref = {None: z, "relu": np.maximum(z, 0), "tanh": np.tanh(z),
           "logistic": 1 / (1 + np.exp(-z))}[activation]
    np.testing.assert_allclose(m.transform(X), ref, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(m.transform(X.astype(np.float32)),
                               {None: lambda a: a, "relu": lambda a: np.maximum(a, 0),
                                "tanh": np.tanh, "logistic": lambda a: 1 / (1 + np.exp(-a))}
                               [activation](X.astype(np.float32).astype(np.float64) @ w + b),
                               rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("kernel", ["euclidean", "sqeuclidean", "linear", "poly", "rbf",
                                    "sigmoid", "cosine"])
def test_row_kernels_match_scikit_learn(kernel, tmp_path):
    from sklearn.metrics.pairwise import euclidean_distances, pairwise_kernels
    from sklearn.preprocessing import normalize

    Y = RNG.normal(size=(6, 4))
    X = RNG.normal(size=(200, 4))
    params = {"poly": dict(gamma=0.5, coef0=1.0, degree=3),
              "sigmoid": dict(gamma=0.3, coef0=0.2), "rbf": dict(gamma=0.7)}.get(kernel, {})
    g = Graph("test", 4)
    stored = normalize(Y) if kernel == "cosine" else Y
    norms = (Y ** 2).sum(axis=1) if kernel in ("euclidean", "sqeuclidean", "rbf") else None
    v = g.add("RowKernel", ["X"], rows=g.tensor(stored, "float64"),
              row_sq_norms=None if norms is None else g.tensor(norms, "float64"),
              kernel=kernel, **params)
    g.output("transform", v)
    m = proxy(g, tmp_path)
    if kernel in ("euclidean", "sqeuclidean"):
        expected = euclidean_distances(X, Y, squared=kernel == "sqeuclidean")
    else:
        expected = pairwise_kernels(X, Y, metric=kernel, **params)
    np.testing.assert_allclose(m.transform(X), expected, rtol=1e-12, atol=1e-12)
    for i in (0, 57, 199):
        np.testing.assert_allclose(m.transform(X[i:i + 1]), expected[i:i + 1], rtol=1e-12,
                                   atol=1e-12)
    old = _native.dense_reference(True)
    try:
        np.testing.assert_allclose(m.transform(X), expected, rtol=1e-12, atol=1e-12)
    finally:
        _native.dense_reference(old)


# ------------------------------------------------------------------ hostile graphs

def hostile(g, edit, *fragments):
    """Edits the graph JSON of ``g`` (whose tensors tests may have replaced by arrays of other
    shapes), writes it bypassing the writer's checks and expects FormatError naming them."""
    doc = copy.deepcopy(g.to_json(writer.pack_tensors(g.tensors)[1]))
    edit(doc)
    with pytest.raises(FormatError) as info:
        _native.load_buffer(_encode(doc, g.tensors))
    for f in fragments:
        assert f in str(info.value), str(info.value)


def _encode(doc, tensors):
    from mle_runtime.format import layout as L

    blob, _, align = writer.pack_tensors(tensors)
    payloads = [(L.SECTION_META, writer.encode_json({"estimator_type": "transformer"})),
                (L.SECTION_GRAPH, writer.encode_json(doc))]
    if tensors:
        payloads.append((L.SECTION_DATA, blob, align))
    return writer.pack_sections(payloads)


def attrs_of(doc, i=0):
    return doc["nodes"][i][3]


def dense_graph():
    g = Graph("test", 3)
    v = g.add("Dense", ["X"], weight=g.tensor(RNG.normal(size=(3, 4)), "float64"),
              bias=g.tensor(RNG.normal(size=4), "float64"), activation="tanh")
    g.output("transform", v)
    return g


def rows_graph(op):
    g = Graph("test", 3)
    rows = RNG.normal(size=(4, 3))
    # tensor 0: rows, 1: row_sq_norms, 2: children
    extra = {"rows": g.tensor(rows, "float64"),
             "row_sq_norms": g.tensor((rows ** 2).sum(axis=1), "float64")}
    if op == "BisectTree":
        extra["children"] = g.tensor(np.array([[1, -1], [-2, -3]], dtype=np.int32), "int32")
    if op == "RowKernel":
        extra["kernel"] = "euclidean"
    v = g.add(op, ["X"], **extra)
    g.output("transform" if op == "RowKernel" else "predict", v)
    return g


def test_valid_graphs_load():
    for g in (dense_graph(), rows_graph("NearestRow"), rows_graph("BisectTree"),
              rows_graph("RowKernel")):
        _native.load_buffer(_encode(g.to_json(writer.pack_tensors(g.tensors)[1]), g.tensors))


def test_dense_weight_of_wrong_rows():
    g = dense_graph()
    g.tensors[0] = np.zeros((2, 4))  # 2 input rows for 3 features
    hostile(g, lambda d: None, "weight")


def test_dense_weight_without_columns():
    g = dense_graph()
    g.tensors[0] = np.zeros((3, 0))
    g.tensors[1] = np.zeros(0)
    hostile(g, lambda d: None, "no columns")


def test_dense_bias_of_wrong_length():
    g = dense_graph()
    g.tensors[1] = np.zeros(5)
    hostile(g, lambda d: None, "bias")


def test_dense_unknown_activation():
    hostile(dense_graph(), lambda d: attrs_of(d).update(activation="gelu"), "activation")


def test_dense_weight_index_out_of_range():
    hostile(dense_graph(), lambda d: attrs_of(d).update(weight=99), "weight")


@pytest.mark.parametrize("op", ["NearestRow", "BisectTree", "RowKernel"])
def test_rows_of_wrong_width(op):
    g = rows_graph(op)
    g.tensors[0] = np.zeros((4, 2))
    hostile(g, lambda d: None, "rows")


@pytest.mark.parametrize("op", ["NearestRow", "BisectTree", "RowKernel"])
def test_norms_of_wrong_length(op):
    g = rows_graph(op)
    g.tensors[1] = np.zeros(3)
    hostile(g, lambda d: None, "row_sq_norms")


@pytest.mark.parametrize("op", ["NearestRow", "BisectTree", "RowKernel"])
def test_no_rows(op):
    g = rows_graph(op)
    g.tensors[0] = np.zeros((0, 3))
    g.tensors[1] = np.zeros(0)
    hostile(g, lambda d: None, "rows")


@pytest.mark.parametrize("children,fragment", [
    ([[0, -1], [-2, -3]], "after its parent"),   # a cycle onto itself
    ([[1, -1], [0, -3]], "after its parent"),    # back to the root
    ([[2, -1], [-2, -3]], "below 2"),           # out of range
])
def test_bisect_tree_children(children, fragment):
    g = rows_graph("BisectTree")
    g.tensors[2] = np.array(children, dtype=np.int32)
    hostile(g, lambda d: None, fragment)


def test_bisect_tree_odd_rows():
    g = rows_graph("BisectTree")
    g.tensors[0] = np.zeros((3, 3))
    g.tensors[1] = np.zeros(3)
    hostile(g, lambda d: None, "two centers")


def test_row_kernel_needs_norms_for_distances():
    hostile(rows_graph("RowKernel"), lambda d: attrs_of(d).pop("row_sq_norms"),
            "row_sq_norms")


def test_row_kernel_refuses_norms_it_does_not_use():
    hostile(rows_graph("RowKernel"), lambda d: attrs_of(d).update(kernel="linear"),
            "only used")


@pytest.mark.parametrize("value", [float("inf"), float("nan")])
def test_row_kernel_non_finite_parameter(value):
    def edit(d):
        attrs_of(d).update(kernel="rbf", gamma=value)

    g = rows_graph("RowKernel")
    doc = g.to_json(writer.pack_tensors(g.tensors)[1])
    edit(doc)
    try:
        data = _encode(doc, g.tensors)
    except ValueError:
        return  # the JSON encoder refuses non-finite numbers: no such file can be written
    with pytest.raises(FormatError):
        _native.load_buffer(data)


def test_gaussian_log_likelihood_shapes():
    g = Graph("test", 3)
    v = g.add("GaussianLogLikelihood", ["X"], mean=g.tensor(np.zeros(3), "float64"),
              precision=g.tensor(np.eye(3), "float64"), constant=1.5)
    g.output("score_samples", v, True)
    _native.load_buffer(_encode(g.to_json(writer.pack_tensors(g.tensors)[1]), g.tensors))
    g.tensors[1] = np.eye(2)
    hostile(g, lambda d: None, "precision")


def test_greater_than_needs_a_number():
    g = Graph("test", 3)
    v = g.add("GreaterThan", ["X"], threshold=0.5)
    g.output("predict", v)
    hostile(g, lambda d: attrs_of(d).update(threshold="0.5"), "threshold")


FORK_SCRIPT = r"""
import os, sys, json
import numpy as np
import mle_runtime as mle
model = mle.load(sys.argv[1])
X = np.random.default_rng(0).normal(size=(20000, 12))
parent = model.predict_proba(X, n_threads=2)
pid = os.fork()
if pid == 0:
    ok = np.array_equal(model.predict_proba(X, n_threads=2), parent)
    ok = ok and np.allclose(model.predict_proba(X[:1]), parent[:1], rtol=1e-12, atol=1e-15)
    os._exit(0 if ok else 3)
_, status = os.waitpid(pid, 0)
print(json.dumps({"child": os.waitstatus_to_exitcode(status)}))
"""


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_blas_backed_model_predicts_in_a_forked_child(tmp_path):
    """OpenBLAS (single-threaded) under our pool: a child forked after multi-threaded batches
    predicts the parent's results, multi-threaded, without hanging."""
    import json
    import subprocess
    import sys
    import warnings

    from sklearn.datasets import make_classification
    from sklearn.neural_network import MLPClassifier

    X, y = make_classification(n_samples=400, n_features=12, n_classes=3, n_informative=6,
                               random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MLPClassifier((64, 32), max_iter=30, random_state=0).fit(X, y)
    path = tmp_path / "mlp.mle"
    mle.dump(model, path)
    proc = subprocess.run([sys.executable, "-c", FORK_SCRIPT, str(path)], capture_output=True,
                          text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"child": 0}


def test_row_kernel_width_must_be_backed():
    g = Graph("test", 0)
    v = g.add("RowKernel", ["X"], rows=g.tensor(np.zeros((4, 0)), "float64"), kernel="linear")
    g.output("transform", v)
    hostile(g, lambda d: d["tensors"][0][2].__setitem__(0, 1 << 30), "not backed")


def test_importing_starts_no_blas_threads_and_leaves_the_environment_alone():
    import json
    import os
    import subprocess
    import sys

    code = ("import os, json, numpy; a = len(os.listdir('/proc/self/task')); "
            "import mle_runtime; b = len(os.listdir('/proc/self/task')); "
            "print(json.dumps([a, b, os.environ.get('OPENBLAS_NUM_THREADS')]))")
    if not os.path.isdir("/proc/self/task"):
        pytest.skip("needs /proc/self/task")
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    before, after, var = json.loads(proc.stdout)
    assert after == before and var is None
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env=dict(env, OPENBLAS_NUM_THREADS="3"))
    assert json.loads(proc.stdout)[2] == "3"
