"""Storing what you would hand to joblib.dump: a dict with a model, settings and data.

    python examples/bundle.py
"""

import datetime
import os
import tempfile

import joblib
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier

import mle_runtime as mle


class Postprocessor:  # a class of your own: mle_runtime cannot store it natively
    def __init__(self, threshold):
        self.threshold = threshold


def predict_chunk(model, X):  # runs in a worker process; the model travels as .mle bytes
    return model.predict_proba(X)[:, 1]


def main():
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    forest = RandomForestClassifier(200, random_state=0).fit(X, y)
    bundle = {
        "model": forest,
        "threshold": 0.35,
        "columns": list(X.columns),
        "reference": X.describe(),                      # a pandas DataFrame
        "train_rows": X.to_numpy()[:200],               # a numpy array
        "trained_at": datetime.datetime(2026, 1, 5, 12, 0, tzinfo=datetime.timezone.utc),
    }
    tmp = tempfile.mkdtemp(prefix="mle-bundle-")
    path, jpath = os.path.join(tmp, "bundle.mle"), os.path.join(tmp, "bundle.joblib")
    print("mle.dump ->", mle.dump(bundle, path))
    joblib.dump(bundle, jpath)
    print(f"file size: mle {os.path.getsize(path)} bytes, joblib {os.path.getsize(jpath)} bytes")

    loaded = mle.load(path, mmap_mode="r")
    print("keys:", sorted(loaded))
    print("model:", loaded["model"])
    print("reference equal:", loaded["reference"].equals(bundle["reference"]))
    rows = loaded["train_rows"]
    print(f"train_rows: {type(rows).__name__}, read-only: {not rows.flags.writeable}")
    same = np.array_equal(loaded["model"].predict_proba(X), forest.predict_proba(X))
    print("predict_proba identical to scikit-learn:", same)

    parts = joblib.Parallel(n_jobs=2)(joblib.delayed(predict_chunk)(loaded["model"], chunk)
                                      for chunk in np.array_split(X.to_numpy(), 4))
    print("predicted in 2 worker processes, identical:",
          np.array_equal(np.concatenate(parts), forest.predict_proba(X)[:, 1]))

    bundle["post"] = Postprocessor(0.35)
    try:
        mle.dump(bundle, path)
    except mle.UnsupportedModelError as e:
        print("custom class refused:", str(e).splitlines()[0])
    mle.dump(bundle, path, allow_pickle=True)  # explicit: that one object is pickled
    try:
        mle.load(path)
    except mle.PickleNotAllowedError:
        print("load without allow_pickle: PickleNotAllowedError")
    again = mle.load(path, allow_pickle=True)
    print("with allow_pickle=True:", type(again["post"]).__name__, again["post"].threshold)


if __name__ == "__main__":
    main()
