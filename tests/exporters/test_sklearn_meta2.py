"""OutputCodeClassifier over supported binary classifiers (decision_function or
predict_proba members, constant code columns), BaggingClassifier / BaggingRegressor over any
supported estimator (feature subsets, predict_proba averaging or vote fractions,
decision_function, predict_log_proba), and the refusal of searches fitted with refit=False.
Labels exact; values within 1e-9 absolute (the conftest tolerance)."""

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.linear_model import LogisticRegression, RidgeClassifier
from sklearn.model_selection import (
    GridSearchCV,
    HalvingGridSearchCV,
    HalvingRandomSearchCV,
    RandomizedSearchCV,
)
from sklearn.multiclass import OutputCodeClassifier
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC
from sklearn.tree import DecisionTreeClassifier

import mle_runtime as mle
from mle_runtime.errors import UnsupportedModelError

pytestmark = [pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
              pytest.mark.filterwarnings("ignore::UserWarning")]


# -- searches without refit -------------------------------------------------------------------

SEARCHES = {
    "grid": lambda **kw: GridSearchCV(LogisticRegression(max_iter=500), {"C": [0.1, 1.0]},
                                      cv=3, **kw),
    "randomized": lambda **kw: RandomizedSearchCV(LogisticRegression(max_iter=500),
                                                  {"C": [0.1, 1.0]}, n_iter=2, cv=3,
                                                  random_state=0, **kw),
    "halving-grid": lambda **kw: HalvingGridSearchCV(LogisticRegression(max_iter=500),
                                                     {"C": [0.1, 1.0]}, cv=3, **kw),
    "halving-random": lambda **kw: HalvingRandomSearchCV(LogisticRegression(max_iter=500),
                                                         {"C": [0.1, 1.0]}, cv=3,
                                                         random_state=0, **kw),
}


@pytest.mark.parametrize("kind", SEARCHES)
def test_search_without_refit_names_the_cause(kind, dataset, tmp_path):
    X, y = dataset("iris")
    model = SEARCHES[kind](refit=False).fit(X, y)
    name = type(model).__name__
    for value, where in ((model, "value "), ({"search": model}, "value['search']"),
                         (make_pipeline(StandardScaler(), model).fit(X, y), "steps[1]")):
        with pytest.raises(UnsupportedModelError) as info:
            mle.dump(value, tmp_path / "m.mle")
        message = str(info.value)
        assert where in message
        assert f"{name}(refit=False) has no best_estimator_" in message
        assert "refit=True" in message and "cv_results_" in message
        assert "n_features_in_" not in message
    # What the message proposes works.
    mle.dump(pd.DataFrame(model.cv_results_), tmp_path / "results.mle")
    table = mle.load(tmp_path / "results.mle")
    np.testing.assert_array_equal(table["mean_test_score"], model.cv_results_["mean_test_score"])


def test_search_without_refit_multimetric(dataset, tmp_path):
    X, y = dataset("iris")
    model = GridSearchCV(LogisticRegression(max_iter=500), {"C": [0.1, 1.0]}, cv=3,
                         scoring=["accuracy", "f1_macro"], refit=False).fit(X, y)
    with pytest.raises(UnsupportedModelError, match=r"GridSearchCV\(refit=False\) has no "):
        mle.dump(model, tmp_path / "m.mle")


# -- OutputCodeClassifier ---------------------------------------------------------------------

CODE_BASES = {
    "logistic": lambda: LogisticRegression(max_iter=2000),
    "pipeline-svc": lambda: make_pipeline(StandardScaler(), LinearSVC()),
    "ridge": lambda: RidgeClassifier(),
    "tree-proba": lambda: DecisionTreeClassifier(max_depth=3, random_state=0),
    "gaussian-nb": lambda: GaussianNB(),
}


@pytest.mark.parametrize("code_size", [0.5, 1.5, 3.0])
@pytest.mark.parametrize("base", CODE_BASES)
@pytest.mark.parametrize("data", ["iris", "wine", "clf_multiclass"])
def test_output_code(data, base, code_size, dataset, roundtrip, assert_parity):
    X, y = dataset(data)
    model = OutputCodeClassifier(CODE_BASES[base](), code_size=code_size,
                                 random_state=1).fit(X, y)
    proxy = roundtrip(model)
    assert_parity(model, proxy, X)
    np.testing.assert_array_equal(proxy.classes_, model.classes_)


def test_output_code_constant_columns(dataset, roundtrip, assert_parity):
    X, y = dataset("iris")
    model = OutputCodeClassifier(LogisticRegression(max_iter=2000), code_size=1.5,
                                 random_state=1).fit(X, y)
    kinds = {type(e).__name__ for e in model.estimators_}
    assert "_ConstantPredictor" in kinds  # the case this test is about
    assert_parity(model, roundtrip(model), X)


def test_output_code_string_labels_pandas_nan(dataset, roundtrip):
    X, y = dataset("wine")
    labels = np.array(["red", "white", "rose"])[y]
    X = X.copy()
    X[::7, 2] = np.nan
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    model = OutputCodeClassifier(HistGradientBoostingClassifier(max_iter=10, random_state=0),
                                 code_size=2, random_state=0).fit(frame, labels)
    proxy = roundtrip(model)
    got = proxy.predict(frame)
    assert got.dtype == model.predict(frame).dtype
    np.testing.assert_array_equal(got, model.predict(frame))
    np.testing.assert_array_equal(proxy.predict(frame.iloc[3:4]), model.predict(frame.iloc[3:4]))


def test_output_code_over_an_unsupported_member_is_refused(dataset, tmp_path):
    from sklearn.svm import SVC

    X, y = dataset("iris")
    model = OutputCodeClassifier(SVC(kernel="precomputed"), random_state=0)
    model.fit(X @ X.T, y)
    with pytest.raises(UnsupportedModelError, match="SVC"):
        mle.dump(model, tmp_path / "m.mle")
