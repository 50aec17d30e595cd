"""Shared checks of the parity tests of covariance, cross decomposition and latent-variable
estimators (tests/exporters/test_sklearn_covariance.py, test_sklearn_cross_decomposition.py,
test_sklearn_latent.py): a method of the loaded model against scikit-learn's on full batches,
single rows, float32 input and a DataFrame."""

import numpy as np
import pandas as pd

import mle_runtime as mle

RTOL = 1e-9


def roundtrip(est, tmp_path, name="m.mle"):
    p = tmp_path / name
    mle.dump(est, p)
    return mle.load(p)


def close(got, expected):
    """Labels equal; values within 1e-9 relative (of each value, or of the largest for values
    near 0); same shape and dtype. Returns the largest difference relative to the largest
    value."""
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    assert got.dtype == expected.dtype, (got.dtype, expected.dtype)
    if expected.dtype.kind not in "fc":
        np.testing.assert_array_equal(got, expected)
        return 0.0
    scale = max(float(np.abs(expected).max()), 1e-300) if expected.size else 1.0
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=RTOL * scale * 1e-3)
    return float(np.abs(got - expected).max()) / scale if expected.size else 0.0


def check_methods(est, model, X, methods, columns=None, single_row_1d=False):
    """Each method on X, single rows, float32 and a DataFrame; returns the largest relative
    difference."""
    worst = 0.0
    for m in methods:
        worst = max(worst, close(getattr(model, m)(X), getattr(est, m)(X)))
        for row in (X[:1], X[-1:]):
            exp = getattr(est, m)(row)
            if single_row_1d and m == "transform":
                exp = np.reshape(exp, (1, -1))
            worst = max(worst, close(getattr(model, m)(row), exp))
        X32 = X.astype(np.float32)
        worst = max(worst, close(getattr(model, m)(X32), getattr(est, m)(X32)))
    if columns is not None:
        df = pd.DataFrame(X, columns=columns)
        for m in methods:
            worst = max(worst, close(getattr(model, m)(df), getattr(est, m)(df)))
    return worst
