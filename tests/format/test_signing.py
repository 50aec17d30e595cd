"""Ed25519 signatures (docs/FORMAT.md 16.3): every byte of a signed file is covered (each
single-byte change is detected), other keys and unsigned files are refused when a signature is
required, keys load from the standard forms, and signing afterwards equals signing at dump."""

import io

import numpy as np
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sklearn.linear_model import LogisticRegression

import mle_runtime as mle
from mle_runtime import FormatError, SignatureError
from mle_runtime.format import container, crypto
from mle_runtime.format import layout as L


@pytest.fixture(scope="module")
def small():
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    return LogisticRegression(max_iter=500).fit(X, y), X


@pytest.fixture(scope="module")
def keys():
    return Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()


@pytest.mark.parametrize("compress", [0, 3])
def test_every_single_byte_change_is_detected(compress, small, keys, tmp_path):
    model, X = small
    key, _ = keys
    buf = io.BytesIO()
    mle.dump(model, buf, compress=compress, sign_with=key)
    data = buf.getvalue()
    pub = key.public_key()
    np.testing.assert_array_equal(mle.load(io.BytesIO(data), public_key=pub).predict(X),
                                  model.predict(X))
    outcomes = {"signature": 0, "checksum": 0}
    for i in range(len(data)):
        for flip in (0x01, 0x80, 0xFF):
            bad = bytearray(data)
            bad[i] ^= flip
            try:
                mle.load(io.BytesIO(bytes(bad)), public_key=pub)
            except SignatureError:
                outcomes["signature"] += 1
            except FormatError:
                outcomes["checksum"] += 1
            else:
                pytest.fail(f"changing byte {i} of {len(data)} (xor {flip:#x}) went undetected")
    assert outcomes["signature"] > 0 and outcomes["checksum"] > 0
    assert sum(outcomes.values()) == 3 * len(data)


def test_padding_is_covered(small, keys):
    """Padding has no checksum in format 1.0; in a signed file the signature covers it."""
    model, _ = small
    buf = io.BytesIO()
    mle.dump(model, buf, sign_with=keys[0])
    data = buf.getvalue()
    c = container.parse(data)
    covered = set(range(L.HEADER_SIZE + 32 * len(c.sections)))
    for s in c.sections:
        covered |= set(range(s.offset, s.end))
    padding = [i for i in range(len(data)) if i not in covered]
    assert padding, "the test needs a file with padding"
    for i in padding:
        bad = bytearray(data)
        bad[i] = 0x55
        assert mle.load(io.BytesIO(data)).predict  # unsigned readers ignore padding
        with pytest.raises(SignatureError, match="modified"):
            mle.load(io.BytesIO(bytes(bad)), public_key=keys[0].public_key())


def test_other_key_refused(small, keys, tmp_path):
    model, _ = small
    path = tmp_path / "m.mle"
    mle.dump(model, path, sign_with=keys[0])
    with pytest.raises(SignatureError, match="another key"):
        mle.load(path, public_key=keys[1].public_key())
    with pytest.raises(SignatureError):
        mle.verify_file(path, keys[1].public_key())
    assert mle.verify_file(path, keys[0].public_key())["algorithm"] == "ed25519"


def test_unsigned_refused_when_required(small, keys, tmp_path):
    model, X = small
    path = tmp_path / "m.mle"
    mle.dump(model, path)
    pub = keys[0].public_key()
    with pytest.raises(SignatureError, match="not signed"):
        mle.load(path, public_key=pub)
    with pytest.raises(SignatureError, match="not signed"):
        mle.load(path, public_key=pub, require_signature=True)
    # explicitly optional: accepted when unsigned ...
    np.testing.assert_array_equal(
        mle.load(path, public_key=pub, require_signature=False).predict(X), model.predict(X))
    # ... but a signature that is present is still checked
    mle.dump(model, path, sign_with=keys[1])
    with pytest.raises(SignatureError):
        mle.load(path, public_key=pub, require_signature=False)
    with pytest.raises(ValueError, match="public_key"):
        mle.load(path, require_signature=True)


def test_stripping_the_signature_is_detected(small, keys, tmp_path):
    model, _ = small
    path = tmp_path / "m.mle"
    mle.dump(model, path, sign_with=keys[0])
    c = container.parse(path.read_bytes())
    stripped = container.repack(c, drop=(L.SECTION_SIGNATURE,))
    with pytest.raises(SignatureError, match="not signed"):
        mle.load(io.BytesIO(stripped), public_key=keys[0].public_key())


def test_signed_file_loads_without_a_key(small, keys, tmp_path):
    """The signature section is optional: readers that do not verify skip it."""
    model, X = small
    path = tmp_path / "m.mle"
    mle.dump(model, path, sign_with=keys[0])
    np.testing.assert_array_equal(mle.load(path).predict(X), model.predict(X))
    info = mle.inspect_model(path)
    assert info["signature"]["verified"] is False
    assert info["signature"]["key_fingerprint"] == crypto.fingerprint(keys[0].public_key())
    assert mle.inspect_model(path, public_key=keys[0].public_key())["signature"]["verified"]


def test_sign_afterwards_equals_sign_at_dump(small, keys, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    model, X = small
    a, b = tmp_path / "a.mle", tmp_path / "b.mle"
    mle.dump(model, a, sign_with=keys[0])
    mle.dump(model, b)
    fp = mle.sign_file(b, keys[0])
    assert fp == crypto.fingerprint(keys[0].public_key())
    assert a.read_bytes() == b.read_bytes()  # Ed25519 signatures are deterministic
    # re-signing with another key replaces the signature
    mle.sign_file(b, keys[1])
    # the model's sections (with its estimator record) and one signature
    assert len(container.parse(b.read_bytes()).sections) == \
        len(container.parse(a.read_bytes()).sections)
    mle.load(b, public_key=keys[1].public_key())
    with pytest.raises(SignatureError):
        mle.load(b, public_key=keys[0].public_key())


def test_key_forms(small, keys, tmp_path):
    model, X = small
    key = keys[0]
    pub = key.public_key()
    priv_forms = [
        key,
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                          serialization.NoEncryption()),
        key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                          serialization.NoEncryption()),
        key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                          serialization.NoEncryption()),
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                          serialization.NoEncryption()),
    ]
    pub_forms = [
        pub, key,
        pub.public_bytes(serialization.Encoding.PEM,
                         serialization.PublicFormat.SubjectPublicKeyInfo),
        pub.public_bytes(serialization.Encoding.DER,
                         serialization.PublicFormat.SubjectPublicKeyInfo),
        pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw),
        pub.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH),
        pub.public_bytes(serialization.Encoding.PEM,
                         serialization.PublicFormat.SubjectPublicKeyInfo).decode(),
    ]
    key_file = tmp_path / "key.pem"
    key_file.write_bytes(priv_forms[1])
    pub_file = tmp_path / "key.pub"
    pub_file.write_bytes(pub_forms[2])
    priv_forms += [key_file, str(key_file)]
    pub_forms += [pub_file, str(pub_file)]
    path = tmp_path / "m.mle"
    for form in priv_forms:
        mle.dump(model, path, sign_with=form)
        for pform in pub_forms:
            np.testing.assert_array_equal(mle.load(path, public_key=pform).predict(X[:3]),
                                          model.predict(X[:3]))


@pytest.mark.parametrize("bad", [b"short", "not-a-file-or-key", 42, b"-----BEGIN PUBLIC KEY-----"])
def test_bad_keys(bad, small, tmp_path):
    model, _ = small
    with pytest.raises((ValueError, TypeError, OSError)):
        mle.dump(model, tmp_path / "m.mle", sign_with=bad)
    assert not (tmp_path / "m.mle").exists()


def test_non_ed25519_key_refused(small, tmp_path):
    from cryptography.hazmat.primitives.asymmetric import ec

    model, _ = small
    k = ec.generate_private_key(ec.SECP256R1())
    pem = k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                          serialization.NoEncryption())
    with pytest.raises(ValueError, match="Ed25519"):
        mle.dump(model, tmp_path / "m.mle", sign_with=pem)


def test_malformed_signature_section(small, keys):
    model, _ = small
    buf = io.BytesIO()
    mle.dump(model, buf, sign_with=keys[0])
    c = container.parse(buf.getvalue())
    for payload in (b"rsa\x00\x00\x00\x00\x00" + bytes(96), bytes(104)):
        data = container.repack(c, replace={L.SECTION_SIGNATURE: payload})
        with pytest.raises(FormatError, match="signature section"):
            mle.load(io.BytesIO(data), public_key=keys[0].public_key())
    data = container.repack(c, replace={L.SECTION_SIGNATURE: bytes(50)})
    with pytest.raises(FormatError):
        mle.load(io.BytesIO(data), public_key=keys[0].public_key())
