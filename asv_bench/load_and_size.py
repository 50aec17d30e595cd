"""File size and load time of mle_runtime against joblib for every scikit-learn linear model and
preprocessing step mle_runtime supports (one row each; medians of 9 repeats).

    python asv_bench/load_and_size.py

The wider side-by-side tables (latency, throughput, parity, ONNX Runtime) are in compare.py.
"""

import os
import statistics
import tempfile
import timeit
import warnings

import joblib
import numpy as np
from sklearn.datasets import load_diabetes, load_iris
from sklearn.impute import SimpleImputer
from sklearn.linear_model import (ElasticNet, Lasso, LinearRegression, LogisticRegression,
                                  Perceptron, Ridge, RidgeClassifier, SGDClassifier,
                                  SGDRegressor)
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import (MaxAbsScaler, MinMaxScaler, Normalizer, RobustScaler,
                                   StandardScaler)
from sklearn.svm import LinearSVC, LinearSVR

import mle_runtime as mle


def models():
    Xd, yd = load_diabetes(return_X_y=True)
    Xi, yi = load_iris(return_X_y=True)
    for m in (StandardScaler(), MinMaxScaler(), MaxAbsScaler(), RobustScaler(), Normalizer(),
              SimpleImputer()):
        yield m.fit(Xd)
    for m in (LinearRegression(), Ridge(), Lasso(), ElasticNet(), SGDRegressor(random_state=0),
              LinearSVR(random_state=0)):
        yield m.fit(Xd, yd)
    for m in (LogisticRegression(max_iter=5000), RidgeClassifier(), SGDClassifier(random_state=0),
              Perceptron(), LinearSVC(random_state=0), OneVsRestClassifier(LogisticRegression()),
              make_pipeline(StandardScaler(), LogisticRegression())):
        yield m.fit(Xi, yi)


def median_seconds(fn, number):
    return statistics.median(t / number for t in timeit.repeat(fn, number=number, repeat=9))


def main():
    warnings.simplefilter("ignore")
    tmp = tempfile.mkdtemp(prefix="mle-sizes-")
    a, b = os.path.join(tmp, "m.mle"), os.path.join(tmp, "m.joblib")
    print(f"{'model':46s} {'mle':>7s} {'joblib':>7s} {'size':>6s} | "
          f"{'load mle':>9s} {'joblib':>9s} {'faster':>7s}")
    for m in models():
        mle.dump(m, a)
        joblib.dump(m, b)
        joblib.load(b)  # imports scikit-learn outside the timing
        tm = median_seconds(lambda: mle.load(a, cache=False), 2000)
        tj = median_seconds(lambda: joblib.load(b), 200)
        name = type(m).__name__
        if name == "Pipeline":
            name = f"Pipeline({', '.join(type(s).__name__ for _, s in m.steps)})"
        sa, sb = os.path.getsize(a), os.path.getsize(b)
        print(f"{name:46s} {sa:6d}B {sb:6d}B {sa / sb:6.2f} | {tm * 1e6:7.1f}us "
              f"{tj * 1e6:7.1f}us {tj / tm:6.1f}x", flush=True)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
