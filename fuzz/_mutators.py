"""Structure-aware mutations for the fuzz harnesses (libFuzzer custom mutators).

libFuzzer's byte mutations of a whole .mle file mostly break the section table or a checksum,
so the loader refuses them at once. These mutators take the file apart instead: they change one
section's payload (with libFuzzer's own mutation, or by editing its JSON), drop, duplicate or
re-label sections, decrypt (with the corpus's key) and decompress an envelope's payload to
mutate the file inside and compress and encrypt it again, and pack everything back with valid
offsets and checksums. ``mutate_bytes`` is
``atheris.Mutate`` (passed in, so this module works without atheris).
"""

import bz2
import copy
import gzip
import json
import lzma
import struct
import zlib

_HEADER = struct.Struct("<8sHHIQII28sI")
_ENTRY = struct.Struct("<IIQQII")
MAGIC = b"\x89MLE\r\n\x1a\n"
_META, _GRAPH, _DATA, _ENVELOPE, _PAYLOAD, _VALUE, _MODEL = 1, 2, 3, 4, 5, 7, 8
_JSON_KINDS = (_META, _GRAPH, _ENVELOPE, _VALUE)
_MAX_INNER = 1 << 20  # decompressed payloads larger than this are mutated as bytes

INTERESTING_NUMBERS = (0, 1, -1, 2, 3, 7, 64, 255, 256, 65535, 1 << 24, (1 << 31) - 1, 1 << 31,
                       (1 << 32) - 1, 1 << 32, (1 << 63) - 1, 1 << 63, 1 << 64, -(1 << 31),
                       -(1 << 63), 1e308, -0.0, 0.5, 1e-320)
INTERESTING_STRINGS = ("", "ref", "list", "tuple", "dict", "set", "frozenset", "array",
                       "objarray", "model", "pickle", "bytes", "scalar", "pd.frame",
                       "pd.series", "pd.range", "pd.index", "pd.interval", "pd.cat", "<f8",
                       "<f4", "<i8", "|u1", "|b1", "|O", "<U500000000", "<M8[ns]", "f4", "f8",
                       "i4", "i8", "u1", "u4", "TreeEnsemble", "Linear", "SubDiv", "zstd",
                       "zlib", "bz2", "lzma", "X", "UTC", "Europe/Paris", "..", "/etc")


# ------------------------------------------------------------------------------ JSON

def _nodes(doc):
    """Every (parent, key) slot of ``doc`` (lists and dicts), depth first."""
    out, stack = [], [doc]
    while stack and len(out) < 5000:
        obj = stack.pop()
        if isinstance(obj, dict):
            for k, v in obj.items():
                out.append((obj, k))
                stack.append(v)
        elif isinstance(obj, list):
            for i, v in enumerate(obj):
                out.append((obj, i))
                stack.append(v)
    return out


def mutate_json(text, rng):
    """``text`` (JSON bytes) with one node changed: replaced by an interesting number or
    string, by a copy of another node (references, repeated subtrees), by an empty container,
    wrapped in a list, or removed. Not JSON: returned unchanged (None)."""
    try:
        doc = json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    slots = _nodes(doc)
    if not slots:
        return None
    parent, key = rng.choice(slots)
    r = rng.random()
    if r < 0.25:
        parent[key] = rng.choice(INTERESTING_NUMBERS)
    elif r < 0.4:
        parent[key] = rng.choice(INTERESTING_STRINGS)
    elif r < 0.6:
        other_parent, other_key = rng.choice(slots)
        parent[key] = copy.deepcopy(other_parent[other_key])
    elif r < 0.7:
        parent[key] = rng.choice(([], {}, None, True, [parent[key]] * rng.randint(2, 20)))
    elif r < 0.8:
        parent[key] = [parent[key]]
    elif r < 0.9 and isinstance(parent[key], int) and not isinstance(parent[key], bool):
        parent[key] += rng.choice((-1, 1, -2, 2, 1 << 20))
    else:
        del parent[key]
    try:
        return json.dumps(doc, separators=(",", ":")).encode()
    except (ValueError, RecursionError):
        return None


# ------------------------------------------------------------------------------ containers

def sections_of(data):
    """``(minor, [[kind, flags, payload], ...])`` of an .mle file whose section table lies in
    the file, or None."""
    if len(data) < 64 or data[:8] != MAGIC:
        return None
    minor, count = _HEADER.unpack_from(data, 0)[2], _HEADER.unpack_from(data, 0)[5]
    if not 0 < count <= 64 or 64 + 32 * count > len(data):
        return None
    out = []
    for i in range(count):
        kind, flags, offset, size, _crc, _res = _ENTRY.unpack_from(data, 64 + 32 * i)
        if offset > len(data) or size > len(data) - offset:
            return None
        out.append([kind, flags, bytes(data[offset:offset + size])])
    return minor, out


def pack(minor, sections):
    """The bytes of a file of ``sections`` (tensor data and models 64-byte aligned), every
    checksum valid."""
    from mle_runtime.format import writer

    return writer.pack_sections([(k, p, 64 if k in (_DATA, _MODEL) else 8, f)
                                 for k, f, p in sections], minor=minor)


def _zstd_decompress(b):
    import io

    import zstandard

    return zstandard.ZstdDecompressor().stream_reader(io.BytesIO(b)).read(_MAX_INNER + 1)


def _zstd_compress(b):
    import zstandard

    return zstandard.ZstdCompressor(level=1).compress(b)


# method: (decompress at most _MAX_INNER + 1 bytes, compress)
_CODECS = {
    "zstd": (_zstd_decompress, _zstd_compress),
    "zlib": (lambda b: zlib.decompressobj().decompress(b, _MAX_INNER + 1),
             lambda b: zlib.compress(b, 1)),
    "gzip": (lambda b: zlib.decompressobj(wbits=31).decompress(b, _MAX_INNER + 1),
             lambda b: gzip.compress(b, 1, mtime=0)),
    "bz2": (lambda b: bz2.BZ2Decompressor().decompress(b, _MAX_INNER + 1),
            lambda b: bz2.compress(b, 1)),
    "lzma": (lambda b: lzma.LZMADecompressor().decompress(b, _MAX_INNER + 1),
             lambda b: lzma.compress(b, format=lzma.FORMAT_ALONE)),
    "xz": (lambda b: lzma.LZMADecompressor().decompress(b, _MAX_INNER + 1),
           lambda b: lzma.compress(b, format=lzma.FORMAT_XZ)),
}


def _mutate_envelope(sections, i, rng, mutate_bytes):
    """Mutates the file inside an envelope's payload section ``i``: decrypted (when encrypted
    with the corpus's key), decompressed (when compressed), mutated as a container, then
    compressed and encrypted again; ``inner_size`` follows (mostly). False when the payload
    cannot be opened."""
    env_section = next((s for s in sections if s[0] == _ENVELOPE), None)
    meta_section = next((s for s in sections if s[0] == _META), None)
    try:
        env = json.loads(env_section[2]) if env_section is not None else None
    except (UnicodeDecodeError, ValueError, RecursionError):
        env = None
    if not isinstance(env, dict):
        return False
    payload = sections[i][2]
    enc = env.get("encryption")
    if enc is not None:
        try:
            payload = _aes(enc, meta_section[2], env_section[2]).decrypt(
                bytes.fromhex(enc["nonce"]), payload,
                _aad(meta_section[2], env_section[2]))
        except Exception:  # noqa: BLE001 - not our key, or already damaged
            return False
    comp = env.get("compression")
    method = comp.get("method") if isinstance(comp, dict) else None
    codec = _CODECS.get(method) if method is not None else None
    if comp is not None and codec is None:
        return False
    try:
        inner = codec[0](payload) if codec else payload
    except Exception:  # noqa: BLE001 - a payload the codec refuses: mutate it as bytes
        return False
    if len(inner) > _MAX_INNER:
        return False
    inner = mutate_container(inner, _MAX_INNER, rng, mutate_bytes)
    payload = codec[1](inner) if codec else inner
    if rng.random() < 0.9:
        env["inner_size"] = len(inner)
        env_section[2] = json.dumps(env, separators=(",", ":")).encode()
    if enc is not None:
        payload = _aes(enc, meta_section[2], env_section[2]).encrypt(
            bytes.fromhex(enc["nonce"]), payload, _aad(meta_section[2], env_section[2]))
    sections[i][2] = payload
    return True


def _aes(enc, meta, env):
    """AES-GCM with the corpus's key (``_common.AES_KEY``) for envelopes encrypted with a key
    (not a passphrase)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    import _common

    if not isinstance(enc, dict) or not isinstance(enc.get("kdf"), dict) or \
            enc["kdf"].get("name") != "none":
        raise ValueError("not encrypted with a key")
    return AESGCM(_common.AES_KEY)


def _aad(meta, env):
    from mle_runtime.format import crypto

    return crypto._aad(meta, env)


def mutate_container(data, max_size, rng, mutate_bytes):
    """One structure-aware mutation of the .mle file ``data`` (libFuzzer's byte mutation when
    ``data`` is not a readable container, and now and then anyway)."""
    parsed = sections_of(data)
    if parsed is None or rng.random() < 0.2:
        return mutate_bytes(data, max_size)
    minor, sections = parsed
    r = rng.random()
    if r < 0.05 and len(sections) > 1:
        del sections[rng.randrange(len(sections))]
    elif r < 0.1:
        s = rng.choice(sections)
        sections.insert(rng.randrange(len(sections) + 1), list(s))
    elif r < 0.13:
        s = rng.choice(sections)
        s[0] = rng.randint(0, 10)
    elif r < 0.15:
        rng.choice(sections)[1] ^= 1  # the optional flag
    elif r < 0.17:
        minor = rng.randint(0, 4)
    else:
        i = rng.randrange(len(sections))
        kind, _flags, payload = sections[i]
        done = False
        if kind == _MODEL:
            sections[i][2] = mutate_container(payload, max_size, rng, mutate_bytes)
            done = True
        elif kind == _PAYLOAD and rng.random() < 0.7:
            done = _mutate_envelope(sections, i, rng, mutate_bytes)
        elif kind in _JSON_KINDS and rng.random() < 0.5:
            text = mutate_json(payload, rng)
            if text is not None:
                sections[i][2] = text
                done = True
        if not done:
            sections[i][2] = mutate_bytes(payload, max(len(payload) * 2, 64))
    out = pack(minor, sections)
    return out if len(out) <= max_size else mutate_bytes(data, max_size)
