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
    assert proxy.get_model_info()["estimator_type"] == expected
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
    meta["framework"] = "other"
    meta["model_class"] += "x"
    fresh = proxy.metadata
    assert fresh["framework"] == "sklearn"
    assert fresh["model_class"].endswith("LogisticRegression")
    np.testing.assert_array_equal(proxy.classes_, [0, 1, 2])
    np.testing.assert_array_equal(proxy.feature_names_in_, list("abcd"))


def test_repr(dataset, roundtrip):
    """A loaded model's repr is scikit-learn's repr of the original estimator."""
    X, y = dataset("iris")
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.5)).fit(X, y)
    proxy = roundtrip(model)
    assert repr(proxy) == repr(model)
    assert "StandardScaler" in repr(proxy) and "LogisticRegression(C=0.5)" in repr(proxy)
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

def _exported(model, edit=None):
    """The bytes of ``model``'s file, its graph's records first changed by ``edit(graph,
    meta)``: the records are untrusted input like any byte of a file."""
    from mle_runtime.exporters import export
    from mle_runtime.format import writer

    graph, meta = export(model)
    if edit is not None:
        edit(graph, meta)
    return writer.encode(meta, graph)


def _load(data):
    import io

    return mle.load(io.BytesIO(data))


def _with_meta(model, edit):
    """Loads ``model`` from bytes whose (descriptive) metadata was changed by ``edit(meta)``."""
    return _load(_exported(model, lambda g, m: edit(m)))


def _set(key, value):
    def edit(meta):
        meta[key] = value
    return edit


def _labels(fn):
    """An edit of the first label set [dtype, values]."""
    return lambda g, m: fn(g.label_sets[0])


def _predict_opts(fn):
    return lambda g, m: fn(next(o for o in g.outputs if o["name"] == "predict")["opts"])


@pytest.mark.parametrize("edit", [
    lambda g, m: g.label_sets.clear(),
    _labels(lambda s: s.__setitem__(1, s[1][:1])),
    _labels(lambda s: s.__setitem__(1, s[1][:2])),
    _labels(lambda s: s.__setitem__(1, {"a": 1})),
    _labels(lambda s: s.__setitem__(1, [[0, 1], [2, 3]])),
    _labels(lambda s: s.__setitem__(1, [])),
    _labels(lambda s: s.__setitem__(0, "V8")),
    _labels(lambda s: s.__setitem__(0, "nonsense")),
    _labels(lambda s: s.__setitem__(0, "|u1") or s.__setitem__(1, [0, 1, 300])),
    _labels(lambda s: s.__setitem__(0, "<U10")),
    _labels(lambda s: s.__setitem__(0, "<f8") or s.__setitem__(1, ["a", 1.0, 2.0])),
    _labels(lambda s: s.__setitem__(0, "|b1")),
    _predict_opts(lambda o: o.update(labels=3)),
    _predict_opts(lambda o: o.update(labels=[0])),
    _predict_opts(lambda o: o.update(labels="0")),
], ids=["no-sets", "one-label", "two-labels", "values-dict", "values-nested", "values-empty",
        "dtype-void", "dtype-unknown", "values-overflow", "ints-as-strings", "mixed-floats",
        "ints-as-bools", "set-missing", "list-for-one-column", "index-string"])
def test_damaged_labels_are_refused_at_load(edit, dataset):
    X, y = dataset("iris")
    data = _exported(LogisticRegression(max_iter=200).fit(X, y), edit)
    with pytest.raises(mle.FormatError, match="label|graph output 'predict'"):
        _load(data)


HUGE_LABELS = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
import mle_runtime as mle
try:
    mle.load(sys.argv[1])
except mle.FormatError as e:
    print("FormatError", e)
except MemoryError:
    print("MemoryError")
else:
    print("accepted")
"""


def test_huge_string_dtype_of_labels_is_refused(dataset, tmp_path):
    """labels declared as '<U500000000' (2 GB per label, and per predicted row) from a file
    of a few KB are refused by load with FormatError before anything allocates them (the
    child process runs with 3 GiB of address space, so an allocation would fail rather than
    swap)."""
    import subprocess
    import sys

    X, y = dataset("iris")
    data = _exported(LogisticRegression(max_iter=200).fit(X, np.array(["a", "b", "c"])[y]),
                     _labels(lambda s: s.__setitem__(0, "<U500000000")))
    path = tmp_path / "huge-labels.mle"
    path.write_bytes(data)
    assert path.stat().st_size < 16384
    proc = subprocess.run([sys.executable, "-c", HUGE_LABELS, str(path)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("FormatError"), proc.stdout
    assert "holds 500000000 characters per label, but the longest label has 1" in proc.stdout


@pytest.mark.parametrize("chars,ok", [(3, True), (20, True), (64, True), (65, False)])
def test_string_labels_may_be_padded_a_little(chars, ok, dataset):
    """numpy keeps the width of the array labels came from (np.genfromtxt(dtype="U20")):
    up to 64 characters beyond the longest label are accepted, wider dtypes are refused."""
    X, y = dataset("iris")
    labels = np.array(["cat", "dog", "eel"], dtype=f"<U{max(chars, 3)}")
    model = LogisticRegression(max_iter=200).fit(X, labels[y])
    data = _exported(model, _labels(lambda s: s.__setitem__(0, f"<U{chars}")))
    if ok:
        proxy = _load(data)
        assert proxy.classes_.dtype == np.dtype(f"<U{chars}")
        pred = proxy.predict(X)
        np.testing.assert_array_equal(pred, model.predict(X))
        assert pred.dtype == np.dtype(f"<U{chars}")
    else:
        with pytest.raises(mle.FormatError, match="at most 64 are accepted"):
            _load(data)


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


def test_regressor_given_labels_is_refused(dataset):
    """Labels need an output of class indices: a regressor's predict cannot take them."""
    X, y = dataset("diabetes")

    def edit(g, m):
        g.labels("<i8", [0, 1, 2])
        _predict_opts(lambda o: o.update(labels=0))(g, m)

    with pytest.raises(mle.FormatError, match="needs an output of class indices"):
        _load(_exported(Ridge().fit(X, y), edit))


@pytest.mark.parametrize("edit", [
    _set("model_class", 42), _set("summary", ["x"]), _set("estimator_type", 7),
    _set("summary", None), _set("classes", "abc"), _set("feature_names_in", 3),
    lambda m: m.clear(),
], ids=["model_class-int", "summary-list", "estimator_type-int", "summary-null",
        "old-classes-key", "old-feature-names-key", "empty"])
def test_odd_metadata_values_do_not_break_the_proxy(edit, dataset):
    """Metadata is descriptive only in format 1.3: odd values there change no prediction."""
    X, y = dataset("diabetes")
    proxy = _with_meta(Ridge().fit(X, y), edit)
    assert isinstance(repr(proxy), str)
    with pytest.raises(mle.InputError, match="X has 3 features, but"):
        proxy.predict(X[:, :3])
    assert proxy.predict(X).shape == (X.shape[0],)


def _inputs(key, value):
    return lambda g, m: g.inputs.__setitem__(key, value)


@pytest.mark.parametrize("edit,match", [
    (_inputs("feature_names", 42), "feature_names"),
    (_inputs("feature_names", "abcd"), "feature_names"),
    (_inputs("feature_names", [1, 2, 3, 4]), "strings only"),
    (_inputs("feature_names", ["a", "b", "c"]), "list of 4 strings"),
    (_inputs("feature_names", {"a": 1}), "feature_names"),
    (_inputs("categories", {"a": ["x"]}), "feature names"),
    (_inputs("unseen", "error"), "needs 'categories'"),
    (_inputs("unseen", "ignore"), "must be \"error\""),
    (_inputs("nonsense", 1), "unknown 'inputs' key"),
    (lambda g, m: g.keyword("predict", "raw", True, "nope"), "does not have"),
    (lambda g, m: g.keyword("predict", "n_threads", 1, "predict_proba"), "identifier"),
    (lambda g, m: g.keyword("predict", "X", 1, "predict_proba"), "identifier"),
    (lambda g, m: g.keyword("nope", "raw", True, "predict_proba"), "not a graph output"),
    (lambda g, m: g.keyword("predict", "raw", [1], "predict_proba"), "entries must be"),
    (lambda g, m: setattr(g, "estimator_type", "a b"), "identifier"),
    (lambda g, m: setattr(g, "estimator_type", 3), "identifier"),
    (_predict_opts(lambda o: o.update(dtype="float16")), "must be one of"),
    (_predict_opts(lambda o: o.update(column="yes")), "boolean"),
    (_predict_opts(lambda o: o.update(colour=True)), "unknown option"),
    (lambda g, m: next(o for o in g.outputs if o["name"] == "predict_proba")["opts"].update(
        splits=[1, 1]), "sum to 2 columns"),
    (lambda g, m: next(o for o in g.outputs if o["name"] == "predict_proba")["opts"].update(
        splits=[4, -1]), "positive"),
    (lambda g, m: next(o for o in g.outputs if o["name"] == "predict_proba")["opts"].update(
        column=True), "one-column"),
    (lambda g, m: next(o for o in g.outputs if o["name"] == "predict")["opts"].update(
        splits=[1]), "cannot be combined"),
], ids=["names-int", "names-string", "names-ints", "names-short", "names-dict",
        "categories-unknown-column", "unseen-without-categories", "unseen-ignore",
        "inputs-unknown-key", "alias-to-missing-output", "keyword-n_threads", "keyword-X",
        "keyword-missing-method", "keyword-value-list", "estimator-type-spaces",
        "estimator-type-int", "dtype-unknown", "column-string", "option-unknown",
        "splits-short", "splits-negative", "column-of-three", "splits-with-labels"])
def test_hostile_rules_are_refused_at_load(edit, match, dataset):
    X, y = dataset("iris")
    data = _exported(LogisticRegression(max_iter=200).fit(X, y), edit)
    with pytest.raises(mle.FormatError, match=match):
        _load(data)


@pytest.mark.parametrize("value", [42, {"keep": "yes"}, {"fill_dtypes": ["object"]},
                                   {"fill_dtypes": ["no such dtype"]}, {"fill_dtypes": 3},
                                   {"keep": True, "also": 1}])
def test_damaged_integer_input_rule_is_refused_at_load(value, dataset):
    X, _ = dataset("iris")
    data = _exported(SimpleImputer(strategy="most_frequent").fit(X), _inputs("integer", value))
    with pytest.raises(mle.FormatError, match="integer"):
        _load(data)
