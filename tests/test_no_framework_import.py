"""Rule 4 of the design: loading a model and predicting imports numpy only; no framework
(scikit-learn, scipy, torch, xgboost, lightgbm, catboost, tensorflow) and not pandas."""

import json
import subprocess
import sys

import numpy as np
import pytest
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import mle_runtime as mle

FORBIDDEN = ("sklearn", "scipy", "torch", "xgboost", "lightgbm", "catboost", "tensorflow",
             "pandas", "joblib")

SCRIPT = r"""
import json, sys
import numpy as np
import mle_runtime as mle
model = mle.load(sys.argv[1])
X = np.array(json.loads(sys.argv[2]))
out = {"predict": np.asarray(model.predict(X)).tolist()}
if hasattr(model, "predict_proba"):
    out["predict_proba"] = model.predict_proba(X).tolist()
out["n_features_in_"] = model.n_features_in_
out["repr"] = repr(model)
forbidden = json.loads(sys.argv[3])
out["imported"] = sorted({m.split(".")[0] for m in sys.modules} & set(forbidden))
print(json.dumps(out))
"""


@pytest.mark.parametrize("kind", ["pipeline-classifier", "regressor", "lightgbm-classifier"])
def test_load_and_predict_import_no_framework(kind, dataset, tmp_path):
    if kind == "lightgbm-classifier":
        from lightgbm import LGBMClassifier

        X, y = dataset("wine")
        model = LGBMClassifier(n_estimators=3, num_leaves=4, verbose=-1).fit(X, y)
    elif kind == "pipeline-classifier":
        X, y = dataset("iris")
        model = make_pipeline(SimpleImputer(), StandardScaler(),
                              LogisticRegression(max_iter=300)).fit(X, y)
    else:
        X, y = dataset("diabetes")
        model = Ridge().fit(X, y)
    path = tmp_path / "model.mle"
    mle.dump(model, path)
    row = X[:1]
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(path), json.dumps(row.tolist()),
         json.dumps(FORBIDDEN)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["imported"] == [], f"load/predict imported {out['imported']}"
    np.testing.assert_array_equal(np.asarray(out["predict"]), model.predict(row))
    if "predict_proba" in out:
        np.testing.assert_allclose(out["predict_proba"], model.predict_proba(row), rtol=0,
                                   atol=1e-12)
    assert out["n_features_in_"] == X.shape[1]


def test_importing_mle_runtime_imports_no_framework():
    code = ("import sys, json, mle_runtime; "
            "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    imported = set(json.loads(proc.stdout))
    assert "mle_runtime" in imported
    assert not imported & set(FORBIDDEN), imported & set(FORBIDDEN)


LAZY = r"""
import json, sys
import numpy as np
import mle_runtime as mle
model = mle.load(sys.argv[1])
X = np.array(json.loads(sys.argv[2]))
model.predict(X)
out = {"mean": model.named_steps["standardscaler"].mean_.tolist(),
       "coef": model[-1].coef_.tolist(), "repr": repr(model),
       "params": sorted(model.get_params()), "fitted": model.__sklearn_is_fitted__()}
out["imported"] = sorted({m.split(".")[0] for m in sys.modules} & set(json.loads(sys.argv[3])))
print(json.dumps(out))
"""


def test_estimator_protocol_is_lazy(dataset, tmp_path):
    """Reading fitted attributes, parameters and the repr needs no framework either; only
    what scikit-learn itself calls (tags, clone) or score imports it."""
    X, y = dataset("iris")
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300)).fit(X, y)
    path = tmp_path / "m.mle"
    mle.dump(model, path)
    proc = subprocess.run([sys.executable, "-c", LAZY, str(path), json.dumps(X[:2].tolist()),
                           json.dumps(FORBIDDEN)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["imported"] == []
    np.testing.assert_array_equal(out["mean"], model[0].mean_)
    np.testing.assert_array_equal(out["coef"], model[-1].coef_)
    assert out["repr"] == repr(model) and out["fitted"] is True
    assert out["params"] == sorted(model.get_params())


# Estimators on the dense kernels: their methods (transform, score_samples included) in a
# fresh process, which must import no framework either.
DENSE = r"""
import json, sys
import numpy as np
import mle_runtime as mle
model = mle.load(sys.argv[1])
X = np.array(json.loads(sys.argv[2]))
out = {m: np.asarray(getattr(model, m)(X)).tolist()
       for m in ("predict", "predict_proba", "transform", "score_samples") if hasattr(model, m)}
out["imported"] = sorted({m.split(".")[0] for m in sys.modules} & set(json.loads(sys.argv[3])))
print(json.dumps(out))
"""


@pytest.mark.parametrize("kind", ["MLPClassifier", "PCA", "KMeans", "BisectingKMeans"])
def test_dense_estimators_import_no_framework(kind, dataset, tmp_path):
    from sklearn.cluster import BisectingKMeans, KMeans
    from sklearn.decomposition import PCA
    from sklearn.neural_network import MLPClassifier

    X, y = dataset("iris")
    model = {"MLPClassifier": lambda: MLPClassifier((5,), max_iter=20, random_state=0),
             "PCA": lambda: PCA(2), "KMeans": lambda: KMeans(3, n_init=1, random_state=0),
             "BisectingKMeans": lambda: BisectingKMeans(3, random_state=0)}[kind]()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y)
    path = tmp_path / "model.mle"
    mle.dump(model, path)
    proc = subprocess.run([sys.executable, "-c", DENSE, str(path), json.dumps(X[:3].tolist()),
                           json.dumps(FORBIDDEN)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out.pop("imported") == []
    for method, values in out.items():
        np.testing.assert_allclose(values, getattr(model, method)(X[:3]), rtol=1e-9, atol=1e-12)
