"""Golden bytes of a signed file: the golden StandardScaler of test_golden.py (format 1.3) signed
with a fixed Ed25519 key (signing keeps the model file's version 1.3; the signature section is
the 1.1 addition) (Ed25519 signatures are deterministic), and an independent re-derivation of
the signed message as docs/FORMAT.md 16.3 defines it (a zeroed copy of the file)."""

import hashlib
import struct

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import mle_runtime as mle
from mle_runtime.format import crypto, writer
from mle_testing import scaler_model

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


def scaler_file():
    return writer.encode(*scaler_model())


PLAIN_SHA256 = "53e88d32b0d08a2ac0e0cfa27148ada61cbb5007a1bc978039eb6c18fa53b199"


def test_signed_golden_bytes():
    plain = scaler_file()
    assert hashlib.sha256(plain).hexdigest() == PLAIN_SHA256  # the golden file of test_golden.py
    signed = crypto.sign_file_bytes(plain, KEY)
    assert len(signed) == 648
    assert struct.unpack_from("<HH", signed, 8) == (1, 3)  # version 1.3 stays
    assert struct.unpack_from("<I", signed, 24)[0] == 4
    table = [struct.unpack_from("<IIQQII", signed, 64 + 32 * i) for i in range(4)]
    assert [(k, f, o, s) for k, f, o, s, _, _ in table] == [
        (1, 0, 192, 156), (2, 0, 352, 160), (3, 0, 512, 32), (6, 1, 544, 104)]
    # the sections' bytes are the plain file's, moved by one table entry
    assert signed[192:348] == plain[160:316] and signed[512:544] == plain[480:512]
    sig = signed[544:648]
    assert sig[:8] == b"ed25519\x00"
    assert sig[8:40] == hashlib.sha256(crypto.public_bytes(KEY.public_key())).digest()
    # independent derivation of the signed message: a copy with the four fields zeroed
    z = bytearray(signed)
    z[28:32] = bytes(4)
    z[60:64] = bytes(4)
    z[64 + 32 * 3 + 24:64 + 32 * 3 + 28] = bytes(4)
    z[544:648] = bytes(104)
    digest = hashlib.sha256(bytes(z)).digest()
    KEY.public_key().verify(sig[40:], b"mle-runtime ed25519 signature v1\x00" + digest)
    assert hashlib.sha256(signed).hexdigest() == GOLDEN_SIGNED_SHA256
    model = mle.load(__import__("io").BytesIO(signed), public_key=KEY.public_key())
    np.testing.assert_array_equal(model.transform(np.array([[3.0, 0.0]])), [[1.0, 4.0]])


GOLDEN_SIGNED_SHA256 = "03a24fcefacd040ee969f562b4a63825ae817d87a4e2208e4552ec92f2866d98"
