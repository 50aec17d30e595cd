"""Parity of the covariance estimators' mahalanobis and EllipticEnvelope's methods with
scikit-learn on real data (largest measured difference about 1e-15 of the largest value)."""

import numpy as np
import pytest
from sklearn import covariance as C
from sklearn.datasets import load_diabetes, load_wine
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import mle_runtime as mle
from mle_runtime import UnsupportedModelError
from covariance_testing import check_methods, close, roundtrip

ESTIMATORS = {
    "EmpiricalCovariance": lambda **kw: C.EmpiricalCovariance(**kw),
    "ShrunkCovariance": lambda **kw: C.ShrunkCovariance(shrinkage=0.3, **kw),
    "LedoitWolf": lambda **kw: C.LedoitWolf(**kw),
    "OAS": lambda **kw: C.OAS(**kw),
    "MinCovDet": lambda **kw: C.MinCovDet(random_state=0, **kw),
    "GraphicalLasso": lambda **kw: C.GraphicalLasso(alpha=0.05, **kw),
    "GraphicalLassoCV": lambda **kw: C.GraphicalLassoCV(cv=3, **kw),
    "EllipticEnvelope": lambda **kw: C.EllipticEnvelope(random_state=0, contamination=0.1,
                                                        **kw),
}
METHODS = {"EllipticEnvelope": ["mahalanobis", "score_samples", "decision_function",
                                "predict"]}


def _data(name):
    if name == "diabetes":
        X = load_diabetes(return_X_y=True)[0][:, :6]
        return (X - X.mean(axis=0)) / X.std(axis=0)
    if name == "wine":
        X = load_wine(return_X_y=True)[0][:, :5]
        return (X - 0.8 * X.mean(axis=0)) / X.std(axis=0)  # scaled, not centred
    rng = np.random.default_rng(0)
    return rng.normal(size=(120, 4)) @ np.array([[2.0, 0.5, 0, 0], [0, 1, 0.3, 0],
                                                  [0, 0, 1.5, 0.2], [0.1, 0, 0, 0.7]]) + 3.0


@pytest.mark.parametrize("assume_centered", [False, True])
@pytest.mark.parametrize("data", ["diabetes", "wine", "synthetic"])
@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_parity(name, data, assume_centered, tmp_path):
    X = _data(data)
    est = ESTIMATORS[name](assume_centered=assume_centered).fit(X)
    model = roundtrip(est, tmp_path)
    methods = METHODS.get(name, ["mahalanobis"])
    for m in ("predict", "decision_function", "score_samples", "transform", "mahalanobis"):
        assert hasattr(model, m) == (m in methods), m
    worst = check_methods(est, model, X, methods)
    assert worst < 1e-12


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_dataframe_and_nan(name, tmp_path):
    pd = pytest.importorskip("pandas")
    X = _data("wine")
    cols = ["alcohol", "malic", "ash", "alcalinity", "magnesium"]
    df = pd.DataFrame(X, columns=cols)
    est = ESTIMATORS[name]().fit(df)
    model = roundtrip(est, tmp_path)
    for m in METHODS.get(name, ["mahalanobis"]):
        close(getattr(model, m)(df), getattr(est, m)(df))
        close(getattr(model, m)(df[cols[::-1]][cols]), getattr(est, m)(df))
        bad = X[:3].copy()
        bad[1, 2] = np.nan
        with pytest.raises(ValueError):
            getattr(est, m)(bad)
        with pytest.raises(ValueError, match="NaN"):
            getattr(model, m)(bad)


def test_elliptic_envelope_labels_and_offset(tmp_path):
    X = _data("synthetic")
    rng = np.random.default_rng(3)
    X_out = np.vstack([X, rng.uniform(-10, 15, size=(20, 4))])
    est = C.EllipticEnvelope(random_state=0, contamination=0.15).fit(X_out)
    model = roundtrip(est, tmp_path)
    pred = model.predict(X_out)
    assert pred.dtype == est.predict(X_out).dtype
    np.testing.assert_array_equal(pred, est.predict(X_out))
    assert set(np.unique(pred)) == {-1, 1}
    # rows right at the threshold: decision 0 is an inlier in both
    assert model.offset_ == est.offset_
    np.testing.assert_array_equal(model.support_, est.support_)


def test_pipeline(tmp_path):
    X = _data("wine")
    pipe = make_pipeline(StandardScaler(), C.EllipticEnvelope(random_state=0)).fit(X)
    model = roundtrip(pipe, tmp_path)
    for m in ("predict", "decision_function", "score_samples"):
        close(getattr(model, m)(X), getattr(pipe, m)(X))
    assert not hasattr(pipe, "mahalanobis") and not hasattr(model, "mahalanobis")
    # a Pipeline ending in a covariance estimator offers none of its methods: refused
    bare = make_pipeline(StandardScaler(), C.LedoitWolf()).fit(X)
    with pytest.raises(UnsupportedModelError, match="LedoitWolf"):
        mle.dump(bare, tmp_path / "bare.mle")


def test_frozen(tmp_path):
    from sklearn.frozen import FrozenEstimator

    X = _data("wine")
    frozen = FrozenEstimator(C.OAS().fit(X))
    model = roundtrip(frozen, tmp_path)
    close(model.mahalanobis(X), frozen.mahalanobis(X))


def test_store_precision_false_and_attributes(tmp_path):
    X = _data("synthetic")
    est = C.EmpiricalCovariance(store_precision=False).fit(X)
    model = roundtrip(est, tmp_path)
    close(model.mahalanobis(X), est.mahalanobis(X))
    np.testing.assert_array_equal(model.location_, est.location_)
    np.testing.assert_array_equal(model.covariance_, est.covariance_)
    lw = C.LedoitWolf().fit(X)
    assert roundtrip(lw, tmp_path, "lw.mle").shrinkage_ == lw.shrinkage_


def test_loads_without_sklearn(tmp_path):
    import subprocess
    import sys

    X = _data("wine")
    est = C.MinCovDet(random_state=0).fit(X)
    path = tmp_path / "mcd.mle"
    mle.dump(est, path)
    np.save(tmp_path / "x.npy", X)
    code = ("import sys\nfor b in ('sklearn', 'scipy'): sys.modules[b] = None\n"
            "import numpy as np, mle_runtime as mle\n"
            f"m = mle.load({str(path)!r})\n"
            f"x = np.load({str(tmp_path / 'x.npy')!r})\n"
            f"np.save({str(tmp_path / 'out.npy')!r}, m.mahalanobis(x))\n")
    subprocess.run([sys.executable, "-c", code], check=True)
    close(np.load(tmp_path / "out.npy"), est.mahalanobis(X))


@pytest.mark.parametrize("name", ["EmpiricalCovariance", "MinCovDet", "EllipticEnvelope"])
def test_fitted_on_float32(name, tmp_path):
    # scipy's mahalanobis widens the float32 location and precision to float64, as stored
    X = _data("synthetic")
    est = ESTIMATORS[name]().fit(X.astype(np.float32))
    assert est.location_.dtype == np.float32
    model = roundtrip(est, tmp_path)
    check_methods(est, model, X, METHODS.get(name, ["mahalanobis"]))


@pytest.mark.parametrize("name", ["LedoitWolf", "EllipticEnvelope"])
def test_input_variants(name, assert_parity, tmp_path):
    # int, list, Fortran-ordered and strided input as well
    X = _data("wine")
    est = ESTIMATORS[name]().fit(X)
    assert_parity(est, roundtrip(est, tmp_path), X,
                  methods=("predict", "decision_function", "score_samples", "transform",
                           "mahalanobis"))
