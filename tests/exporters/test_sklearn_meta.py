"""Meta-estimators over supported members: VotingClassifier (soft, hard, weights, transform),
VotingRegressor, StackingClassifier / StackingRegressor (every stack_method, passthrough, the
binary column drop), CalibratedClassifierCV (sigmoid, isotonic, ensemble True/False,
FrozenEstimator). Members mix linear models, trees, pipelines and LightGBM. Labels exact;
values within 1e-9 absolute (the conftest tolerance; observed differences are a few ulps)."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import (
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
    RandomForestRegressor,
    StackingClassifier,
    StackingRegressor,
    VotingClassifier,
    VotingRegressor,
)
from sklearn.linear_model import (
    LinearRegression,
    LogisticRegression,
    Ridge,
    RidgeClassifier,
    SGDClassifier,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

import mle_runtime as mle
from mle_runtime.errors import UnsupportedModelError

pytestmark = [pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
              pytest.mark.filterwarnings("ignore::UserWarning")]


def _lgbm_classifier():
    lgb = pytest.importorskip("lightgbm")
    return lgb.LGBMClassifier(n_estimators=5, num_leaves=4, verbose=-1, random_state=0)


def _lgbm_regressor():
    lgb = pytest.importorskip("lightgbm")
    return lgb.LGBMRegressor(n_estimators=5, num_leaves=4, verbose=-1, random_state=0)


def classifiers(with_lgbm=False):
    members = [("lr", make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))),
               ("dt", DecisionTreeClassifier(max_depth=3, random_state=0)),
               ("rf", RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0))]
    if with_lgbm:
        members.append(("lgbm", _lgbm_classifier()))
    return members


def regressors(with_lgbm=False):
    members = [("ridge", Ridge()), ("dt", DecisionTreeRegressor(max_depth=4, random_state=0)),
               ("rf", RandomForestRegressor(n_estimators=4, max_depth=3, random_state=0))]
    if with_lgbm:
        members.append(("lgbm", _lgbm_regressor()))
    return members


CLASSIFICATION = ["iris", "wine", "breast_cancer", "clf_binary", "clf_multiclass"]

VOTING = {
    "soft": lambda: VotingClassifier(classifiers(), voting="soft"),
    "soft-weights": lambda: VotingClassifier(classifiers(), voting="soft", weights=[2, 1, 0.5]),
    "soft-lgbm": lambda: VotingClassifier(classifiers(True), voting="soft"),
    "hard": lambda: VotingClassifier(classifiers(), voting="hard"),
    "hard-weights": lambda: VotingClassifier(classifiers(), voting="hard", weights=[1, 1, 2]),
    "hard-linear": lambda: VotingClassifier(
        [("svc", make_pipeline(StandardScaler(), LinearSVC())),
         ("ridge", RidgeClassifier()), ("sgd", make_pipeline(StandardScaler(), SGDClassifier(
             random_state=0)))], voting="hard"),
    "drop": lambda: VotingClassifier(classifiers()[:2] + [("x", "drop")], voting="soft",
                                     weights=[1, 3, 5]),
}


@pytest.mark.parametrize("data", CLASSIFICATION)
@pytest.mark.parametrize("name", list(VOTING))
def test_voting_classifier(name, data, dataset, roundtrip, assert_parity):
    X, y = dataset(data)
    model = VOTING[name]().fit(X, y)
    proxy = roundtrip(model)
    assert_parity(model, proxy, X)
    np.testing.assert_array_equal(proxy.classes_, model.classes_)


def test_hard_voting_ties_go_to_the_lowest_class(dataset, roundtrip, assert_same):
    # Two members disagree everywhere they can: every disagreement is a tie.
    X, y = dataset("iris")
    y = np.array(["c", "a", "b"])[y]
    model = VotingClassifier([("dt", DecisionTreeClassifier(max_depth=1, random_state=0)),
                              ("lr", LogisticRegression(max_iter=500))], voting="hard").fit(X, y)
    proxy = roundtrip(model)
    pred = model.predict(X)
    assert_same(pred, proxy.predict(X))
    members = model.transform(X)
    ties = members[:, 0] != members[:, 1]
    assert ties.any()
    np.testing.assert_array_equal(pred[ties], model.classes_[members[ties].min(axis=1)])
    # weights that tie exactly too
    model = VotingClassifier([("a", DecisionTreeClassifier(max_depth=1, random_state=0)),
                              ("b", LogisticRegression(max_iter=500)),
                              ("c", DecisionTreeClassifier(max_depth=2, random_state=0))],
                             voting="hard", weights=[0.5, 0.25, 0.25]).fit(X, y)
    assert_same(model.predict(X), roundtrip(model).predict(X))


@pytest.mark.parametrize("data", ["diabetes", "regression"])
@pytest.mark.parametrize("weights", [None, [1, 2, 0.5]])
def test_voting_regressor(data, weights, dataset, roundtrip, assert_parity):
    X, y = dataset(data)
    model = VotingRegressor(regressors(), weights=weights).fit(X, y)
    assert_parity(model, roundtrip(model), X)


def test_voting_regressor_lightgbm(dataset, roundtrip, assert_parity):
    X, y = dataset("diabetes")
    model = VotingRegressor(regressors(True)).fit(X, y)
    assert_parity(model, roundtrip(model), X)


def test_flatten_transform_false_is_refused(dataset, tmp_path):
    X, y = dataset("iris")
    model = VotingClassifier(classifiers(), voting="soft", flatten_transform=False).fit(X, y)
    with pytest.raises(UnsupportedModelError, match="flatten_transform"):
        mle.dump(model, tmp_path / "m.mle")


STACKING = {
    "auto": lambda: StackingClassifier(classifiers(), final_estimator=LogisticRegression(
        max_iter=500), cv=3),
    "passthrough": lambda: StackingClassifier(classifiers(), passthrough=True, cv=3),
    "decision_function": lambda: StackingClassifier(
        [("svc", make_pipeline(StandardScaler(), LinearSVC())), ("ridge", RidgeClassifier()),
         ("lr", LogisticRegression(max_iter=500))], stack_method="decision_function", cv=3),
    "predict": lambda: StackingClassifier(classifiers(), stack_method="predict", cv=3,
                                          final_estimator=DecisionTreeClassifier(
                                              max_depth=3, random_state=0)),
    "mixed-auto": lambda: StackingClassifier(
        [("svc", make_pipeline(StandardScaler(), LinearSVC())),
         ("dt", DecisionTreeClassifier(max_depth=3, random_state=0))], cv=3,
        final_estimator=RandomForestClassifier(n_estimators=5, random_state=0)),
    "lgbm-final": lambda: StackingClassifier(classifiers(True), cv=3,
                                             final_estimator=_lgbm_classifier()),
    "gb-final": lambda: StackingClassifier(classifiers()[:2], cv=3, passthrough=True,
                                           final_estimator=GradientBoostingClassifier(
                                               n_estimators=5, random_state=0)),
}


@pytest.mark.parametrize("data", CLASSIFICATION)
@pytest.mark.parametrize("name", list(STACKING))
def test_stacking_classifier(name, data, dataset, roundtrip, assert_parity):
    X, y = dataset(data)
    model = STACKING[name]().fit(X, y)
    proxy = roundtrip(model)
    methods = ("predict", "predict_proba", "transform")
    if name != "lgbm-final":  # LGBMClassifier's decision_function is not exported (yet)
        methods += ("decision_function",)
    assert_parity(model, proxy, X, methods=methods)
    np.testing.assert_array_equal(proxy.classes_, model.classes_)


@pytest.mark.parametrize("passthrough", [False, True])
@pytest.mark.parametrize("final", [lambda: None, lambda: DecisionTreeRegressor(
    max_depth=3, random_state=0), _lgbm_regressor])
def test_stacking_regressor(passthrough, final, dataset, roundtrip, assert_parity):
    X, y = dataset("diabetes")
    model = StackingRegressor(regressors(), final_estimator=final(), passthrough=passthrough,
                              cv=3).fit(X, y)
    assert_parity(model, roundtrip(model), X)


def test_stacking_in_a_pipeline_with_string_labels(dataset, roundtrip, assert_parity):
    X, y = dataset("wine")
    y = np.array(["red", "rose", "white"])[y]
    model = make_pipeline(StandardScaler(), StackingClassifier(
        [("lr", LogisticRegression(max_iter=500)),
         ("v", VotingClassifier(classifiers(), voting="soft"))], cv=3)).fit(X, y)
    assert_parity(model, roundtrip(model), X)


CALIBRATED = {
    "sigmoid": lambda: CalibratedClassifierCV(make_pipeline(
        StandardScaler(), LogisticRegression(max_iter=500)), method="sigmoid", cv=3),
    "isotonic": lambda: CalibratedClassifierCV(make_pipeline(
        StandardScaler(), LogisticRegression(max_iter=500)), method="isotonic", cv=3),
    "isotonic-tree-proba": lambda: CalibratedClassifierCV(
        RandomForestClassifier(n_estimators=5, random_state=0), method="isotonic", cv=3),
    "sigmoid-no-ensemble": lambda: CalibratedClassifierCV(
        DecisionTreeClassifier(max_depth=3, random_state=0), ensemble=False, cv=3),
    "isotonic-no-ensemble": lambda: CalibratedClassifierCV(
        make_pipeline(StandardScaler(), LinearSVC()), method="isotonic", ensemble=False, cv=3),
    "hgb": lambda: CalibratedClassifierCV(HistGradientBoostingClassifier(
        max_iter=5, random_state=0), cv=2),
}


@pytest.mark.parametrize("data", CLASSIFICATION)
@pytest.mark.parametrize("name", list(CALIBRATED))
def test_calibrated_classifier(name, data, dataset, roundtrip, assert_parity):
    X, y = dataset(data)
    model = CALIBRATED[name]().fit(X, y)
    proxy = roundtrip(model)
    assert_parity(model, proxy, X)
    np.testing.assert_array_equal(proxy.classes_, model.classes_)


def test_calibrated_member_without_exported_method_is_refused(dataset, tmp_path):
    # CalibratedClassifierCV calibrates LGBMClassifier.decision_function, which the LightGBM
    # exporter does not export: refused at dump, naming the member and the method.
    X, y = dataset("iris")
    model = CalibratedClassifierCV(_lgbm_classifier(), method="isotonic", cv=2).fit(X, y)
    with pytest.raises(UnsupportedModelError, match="LGBMClassifier has no exported "
                                                    "decision_function"):
        mle.dump(model, tmp_path / "m.mle")


def test_calibrated_frozen_estimator(dataset, roundtrip, assert_parity):
    from sklearn.frozen import FrozenEstimator

    X, y = dataset("breast_cancer", scaled=True)
    base = LogisticRegression(max_iter=500).fit(X[:300], y[:300])
    for method in ("sigmoid", "isotonic"):
        model = CalibratedClassifierCV(FrozenEstimator(base), method=method).fit(X[300:],
                                                                                y[300:])
        assert_parity(model, roundtrip(model), X)
    frozen = FrozenEstimator(base)
    assert_parity(frozen, roundtrip(frozen), X)


def test_calibrated_fold_missing_a_class(roundtrip, assert_parity):
    # A rare class is absent from some training folds: its probability column stays 0 there
    # before the normalisation.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 4))
    y = np.repeat([0, 1, 2], [28, 29, 3])
    X[y == 2] += 3
    from sklearn.model_selection import KFold

    model = CalibratedClassifierCV(LogisticRegression(max_iter=500),
                                   cv=KFold(3, shuffle=False)).fit(X, y)
    assert any(len(cc.estimator.classes_) < 3 for cc in model.calibrated_classifiers_)
    assert_parity(model, roundtrip(model), X)


def test_temperature_is_refused(dataset, tmp_path):
    X, y = dataset("iris")
    try:
        model = CalibratedClassifierCV(LogisticRegression(max_iter=500),
                                       method="temperature").fit(X, y)
    except (ValueError, TypeError):
        pytest.skip("this scikit-learn has no temperature scaling")
    with pytest.raises(UnsupportedModelError, match="temperature"):
        mle.dump(model, tmp_path / "m.mle")


def test_dataframe_input(dataset, roundtrip, assert_same):
    X, y = dataset("wine")
    cols = [f"c{i}" for i in range(X.shape[1])]
    frame = pd.DataFrame(X, columns=cols)
    for model in (VotingClassifier(classifiers(), voting="soft"),
                  StackingClassifier(classifiers(), passthrough=True, cv=3),
                  CalibratedClassifierCV(LogisticRegression(max_iter=500), cv=3)):
        model.fit(frame, y)
        proxy = roundtrip(model)
        shuffled = frame[cols[::-1]]
        for method in ("predict", "predict_proba"):
            assert_same(getattr(model, method)(frame), getattr(proxy, method)(frame))
        with pytest.raises(ValueError):
            proxy.predict(shuffled.rename(columns={cols[0]: "other"}))


def test_nan_is_refused_by_the_member_that_refuses_it(dataset, roundtrip):
    X, y = dataset("iris")
    Xn = X.copy()
    Xn[0, 0] = np.nan
    model = VotingClassifier(classifiers(), voting="soft").fit(X, y)
    with pytest.raises(ValueError):
        model.predict(Xn)
    with pytest.raises(ValueError, match="NaN"):
        roundtrip(model).predict(Xn)
    # HistGradientBoosting accepts NaN, and so does a calibrated one.
    model = CalibratedClassifierCV(HistGradientBoostingClassifier(max_iter=5), cv=2).fit(X, y)
    np.testing.assert_allclose(roundtrip(model).predict_proba(Xn), model.predict_proba(Xn),
                               rtol=0, atol=1e-9)


FRESH = r"""
import json, sys
import numpy as np
import mle_runtime as mle
out = {}
for path in json.loads(sys.argv[1]):
    model = mle.load(path)
    X = np.array(json.loads(sys.argv[2]))
    out[path] = np.asarray(model.predict_proba(X)).tolist()
out["imported"] = sorted({m.split(".")[0] for m in sys.modules}
                         & {"sklearn", "scipy", "pandas", "joblib"})
print(json.dumps(out))
"""


def test_load_and_predict_import_no_framework(dataset, tmp_path):
    X, y = dataset("breast_cancer")
    models = [VotingClassifier(classifiers(), voting="soft").fit(X, y),
              StackingClassifier(classifiers(), cv=3).fit(X, y),
              CalibratedClassifierCV(make_pipeline(StandardScaler(), LogisticRegression()),
                                     method="isotonic", cv=3).fit(X, y)]
    paths = []
    for i, m in enumerate(models):
        paths.append(str(tmp_path / f"m{i}.mle"))
        mle.dump(m, paths[-1])
    proc = subprocess.run([sys.executable, "-c", FRESH, json.dumps(paths),
                           json.dumps(X[:5].tolist())], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["imported"] == []
    for m, p in zip(models, paths):
        np.testing.assert_allclose(out[p], m.predict_proba(X[:5]), rtol=0, atol=1e-9)


def test_linear_regression_final(dataset, roundtrip, assert_parity):
    X, y = dataset("regression")
    model = StackingRegressor([("a", Ridge(alpha=3.0)), ("b", LinearRegression())],
                              cv=3).fit(X, y)
    assert_parity(model, roundtrip(model), X)


def test_fitted_attributes(dataset, roundtrip):
    X, y = dataset("iris")
    model = StackingClassifier(classifiers()[:2], cv=3).fit(X, y)
    proxy = roundtrip(model)
    assert proxy.stack_method_ == model.stack_method_
    np.testing.assert_array_equal(proxy.final_estimator_.coef_, model.final_estimator_.coef_)
    np.testing.assert_array_equal(proxy.estimators_[1].feature_importances_,
                                  model.estimators_[1].feature_importances_)
    vote = VotingClassifier(classifiers()[:2], voting="hard").fit(X, y)
    assert sorted(roundtrip(vote).named_estimators_) == sorted(vote.named_estimators_)


# -- searches, self-training, thresholds ------------------------------------------------------

from sklearn.experimental import enable_halving_search_cv  # noqa: E402,F401
from sklearn.model_selection import (  # noqa: E402
    FixedThresholdClassifier,
    GridSearchCV,
    HalvingGridSearchCV,
    HalvingRandomSearchCV,
    RandomizedSearchCV,
    TunedThresholdClassifierCV,
)
from sklearn.semi_supervised import SelfTrainingClassifier  # noqa: E402

SEARCHES = {
    "grid": lambda: GridSearchCV(make_pipeline(StandardScaler(), LogisticRegression(
        max_iter=500)), {"logisticregression__C": [0.1, 1.0]}, cv=3),
    "randomized": lambda: RandomizedSearchCV(DecisionTreeClassifier(random_state=0),
                                             {"max_depth": [1, 2, 3, 4]}, n_iter=3, cv=3,
                                             random_state=0),
    "halving-grid": lambda: HalvingGridSearchCV(RandomForestClassifier(
        n_estimators=3, random_state=0), {"max_depth": [2, 3]}, cv=3, random_state=0),
    "halving-random": lambda: HalvingRandomSearchCV(LogisticRegression(max_iter=500),
                                                    {"C": [0.01, 0.1, 1.0]}, cv=3,
                                                    random_state=0),
    "stacking-inside": lambda: GridSearchCV(VotingClassifier(classifiers(), voting="soft"),
                                            {"weights": [[1, 1, 1], [1, 2, 1]]}, cv=3),
}


@pytest.mark.parametrize("data", ["iris", "breast_cancer"])
@pytest.mark.parametrize("name", list(SEARCHES))
def test_search_cv(name, data, dataset, roundtrip, assert_parity):
    X, y = dataset(data)
    model = SEARCHES[name]().fit(X, y)
    proxy = roundtrip(model)
    assert_parity(model, proxy, X)
    assert proxy.best_params_ == model.best_params_
    assert proxy.best_score_ == model.best_score_ and proxy.best_index_ == model.best_index_
    assert sorted(proxy.cv_results_) == sorted(model.cv_results_)
    np.testing.assert_array_equal(proxy.cv_results_["mean_test_score"],
                                  model.cv_results_["mean_test_score"])
    np.testing.assert_array_equal(proxy.classes_, model.classes_)


def test_search_cv_regressor(dataset, roundtrip, assert_parity):
    X, y = dataset("diabetes")
    model = GridSearchCV(Ridge(), {"alpha": [0.1, 1.0, 10.0]}, cv=3).fit(X, y)
    proxy = roundtrip(model)
    assert_parity(model, proxy, X)
    assert proxy.best_params_ == model.best_params_


def test_search_cv_without_refit_is_refused(dataset, tmp_path):
    X, y = dataset("iris")
    model = GridSearchCV(LogisticRegression(max_iter=500), {"C": [0.1, 1.0]}, cv=3,
                         refit=False).fit(X, y)
    with pytest.raises((UnsupportedModelError, ValueError), match="GridSearchCV"):
        mle.dump(model, tmp_path / "m.mle")


@pytest.mark.parametrize("data", ["iris", "wine", "breast_cancer"])
def test_self_training(data, dataset, roundtrip, assert_parity):
    X, y = dataset(data)
    y = y.copy()
    y[::3] = -1
    for base in (make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)),
                 DecisionTreeClassifier(max_depth=3, random_state=0)):
        model = SelfTrainingClassifier(base, max_iter=3).fit(X, y)
        assert_parity(model, roundtrip(model), X)


THRESHOLDS = {
    "fixed-proba": lambda: FixedThresholdClassifier(
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)), threshold=0.3),
    "fixed-auto": lambda: FixedThresholdClassifier(DecisionTreeClassifier(max_depth=3,
                                                                          random_state=0)),
    "fixed-decision": lambda: FixedThresholdClassifier(
        make_pipeline(StandardScaler(), LinearSVC()), threshold=-0.5,
        response_method="decision_function"),
    "fixed-pos0": lambda: FixedThresholdClassifier(
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)), pos_label=0,
        threshold=0.8),
    "fixed-pos0-decision": lambda: FixedThresholdClassifier(
        make_pipeline(StandardScaler(), LinearSVC()), pos_label=0),
    "tuned": lambda: TunedThresholdClassifierCV(
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)), cv=3),
    "tuned-decision": lambda: TunedThresholdClassifierCV(
        make_pipeline(StandardScaler(), LinearSVC()), cv=3, scoring="f1"),
}


@pytest.mark.parametrize("data", ["breast_cancer", "clf_binary"])
@pytest.mark.parametrize("name", list(THRESHOLDS))
def test_threshold_classifiers(name, data, dataset, roundtrip, assert_parity):
    X, y = dataset(data)
    model = THRESHOLDS[name]().fit(X, y)
    proxy = roundtrip(model)
    assert_parity(model, proxy, X)
    if name.startswith("tuned"):
        assert proxy.best_threshold_ == model.best_threshold_


def test_threshold_at_the_scores_themselves(dataset, roundtrip, assert_same):
    # A threshold equal to a predicted probability: >= keeps that row positive.
    X, y = dataset("breast_cancer")
    base = DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, y)
    t = float(np.unique(base.predict_proba(X)[:, 1])[1])
    model = FixedThresholdClassifier(base, threshold=t).fit(X, y)
    assert_same(model.predict(X), roundtrip(model).predict(X))


# -- TransformedTargetRegressor, MultiOutput* ---------------------------------------------------

from sklearn.compose import TransformedTargetRegressor  # noqa: E402
from sklearn.multioutput import MultiOutputClassifier, MultiOutputRegressor  # noqa: E402
from sklearn.preprocessing import (  # noqa: E402
    FunctionTransformer,
    MaxAbsScaler,
    MinMaxScaler,
    RobustScaler,
)

TARGETS = {
    "log-exp": dict(func=np.log, inverse_func=np.exp),
    "log1p-expm1": dict(func=np.log1p, inverse_func=np.expm1),
    "sqrt-square": dict(func=np.sqrt, inverse_func=np.square),
    "exp-log": dict(func=lambda y: np.exp(y / 400), inverse_func=np.log, check_inverse=False),
    "square-sqrt": dict(func=np.square, inverse_func=np.sqrt),
    "identity": dict(),
    "standard": dict(transformer=StandardScaler()),
    "standard-no-mean": dict(transformer=StandardScaler(with_mean=False)),
    "minmax": dict(transformer=MinMaxScaler(feature_range=(-1, 2))),
    "maxabs": dict(transformer=MaxAbsScaler()),
    "robust": dict(transformer=RobustScaler(with_centering=False)),
    "function": dict(transformer=FunctionTransformer(np.log1p, np.expm1)),
}


@pytest.mark.parametrize("regressor", [lambda: Ridge(), lambda: DecisionTreeRegressor(
    max_depth=4, random_state=0), _lgbm_regressor])
@pytest.mark.parametrize("name", list(TARGETS))
def test_transformed_target(name, regressor, dataset, roundtrip, assert_parity):
    X, y = dataset("diabetes")
    model = TransformedTargetRegressor(regressor(), **TARGETS[name]).fit(X, y)
    proxy = roundtrip(model)
    # values within 1e-9 relative (the targets are in the hundreds)
    for label, data in (("batch", X), ("row", X[3:4]), ("float32", X.astype(np.float32))):
        expected = model.predict(data)
        got = proxy.predict(data)
        assert got.dtype == expected.dtype and got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=0, err_msg=label)
    assert proxy.regressor_ is not None


def test_transformed_target_multi_output(dataset, roundtrip, assert_parity):
    X, y = dataset("regression_multi3")
    for model in (TransformedTargetRegressor(LinearRegression(), transformer=StandardScaler()),
                  TransformedTargetRegressor(DecisionTreeRegressor(max_depth=3)),
                  TransformedTargetRegressor(Ridge(), transformer=MinMaxScaler())):
        model.fit(X, y)
        assert_parity(model, roundtrip(model), X)
    X, y = dataset("regression")
    model = TransformedTargetRegressor(Ridge(), transformer=StandardScaler()).fit(X, y[:, None])
    assert_parity(model, roundtrip(model), X)


def test_transformed_target_refuses_other_functions(dataset, tmp_path):
    X, y = dataset("diabetes")
    model = TransformedTargetRegressor(Ridge(), func=np.log, inverse_func=lambda z: np.exp(z),
                                       check_inverse=False).fit(X, y)
    with pytest.raises(UnsupportedModelError, match="inverse_func '<lambda>' is not supported"):
        mle.dump(model, tmp_path / "m.mle")
    from sklearn.preprocessing import QuantileTransformer

    model = TransformedTargetRegressor(Ridge(), transformer=QuantileTransformer(
        n_quantiles=20)).fit(X, y)
    with pytest.raises(UnsupportedModelError, match="QuantileTransformer"):
        mle.dump(model, tmp_path / "m.mle")


def test_multi_output_regressor(dataset, roundtrip, assert_parity):
    X, y = dataset("regression_multi3")
    for base in (Ridge(), DecisionTreeRegressor(max_depth=3, random_state=0)):
        model = MultiOutputRegressor(base).fit(X, y)
        assert_parity(model, roundtrip(model), X)
    model = MultiOutputRegressor(_lgbm_regressor()).fit(X, y)
    assert_parity(model, roundtrip(model), X)


def test_multi_output_classifier(roundtrip, assert_same):
    from sklearn.datasets import make_multilabel_classification

    X, Y = make_multilabel_classification(n_samples=200, n_features=6, n_classes=3,
                                          random_state=0)
    Y = Y.copy()
    Y[:, 1] = Y[:, 1] * 2 + (X[:, 0] > X[:, 0].mean())  # a 4-class output
    for base in (LogisticRegression(max_iter=500), DecisionTreeClassifier(max_depth=3,
                                                                          random_state=0)):
        model = MultiOutputClassifier(base).fit(X, Y)
        proxy = roundtrip(model)
        for data in (X, X[:1], X.astype(np.float32)):
            assert_same(model.predict(data), proxy.predict(data))
            expected, got = model.predict_proba(data), proxy.predict_proba(data)
            assert isinstance(got, list) and len(got) == len(expected)
            for e, p in zip(expected, got):
                assert_same(e, p)
    labels = np.array(["no", "yes"])[Y[:, [0, 2]]]
    model = MultiOutputClassifier(LogisticRegression(max_iter=500)).fit(X, labels)
    assert_same(model.predict(X), roundtrip(model).predict(X))


# -- chains -------------------------------------------------------------------------------------

from sklearn.multioutput import ClassifierChain, RegressorChain  # noqa: E402

CHAINS = {
    "predict": lambda: ClassifierChain(LogisticRegression(max_iter=500), order=[2, 0, 3, 1]),
    "proba": lambda: ClassifierChain(LogisticRegression(max_iter=500),
                                     chain_method="predict_proba", order="random",
                                     random_state=0),
    "log-proba-cv": lambda: ClassifierChain(LogisticRegression(max_iter=500), cv=3,
                                            chain_method="predict_log_proba"),
    "decision": lambda: ClassifierChain(make_pipeline(StandardScaler(), LinearSVC()),
                                        chain_method="decision_function", cv=3),
    "tree": lambda: ClassifierChain(DecisionTreeClassifier(max_depth=3, random_state=0)),
}


@pytest.mark.parametrize("name", list(CHAINS))
def test_classifier_chain(name, roundtrip, assert_parity):
    from sklearn.datasets import make_multilabel_classification

    X, Y = make_multilabel_classification(n_samples=200, n_features=6, n_classes=4,
                                          random_state=0)
    model = CHAINS[name]().fit(X, Y)
    methods = ("predict", "decision_function")
    if hasattr(model.estimators_[0], "predict_proba"):
        methods += ("predict_proba", "predict_log_proba")
    assert_parity(model, roundtrip(model), X, methods=methods)
    with pytest.raises(ValueError, match="NaN"):
        roundtrip(model).predict(np.where(X > 3, np.nan, X))


def test_regressor_chain(dataset, roundtrip, assert_parity):
    X, Y = dataset("regression_multi3")
    for model in (RegressorChain(Ridge(), order=[1, 2, 0]),
                  RegressorChain(DecisionTreeRegressor(max_depth=3, random_state=0), cv=3),
                  RegressorChain(make_pipeline(StandardScaler(), Ridge()), order="random",
                                 random_state=1)):
        model.fit(X, Y)
        assert_parity(model, roundtrip(model), X)


# -- one-vs-one ---------------------------------------------------------------------------------

from sklearn.multiclass import OneVsOneClassifier  # noqa: E402

OVO = {
    "logreg": lambda: OneVsOneClassifier(make_pipeline(StandardScaler(),
                                                       LogisticRegression(max_iter=500))),
    "linearsvc": lambda: OneVsOneClassifier(make_pipeline(StandardScaler(), LinearSVC())),
    "tree-proba": lambda: OneVsOneClassifier(DecisionTreeClassifier(max_depth=2,
                                                                    random_state=0)),
    "forest": lambda: OneVsOneClassifier(RandomForestClassifier(n_estimators=3,
                                                                random_state=0)),
}


@pytest.mark.parametrize("data", ["iris", "wine", "clf_binary", "clf_multiclass"])
@pytest.mark.parametrize("name", list(OVO))
def test_one_vs_one(name, data, dataset, roundtrip, assert_parity):
    X, y = dataset(data)
    model = OVO[name]().fit(X, y)
    proxy = roundtrip(model)
    assert_parity(model, proxy, X)
    np.testing.assert_array_equal(proxy.classes_, model.classes_)


def test_one_vs_one_string_labels_and_ties(dataset, roundtrip, assert_same):
    # Depth-1 trees give many equal votes and confidences: ties go to the first class.
    X, y = dataset("wine")
    y = np.array(["b", "c", "a"])[y]
    model = OneVsOneClassifier(DecisionTreeClassifier(max_depth=1, random_state=0)).fit(X, y)
    proxy = roundtrip(model)
    assert_same(model.predict(X), proxy.predict(X))
    assert_same(model.decision_function(X), proxy.decision_function(X))
