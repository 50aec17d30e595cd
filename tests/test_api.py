"""mle.dump / mle.load: joblib's signatures and return values, file objects, atomic writes,
errors, and thread safety of a loaded model."""

import io
import os
import pickle
import threading

import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import mle_runtime as mle


@pytest.fixture(scope="module")
def iris_model():
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300)).fit(X, y)
    return model, X


def _same_predictions(proxy, model, X):
    np.testing.assert_array_equal(proxy.predict(X), model.predict(X))
    np.testing.assert_allclose(proxy.predict_proba(X), model.predict_proba(X), rtol=0,
                               atol=1e-9)


# ---------------------------------------------------------------- dump / load round trips

def test_dump_str_path_returns_list(iris_model, tmp_path):
    model, X = iris_model
    path = str(tmp_path / "model.mle")
    result = mle.dump(model, path)
    assert result == [path]
    assert type(result) is list and type(result[0]) is str
    _same_predictions(mle.load(path), model, X)


def test_dump_pathlib_returns_list_of_str(iris_model, tmp_path):
    model, X = iris_model
    path = tmp_path / "model.mle"
    result = mle.dump(model, path)
    assert result == [str(path)]
    assert type(result[0]) is str
    _same_predictions(mle.load(path), model, X)
    _same_predictions(mle.load(str(path)), model, X)


def test_joblib_return_value_is_mirrored(iris_model, tmp_path):
    model, _ = iris_model
    for p in (str(tmp_path / "a"), tmp_path / "b"):
        assert mle.dump(model, p) == [str(p)]
        assert joblib.dump(model, p) == [str(p)]


def test_dump_to_bytesio(iris_model):
    model, X = iris_model
    buf = io.BytesIO()
    assert mle.dump(model, buf) is None
    data = buf.getvalue()
    assert len(data) > 0
    buf.seek(0)
    _same_predictions(mle.load(buf), model, X)
    _same_predictions(mle.load(io.BytesIO(data)), model, X)


def test_file_objects(iris_model, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    model, X = iris_model
    path = tmp_path / "m.mle"
    with open(path, "wb") as f:
        assert mle.dump(model, f) is None
    with open(path, "rb") as f:
        proxy = mle.load(f)
    _same_predictions(proxy, model, X)  # usable after the file is closed
    mle.dump(model, tmp_path / "ref.mle")
    assert path.read_bytes() == (tmp_path / "ref.mle").read_bytes()


def test_text_mode_file_objects_raise_type_error(iris_model, tmp_path):
    model, _ = iris_model
    path = tmp_path / "m.mle"
    with open(path, "w") as f:
        with pytest.raises(TypeError, match="binary"):
            mle.dump(model, f)
    with pytest.raises(TypeError):
        mle.dump(model, io.StringIO())
    mle.dump(model, path)
    with open(path, "r", encoding="latin-1") as f:
        with pytest.raises(TypeError, match="binary"):
            mle.load(f)
    with pytest.raises(TypeError):
        mle.load(io.StringIO("abc"))


def test_bad_filename_types(iris_model):
    model, _ = iris_model
    for bad in (42, None, 3.5):
        with pytest.raises(TypeError):
            mle.dump(model, bad)
        with pytest.raises(TypeError):
            mle.load(bad)


def test_dump_is_deterministic(iris_model, tmp_path, monkeypatch):
    # The metadata records the creation time; SOURCE_DATE_EPOCH pins it.
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    model, _ = iris_model
    mle.dump(model, tmp_path / "a.mle")
    mle.dump(model, tmp_path / "b.mle")
    assert (tmp_path / "a.mle").read_bytes() == (tmp_path / "b.mle").read_bytes()


def test_overwrite_existing_file(iris_model, tmp_path, dataset):
    model, X = iris_model
    path = tmp_path / "m.mle"
    path.write_bytes(b"old content that is not a model")
    mle.dump(model, path)
    _same_predictions(mle.load(path), model, X)
    Xd, yd = dataset("diabetes")
    other = Ridge().fit(Xd, yd)
    mle.dump(other, path)
    proxy = mle.load(path)
    np.testing.assert_allclose(proxy.predict(Xd), other.predict(Xd), rtol=0, atol=1e-9)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.mle"]


def test_dump_keeps_file_mode(iris_model, tmp_path):
    model, _ = iris_model
    path = tmp_path / "m.mle"
    mle.dump(model, path)
    os.chmod(path, 0o640)
    mle.dump(model, path)
    assert (os.stat(path).st_mode & 0o777) == 0o640


# ---------------------------------------------------------------- failed dumps

@pytest.mark.parametrize("make_bad", [
    lambda X, y: object(),
    lambda X, y: KNeighborsClassifier(metric="cosine").fit(X, y),
    lambda X, y: make_pipeline(StandardScaler(),
                               KNeighborsClassifier(metric="cosine")).fit(X, y),
    lambda X, y: {"model": LogisticRegression()},
], ids=["object", "KNeighborsClassifier", "pipeline-with-knn", "dict"])
def test_failed_dump_leaves_existing_file_untouched(make_bad, iris_model, tmp_path):
    model, X = iris_model
    y = model.predict(X)
    bad = make_bad(X, y)
    path = tmp_path / "m.mle"
    mle.dump(model, path)
    before = path.read_bytes()
    with pytest.raises(mle.UnsupportedModelError) as info:
        mle.dump(bad, path)
    err = info.value
    assert isinstance(err, TypeError) and isinstance(err, mle.MLEError)
    name = "KNeighborsClassifier" if "KNeighbors" in repr(bad) else type(bad).__name__
    if isinstance(bad, dict):  # containers are stored natively: the error names the part
        name = "value['model'] (a sklearn.linear_model._logistic.LogisticRegression)"
    assert name in str(err)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.mle"]  # no temporary files
    _same_predictions(mle.load(path), model, X)


def test_failed_dump_to_new_path_creates_nothing(tmp_path):
    with pytest.raises(mle.UnsupportedModelError, match="object"):
        mle.dump(object(), tmp_path / "new.mle")
    assert list(tmp_path.iterdir()) == []


def test_unfitted_model_is_refused(tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        mle.dump(LogisticRegression(), tmp_path / "m.mle")
    assert list(tmp_path.iterdir()) == []


def test_failed_dump_to_file_object_writes_nothing():
    buf = io.BytesIO()
    with pytest.raises(mle.UnsupportedModelError):
        mle.dump(object(), buf)
    assert buf.getvalue() == b""


def test_dump_onto_a_directory(iris_model, tmp_path):
    model, _ = iris_model
    target = tmp_path / "sub"
    target.mkdir()
    with pytest.raises(OSError):
        mle.dump(model, target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sub"]  # no temporary file left
    assert list(target.iterdir()) == []


def test_dump_into_missing_directory(iris_model, tmp_path):
    model, _ = iris_model
    with pytest.raises(FileNotFoundError):
        mle.dump(model, tmp_path / "no" / "such" / "dir.mle")


# ---------------------------------------------------------------- joblib arguments

@pytest.mark.parametrize("compress", [0, False, None, ("zlib", 0)])
def test_compress_off_accepted(compress, iris_model, tmp_path):
    model, X = iris_model
    path = tmp_path / "m.mle"
    assert mle.dump(model, path, compress=compress) == [str(path)]
    _same_predictions(mle.load(path), model, X)


@pytest.mark.parametrize("compress", [3, 9, True, "zlib", ("zlib", 3), ("zstd", 19)])
def test_compress_on_round_trips(compress, iris_model, tmp_path):
    model, X = iris_model
    path = tmp_path / "m.mle"
    assert mle.dump(model, path, compress=compress) == [str(path)]
    assert mle.inspect_model(path)["compression"] is not None
    _same_predictions(mle.load(path), model, X)


@pytest.mark.parametrize("compress", [("lz4", 1), "lz4", 10, -1, ("zlib", 3.5), "snappy",
                                      ("zstd",), ("zstd", 23)])
def test_bad_compress_refused(compress, iris_model, tmp_path):
    model, _ = iris_model
    path = tmp_path / "m.mle"
    with pytest.raises(ValueError, match="compress"):
        mle.dump(model, path, compress=compress)
    assert not path.exists()


def test_protocol_accepted_and_ignored(iris_model, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    model, _ = iris_model
    mle.dump(model, tmp_path / "a.mle", protocol=pickle.HIGHEST_PROTOCOL)
    mle.dump(model, tmp_path / "b.mle")
    assert (tmp_path / "a.mle").read_bytes() == (tmp_path / "b.mle").read_bytes()


@pytest.mark.parametrize("mmap_mode", [None, "r", "r+", "w+", "c"])
def test_mmap_mode_values_accepted(mmap_mode, iris_model, tmp_path):
    model, X = iris_model
    path = tmp_path / "m.mle"
    mle.dump(model, path)
    before = path.read_bytes()
    _same_predictions(mle.load(path, mmap_mode=mmap_mode), model, X)
    _same_predictions(mle.load(path, mmap_mode), model, X)  # positional, as in joblib
    assert path.read_bytes() == before  # 'w+' and 'r+' never write to the model file


def test_bad_mmap_mode(iris_model, tmp_path):
    model, _ = iris_model
    path = tmp_path / "m.mle"
    mle.dump(model, path)
    with pytest.raises(ValueError, match="mmap_mode"):
        mle.load(path, mmap_mode="x")


# ---------------------------------------------------------------- loading errors

@pytest.mark.parametrize("compress", [0, 3])
def test_loading_a_joblib_file(compress, iris_model, tmp_path):
    model, _ = iris_model
    path = tmp_path / "m.joblib"
    joblib.dump(model, path, compress=compress)
    with pytest.raises(mle.FormatError) as info:
        mle.load(path)
    msg = str(info.value).lower()
    assert "pickle" in msg and "joblib" in msg
    assert isinstance(info.value, ValueError)


def test_loading_a_pickle_file(iris_model, tmp_path):
    model, _ = iris_model
    path = tmp_path / "m.pkl"
    path.write_bytes(pickle.dumps(model, protocol=4))
    with pytest.raises(mle.FormatError, match="pickle"):
        mle.load(path)
    with pytest.raises(mle.FormatError, match="pickle"):
        mle.load(io.BytesIO(path.read_bytes()))


def test_loading_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        mle.load(tmp_path / "missing.mle")
    assert "missing.mle" in str(info.value)
    with pytest.raises(FileNotFoundError):
        mle.load(str(tmp_path / "missing.mle"))


def test_loading_a_directory(tmp_path):
    with pytest.raises(OSError):
        mle.load(tmp_path)


@pytest.mark.parametrize("content", [b"", b"hello", b"\x89MLE\r\n\x1a\n" + b"\0" * 100],
                         ids=["empty", "text", "magic-only"])
def test_loading_garbage(content, tmp_path):
    path = tmp_path / "bad.mle"
    path.write_bytes(content)
    with pytest.raises(mle.FormatError):
        mle.load(path)
    with pytest.raises(mle.FormatError):
        mle.load(io.BytesIO(content))


def test_loading_a_truncated_file(iris_model, tmp_path):
    model, _ = iris_model
    path = tmp_path / "m.mle"
    mle.dump(model, path)
    data = path.read_bytes()
    for cut in (len(data) // 2, len(data) - 1):
        path.write_bytes(data[:cut])
        with pytest.raises(mle.FormatError):
            mle.load(path)


def test_error_hierarchy():
    assert issubclass(mle.FormatError, ValueError)
    assert issubclass(mle.InputError, ValueError)
    assert issubclass(mle.UnsupportedModelError, TypeError)
    for cls in (mle.FormatError, mle.InputError, mle.UnsupportedModelError):
        assert issubclass(cls, mle.MLEError)


# ---------------------------------------------------------------- threads

def test_concurrent_predictions_match_serial(iris_model, tmp_path, dataset):
    model, _ = iris_model
    path = tmp_path / "m.mle"
    mle.dump(model, path)
    proxy = mle.load(path)
    X, _ = dataset("iris")
    rng = np.random.RandomState(0)
    batches = [X[rng.randint(0, 150, size=n)] + rng.normal(scale=0.05, size=(n, 4))
               for n in (1, 2, 7, 64, 65, 300, 2000, 1)] * 2
    serial = [(proxy.predict(b), proxy.predict_proba(b), proxy.decision_function(b))
              for b in batches]
    results = {}
    errors = []
    start = threading.Barrier(8)

    def work(tid):
        try:
            start.wait()
            out = []
            for rep in range(5):
                for i, b in enumerate(batches):
                    j = (i + tid + rep) % len(batches)  # threads work on different batches
                    b = batches[j]
                    out.append((j, proxy.predict(b), proxy.predict_proba(b, n_threads=2),
                                proxy.decision_function(b)))
            results[tid] = out
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(results) == 8
    for out in results.values():
        for j, labels, proba, dec in out:
            np.testing.assert_array_equal(labels, serial[j][0])
            np.testing.assert_array_equal(proba, serial[j][1])
            np.testing.assert_array_equal(dec, serial[j][2])


def test_concurrent_first_use(iris_model, tmp_path):
    # The first access to a method binds it lazily; racing threads must all get working methods.
    model, X = iris_model
    path = tmp_path / "m.mle"
    mle.dump(model, path)
    for _ in range(5):
        proxy = mle.load(path)
        out = [None] * 8
        start = threading.Barrier(8)

        def work(i):
            start.wait()
            out[i] = (proxy.predict(X), proxy.classes_.copy(), proxy.predict_proba(X[:3]))

        threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for labels, classes, proba in out:
            np.testing.assert_array_equal(labels, model.predict(X))
            np.testing.assert_array_equal(classes, model.classes_)
            np.testing.assert_allclose(proba, model.predict_proba(X[:3]), rtol=0, atol=1e-9)


def test_public_names():
    for name in ("dump", "load", "MLEError", "FormatError", "InputError",
                 "UnsupportedModelError", "__version__"):
        assert hasattr(mle, name)
    assert isinstance(mle.__version__, str) and mle.__version__
