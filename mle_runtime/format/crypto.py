"""Signing (Ed25519) and encryption (AES-256-GCM, scrypt for passphrases) of .mle files.

All cryptography comes from the ``cryptography`` package, imported only when a file is
signed, verified, encrypted or decrypted. See docs/FORMAT.md, section 16, for the bytes.

What a signature covers: every byte of the file except the signature section's own bytes and
the three checksum fields derived from the rest (the signature entry's ``crc``, the header's
``table_crc`` and ``header_crc``), which are set to zero for signing. Those exceptions are
each verified by a checksum, so a change to any byte of a signed file is detected: as a
``SignatureError`` or as a checksum ``FormatError``.
"""

import hashlib
import os

from mle_runtime.errors import (DecryptionError, FormatError, MissingDependencyError,
                                SignatureError)
from mle_runtime.format import container as C
from mle_runtime.format import layout as L
from mle_runtime.format.writer import encode_json

SIGNATURE_TAG = b"ed25519\x00"
_SIGNED_PREFIX = b"mle-runtime ed25519 signature v1\x00"
_AAD_PREFIX = b"mle-runtime envelope v1\x00"
KEY_SIZE = 32
NONCE_SIZE = 12
# scrypt parameters written for passphrases (32 MiB of memory), and the bounds a file's
# parameters must respect (a hostile file must not make a load take unbounded memory/time).
SCRYPT_N, SCRYPT_R, SCRYPT_P = 1 << 15, 8, 1
_SCRYPT_MAX_MEM = 1 << 30


def require_cryptography(what):
    """Raises :class:`~mle_runtime.MissingDependencyError` naming the extra to install when
    the ``cryptography`` package is missing."""
    try:
        import cryptography  # noqa: F401
    except ImportError:
        raise MissingDependencyError(
            f"{what} needs the 'cryptography' package, which is not installed: pip install "
            "'mle_runtime[security]'", name="cryptography") from None


# ------------------------------------------------------------------------------- keys

def generate_private_key():
    """A new Ed25519 private key (a ``cryptography`` key object)."""
    require_cryptography("key generation")
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.generate()


def _read_key_source(obj):
    if isinstance(obj, os.PathLike):
        with open(obj, "rb") as f:
            return f.read()
    if isinstance(obj, str):
        s = obj.strip()
        if s.startswith("-----BEGIN") or s.startswith("ssh-ed25519 "):
            return s.encode()
        with open(obj, "rb") as f:
            return f.read()
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return bytes(obj)
    return None


def load_private_key(obj):
    """An Ed25519 private key from a key object, PEM (PKCS#8 or OpenSSH) or DER bytes, the
    32 raw bytes, or a path to a file holding one of these forms."""
    require_cryptography("signing")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if isinstance(obj, Ed25519PrivateKey):
        return obj
    data = _read_key_source(obj)
    if data is None:
        raise TypeError(f"expected an Ed25519 private key (key object, PEM/DER/raw bytes or a "
                        f"file path), got {type(obj).__name__}")
    try:
        if len(data) == KEY_SIZE:
            return Ed25519PrivateKey.from_private_bytes(data)
        if data.lstrip().startswith(b"-----BEGIN OPENSSH"):
            key = serialization.load_ssh_private_key(data, password=None)
        elif data.lstrip().startswith(b"-----BEGIN"):
            key = serialization.load_pem_private_key(data, password=None)
        else:
            key = serialization.load_der_private_key(data, password=None)
    except (ValueError, TypeError) as e:
        raise ValueError(f"cannot read an Ed25519 private key: {e}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"the private key is {type(key).__name__}, not Ed25519")
    return key


def load_public_key(obj):
    """An Ed25519 public key from a key object (a private key gives its public half), PEM,
    OpenSSH (``ssh-ed25519 ...``) or DER bytes, the 32 raw bytes, or a path to such a file."""
    require_cryptography("signature verification")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (Ed25519PrivateKey,
                                                                   Ed25519PublicKey)

    if isinstance(obj, Ed25519PublicKey):
        return obj
    if isinstance(obj, Ed25519PrivateKey):
        return obj.public_key()
    data = _read_key_source(obj)
    if data is None:
        raise TypeError(f"expected an Ed25519 public key (key object, PEM/DER/OpenSSH/raw bytes "
                        f"or a file path), got {type(obj).__name__}")
    try:
        if len(data) == KEY_SIZE:
            return Ed25519PublicKey.from_public_bytes(data)
        s = data.lstrip()
        if s.startswith(b"ssh-ed25519 "):
            key = serialization.load_ssh_public_key(s)
        elif s.startswith(b"-----BEGIN PUBLIC"):
            key = serialization.load_pem_public_key(s)
        elif s.startswith(b"-----BEGIN"):  # a private key file: use its public half
            return load_private_key(data).public_key()
        else:
            key = serialization.load_der_public_key(data)
    except (ValueError, TypeError) as e:
        raise ValueError(f"cannot read an Ed25519 public key: {e}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"the public key is {type(key).__name__}, not Ed25519")
    return key


def public_bytes(public_key):
    """The 32 raw bytes of an Ed25519 public key."""
    from cryptography.hazmat.primitives import serialization

    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def fingerprint(public_key):
    """``"sha256:<hex>"`` of the raw public key: how files and messages name a key."""
    return "sha256:" + hashlib.sha256(public_bytes(public_key)).hexdigest()


def private_pem(private_key):
    from cryptography.hazmat.primitives import serialization

    return private_key.private_bytes(serialization.Encoding.PEM,
                                     serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption())


def public_pem(public_key):
    from cryptography.hazmat.primitives import serialization

    return public_key.public_bytes(serialization.Encoding.PEM,
                                   serialization.PublicFormat.SubjectPublicKeyInfo)


# ------------------------------------------------------------------------------- signatures

def signed_digest(container, sig):
    """SHA-256 of the file with the signature section's bytes, its entry's crc, table_crc and
    header_crc set to zero (docs/FORMAT.md, 16.3)."""
    mv = memoryview(container.data).cast("B")
    h = hashlib.sha256()
    zero = bytes(L.CRC_SIZE)
    h.update(mv[:L.HEADER_TABLE_CRC])
    h.update(zero)
    h.update(mv[L.HEADER_TABLE_CRC + L.CRC_SIZE:L.HEADER_CRC])
    h.update(zero)
    entry_crc = L.HEADER_SIZE + L.SECTION_ENTRY_SIZE * sig.index + L.ENTRY_CRC
    h.update(mv[L.HEADER_SIZE:entry_crc])
    h.update(zero)
    h.update(mv[entry_crc + L.CRC_SIZE:sig.offset])
    h.update(bytes(sig.size))
    h.update(mv[sig.end:])
    return h.digest()


def sign_file_bytes(data, private_key):
    """The bytes of ``data`` (an .mle file, plain or envelope) with an Ed25519 signature
    section added (an existing signature is replaced)."""
    key = load_private_key(private_key)
    c = C.parse(data)
    unsigned = C.repack(c, drop=(L.SECTION_SIGNATURE,),
                        append=[(L.SECTION_SIGNATURE, bytes(L.SIGNATURE_SIZE),
                                 L.SECTION_OPTIONAL)])
    c2 = C.parse(unsigned, verify=())
    sig = c2.find(L.SECTION_SIGNATURE)
    signature = key.sign(_SIGNED_PREFIX + signed_digest(c2, sig))
    fp = hashlib.sha256(public_bytes(key.public_key())).digest()
    payload = SIGNATURE_TAG + fp + signature
    assert len(payload) == L.SIGNATURE_SIZE
    return C.repack(c2, replace={L.SECTION_SIGNATURE: payload})


def signature_info(container):
    """``None`` for an unsigned file, else ``{"algorithm", "key_fingerprint"}`` (unverified)."""
    sig = container.find(L.SECTION_SIGNATURE)
    if sig is None:
        return None
    payload = bytes(container.payload(sig))
    if sig.size != L.SIGNATURE_SIZE or payload[:8] != SIGNATURE_TAG:
        raise FormatError("the signature section is malformed (expected an Ed25519 signature "
                          f"of {L.SIGNATURE_SIZE} bytes)")
    return {"algorithm": "ed25519", "key_fingerprint": "sha256:" + payload[8:40].hex()}


def verify(container, public_key):
    """Checks ``container``'s signature against ``public_key``; raises ``SignatureError``
    when the file is unsigned, signed by another key, or modified since signing."""
    key = load_public_key(public_key)
    info = signature_info(container)
    if info is None:
        raise SignatureError("the file is not signed, but a signature is required; sign it "
                             "with `mle sign` or mle_runtime.sign_file()")
    expected = fingerprint(key)
    if info["key_fingerprint"] != expected:
        raise SignatureError(f"the file was signed by another key ({info['key_fingerprint']}), "
                             f"not by the given public key ({expected})")
    from cryptography.exceptions import InvalidSignature

    sig = container.find(L.SECTION_SIGNATURE)
    signature = bytes(container.payload(sig))[40:]
    try:
        key.verify(signature, _SIGNED_PREFIX + signed_digest(container, sig))
    except InvalidSignature:
        raise SignatureError("the signature does not match the file's contents: the file was "
                             "modified after it was signed") from None
    return info


# ------------------------------------------------------------------------------- encryption

def _aad(meta_bytes, env):
    env = bytes(env)
    lengths = len(meta_bytes).to_bytes(8, "little") + len(env).to_bytes(8, "little")
    return _AAD_PREFIX + lengths + bytes(meta_bytes) + env


def _key_from(encryption_key, kdf, budget=None):
    """The 32-byte AES key for ``encryption_key`` under ``kdf`` (a dict from the envelope).
    ``budget``: the load's LoadBudget, charged with the memory scrypt will use."""
    if isinstance(encryption_key, str):
        if kdf.get("name") != "scrypt":
            raise DecryptionError("the file was encrypted with a 32-byte key, but a passphrase "
                                  "(str) was given")
        try:
            salt = bytes.fromhex(kdf["salt"])
            n, r, p = kdf["n"], kdf["r"], kdf["p"]
            ok = all(isinstance(v, int) and not isinstance(v, bool) for v in (n, r, p))
            ok = ok and 2 <= n <= 1 << 20 and n & (n - 1) == 0 and 1 <= r <= 32 and \
                1 <= p <= 16 and 128 * n * r * p <= _SCRYPT_MAX_MEM and 8 <= len(salt) <= 64
        except (KeyError, TypeError, ValueError):
            ok = False
        if not ok:
            raise FormatError("envelope: invalid or out-of-bounds scrypt parameters")
        if budget is not None:
            budget.charge(128 * n * r * p, "scrypt's memory for the passphrase")
        from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

        return Scrypt(salt=salt, length=KEY_SIZE, n=n, r=r, p=p).derive(
            encryption_key.encode("utf-8"))
    if isinstance(encryption_key, (bytes, bytearray, memoryview)):
        key = bytes(encryption_key)
        if len(key) != KEY_SIZE:
            raise ValueError(f"an encryption key must be {KEY_SIZE} bytes (got {len(key)}); pass "
                             "a passphrase as a str")
        if kdf.get("name") != "none":
            raise DecryptionError("the file was encrypted with a passphrase (str), but a "
                                  "32-byte key was given")
        return key
    raise TypeError(f"encryption_key must be 32 bytes or a passphrase str, got "
                    f"{type(encryption_key).__name__}")


def encrypt(plaintext, encryption_key, meta_bytes, env):
    """Encrypts ``plaintext`` in place of the payload; fills ``env["encryption"]`` and returns
    ``(ciphertext with its 16-byte tag, envelope JSON bytes)``. The metadata section and the
    envelope's bytes are bound to the ciphertext as associated data."""
    require_cryptography("encryption")
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if isinstance(encryption_key, str):
        if not encryption_key:
            raise ValueError("the passphrase is empty")
        kdf = {"name": "scrypt", "salt": os.urandom(16).hex(), "n": SCRYPT_N, "r": SCRYPT_R,
               "p": SCRYPT_P}
    else:
        kdf = {"name": "none"}
    key = _key_from(encryption_key, kdf)
    nonce = os.urandom(NONCE_SIZE)
    env["encryption"] = {"cipher": "AES-256-GCM", "nonce": nonce.hex(), "kdf": kdf}
    env_bytes = encode_json(env)
    return AESGCM(key).encrypt(nonce, bytes(plaintext), _aad(meta_bytes, env_bytes)), env_bytes


def decrypt(ciphertext, encryption_key, meta_bytes, env, env_bytes, *, budget=None):
    """The plaintext payload; ``DecryptionError`` for a wrong key or modified data. ``env`` is
    the parsed envelope, ``env_bytes`` its section's bytes. ``budget``: the load's
    :class:`~mle_runtime.format.budget.LoadBudget`, charged with scrypt's memory (for a
    passphrase) and the plaintext before either is allocated."""
    require_cryptography("decryption")
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    spec = env.get("encryption")
    if not isinstance(spec, dict) or spec.get("cipher") != "AES-256-GCM" or \
            not isinstance(spec.get("kdf"), dict) or not isinstance(spec.get("nonce"), str):
        raise FormatError("envelope: unknown or malformed encryption parameters")
    try:
        nonce = bytes.fromhex(spec["nonce"])
    except ValueError:
        nonce = b""
    if len(nonce) != NONCE_SIZE:
        raise FormatError("envelope: the AES-GCM nonce must be 12 bytes")
    key = _key_from(encryption_key, spec["kdf"], budget)
    if len(ciphertext) < 16:
        raise FormatError("envelope: the encrypted payload is shorter than its 16-byte tag")
    if budget is not None:
        budget.charge(len(ciphertext) - 16, "the decrypted payload")
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, _aad(meta_bytes, env_bytes))
    except InvalidTag:
        raise DecryptionError("cannot decrypt the model: wrong key or passphrase, or the "
                              "encrypted file was modified") from None
