"""ColumnTransformer and FeatureUnion: the tabular pipelines people ship, on a seeded
titanic-like DataFrame (float ages with NaN, int columns, pandas-3 ``str``, ``object`` and
``category`` columns with missing values, unseen categories at predict). Labels exactly,
probabilities and values within 1e-9 relative; full batch, single rows, float32 columns,
reordered DataFrame columns and numpy object arrays; refusals that name the step by its path;
a fresh process that predicts without importing scikit-learn, scipy or pandas."""

import json
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer, make_column_selector, make_column_transformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import FeatureUnion, Pipeline, make_pipeline
from sklearn.preprocessing import (FunctionTransformer, MinMaxScaler, OneHotEncoder,
                                   OrdinalEncoder, StandardScaler)

import mle_runtime as mle
from tabular_testing import CAT, NUM, titanic, unseen

RTOL = 1e-9


def _num():
    return Pipeline([("impute", SimpleImputer()), ("scale", StandardScaler())])


def shipped():
    """The most common deployment."""
    return Pipeline([
        ("prep", ColumnTransformer([("num", _num(), NUM),
                                    ("cat", OneHotEncoder(handle_unknown="ignore"), CAT)])),
        ("clf", LogisticRegression(max_iter=500))])


MODELS = {
    "shipped": shipped,
    "selectors": lambda: make_pipeline(make_column_transformer(
        (_num(), make_column_selector(dtype_include="number")),
        (make_pipeline(SimpleImputer(strategy="most_frequent"),
                       OneHotEncoder(handle_unknown="ignore")),
         make_column_selector(dtype_exclude="number"))), LogisticRegression(max_iter=500)),
    "positions-remainder-estimator": lambda: make_pipeline(ColumnTransformer(
        [("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=True), [3, 4, 5])],
        remainder=make_pipeline(SimpleImputer(strategy="median"), MinMaxScaler()),
        sparse_threshold=0.9), LogisticRegression(max_iter=500)),
    "mask-slice": lambda: make_pipeline(ColumnTransformer(
        [("cat", OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=60,
                               drop="if_binary"), np.array([0, 0, 0, 1, 1, 1], bool)),
         ("num", _num(), slice(0, 3))]), LogisticRegression(max_iter=500)),
    "ordinal-passthrough-weights": lambda: make_pipeline(ColumnTransformer(
        [("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1,
                                encoded_missing_value=-5), CAT),
         ("gone", "drop", ["sibsp"]), ("fare", "passthrough", ["fare"])],
        remainder=SimpleImputer(), transformer_weights={"cat": 0.5, "fare": 2.0}),
        LogisticRegression(max_iter=1000)),
    "imputed-strings": lambda: make_pipeline(ColumnTransformer(
        [("num", _num(), NUM),
         ("cat", make_pipeline(SimpleImputer(strategy="constant", fill_value="missing"),
                               OneHotEncoder(handle_unknown="ignore")), CAT)]),
        LogisticRegression(max_iter=500)),
    "nested": lambda: make_pipeline(ColumnTransformer(
        [("inner", ColumnTransformer([("num", _num(), [0, 1]),
                                      ("cat", OneHotEncoder(handle_unknown="ignore"), [2])]),
          ["age", "fare", "sex"]),
         ("union", FeatureUnion([("a", _num()), ("b", make_pipeline(SimpleImputer(),
                                                                    MinMaxScaler()))],
                                transformer_weights={"b": 3.0}), ["sibsp", "age"]),
         ("cat", OneHotEncoder(handle_unknown="ignore"), ["embarked", "pclass"])]),
        LogisticRegression(max_iter=500)),
    "regressor": lambda: make_pipeline(ColumnTransformer(
        [("num", _num(), NUM), ("cat", OneHotEncoder(handle_unknown="ignore"), CAT)]), Ridge()),
}


def _frames():
    X, y = titanic()
    return X, y, {
        "batch": X, "row": X.iloc[[3]], "unseen": unseen(X),
        # every numeric column float32 (a frame mixing float32 with other numeric dtypes is
        # computed in float64, see the README)
        "float32": X.astype({c: np.float32 for c in NUM}),
        "reordered": X[X.columns[::-1]],
    }


def _compare(model, proxy, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for method in ("predict", "predict_proba", "decision_function", "transform"):
            if not hasattr(model, method):
                continue
            want, got = getattr(model, method)(X), getattr(proxy, method)(X)
            if hasattr(want, "toarray"):  # sparse_threshold: the loaded model returns dense
                want = want.toarray()
            if method == "predict" and hasattr(model, "classes_"):
                np.testing.assert_array_equal(got, want)
            else:
                np.testing.assert_allclose(got, want, rtol=RTOL, atol=1e-12)


@pytest.mark.parametrize("name", list(MODELS))
def test_parity(name, roundtrip):
    X, y, frames = _frames()
    model = MODELS[name]().fit(X, y if name != "regressor" else X["fare"].to_numpy() + y)
    proxy = roundtrip(model)
    if name in ("imputed-strings", "selectors"):
        # scikit-learn's SimpleImputer raises TypeError on pd.NA in an object column
        frames["unseen"].loc[10, "embarked"] = "Z"
    for key, T in frames.items():
        _compare(model, proxy, T)
    prep = model[0]
    prep_proxy = roundtrip(prep)
    _compare(prep, prep_proxy, frames["unseen"])


def test_numpy_object_array_by_position(roundtrip):
    X, y = titanic()
    A = X.to_numpy(dtype=object)
    model = make_pipeline(ColumnTransformer(
        [("num", _num(), [0, 1, 2]), ("cat", OneHotEncoder(handle_unknown="ignore"), [3, 4, 5])]),
        LogisticRegression(max_iter=500)).fit(A, y)
    proxy = roundtrip(model)
    for T in (A, A[:1], unseen(X).to_numpy(dtype=object)):
        np.testing.assert_array_equal(proxy.predict(T), model.predict(T))
        np.testing.assert_allclose(proxy.predict_proba(T), model.predict_proba(T), rtol=RTOL)


def test_the_shipped_pipeline_takes_numpy_object_rows(roundtrip):
    X, y = titanic()
    model = shipped().fit(X, y)
    proxy = roundtrip(model)
    A = unseen(X).to_numpy(dtype=object)
    np.testing.assert_allclose(proxy.predict_proba(A), model.predict_proba(unseen(X)),
                               rtol=RTOL)


def test_unknown_error_inside_column_transformer(roundtrip):
    X, y = titanic()
    model = make_pipeline(ColumnTransformer([("num", _num(), NUM), ("cat", OneHotEncoder(), CAT)]),
                          LogisticRegression(max_iter=500)).fit(X, y)
    proxy = roundtrip(model)
    np.testing.assert_array_equal(proxy.predict(X), model.predict(X))
    with pytest.raises(ValueError) as sk:
        model.predict(unseen(X))
    with pytest.raises(mle.InputError) as ours:
        proxy.predict(unseen(X))
    assert str(ours.value).split("[")[0] == str(sk.value).split("[")[0]


def test_missing_columns_are_refused(roundtrip):
    X, y = titanic()
    proxy = roundtrip(shipped().fit(X, y))
    with pytest.raises(mle.InputError, match="missing column"):
        proxy.predict(X.drop(columns=["sex"]))


def test_unsupported_step_is_named_by_its_path(tmp_path):
    X, y = titanic()
    model = Pipeline([
        ("prep", ColumnTransformer([("num", _num(), NUM),
                                    ("fn", make_pipeline(SimpleImputer(),
                                                         FunctionTransformer(lambda v: v + 1)),
                                     NUM),
                                    ("cat", OneHotEncoder(handle_unknown="ignore"), CAT)])),
        ("clf", LogisticRegression(max_iter=500))]).fit(X, y)
    with pytest.raises(mle.UnsupportedModelError) as e:
        mle.dump(model, tmp_path / "m.mle")
    msg = str(e.value)
    assert "value.steps[0][1].transformers_[1][1].steps[1][1]" in msg, msg
    assert "FunctionTransformer" in msg
    assert list(tmp_path.iterdir()) == []


def test_string_output_is_refused(tmp_path):
    X, _ = titanic()
    imp = SimpleImputer(strategy="most_frequent").fit(X[["embarked"]])
    with pytest.raises(mle.UnsupportedModelError, match="string input column"):
        mle.dump(imp, tmp_path / "m.mle")
    assert list(tmp_path.iterdir()) == []


def test_nan_in_a_dropped_or_imputed_column_is_accepted(roundtrip):
    X, y = titanic()
    model = make_pipeline(ColumnTransformer(
        [("cat", OneHotEncoder(handle_unknown="ignore"), CAT), ("gone", "drop", ["age"])],
        remainder="passthrough"), LogisticRegression(max_iter=1000)).fit(X, y)
    proxy = roundtrip(model)
    np.testing.assert_allclose(proxy.predict_proba(X), model.predict_proba(X), rtol=RTOL)
    T = X.copy()
    T.loc[3, "fare"] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN") as sk:
        model.predict(T)
    with pytest.raises(mle.InputError, match="Input X contains NaN") as ours:
        proxy.predict(T)
    assert "LogisticRegression" in str(ours.value) and "LogisticRegression" in str(sk.value)


def test_feature_union_parity(roundtrip, dataset):
    X, y = dataset("wine")
    model = make_pipeline(FeatureUnion([("std", StandardScaler()), ("mm", MinMaxScaler()),
                                        ("raw", "passthrough"), ("gone", "drop")],
                                       transformer_weights={"mm": 2.5, "raw": 0.5}),
                          LogisticRegression(max_iter=2000)).fit(X, y)
    proxy = roundtrip(model)
    for T in (X, X[:1], X.astype(np.float32)):
        np.testing.assert_array_equal(proxy.predict(T), model.predict(T))
        np.testing.assert_allclose(proxy.predict_proba(T), model.predict_proba(T), rtol=RTOL)


SCRIPT = r"""
import json, sys
import numpy as np
import mle_runtime as mle
model = mle.load(sys.argv[1])
rows = json.loads(sys.argv[2])
X = np.array(rows, dtype=object)
out = {"predict": model.predict(X).tolist(), "proba": model.predict_proba(X).tolist(),
       "row": model.predict_proba(X[:1]).tolist()}
out["imported"] = sorted({m.split(".")[0] for m in sys.modules}
                         & {"sklearn", "scipy", "pandas", "joblib"})
print(json.dumps(out))
"""


def test_fresh_process_imports_no_framework(tmp_path):
    X, y = titanic()
    model = shipped().fit(X, y)
    path = tmp_path / "shipped.mle"
    mle.dump(model, path)
    T = unseen(X).iloc[:40]
    A = T.to_numpy(dtype=object)
    rows = [[None if (isinstance(v, float) and v != v) or v is pd.NA else v for v in r]
            for r in A.tolist()]
    res = subprocess.run([sys.executable, "-c", SCRIPT, str(path), json.dumps(rows)],
                         capture_output=True, text=True, check=True)
    out = json.loads(res.stdout)
    assert out["imported"] == []
    # JSON turns NaN and pd.NA into None: compare with scikit-learn on the same objects
    E = pd.DataFrame(np.array(rows, dtype=object), columns=X.columns, dtype=object)
    E[NUM] = E[NUM].astype(float)
    np.testing.assert_array_equal(out["predict"], model.predict(E))
    np.testing.assert_allclose(out["proba"], model.predict_proba(E), rtol=RTOL)
    np.testing.assert_allclose(out["row"], model.predict_proba(E.iloc[:1]), rtol=RTOL)


def _boosters():
    from catboost import CatBoostClassifier
    from lightgbm import LGBMClassifier
    from xgboost import XGBClassifier

    return {"xgboost": lambda: XGBClassifier(n_estimators=15, max_depth=3),
            "lightgbm": lambda: LGBMClassifier(n_estimators=15, verbose=-1),
            "catboost": lambda: CatBoostClassifier(iterations=15, depth=3, verbose=0,
                                                   allow_writing_files=False)}


@pytest.mark.parametrize("name", ["xgboost", "lightgbm", "catboost"])
def test_other_frameworks_after_a_column_transformer(name, roundtrip):
    X, y, frames = _frames()
    model = Pipeline([
        ("prep", ColumnTransformer([("num", _num(), NUM),
                                    ("cat", OneHotEncoder(handle_unknown="ignore"), CAT)])),
        ("clf", _boosters()[name]())]).fit(X, y)
    proxy = roundtrip(model)
    for key, T in frames.items():
        np.testing.assert_array_equal(proxy.predict(T), model.predict(T), err_msg=key)
        np.testing.assert_allclose(proxy.predict_proba(T), model.predict_proba(T),
                                   rtol=RTOL, atol=1e-12, err_msg=key)


def test_hist_gradient_boosting_on_category_columns_of_strings(roundtrip):
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y = titanic()
    cols = ["age", "fare", "sex", "embarked", "pclass"]
    Xc = X.astype({"sex": "category", "embarked": "category"})[cols]
    model = HistGradientBoostingClassifier(categorical_features="from_dtype", max_iter=20,
                                           random_state=0).fit(Xc, y)
    proxy = roundtrip(model)
    U = unseen(X)
    U = U.astype({"sex": "category", "embarked": str}).astype({"embarked": "category"})[cols]
    for T in (Xc, Xc.iloc[[5]], U, Xc[cols[::-1]]):
        np.testing.assert_array_equal(proxy.predict(T), model.predict(T))
        np.testing.assert_allclose(proxy.predict_proba(T), model.predict_proba(T), rtol=RTOL)


@pytest.mark.parametrize("kind", ["object", "str", "category", "numpy"])
def test_a_dropped_string_column_is_not_read(roundtrip, kind):
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"a": rng.normal(size=80), "s": rng.choice(["x", "y", None], 80),
                       "b": rng.normal(size=80)})
    if kind != "object":
        df["s"] = df["s"].astype("str" if kind != "category" else "category")
    y = (df.a + df.b > 0).astype(int)
    cols = [0, 2] if kind == "numpy" else ["a", "b"]
    model = make_pipeline(ColumnTransformer([("num", StandardScaler(), cols)]),
                          LogisticRegression())
    model.fit(df.to_numpy(dtype=object) if kind == "numpy" else df, y)
    proxy = roundtrip(model)
    T = df.copy()
    if kind != "category":
        T.loc[0, "s"] = "never seen"
    frames = [T, T.iloc[:1], T[["b", "s", "a"]]]
    if kind == "numpy":
        frames = [T.to_numpy(dtype=object), T.to_numpy(dtype=object)[:1]]
    for F in frames:
        np.testing.assert_array_equal(proxy.predict(F), model.predict(F))
        np.testing.assert_allclose(proxy.predict_proba(F), model.predict_proba(F), rtol=RTOL)


def test_a_dropped_column_read_elsewhere_is_still_converted(roundtrip, dataset):
    X, y = dataset("wine")
    ct = ColumnTransformer([("std", StandardScaler(), [0, 1, 2])])
    model = make_pipeline(FeatureUnion([("ct", ct), ("raw", "passthrough")]),
                          LogisticRegression(max_iter=3000)).fit(X, y)
    proxy = roundtrip(model)
    np.testing.assert_allclose(proxy.predict_proba(X), model.predict_proba(X), rtol=RTOL)
    T = np.asarray(X, dtype=object).copy()
    T[0, 5] = "text"
    with pytest.raises(mle.InputError, match="floating point|numeric"):
        proxy.predict(T)
