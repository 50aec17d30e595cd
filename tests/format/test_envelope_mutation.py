"""Hostile compressed, encrypted and signed files: random byte changes anywhere (checksums
left as they are) and inside the envelope, metadata and payload sections (checksums
recomputed, so the change reaches the envelope parser, the codecs, AES-GCM and the inner
file's loader) must be refused with FormatError / DecryptionError / SignatureError, or load a
model that predicts; nothing else may escape."""

import io

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier

import mle_runtime as mle
from mle_runtime import DecryptionError, FormatError, SignatureError, UnsupportedModelError
from mle_runtime.format import compression, container, envelope
from mle_runtime.format import crypto
from mle_runtime.format.budget import LoadBudget

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
AES = bytes(range(32))
ALLOWED = (FormatError, DecryptionError, SignatureError, UnsupportedModelError)
JSON_ALPHABET = b'{}[]",:0123456789-.eE truefalsnul\\/'


@pytest.fixture(scope="module")
def files():
    X, y = load_iris(return_X_y=True)
    model = RandomForestClassifier(n_estimators=4, max_depth=3, random_state=0).fit(X, y)
    out = {}
    for name, kw in {"zstd": {"compress": 3},
                     "aes": {"encryption_key": AES},
                     "aes+zstd": {"encryption_key": AES, "compress": 3},
                     "int8": {"quantize": "int8", "compress": 3},
                     "signed": {"sign_with": KEY}}.items():
        buf = io.BytesIO()
        mle.dump(model, buf, **kw)
        out[name] = (buf.getvalue(), kw)
    plain = io.BytesIO()
    mle.dump(model, plain)
    plain = plain.getvalue()
    meta = bytes(container.parse(plain).payload(container.parse(plain).find(1)))
    # envelopes with joblib's methods (written before 1.4 by compress=("zlib", 6) / "bz2";
    # now by dump only together with encryption)
    out["zlib"] = (envelope.seal(plain, meta, ("zlib", 6)), {})
    out["bz2"] = (envelope.seal(plain, meta, ("bz2", 3)), {})
    # joblib's layout (16.4): the compressor's stream of the plain file
    for method in compression.STREAM_METHODS:
        out[f"{method}-stream"] = (compression.compress(plain, method, 6), {})
    return out, X


def _load(data, kw):
    return mle.load(io.BytesIO(data), encryption_key=kw.get("encryption_key"),
                    public_key=KEY.public_key() if "sign_with" in kw else None)


def _check(data, kw, X, what):
    try:
        model = _load(data, kw)
    except ALLOWED:
        return "refused"
    except Exception as e:  # noqa: BLE001
        pytest.fail(f"{what}: {type(e).__name__}: {e}")
    try:
        if not hasattr(model, "predict"):  # the graph's output was renamed
            return "loaded"
        out = model.predict(X)
    except ALLOWED:
        return "refused"
    except Exception as e:  # noqa: BLE001
        pytest.fail(f"{what}: predict raised {type(e).__name__}: {e}")
    assert out.shape == (len(X),)
    return "loaded"


NAMES = ["zstd", "zlib", "bz2", "aes", "aes+zstd", "int8", "signed"]
STREAMS = [f"{m}-stream" for m in compression.STREAM_METHODS]


@pytest.mark.parametrize("name", STREAMS)
def test_stream_changes_with_valid_checksums(name, files):
    """A joblib-layout file whose inner file is changed (its checksums recomputed) and
    compressed again reaches the inner file's loader: refused or a model that predicts."""
    (data, kw), X = files[0][name], files[1]
    method = name.partition("-")[0]
    inner, _ = compression.restore_stream(io.BytesIO(data).read, method,
                                          LoadBudget(len(data)))
    c = container.parse(bytes(inner))
    rng = np.random.default_rng(200 + STREAMS.index(name))
    outcomes = {"refused": 0, "loaded": 0}
    for _ in range(150):
        s = c.sections[int(rng.integers(len(c.sections)))]
        payload = bytearray(c.payload(s))
        for _ in range(int(rng.integers(1, 4))):
            payload[int(rng.integers(len(payload)))] = int(rng.integers(256))
        bad = compression.compress(container.repack(c, replace={s.kind: bytes(payload)}),
                                   method, 1)
        outcomes[_check(bad, kw, X, f"{name} section {s.kind}")] += 1
    assert outcomes["refused"] > 0


@pytest.mark.parametrize("name", NAMES + STREAMS)
def test_random_byte_changes(name, files):
    (data, kw), X = files[0][name], files[1]
    rng = np.random.default_rng((NAMES + STREAMS).index(name))
    for _ in range(1000):
        bad = bytearray(data)
        for _ in range(int(rng.integers(1, 4))):
            bad[int(rng.integers(len(bad)))] = int(rng.integers(256))
        if bytes(bad) == data:
            continue
        _check(bytes(bad), kw, X, f"{name} random change")


@pytest.mark.parametrize("name", NAMES)
def test_hostile_changes_with_valid_checksums(name, files):
    (data, kw), X = files[0][name], files[1]
    c = container.parse(data)
    rng = np.random.default_rng(100 + NAMES.index(name))
    outcomes = {"refused": 0, "loaded": 0}
    for _ in range(800):
        s = c.sections[int(rng.integers(len(c.sections)))]
        payload = bytearray(c.payload(s))
        if not payload:
            continue
        for _ in range(int(rng.integers(1, 4))):
            p = int(rng.integers(len(payload)))
            if s.kind in (1, 4) and rng.random() < 0.6:
                payload[p] = JSON_ALPHABET[int(rng.integers(len(JSON_ALPHABET)))]
            else:
                payload[p] = int(rng.integers(256))
        bad = container.repack(c, replace={s.kind: bytes(payload)})
        if s.kind != 6 and "sign_with" in kw:  # re-sign, so the change reaches the parsers
            bad = crypto.sign_file_bytes(bad, KEY)
        outcomes[_check(bad, kw, X, f"{name} section {s.kind}")] += 1
    assert outcomes["refused"] > 0
