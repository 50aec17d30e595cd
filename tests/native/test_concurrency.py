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
    # Python threads that each start OpenMP teams of different sizes.
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
