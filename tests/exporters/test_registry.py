"""The framework registry (mle_runtime.exporters) and the shared exporter base."""

import sys
import types

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import mle_runtime as mle
from mle_runtime import exporters
from mle_runtime.errors import UnsupportedModelError
from mle_runtime.exporters.base import Head, check_class, header


def test_every_framework_module_offers_the_exporter_interface():
    for fw in exporters.FRAMEWORKS.values():
        mod = fw.exporter()
        assert callable(mod.export) and mod.supported(), fw.name
        assert all(isinstance(n, str) for n in mod.supported())


def test_framework_of_follows_the_class_and_its_bases():
    import lightgbm

    class MyLGBM(lightgbm.LGBMRegressor):
        pass

    assert exporters.framework_of(LogisticRegression()).name == "sklearn"
    assert exporters.framework_of(MyLGBM()).name == "lightgbm"
    assert exporters.framework_of(object()) is None
    assert exporters.pipeline_step(lightgbm.LGBMClassifier()) is not None
    assert exporters.pipeline_step(LogisticRegression()) is None


@pytest.mark.parametrize("framework,module,cls", [
    ("sklearn", "sklearn.linear_model", "LogisticRegression"),
    ("xgboost", "xgboost", "XGBClassifier"),
    ("lightgbm", "lightgbm", "LGBMRegressor"),
    ("catboost", "catboost", "CatBoostClassifier"),
])
def test_subclasses_are_refused_the_same_way_in_every_framework(framework, module, cls, tmp_path):
    import importlib

    base = getattr(importlib.import_module(module), cls)
    sub = type("Custom" + cls, (base,), {"__module__": "user_models"})
    with pytest.raises(UnsupportedModelError, match=f"subclasses .*{cls}; its methods may differ"
                                                    f".*Export a plain {cls} instead"):
        mle.dump(sub(), str(tmp_path / "m.mle"))
    assert not (tmp_path / "m.mle").exists()


def test_check_class_and_header():
    assert check_class(LogisticRegression(), "sklearn", {"LogisticRegression"}) == \
        "LogisticRegression"
    with pytest.raises(UnsupportedModelError, match="sklearn class LogisticRegression is not "
                                                    "supported yet. Supported: A, B"):
        check_class(LogisticRegression(), "sklearn", ["B", "A"])
    meta = header("fw", "1.2", "Model", estimator_type="regressor")
    assert list(meta)[:4] == ["mle_runtime_version", "framework", "framework_version",
                              "model_class"]
    assert meta["model_class"] == "fw.Model" and meta["estimator_type"] == "regressor"


def test_a_model_of_another_framework_without_a_pipeline_hook_cannot_be_a_step(
        tmp_path, monkeypatch):
    import xgboost

    from mle_runtime.exporters import xgboost as xgb_exporter

    monkeypatch.delattr(xgb_exporter, "pipeline_step")  # as a framework without the hook
    X, y = load_iris(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), xgboost.XGBClassifier(n_estimators=2)).fit(X, y)
    with pytest.raises(UnsupportedModelError, match="XGBClassifier is not supported"):
        mle.dump(pipe, str(tmp_path / "m.mle"))


def test_a_new_framework_is_one_registry_entry_and_one_module(monkeypatch, tmp_path):
    """A toy framework whose model scales its input: registered with one entry, it exports on
    its own and as the last step of a scikit-learn Pipeline, through the same hooks the real
    frameworks use."""
    from mle_runtime.ir.graph import Graph

    class Doubler:
        n_features_in_ = 4

    Doubler.__module__ = "toyfw.models"

    def export(obj):
        g = Graph("Doubler", obj.n_features_in_)
        g.output("predict", g.add("Scale", ["X"], factor=2.0))
        return g, header("toyfw", "0.1", "Doubler", estimator_type="regressor")

    def pipeline_step(est, ctx, x):
        return Head({"predict": (ctx.graph.add("Scale", [x], factor=2.0), False)}, "regressor")

    mod = types.ModuleType("toy_exporter")
    mod.supported = lambda: ["Doubler"]
    mod.export = export
    mod.pipeline_step = pipeline_step
    monkeypatch.setitem(sys.modules, "toy_exporter", mod)
    monkeypatch.setitem(exporters.FRAMEWORKS, "toyfw",
                        exporters.Framework("toyfw", "toy_exporter"))
    assert "toyfw.Doubler" in exporters.supported_models()

    X = load_iris().data
    mle.dump(Doubler(), str(tmp_path / "d.mle"))
    m = mle.load(str(tmp_path / "d.mle"))
    np.testing.assert_array_equal(m.predict(X), X * 2)
    assert mle.inspect_model(str(tmp_path / "d.mle"))["metadata"]["model_class"] == \
        "toyfw.Doubler"

    scaler = StandardScaler().fit(X)
    pipe = make_pipeline(scaler, Doubler())
    pipe.__sklearn_is_fitted__ = lambda: True
    mle.dump(pipe, str(tmp_path / "p.mle"))
    np.testing.assert_allclose(mle.load(str(tmp_path / "p.mle")).predict(X),
                               scaler.transform(X) * 2, rtol=1e-15, atol=1e-15)
