"""Compression of .mle payloads, with joblib's ``compress`` argument.

``zstd`` (the ``zstandard`` package, the ``compression`` extra) is the default method;
``zlib``, ``gzip``, ``bz2``, ``lzma`` and ``xz`` come from the standard library. Codecs are
imported only when a file is compressed or decompressed; a missing ``zstandard`` raises
:class:`~mle_runtime.MissingDependencyError` naming the extra to install.

Decompression is bounded (docs/FORMAT.md, section 18): the envelope declares the uncompressed
size, which may not exceed :data:`MAX_UNCOMPRESSED` nor :data:`MAX_RATIO` times the payload's
size where the codec's format bounds its ratio; the caller charges that size to the load
budget before anything is expanded; output is never more than the declared size (a "zip
bomb" is refused without being expanded), and a stream followed by anything (another frame,
member or stream, a zstd skippable frame, padding) is refused.
"""

from mle_runtime.errors import FormatError, MissingDependencyError

DEFAULT_METHOD = "zstd"
DEFAULT_LEVEL = 3
METHODS = ("zstd", "zlib", "gzip", "bz2", "lzma", "xz")
# Largest inner file an envelope may declare (64 GiB): larger claims are refused unread.
MAX_UNCOMPRESSED = 1 << 36
_CHUNK = 1 << 20
_LEVELS = {"zstd": (1, 22)}
# The most one byte of a stream can expand to, from the codec's format. Deflate (zlib, gzip)
# codes at best a 258-byte match in 2 bits: 1032:1. A zstd block holds at most 128 KiB and
# takes at least 4 bytes (a 3-byte block header and the byte of an RLE block): 32768:1. bz2
# and lzma/xz have no such small bound (zeros reach ~850,000:1 with bz2, ~7,000:1 with xz):
# only the load budget limits what they may declare.
MAX_RATIO = {"zstd": 32768, "zlib": 1032, "gzip": 1032}
# liblzma's decoder memory (mostly its dictionary): enough for every preset (at most 64 MiB
# of dictionary at -9); streams asking for more are refused before decoding.
LZMA_MEMLIMIT = 96 << 20


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


def _zstandard():
    """The ``zstandard`` module, or MissingDependencyError saying how to install it."""
    try:
        import zstandard
    except ImportError:
        raise MissingDependencyError(
            "zstd compression needs the 'zstandard' package, which is not installed: pip "
            "install 'mle_runtime[compression]' (or pass compress= with a standard-library "
            "method: 'zlib', 'gzip', 'bz2', 'lzma' or 'xz')", name="zstandard") from None
    return zstandard


def require(method):
    """Raises :class:`~mle_runtime.MissingDependencyError` when ``method``'s codec is not
    installed (only zstd's is optional)."""
    if method == "zstd":
        _zstandard()


def check_declared(method, size, payload_size):
    """Refuses, before anything is expanded, a declared uncompressed ``size`` that a
    ``payload_size``-byte stream of ``method`` cannot produce (:data:`MAX_RATIO`) or that is
    above :data:`MAX_UNCOMPRESSED`."""
    if method not in METHODS:
        raise FormatError(f"the file is compressed with {method!r}, which this mle_runtime "
                          f"does not know (known: {', '.join(METHODS)})")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise FormatError("envelope: the uncompressed size must be a non-negative integer")
    if size > MAX_UNCOMPRESSED:
        raise FormatError(f"envelope declares {size} uncompressed bytes, more than the "
                          f"{MAX_UNCOMPRESSED}-byte cap; refusing to decompress it")
    ratio = MAX_RATIO.get(method)
    if ratio is not None and size > ratio * payload_size:
        raise FormatError(f"envelope declares {size} uncompressed bytes from a "
                          f"{payload_size}-byte {method} stream, which can expand to at most "
                          f"{ratio * payload_size} ({ratio}:1); the file is damaged or hostile")


def compress(data, method, level):
    """``data`` compressed with ``method`` at ``level`` (bytes)."""
    if method == "zstd":
        zstandard = _zstandard()

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
    import lzma

    return lzma.LZMADecompressor(lzma.FORMAT_XZ if method == "xz" else lzma.FORMAT_ALONE,
                                 memlimit=LZMA_MEMLIMIT)


def _zstd_decompress(zstandard, data, size):
    # One shot into a buffer of exactly the declared size: the frame's own content size (when
    # it has one) must agree, output beyond it is an error, and so are bytes after the frame.
    declared = zstandard.get_frame_parameters(data).content_size
    if declared != zstandard.CONTENTSIZE_UNKNOWN and declared != size:
        raise FormatError(f"the zstd frame declares {declared} bytes, but the envelope "
                          f"declares {size}")
    return zstandard.ZstdDecompressor().decompress(data, max_output_size=size,
                                                   allow_extra_data=False)


def _stream_decompress(method, data, size):
    d = _decompressor(method)
    out = bytearray(d.decompress(data, min(_CHUNK, size + 1)))
    if method in ("zlib", "gzip"):
        while len(out) <= size and d.unconsumed_tail:
            out += d.decompress(d.unconsumed_tail, min(_CHUNK, size + 1 - len(out)))
    else:
        while len(out) <= size and not d.eof and not d.needs_input:
            out += d.decompress(b"", min(_CHUNK, size + 1 - len(out)))
    if len(out) <= size and not d.eof:
        raise FormatError(f"compressed payload ({method}) is truncated or corrupt")
    if d.unused_data:
        what = {"gzip": "another gzip member", "bz2": "another bz2 stream",
                "xz": "another xz stream or padding"}.get(method, "bytes")
        raise FormatError(f"compressed payload ({method}) has {len(d.unused_data)} trailing "
                          f"bytes after the end of its stream ({what}); an envelope holds "
                          "exactly one stream")
    return out


def decompress(data, method, size):
    """Decompresses ``data`` (untrusted) that must expand to exactly ``size`` bytes.

    The caller has charged ``size`` to the load budget. Returns bytes or a bytearray. Raises
    ``FormatError`` for a corrupt stream, a size other than the declared one, a declared
    size the codec cannot produce from ``data`` (:func:`check_declared`), or data after the
    end of the stream; never produces more than ``size`` bytes.
    :class:`~mle_runtime.MissingDependencyError` when the codec is not installed.
    """
    check_declared(method, size, len(data))
    zstandard = _zstandard() if method == "zstd" else None
    try:
        if zstandard is not None:
            out = _zstd_decompress(zstandard, data, size)
        else:
            out = _stream_decompress(method, data, size)
    except (FormatError, MemoryError):
        raise
    except Exception as e:  # codec errors: zlib.error, OSError, lzma.LZMAError, ZstdError
        if "unused data" in str(e):
            raise FormatError(f"compressed payload ({method}) has trailing bytes after the end "
                              f"of its frame ({e}); an envelope holds exactly one frame") \
                from None
        if "memory usage limit" in str(e).lower():
            raise FormatError(f"compressed payload ({method}) needs more than the "
                              f"{LZMA_MEMLIMIT}-byte decoder memory limit: {e}") from None
        raise FormatError(f"compressed payload is corrupt ({method}): {e}") from None
    if len(out) != size:
        raise FormatError(f"compressed payload expands to {'more than' if len(out) > size else ''}"
                          f" {len(out)} bytes, but the envelope declares {size}")
    return out
