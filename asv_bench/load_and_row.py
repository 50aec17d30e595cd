"""Load time and 1-row latency of the two models the load-path work is judged on: the iris
StandardScaler+LogisticRegression pipeline and a RandomForest(100) on 20 features. Medians of 15
repeats; run it with each build to compare (one process per build, alternating).

    python asv_bench/load_and_row.py
"""

import os
import statistics
import tempfile
import timeit

from sklearn.datasets import load_iris, make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import mle_runtime as mle


def median_us(fn, number):
    return statistics.median(timeit.repeat(fn, number=number, repeat=15)) / number * 1e6


def main():
    Xi, yi = load_iris(return_X_y=True)
    X, y = make_classification(20000, 20, n_informative=10, random_state=0)
    cases = [
        ("iris StandardScaler+LogisticRegression",
         make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(Xi, yi), Xi, 5000),
        ("RandomForest(100), 20 features",
         RandomForestClassifier(100, random_state=0, n_jobs=2).fit(X, y), X, 200),
    ]
    print(f"{'model':40} {'load':>10} {'predict 1 row':>14} {'proba 1 row':>12}")
    with tempfile.TemporaryDirectory() as d:
        for name, model, data, n in cases:
            path = os.path.join(d, "m.mle")
            mle.dump(model, path)
            load = median_us(lambda: mle.load(path, cache=False), n)
            m = mle.load(path, cache=False)
            row = data[:1]
            m.predict(row)
            p = median_us(lambda: m.predict(row), 5000)
            pp = median_us(lambda: m.predict_proba(row), 5000)
            print(f"{name:40} {load:8.2f}us {p:12.2f}us {pp:10.2f}us")


if __name__ == "__main__":
    main()
