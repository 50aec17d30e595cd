"""Parity of scikit-learn's tree models with their .mle proxies (TreeEnsemble kernel).

Every case fits the real estimator on real or seeded synthetic data, dumps it, loads it and
compares each prediction method on float64 input, the same data as float32 (the very same
float32 array goes to both) and single rows.

Tolerances, stated once:
- labels (``predict`` of classifiers): identical values and identical dtype;
- outputs that are plain sums/means of leaf values (``predict`` of regressors with an identity
  link, ``predict_proba`` of decision trees and forests, ``decision_function`` of
  (Hist)GradientBoosting): BIT-EXACT (``np.testing.assert_array_equal``). The kernel adds the
  same float64 leaf values in the same order as scikit-learn, so any difference is a bug;
- outputs that go through exp / log / sigmoid / softmax (``predict_log_proba``, the
  ``predict_proba`` of (Hist)GradientBoostingClassifier, HistGradientBoostingRegressor with a
  log link): ``assert_allclose(rtol=0, atol=1e-12)``, since libm and numpy's SIMD
  transcendental functions may differ in the last bit.

Split semantics checked at their edge values (DESIGN.md, "Rules that make it correct"):
- decision trees and what is built on them cast X to float32 and send ``x <= threshold``
  (float64) left; NaN follows ``missing_go_to_left``; inf (and float64 values too large for
  float32) are refused with ValueError;
- HistGradientBoosting keeps X in float64, ``x <= num_threshold`` goes left, NaN follows
  ``missing_go_to_left``, +-inf is accepted in numerical columns; categorical columns go
  through its OrdinalEncoder (unseen / non-integer values become missing, inf is refused),
  then the category bitsets (negative values and unknown categories take the missing
  direction).

scikit-learn's own OpenMP pool is limited to one thread for this module (results do not
depend on it); mle_runtime's threads are not touched.
"""

import functools
import warnings

import numpy as np
import pytest
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_digits,
    load_wine,
    make_classification,
    make_regression,
)
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import (
    DecisionTreeClassifier,
    DecisionTreeRegressor,
    ExtraTreeClassifier,
    ExtraTreeRegressor,
)

import mle_runtime as mle
from mle_runtime import UnsupportedModelError

pytestmark = [
    pytest.mark.filterwarnings("ignore::UserWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    # predict_log_proba is np.log(predict_proba): log(0) warns
    pytest.mark.filterwarnings("ignore:divide by zero encountered in log:RuntimeWarning"),
    # scikit-learn casting float64 values beyond float32's range (then it raises ValueError)
    pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning"),
]

METHODS = ("predict", "predict_proba", "predict_log_proba", "decision_function", "transform")
ATOL_TRANSCENDENTAL = 1e-12  # exp / log / sigmoid / softmax heads only (see module docstring)


@pytest.fixture(autouse=True, scope="module")
def _single_threaded_sklearn():
    """scikit-learn's own OpenMP runtime limited to one thread (HistGradientBoosting predicts
    each row independently, so results do not change): its thread start-up on single rows
    dominated this file's run time. mle_runtime's threads are left alone."""
    from threadpoolctl import ThreadpoolController

    controller = ThreadpoolController()
    own = [lib.filepath for lib in controller.lib_controllers
           if "scikit_learn" in lib.filepath or "sklearn" in lib.filepath]
    if not own:
        yield
        return
    with controller.select(filepath=own).limit(limits=1):
        yield


# ----------------------------------------------------------------------------- data


@functools.lru_cache(maxsize=None)
def _data(name):
    if name == "breast_cancer":
        X, y = load_breast_cancer(return_X_y=True)
    elif name == "wine":
        X, y = load_wine(return_X_y=True)
    elif name == "digits":
        X, y = load_digits(return_X_y=True)
    elif name == "diabetes":
        X, y = load_diabetes(return_X_y=True)
    elif name == "clf3":  # seeded synthetic, 3 classes
        X, y = make_classification(n_samples=300, n_features=10, n_informative=6,
                                   n_redundant=2, n_classes=3, n_clusters_per_class=1,
                                   random_state=0)
    elif name == "reg":
        X, y = make_regression(n_samples=300, n_features=8, n_informative=6, noise=5.0,
                               random_state=1)
    elif name == "reg2":  # multi-output regression, y of shape (n, 2)
        X, y = make_regression(n_samples=300, n_features=8, n_informative=6, n_targets=2,
                               noise=5.0, random_state=2)
    elif name.endswith("+nan"):
        X, y = _data(name[:-4])
        X = X.copy()
        rng = np.random.default_rng(12345)
        X[rng.random(X.shape) < 0.10] = np.nan  # ~10% of the cells
    else:
        raise KeyError(name)
    X = np.ascontiguousarray(X, dtype=np.float64)
    X.setflags(write=False)
    y = np.asarray(y)
    y.setflags(write=False)
    return X, y


def data(name):
    X, y = _data(name)
    return X.copy(), y.copy()


def _accepts_nan(factory, X, y):
    """Whether scikit-learn fits this model on data with NaN (the version installed decides)."""
    Xn = X.copy()
    Xn[::7, 0] = np.nan
    try:
        factory().fit(Xn, y)
    except ValueError:
        return False
    return True


# ----------------------------------------------------------------------------- helpers


def _roundtrip(model, tmp_path, name="model.mle"):
    path = tmp_path / name
    assert mle.dump(model, path) == [str(path)]
    return mle.load(path)


def _assert_output(expected, got, exact, what):
    expected = np.asarray(expected)
    assert type(got) is np.ndarray, f"{what}: got {type(got).__name__}, expected ndarray"
    assert got.shape == expected.shape, f"{what}: shape {got.shape} != {expected.shape}"
    assert got.dtype == expected.dtype, f"{what}: dtype {got.dtype} != {expected.dtype}"
    if exact or expected.dtype.kind != "f":
        np.testing.assert_array_equal(got, expected, err_msg=what)
    else:
        np.testing.assert_allclose(got, expected, rtol=0, atol=ATOL_TRANSCENDENTAL,
                                   err_msg=what)


def _call(obj, method, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return getattr(obj, method)(X)


def _assert_methods_match(model, proxy):
    """The proxy has exactly the prediction methods scikit-learn's estimator has."""
    for m in METHODS:
        assert hasattr(proxy, m) == hasattr(model, m), (
            f"{type(model).__name__}: hasattr(proxy, {m!r}) is {hasattr(proxy, m)}, "
            f"scikit-learn says {hasattr(model, m)}")
    present = [m for m in METHODS if hasattr(model, m)]
    assert "predict" in present
    return present


def _rows(n):
    return sorted({0, 1, n // 3, n // 2, n - 2, n - 1})


def _assert_parity(model, proxy, X, approx=(), rows=True):
    """Every method scikit-learn has, on X (float64), X as float32 and single rows."""
    present = _assert_methods_match(model, proxy)
    variants = [("float64", X), ("float32", np.ascontiguousarray(X, dtype=np.float32))]
    if not np.isnan(X).any():
        variants.append(("int64", np.round(X * 4).astype(np.int64)))
    if rows:
        variants += [(f"row {i}", X[i:i + 1]) for i in _rows(len(X))]
        variants += [(f"float32 row {i}", X[i:i + 1].astype(np.float32))
                     for i in _rows(len(X))[:2]]
    for method in present:
        for label, Xv in variants:
            expected = _call(model, method, Xv)
            got = _call(proxy, method, Xv)
            _assert_output(expected, got, method not in approx,
                           f"{type(model).__name__}.{method} on {label} input")
    return present


# ----------------------------------------------------------------------------- cases

# name -> (factory, dataset, methods computed through exp/log/softmax heads)
DT_LIKE_CLF_APPROX = ("predict_log_proba",)
GB_CLF_APPROX = ("predict_proba", "predict_log_proba")
HGB_CLF_APPROX = ("predict_proba", "predict_log_proba")

CLASSIFIER_FACTORIES = {
    "DecisionTreeClassifier": (lambda: DecisionTreeClassifier(max_depth=6, random_state=0),
                               DT_LIKE_CLF_APPROX),
    "DecisionTreeClassifier(full)": (lambda: DecisionTreeClassifier(random_state=0),
                                     DT_LIKE_CLF_APPROX),
    "ExtraTreeClassifier": (lambda: ExtraTreeClassifier(max_depth=8, random_state=0),
                            DT_LIKE_CLF_APPROX),
    "RandomForestClassifier": (lambda: RandomForestClassifier(n_estimators=10, max_depth=6,
                                                              random_state=0),
                               DT_LIKE_CLF_APPROX),
    "ExtraTreesClassifier": (lambda: ExtraTreesClassifier(n_estimators=10, max_depth=8,
                                                          random_state=0),
                             DT_LIKE_CLF_APPROX),
    "GradientBoostingClassifier": (lambda: GradientBoostingClassifier(
        n_estimators=10, max_depth=3, random_state=0), GB_CLF_APPROX),
    "GradientBoostingClassifier(init=zero)": (lambda: GradientBoostingClassifier(
        n_estimators=10, max_depth=3, init="zero", random_state=0), GB_CLF_APPROX),
    "GradientBoostingClassifier(init=Dummy)": (lambda: GradientBoostingClassifier(
        n_estimators=10, max_depth=3, init=DummyClassifier(strategy="prior"),
        random_state=0), GB_CLF_APPROX),
    "HistGradientBoostingClassifier": (lambda: HistGradientBoostingClassifier(
        max_iter=15, random_state=0), HGB_CLF_APPROX),
}
CLASSIFICATION_DATA = ["breast_cancer", "wine", "digits", "clf3"]

# binary-only configurations
BINARY_FACTORIES = {
    "GradientBoostingClassifier(exponential)": (lambda: GradientBoostingClassifier(
        loss="exponential", n_estimators=10, random_state=0), GB_CLF_APPROX),
    "GradientBoostingClassifier(exponential,init=zero)": (lambda: GradientBoostingClassifier(
        loss="exponential", n_estimators=10, init="zero", random_state=0), GB_CLF_APPROX),
    "GradientBoostingClassifier(exponential,init=Dummy)": (lambda: GradientBoostingClassifier(
        loss="exponential", n_estimators=10, init=DummyClassifier(strategy="prior"),
        random_state=0), GB_CLF_APPROX),
}

REGRESSOR_FACTORIES = {
    "DecisionTreeRegressor": (lambda: DecisionTreeRegressor(max_depth=6, random_state=0), ()),
    "DecisionTreeRegressor(full)": (lambda: DecisionTreeRegressor(random_state=0), ()),
    "ExtraTreeRegressor": (lambda: ExtraTreeRegressor(max_depth=8, random_state=0), ()),
    "RandomForestRegressor": (lambda: RandomForestRegressor(n_estimators=10, max_depth=8,
                                                            random_state=0), ()),
    "ExtraTreesRegressor": (lambda: ExtraTreesRegressor(n_estimators=10, max_depth=8,
                                                        random_state=0), ()),
    "GradientBoostingRegressor(squared_error)": (lambda: GradientBoostingRegressor(
        n_estimators=15, random_state=0), ()),
    "GradientBoostingRegressor(absolute_error)": (lambda: GradientBoostingRegressor(
        loss="absolute_error", n_estimators=15, random_state=0), ()),
    "GradientBoostingRegressor(huber)": (lambda: GradientBoostingRegressor(
        loss="huber", n_estimators=15, random_state=0), ()),
    "GradientBoostingRegressor(quantile)": (lambda: GradientBoostingRegressor(
        loss="quantile", alpha=0.8, n_estimators=15, random_state=0), ()),
    "GradientBoostingRegressor(init=zero)": (lambda: GradientBoostingRegressor(
        n_estimators=15, init="zero", random_state=0), ()),
    "GradientBoostingRegressor(huber,init=zero)": (lambda: GradientBoostingRegressor(
        loss="huber", n_estimators=15, init="zero", random_state=0), ()),
    "HistGradientBoostingRegressor(squared_error)": (lambda: HistGradientBoostingRegressor(
        max_iter=15, random_state=0), ()),
    "HistGradientBoostingRegressor(absolute_error)": (lambda: HistGradientBoostingRegressor(
        loss="absolute_error", max_iter=15, random_state=0), ()),
    "HistGradientBoostingRegressor(quantile)": (lambda: HistGradientBoostingRegressor(
        loss="quantile", quantile=0.8, max_iter=15, random_state=0), ()),
}
# log-link losses need y > 0 (diabetes' targets are positive; make_regression's are shifted)
POSITIVE_REGRESSOR_FACTORIES = {
    "HistGradientBoostingRegressor(poisson)": (lambda: HistGradientBoostingRegressor(
        loss="poisson", max_iter=15, random_state=0), ("predict",)),
    "HistGradientBoostingRegressor(gamma)": (lambda: HistGradientBoostingRegressor(
        loss="gamma", max_iter=15, random_state=0), ("predict",)),
}
REGRESSION_DATA = ["diabetes", "reg"]

MULTI_OUTPUT_REGRESSORS = {
    "DecisionTreeRegressor": lambda: DecisionTreeRegressor(max_depth=6, random_state=0),
    "ExtraTreeRegressor": lambda: ExtraTreeRegressor(max_depth=8, random_state=0),
    "RandomForestRegressor": lambda: RandomForestRegressor(n_estimators=8, max_depth=6,
                                                           random_state=0),
    "ExtraTreesRegressor": lambda: ExtraTreesRegressor(n_estimators=8, max_depth=6,
                                                       random_state=0),
}

# Models that scikit-learn (maybe) fits on NaN data: checked with _accepts_nan at run time.
NAN_CANDIDATES = {
    "DecisionTreeClassifier": (lambda: DecisionTreeClassifier(max_depth=6, random_state=0),
                               "clf", DT_LIKE_CLF_APPROX),
    "ExtraTreeClassifier": (lambda: ExtraTreeClassifier(max_depth=8, random_state=0), "clf",
                            DT_LIKE_CLF_APPROX),
    "RandomForestClassifier": (lambda: RandomForestClassifier(n_estimators=10, max_depth=6,
                                                              random_state=0), "clf",
                               DT_LIKE_CLF_APPROX),
    "ExtraTreesClassifier": (lambda: ExtraTreesClassifier(n_estimators=10, max_depth=8,
                                                          random_state=0), "clf",
                             DT_LIKE_CLF_APPROX),
    "HistGradientBoostingClassifier": (lambda: HistGradientBoostingClassifier(
        max_iter=15, random_state=0), "clf", HGB_CLF_APPROX),
    "DecisionTreeRegressor": (lambda: DecisionTreeRegressor(max_depth=6, random_state=0),
                              "reg", ()),
    "ExtraTreeRegressor": (lambda: ExtraTreeRegressor(max_depth=8, random_state=0), "reg",
                           ()),
    "RandomForestRegressor": (lambda: RandomForestRegressor(n_estimators=10, max_depth=8,
                                                            random_state=0), "reg", ()),
    "ExtraTreesRegressor": (lambda: ExtraTreesRegressor(n_estimators=10, max_depth=8,
                                                        random_state=0), "reg", ()),
    "HistGradientBoostingRegressor": (lambda: HistGradientBoostingRegressor(
        max_iter=15, random_state=0), "reg", ()),
}
NAN_DATA = {"clf": ["breast_cancer", "wine", "clf3"], "reg": ["diabetes", "reg"]}


# ----------------------------------------------------------------------------- parity


@pytest.mark.parametrize("data_name", CLASSIFICATION_DATA)
@pytest.mark.parametrize("name", list(CLASSIFIER_FACTORIES))
def test_classifier_parity(name, data_name, tmp_path):
    factory, approx = CLASSIFIER_FACTORIES[name]
    X, y = data(data_name)
    model = factory().fit(X, y)
    proxy = _roundtrip(model, tmp_path)
    present = _assert_parity(model, proxy, X, approx)
    assert "predict_proba" in present
    # the labels are the classes_ (values and dtype)
    np.testing.assert_array_equal(np.asarray(proxy.classes_), model.classes_)


@pytest.mark.parametrize("name", list(BINARY_FACTORIES))
@pytest.mark.parametrize("data_name", ["breast_cancer", "clf3-binary"])
def test_binary_gradient_boosting_parity(name, data_name, tmp_path):
    factory, approx = BINARY_FACTORIES[name]
    if data_name == "clf3-binary":
        X, y = data("clf3")
        y = (y == 1).astype(np.int64)
    else:
        X, y = data(data_name)
    model = factory().fit(X, y)
    proxy = _roundtrip(model, tmp_path)
    present = _assert_parity(model, proxy, X, approx)
    assert "decision_function" in present
    # the binary decision function is 1-D, as scikit-learn's
    assert proxy.decision_function(X).shape == (len(X),)


@pytest.mark.parametrize("data_name", REGRESSION_DATA)
@pytest.mark.parametrize("name", list(REGRESSOR_FACTORIES))
def test_regressor_parity(name, data_name, tmp_path):
    factory, approx = REGRESSOR_FACTORIES[name]
    X, y = data(data_name)
    model = factory().fit(X, y)
    proxy = _roundtrip(model, tmp_path)
    present = _assert_parity(model, proxy, X, approx)
    assert present == ["predict"]
    assert proxy.predict(X).shape == (len(X),)


@pytest.mark.parametrize("data_name", REGRESSION_DATA)
@pytest.mark.parametrize("name", list(POSITIVE_REGRESSOR_FACTORIES))
def test_log_link_regressor_parity(name, data_name, tmp_path):
    factory, approx = POSITIVE_REGRESSOR_FACTORIES[name]
    X, y = data(data_name)
    if data_name == "reg":  # make y positive, modest magnitude
        y = np.exp((y - y.mean()) / (2 * y.std()))
    assert np.all(y > 0)
    model = factory().fit(X, y)
    proxy = _roundtrip(model, tmp_path)
    _assert_parity(model, proxy, X, approx)
    # the raw sums are exact: log of the prediction agrees with the raw score to rounding
    raw = model._raw_predict(X).ravel()
    np.testing.assert_allclose(np.log(proxy.predict(X)), raw, rtol=1e-14, atol=1e-14)


def test_gradient_boosting_regressor_zero_init_differs_from_default(tmp_path):
    """init='zero' really is exported as a zero base (the two models predict differently)."""
    X, y = data("diabetes")
    a = GradientBoostingRegressor(n_estimators=5, random_state=0).fit(X, y)
    b = GradientBoostingRegressor(n_estimators=5, init="zero", random_state=0).fit(X, y)
    pa = _roundtrip(a, tmp_path, "a.mle")
    pb = _roundtrip(b, tmp_path, "b.mle")
    np.testing.assert_array_equal(pa.predict(X), a.predict(X))
    np.testing.assert_array_equal(pb.predict(X), b.predict(X))
    assert not np.array_equal(pa.predict(X), pb.predict(X))


def _init_parity_or_refused(model, X, tmp_path, method):
    """An init estimator is either exported exactly or refused at dump time with a clear
    UnsupportedModelError; a model that loads but predicts differently is a bug."""
    path = tmp_path / "init.mle"
    try:
        mle.dump(model, path)
    except UnsupportedModelError as e:
        assert "init" in str(e), str(e)
        assert not path.exists()
        return False
    proxy = mle.load(path)
    _assert_output(getattr(model, method)(X), getattr(proxy, method)(X), True,
                   f"{type(model).__name__}(init={model.init!r}).{method}")
    return True


@pytest.mark.parametrize("init", [
    DummyClassifier(strategy="prior"),
    DummyClassifier(strategy="most_frequent"),
    DummyClassifier(strategy="uniform", random_state=0),
    # predict_proba of "stratified" draws a random class per row: the init raw score differs
    # from row to row, so it cannot be baked in as one constant
    DummyClassifier(strategy="stratified", random_state=0),
], ids=["prior", "most_frequent", "uniform", "stratified"])
@pytest.mark.parametrize("data_name", ["breast_cancer", "wine"])
def test_gradient_boosting_classifier_dummy_init_strategies(init, data_name, tmp_path):
    X, y = data(data_name)
    model = GradientBoostingClassifier(n_estimators=5, init=init, random_state=0).fit(X, y)
    exported = _init_parity_or_refused(model, X, tmp_path, "decision_function")
    if init.strategy != "stratified":
        assert exported, "a constant init estimator must be exported"


@pytest.mark.parametrize("init", [
    DummyRegressor(strategy="mean"),
    DummyRegressor(strategy="median"),
    DummyRegressor(strategy="quantile", quantile=0.3),
    DummyRegressor(strategy="constant", constant=5.0),
], ids=["mean", "median", "quantile", "constant"])
def test_gradient_boosting_regressor_dummy_init_strategies(init, tmp_path):
    X, y = data("diabetes")
    model = GradientBoostingRegressor(n_estimators=5, init=init, random_state=0).fit(X, y)
    assert _init_parity_or_refused(model, X, tmp_path, "predict")


@pytest.mark.parametrize("name", list(MULTI_OUTPUT_REGRESSORS))
def test_multi_output_regressor_parity(name, tmp_path):
    X, y = data("reg2")
    assert y.shape == (len(X), 2)
    model = MULTI_OUTPUT_REGRESSORS[name]().fit(X, y)
    proxy = _roundtrip(model, tmp_path)
    _assert_parity(model, proxy, X)
    assert proxy.predict(X[:1]).shape == (1, 2)
    assert proxy.predict(X).shape == (len(X), 2)


def _assert_output_or_list(expected, got, exact, what):
    """scikit-learn's multi-output classifiers return lists of per-output arrays."""
    if isinstance(expected, list):
        assert isinstance(got, list), f"{what}: got {type(got).__name__}, expected list"
        assert len(got) == len(expected), f"{what}: {len(got)} outputs != {len(expected)}"
        for k, (e, g) in enumerate(zip(expected, got)):
            _assert_output(e, g, exact, f"{what} [output {k}]")
    else:
        _assert_output(expected, got, exact, what)


MULTI_OUTPUT_CLASSIFIERS = {
    "DecisionTreeClassifier": lambda: DecisionTreeClassifier(max_depth=6, random_state=0),
    "ExtraTreeClassifier": lambda: ExtraTreeClassifier(max_depth=8, random_state=0),
    "RandomForestClassifier": lambda: RandomForestClassifier(n_estimators=8, max_depth=6,
                                                             random_state=0),
    "ExtraTreesClassifier": lambda: ExtraTreesClassifier(n_estimators=8, max_depth=8,
                                                         random_state=0),
}


@pytest.mark.parametrize("labels", ["int", "str"])
@pytest.mark.parametrize("name", list(MULTI_OUTPUT_CLASSIFIERS))
def test_multi_output_classifier_parity(name, labels, tmp_path):
    """y of shape (n, 2): a 3-class and a 2-class output. predict is (n, 2); predict_proba and
    predict_log_proba are lists of per-output arrays, as in scikit-learn."""
    X, y = data("clf3")
    Y = np.column_stack([y, (y + (X[:, 0] > 0)) % 2])
    if labels == "str":
        names = np.array([["a", "b", "c"], ["no", "yes", "-"]])
        Y = names[[0, 1], Y]  # Y[i, j] -> names[j, Y[i, j]]
    model = MULTI_OUTPUT_CLASSIFIERS[name]().fit(X, Y)
    assert model.n_outputs_ == 2 and list(model.n_classes_) == [3, 2]
    proxy = _roundtrip(model, tmp_path)
    present = _assert_methods_match(model, proxy)
    variants = [("float64", X), ("float32", X.astype(np.float32))]
    variants += [(f"row {i}", X[i:i + 1]) for i in _rows(len(X))]
    for method in present:
        for label, Xv in variants:
            _assert_output_or_list(_call(model, method, Xv), _call(proxy, method, Xv),
                                   method != "predict_log_proba",
                                   f"{name}.{method} on {label} input")


@pytest.mark.parametrize("name", ["RandomForestClassifier", "DecisionTreeClassifier",
                                  "GradientBoostingClassifier",
                                  "HistGradientBoostingClassifier"])
@pytest.mark.parametrize("labels", ["str", "int-sparse", "float"])
def test_class_labels_keep_values_and_dtype(name, labels, tmp_path):
    factory, approx = CLASSIFIER_FACTORIES[name]
    X, y = data("wine")
    if labels == "str":
        y = np.array(["alpha", "beta", "gamma"])[y]
    elif labels == "int-sparse":
        y = (y * 10 - 7).astype(np.int32)
    else:
        y = y.astype(np.float64) * 2.0 - 1.0  # float classes_ -1.0, 1.0, 3.0
    model = factory().fit(X, y)
    proxy = _roundtrip(model, tmp_path)
    _assert_parity(model, proxy, X, approx, rows=False)
    assert proxy.predict(X).dtype == model.predict(X).dtype


# ----------------------------------------------------------------------------- NaN


def _nan_cases():
    for name, (_, kind, _) in NAN_CANDIDATES.items():
        for d in NAN_DATA[kind]:
            yield pytest.param(name, d, id=f"{name}-{d}")


@pytest.mark.parametrize("name,data_name", list(_nan_cases()))
def test_nan_parity(name, data_name, tmp_path):
    """Trained on data with ~10% NaN, predicting data with NaN (where scikit-learn accepts
    it); and trained on clean data, predicting NaN (nodes that saw no missing values)."""
    factory, _, approx = NAN_CANDIDATES[name]
    X, y = data(data_name)
    Xn, _ = data(data_name + "+nan")
    assert 0.05 < np.isnan(Xn).mean() < 0.15
    if not _accepts_nan(factory, X, y):
        # scikit-learn refuses NaN: so must the proxy of a model fitted on clean data
        model = factory().fit(X, y)
        proxy = _roundtrip(model, tmp_path)
        with pytest.raises(ValueError):
            model.predict(Xn)
        with pytest.raises(ValueError):
            proxy.predict(Xn)
        return
    model = factory().fit(Xn, y)
    proxy = _roundtrip(model, tmp_path, "nan.mle")
    _assert_parity(model, proxy, Xn, approx)
    # all-NaN rows follow the default directions all the way down
    all_nan = np.full((3, X.shape[1]), np.nan)
    for m in ("predict", "predict_proba", "decision_function"):
        if hasattr(model, m):
            _assert_output(_call(model, m, all_nan), _call(proxy, m, all_nan),
                           m not in approx, f"{name}.{m} on all-NaN rows")
    # a model trained without NaN, predicting NaN: scikit-learn's rule for unseen missing
    # values must be kept, not replaced by "NaN goes right"
    clean = factory().fit(X, y)
    clean_proxy = _roundtrip(clean, tmp_path, "clean.mle")
    _assert_parity(clean, clean_proxy, Xn, approx, rows=False)


@pytest.mark.parametrize("factory", [
    lambda: GradientBoostingClassifier(n_estimators=5, random_state=0),
    lambda: GradientBoostingRegressor(n_estimators=5, random_state=0),
], ids=["GradientBoostingClassifier", "GradientBoostingRegressor"])
def test_nan_refused_where_sklearn_refuses(factory, tmp_path):
    X, y = data("breast_cancer")
    Xn, _ = data("breast_cancer+nan")
    model = factory().fit(X, y)
    proxy = _roundtrip(model, tmp_path)
    for m in ("predict", "predict_proba", "decision_function"):
        if not hasattr(model, m):
            continue
        with pytest.raises(ValueError):
            getattr(model, m)(Xn)
        with pytest.raises(ValueError, match="NaN"):
            getattr(proxy, m)(Xn)
        with pytest.raises(ValueError):
            getattr(proxy, m)(Xn[np.isnan(Xn).any(axis=1)][:1])
    # the clean rows still predict
    clean = Xn[~np.isnan(Xn).any(axis=1)]
    assert len(clean) > 0
    np.testing.assert_array_equal(proxy.predict(clean), model.predict(clean))


# ----------------------------------------------------------------------------- edge values


def _float32_neighbours(t):
    """The float32 values around float64 t: its rounding and the float32 values on each side
    of the rounding."""
    t32 = np.float32(t)
    return [t32, np.nextafter(t32, np.float32(np.inf)), np.nextafter(t32, np.float32(-np.inf))]


def _edge_rows(model_nodes, X, reaching):
    """Rows that put the split feature of every internal node on its threshold's edges.

    model_nodes: iterable of (node id, feature, threshold); reaching(node) -> index of a
    training row whose path goes through the node. Returns (rows float64, list of
    (node, candidate value)).
    """
    rows, labels = [], []
    for node, f, t in model_nodes:
        i = reaching(node)
        cands = [t, np.nextafter(t, np.inf), np.nextafter(t, -np.inf)]
        cands += [float(c) for c in _float32_neighbours(t)]
        for c in cands:
            r = X[i].copy()
            r[f] = c
            rows.append(r)
            labels.append((node, c))
    return np.asarray(rows), labels


def _fitted_tree_regressor():
    X, y = data("diabetes")
    model = DecisionTreeRegressor(max_depth=7, random_state=0).fit(X, y)
    return X, model


def _dt_internal_nodes(tree):
    internal = np.flatnonzero(tree.children_left >= 0)
    return [(int(n), int(tree.feature[n]), float(tree.threshold[n])) for n in internal]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_decision_tree_threshold_edges(dtype, tmp_path):
    X, model = _fitted_tree_regressor()
    proxy = _roundtrip(model, tmp_path)
    tree = model.tree_
    paths = model.decision_path(X.astype(np.float32)).tocsc()

    def reaching(node):
        return int(paths[:, node].nonzero()[0][0])

    nodes = _dt_internal_nodes(tree)
    assert len(nodes) > 20
    rows, labels = _edge_rows(nodes, X, reaching)
    R = np.ascontiguousarray(rows, dtype=dtype)
    np.testing.assert_array_equal(proxy.predict(R), model.predict(R))
    for i in range(0, len(R), 37):  # single rows too
        np.testing.assert_array_equal(proxy.predict(R[i:i + 1]), model.predict(R[i:i + 1]))

    # The edges matter: some thresholds are not float32 values, and their float32 rounding
    # lies above them (so x == float32(t) goes right although float32(t) ~ t).
    thr = tree.threshold[tree.children_left >= 0]
    assert np.any(thr.astype(np.float32).astype(np.float64) > thr)
    # ...and both directions at a node are exercised by the float32 neighbours.
    went = set()
    leaf_paths = model.decision_path(R.astype(np.float32))
    for k, (node, c) in enumerate(labels):
        on_path = leaf_paths[k].indices
        if node in on_path:
            went.add("left" if tree.children_left[node] in on_path else "right")
    assert went == {"left", "right"}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_decision_tree_nan_and_inf(dtype, tmp_path):
    X, model = _fitted_tree_regressor()
    proxy = _roundtrip(model, tmp_path)
    R = np.ascontiguousarray(X[:20], dtype=dtype)
    for f in range(X.shape[1]):
        R[f, f] = np.nan
    R[15] = np.nan
    np.testing.assert_array_equal(proxy.predict(R), model.predict(R))
    for v in (np.inf, -np.inf):
        Ri = np.array(X[:4], dtype=dtype)
        Ri[2, 3] = v
        with pytest.raises(ValueError):
            model.predict(Ri)
        with pytest.raises(ValueError):
            proxy.predict(Ri)


@pytest.mark.parametrize("factory", [
    lambda: DecisionTreeRegressor(max_depth=5, random_state=0),
    lambda: RandomForestRegressor(n_estimators=5, max_depth=5, random_state=0),
    lambda: GradientBoostingRegressor(n_estimators=5, random_state=0),
], ids=["DecisionTreeRegressor", "RandomForestRegressor", "GradientBoostingRegressor"])
@pytest.mark.parametrize("value", [1e39, -1e39, 3.4028236e38, np.finfo(np.float64).max,
                                   np.inf, -np.inf])
def test_float64_values_too_large_for_float32_are_refused(factory, value, tmp_path):
    """scikit-learn's trees cast X to float32 first: a finite float64 that overflows float32
    becomes inf, and scikit-learn raises "Input X contains infinity or a value too large for
    dtype('float32')". The proxy must raise ValueError as well, not predict."""
    X, y = data("diabetes")
    model = factory().fit(X, y)
    proxy = _roundtrip(model, tmp_path)
    R = X[:3].copy()
    R[1, 2] = value
    with np.errstate(over="ignore"):
        assert np.isinf(np.float32(value))
    with pytest.raises(ValueError):
        model.predict(R)
    with pytest.raises(ValueError):
        proxy.predict(R)
    # the largest float64 that still rounds to a finite float32 is accepted by both
    ok = X[:3].copy()
    ok[1, 2] = float(np.finfo(np.float32).max)
    np.testing.assert_array_equal(proxy.predict(ok), model.predict(ok))


def _hgb_nodes(model):
    for iteration in model._predictors:
        for predictor in iteration:
            n = predictor.nodes
            for k in np.flatnonzero(n["is_leaf"] == 0):
                yield predictor, int(k), int(n["feature_idx"][k]), float(n["num_threshold"][k])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind", ["regressor", "classifier"])
def test_hist_gradient_boosting_threshold_edges(kind, dtype, tmp_path):
    if kind == "regressor":
        X, y = data("diabetes+nan")
        model = HistGradientBoostingRegressor(max_iter=10, random_state=0).fit(X, y)
    else:
        X, y = data("wine+nan")
        model = HistGradientBoostingClassifier(max_iter=10, random_state=0).fit(X, y)
    proxy = _roundtrip(model, tmp_path)
    rows = []
    for k, (_, node, f, t) in enumerate(_hgb_nodes(model)):
        base = X[k % len(X)]
        cands = [t, np.nextafter(t, np.inf), np.nextafter(t, -np.inf), np.inf, -np.inf, np.nan,
                 1e39, -1e39]
        cands += [float(c) for c in _float32_neighbours(t)] if np.isfinite(t) else []
        for c in cands:
            r = base.copy()
            r[f] = c
            rows.append(r)
    assert len(rows) > 100
    R = np.ascontiguousarray(rows, dtype=dtype)  # float32: inf stays inf, 1e39 becomes inf
    assert np.isinf(R).any() and np.isnan(R).any()
    exact = ("predict", "decision_function")
    for m in ("predict", "decision_function", "predict_proba"):
        if hasattr(model, m):
            _assert_output(_call(model, m, R), _call(proxy, m, R), m in exact,
                           f"{type(model).__name__}.{m} on threshold edges")
    for i in range(0, len(R), 53):
        np.testing.assert_array_equal(proxy.predict(R[i:i + 1]), model.predict(R[i:i + 1]))


# ----------------------------------------------------------------------------- categorical


def _categorical_data(kind):
    """Real data with two integer-coded categorical columns (one with negative codes, one
    with ~8% NaN) that the target depends on, so that the trees split on them."""
    X, y = data("diabetes" if kind == "regressor" else "wine")
    rng = np.random.default_rng(7)
    n = len(X)
    c0 = rng.integers(0, 6, n).astype(np.float64)
    c1 = (rng.integers(-2, 3, n) * 10).astype(np.float64)
    if kind == "regressor":
        y = y + 80.0 * np.isin(c0, [1, 4]) - 50.0 * (c1 == -10)
    else:
        y = np.where(np.isin(c0, [1, 4]) & (rng.random(n) < 0.7), (y + 1) % 3, y)
    c0[rng.random(n) < 0.08] = np.nan
    X = np.column_stack([c0, X[:, :6], c1, X[:, 6:]])
    return np.ascontiguousarray(X), y


def _categorical_edge_rows(X):
    """Rows putting odd values in the categorical columns 0 and 7: every known category,
    unseen ones, values outside the 0..255 bin range, fractional, negative, -0.0, NaN."""
    col0 = [0, 1, 2, 3, 4, 5, 6, 7, 100, 255, 256, 1e9, -1, -0.0, 2.5, 0.5, np.nan]
    col7 = [-20, -10, 0, 10, 20, 5, -30, 1e9, np.nan]
    rows = []
    for i, a in enumerate(col0):
        for j, b in enumerate(col7):
            r = X[(7 * i + j) % len(X)].copy()
            r[0], r[7] = a, b
            rows.append(r)
    return np.asarray(rows)


@pytest.mark.parametrize("spec", ["indices", "mask"])
@pytest.mark.parametrize("kind", ["regressor", "binary", "multiclass"])
def test_hist_gradient_boosting_categorical_parity(kind, spec, tmp_path):
    X, y = _categorical_data("regressor" if kind == "regressor" else "classifier")
    if kind == "binary":
        y = (y == 1).astype(np.int64)
    features = [0, 7] if spec == "indices" else np.isin(np.arange(X.shape[1]), [0, 7])
    cls = HistGradientBoostingRegressor if kind == "regressor" else \
        HistGradientBoostingClassifier
    model = cls(max_iter=15, categorical_features=features, random_state=0).fit(X, y)
    # the test is only meaningful if some trees split on the categories
    assert any(np.any(p.nodes["is_categorical"][p.nodes["is_leaf"] == 0])
               for it in model._predictors for p in it)
    proxy = _roundtrip(model, tmp_path)
    approx = () if kind == "regressor" else HGB_CLF_APPROX
    _assert_parity(model, proxy, X, approx)
    edges = _categorical_edge_rows(X)
    for dtype in (np.float64, np.float32):
        R = np.ascontiguousarray(edges, dtype=dtype)
        for m in ("predict", "decision_function", "predict_proba"):
            if hasattr(model, m):
                _assert_output(_call(model, m, R), _call(proxy, m, R), m not in approx,
                               f"{cls.__name__}.{m} on categorical edge values ({dtype.__name__})")
        for i in range(0, len(R), 17):
            _assert_output(model.predict(R[i:i + 1]), proxy.predict(R[i:i + 1]), True,
                           f"single row {i} of the categorical edge values")
    # infinity: in a numerical column HistGradientBoosting takes it; in a categorical column
    # its OrdinalEncoder refuses it. The proxy must do the same.
    for col in (0, 7, 3):
        for v in (np.inf, -np.inf):
            R = np.array(X[:5])
            R[2, col] = v
            try:
                expected = model.predict(R)
            except ValueError:
                with pytest.raises(ValueError):
                    proxy.predict(R)
                continue
            _assert_output(expected, proxy.predict(R), True, f"predict with {v} in column {col}")


def test_hist_gradient_boosting_pandas_categorical_parity(tmp_path):
    """categorical_features='from_dtype' (the default) with integer pandas categories."""
    import pandas as pd
    X, y = _categorical_data("regressor")
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    df["f0"] = pd.Categorical(df["f0"])
    model = HistGradientBoostingRegressor(max_iter=15, random_state=0).fit(df, y)
    assert model.is_categorical_ is not None and model.is_categorical_[0]
    proxy = _roundtrip(model, tmp_path)
    _assert_output(model.predict(df), proxy.predict(df), True, "predict on DataFrame")
    _assert_output(model.predict(df.iloc[[3]]), proxy.predict(df.iloc[[3]]), True,
                   "predict on a one-row DataFrame")


# ----------------------------------------------------------------------------- pandas


def test_dataframe_input(tmp_path):
    import pandas as pd
    bunch = load_breast_cancer(as_frame=True)
    df, y = bunch.data, bunch.target
    model = RandomForestClassifier(n_estimators=8, max_depth=6, random_state=0).fit(df, y)
    proxy = _roundtrip(model, tmp_path)
    for m in ("predict", "predict_proba"):
        _assert_output(getattr(model, m)(df), getattr(proxy, m)(df), True, f"{m} on DataFrame")
        one = df.iloc[[7]]
        _assert_output(getattr(model, m)(one), getattr(proxy, m)(one), True,
                       f"{m} on a one-row DataFrame")
        df32 = df.astype(np.float32)
        _assert_output(getattr(model, m)(df32), getattr(proxy, m)(df32), True,
                       f"{m} on a float32 DataFrame")
    # same result as the ndarray
    np.testing.assert_array_equal(proxy.predict_proba(df), proxy.predict_proba(df.to_numpy()))
    assert isinstance(df, pd.DataFrame)


def test_dataframe_input_hist_gradient_boosting(tmp_path):
    bunch = load_diabetes(as_frame=True)
    df, y = bunch.data.copy(), bunch.target
    df.iloc[::5, 2] = np.nan
    model = HistGradientBoostingRegressor(max_iter=10, random_state=0).fit(df, y)
    proxy = _roundtrip(model, tmp_path)
    _assert_output(model.predict(df), proxy.predict(df), True, "predict on DataFrame")
    _assert_output(model.predict(df.iloc[[5]]), proxy.predict(df.iloc[[5]]), True,
                   "predict on a one-row DataFrame")


# ----------------------------------------------------------------------------- pipelines


def test_pipeline_scaler_random_forest(tmp_path):
    X, y = data("wine")
    model = make_pipeline(StandardScaler(), RandomForestClassifier(n_estimators=10,
                                                                   random_state=0)).fit(X, y)
    proxy = _roundtrip(model, tmp_path)
    _assert_parity(model, proxy, X, DT_LIKE_CLF_APPROX)
    Xn, _ = data("wine+nan")  # StandardScaler and the forest both let NaN through
    _assert_parity(model, proxy, Xn, DT_LIKE_CLF_APPROX, rows=False)


def test_pipeline_imputer_gradient_boosting_with_nan(tmp_path):
    X, y = data("breast_cancer+nan")
    model = make_pipeline(SimpleImputer(), GradientBoostingClassifier(
        n_estimators=10, random_state=0)).fit(X, y)
    proxy = _roundtrip(model, tmp_path)
    present = _assert_parity(model, proxy, X, GB_CLF_APPROX)
    assert "decision_function" in present


def test_pipeline_imputer_random_forest_regressor_with_nan(tmp_path):
    X, y = data("diabetes+nan")
    model = make_pipeline(SimpleImputer(strategy="median"), RandomForestRegressor(
        n_estimators=8, max_depth=6, random_state=0)).fit(X, y)
    proxy = _roundtrip(model, tmp_path)
    _assert_parity(model, proxy, X)


# ----------------------------------------------------------------------------- unsupported


def _assert_unsupported(model, tmp_path, *words):
    path = tmp_path / "refused.mle"
    with pytest.raises(UnsupportedModelError) as info:
        mle.dump(model, path)
    assert isinstance(info.value, TypeError)
    msg = str(info.value)
    for w in words:
        assert w.lower() in msg.lower(), f"{w!r} not in error message {msg!r}"
    assert not path.exists()  # a refused dump leaves no file behind
    assert not list(tmp_path.iterdir())


def test_hist_gradient_boosting_string_categories(roundtrip):
    """pandas categorical columns with string categories: encoded on the input (the input rule
    "strings"); unseen categories are missing values, as in scikit-learn."""
    import pandas as pd
    bunch = load_wine(as_frame=True)
    df = bunch.data.copy()
    df["cat"] = pd.Categorical(np.array(["a", "b", "c"])[np.arange(len(df)) % 3])
    model = HistGradientBoostingClassifier(max_iter=10, random_state=0).fit(df, bunch.target)
    proxy = roundtrip(model)
    other = df.copy()
    other["cat"] = pd.Categorical(np.array(["a", "z", "c"])[np.arange(len(df)) % 3])
    for X in (df, df.iloc[:1], other):
        np.testing.assert_array_equal(proxy.predict(X), model.predict(X))
        np.testing.assert_allclose(proxy.predict_proba(X), model.predict_proba(X), rtol=1e-9)


@pytest.mark.parametrize("cls,init,data_name", [
    (GradientBoostingRegressor, LinearRegression, "diabetes"),
    # a classifier's init needs predict_proba: the linear model that has one
    (GradientBoostingClassifier, LogisticRegression, "breast_cancer"),
], ids=["GradientBoostingRegressor(init=LinearRegression)",
        "GradientBoostingClassifier(init=LogisticRegression)"])
def test_gradient_boosting_with_linear_init_unsupported(cls, init, data_name, tmp_path):
    X, y = data(data_name)
    model = cls(n_estimators=5, init=init(), random_state=0).fit(X, y)
    _assert_unsupported(model, tmp_path, "init", init.__name__)
