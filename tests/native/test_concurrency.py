"""A loaded model is immutable and safe to call from many threads at once (the GIL is released
for the native call and each call uses its own scratch memory); results never depend on the
thread count."""

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import mle_runtime as mle

N_THREADS = 8
ROUNDS = 3


@pytest.fixture(scope="module")
def fitted():
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = make_classification(n_samples=2000, n_features=20, n_informative=8, n_classes=4,
                               n_clusters_per_class=1, random_state=0)
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(X, y)


@pytest.fixture(scope="module")
def model_path(fitted, tmp_path_factory):
    path = tmp_path_factory.mktemp("concurrency") / "model.mle"
    mle.dump(fitted, path)
    return path


@pytest.fixture(scope="module")
def batches():
    rng = np.random.default_rng(42)
    sizes = [1, 1, 10_000, 1, 10_000, 129, 128, 127, 1000, 3, 10_000, 1, 64, 10_000, 2, 1]
    out = []
    for i, n in enumerate(sizes):
        X = rng.normal(scale=2.0, size=(n, 20))
        out.append(X.astype(np.float32) if i % 5 == 4 else X)
    return out


def _run_concurrently(fn, n_workers=N_THREADS):
    """Runs fn(worker_index) on n_workers threads released together; returns their results."""
    barrier = threading.Barrier(n_workers)

    def worker(i):
        barrier.wait()
        return fn(i)

    with ThreadPoolExecutor(max_workers=n_workers) as pool:
        return list(pool.map(worker, range(n_workers)))


def test_concurrent_predict_proba_equals_serial(model_path, batches, fitted):
    model = mle.load(model_path)
    serial = [model.predict_proba(X) for X in batches]
    # the serial results are right in the first place
    for X, p in zip(batches, serial):
        atol = 1e-5 if X.dtype == np.float32 else 1e-9
        np.testing.assert_allclose(p, fitted.predict_proba(X), rtol=0, atol=atol)

    def work(i):
        order = np.random.default_rng(i).permutation(len(batches) * ROUNDS) % len(batches)
        return [(int(j), model.predict_proba(batches[j])) for j in order]

    results = _run_concurrently(work)
    checked = 0
    for per_thread in results:
        assert len(per_thread) == len(batches) * ROUNDS
        for j, p in per_thread:
            assert p.dtype == serial[j].dtype and p.shape == serial[j].shape
            assert np.array_equal(p, serial[j]), f"batch {j} differs when run concurrently"
            checked += 1
    assert checked == N_THREADS * ROUNDS * len(batches)


def test_concurrent_mixed_methods_equal_serial(model_path, batches):
    model = mle.load(model_path)
    methods = ("predict", "predict_proba", "decision_function", "predict_log_proba")
    serial = {(m, j): getattr(model, m)(X) for m in methods for j, X in enumerate(batches)}

    def work(i):
        rng = np.random.default_rng(1000 + i)
        out = []
        for _ in range(2 * len(batches)):
            m = methods[int(rng.integers(len(methods)))]
            j = int(rng.integers(len(batches)))
            out.append((m, j, getattr(model, m)(batches[j])))
        return out

    for per_thread in _run_concurrently(work):
        for m, j, got in per_thread:
            assert np.array_equal(got, serial[m, j]), f"{m} on batch {j} differs"


def test_concurrent_calls_with_explicit_thread_counts(model_path, batches):
    # Python threads that each ask the thread pool for a different number of threads.
    model = mle.load(model_path)
    big = [X for X in batches if X.shape[0] >= 1000]
    serial = [model.predict_proba(X, n_threads=1) for X in big]

    def work(i):
        t = [1, 2, 4, None, -1, 0, 3, 8][i]
        return [model.predict_proba(X, n_threads=t) for X in big for _ in range(2)]

    for per_thread in _run_concurrently(work):
        for k, got in enumerate(per_thread):
            assert np.array_equal(got, serial[k // 2])


def test_concurrent_loads_of_the_same_file(model_path, batches):
    X = batches[2]
    expected = mle.load(model_path).predict_proba(X)

    def work(i):
        m = mle.load(model_path, n_threads=1 + i % 3)
        return m.predict_proba(X), m.predict(X[:1])

    for p, label in _run_concurrently(work):
        assert np.array_equal(p, expected)
        assert label.shape == (1,)


def test_models_shared_across_threads_from_many_loads(model_path, batches):
    models = [mle.load(model_path) for _ in range(4)]
    X = batches[4]
    expected = models[0].predict(X)

    def work(i):
        return models[i % len(models)].predict(X)

    for got in _run_concurrently(work):
        assert np.array_equal(got, expected)


@pytest.mark.parametrize("method", ["predict", "predict_proba", "decision_function"])
def test_thread_count_does_not_change_results(model_path, batches, method):
    model = mle.load(model_path)
    for X in batches:
        one = getattr(model, method)(X, n_threads=1)
        for t in (None, 0, 2, 3, 16, -1):
            got = getattr(model, method)(X, n_threads=t)
            assert np.array_equal(got, one), f"n_threads={t} differs from n_threads=1"


def test_load_time_thread_count_does_not_change_results(model_path, batches):
    one = mle.load(model_path, n_threads=1)
    default = mle.load(model_path)
    for X in batches:
        assert np.array_equal(one.predict_proba(X), default.predict_proba(X))
        assert np.array_equal(one.predict(X), default.predict(X))


def test_errors_in_one_thread_do_not_disturb_others(model_path, batches):
    model = mle.load(model_path)
    X = batches[2]
    expected = model.predict_proba(X)
    bad = X.copy()
    bad[5000, 3] = np.nan  # the pipeline refuses NaN
    wrong_width = X[:, :19]

    def work(i):
        if i % 3 == 0:
            with pytest.raises(ValueError, match="NaN"):
                model.predict_proba(bad)
            return None
        if i % 3 == 1:
            with pytest.raises(ValueError, match="features"):
                model.predict_proba(wrong_width)
            return None
        return model.predict_proba(X)

    results = _run_concurrently(work)
    assert sum(r is not None for r in results) == 2
    for r in results:
        if r is not None:
            assert np.array_equal(r, expected)


# ---------------------------------------------------------------- stress: predict while loading

STRESS_PREDICTORS = 16
STRESS_LOADERS = 4
STRESS_ROUNDS = 4   # batches of every size per predictor thread
STRESS_LOADS = 6    # load / predict / release cycles per loader thread and file


@pytest.fixture(scope="module")
def stress_files(tmp_path_factory, model_path):
    """A forest (multi-threaded batches), the pipeline above, and a scaler with 400,000
    features whose 6 MB tensor section is checksummed on several threads at load."""
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.preprocessing import StandardScaler

    d = tmp_path_factory.mktemp("stress")
    X, y = make_classification(n_samples=3000, n_features=20, n_informative=8, n_classes=3,
                               random_state=1)
    mle.dump(RandomForestClassifier(n_estimators=30, random_state=0).fit(X, y), d / "rf.mle")
    wide = np.random.default_rng(3).normal(size=(4, 400_000))
    mle.dump(StandardScaler().fit(wide), d / "wide.mle")
    return {"rf": d / "rf.mle", "pipeline": model_path, "wide": d / "wide.mle"}


def test_predict_while_other_threads_load_and_release_models(stress_files):
    import gc

    shared = mle.load(stress_files["rf"])
    rng = np.random.default_rng(7)
    batches = [rng.normal(scale=2.0, size=(n, 20)) for n in (1, 3, 200, 5000, 30_000)]
    serial = [shared.predict_proba(X, n_threads=1) for X in batches]
    probes = {"rf": batches[3], "pipeline": batches[3],
              "wide": np.random.default_rng(4).normal(size=(2, 400_000))}
    methods = {"rf": "predict_proba", "pipeline": "predict_proba", "wide": "transform"}
    probe_expected = {k: getattr(mle.load(p, cache=False), methods[k])(probes[k], n_threads=1)
                      for k, p in stress_files.items()}
    thread_counts = [None, 1, 2, 3, 4, 8, -1, 0]
    n_workers = STRESS_PREDICTORS + STRESS_LOADERS
    barrier = threading.Barrier(n_workers)

    def predictor(i):
        barrier.wait()
        order = np.random.default_rng(i).permutation(len(batches) * STRESS_ROUNDS)
        wrong = []
        for j in order % len(batches):
            t = thread_counts[(i + int(j)) % len(thread_counts)]
            if not np.array_equal(shared.predict_proba(batches[j], n_threads=t), serial[j]):
                wrong.append((int(j), t))
        return "predict", len(order), wrong

    def loader(i):
        barrier.wait()
        wrong, done = [], 0
        for r in range(STRESS_LOADS):
            for name, path in stress_files.items():
                m = mle.load(path, cache=False, n_threads=1 + (i + r) % 4)
                if not np.array_equal(getattr(m, methods[name])(probes[name]),
                                      probe_expected[name]):
                    wrong.append((name, r))
                del m
                done += 1
            if r % 2:
                gc.collect()
        return "load", done, wrong

    with ThreadPoolExecutor(max_workers=n_workers) as pool:
        futures = [pool.submit(predictor, i) for i in range(STRESS_PREDICTORS)]
        futures += [pool.submit(loader, i) for i in range(STRESS_LOADERS)]
        results = [f.result() for f in futures]

    counts = {"predict": 0, "load": 0}
    for kind, done, wrong in results:
        assert wrong == [], f"{kind} results differ from single-threaded ones: {wrong}"
        counts[kind] += done
    assert counts["predict"] == STRESS_PREDICTORS * STRESS_ROUNDS * len(batches)
    assert counts["load"] == STRESS_LOADERS * STRESS_LOADS * len(stress_files)


def test_concurrent_loads_of_a_forest_validated_on_several_threads(tmp_path):
    # Beyond 262,144 nodes the tree checks of a load run on the thread pool; several loads at
    # once share it. Every load must accept the file and predict as a single-threaded load.
    from sklearn.ensemble import ExtraTreesClassifier

    rng = np.random.default_rng(5)
    X = rng.normal(size=(12_000, 10))
    y = rng.integers(0, 2, size=12_000)  # random labels: deep trees, many nodes
    rf = ExtraTreesClassifier(n_estimators=24, random_state=0).fit(X, y)
    n_nodes = sum(t.tree_.node_count for t in rf.estimators_)
    assert n_nodes > 262_144
    path = tmp_path / "big_forest.mle"
    mle.dump(rf, path)
    Xq = rng.normal(size=(2000, 10))
    expected = mle.load(path, cache=False).predict_proba(Xq, n_threads=1)
    np.testing.assert_allclose(expected, rf.predict_proba(Xq), rtol=0, atol=1e-12)

    def work(i):
        return mle.load(path, cache=False).predict_proba(Xq, n_threads=1 + i % 3)

    for got in _run_concurrently(work, n_workers=6):
        assert np.array_equal(got, expected)
