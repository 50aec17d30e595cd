"""AES-256-GCM encryption (docs/FORMAT.md 16.2): right key loads, wrong key or modified data
fails clearly, no plaintext weights, graph or model description appear in the file, and only
the documented metadata stays readable."""

import io
import json
import os

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

import mle_runtime as mle
from mle_runtime import DecryptionError, FormatError, SignatureError
from mle_runtime.format import container, crypto, envelope
from mle_runtime.format import layout as L


@pytest.fixture(scope="module")
def model():
    from sklearn.datasets import load_wine

    X, y = load_wine(return_X_y=True)
    return LogisticRegression(max_iter=5000).fit(X, y), X


KEY = bytes(range(32))


@pytest.fixture(autouse=True)
def fast_scrypt(monkeypatch):
    # scrypt's production cost (2^15) is for real passphrases; the format records the
    # parameters, so tests may use a cheaper setting without changing what is exercised.
    monkeypatch.setattr(crypto, "SCRYPT_N", 1 << 10)


@pytest.mark.parametrize("secret", [KEY, bytearray(KEY), "correct horse battery staple",
                                    "p\u00e4ssw\u00f6rd \u2713"])
@pytest.mark.parametrize("compress", [0, 3])
def test_round_trip(secret, compress, model, tmp_path):
    clf, X = model
    path = tmp_path / "m.mle"
    mle.dump(clf, path, encryption_key=secret, compress=compress)
    proxy = mle.load(path, encryption_key=secret)
    np.testing.assert_array_equal(proxy.predict(X), clf.predict(X))
    np.testing.assert_allclose(proxy.predict_proba(X), clf.predict_proba(X), rtol=0, atol=1e-9)
    proxy = mle.load(io.BytesIO(path.read_bytes()), encryption_key=secret)
    np.testing.assert_array_equal(proxy.predict(X), clf.predict(X))


def test_wrong_key_and_missing_key(model, tmp_path):
    clf, _ = model
    path = tmp_path / "m.mle"
    mle.dump(clf, path, encryption_key="right")
    with pytest.raises(DecryptionError, match="wrong key or passphrase"):
        mle.load(path, encryption_key="wrong")
    with pytest.raises(DecryptionError, match="passphrase"):
        mle.load(path, encryption_key=KEY)  # a raw key for a passphrase file
    with pytest.raises(DecryptionError, match="encrypted"):
        mle.load(path)
    mle.dump(clf, path, encryption_key=KEY)
    with pytest.raises(DecryptionError, match="wrong key"):
        mle.load(path, encryption_key=bytes(32))
    with pytest.raises(ValueError, match="32 bytes"):
        mle.load(path, encryption_key=b"short")
    assert isinstance(DecryptionError("x"), ValueError)


def test_key_for_a_plain_file_is_refused(model, tmp_path):
    """Otherwise a plain file swapped in for an encrypted one would load as if authenticated."""
    clf, _ = model
    for compress in (0, 3):
        path = tmp_path / "m.mle"
        mle.dump(clf, path, compress=compress)
        with pytest.raises(DecryptionError, match="not encrypted"):
            mle.load(path, encryption_key=KEY)


def test_modified_ciphertext_metadata_or_envelope(model, tmp_path):
    clf, _ = model
    path = tmp_path / "m.mle"
    mle.dump(clf, path, encryption_key=KEY)
    c = container.parse(path.read_bytes())
    payload = bytearray(c.payload(c.find(L.SECTION_PAYLOAD)))
    for i in (0, len(payload) // 2, len(payload) - 1):  # ciphertext and tag
        bad = bytearray(payload)
        bad[i] ^= 1
        data = container.repack(c, replace={L.SECTION_PAYLOAD: bytes(bad)})
        with pytest.raises(DecryptionError):
            mle.load(io.BytesIO(data), encryption_key=KEY)
    # the readable metadata is bound to the ciphertext (associated data)
    data = container.repack(c, replace={L.SECTION_META: b'{"mle_runtime_version":"9.9"}'})
    with pytest.raises(DecryptionError):
        mle.load(io.BytesIO(data), encryption_key=KEY)
    env = c.json(L.SECTION_ENVELOPE)
    env["inner_size"] += 0
    env["extra"] = 1
    data = container.repack(c, replace={L.SECTION_ENVELOPE: json.dumps(env).encode()})
    with pytest.raises(DecryptionError):
        mle.load(io.BytesIO(data), encryption_key=KEY)


@pytest.mark.parametrize("kdf", [{"name": "scrypt", "salt": "00" * 16, "n": 1 << 22, "r": 8,
                                  "p": 1},
                                 {"name": "scrypt", "salt": "00" * 16, "n": 1000, "r": 8,
                                  "p": 1},
                                 {"name": "scrypt", "salt": "zz", "n": 1024, "r": 8, "p": 1},
                                 {"name": "scrypt", "salt": "00" * 16, "n": 1024, "r": 8,
                                  "p": 10 ** 6}])
def test_hostile_scrypt_parameters(kdf, model, tmp_path):
    clf, _ = model
    path = tmp_path / "m.mle"
    mle.dump(clf, path, encryption_key="pw")
    c = container.parse(path.read_bytes())
    env = c.json(L.SECTION_ENVELOPE)
    env["encryption"]["kdf"] = kdf
    data = container.repack(c, replace={L.SECTION_ENVELOPE: json.dumps(env).encode()})
    with pytest.raises(FormatError, match="scrypt"):
        mle.load(io.BytesIO(data), encryption_key="pw")


def test_no_plaintext_in_the_file(tmp_path):
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    clf = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    plain, enc = tmp_path / "plain.mle", tmp_path / "enc.mle"
    mle.dump(clf, plain, metadata={"owner": "fraud-team-secret"})
    mle.dump(clf, enc, encryption_key=KEY, metadata={"owner": "fraud-team-secret"})
    data = enc.read_bytes()
    pc = container.parse(plain.read_bytes())
    # no 16-byte window of the tensor data or of the graph JSON appears in the encrypted file
    for kind in (L.SECTION_DATA, L.SECTION_GRAPH):
        blob = bytes(pc.payload(pc.find(kind)))
        hits = [i for i in range(0, len(blob) - 16, 8) if blob[i:i + 16] in data]
        assert not hits, f"section {kind}: plaintext found at {hits[:5]}"
    # nor do individual thresholds and leaf values, nor the description of the model
    thresholds = clf.estimators_[0].tree_.threshold
    for t in thresholds[thresholds != -2][:20]:
        assert np.float64(t).tobytes() not in data
    for word in (b"RandomForest", b"TreeEnsemble", b"sklearn", b"fraud-team-secret",
                 b"content_hash", b"classes"):
        assert word not in data
    readable = container.parse(data).json(L.SECTION_META)
    assert set(readable) == set(envelope.PUBLIC_KEYS) | {"encrypted"}
    info = mle.inspect_model(enc)
    assert info["encryption"]["cipher"] == "AES-256-GCM" and info["model_class"] is None
    assert info["graph"] is None
    full = mle.inspect_model(enc, encryption_key=KEY)
    assert full["model_class"] == "sklearn.RandomForestClassifier"
    assert full["user_metadata"] == {"owner": "fraud-team-secret"}


def test_encrypted_and_signed(model, tmp_path):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    clf, X = model
    key = Ed25519PrivateKey.generate()
    path = tmp_path / "m.mle"
    mle.dump(clf, path, encryption_key=KEY, sign_with=key, compress=3)
    # the signature is checked before anything is decrypted, and without the AES key
    assert mle.verify_file(path, key.public_key())["algorithm"] == "ed25519"
    proxy = mle.load(path, public_key=key.public_key(), encryption_key=KEY)
    np.testing.assert_array_equal(proxy.predict(X), clf.predict(X))
    with pytest.raises(SignatureError):
        mle.load(path, public_key=Ed25519PrivateKey.generate().public_key(),
                 encryption_key=KEY)


def test_nonces_and_salts_are_fresh(model, tmp_path):
    clf, _ = model
    seen = set()
    for i in range(3):
        path = tmp_path / f"m{i}.mle"
        mle.dump(clf, path, encryption_key="pw")
        enc = container.parse(path.read_bytes()).json(L.SECTION_ENVELOPE)["encryption"]
        seen.add((enc["nonce"], enc["kdf"]["salt"]))
    assert len(seen) == 3


def test_bad_key_types_at_dump(model, tmp_path):
    clf, _ = model
    with pytest.raises(ValueError, match="32 bytes"):
        mle.dump(clf, tmp_path / "m.mle", encryption_key=os.urandom(16))
    with pytest.raises(TypeError):
        mle.dump(clf, tmp_path / "m.mle", encryption_key=1234)
    with pytest.raises(ValueError, match="empty"):
        mle.dump(clf, tmp_path / "m.mle", encryption_key="")
    assert not (tmp_path / "m.mle").exists()
