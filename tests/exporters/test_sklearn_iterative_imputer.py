"""IterativeImputer: parity of ``transform`` with scikit-learn (measured: float64 up to
1.0e-13 relative, from the regressors' products summed in another order than BLAS sums
them, float32 identical) on its datasets and seeded synthetic data with missing
values: every imputation order, n_nearest_features, min/max limits, every initial strategy,
numeric missing_values, keep_empty_features, add_indicator, skip_complete, max_iter=0, other
regressors as the estimator, single rows, float32, DataFrames, and scikit-learn's batch rule
(a batch whose every entry is missing gets the initial imputation; the same row in a larger
batch does not), also for the steps of a Pipeline after it. sample_posterior=True (random
draws) and the imputer inside a ColumnTransformer (the batch rule would change what the
steps after it get) are refused."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes, load_iris, make_regression
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeRegressor

from mle_runtime import UnsupportedModelError

RTOL = 1e-9


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning of the round-robin
        yield


def with_nans(X, frac=0.2, seed=0):
    X = np.array(X, dtype=np.float64)
    X[np.random.RandomState(seed).rand(*X.shape) < frac] = np.nan
    return X


def check(est, proxy, X, rtol=RTOL):
    exp = est.transform(X)
    got = proxy.transform(X)
    assert got.shape == exp.shape and got.dtype == exp.dtype
    if exp.dtype == np.float32:
        np.testing.assert_array_equal(got, exp)
    else:
        np.testing.assert_allclose(got, exp, rtol=rtol, atol=1e-14)


DIABETES = with_nans(load_diabetes().data)
IRIS = with_nans(load_iris().data, 0.25, 1)
SYNTH = with_nans(make_regression(300, 6, noise=1.0, random_state=3)[0], 0.3, 2)


@pytest.mark.parametrize("X", [DIABETES, IRIS, SYNTH], ids=["diabetes", "iris", "synthetic"])
@pytest.mark.parametrize("params", [
    {},
    {"max_iter": 3, "add_indicator": True},
    {"imputation_order": "descending", "initial_strategy": "median"},
    {"imputation_order": "roman", "initial_strategy": "most_frequent"},
    {"imputation_order": "arabic", "initial_strategy": "constant", "fill_value": 0.5},
    {"imputation_order": "random", "n_nearest_features": 2},
    {"min_value": -0.01, "max_value": 0.02},
    {"min_value": 0.0},
    {"max_iter": 0},
    {"skip_complete": True, "tol": 0.0},
])
def test_transform_parity(roundtrip, X, params):
    est = IterativeImputer(random_state=0, **params).fit(X)
    proxy = roundtrip(est)
    rows = X[::3]
    check(est, proxy, rows)
    check(est, proxy, X[:1])
    check(est, proxy, rows.astype(np.float32))
    check(est, proxy, pd.DataFrame(rows))


@pytest.mark.parametrize("estimator", [Ridge(alpha=0.3), LinearRegression(),
                                       KNeighborsRegressor(3), DecisionTreeRegressor(
                                           max_depth=4, random_state=0)])
def test_other_estimators(roundtrip, estimator):
    est = IterativeImputer(estimator=estimator, max_iter=4, random_state=0).fit(DIABETES)
    proxy = roundtrip(est)
    check(est, proxy, DIABETES[:80])
    check(est, proxy, DIABETES[:80].astype(np.float32))


def test_batch_rule_all_missing(roundtrip):
    est = IterativeImputer(random_state=0).fit(DIABETES)
    proxy = roundtrip(est)
    allnan = np.full((3, DIABETES.shape[1]), np.nan)
    check(est, proxy, allnan)  # the initial imputation (scikit-learn's np.all(mask) rule)
    check(est, proxy, allnan[:1])
    mixed = np.vstack([allnan, DIABETES[:5]])
    check(est, proxy, mixed)  # the same rows imputed iteratively
    assert not np.allclose(est.transform(mixed)[0], est.transform(allnan)[0])
    check(est, proxy, allnan.astype(np.float32))


def test_numeric_missing_value_and_nan_refused(roundtrip):
    X = np.nan_to_num(DIABETES, nan=-1.0)
    est = IterativeImputer(missing_values=-1.0, random_state=0, max_iter=5).fit(X)
    proxy = roundtrip(est)
    check(est, proxy, X[:40])
    check(est, proxy, np.full((2, X.shape[1]), -1.0))
    bad = X[:3].copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError):
        est.transform(bad)
    with pytest.raises(ValueError, match="NaN"):
        proxy.transform(bad)


def test_infinity_refused(roundtrip):
    est = IterativeImputer(random_state=0).fit(IRIS)
    proxy = roundtrip(est)
    bad = IRIS[:3].copy()
    bad[1, 2] = np.inf
    with pytest.raises(ValueError):
        est.transform(bad)
    with pytest.raises(ValueError, match="infinity"):
        proxy.transform(bad)


@pytest.mark.parametrize("keep", [False, True])
def test_features_empty_at_fit(roundtrip, keep):
    X = SYNTH.copy()
    X[:, 2] = np.nan
    est = IterativeImputer(keep_empty_features=keep, add_indicator=True, random_state=0,
                           max_iter=4).fit(X)
    proxy = roundtrip(est)
    Xt = SYNTH[:60]
    check(est, proxy, Xt)
    check(est, proxy, Xt[:1])
    allnan = np.full((2, X.shape[1]), np.nan)
    check(est, proxy, allnan)
    half = allnan.copy()
    half[:, 2] = 1.0  # the dropped column holds values: still "every entry missing"
    check(est, proxy, half)


def test_last_step_of_a_pipeline(roundtrip):
    pipe = make_pipeline(IterativeImputer(random_state=0)).fit(DIABETES)
    proxy = roundtrip(pipe)
    check(pipe, proxy, DIABETES[:30])
    check(pipe, proxy, np.full((2, DIABETES.shape[1]), np.nan))


def test_steps_after_it(roundtrip):
    y = load_diabetes().target
    pipe = make_pipeline(IterativeImputer(random_state=0), StandardScaler(),
                         Ridge()).fit(DIABETES, y)
    proxy = roundtrip(pipe)
    allnan = np.full((2, DIABETES.shape[1]), np.nan)
    for X in (DIABETES[:40], DIABETES[:1], allnan, np.vstack([allnan, DIABETES[:3]])):
        np.testing.assert_allclose(proxy.predict(X), pipe.predict(X), rtol=RTOL)
    assert "Pipeline(IterativeImputer, StandardScaler, Ridge)" in proxy._summary()
    yi = load_iris().target
    clf = make_pipeline(IterativeImputer(random_state=0),
                        LogisticRegression(max_iter=500)).fit(IRIS, yi)
    proxy = roundtrip(clf)
    for X in (IRIS, np.full((3, 4), np.nan), np.vstack([np.full((1, 4), np.nan), IRIS[:2]])):
        np.testing.assert_array_equal(proxy.predict(X), clf.predict(X))
        np.testing.assert_allclose(proxy.predict_proba(X), clf.predict_proba(X), rtol=RTOL,
                                   atol=1e-15)


def test_refusals(roundtrip):
    est = IterativeImputer(sample_posterior=True, random_state=0, max_iter=2).fit(IRIS)
    with pytest.raises(UnsupportedModelError, match="sample_posterior"):
        roundtrip(est)
    ct = make_column_transformer((IterativeImputer(random_state=0), [0, 1, 2]),
                                 remainder="passthrough").fit(IRIS)
    with pytest.raises(UnsupportedModelError, match="ColumnTransformer"):
        roundtrip(ct)
    pipe = make_pipeline(StandardScaler(), IterativeImputer(random_state=0)).fit(IRIS)
    with pytest.raises(UnsupportedModelError, match="input columns only"):
        roundtrip(pipe)
