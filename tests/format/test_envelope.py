"""Compressed files (envelopes, docs/FORMAT.md section 16): joblib's ``compress`` argument,
identical predictions, bounded and validated decompression of hostile payloads, and that a
plain load imports neither zstandard nor cryptography."""

import json
import struct
import subprocess
import sys

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

import mle_runtime as mle
from mle_runtime import FormatError
from mle_runtime.format import compression, container, envelope
from mle_runtime.format import layout as L
from mle_runtime.format.writer import encode_json, pack_sections


@pytest.fixture(scope="module")
def forest(request):
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    return RandomForestClassifier(n_estimators=30, random_state=0).fit(X, y), X


@pytest.mark.parametrize("compress", [1, 3, 9, True, "zstd", "zlib", "gzip", "bz2", "lzma",
                                      "xz", ("zlib", 9), ("zstd", 19), ("bz2", 1)])
def test_round_trip_identical_predictions(compress, forest, tmp_path, monkeypatch):
    model, X = forest
    # both files get the same creation time, so the stream can be compared byte for byte
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    plain, packed = tmp_path / "plain.mle", tmp_path / "packed.mle"
    mle.dump(model, plain)
    mle.dump(model, packed, compress=compress)
    assert packed.stat().st_size < plain.stat().st_size
    proxy = mle.load(packed, cache=False)
    np.testing.assert_array_equal(proxy.predict(X), model.predict(X))
    np.testing.assert_array_equal(proxy.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(proxy.predict_proba(X[:1].astype(np.float32)),
                                  model.predict_proba(X[:1].astype(np.float32)))
    info = mle.inspect_model(packed)
    method, level = compression.normalize(compress)
    if method == "zstd":  # mle_runtime's envelope
        assert info["compression"] == {"method": method, "level": level}
        assert info["format_version"] == "1.1"
    else:  # joblib's methods: joblib's layout, the compressor's stream of the plain file
        assert info["compression"] == {"method": method, "layout": "stream"}
        # the stream holds the plain file, so it reports the plain file's version
        assert info["format_version"] == mle.inspect_model(plain)["format_version"]
        assert packed.read_bytes() == compression.compress(plain.read_bytes(), method, level)
    assert info["uncompressed_size"] == plain.stat().st_size
    # mmap_mode is accepted and has no effect, as joblib does for compressed files
    np.testing.assert_array_equal(mle.load(packed, mmap_mode="r", cache=False).predict(X),
                                  model.predict(X))


def test_default_method_is_zstd_and_joblib_values(forest, tmp_path):
    assert compression.normalize(3) == ("zstd", 3)
    assert compression.normalize(True) == ("zstd", 3)
    assert compression.normalize("zlib") == ("zlib", 3)
    assert compression.normalize(("zlib", 0)) is None
    assert compression.normalize(0) is None and compression.normalize(False) is None
    model, _ = forest
    mle.dump(model, tmp_path / "m.mle", compress=3)
    data = (tmp_path / "m.mle").read_bytes()
    c = container.parse(data)
    assert [s.kind for s in c.sections] == [L.SECTION_META, L.SECTION_ENVELOPE,
                                            L.SECTION_PAYLOAD]
    assert bytes(c.payload(c.find(L.SECTION_PAYLOAD)))[:4] == b"\x28\xb5\x2f\xfd"  # zstd


def test_file_object_and_bytes(forest, tmp_path):
    import io

    model, X = forest
    buf = io.BytesIO()
    mle.dump(model, buf, compress=("zlib", 6))
    buf.seek(0)
    np.testing.assert_array_equal(mle.load(buf).predict(X), model.predict(X))


def test_plain_file_unchanged_format(forest, tmp_path):
    """Uncompressed, unsigned model files stay plain model files (no envelope sections):
    metadata, graph and tensor data, then the optional estimator record and its data
    (format 1.5: the record zlib-compressed)."""
    model, _ = forest
    mle.dump(model, tmp_path / "m.mle")
    data = (tmp_path / "m.mle").read_bytes()
    assert struct.unpack_from("<HH", data, 8) == (1, L.MINOR_ESTIMATOR_ZLIB)
    sections = container.parse(data).sections
    assert [s.kind for s in sections] == [1, 2, 3, L.SECTION_ESTIMATOR_ZLIB,
                                          L.SECTION_ESTIMATOR_DATA]
    assert [s.flags for s in sections] == [0, 0, 0, L.SECTION_OPTIONAL, L.SECTION_OPTIONAL]


def test_a_failed_compressed_dump_keeps_the_old_file(forest, tmp_path, monkeypatch):
    model, X = forest
    path = tmp_path / "m.mle"
    mle.dump(model, path)
    before = path.read_bytes()

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(compression, "compress", boom)
    with pytest.raises(RuntimeError):
        mle.dump(model, path, compress=3)
    assert path.read_bytes() == before


# ------------------------------------------------------------------ hostile envelopes

def _envelope(inner_size, payload, method="zstd", meta=b"{}", extra=None):
    env = {"inner_size": inner_size, "compression": {"method": method, "level": 3}}
    env.update(extra or {})
    return pack_sections([(L.SECTION_META, meta), (L.SECTION_ENVELOPE, encode_json(env)),
                          (L.SECTION_PAYLOAD, payload)], minor=1)


@pytest.mark.parametrize("method", compression.METHODS)
def test_zip_bomb_is_refused_without_expanding_it(method, tmp_path):
    # 256 MiB of zeros compress to a few KB; the envelope claims 1 KiB.
    bomb = compression.compress(bytes(1 << 28) if method == "zstd" else bytes(1 << 24),
                                method, 9)
    path = tmp_path / "bomb.mle"
    path.write_bytes(_envelope(1024, bomb, method))
    with pytest.raises(FormatError, match="more than 1024|expands to more|frame declares"):
        mle.load(path)


def test_declared_size_over_the_cap_is_refused(tmp_path):
    path = tmp_path / "big.mle"
    path.write_bytes(_envelope(compression.MAX_UNCOMPRESSED + 1, b"\x28\xb5\x2f\xfd"))
    with pytest.raises(FormatError, match="cap"):
        mle.load(path)


@pytest.mark.parametrize("bad", [
    {"inner_size": -1}, {"inner_size": "12"}, {"inner_size": 3}, {"inner_size": True},
    {"compression": "zstd"}, {"compression": {"method": "lz77"}}, {"compression": {}},
])
def test_malformed_envelope_fields(bad, forest, tmp_path):
    model, _ = forest
    inner = tmp_path / "inner.mle"
    mle.dump(model, inner)
    data = inner.read_bytes()
    env = {"inner_size": len(data), "compression": {"method": "zstd", "level": 3}}
    env.update(bad)
    path = tmp_path / "bad.mle"
    path.write_bytes(pack_sections([(L.SECTION_META, b"{}"),
                                    (L.SECTION_ENVELOPE, encode_json(env)),
                                    (L.SECTION_PAYLOAD, compression.compress(data, "zstd", 3))],
                                   minor=1))
    with pytest.raises(FormatError):
        mle.load(path)


@pytest.mark.parametrize("method", compression.METHODS)
def test_corrupt_or_truncated_streams(method, forest, tmp_path):
    model, _ = forest
    mle.dump(model, tmp_path / "inner.mle")
    data = (tmp_path / "inner.mle").read_bytes()
    packed = compression.compress(data, method, 3)
    rng = np.random.default_rng(0)
    cases = [packed[:len(packed) // 2], packed[:-1], packed + b"junk", b"", b"\x00" * 64]
    for _ in range(20):
        b = bytearray(packed)
        b[int(rng.integers(len(b)))] ^= 1 << int(rng.integers(8))
        cases.append(bytes(b))
    for payload in cases:
        path = tmp_path / "c.mle"
        path.write_bytes(_envelope(len(data), payload, method))
        try:
            proxy = mle.load(path, cache=False)
        except FormatError:
            continue
        # a flip the codec cannot see was caught by the inner file's checksums, or changed
        # nothing (e.g. an unused bit)
        assert proxy.predict(np.zeros((1, 30))).shape == (1,)


def test_inner_file_must_be_plain(forest, tmp_path):
    """An envelope inside an envelope is refused (no recursion at load)."""
    model, _ = forest
    mle.dump(model, tmp_path / "one.mle", compress=3)
    once = (tmp_path / "one.mle").read_bytes()
    path = tmp_path / "two.mle"
    path.write_bytes(_envelope(len(once), compression.compress(once, "zstd", 3)))
    with pytest.raises(FormatError, match="inside the envelope"):
        mle.load(path)


def test_unencrypted_envelope_metadata_is_readable(forest, tmp_path):
    model, _ = forest
    mle.dump(model, tmp_path / "m.mle", compress=3, metadata={"team": "risk"})
    meta = container.parse((tmp_path / "m.mle").read_bytes()).json(L.SECTION_META)
    assert meta["model_class"] == "sklearn.RandomForestClassifier"
    assert meta["user"] == {"team": "risk"}
    assert json.loads(encode_json(meta)) == meta


def test_describe(forest, tmp_path):
    model, _ = forest
    mle.dump(model, tmp_path / "m.mle", compress=("zstd", 5))
    c = container.parse((tmp_path / "m.mle").read_bytes())
    d = envelope.describe(c)
    assert d["compression"] == {"method": "zstd", "level": 5}
    assert d["payload_size"] < d["inner_size"]


LAZY_SCRIPT = r"""
import json, sys
import numpy as np
import mle_runtime as mle
m = mle.load(sys.argv[1])
m.predict(np.zeros((2, int(sys.argv[2]))))
print(json.dumps(sorted({k.split(".")[0] for k in sys.modules} & {"zstandard", "cryptography",
      "zlib", "bz2", "lzma"})))
"""


@pytest.mark.parametrize("compress", [0, 3])
def test_plain_load_imports_no_codec_or_crypto(compress, forest, tmp_path):
    model, X = forest
    path = tmp_path / "m.mle"
    mle.dump(model, path, compress=compress)
    proc = subprocess.run([sys.executable, "-c", LAZY_SCRIPT, str(path), str(X.shape[1])],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    imported = set(json.loads(proc.stdout.strip().splitlines()[-1]))
    assert "cryptography" not in imported
    if compress:
        assert "zstandard" in imported
    else:
        assert "zstandard" not in imported


def test_regressor_round_trip(tmp_path):
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    model = RandomForestRegressor(n_estimators=20, random_state=0).fit(X, y)
    mle.dump(model, tmp_path / "r.mle", compress=9)
    np.testing.assert_array_equal(mle.load(tmp_path / "r.mle").predict(X), model.predict(X))
