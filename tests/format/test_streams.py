"""Hostile joblib-layout files (docs/FORMAT.md, 16.4): the compressor's stream of an .mle
file. Whatever the stream holds, loading raises FormatError (or loads the file it holds):
a declared size beyond the budget or the codec's ratio is refused before it is expanded, a
stream never expands beyond the declared size, truncations, trailing bytes, corrupt bytes and
streams of other files are refused."""

import io
import os
import zlib

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import mle_runtime as mle
from mle_runtime import FormatError
from mle_runtime.format import compression
from mle_runtime.format import layout as L
from mle_runtime.format.budget import LoadBudget

METHODS = compression.STREAM_METHODS


@pytest.fixture(scope="module")
def plain():
    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=300).fit(X, y)
    buf = io.BytesIO()
    mle.dump(model, buf)
    return buf.getvalue(), model, X


def _header_with_size(data, size):
    """``data`` whose header declares ``size`` bytes (its header checksum is then wrong:
    the stream codec reads the size before any checksum is verified)."""
    off = L.HEADER_DTYPE.fields["file_size"][1]
    return data[:off] + size.to_bytes(8, "little") + data[off + 8:]


@pytest.mark.parametrize("method", METHODS)
def test_round_trip_of_each_method(method, plain, tmp_path):
    data, model, X = plain
    path = tmp_path / "m.bin"
    path.write_bytes(compression.compress(data, method, 6))
    np.testing.assert_array_equal(mle.load(path).predict(X), model.predict(X))
    np.testing.assert_array_equal(mle.load(io.BytesIO(path.read_bytes())).predict(X),
                                  model.predict(X))


@pytest.mark.parametrize("method", METHODS)
def test_every_truncation_is_refused(method, plain, tmp_path):
    data, _, _ = plain
    packed = compression.compress(data, method, 6)
    path = tmp_path / "t.bin"
    for n in list(range(0, min(len(packed), 80))) + list(range(80, len(packed), 37)):
        path.write_bytes(packed[:n])
        for load in (lambda: mle.load(path), lambda: mle.load(io.BytesIO(packed[:n]))):
            with pytest.raises(FormatError):
                load()


@pytest.mark.parametrize("method", METHODS)
def test_trailing_bytes_in_a_file_are_refused(method, plain, tmp_path):
    data, _, _ = plain
    path = tmp_path / "t.bin"
    path.write_bytes(compression.compress(data, method, 6) + b"junk")
    with pytest.raises(FormatError, match="after the end of its stream"):
        mle.load(path)
    with pytest.raises(FormatError, match="after the end of its stream"):
        mle.inspect_model(path)


@pytest.mark.parametrize("method", METHODS)
def test_a_stream_longer_than_its_file_declares(method, plain, tmp_path):
    data, _, _ = plain
    bad = _header_with_size(data, len(data) - 100)
    path = tmp_path / "long.bin"
    path.write_bytes(compression.compress(bad, method, 6))
    with pytest.raises(FormatError, match="more than"):
        mle.load(path)


@pytest.mark.parametrize("method", ["zlib", "gzip"])
def test_a_declared_size_beyond_the_codecs_ratio_is_refused_unexpanded(method, plain,
                                                                        tmp_path):
    data, _, _ = plain
    bad = _header_with_size(data, 1 << 34)  # 16 GiB from a few hundred bytes
    path = tmp_path / "bomb.bin"
    path.write_bytes(compression.compress(bad, method, 6))
    with pytest.raises(FormatError, match="expand to at most"):
        mle.load(path)


@pytest.mark.parametrize("method", METHODS)
def test_a_bomb_is_refused_by_the_budget(method, tmp_path):
    """A header declaring 100 MiB, then zeros: refused before they are expanded (the budget
    of a small file is 32 x its size + 64 MiB), through a path and through a stream."""
    head = bytearray(L.MAGIC + bytes(L.HEADER_SIZE - len(L.MAGIC)))
    off = L.HEADER_DTYPE.fields["file_size"][1]
    head[off:off + 8] = (100 << 20).to_bytes(8, "little")
    packed = compression.compress(bytes(head) + bytes((100 << 20) - 64), method, 1)
    assert len(packed) < (2 << 20)
    path = tmp_path / "bomb.bin"
    path.write_bytes(packed)
    with pytest.raises(FormatError, match="memory"):
        mle.load(path)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the writer: the whole stream, then the end
        os.close(r)
        try:
            with os.fdopen(w, "wb") as f:
                f.write(packed)
        finally:
            os._exit(0)
    os.close(w)
    try:
        with os.fdopen(r, "rb") as f, pytest.raises(FormatError, match="memory"):
            mle.load(f)
    finally:
        os.waitpid(pid, 0)


def test_restore_stream_never_allocates_past_the_budget():
    head = bytearray(L.MAGIC + bytes(L.HEADER_SIZE - len(L.MAGIC)))
    off = L.HEADER_DTYPE.fields["file_size"][1]
    head[off:off + 8] = (50 << 20).to_bytes(8, "little")
    packed = zlib.compress(bytes(head) + bytes((50 << 20) - 64), 9)
    budget = LoadBudget(len(packed), 1 << 20)
    with pytest.raises(FormatError, match="memory"):
        compression.restore_stream(io.BytesIO(packed).read, "zlib", budget,
                                   compressed_size=len(packed))
    assert budget.used <= (50 << 20)  # the declared size, charged before expanding


@pytest.mark.parametrize("method", METHODS)
def test_streams_of_other_files(method, tmp_path):
    import pickle

    path = tmp_path / "p.bin"
    path.write_bytes(compression.compress(pickle.dumps({"a": 1}, protocol=4), method, 6))
    with pytest.raises(FormatError, match="pickle/joblib file"):
        mle.load(path)
    path.write_bytes(compression.compress(b"just some text " * 20, method, 6))
    with pytest.raises(FormatError, match="not an .mle file"):
        mle.load(path)


@pytest.mark.parametrize("method", METHODS)
def test_random_changes_to_the_compressed_bytes(method, plain):
    data, model, X = plain
    packed = compression.compress(data, method, 6)
    rng = np.random.default_rng(17)
    for _ in range(300):
        bad = bytearray(packed)
        for _ in range(int(rng.integers(1, 4))):
            bad[int(rng.integers(len(bad)))] = int(rng.integers(256))
        try:
            m = mle.load(io.BytesIO(bytes(bad)))
        except FormatError:
            continue
        # the inner file's checksums held: it is the same model
        np.testing.assert_array_equal(m.predict(X), model.predict(X))
