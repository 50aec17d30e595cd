"""mle_runtime in one minute: dump a fitted scikit-learn pipeline, load it, predict.

    python examples/quickstart.py
"""

import os
import subprocess
import sys
import tempfile

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import mle_runtime as mle

# Train as usual (a DataFrame, so the model remembers its column names).
data = load_breast_cancer(as_frame=True)
X, y = data.data, data.target
model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)

with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "model.mle")

    # Same call and return value as joblib.dump; nothing is pickled.
    print("dump ->", mle.dump(model, path))
    print(f"file size: {os.path.getsize(path)} bytes")

    # Same call as joblib.load; returns a proxy with the estimator's methods.
    loaded = mle.load(path)
    print("loaded:", loaded)
    print("classes_:", loaded.classes_, " n_features_in_:", loaded.n_features_in_)

    # NumPy input: same outputs as scikit-learn.
    proba = loaded.predict_proba(X.to_numpy())
    print("predict_proba[:3]:\n", proba[:3])
    print("max |difference| vs scikit-learn:",
          float(np.abs(proba - model.predict_proba(X)).max()))
    assert (loaded.predict(X.to_numpy()) == model.predict(X)).all()

    # DataFrame input: columns are matched by name, so their order does not matter.
    shuffled = X[X.columns[::-1]]
    assert np.array_equal(loaded.predict(shuffled), model.predict(X))
    print("DataFrame with reordered columns: same labels")

    # One row, and a thread count for a large batch (the default is all cores).
    print("one row:", loaded.predict(X.iloc[[0]]))
    big = np.tile(X.to_numpy(), (200, 1))
    print(f"{len(big):,} rows on 1 thread:", np.bincount(loaded.predict(big, n_threads=1)))

    # A fresh process loads and predicts without importing scikit-learn.
    code = (f"import sys, numpy, mle_runtime; m = mle_runtime.load({path!r}); "
            f"print(m.predict(numpy.zeros((1, {X.shape[1]})))); "
            "print('scikit-learn imported:', 'sklearn' in sys.modules)")
    print(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip())

    # Files that are not .mle (a joblib pickle, say) are refused, never unpickled.
    bad = os.path.join(tmp, "model.joblib")
    import joblib

    joblib.dump(model, bad)
    try:
        mle.load(bad)
    except mle.FormatError as e:
        print("loading a joblib file:", type(e).__name__, "-", e)
