"""scikit-learn's tools on loaded models (the estimator protocol of runtime/protocol.py): each
tool on a classifier, a regressor, a pipeline and a booster, compared with what the tool gives
for the original estimator."""

import matplotlib

matplotlib.use("Agg")  # the Display tests draw off-screen

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from sklearn.base import clone, is_classifier, is_regressor  # noqa: E402
from sklearn.inspection import PartialDependenceDisplay, partial_dependence, \
    permutation_importance  # noqa: E402
from sklearn.linear_model import LogisticRegression, Ridge  # noqa: E402
from sklearn.metrics import ConfusionMatrixDisplay, RocCurveDisplay, get_scorer  # noqa: E402
from sklearn.model_selection import cross_val_predict, cross_val_score  # noqa: E402
from sklearn.pipeline import Pipeline, make_pipeline  # noqa: E402
from sklearn.preprocessing import FunctionTransformer, StandardScaler  # noqa: E402
from sklearn.utils import get_tags  # noqa: E402
from sklearn.utils.validation import check_is_fitted  # noqa: E402
from xgboost import XGBClassifier  # noqa: E402

import mle_runtime as mle  # noqa: E402

ATOL = 1e-9
KINDS = ("classifier", "regressor", "pipeline", "booster")


def _fit(kind, dataset):
    if kind == "regressor":
        X, y = dataset("diabetes")
        return Ridge(alpha=0.5).fit(X, y), X, y
    X, y = dataset("breast_cancer")
    if kind == "classifier":
        return LogisticRegression(max_iter=5000).fit(X, y), X, y
    if kind == "pipeline":
        return make_pipeline(StandardScaler(), LogisticRegression(C=0.3)).fit(X, y), X, y
    return XGBClassifier(n_estimators=20, max_depth=3, random_state=0).fit(X, y), X, y


@pytest.fixture(params=KINDS)
def pair(request, dataset, roundtrip):
    """(kind, original model, loaded model, X, y)."""
    model, X, y = _fit(request.param, dataset)
    return request.param, model, roundtrip(model), X, y


def _classifier(kind):
    return kind != "regressor"


def test_get_scorer(pair):
    kind, model, proxy, X, y = pair
    names = ("roc_auc", "accuracy", "neg_log_loss", "f1") if _classifier(kind) else \
        ("r2", "neg_mean_squared_error", "neg_mean_absolute_error")
    for name in names:
        scorer = get_scorer(name)
        assert scorer(proxy, X, y) == pytest.approx(scorer(model, X, y), abs=ATOL), name


def test_score_is_the_default_metric(pair):
    kind, model, proxy, X, y = pair
    w = np.linspace(0.5, 2.0, len(y))
    assert proxy.score(X, y) == pytest.approx(model.score(X, y), abs=ATOL)
    assert proxy.score(X, y, sample_weight=w) == pytest.approx(
        model.score(X, y, sample_weight=w), abs=ATOL)
    assert get_scorer("accuracy" if _classifier(kind) else "r2")(proxy, X, y) == \
        pytest.approx(proxy.score(X, y), abs=ATOL)


def test_score_is_absent_where_the_estimator_has_none(dataset, roundtrip):
    X, _ = dataset("iris")
    scaler = StandardScaler().fit(X)
    proxy = roundtrip(scaler)
    assert not hasattr(scaler, "score")
    assert not hasattr(proxy, "score")


def test_permutation_importance(pair):
    kind, model, proxy, X, y = pair
    want = permutation_importance(model, X, y, n_repeats=3, random_state=0)
    got = permutation_importance(proxy, X, y, n_repeats=3, random_state=0)
    np.testing.assert_allclose(got.importances, want.importances, rtol=0, atol=ATOL)


def test_partial_dependence(pair):
    kind, model, proxy, X, y = pair
    for features in ([0], [1, 2]):
        want = partial_dependence(model, X, features, grid_resolution=8, method="brute")
        got = partial_dependence(proxy, X, features, grid_resolution=8)
        np.testing.assert_allclose(got["average"], want["average"], rtol=0, atol=ATOL)
        for a, b in zip(got["grid_values"], want["grid_values"]):
            np.testing.assert_array_equal(a, b)


def test_partial_dependence_display(pair):
    kind, model, proxy, X, y = pair
    want = PartialDependenceDisplay.from_estimator(model, X, [0, 3], grid_resolution=6,
                                                   method="brute")
    got = PartialDependenceDisplay.from_estimator(proxy, X, [0, 3], grid_resolution=6)
    for a, b in zip(got.pd_results, want.pd_results):
        np.testing.assert_allclose(a["average"], b["average"], rtol=0, atol=ATOL)
    plt.close("all")


def test_confusion_matrix_and_roc_displays(pair):
    kind, model, proxy, X, y = pair
    if not _classifier(kind):
        with pytest.raises(ValueError, match="classifier"):
            ConfusionMatrixDisplay.from_estimator(proxy, X, y)
        return
    np.testing.assert_array_equal(ConfusionMatrixDisplay.from_estimator(proxy, X, y)
                                  .confusion_matrix,
                                  ConfusionMatrixDisplay.from_estimator(model, X, y)
                                  .confusion_matrix)
    want = RocCurveDisplay.from_estimator(model, X, y)
    got = RocCurveDisplay.from_estimator(proxy, X, y)
    np.testing.assert_allclose(got.fpr, want.fpr, atol=ATOL)
    np.testing.assert_allclose(got.tpr, want.tpr, atol=ATOL)
    assert got.roc_auc == pytest.approx(want.roc_auc, abs=ATOL)
    plt.close("all")


def test_fitted_and_estimator_type(pair):
    kind, model, proxy, X, y = pair
    check_is_fitted(proxy)
    assert is_classifier(proxy) == is_classifier(model) == _classifier(kind)
    assert is_regressor(proxy) == is_regressor(model) == (not _classifier(kind))
    tags = get_tags(proxy)
    assert tags.estimator_type == get_tags(model).estimator_type
    assert tags.input_tags.allow_nan == (kind == "booster")  # what the loaded model accepts
    assert tags.input_tags.sparse is False  # sparse input is not supported
    assert proxy._estimator_type == ("classifier" if _classifier(kind) else "regressor")


def test_clone_gives_the_unfitted_estimator(pair):
    kind, model, proxy, X, y = pair
    twin = clone(proxy)
    assert type(twin) is type(model)
    assert repr(twin) == repr(clone(model))
    with pytest.raises(Exception, match="not fitted|NotFitted|fitted"):
        check_is_fitted(twin)
    if kind != "pipeline":
        a, b = twin.get_params(), clone(model).get_params()
        assert sorted(a) == sorted(b)
        for key in a:
            if isinstance(a[key], float) and np.isnan(a[key]):
                assert np.isnan(b[key]), key
            else:
                assert a[key] == b[key], key
    # the clone trains like a clone of the original
    refit = twin.fit(X, y)
    np.testing.assert_allclose(refit.predict(X), clone(model).fit(X, y).predict(X), atol=1e-6)


def test_get_params_are_the_original_estimators(pair):
    kind, model, proxy, X, y = pair
    want, got = model.get_params(deep=True), proxy.get_params(deep=True)
    assert sorted(got) == sorted(want)
    for key, value in want.items():
        if hasattr(value, "get_params") or isinstance(value, list):
            assert repr(got[key]) == repr(value), key
        elif isinstance(value, float) and np.isnan(value):
            assert np.isnan(got[key]), key
        else:
            assert got[key] == value, key
    assert proxy.set_params(**{k: v for k, v in proxy.get_params(deep=False).items()
                               if not isinstance(v, list)}) is proxy
    key = "C" if kind == "classifier" else "alpha" if kind == "regressor" else \
        "logisticregression__C" if kind == "pipeline" else "max_depth"
    with pytest.raises(mle.ReadOnlyModelError, match="read-only"):
        proxy.set_params(**{key: 123})
    with pytest.raises(ValueError, match="Invalid parameter"):
        proxy.set_params(no_such_parameter=1)


def test_cross_val_predict_is_refused_clearly(pair):
    kind, model, proxy, X, y = pair
    with pytest.raises(mle.ReadOnlyModelError, match="cross_val_predict.*read-only"):
        cross_val_predict(proxy, X, y, cv=3)
    with pytest.raises(mle.ReadOnlyModelError, match="read-only"):
        cross_val_score(proxy, X, y, cv=3)
    # cross-validating the configuration: pass an explicit clone
    np.testing.assert_allclose(cross_val_predict(clone(proxy), X, y, cv=3),
                               cross_val_predict(model, X, y, cv=3), atol=1e-6)


def test_fit_raises_a_read_only_error(pair):
    kind, model, proxy, X, y = pair
    with pytest.raises(mle.ReadOnlyModelError, match="read-only.*clone") as e:
        proxy.fit(X, y)
    assert isinstance(e.value, TypeError)
    np.testing.assert_allclose(proxy.predict(X), model.predict(X), atol=ATOL)  # unchanged


def test_last_step_of_a_new_fitted_pipeline(pair, roundtrip):
    kind, model, proxy, X, y = pair
    first = FunctionTransformer(np.sqrt if kind != "regressor" else None).fit(X)
    Xt = first.transform(X)
    model = clone(model).fit(Xt, y)
    proxy = roundtrip(model)
    pipe = Pipeline([("first", first), ("model", proxy)])
    check_is_fitted(pipe)
    assert is_classifier(pipe) == _classifier(kind)
    if _classifier(kind):
        np.testing.assert_array_equal(pipe.predict(X), model.predict(Xt))
    else:
        np.testing.assert_allclose(pipe.predict(X), model.predict(Xt), rtol=0, atol=ATOL)
    assert pipe.score(X, y) == pytest.approx(model.score(Xt, y), abs=ATOL)
    if _classifier(kind):
        np.testing.assert_allclose(pipe.predict_proba(X), model.predict_proba(Xt), atol=ATOL)
        assert get_scorer("roc_auc")(pipe, X, y) == pytest.approx(
            get_scorer("roc_auc")(Pipeline([("first", first), ("model", model)]), X, y),
            abs=ATOL)
