"""Feature selectors (sklearn.feature_selection): transform keeps get_support()'s columns, as
the last step or inside pipelines; RFE and RFECV also predict with their estimator_ on the
selected columns. Values within 1e-9 (absolute, the conftest tolerance), labels exact."""

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.feature_selection import (
    RFE,
    RFECV,
    GenericUnivariateSelect,
    SelectFdr,
    SelectFpr,
    SelectFromModel,
    SelectFwe,
    SelectKBest,
    SelectPercentile,
    SequentialFeatureSelector,
    VarianceThreshold,
    f_classif,
    f_regression,
    mutual_info_classif,
)
from sklearn.linear_model import Lasso, LinearRegression, LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

import mle_runtime as mle
from mle_runtime.errors import UnsupportedModelError

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

CLASSIFICATION_SELECTORS = {
    "variance": lambda: VarianceThreshold(threshold=0.5),
    "kbest": lambda: SelectKBest(f_classif, k=3),
    "kbest-all": lambda: SelectKBest(k="all"),
    "kbest-mi": lambda: SelectKBest(lambda X, y: mutual_info_classif(X, y, random_state=0), k=2),
    "percentile": lambda: SelectPercentile(percentile=40),
    "fpr": lambda: SelectFpr(alpha=1e-3),
    "fdr": lambda: SelectFdr(alpha=1e-3),
    "fwe": lambda: SelectFwe(alpha=1e-3),
    "generic": lambda: GenericUnivariateSelect(mode="k_best", param=2),
    "from-model": lambda: SelectFromModel(LogisticRegression(max_iter=500)),
    "from-model-tree": lambda: SelectFromModel(RandomForestClassifier(n_estimators=5,
                                                                      random_state=0),
                                               max_features=3, threshold=-np.inf),
    "rfe": lambda: RFE(LogisticRegression(max_iter=500), n_features_to_select=3),
    "rfecv": lambda: RFECV(DecisionTreeClassifier(max_depth=3, random_state=0), cv=3),
    "sfs": lambda: SequentialFeatureSelector(LogisticRegression(max_iter=300),
                                             n_features_to_select=2, cv=2),
}


# Known difference: a selector's transform keeps integer input as integers (it validates with
# dtype=None); the exported graph converts integer input to float64, as every step but
# SimpleImputer does. transform is therefore checked on float input only.
PREDICT_METHODS = ("predict", "predict_proba", "predict_log_proba", "decision_function")


@pytest.mark.parametrize("data", ["iris", "wine", "breast_cancer"])
@pytest.mark.parametrize("name", list(CLASSIFICATION_SELECTORS))
def test_selector_in_pipeline(name, data, dataset, roundtrip, assert_parity):
    X, y = dataset(data)
    model = make_pipeline(StandardScaler(), CLASSIFICATION_SELECTORS[name](),
                          LogisticRegression(max_iter=500)).fit(X, y)
    assert_parity(model, roundtrip(model), X)


@pytest.mark.parametrize("name", list(CLASSIFICATION_SELECTORS))
def test_selector_transform(name, dataset, roundtrip, assert_same):
    X, y = dataset("wine", scaled=True)
    model = CLASSIFICATION_SELECTORS[name]().fit(X, y)
    proxy = roundtrip(model)
    for data in (X, X[:1], X[7:8], X.astype(np.float32), X[::3]):
        assert_same(model.transform(data), proxy.transform(data))
    cols = [f"f{i}" for i in range(X.shape[1])]
    df_model = CLASSIFICATION_SELECTORS[name]().fit(pd.DataFrame(X, columns=cols), y)
    df_proxy = roundtrip(df_model)
    frame = pd.DataFrame(X, columns=cols)
    assert_same(np.asarray(df_model.transform(frame)), df_proxy.transform(frame))
    assert_same(np.asarray(df_model.transform(frame[cols[::-1]][cols])),
                df_proxy.transform(frame[cols[::-1]][cols]))


@pytest.mark.parametrize("name", ["rfe", "rfecv"])
@pytest.mark.parametrize("data", ["iris", "breast_cancer", "clf_multiclass"])
def test_rfe_predicts(name, data, dataset, roundtrip, assert_parity):
    X, y = dataset(data, scaled=True)
    model = CLASSIFICATION_SELECTORS[name]().fit(X, y)
    proxy = roundtrip(model)
    checked = assert_parity(model, proxy, X, methods=PREDICT_METHODS)
    assert "predict" in checked
    for data in (X, X[:1], X.astype(np.float32)):
        np.testing.assert_array_equal(proxy.transform(data), model.transform(data))
    np.testing.assert_array_equal(proxy.classes_, model.classes_)
    assert proxy.score(X, y) == pytest.approx(model.score(X, y), abs=1e-12)


@pytest.mark.parametrize("est", [lambda: Ridge(), lambda: DecisionTreeRegressor(max_depth=4,
                                                                                  random_state=0)])
def test_rfe_regressor(est, dataset, roundtrip, assert_parity):
    X, y = dataset("diabetes")
    for model in (RFE(est(), n_features_to_select=4).fit(X, y),
                  RFECV(est(), step=2, cv=3).fit(X, y),
                  make_pipeline(StandardScaler(), RFE(est(), n_features_to_select=0.5))
                  .fit(X, y)):
        proxy = roundtrip(model)
        assert_parity(model, proxy, X, methods=PREDICT_METHODS)
        assert proxy.score(X, y) == pytest.approx(model.score(X, y), abs=1e-12)


def test_regression_selectors(dataset, roundtrip, assert_parity):
    X, y = dataset("diabetes")
    for sel in (SelectKBest(f_regression, k=4), SelectFromModel(Lasso(alpha=0.5)),
                SelectPercentile(f_regression, percentile=30),
                SequentialFeatureSelector(LinearRegression(), n_features_to_select=3,
                                          direction="backward", cv=2)):
        model = make_pipeline(sel, StandardScaler(), Ridge()).fit(X, y)
        assert_parity(model, roundtrip(model), X)


def test_nan_rules(dataset, roundtrip, assert_same):
    X, y = dataset("iris")
    Xn = X.copy()
    Xn[3, 1] = np.nan
    # VarianceThreshold accepts NaN (and infinity); SelectKBest refuses it, as scikit-learn.
    vt = VarianceThreshold(0.2).fit(X)
    proxy = roundtrip(vt)
    assert_same(vt.transform(Xn), proxy.transform(Xn))
    Xi = X.copy()
    Xi[2, 0] = np.inf
    assert_same(vt.transform(Xi), proxy.transform(Xi))
    kb = roundtrip(SelectKBest(k=2).fit(X, y))
    with pytest.raises(ValueError, match="NaN"):
        kb.transform(Xn)
    with pytest.raises(ValueError):
        kb.transform(Xi)


def test_selecting_nothing_is_refused(dataset, tmp_path):
    X, y = dataset("iris")
    sel = SelectKBest(k=0).fit(X, y)
    with pytest.raises(UnsupportedModelError, match="selects no features"):
        mle.dump(sel, tmp_path / "m.mle")


FRESH = r"""
import json, sys
import numpy as np
import mle_runtime as mle
model = mle.load(sys.argv[1])
X = np.array(json.loads(sys.argv[2]))
out = {m: np.asarray(getattr(model, m)(X)).tolist() for m in json.loads(sys.argv[3])}
out["imported"] = sorted({m.split(".")[0] for m in sys.modules}
                         & {"sklearn", "scipy", "pandas", "joblib"})
print(json.dumps(out))
"""


def test_load_and_predict_import_no_framework(dataset, tmp_path):
    import json
    import subprocess
    import sys

    X, y = dataset("breast_cancer", scaled=True)
    model = make_pipeline(SelectKBest(k=10), RFE(LogisticRegression(max_iter=500),
                                                 n_features_to_select=4)).fit(X, y)
    path = tmp_path / "m.mle"
    mle.dump(model, path)
    methods = ["predict", "predict_proba", "decision_function"]
    proc = subprocess.run([sys.executable, "-c", FRESH, str(path), json.dumps(X[:5].tolist()),
                           json.dumps(methods)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["imported"] == []
    np.testing.assert_array_equal(out["predict"], model.predict(X[:5]))
    np.testing.assert_allclose(out["predict_proba"], model.predict_proba(X[:5]), rtol=0,
                               atol=1e-12)
