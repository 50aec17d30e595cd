"""Envelopes: .mle files whose model is compressed and/or encrypted (docs/FORMAT.md, 16.2).

An envelope is itself a valid container holding a metadata section (readable without
decompressing or decrypting), an envelope section (JSON: how the payload was transformed and
its size once restored) and a payload section (the *inner* file: a complete plain .mle file,
compressed, then encrypted). Loading restores the inner bytes once, in memory, and hands them
to the native loader, which validates them as any other file; an inner file that is itself an
envelope is refused.
"""

from mle_runtime.errors import DecryptionError, FormatError
from mle_runtime.format import compression
from mle_runtime.format import layout as L
from mle_runtime.format.budget import LoadBudget
from mle_runtime.format.writer import encode_json, pack_sections

# The metadata keys an encrypted file keeps readable; everything else is encrypted.
PUBLIC_KEYS = ("mle_runtime_version", "created")


def seal(inner, meta_bytes, compress=None, encryption_key=None, quantization=None):
    """The bytes of an envelope around ``inner`` (a plain .mle file).

    ``meta_bytes``: the inner file's metadata JSON; an unencrypted envelope repeats it, an
    encrypted one keeps only :data:`PUBLIC_KEYS` of it. ``compress``: ``(method, level)`` or
    None. ``encryption_key``: 32 bytes, a passphrase str, or None. ``quantization``: the
    entries of :func:`mle_runtime.quantization.quantize` when ``inner`` holds codes.
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
        import json

        from mle_runtime.format import crypto

        meta = json.loads(meta_bytes)
        public = {k: meta[k] for k in PUBLIC_KEYS if k in meta}
        public["encrypted"] = True
        meta_bytes = encode_json(public)
        payload, env_bytes = crypto.encrypt(payload, encryption_key, meta_bytes, env)
    else:
        env_bytes = encode_json(env)
    return pack_sections([(L.SECTION_META, meta_bytes), (L.SECTION_ENVELOPE, env_bytes),
                          (L.SECTION_PAYLOAD, payload)], minor=L.MINOR_EXTENDED)


def describe(container):
    """The envelope's description for inspection (None for a plain file)."""
    env = container.json(L.SECTION_ENVELOPE)
    if env is None:
        return None
    out = {"inner_size": env.get("inner_size"),
           "payload_size": container.find(L.SECTION_PAYLOAD).size
           if container.find(L.SECTION_PAYLOAD) else None}
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


def open_inner(container, encryption_key=None, *, budget=None):
    """The inner file's bytes of an envelope ``container`` (a bytearray or bytes).

    ``budget``: the load's :class:`~mle_runtime.format.budget.LoadBudget` (None: the default
    budget for this container's size); the restored bytes are charged to it.
    """
    budget = LoadBudget.of(budget, len(container.data))
    env = container.json(L.SECTION_ENVELOPE)
    payload_section = container.find(L.SECTION_PAYLOAD)
    if env is None or payload_section is None:
        raise FormatError("the file has an envelope section without a payload section, or the "
                          "reverse")
    size = env.get("inner_size")
    if not isinstance(size, int) or isinstance(size, bool) or size < L.HEADER_SIZE:
        raise FormatError("envelope: 'inner_size' must be an integer of at least 64")
    if size > compression.MAX_UNCOMPRESSED:
        raise FormatError(f"envelope declares {size} bytes, more than the "
                          f"{compression.MAX_UNCOMPRESSED}-byte cap")
    payload = container.payload(payload_section)
    if "encryption" in env:
        if encryption_key is None:
            raise DecryptionError("the model is encrypted (AES-256-GCM); pass encryption_key= "
                                  "(the 32-byte key or the passphrase it was saved with)")
        from mle_runtime.format import crypto

        meta = container.payload(container.find(L.SECTION_META))
        env_bytes = container.payload(container.find(L.SECTION_ENVELOPE))
        payload = crypto.decrypt(payload, encryption_key, meta, env, env_bytes)
    elif encryption_key is not None:
        raise DecryptionError("encryption_key was given, but the file is not encrypted; "
                              "refusing to load it as if it were authenticated by the key")
    comp = env.get("compression")
    if comp is not None:
        if not isinstance(comp, dict) or not isinstance(comp.get("method"), str):
            raise FormatError("envelope: malformed 'compression'")
        inner = compression.decompress(payload, comp["method"], size)
    elif len(payload) != size:
        raise FormatError(f"envelope: payload has {len(payload)} bytes, 'inner_size' says {size}")
    else:
        inner = payload
    if "quantization" in env:
        from mle_runtime import quantization

        return quantization.dequantize_inner(inner, env["quantization"])
    return inner
