"""KNeighborsTransformer (and RadiusNeighborsTransformer): transform returns scikit-learn's
sparse neighbour graph exactly (values, indices, indptr, dtypes, matrix type). scikit-learn's
brute-force search orders neighbours at equal distances as it does with one thread (see
docs/FORMAT.md, KNearest), so the references are computed with one OpenMP thread."""

import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from sklearn.datasets import load_digits, load_iris
from sklearn.neighbors import KNeighborsTransformer, RadiusNeighborsTransformer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

import mle_runtime as mle
from mle_runtime.errors import UnsupportedModelError

RTOL = 1e-9


def _roundtrip(est, tmp_path):
    path = tmp_path / "m.mle"
    mle.dump(est, path)
    return mle.load(path)


def _same_graph(got, exp):
    if callable(exp):
        with threadpool_limits(1, user_api="openmp"):
            exp = exp()
    assert type(got) is type(exp)
    assert got.shape == exp.shape
    assert got.format == "csr"
    np.testing.assert_array_equal(got.indptr, exp.indptr)
    np.testing.assert_array_equal(got.indices, exp.indices)
    assert got.indices.dtype == exp.indices.dtype and got.indptr.dtype == exp.indptr.dtype
    assert got.data.dtype == exp.data.dtype
    np.testing.assert_allclose(got.data, exp.data, rtol=RTOL, atol=0)


def _data(name):
    if name == "iris":
        return load_iris().data
    return load_digits().data[:400]


@pytest.mark.parametrize("data", ["iris", "digits"])
@pytest.mark.parametrize("mode", ["distance", "connectivity"])
@pytest.mark.parametrize("algorithm", ["brute", "kd_tree", "ball_tree"])
def test_kneighbors_transformer(tmp_path, data, mode, algorithm):
    X = _data(data)
    rng = np.random.default_rng(0)
    est = KNeighborsTransformer(n_neighbors=5, mode=mode, algorithm=algorithm).fit(X[::2])
    model = _roundtrip(est, tmp_path)
    queries = np.vstack([X[1::2], X[::2][:20], X[:7] + rng.normal(0, 0.1, X[:7].shape)])
    _same_graph(model.transform(queries), lambda: est.transform(queries))
    _same_graph(model.transform(queries[:1]), lambda: est.transform(queries[:1]))  # one row
    with threadpool_limits(1, user_api="openmp"):
        d, i = est.kneighbors(queries)
    gd, gi = model.kneighbors(queries)
    np.testing.assert_array_equal(gi, i)
    np.testing.assert_allclose(gd, d, rtol=RTOL, atol=0)


@pytest.mark.parametrize("mode", ["distance", "connectivity"])
@pytest.mark.parametrize("algorithm", ["brute", "kd_tree", "ball_tree"])
def test_ties_on_a_grid(tmp_path, mode, algorithm):
    # integer grid points: many neighbours at equal distances
    X = np.array([[a, b] for a in range(6) for b in range(6)], dtype=np.float64)
    est = KNeighborsTransformer(n_neighbors=6, mode=mode, algorithm=algorithm).fit(X)
    model = _roundtrip(est, tmp_path)
    q = np.vstack([X, X[:10] + 0.5])
    _same_graph(model.transform(q), lambda: est.transform(q))


@pytest.mark.parametrize("metric", ["manhattan", "chebyshev", "minkowski"])
def test_other_metrics(tmp_path, metric):
    X = load_iris().data
    kw = {"p": 3} if metric == "minkowski" else {}
    est = KNeighborsTransformer(n_neighbors=3, metric=metric, **kw).fit(X)
    model = _roundtrip(est, tmp_path)
    _same_graph(model.transform(X), lambda: est.transform(X))


def test_float32_and_dataframe_input(tmp_path):
    X = load_iris().data
    cols = [f"c{i}" for i in range(4)]
    frame = pd.DataFrame(X, columns=cols)
    est = KNeighborsTransformer(n_neighbors=4, algorithm="kd_tree").fit(frame)
    model = _roundtrip(est, tmp_path)
    q = frame.iloc[::3]
    _same_graph(model.transform(q), lambda: est.transform(q))
    x32 = X[::5].astype(np.float32)
    with np.errstate(all="ignore"):
        _same_graph(model.transform(x32), est.transform(x32))


def test_float32_brute_is_refused_at_call(tmp_path):
    X = load_iris().data
    est = KNeighborsTransformer(n_neighbors=4, algorithm="brute").fit(X)
    model = _roundtrip(est, tmp_path)
    with pytest.raises(Exception, match="float32"):
        model.transform(X.astype(np.float32))


def test_last_step_of_a_pipeline(tmp_path):
    X = load_iris().data
    pipe = make_pipeline(StandardScaler(), KNeighborsTransformer(n_neighbors=3)).fit(X)
    model = _roundtrip(pipe, tmp_path)
    _same_graph(model.transform(X[:30]), lambda: pipe.transform(X[:30]))
    assert not hasattr(model, "kneighbors")


def test_intermediate_step_is_refused(tmp_path):
    from sklearn.preprocessing import MaxAbsScaler

    X = load_iris().data
    pipe = make_pipeline(KNeighborsTransformer(n_neighbors=3), MaxAbsScaler()).fit(X)
    with pytest.raises(UnsupportedModelError, match="KNeighborsTransformer"):
        mle.dump(pipe, tmp_path / "p.mle")


def test_too_many_neighbours_is_refused(tmp_path):
    X = load_iris().data[:5]
    # distance mode searches n_neighbors + 1 = 6 > 5 rows: scikit-learn's transform raises
    est = KNeighborsTransformer(n_neighbors=5, mode="distance").fit(X)
    with pytest.raises(UnsupportedModelError, match="n_neighbors"):
        mle.dump(est, tmp_path / "m.mle")


def test_fit_transform_is_read_only(tmp_path):
    X = load_iris().data
    model = _roundtrip(KNeighborsTransformer(n_neighbors=3).fit(X), tmp_path)
    with pytest.raises(AttributeError, match="fit_transform"):
        model.fit_transform(X)


def test_load_imports_no_scipy_and_missing_scipy_is_clear(tmp_path):
    X = load_iris().data
    path = tmp_path / "m.mle"
    mle.dump(KNeighborsTransformer(n_neighbors=3).fit(X), path)
    code = textwrap.dedent(f"""
        import sys
        sys.modules["scipy"] = None
        sys.modules["sklearn"] = None
        import numpy as np
        import mle_runtime as mle
        from mle_runtime.errors import MissingDependencyError
        m = mle.load({str(path)!r})
        d, i = m.kneighbors(np.zeros((2, 4)))
        try:
            m.transform(np.zeros((2, 4)))
        except MissingDependencyError as e:
            assert "scipy" in str(e), e
            print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr


def test_result_is_a_csr_matrix(tmp_path):
    X = load_iris().data
    model = _roundtrip(KNeighborsTransformer(n_neighbors=2).fit(X), tmp_path)
    g = model.transform(X[:4])
    assert sparse.isspmatrix_csr(g)
    assert g.shape == (4, 150)


# -- RadiusNeighborsTransformer ------------------------------------------------------------

@pytest.mark.parametrize("data,radius", [("iris", 0.6), ("digits", 25.0)])
@pytest.mark.parametrize("mode", ["distance", "connectivity"])
@pytest.mark.parametrize("algorithm", ["brute", "kd_tree", "ball_tree"])
def test_radius_neighbors_transformer(tmp_path, data, radius, mode, algorithm):
    X = _data(data)
    rng = np.random.default_rng(1)
    est = RadiusNeighborsTransformer(radius=radius, mode=mode, algorithm=algorithm).fit(X[::2])
    model = _roundtrip(est, tmp_path)
    far = X[:3] + 1e3  # rows without any neighbour: empty rows of the graph
    queries = np.vstack([X[1::2], X[:5] + rng.normal(0, 0.05, X[:5].shape), far])
    _same_graph(model.transform(queries), lambda: est.transform(queries))
    _same_graph(model.transform(queries[:1]), lambda: est.transform(queries[:1]))
    _same_graph(model.transform(far), lambda: est.transform(far))
    assert model.transform(far).nnz == 0


@pytest.mark.parametrize("metric", ["manhattan", "chebyshev", "minkowski"])
@pytest.mark.parametrize("algorithm", ["brute", "kd_tree", "ball_tree"])
def test_radius_other_metrics(tmp_path, metric, algorithm):
    X = load_iris().data
    kw = {"p": 3} if metric == "minkowski" else {}
    est = RadiusNeighborsTransformer(radius=0.5, metric=metric, algorithm=algorithm,
                                     **kw).fit(X)
    model = _roundtrip(est, tmp_path)
    _same_graph(model.transform(X), lambda: est.transform(X))


@pytest.mark.parametrize("mode", ["distance", "connectivity"])
@pytest.mark.parametrize("algorithm", ["brute", "kd_tree", "ball_tree"])
def test_radius_ties_on_a_grid(tmp_path, mode, algorithm):
    X = np.array([[a, b] for a in range(7) for b in range(7)], dtype=np.float64)
    est = RadiusNeighborsTransformer(radius=2.0, mode=mode, algorithm=algorithm).fit(X)
    model = _roundtrip(est, tmp_path)
    q = np.vstack([X, X[:10] + 0.5])
    _same_graph(model.transform(q), lambda: est.transform(q))


def test_radius_float32_and_dataframe(tmp_path):
    X = load_iris().data
    frame = pd.DataFrame(X, columns=list("abcd"))
    est = RadiusNeighborsTransformer(radius=0.5, algorithm="ball_tree").fit(frame)
    model = _roundtrip(est, tmp_path)
    _same_graph(model.transform(frame.iloc[::4]), lambda: est.transform(frame.iloc[::4]))
    x32 = X[::5].astype(np.float32)
    _same_graph(model.transform(x32), lambda: est.transform(x32))
    brute = _roundtrip(RadiusNeighborsTransformer(radius=0.5, algorithm="brute").fit(X),
                       tmp_path)
    with pytest.raises(Exception, match="float32"):
        brute.transform(x32)


def test_radius_nan_is_refused(tmp_path):
    X = load_iris().data
    model = _roundtrip(RadiusNeighborsTransformer(radius=0.5).fit(X), tmp_path)
    bad = X[:2].copy()
    bad[0, 1] = np.nan
    with pytest.raises(ValueError):
        model.transform(bad)


def test_radius_pipeline_last_step_and_intermediate(tmp_path):
    from sklearn.preprocessing import MaxAbsScaler

    X = load_iris().data
    pipe = make_pipeline(StandardScaler(), RadiusNeighborsTransformer(radius=0.8)).fit(X)
    model = _roundtrip(pipe, tmp_path)
    _same_graph(model.transform(X[:40]), lambda: pipe.transform(X[:40]))
    inner = make_pipeline(RadiusNeighborsTransformer(radius=0.8), MaxAbsScaler()).fit(X)
    with pytest.raises(UnsupportedModelError, match="RadiusNeighborsTransformer"):
        mle.dump(inner, tmp_path / "p.mle")


@pytest.mark.parametrize("cls,kw", [(KNeighborsTransformer, {"n_neighbors": 6}),
                                    (RadiusNeighborsTransformer, {"radius": 22.0})])
def test_large_batches_in_blocks(tmp_path, monkeypatch, cls, kw):
    # a batch computed in several blocks of rows (each of at least 1025) gives the matrix of
    # one call; brute force with more stored rows than a block's
    from mle_runtime.runtime import proxies

    monkeypatch.setattr(proxies, "_SPARSE_BLOCK_ENTRIES", 1)
    digits = load_digits().data
    X = np.vstack([digits, digits[:700] + 0.5])  # 2497 rows, with duplicates (ties)
    est = cls(algorithm="brute", **kw).fit(X[:1300])
    model = _roundtrip(est, tmp_path)
    _same_graph(model.transform(X), lambda: est.transform(X))
    _same_graph(model.transform(X[:1100]), lambda: est.transform(X[:1100]))
