"""The estimator proxies returned by mle.load: which methods and attributes exist, their
types, metadata, thread counts and the life of a loaded model."""

import numpy as np
import pandas as pd
import pytest
from sklearn.impute import SimpleImputer
from sklearn.linear_model import (
    ElasticNet,
    Lasso,
    LinearRegression,
    LogisticRegression,
    Perceptron,
    Ridge,
    RidgeClassifier,
    SGDClassifier,
    SGDRegressor,
)
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import (
    MaxAbsScaler,
    MinMaxScaler,
    Normalizer,
    RobustScaler,
    StandardScaler,
)
from sklearn.svm import LinearSVC, LinearSVR

import mle_runtime as mle
from mle_runtime.runtime.proxies import MLEModel

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

METHODS = ("predict", "predict_proba", "predict_log_proba", "decision_function", "transform",
           "score_samples")

ALL_MODELS = {
    "LinearRegression": (LinearRegression, "regression"),
    "Ridge": (Ridge, "regression"),
    "Lasso": (Lasso, "regression"),
    "ElasticNet": (ElasticNet, "regression"),
    "SGDRegressor": (lambda: SGDRegressor(max_iter=20, random_state=0), "regression"),
    "LinearSVR": (lambda: LinearSVR(max_iter=100), "regression"),
    "RidgeClassifier": (RidgeClassifier, "iris"),
    "LogisticRegression-binary": (lambda: LogisticRegression(max_iter=200), "clf_binary"),
    "LogisticRegression-multinomial": (lambda: LogisticRegression(max_iter=200), "iris"),
    "OvR(LogisticRegression)": (lambda: OneVsRestClassifier(LogisticRegression()), "iris"),
    "OvR(LinearSVC)": (lambda: OneVsRestClassifier(LinearSVC(max_iter=100)), "iris"),
    "SGDClassifier(hinge)": (lambda: SGDClassifier(max_iter=20, random_state=0), "iris"),
    "SGDClassifier(log_loss)-binary": (
        lambda: SGDClassifier(loss="log_loss", max_iter=20, random_state=0), "clf_binary"),
    "SGDClassifier(modified_huber)": (
        lambda: SGDClassifier(loss="modified_huber", max_iter=20, random_state=0), "iris"),
    "Perceptron": (lambda: Perceptron(max_iter=20, random_state=0), "iris"),
    "LinearSVC": (lambda: LinearSVC(max_iter=100), "clf_binary"),
    "StandardScaler": (StandardScaler, "iris"),
    "MinMaxScaler": (MinMaxScaler, "iris"),
    "MaxAbsScaler": (MaxAbsScaler, "iris"),
    "RobustScaler": (RobustScaler, "iris"),
    "Normalizer": (Normalizer, "iris"),
    "SimpleImputer": (SimpleImputer, "iris"),
    "Pipeline(classifier)": (lambda: make_pipeline(StandardScaler(), LinearSVC()), "iris"),
    "Pipeline(regressor)": (lambda: make_pipeline(MinMaxScaler(), Ridge()), "diabetes"),
    "Pipeline(transformer)": (lambda: make_pipeline(SimpleImputer(), StandardScaler()), "iris"),
    "Pipeline(passthrough-last)": (lambda: Pipeline([("s", StandardScaler()),
                                                     ("p", "passthrough")]), "iris"),
}


@pytest.fixture
def fitted(dataset):
    def fit(name):
        make, data = ALL_MODELS[name]
        X, y = dataset(data, scaled=True)
        return make().fit(X, y), X

    return fit


@pytest.mark.parametrize("name", list(ALL_MODELS))
def test_methods_exist_exactly_where_sklearn_has_them(name, fitted, roundtrip):
    model, X = fitted(name)
    proxy = roundtrip(model)
    for method in METHODS:
        assert hasattr(proxy, method) == hasattr(model, method), method
        if not hasattr(model, method):
            with pytest.raises(AttributeError, match=method):
                getattr(proxy, method)
        else:
            bound = getattr(proxy, method)
            assert callable(bound)
            assert bound.__name__ == method
            assert bound.__doc__
    assert hasattr(proxy, "classes_") == hasattr(model, "classes_")
    assert proxy.n_features_in_ == X.shape[1]
    assert isinstance(proxy.n_features_in_, int)


@pytest.mark.parametrize("name", list(ALL_MODELS))
def test_estimator_type(name, fitted, roundtrip):
    model, _ = fitted(name)
    proxy = roundtrip(model)
    from sklearn.base import is_classifier, is_regressor

    expected = ("classifier" if is_classifier(model) else
                "regressor" if is_regressor(model) else "transformer")
    assert proxy.metadata["estimator_type"] == expected
    assert proxy._estimator_type == expected


def test_missing_attribute_message_names_the_model(fitted, roundtrip):
    model, X = fitted("LinearSVC")
    proxy = roundtrip(model)
    with pytest.raises(AttributeError, match="LinearSVC.*predict_proba"):
        proxy.predict_proba(X)
    with pytest.raises(AttributeError):
        proxy.no_such_attribute


@pytest.mark.parametrize("labels,dtype", [
    (np.array([10, 20, 30]), np.int64),
    (np.array([10, 20, 30], dtype=np.int32), np.int32),
    (np.array(["cat", "dog", "eel"]), np.dtype("<U3")),
    (np.array(["cat", "dog", "eel"], dtype=object), None),  # LogisticRegression keeps object
    (np.array([False, True, True]), np.bool_),
], ids=["int64", "int32", "str-U", "str-object", "bool"])
def test_classes_dtype_and_labels(labels, dtype, dataset, roundtrip):
    X, y = dataset("iris", scaled=True)
    yl = labels[y]
    model = LogisticRegression(max_iter=200).fit(X, yl)
    if dtype is not None:
        assert model.classes_.dtype == dtype
    proxy = roundtrip(model)
    assert type(proxy.classes_) is np.ndarray
    assert proxy.classes_.dtype == model.classes_.dtype
    np.testing.assert_array_equal(proxy.classes_, model.classes_)
    pred = proxy.predict(X)
    assert pred.dtype == model.predict(X).dtype
    np.testing.assert_array_equal(pred, model.predict(X))
    if model.classes_.dtype == object:
        assert all(type(v) is str for v in pred)


def test_classes_cannot_be_corrupted_through_the_attribute(dataset, roundtrip):
    X, y = dataset("iris", scaled=True)
    model = LogisticRegression(max_iter=200).fit(X, y)
    proxy = roundtrip(model)
    classes = proxy.classes_
    try:
        classes[0] = 99
    except ValueError:
        pass  # read-only: fine
    np.testing.assert_array_equal(proxy.predict(X), model.predict(X))


def test_feature_names(dataset, roundtrip):
    X, y = dataset("wine")
    cols = [f"f{i}" for i in range(X.shape[1])]
    model = LogisticRegression(max_iter=200).fit(pd.DataFrame(X, columns=cols), y)
    proxy = roundtrip(model)
    assert proxy.feature_names_in_.dtype == object
    np.testing.assert_array_equal(proxy.feature_names_in_, model.feature_names_in_)
    plain = roundtrip(LogisticRegression(max_iter=200).fit(X, y))
    assert not hasattr(plain, "feature_names_in_")
    with pytest.raises(AttributeError, match="feature_names_in_"):
        plain.feature_names_in_
    assert plain.n_features_in_ == 13


def test_metadata_is_a_copy(dataset, roundtrip):
    X, y = dataset("iris")
    model = LogisticRegression(max_iter=200).fit(pd.DataFrame(X, columns=list("abcd")), y)
    proxy = roundtrip(model)
    meta = proxy.metadata
    assert meta["framework"] == "sklearn"
    assert meta["model_class"].endswith("LogisticRegression")
    meta["estimator_type"] = "regressor"
    meta["feature_names_in"].append("zzz")
    meta["classes"]["values"].append(3)
    fresh = proxy.metadata
    assert fresh["estimator_type"] == "classifier"
    assert fresh["feature_names_in"] == ["a", "b", "c", "d"]
    np.testing.assert_array_equal(proxy.classes_, [0, 1, 2])
    np.testing.assert_array_equal(proxy.feature_names_in_, list("abcd"))


def test_repr(dataset, roundtrip):
    X, y = dataset("iris")
    proxy = roundtrip(make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y))
    text = repr(proxy)
    assert "StandardScaler" in text and "LogisticRegression" in text
    assert "classifier" in text and "4 features" in text
    assert isinstance(proxy, MLEModel)


def test_n_threads(dataset, roundtrip):
    X, y = dataset("clf_multiclass", scaled=True)
    big = np.tile(X, (20, 1))  # 6000 rows: many row blocks
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=200)).fit(X, y)
    proxy = roundtrip(model)
    ref = proxy.predict_proba(big, n_threads=1)
    for n in (None, 0, 1, 2, 3, -1, -2, 64, 10**12, np.int64(2), np.int32(-1)):
        np.testing.assert_array_equal(proxy.predict_proba(big, n_threads=n), ref)
        np.testing.assert_array_equal(proxy.predict(big, n_threads=n), model.predict(big))
    np.testing.assert_allclose(ref, model.predict_proba(big), rtol=0, atol=1e-9)
    for n in (1, 2, -1):
        p = roundtrip(model, n_threads=n)
        np.testing.assert_array_equal(p.predict_proba(big), ref)
    for bad in ("2", 1.5, 2.0, True, np.bool_(False)):
        with pytest.raises(TypeError):
            proxy.predict(big, n_threads=bad)
    with pytest.raises(TypeError):
        proxy.predict(big, 2)  # n_threads is keyword-only


def test_large_batch_matches_row_by_row(dataset, roundtrip):
    X, y = dataset("wine", scaled=True)
    rng = np.random.RandomState(0)
    big = X[rng.randint(0, X.shape[0], size=1000)] + rng.normal(scale=0.1, size=(1000, 13))
    model = make_pipeline(RobustScaler(), LogisticRegression(max_iter=200)).fit(X, y)
    proxy = roundtrip(model)
    batch = proxy.predict_proba(big)
    rows = np.vstack([proxy.predict_proba(big[i:i + 1]) for i in range(0, 1000, 37)])
    np.testing.assert_array_equal(batch[::37], rows)
    np.testing.assert_allclose(batch, model.predict_proba(big), rtol=0, atol=1e-9)


def test_outputs_are_fresh_arrays(dataset, roundtrip):
    X, _ = dataset("iris")
    X.setflags(write=False)
    proxy = roundtrip(StandardScaler(with_mean=False, with_std=False).fit(X))
    out = proxy.transform(X)
    assert out is not X
    assert out.flags.writeable and out.flags.c_contiguous
    np.testing.assert_array_equal(out, X)
    out[:] = 0
    assert X[0, 0] != 0
    again = proxy.transform(X)
    assert not np.shares_memory(again, out)


def test_model_survives_file_replacement_and_deletion(dataset, tmp_path):
    X, y = dataset("diabetes")
    a = Ridge(alpha=1.0).fit(X, y)
    b = Ridge(alpha=100.0).fit(X, y)
    path = tmp_path / "m.mle"
    mle.dump(a, path)
    pa = mle.load(path)
    before = pa.predict(X)
    mle.dump(b, path)  # atomic replace while pa is loaded (possibly memory-mapped)
    pb = mle.load(path)
    np.testing.assert_array_equal(pa.predict(X), before)
    np.testing.assert_allclose(pb.predict(X), b.predict(X), rtol=0, atol=1e-9)
    path.unlink()
    np.testing.assert_array_equal(pa.predict(X), before)
    np.testing.assert_allclose(pa.predict(X), a.predict(X), rtol=0, atol=1e-9)


def test_methods_are_bound_to_their_model(dataset, roundtrip):
    X, y = dataset("iris")
    p1 = roundtrip(LogisticRegression(max_iter=200).fit(X, y))
    p2 = roundtrip(LogisticRegression(C=0.01, max_iter=200).fit(X, y))
    f1, f2 = p1.predict_proba, p2.predict_proba
    assert not np.allclose(f1(X), f2(X))
    assert p1.predict_proba is f1  # bound once, then reused


# ---------------------------------------------------------------- damaged metadata

def _with_meta(model, edit):
    """Loads ``model`` from bytes whose metadata was changed by ``edit(meta)``: the metadata
    is untrusted input to the proxy, like any byte of a file."""
    import io

    from mle_runtime.exporters import export
    from mle_runtime.format import writer

    graph, meta = export(model)
    edit(meta)
    return mle.load(io.BytesIO(writer.encode(meta, graph)))


def _set(key, value):
    def edit(meta):
        meta[key] = value
    return edit


@pytest.mark.parametrize("edit", [
    _set("classes", None),
    lambda m: m.pop("classes"),
    lambda m: m["classes"].update(values=m["classes"]["values"][:1]),
    lambda m: m["classes"].update(values={"a": 1}),
    lambda m: m["classes"].update(values=[[0, 1], [2, 3]]),
    lambda m: m["classes"].update(values=[]),
    lambda m: m["classes"].update(dtype="V8"),
    lambda m: m["classes"].update(dtype="|u1", values=[0, 1, 300]),
    lambda m: m["classes"].pop("dtype"),
    _set("classes", "abc"),
], ids=["classes-null", "classes-missing", "classes-short", "values-dict", "values-nested",
        "values-empty", "dtype-void", "values-overflow", "dtype-missing", "classes-string"])
def test_damaged_classes_raise_format_error(edit, dataset):
    X, y = dataset("iris")
    proxy = _with_meta(LogisticRegression(max_iter=200).fit(X, y), edit)
    with pytest.raises(mle.FormatError):
        proxy.predict(X)
    np.testing.assert_equal(proxy.predict_proba(X).shape, (150, 3))  # other outputs still work
    repr(proxy)


HUGE_LABELS = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
import numpy as np
import mle_runtime as mle
proxy = mle.load(sys.argv[1])
for what in ("classes_", "predict"):
    try:
        getattr(proxy, what) if what == "classes_" else proxy.predict(np.zeros((1, 4)))
    except mle.FormatError as e:
        print(what, "FormatError", e)
    except MemoryError:
        print(what, "MemoryError")
    else:
        print(what, "accepted")
"""


def test_huge_string_dtype_of_classes_is_refused(dataset, tmp_path):
    """classes declared as '<U500000000' (2 GB per label, and per predicted row) from a file
    of a few KB are refused with FormatError before numpy allocates them (the child process
    runs with 3 GiB of address space, so the allocation would fail rather than swap)."""
    import subprocess
    import sys

    X, y = dataset("iris")
    proxy = _with_meta(LogisticRegression(max_iter=200).fit(X, np.array(["a", "b", "c"])[y]),
                       lambda m: m["classes"].update(dtype="<U500000000"))
    path = tmp_path / "huge-labels.mle"
    path.write_bytes(proxy._native.file_bytes())
    assert path.stat().st_size < 16384
    proc = subprocess.run([sys.executable, "-c", HUGE_LABELS, str(path)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert len(lines) == 2 and all("FormatError" in ln for ln in lines), proc.stdout
    assert "holds 500000000 characters per label, but the longest label has 1" in lines[0]


@pytest.mark.parametrize("chars,ok", [(3, True), (20, True), (64, True), (65, False)])
def test_string_classes_may_be_padded_a_little(chars, ok, dataset):
    """numpy keeps the width of the array labels came from (np.genfromtxt(dtype="U20")):
    up to 64 characters beyond the longest label are accepted, wider dtypes are refused."""
    X, y = dataset("iris")
    labels = np.array(["cat", "dog", "eel"], dtype=f"<U{max(chars, 3)}")
    model = LogisticRegression(max_iter=200).fit(X, labels[y])
    proxy = _with_meta(model, lambda m: m["classes"].update(dtype=f"<U{chars}"))
    if ok:
        assert proxy.classes_.dtype == np.dtype(f"<U{chars}")
        pred = proxy.predict(X)
        np.testing.assert_array_equal(pred, model.predict(X))
        assert pred.dtype == np.dtype(f"<U{chars}")
    else:
        for attempt in (lambda: proxy.classes_, lambda: proxy.predict(X)):
            with pytest.raises(mle.FormatError, match="at most 64 are accepted"):
                attempt()


def test_multi_output_string_classes_share_the_widest_label(dataset, roundtrip):
    """A multi-output classifier's classes_ all take the 2-D y's width: an output of short
    labels may be as wide as the longest label of any output."""
    from sklearn.tree import DecisionTreeClassifier

    X, y = dataset("iris")
    long = "x" * 100
    Y = np.stack([np.array(["a", "b", long])[y], np.array(["p", "q", "r"])[(y + 1) % 3]], axis=1)
    model = DecisionTreeClassifier(random_state=0).fit(X, Y)
    assert [c.dtype for c in model.classes_] == [np.dtype("<U100")] * 2
    proxy = roundtrip(model)
    assert [c.dtype for c in proxy.classes_] == [np.dtype("<U100")] * 2
    np.testing.assert_array_equal(proxy.predict(X), model.predict(X))


def test_regressor_relabelled_classifier(dataset):
    X, y = dataset("diabetes")
    proxy = _with_meta(Ridge().fit(X, y), _set("estimator_type", "classifier"))
    with pytest.raises(mle.FormatError):
        proxy.predict(X)


@pytest.mark.parametrize("edit", [
    _set("model_class", 42), _set("summary", ["x"]), _set("estimator_type", 7),
    _set("summary", None), lambda m: m.clear(),
], ids=["model_class-int", "summary-list", "estimator_type-int", "summary-null", "empty"])
def test_odd_metadata_values_do_not_break_the_proxy(edit, dataset):
    X, y = dataset("diabetes")
    proxy = _with_meta(Ridge().fit(X, y), edit)
    assert isinstance(repr(proxy), str)
    with pytest.raises(mle.InputError, match="X has 3 features, but"):
        proxy.predict(X[:, :3])
    assert proxy.predict(X).shape == (X.shape[0],)


@pytest.mark.parametrize("value", [42, "abc", [1, 2, 3, 4], {"a": 1}])
def test_damaged_feature_names(value, dataset):
    X, y = dataset("iris")
    proxy = _with_meta(LogisticRegression(max_iter=200).fit(X, y),
                       _set("feature_names_in", value))
    with pytest.raises(mle.FormatError):
        proxy.feature_names_in_
    with pytest.raises(mle.FormatError):
        proxy.predict(pd.DataFrame(X, columns=list("abcd")))
    assert proxy.predict(X).shape == (150,)  # arrays never look at the names


@pytest.mark.parametrize("value", [42, {"keep": "yes"}, {"fill_dtypes": ["object"]},
                                   {"fill_dtypes": ["no such dtype"]}, {"fill_dtypes": 3}])
def test_damaged_integer_input_rule(value, dataset):
    X, _ = dataset("iris")
    proxy = _with_meta(SimpleImputer(strategy="most_frequent").fit(X),
                       _set("integer_input", value))
    with pytest.raises(mle.FormatError):
        proxy.transform(X)
