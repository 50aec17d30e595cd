"""Shared fixtures of the test suite.

Helpers are offered as fixtures (the suite runs with ``--import-mode=importlib``, where test
modules cannot import each other or this file):

- ``dataset(name, scaled=False, dtype=np.float64)``: cached ``(X, y)`` copies of scikit-learn's
  real datasets and seeded synthetic ones;
- ``roundtrip(model)``: ``mle.dump`` to a file in the test's ``tmp_path``, then ``mle.load``;
- ``assert_same(expected, got)``: parity of one output (type, shape, dtype, values);
- ``assert_parity(sk_model, proxy, X)``: every prediction method of a scikit-learn estimator
  against the proxy on X, single rows, float32, int and list input.
"""

import functools
import itertools
import warnings

import numpy as np
import pytest

import mle_runtime as mle

# Absolute tolerance for floating-point outputs (probabilities, decision values, regression
# outputs, transforms). Exact equality is required for labels and dtypes.
ATOL = 1e-9

METHODS = ("predict", "predict_proba", "predict_log_proba", "decision_function", "transform",
           "score_samples")

DATASETS = ("iris", "wine", "breast_cancer", "diabetes", "clf_binary", "clf_multiclass",
            "regression", "regression_multi3")


@functools.lru_cache(maxsize=None)
def _load(name):
    from sklearn import datasets

    if name in ("iris", "wine", "breast_cancer", "diabetes"):
        X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    elif name == "clf_binary":
        X, y = datasets.make_classification(n_samples=300, n_features=12, n_informative=6,
                                            n_classes=2, random_state=0)
    elif name == "clf_multiclass":
        X, y = datasets.make_classification(n_samples=300, n_features=12, n_informative=6,
                                            n_classes=4, n_clusters_per_class=1,
                                            random_state=1)
    elif name == "regression":
        X, y = datasets.make_regression(n_samples=200, n_features=10, noise=5.0,
                                        random_state=2)
    elif name == "regression_multi3":
        X, y = datasets.make_regression(n_samples=200, n_features=10, n_targets=3, noise=5.0,
                                        random_state=3)
    else:
        raise KeyError(name)
    X = np.ascontiguousarray(X, dtype=np.float64)
    X.setflags(write=False)
    y.setflags(write=False)
    return X, y


def _standardise(X):
    std = X.std(axis=0)
    std[std == 0] = 1.0
    return (X - X.mean(axis=0)) / std


@pytest.fixture(scope="session")
def dataset():
    """``dataset(name, scaled=False, dtype=np.float64) -> (X, y)`` (fresh writable copies)."""

    def get(name, scaled=False, dtype=np.float64):
        X, y = _load(name)
        if scaled:
            X = _standardise(X)
        return np.array(X, dtype=dtype), np.array(y)

    return get


@pytest.fixture
def roundtrip(tmp_path):
    """``roundtrip(model, name="model.mle") -> proxy``: dumps to tmp_path and loads back."""
    counter = itertools.count()

    def rt(model, name=None, **load_kwargs):
        path = tmp_path / (name or f"model{next(counter)}.mle")
        assert mle.dump(model, path) == [str(path)]
        return mle.load(path, **load_kwargs)

    return rt


# The one documented exception to 1e-9 parity: for float32 input, scikit-learn's Normalizer
# computes l1/l2 row norms in float32 with numpy's einsum/sum, whose accumulation order depends
# on the CPU's SIMD width; mle_runtime accumulates in float64 and rounds the norm once. Results
# then differ by a few float32 ulps (and downstream steps carry that difference).
FLOAT32_NORM_RTOL = 2e-5
FLOAT32_NORM_ATOL = 1e-6


def uses_float32_row_norm(model):
    """True when ``model`` is or contains a Normalizer with an l1/l2 norm."""
    if type(model).__name__ == "Normalizer":
        return model.norm in ("l1", "l2")
    steps = getattr(model, "steps", None)
    return bool(steps) and any(uses_float32_row_norm(s) for _, s in steps
                               if s is not None and s != "passthrough")


@pytest.fixture(scope="session")
def float32_row_norm():
    """``(uses_float32_row_norm, rtol, atol)``: the Normalizer float32 exception above."""
    return uses_float32_row_norm, FLOAT32_NORM_RTOL, FLOAT32_NORM_ATOL


def _assert_same(expected, got, what="", atol=ATOL, float32_norm=False):
    assert type(got) is np.ndarray, f"{what}: got {type(got).__name__}, expected ndarray"
    assert got.shape == expected.shape, f"{what}: shape {got.shape} != {expected.shape}"
    assert got.dtype == expected.dtype, f"{what}: dtype {got.dtype} != {expected.dtype}"
    if expected.dtype.kind == "f" and float32_norm:
        np.testing.assert_allclose(got, expected, rtol=FLOAT32_NORM_RTOL, atol=FLOAT32_NORM_ATOL,
                                   err_msg=what)
    elif expected.dtype.kind == "f":
        np.testing.assert_allclose(got, expected, rtol=0, atol=atol, err_msg=what)
    else:
        np.testing.assert_array_equal(got, expected, err_msg=what)


@pytest.fixture(scope="session")
def assert_same():
    """``assert_same(expected, got, what="", atol=1e-9)``: same type, shape, dtype and values."""
    return _assert_same


def _input_variants(X):
    """(name, input) pairs: the ways a caller may pass X."""
    n = X.shape[0]
    i = n // 2
    yield "float64", X
    yield "first row", X[:1]
    yield f"row {i}", X[i:i + 1]
    yield "last row", X[n - 1:]
    yield "float32", X.astype(np.float32)
    yield "float32 row", X[i:i + 1].astype(np.float32)
    yield "int64", np.round(X * 4).astype(np.int64)
    yield "list", X[:7].tolist()
    yield "fortran order", np.asfortranarray(X)
    yield "strided", X[::2]


def _assert_parity(sk_model, proxy, X, atol=ATOL, methods=METHODS, variants=True):
    """Checks every method of ``methods`` present on the scikit-learn model against the proxy;
    the proxy must lack exactly the methods scikit-learn's estimator lacks."""
    checked = []
    refused = []
    for name in methods:
        has = hasattr(sk_model, name)
        assert hasattr(proxy, name) == has, (
            f"hasattr(proxy, {name!r}) is {hasattr(proxy, name)}, scikit-learn says {has}")
        if not has:
            with pytest.raises(AttributeError):
                getattr(proxy, name)
            continue
        checked.append(name)
        cases = _input_variants(X) if variants else [(f"{np.asarray(X).dtype} {np.shape(X)}", X)]
        for label, data in cases:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # log(0) in predict_log_proba
                try:
                    expected = getattr(sk_model, name)(data)
                except ValueError as e:
                    # scikit-learn refuses this input (e.g. int data for an imputer whose fill
                    # value is a float): the proxy must refuse it too.
                    with pytest.raises(ValueError):
                        getattr(proxy, name)(data)
                    refused.append((name, label, str(e).splitlines()[0]))
                    continue
                got = getattr(proxy, name)(data)
            f32_norm = uses_float32_row_norm(sk_model) and np.asarray(data).dtype == np.float32
            _assert_same(np.asarray(expected), got,
                         f"{type(sk_model).__name__}.{name} on {label} input", atol, f32_norm)
    assert checked, "the model has none of the prediction methods"
    assert len(refused) < len(checked) * 3, f"scikit-learn refused most inputs: {refused}"
    return checked


@pytest.fixture(scope="session")
def assert_parity():
    """``assert_parity(sk_model, proxy, X, atol=1e-9, methods=METHODS, variants=True)``."""
    return _assert_parity
