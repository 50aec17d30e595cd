"""Parity of scikit-learn's naive Bayes classifiers with their .mle proxies.

Labels are compared exactly (with their dtype); floats (``predict_proba``,
``predict_log_proba``, ``predict_joint_log_proba``) within 1e-9 relative, plus 1e-9 times the
row's largest joint log-likelihood absolute (the log-probability of a class whose probability
is 1 is the difference of two such numbers, so no implementation gets it closer than that).
Inputs: the whole dataset, single rows, float32, int, list, Fortran-ordered, strided, pandas.
"""

import numpy as np
import pytest
from sklearn.naive_bayes import BernoulliNB, CategoricalNB, ComplementNB, GaussianNB, MultinomialNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import mle_runtime as mle

RTOL = 1e-9
METHODS = ("predict", "predict_proba", "predict_log_proba", "predict_joint_log_proba",
           "decision_function", "transform", "score_samples")

pytestmark = pytest.mark.filterwarnings("ignore:divide by zero encountered in log")


def variants(X):
    n = X.shape[0]
    yield "float64", X
    yield "first row", X[:1]
    yield "last row", X[n - 1:]
    yield "float32", X.astype(np.float32)
    yield "float32 row", X[n // 2:n // 2 + 1].astype(np.float32)
    yield "int64", np.asarray(X).astype(np.int64)
    yield "list", X[:7].tolist()
    yield "fortran order", np.asfortranarray(X)
    yield "strided", X[::2]


def check(model, proxy, X):
    for name in METHODS:
        assert hasattr(proxy, name) == hasattr(model, name), name
        if not hasattr(model, name):
            continue
        for label, data in variants(X):
            expected = np.asarray(getattr(model, name)(data))
            got = getattr(proxy, name)(data)
            what = f"{type(model).__name__}.{name} on {label}"
            assert type(got) is np.ndarray and got.shape == expected.shape, what
            assert got.dtype == expected.dtype, what
            if expected.dtype.kind != "f":
                np.testing.assert_array_equal(got, expected, err_msg=what)
                continue
            scale = np.abs(model.predict_joint_log_proba(data)).max(axis=1, keepdims=True)
            atol = 1e-9 * scale if name != "predict_proba" else 1e-12
            finite = np.isfinite(expected)
            np.testing.assert_array_equal(finite, np.isfinite(got), err_msg=what)
            bound = RTOL * np.abs(expected) + atol
            assert np.all(np.abs(np.where(finite, got - expected, 0)) <= bound), what





def _digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return np.ascontiguousarray(X, dtype=np.float64), y


@pytest.mark.parametrize("data", ["iris", "wine", "breast_cancer", "clf_binary",
                                  "clf_multiclass"])
def test_gaussian_nb(data, dataset, roundtrip):
    X, y = dataset(data)
    for model in (GaussianNB(), GaussianNB(var_smoothing=1e-3)):
        model.fit(X, y)
        proxy = roundtrip(model)
        check(model, proxy, X)
        np.testing.assert_array_equal(proxy.classes_, model.classes_)
        np.testing.assert_array_equal(proxy.theta_, model.theta_)
    k = len(np.unique(y))
    model = GaussianNB(priors=np.arange(1, k + 1) / (k * (k + 1) / 2)).fit(X, y)
    check(model, roundtrip(model), X)


def test_gaussian_nb_string_labels_and_sample_weight(dataset, roundtrip):
    X, y = dataset("iris")
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    w = np.linspace(0.5, 2.0, len(y))
    model = GaussianNB().fit(X, names, sample_weight=w)
    proxy = roundtrip(model)
    check(model, proxy, X)
    assert proxy.predict(X[:3]).dtype == model.predict(X[:3]).dtype


@pytest.mark.parametrize("cls", [MultinomialNB, ComplementNB])
@pytest.mark.parametrize("kw", [{}, {"alpha": 0.1}, {"fit_prior": False}, {"norm": True}])
def test_count_models(cls, kw, roundtrip):
    if "norm" in kw and cls is not ComplementNB:
        pytest.skip("norm is ComplementNB's")
    X, y = _digits()
    model = cls(**kw).fit(X, y)
    proxy = roundtrip(model)
    check(model, proxy, X)
    # binary
    model = cls(**kw).fit(X, y % 2)
    check(model, roundtrip(model), X)


@pytest.mark.parametrize("binarize", [0.0, 4.0, 7.5, None])
def test_bernoulli_nb(binarize, roundtrip):
    X, y = _digits()
    Xfit = X if binarize is not None else (X > 4).astype(np.float64)
    model = BernoulliNB(binarize=binarize).fit(Xfit, y)
    proxy = roundtrip(model)
    check(model, proxy, Xfit)
    check(model, proxy, X)  # non-binary input with binarize=None is used as it is


def test_bernoulli_nb_threshold_compares_in_the_data_type(roundtrip):
    # numpy compares float32 data with the threshold rounded to float32
    X = np.array([[0.1, 0.2], [0.3, 0.0], [0.1, 0.1], [0.0, 0.3]])
    y = np.array([0, 1, 0, 1])
    model = BernoulliNB(binarize=0.1).fit(X, y)
    proxy = roundtrip(model)
    for data in (X, X.astype(np.float32), np.nextafter(X, 1), np.nextafter(X, 0)):
        np.testing.assert_array_equal(proxy.predict_joint_log_proba(data),
                                      model.predict_joint_log_proba(data))


def test_categorical_nb(roundtrip):
    X, y = _digits()
    Xc = (X // 4).astype(np.float64)  # categories 0 .. 4
    for kw in ({}, {"alpha": 0.5}, {"min_categories": 6}):
        model = CategoricalNB(**kw).fit(Xc, y)
        proxy = roundtrip(model)
        check(model, proxy, Xc)
        # values are truncated to integers, as numpy's astype(int) does
        frac = Xc + 0.75
        frac[frac >= model.n_categories_] -= 1
        np.testing.assert_array_equal(proxy.predict_joint_log_proba(frac),
                                      model.predict_joint_log_proba(frac))
        np.testing.assert_array_equal(proxy.predict_joint_log_proba(-0.5 + 0 * Xc[:3]),
                                      model.predict_joint_log_proba(-0.5 + 0 * Xc[:3]))


def test_categorical_nb_refuses_what_sklearn_refuses(roundtrip):
    rng = np.random.RandomState(0)
    X = rng.randint(0, 3, size=(60, 4)).astype(np.float64)
    y = rng.randint(0, 2, size=60)
    model = CategoricalNB().fit(X, y)
    proxy = roundtrip(model)
    bad = X[:5].copy()
    bad[2, 1] = -1
    with pytest.raises(ValueError, match="Negative values"):
        model.predict(bad)
    with pytest.raises(ValueError, match="Negative values in data passed to CategoricalNB"):
        proxy.predict(bad)
    huge = X[:2].copy()
    huge[0, 0] = 1e30  # numpy's int conversion makes it negative
    with pytest.raises(ValueError, match="Negative values"):
        model.predict(huge)
    with pytest.raises(ValueError, match="Negative values"):
        proxy.predict(huge)
    unseen = X[:5].copy()
    unseen[3, 2] = 3  # category 3 of feature 2 was never seen
    with pytest.raises(IndexError, match="index 3 is out of bounds"):
        model.predict(unseen)
    for method in ("predict", "predict_proba", "predict_log_proba", "predict_joint_log_proba"):
        with pytest.raises(mle.InputError, match="index 3 is out of bounds.*feature 2"):
            getattr(proxy, method)(unseen)
    # with min_categories the category is known (its count is 0, smoothed by alpha)
    model = CategoricalNB(min_categories=4).fit(X, y)
    proxy = roundtrip(model)
    np.testing.assert_allclose(proxy.predict_proba(unseen), model.predict_proba(unseen),
                               rtol=1e-12)
    # many rows over several threads: the refusal still comes back
    many = np.tile(X, (200, 1))
    many[-1, 0] = 7
    with pytest.raises(mle.InputError, match="index 7"):
        proxy.predict(many, n_threads=2)


@pytest.mark.parametrize("cls", [GaussianNB, MultinomialNB, ComplementNB, BernoulliNB,
                                 CategoricalNB])
def test_nan_is_refused_as_sklearn_does(cls, dataset, roundtrip):
    X, y = dataset("iris")
    model = cls().fit(np.floor(X), y)
    proxy = roundtrip(model)
    bad = X[:3].copy()
    bad[1, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.predict(bad)
    with pytest.raises(ValueError, match="NaN"):
        proxy.predict(bad)


def test_ties_go_to_the_first_class(roundtrip):
    # identical classes: every joint log-likelihood ties
    X = np.array([[1.0, 2.0], [1.0, 2.0], [3.0, 0.0], [3.0, 0.0]])
    y = np.array([5, 7, 5, 7])
    for model in (MultinomialNB().fit(X, y), GaussianNB().fit(X, y),
                  CategoricalNB().fit(X, y), BernoulliNB().fit(X, y)):
        proxy = roundtrip(model)
        np.testing.assert_array_equal(proxy.predict(X), model.predict(X))
        assert (proxy.predict(X) == 5).all()
        np.testing.assert_allclose(proxy.predict_proba(X), model.predict_proba(X), rtol=1e-12)


def test_pandas_input_and_pipeline(dataset, roundtrip):
    pd = pytest.importorskip("pandas")
    X, y = dataset("wine")
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    model = GaussianNB().fit(df, y)
    proxy = roundtrip(model)
    np.testing.assert_array_equal(proxy.predict(df), model.predict(df))
    np.testing.assert_allclose(proxy.predict_proba(df[df.columns[::-1]]),
                               model.predict_proba(df), rtol=1e-9, atol=1e-12)
    pipe = make_pipeline(StandardScaler(), GaussianNB()).fit(X, y)
    proxy = roundtrip(pipe)
    assert not hasattr(pipe, "predict_joint_log_proba")
    assert not hasattr(proxy, "predict_joint_log_proba")
    np.testing.assert_array_equal(proxy.predict(X), pipe.predict(X))
    np.testing.assert_allclose(proxy.predict_proba(X), pipe.predict_proba(X), rtol=1e-9,
                               atol=1e-12)


def test_single_class_is_refused():
    X = np.ones((4, 2))
    with pytest.raises(mle.UnsupportedModelError, match="single class"):
        mle.dump(GaussianNB().fit(X, [1, 1, 1, 1]), "/dev/null")
