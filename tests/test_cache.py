"""The model cache of ``mle.load``: same unchanged file -> same mapped model; any change
(rewrite, replace, in-place edit with the same mtime) -> reload; bounded LRU; thread-safe;
``cache=False`` bypasses it; small plain files are never cached."""

import os
import threading

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

import mle_runtime as mle
from mle_runtime import cache


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    old = cache.set_max_entries(32)
    yield
    cache.set_max_entries(old)
    cache.clear()


@pytest.fixture(scope="module")
def forests():
    import copy

    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=2000, n_features=20, n_informative=10,
                               random_state=0)
    a = RandomForestClassifier(n_estimators=30, random_state=0).fit(X, y)
    # the same structure (so the same file size) with other leaf values
    b = copy.deepcopy(a)
    for est in b.estimators_:
        v = est.tree_.value
        v[:] = v[:, :, ::-1]
    assert not np.array_equal(a.predict_proba(X), b.predict_proba(X))
    return a, b, X


def test_same_file_returns_the_mapped_model(forests, tmp_path):
    a, _, X = forests
    path = tmp_path / "a.mle"
    mle.dump(a, path)
    assert path.stat().st_size > cache.MIN_SIZE
    m1, m2 = mle.load(path), mle.load(path)
    assert m1._native is m2._native
    assert m1 is not m2  # each load gets its own proxy
    np.testing.assert_array_equal(m2.predict(X), a.predict(X))
    m3 = mle.load(path, cache=False)
    assert m3._native is not m1._native
    assert mle.load(str(path))._native is mle.load(str(path))._native


def test_replaced_file_is_reloaded(forests, tmp_path):
    a, b, X = forests
    path = tmp_path / "m.mle"
    mle.dump(a, path)
    first = mle.load(path)
    mle.dump(b, path)  # atomic replace: new inode
    second = mle.load(path)
    assert second._native is not first._native
    np.testing.assert_array_equal(second.predict_proba(X), b.predict_proba(X))
    np.testing.assert_array_equal(first.predict_proba(X), a.predict_proba(X))


def test_in_place_rewrite_with_same_stat_is_reloaded(forests, tmp_path):
    """Same size and mtime (restored), same inode; only the content differs."""
    a, b, X = forests
    pa, pb = tmp_path / "a.mle", tmp_path / "b.mle"
    mle.dump(a, pa)
    mle.dump(b, pb)
    mle.load(pb)  # b's bytes
    data_b = pb.read_bytes()
    st = pa.stat()
    first = mle.load(pa)
    assert len(data_b) == st.st_size
    with open(pa, "r+b") as f:
        f.write(data_b)
    os.utime(pa, ns=(st.st_atime_ns, st.st_mtime_ns))
    second = mle.load(pa)
    assert second._native is not first._native
    np.testing.assert_array_equal(second.predict_proba(X), b.predict_proba(X))


def test_metadata_compare_catches_what_stat_misses(forests, tmp_path, monkeypatch):
    a, b, X = forests
    path = tmp_path / "m.mle"
    mle.dump(a, path)
    first = mle.load(path)
    mle.dump(b, path)
    # pretend the stat did not change: the on-disk metadata (content hash) still differs
    key = cache._entries[os.fspath(path)][0]
    monkeypatch.setattr(cache, "_stat_key", lambda st: key)
    second = mle.load(path)
    assert second._native is not first._native
    np.testing.assert_array_equal(second.predict(X), b.predict(X))


def test_small_plain_files_are_not_cached(tmp_path):
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    path = tmp_path / "small.mle"
    mle.dump(LogisticRegression(max_iter=300).fit(X, y), path)
    mle.load(path)
    assert cache.info()["entries"] == []


def test_compressed_files_are_cached(forests, tmp_path):
    a, _, X = forests
    path = tmp_path / "c.mle"
    mle.dump(a, path, compress=3)
    m1, m2 = mle.load(path), mle.load(path)
    assert m1._native is m2._native
    np.testing.assert_array_equal(m2.predict(X), a.predict(X))


def test_keyed_loads_bypass_the_cache(forests, tmp_path):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    a, _, X = forests
    key = Ed25519PrivateKey.generate()
    path = tmp_path / "s.mle"
    mle.dump(a, path, sign_with=key)
    plain = mle.load(path)
    verified = mle.load(path, public_key=key.public_key())
    assert verified._native is not plain._native
    with pytest.raises(mle.SignatureError):
        mle.load(path, public_key=Ed25519PrivateKey.generate().public_key())


def test_lru_bound(forests, tmp_path):
    a, _, _ = forests
    cache.set_max_entries(2)
    paths = [tmp_path / f"m{i}.mle" for i in range(3)]
    for p in paths:
        mle.dump(a, p)
    for p in paths:
        mle.load(p)
    assert cache.info()["entries"] == [os.fspath(p) for p in paths[1:]]
    mle.load(paths[1])  # refresh: paths[2] becomes least recently used
    mle.load(paths[0])
    assert cache.info()["entries"] == [os.fspath(paths[1]), os.fspath(paths[0])]
    cache.set_max_entries(0)
    mle.load(paths[0])
    assert cache.info()["entries"] == []
    with pytest.raises(ValueError):
        cache.set_max_entries(-1)


def test_deleted_file_is_not_served(forests, tmp_path):
    a, _, _ = forests
    path = tmp_path / "m.mle"
    mle.dump(a, path)
    mle.load(path)
    path.unlink()
    with pytest.raises(FileNotFoundError):
        mle.load(path)


def test_thread_safety(forests, tmp_path):
    a, b, X = forests
    paths = [tmp_path / f"t{i}.mle" for i in range(4)]
    for i, p in enumerate(paths):
        mle.dump(a if i % 2 == 0 else b, p)
    cache.set_max_entries(3)  # force evictions while threads race
    expected = [a.predict(X[:50]), b.predict(X[:50])]
    errors = []

    def work(seed):
        rng = np.random.default_rng(seed)
        try:
            for _ in range(60):
                i = int(rng.integers(len(paths)))
                out = mle.load(paths[i]).predict(X[:50])
                if not np.array_equal(out, expected[i % 2]):
                    errors.append(f"wrong model for {paths[i]}")
        except Exception as e:  # noqa: BLE001 - any exception fails the test below
            errors.append(repr(e))

    threads = [threading.Thread(target=work, args=(s,)) for s in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(cache.info()["entries"]) <= 3
