"""Envelopes: .mle files whose model is compressed and/or encrypted (docs/FORMAT.md, 16.2).

An envelope is itself a valid container holding a metadata section (readable without
decompressing or decrypting), an envelope section (JSON: how the payload was transformed and
its size once restored) and a payload section (the *inner* file: a complete plain .mle file,
compressed, then encrypted). Loading restores the inner bytes once, in memory, and hands them
to the native loader, which validates them as any other file; an inner file that is itself an
envelope, or is signed, is refused. What restoring costs is charged to the load's budget
before it is allocated (docs/FORMAT.md, section 18).
"""

import json

from mle_runtime.errors import DecryptionError, FormatError
from mle_runtime.format import compression, container, crypto, quantization
from mle_runtime.format import layout as L
from mle_runtime.format.budget import LoadBudget
from mle_runtime.format.writer import encode_json, pack_sections

# The metadata keys an encrypted file keeps readable; everything else is encrypted.
PUBLIC_KEYS = ("mle_runtime_version", "created")
# Bytes of Python objects one byte of JSON may parse into (at most 26: "[{},{},...]" gives a
# 64-byte dict and an 8-byte list slot per 3 bytes, besides the decoded text).
JSON_COST = 32


def seal(inner, meta_bytes, compress=None, encryption_key=None, quantization=None):
    """The bytes of an envelope around ``inner`` (a plain .mle file).

    ``meta_bytes``: the inner file's metadata JSON; an unencrypted envelope repeats it, an
    encrypted one keeps only :data:`PUBLIC_KEYS` of it. ``compress``: ``(method, level)`` or
    None. ``encryption_key``: 32 bytes, a passphrase str, or None. ``quantization``: the
    entries of :func:`mle_runtime.format.quantization.quantize` when ``inner`` holds codes.
    """
    env = {"inner_size": len(inner)}
    if quantization:
        env["quantization"] = quantization
    payload = inner
    if compress is not None:
        method, level = compress
        payload = compression.compress(inner, method, level)
        env["compression"] = {"method": method, "level": level}
    if encryption_key is not None:
        meta = json.loads(meta_bytes)
        public = {k: meta[k] for k in PUBLIC_KEYS if k in meta}
        public["encrypted"] = True
        meta_bytes = encode_json(public)
        payload, env_bytes = crypto.encrypt(payload, encryption_key, meta_bytes, env)
    else:
        env_bytes = encode_json(env)
    return pack_sections([(L.SECTION_META, meta_bytes), (L.SECTION_ENVELOPE, env_bytes),
                          (L.SECTION_PAYLOAD, payload)], minor=L.MINOR_EXTENDED)


def describe(c):
    """The envelope's description for inspection (None for a plain file)."""
    env = c.json(L.SECTION_ENVELOPE)
    if env is None:
        return None
    out = {"inner_size": env.get("inner_size"),
           "payload_size": c.find(L.SECTION_PAYLOAD).size
           if c.find(L.SECTION_PAYLOAD) else None}
    comp = env.get("compression")
    if comp is not None:
        out["compression"] = comp
    if "quantization" in env:
        out["quantized"] = True
    enc = env.get("encryption")
    if enc is not None:
        kdf = enc.get("kdf") if isinstance(enc, dict) else None
        out["encryption"] = {"cipher": enc.get("cipher") if isinstance(enc, dict) else None,
                             "kdf": kdf.get("name") if isinstance(kdf, dict) else None}
    return out


def open_inner(c, encryption_key=None, *, budget=None):
    """The inner file's bytes of an envelope ``c`` (a parsed Container; bytes, a bytearray or a memoryview
    of the container's data).

    ``budget``: the load's :class:`~mle_runtime.format.budget.LoadBudget` (None: the default
    budget for this container's size). Every declared size is checked against the payload's
    size and codec, and charged to the budget, before anything is decrypted, decompressed or
    dequantised (docs/FORMAT.md, section 18): the envelope's parsed JSON, the decrypted
    payload, the decompressed inner file, the dequantised file, and the native loader's
    aligned copy of a model inner file.
    The inner file must be a plain or value file: one that carries envelope, payload or
    signature sections is refused.
    """
    budget = LoadBudget.of(budget, len(c.data))
    env_section = c.find(L.SECTION_ENVELOPE)
    if env_section is not None:
        budget.charge(JSON_COST * env_section.size, "the envelope section's parsed JSON")
    env = c.json(L.SECTION_ENVELOPE)
    payload_section = c.find(L.SECTION_PAYLOAD)
    if env is None or payload_section is None:
        raise FormatError("the file has an envelope section without a payload section, or the "
                          "reverse")
    size = env.get("inner_size")
    if not isinstance(size, int) or isinstance(size, bool) or size < L.HEADER_SIZE:
        raise FormatError("envelope: 'inner_size' must be an integer of at least 64")
    if size > compression.MAX_UNCOMPRESSED:
        raise FormatError(f"envelope declares {size} bytes, more than the "
                          f"{compression.MAX_UNCOMPRESSED}-byte cap")
    payload = c.payload(payload_section)
    encrypted = "encryption" in env
    # what the payload holds once decrypted: AES-GCM adds a 16-byte tag
    stored = len(payload) - 16 if encrypted else len(payload)
    comp = env.get("compression")
    if comp is not None:
        if not isinstance(comp, dict) or not isinstance(comp.get("method"), str):
            raise FormatError("envelope: malformed 'compression'")
        method = comp["method"]
        compression.check_declared(method, size, max(stored, 0))
        compression.require(method)
    elif stored != size:
        raise FormatError(f"envelope: payload has {stored} bytes, 'inner_size' says {size}")
    if encrypted:
        if encryption_key is None:
            raise DecryptionError("the model is encrypted (AES-256-GCM); pass encryption_key= "
                                  "(the 32-byte key or the passphrase it was saved with)")
        meta = c.payload(c.find(L.SECTION_META))
        env_bytes = c.payload(c.find(L.SECTION_ENVELOPE))
        payload = crypto.decrypt(payload, encryption_key, meta, env, env_bytes, budget=budget)
    elif encryption_key is not None:
        raise DecryptionError("encryption_key was given, but the file is not encrypted; "
                              "refusing to load it as if it were authenticated by the key")
    if comp is not None:
        budget.charge(size, f"the envelope's inner file, decompressed ({method})")
        inner = compression.decompress(payload, method, size)
    else:
        inner = payload
    inner_c = _check_inner(inner)
    if "quantization" in env:
        inner = quantization.dequantize_inner(inner, env["quantization"], budget=budget)
    if inner_c.find(L.SECTION_VALUE) is None:
        budget.charge(len(inner), "the model loader's aligned copy of the inner file")
        graph = inner_c.find(L.SECTION_GRAPH)
        if graph is not None:
            # the native loader's parsed JSON tree: up to 32 bytes per byte of text ([0,0,...])
            budget.charge(JSON_TREE_FACTOR * graph.size, "parsing the inner model's graph")
    return inner


# Bytes the native JSON parser may hold per byte of JSON text (a 64-byte value per 2 bytes).
JSON_TREE_FACTOR = 32


_NOT_INNER = (L.SECTION_ENVELOPE, L.SECTION_PAYLOAD, L.SECTION_SIGNATURE)


def _check_inner(inner):
    """The inner file's container (header and section table validated); refuses an inner file
    that is itself an envelope or is signed (docs/FORMAT.md, 16.2)."""
    try:
        c = container.parse(inner, verify=())
    except FormatError as e:
        raise FormatError(f"the file inside the envelope is invalid: {e}") from None
    for s in c.sections:
        if s.kind in _NOT_INNER:
            raise FormatError(
                f"the file inside the envelope has a {s.name()} section (section {s.index}); "
                "an envelope's inner file must be a plain model or value file, neither an "
                "envelope nor signed. Sign the outer file instead (mle_runtime.sign_file)")
    return c
