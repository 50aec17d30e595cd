"""Compression of .mle payloads, with joblib's ``compress`` argument.

``zstd`` (the ``zstandard`` package) is the default method; ``zlib``, ``gzip``, ``bz2``,
``lzma`` and ``xz`` come from the standard library. Codecs are imported only when a file is
compressed or decompressed. Decompression is bounded: the envelope declares the uncompressed
size, which may not exceed :data:`MAX_UNCOMPRESSED`, and output is produced in chunks and
refused as soon as it would exceed the declared size (a "zip bomb" never allocates more than
it declared).
"""

from mle_runtime.errors import FormatError

DEFAULT_METHOD = "zstd"
DEFAULT_LEVEL = 3
METHODS = ("zstd", "zlib", "gzip", "bz2", "lzma", "xz")
# Largest inner file an envelope may declare (64 GiB): larger claims are refused unread.
MAX_UNCOMPRESSED = 1 << 36
_CHUNK = 1 << 24
_LEVELS = {"zstd": (1, 22)}


def normalize(compress):
    """joblib's ``compress`` argument as ``None`` (no compression) or ``(method, level)``.

    Accepts what ``joblib.dump`` accepts: an int 0-9 (0: none), a bool (True: level 3), a
    method name (level 3) or a ``(method, level)`` tuple. mle_runtime's default method is
    zstd (joblib's is zlib); ``("zstd", level)`` also accepts zstd's levels up to 22.
    """
    method, level = DEFAULT_METHOD, compress
    if isinstance(compress, tuple):
        if len(compress) != 2:
            raise ValueError(f"compress={compress!r}: a tuple must be (method, level)")
        method, level = compress
    elif isinstance(compress, str):
        method, level = compress, DEFAULT_LEVEL
    if isinstance(level, bool):
        level = DEFAULT_LEVEL if level else 0
    if level is None:
        level = 0
    if not isinstance(method, str) or method.lower() not in METHODS + ("lz4",):
        raise ValueError(f"compress={compress!r}: unknown compression method {method!r}; "
                         f"supported: {', '.join(METHODS)}")
    method = method.lower()
    if method == "lz4":
        raise ValueError(f"compress={compress!r}: lz4 is not available in mle_runtime; use "
                         f"zstd (the default, faster and smaller) or one of {', '.join(METHODS)}")
    try:
        level = int(level) if int(level) == level else None
    except (TypeError, ValueError):
        level = None
    lo, hi = _LEVELS.get(method, (1, 9)) if isinstance(compress, tuple) else (1, 9)
    if level is None or level < 0 or level > hi:
        raise ValueError(f"compress={compress!r}: the level must be an integer from 0 to {hi}")
    if level == 0:
        return None
    return method, max(level, lo)


def compress(data, method, level):
    """``data`` compressed with ``method`` at ``level`` (bytes)."""
    if method == "zstd":
        import zstandard

        return zstandard.ZstdCompressor(level=level, write_content_size=True).compress(data)
    if method == "zlib":
        import zlib

        return zlib.compress(data, level)
    if method == "gzip":
        import zlib

        c = zlib.compressobj(level, zlib.DEFLATED, 31)
        return c.compress(data) + c.flush()
    if method == "bz2":
        import bz2

        return bz2.compress(data, level)
    if method in ("lzma", "xz"):
        import lzma

        fmt = lzma.FORMAT_XZ if method == "xz" else lzma.FORMAT_ALONE
        return lzma.compress(data, format=fmt, preset=level)
    raise ValueError(f"unknown compression method {method!r}")


def _decompressor(method):
    if method == "zlib":
        import zlib

        return zlib.decompressobj()
    if method == "gzip":
        import zlib

        return zlib.decompressobj(31)
    if method == "bz2":
        import bz2

        return bz2.BZ2Decompressor()
    if method in ("lzma", "xz"):
        import lzma

        return lzma.LZMADecompressor(lzma.FORMAT_XZ if method == "xz" else lzma.FORMAT_ALONE)
    raise FormatError(f"the file is compressed with {method!r}, which this mle_runtime does "
                      f"not know (known: {', '.join(METHODS)})")


def decompress(data, method, size):
    """Decompresses ``data`` (untrusted) that must expand to exactly ``size`` bytes.

    Returns a bytearray. Raises ``FormatError`` for a corrupt stream, a size other than the
    declared one, or a declared size above :data:`MAX_UNCOMPRESSED`; never produces more than
    ``size`` bytes.
    """
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise FormatError("envelope: the uncompressed size must be a non-negative integer")
    if size > MAX_UNCOMPRESSED:
        raise FormatError(f"envelope declares {size} uncompressed bytes, more than the "
                          f"{MAX_UNCOMPRESSED}-byte cap; refusing to decompress it")
    out = bytearray()
    try:
        if method == "zstd":
            import io

            import zstandard

            reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(bytes(data)),
                                                                read_across_frames=False)
            while len(out) <= size:
                chunk = reader.read(min(_CHUNK, size + 1 - len(out)))
                if not chunk:
                    break
                out += chunk
            if len(out) == size and reader.read(1):
                out += b"?"
            rest = None
        else:
            d = _decompressor(method)
            out += d.decompress(memoryview(data), min(_CHUNK, size + 1))
            if method in ("zlib", "gzip"):
                while len(out) <= size and d.unconsumed_tail:
                    out += d.decompress(d.unconsumed_tail, min(_CHUNK, size + 1 - len(out)))
            else:
                while len(out) <= size and not d.eof and not d.needs_input:
                    out += d.decompress(b"", min(_CHUNK, size + 1 - len(out)))
            if len(out) <= size and not d.eof:
                raise FormatError(f"compressed payload ({method}) is truncated or corrupt")
            rest = d.unused_data
        if rest:
            raise FormatError("compressed payload has trailing bytes after its end")
    except FormatError:
        raise
    except Exception as e:  # codec errors: zlib.error, OSError, lzma.LZMAError, ZstdError
        raise FormatError(f"compressed payload is corrupt ({method}): {e}") from None
    if len(out) != size:
        raise FormatError(f"compressed payload expands to {'more than' if len(out) > size else ''}"
                          f" {len(out)} bytes, but the envelope declares {size}")
    return out
