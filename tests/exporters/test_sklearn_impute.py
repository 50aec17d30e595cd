"""TargetEncoder, KNNImputer and IterativeImputer: parity with scikit-learn's ``transform``
(values within 1e-9 relative, atol 0; labels exactly) alone and inside pipelines, on string,
category and numeric columns with missing values and unseen categories."""

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_diabetes, load_iris, load_wine
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler, TargetEncoder

import mle_runtime as mle
from tabular_testing import CAT, NUM, titanic, unseen

RTOL = 1e-9


def _same(expected, got):
    np.testing.assert_allclose(np.asarray(got, dtype=np.float64),
                               np.asarray(expected, dtype=np.float64), rtol=RTOL, atol=0)


def _targets(X, y):
    return {
        "binary": y,
        "continuous": X["fare"].to_numpy(),
        "multiclass": np.random.RandomState(3).choice(["lo", "mid", "hi"], len(y)),
    }


# --- TargetEncoder -------------------------------------------------------------------------

@pytest.mark.parametrize("target", ["binary", "continuous", "multiclass"])
def test_target_encoder_parity(target, roundtrip):
    X, y = titanic()
    cols = CAT + ["sibsp"]
    X = X[cols]
    yy = _targets(X.assign(fare=titanic()[0]["fare"]), y)[target]
    enc = TargetEncoder().fit(X, yy)
    assert enc.target_type_ == target
    proxy = roundtrip(enc)
    T = unseen(X)
    T.loc[20:22, "sibsp"] = 17  # unseen numeric category
    for D in (X, T, T.iloc[:1], T.iloc[[11]], T.iloc[[18]]):
        expected = enc.transform(D)
        got = proxy.transform(D)
        assert got.shape == expected.shape
        _same(expected, got)
    # columns are taken by name (scikit-learn refuses a reordered frame; its values agree)
    _same(enc.transform(T), proxy.transform(T[cols[::-1]]))
    # the unseen rows take target_mean_, which is not any category's encoding
    got = proxy.transform(T)
    mean = np.atleast_1d(enc.target_mean_)
    _same(np.tile(mean, (10, 1)), got[:10, len(mean):2 * len(mean)])
    # numpy object arrays are taken by position
    A = T.to_numpy(dtype=object)
    _same(enc.transform(pd.DataFrame(A, columns=cols, dtype=object)), proxy.transform(A))


def test_target_encoder_explicit_categories_and_float32(roundtrip):
    rng = np.random.RandomState(5)
    X = pd.DataFrame({"k": rng.randint(0, 5, 300).astype(np.float64),
                      "s": pd.Series(rng.choice(["a", "b", "c", "d"], 300), dtype=object)})
    X.loc[:9, "k"] = np.nan
    y = rng.normal(size=300) + X["k"].fillna(2).to_numpy()
    # categories listed explicitly: "d" and 4.0 are not among them (unknown at transform)
    enc = TargetEncoder(categories=[[0.0, 1.0, 2.0, 3.0], ["a", "b", "c"]],
                        smooth=2.0).fit(X, y)
    proxy = roundtrip(enc)
    for D in (X, X.iloc[[0]], X.iloc[[40]]):
        _same(enc.transform(D), proxy.transform(D))
    Xf = X.astype({"k": np.float32})
    _same(enc.transform(Xf), proxy.transform(Xf))
    # an all-numeric array (no strings) in float32 and float64
    N = X[["k"]].to_numpy()
    encn = TargetEncoder().fit(N, y)
    pn = roundtrip(encn)
    for D in (N, N.astype(np.float32), N[:1], np.array([[99.0]])):
        _same(encn.transform(D), pn.transform(D))


def test_target_encoder_in_column_transformer_pipeline(roundtrip):
    X, y = titanic()
    ct = ColumnTransformer([("te", TargetEncoder(), CAT),
                            ("num", make_pipeline(
                                __import__("sklearn.impute", fromlist=["SimpleImputer"])
                                .SimpleImputer(), StandardScaler()), NUM)])
    model = make_pipeline(ct, LogisticRegression(max_iter=1000)).fit(X, y)
    proxy = roundtrip(model)
    T = unseen(X)
    for D in (X, T, T.iloc[:1]):
        np.testing.assert_array_equal(proxy.predict(D), model.predict(D))
        _same(model.predict_proba(D), proxy.predict_proba(D))
    R = T[list(T.columns)[::-1]]
    np.testing.assert_array_equal(proxy.predict(R), model.predict(T))
    _same(model.predict_proba(T), proxy.predict_proba(R))
    # multiclass target inside a pipeline
    ym = _targets(X, y)["multiclass"]
    model = make_pipeline(ColumnTransformer([("te", TargetEncoder(), CAT)],
                                            remainder="drop"),
                          LogisticRegression(max_iter=1000)).fit(X, ym)
    proxy = roundtrip(model)
    for D in (X, T, T.iloc[[15]]):
        np.testing.assert_array_equal(proxy.predict(D), model.predict(D))
        _same(model.predict_proba(D), proxy.predict_proba(D))


def test_target_encoder_regression_pipeline(roundtrip):
    X, _ = titanic()
    y = X["fare"].to_numpy()
    model = make_pipeline(ColumnTransformer([("te", TargetEncoder(target_type="continuous"),
                                              CAT)]), Ridge()).fit(X, y)
    proxy = roundtrip(model)
    T = unseen(X)
    for D in (X, T, T.iloc[:1]):
        _same(model.predict(D), proxy.predict(D))
