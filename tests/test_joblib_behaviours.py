"""``mle.dump`` / ``mle.load`` behave as ``joblib.dump`` / ``joblib.load`` where a joblib user
relies on it: compression from the file name, compressed file objects, file-object positions,
joblib's warnings and errors, memory-mapped arrays inside pickled objects, byte order, numpy
subclasses, non-seekable streams, and a clear error from ``joblib.load`` for an .mle file.
Each behaviour is compared with what joblib itself does on the same input."""

import bz2
import gzip
import io
import lzma
import os
import pickle
import socket
import subprocess
import sys
import threading
import types
import warnings
import zlib

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import FunctionTransformer

import mle_runtime as mle
from mle_runtime.compat import joblib as compat_joblib
from mle_runtime.format import compression
from mle_runtime.format import layout as L


@pytest.fixture(scope="module")
def iris_model():
    X, y = load_iris(return_X_y=True)
    return LogisticRegression(max_iter=500).fit(X, y), X


def _joblib_detect(path):
    """joblib's own name for the compression of a file it wrote."""
    from joblib.numpy_pickle_utils import _detect_compressor

    with open(path, "rb") as f:
        return _detect_compressor(f)


# ------------------------------------------------------------------ compression from names

@pytest.mark.parametrize("ext, method", [(".z", "zlib"), (".gz", "gzip"), (".bz2", "bz2"),
                                         (".lzma", "lzma"), (".xz", "xz")])
@pytest.mark.parametrize("compress", [0, 3, False, True])
def test_the_extension_picks_joblibs_compressor(ext, method, compress, iris_model, tmp_path,
                                               monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")  # the same bytes for the same model
    model, X = iris_model
    path = tmp_path / f"m.mle{ext}"
    ref = tmp_path / f"ref.pkl{ext}"
    assert mle.dump(model, path, compress=compress) == [str(path)]
    joblib.dump(model, ref, compress=compress)
    # the same compressor as joblib picks, and its stream holds the plain .mle file
    assert compression.detect(path.read_bytes()) == method == _joblib_detect(ref)
    plain = tmp_path / "plain.mle"
    mle.dump(model, plain)
    restored = {"zlib": zlib.decompress, "gzip": gzip.decompress, "bz2": bz2.decompress,
                "lzma": lzma.decompress, "xz": lzma.decompress}[method](path.read_bytes())
    assert restored == plain.read_bytes()
    np.testing.assert_array_equal(mle.load(path).predict(X), model.predict(X))


def test_joblibs_default_levels_and_what_stays_mle_runtimes(iris_model, tmp_path):
    assert compression.choose(0, "a.gz") == ("gzip", 3, "stream")
    assert compression.choose(0, "a.bz2") == ("bz2", 9, "stream")
    assert compression.choose(0, "a.xz") == ("xz", 6, "stream")
    assert compression.choose(7, "a.lzma") == ("lzma", 7, "stream")
    # an explicit method wins over the extension, as in joblib
    assert compression.choose("bz2", "a.gz") == ("bz2", 9, "stream")
    assert compression.choose(("xz", 2), "a.gz") == ("xz", 2, "stream")
    # without such an extension an int is mle_runtime's default method (zstd; joblib: zlib)
    assert compression.choose(3, "a.mle") == ("zstd", 3, "envelope")
    assert compression.choose(0, "a.mle") is None and compression.choose(None, "a.gz") == \
        ("gzip", 3, "stream")
    model, _ = iris_model
    mle.dump(model, tmp_path / "m.mle")
    assert (tmp_path / "m.mle").read_bytes()[:8] == L.MAGIC  # .mle: no compression
    with pytest.raises(ValueError, match="lz4"):
        mle.dump(model, tmp_path / "m.lz4")
    assert not (tmp_path / "m.lz4").exists()


def test_encryption_keeps_the_envelope(iris_model, tmp_path):
    model, X = iris_model
    path = tmp_path / "m.mle.gz"
    mle.dump(model, path, encryption_key=bytes(32))
    assert path.read_bytes()[:8] == L.MAGIC
    assert mle.inspect_model(path, encryption_key=bytes(32))["compression"]["method"] == "gzip"
    np.testing.assert_array_equal(mle.load(path, encryption_key=bytes(32)).predict(X),
                                  model.predict(X))


def test_signed_and_compressed(iris_model, tmp_path):
    model, X = iris_model
    private, public = mle.generate_keys()
    path = tmp_path / "m.mle.xz"
    mle.dump(model, path, sign_with=private)
    assert compression.detect(path.read_bytes()) == "xz"
    np.testing.assert_array_equal(mle.load(path, public_key=public).predict(X),
                                  model.predict(X))
    info = mle.inspect_model(path, public_key=public)
    assert info["signature"]["verified"] is True
    assert info["compression"] == {"method": "xz", "layout": "stream"}


@pytest.mark.parametrize("compress, message", [
    (-1, 'Non valid compress level given: "-1"'),
    (10, 'Non valid compress level given: "10"'),
    ({}, 'Non valid compress level given: "{}"'),
    (("zlib", 3, "extra"), "Compress argument tuple should contain exactly 2 elements"),
    (("wrong", 3), 'Non valid compression method given: "wrong"'),
    (("zlib", "wrong"), 'Non valid compress level given: "wrong"'),
])
def test_invalid_compress_values_are_joblibs_value_errors(compress, message, tmp_path):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")) as ours:
        mle.dump({"a": 1}, tmp_path / "x.mle", compress=compress)
    with pytest.raises(ValueError) as theirs:
        joblib.dump({"a": 1}, tmp_path / "x.pkl", compress=compress)
    assert str(theirs.value).startswith(message) and str(ours.value).startswith(message)
    assert not (tmp_path / "x.mle").exists()


def test_swapped_arguments_are_a_value_error_as_in_joblib(tmp_path):
    with pytest.raises(ValueError):
        joblib.dump("foo", dict())
    with pytest.raises(ValueError, match="value comes first") as info:
        mle.dump("foo", dict())
    assert isinstance(info.value, TypeError)  # and still the TypeError it always was


# ------------------------------------------------------------------ file objects

@pytest.mark.parametrize("opener", [gzip.GzipFile, bz2.BZ2File, lzma.LZMAFile])
@pytest.mark.parametrize("what", ["model", "value"])
def test_compressed_file_objects(opener, what, iris_model, tmp_path):
    model, X = iris_model
    value = model if what == "model" else {"model": model, "X": X, "n": 3}
    path = tmp_path / "f.bin"
    with opener(path, "wb") as f:
        assert mle.dump(value, f) is None
    with opener(path, "rb") as f:  # through the same decompressor
        got = mle.load(f)
    with open(path, "rb") as f:  # a raw file: the compressor is recognised
        got2 = mle.load(f)
    for g in (got, got2):
        m = g if what == "model" else g["model"]
        np.testing.assert_array_equal(m.predict(X), model.predict(X))
        if what == "value":
            np.testing.assert_array_equal(g["X"], X)


def test_dump_compresses_into_a_file_object(iris_model, tmp_path):
    model, X = iris_model
    path = tmp_path / "f.gz"
    with open(path, "wb") as f:
        mle.dump(model, f, compress=("gzip", 3))
    assert gzip.decompress(path.read_bytes())[:8] == L.MAGIC
    with gzip.GzipFile(path, "rb") as f:
        np.testing.assert_array_equal(mle.load(f).predict(X), model.predict(X))


def test_file_object_positions(iris_model):
    model, X = iris_model
    buf = io.BytesIO()
    buf.write(b"header")
    mle.dump(model, buf)                 # written at the current position
    mle.dump({"x": [1, 2]}, buf)
    buf.seek(6)
    f = io.BufferedReader(io.BytesIO(buf.getvalue()))  # can peek: read from the position
    f.read(6)
    np.testing.assert_array_equal(mle.load(f).predict(X), model.predict(X))
    assert mle.load(f) == {"x": [1, 2]}  # read to exactly the first file's end
    assert f.read() == b""
    # a BytesIO just written to loads without seeking back, as joblib's does (no peek:
    # read from its start)
    one = io.BytesIO()
    mle.dump(model, one)
    np.testing.assert_array_equal(mle.load(one).predict(X), model.predict(X))
    j = io.BytesIO()
    joblib.dump([1], j)
    assert joblib.load(j) == [1]


def test_gzip_stream_in_a_file_object_leaves_the_position_after_it(iris_model):
    model, X = iris_model
    a, b = io.BytesIO(), io.BytesIO()
    mle.dump(model, a, compress="gzip")
    mle.dump({"k": 1}, b, compress="xz")
    f = io.BufferedReader(io.BytesIO(a.getvalue() + b.getvalue() + b"tail"))
    np.testing.assert_array_equal(mle.load(f).predict(X), model.predict(X))
    assert mle.load(f) == {"k": 1}
    assert f.read() == b"tail"


def _warnings_of(fn):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        fn()
    return [(x.category, str(x.message)) for x in w]


def test_mmap_mode_warnings_are_joblibs(tmp_path):
    """The same warnings, with the same category and text, as joblib's for the same case."""
    a = np.arange(10.0)
    cases = []
    for lib, ext in ((mle, "mle"), (joblib, "pkl")):
        comp = tmp_path / f"c.{ext}"
        lib.dump(a, comp, compress=("gzip", 3))
        plain = tmp_path / f"p.{ext}"
        lib.dump(a, plain)
        buf = io.BytesIO()
        lib.dump(a, buf)
        with gzip.GzipFile(tmp_path / f"g.{ext}", "wb") as f:
            lib.dump(a, f)
        with gzip.GzipFile(tmp_path / f"g.{ext}", "rb") as g, open(plain, "rb") as raw:
            cases.append([
                _warnings_of(lambda: lib.load(comp, mmap_mode="r+")),
                _warnings_of(lambda: lib.load(buf, mmap_mode="r")),
                _warnings_of(lambda: lib.load(g, mmap_mode="c")),
                _warnings_of(lambda: lib.load(raw, mmap_mode="r")),
            ])
    ours, theirs = cases
    assert [len(w) for w in theirs] == [1, 1, 1, 0]
    for o, t in zip(ours, theirs):
        assert [c for c, _ in o] == [c for c, _ in t] == [UserWarning] * len(t)
    assert ours[1] == theirs[1]
    assert ours[0][0][1] == theirs[0][0][1].replace("c.pkl", "c.mle")
    assert "is not a raw file" in ours[2][0][1] and theirs[2][0][1].endswith(
        'mmap_mode "c" flag will be ignored.') and ours[2][0][1].endswith(
        'mmap_mode "c" flag will be ignored.')


def test_zstd_compressed_file_warns_too(tmp_path):
    mle.dump(np.arange(5), tmp_path / "z.mle", compress=3)
    (w,) = _warnings_of(lambda: mle.load(tmp_path / "z.mle", mmap_mode="r"))
    assert w[0] is UserWarning and "not compatible with compressed file" in w[1]


# ------------------------------------------------------------------ arrays in pickled objects

def _holder():
    return types.SimpleNamespace(floats=np.arange(100, dtype="float64"),
                                 ints=np.ones(100, dtype="int32"),
                                 objs=np.array(["a", 10, 20.0], dtype=object),
                                 big=np.arange(12, dtype=">i8").reshape(3, 4))


def test_arrays_inside_pickled_objects_are_memory_mapped(tmp_path):
    path = tmp_path / "h.mle"
    h = _holder()
    mle.dump({"h": h, "again": h.floats}, path, allow_pickle=True)
    info = mle.inspect_model(path)
    assert info["format_version"] == "1.4"
    assert info["metadata"]["contents"]["pickled_arrays"] == 3  # not the object array
    got = mle.load(path, mmap_mode="r", allow_pickle=True)
    for name in ("floats", "ints", "big"):
        arr = getattr(got["h"], name)
        assert isinstance(arr, np.memmap) and not arr.flags.writeable, name
        assert os.path.samefile(arr.filename, path) and arr.offset % 16 == 0
        np.testing.assert_array_equal(arr, getattr(h, name))
    assert got["h"].big.dtype == np.dtype(">i8")  # mapped: the stored byte order, as joblib
    assert not isinstance(got["h"].objs, np.memmap)
    np.testing.assert_array_equal(got["h"].objs, h.objs)
    # the pickle refers to the arrays: their bytes are not in the pickle section
    from mle_runtime.format import container

    c = container.parse(path.read_bytes())
    assert c.find(L.SECTION_PICKLE).size < 1000
    # copy-on-write and in memory
    cow = mle.load(path, mmap_mode="c", allow_pickle=True)["h"].floats
    cow[0] = 42.0
    assert mle.load(path, allow_pickle=True)["h"].floats[0] == 0.0
    mem = mle.load(path, allow_pickle=True)["h"]
    assert type(mem.floats) is np.ndarray and mem.floats.flags.writeable
    assert mem.big.dtype == np.dtype("int64")  # restored to the machine's order, as joblib
    np.testing.assert_array_equal(mem.big, h.big)


def test_arrays_in_pickled_objects_stay_shared(tmp_path):
    a = np.arange(5.0)
    pair = types.SimpleNamespace(x=a, y=a)
    path = tmp_path / "s.mle"
    mle.dump(pair, path, allow_pickle=True)
    got = mle.load(path, allow_pickle=True)
    assert got.x is got.y


def test_pickled_arrays_need_allow_pickle(tmp_path):
    mle.dump(_holder(), tmp_path / "h.mle", allow_pickle=True)
    with pytest.raises(mle.PickleNotAllowedError):
        mle.load(tmp_path / "h.mle", mmap_mode="r")


def test_an_estimator_that_must_be_pickled(tmp_path):
    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=300).fit(X, y)
    value = {"f": FunctionTransformer(np.rint), "coef": model.coef_, "m": model}
    mle.dump(value, tmp_path / "v.mle", allow_pickle=True)
    got = mle.load(tmp_path / "v.mle", mmap_mode="r", allow_pickle=True)
    assert type(got["f"]) is FunctionTransformer
    np.testing.assert_allclose(got["f"].transform(X[:3]), np.rint(X[:3]))
    assert isinstance(got["coef"], np.memmap)
    np.testing.assert_array_equal(got["m"].predict(X), model.predict(X))


# ------------------------------------------------------------------ byte order, subclasses

def test_byte_order_as_joblib_restores_it(tmp_path):
    value = [np.arange(5, dtype="<i8"), np.arange(5, dtype=">i8"),
             np.array([(1, 2.0)], dtype=[("a", ">i8"), ("b", ">f8")])]
    mle.dump(value, tmp_path / "b.mle")
    joblib.dump(value, tmp_path / "b.pkl")
    for kw in ({}, {"ensure_native_byte_order": False}, {"mmap_mode": "r"}):
        ours = mle.load(tmp_path / "b.mle", **kw)
        theirs = joblib.load(tmp_path / "b.pkl", **kw)
        for o, t in zip(ours, theirs):
            assert o.dtype == t.dtype, kw
            np.testing.assert_array_equal(o, t)
    msg = "Native byte ordering can only be enforced if 'mmap_mode' parameter"
    for lib in (mle, joblib):
        with pytest.raises(ValueError, match=msg):
            lib.load("/no/such/file", mmap_mode="r+", ensure_native_byte_order=True)


def test_masked_arrays_and_subclasses(tmp_path):
    m = np.ma.masked_greater(np.linspace(0, 1, 10), 0.5)
    mat = np.matrix([[1, 2], [3, 4]])
    mle.dump({"m": m, "mat": mat}, tmp_path / "s.mle", allow_pickle=True)
    joblib.dump({"m": m, "mat": mat}, tmp_path / "s.pkl")
    for mode in (None, "r"):
        ours = mle.load(tmp_path / "s.mle", mmap_mode=mode, allow_pickle=True)
        theirs = joblib.load(tmp_path / "s.pkl", mmap_mode=mode)
        assert isinstance(ours["m"], np.ma.MaskedArray) and \
            isinstance(theirs["m"], np.ma.MaskedArray)
        np.testing.assert_array_equal(ours["m"].mask, m.mask)
        np.testing.assert_array_equal(ours["m"], m)
        assert isinstance(ours["mat"], np.matrix)
        np.testing.assert_array_equal(ours["mat"], mat)
    with pytest.raises(mle.UnsupportedModelError, match="allow_pickle"):
        mle.dump(m, tmp_path / "refused.mle")


# ------------------------------------------------------------------ streams that cannot seek

@pytest.mark.parametrize("compress", [0, "gzip", "xz", 3])
def test_a_pipe_is_read_to_the_declared_length_only(compress, iris_model):
    """The writer keeps the pipe open: a reader that waited for the end of the stream would
    block forever; load returns as soon as the file is read."""
    model, X = iris_model
    buf = io.BytesIO()
    mle.dump({"model": model, "X": X}, buf, compress=compress)
    r, w = os.pipe()
    os.write(w, buf.getvalue() + b"next")
    try:
        with os.fdopen(r, "rb") as f:
            got = mle.load(f)
            np.testing.assert_array_equal(got["model"].predict(X), model.predict(X))
            if compress in (0, 3):  # exactly the file's bytes were read
                os.close(w)
                w = None
                assert f.read() == b"next"
    finally:
        if w is not None:
            os.close(w)


def test_a_socket_is_read_to_the_declared_length_only(iris_model):
    model, X = iris_model
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("localhost", 0))
    listener.listen(1)
    with socket.create_connection(listener.getsockname()) as client:
        server, _ = listener.accept()
        with server, server.makefile("wb") as sf:
            mle.dump(model, sf)
            mle.dump(X, sf)
            sf.flush()
            result = {}

            def read():
                with client.makefile("rb") as cf:
                    result["model"] = mle.load(cf)
                    result["X"] = mle.load(cf)

            t = threading.Thread(target=read, daemon=True)
            t.start()
            t.join(60)
            assert not t.is_alive(), "load waited for the end of the stream"
        np.testing.assert_array_equal(result["model"].predict(X), model.predict(X))
        np.testing.assert_array_equal(result["X"], X)
    listener.close()


# ------------------------------------------------------------------ joblib.load of an .mle file

def test_joblib_load_of_an_mle_file_says_what_it_is(iris_model, tmp_path):
    model, _ = iris_model
    mle.dump(model, tmp_path / "m.mle")  # joblib is imported: the guard is registered
    with pytest.raises(ValueError, match=r"an \.mle file .*mle_runtime\.load"):
        joblib.load(tmp_path / "m.mle")
    joblib.dump([1, 2], tmp_path / "j.pkl")  # joblib's own files are unaffected
    assert joblib.load(tmp_path / "j.pkl") == [1, 2]
    joblib.dump([1, 2], tmp_path / "j.pkl.gz")
    assert joblib.load(tmp_path / "j.pkl.gz") == [1, 2]


def test_the_guard_in_a_fresh_process(iris_model, tmp_path):
    model, _ = iris_model
    mle.dump(model, tmp_path / "m.mle")
    script = ("import sys, joblib, mle_runtime as mle\n"
              "mle.dump({'a': 1}, sys.argv[2])\n"
              "try:\n    joblib.load(sys.argv[1])\nexcept ValueError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path / "m.mle"),
                          str(tmp_path / "other.mle")], capture_output=True, text=True,
                         timeout=120)
    assert "this is an .mle file" in out.stdout, out.stderr


@pytest.mark.parametrize("ext", ["pkl", "pkl.gz", "pkl.xz"])
def test_compat_joblib_reads_both_kinds(ext, iris_model, tmp_path):
    model, X = iris_model
    theirs = tmp_path / f"j.{ext}"
    joblib.dump({"m": model}, theirs)
    ours = tmp_path / f"m.mle{ext[3:]}"
    compat_joblib.dump({"m": model}, ours)
    assert compression.detect(ours.read_bytes()) == compression.detect(theirs.read_bytes())
    for path in (theirs, ours):
        got = compat_joblib.load(path, allow_pickle=True)
        np.testing.assert_array_equal(got["m"].predict(X), model.predict(X))
        with open(path, "rb") as f:
            got = compat_joblib.load(f, allow_pickle=True)
        np.testing.assert_array_equal(got["m"].predict(X), model.predict(X))
    with pytest.raises(mle.FormatError, match="pickle"):
        compat_joblib.load(theirs)
    # a damaged .mle file is not handed to joblib, compressed or not
    bad = bytearray(gzip.decompress(ours.read_bytes()) if ext.endswith("gz") else
                    lzma.decompress(ours.read_bytes()) if ext.endswith("xz") else
                    ours.read_bytes())
    bad[-1] ^= 1
    (tmp_path / "bad.mle").write_bytes(bytes(bad))
    with pytest.raises(mle.FormatError, match="checksum"):
        compat_joblib.load(tmp_path / "bad.mle", allow_pickle=True)
    assert pickle.loads(pickle.dumps(1)) == 1
