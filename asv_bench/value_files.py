"""What people hand to joblib.dump around models, stored by mle_runtime and by joblib: file
size, load time (in memory and memory-mapped), and the cost of shipping a loaded model to a
worker process (pickling it). Medians of repeated runs, with ratios.

    python asv_bench/value_files.py
"""

import os
import pickle
import statistics
import tempfile
import timeit
import warnings

import joblib
import numpy as np
import pandas as pd
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import mle_runtime as mle


def bundles():
    """(name, value) pairs: a bundle of models, settings and data as projects store them."""
    X, y = make_classification(20000, 20, n_informative=10, n_classes=3, random_state=0)
    cols = [f"f{i}" for i in range(X.shape[1])]
    forest = RandomForestClassifier(100, max_depth=12, random_state=0, n_jobs=2).fit(X, y)
    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(X[:10000], columns=cols)
    frame["segment"] = pd.Categorical(rng.choice(["a", "b", "c"], 10000))
    frame["day"] = pd.date_range("2024-01-01", periods=10000, freq="h")
    frame["name"] = [f"row{i}" for i in range(10000)]
    yield "models+settings", {"forest": forest, "linear": pipe, "threshold": 0.35,
                              "columns": cols, "classes": ["a", "b", "c"]}
    yield "models+arrays(16MB)", {"forest": forest, "reference": np.tile(X, (5, 1)),
                                  "weights": rng.random(100000)}
    yield "DataFrame(10k rows, mixed)", {"train": frame, "columns": cols}


def median(fn, number, repeat=7):
    return statistics.median(t / number for t in timeit.repeat(fn, number=number,
                                                              repeat=repeat))


def main():
    warnings.simplefilter("ignore")
    tmp = tempfile.mkdtemp(prefix="mle-values-")
    a, b = os.path.join(tmp, "v.mle"), os.path.join(tmp, "v.joblib")
    print(f"{'value':28s} {'mle':>9s} {'joblib':>9s} {'size':>5s} | {'mmap':>4s} "
          f"{'load mle':>9s} {'joblib':>9s} {'faster':>7s}")
    for name, value in bundles():
        mle.dump(value, a)
        joblib.dump(value, b)
        joblib.load(b)  # imports scikit-learn / pandas outside the timing
        sa, sb = os.path.getsize(a), os.path.getsize(b)
        for mode in (None, "r"):
            n = 20
            tm = median(lambda: mle.load(a, mmap_mode=mode), n)
            tj = median(lambda: joblib.load(b, mmap_mode=mode), n)
            print(f"{name:28s} {sa / 1e6:8.2f}M {sb / 1e6:8.2f}M {sa / sb:5.2f} | "
                  f"{str(mode):>4s} {tm * 1e3:7.3f}ms {tj * 1e3:7.3f}ms {tj / tm:6.1f}x",
                  flush=True)
    # shipping a loaded model to a worker: what joblib.Parallel / multiprocessing pickle
    for name, value in bundles():
        model = value.get("forest")
        if model is None:
            continue
        mle.dump(model, a)
        proxy = mle.load(a, cache=False)
        pm, ps = pickle.dumps(proxy, protocol=5), pickle.dumps(model, protocol=5)
        tdm = median(lambda: pickle.loads(pickle.dumps(proxy, protocol=5)), 50)
        tds = median(lambda: pickle.loads(pickle.dumps(model, protocol=5)), 5)
        print(f"\nshipping RandomForest(100) to a worker (pickle.dumps + loads, protocol 5):"
              f"\n  mle proxy {len(pm) / 1e6:.2f} MB {tdm * 1e3:.3f} ms | scikit-learn "
              f"{len(ps) / 1e6:.2f} MB {tds * 1e3:.3f} ms | {tds / tdm:.1f}x faster, "
              f"{len(ps) / len(pm):.1f}x smaller")
        break


if __name__ == "__main__":
    main()
