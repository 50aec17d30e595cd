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
from mle_runtime.format import layout as L
from mle_runtime.format.budget import default_limit

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


# joblib's compressors (joblib/compressor.py): the file is the compressor's stream of the
# whole .mle file, as joblib's files are the stream of the pickle. Names in joblib's order
# (for extensions, the last that matches wins, as in joblib), their file name extensions,
# the magic bytes their streams start with, and joblib's default level for each (its
# BinaryZlibFile / BinaryGzipFile use 3, bz2.BZ2File 9, lzma.LZMAFile preset 6).
STREAM_METHODS = ("zlib", "gzip", "bz2", "lzma", "xz")
EXTENSIONS = (("zlib", ".z"), ("gzip", ".gz"), ("bz2", ".bz2"), ("lzma", ".lzma"),
              ("xz", ".xz"), ("lz4", ".lz4"))
PREFIXES = (("zlib", b"\x78"), ("gzip", b"\x1f\x8b"), ("bz2", b"BZ"),
            ("xz", b"\xfd\x37\x7a\x58\x5a"), ("lzma", b"\x5d\x00"))
PREFIX_MAX = 5
JOBLIB_DEFAULT_LEVEL = {"zlib": 3, "gzip": 3, "bz2": 9, "lzma": 6, "xz": 6}


def _level_error(level):
    return ValueError(f'Non valid compress level given: "{level}". Possible values are '
                      f"{list(range(10))}.")


def choose(compress, filename=None):
    """What ``dump(value, filename, compress)`` writes: ``None`` (no compression) or
    ``(method, level, layout)``, with ``layout`` ``"stream"`` (the whole file as the
    compressor's stream, as joblib writes: joblib's methods) or ``"envelope"`` (zstd:
    docs/FORMAT.md, 16.2).

    Follows ``joblib.dump``: ``compress`` is an int 0-9, a bool (True: the method's default
    level), a method name (its default level) or a ``(method, level)`` tuple; when it is not
    a tuple (nor a name) and ``filename`` (a str) ends with ``.z``, ``.gz``, ``.bz2``,
    ``.lzma`` or ``.xz``, that extension's compressor is used, at its default level when no
    level was given. Invalid values raise ``ValueError`` with joblib's wording. Where joblib's
    default method is zlib (an int or True without such an extension) mle_runtime's is zstd;
    ``("zstd", level)`` accepts zstd's levels up to 22.
    """
    method = None
    if compress is None:
        compress = 0  # mle_runtime: None is "no compression" (joblib would compress)
    if compress is True:
        level = None
    elif isinstance(compress, tuple):
        if len(compress) != 2:
            raise ValueError("Compress argument tuple should contain exactly 2 elements: "
                             f"(compress method, compress level), you passed {compress}")
        method, level = compress
    elif isinstance(compress, str):
        method, level = compress, None
        compress = (method, level)
    else:
        level = compress
    if isinstance(method, str) and method.lower() == "lz4":
        raise ValueError("lz4 compression is not available in mle_runtime; use zstd (the "
                         "default, faster and smaller) or one of "
                         f"{', '.join(METHODS[1:])}")
    zstd_level = method == "zstd" and type(level) is int and 10 <= level <= 22
    if level is not None and level is not False and not zstd_level:
        try:
            valid = level in range(10)
        except TypeError:
            valid = False
        if not valid:
            raise _level_error(level)
    if method is not None and (not isinstance(method, str) or method.lower() not in METHODS):
        raise ValueError(f'Non valid compression method given: "{method}". Possible values '
                         f"are {list(METHODS)}.")
    if method is not None:
        method = method.lower()
    if isinstance(filename, str) and not isinstance(compress, tuple):
        for name, extension in EXTENSIONS:
            if filename.endswith(extension):
                method = name
        if method == "lz4":
            raise ValueError(f"{filename!r} ends with '.lz4', but lz4 compression is not "
                             "available in mle_runtime; name the file '.gz', '.bz2', '.xz', "
                             "'.lzma' or '.z' (joblib's other compressors), or pass "
                             "compress= with zstd")
        if method is not None and level == 0:
            level = None  # joblib: the extension's compressor at its default level
    if level is not None and int(level) == 0:
        return None
    if method is None:
        method = DEFAULT_METHOD
    if level is None:
        level = DEFAULT_LEVEL if method == "zstd" else JOBLIB_DEFAULT_LEVEL[method]
    level = int(level)
    return method, level, "stream" if method in STREAM_METHODS else "envelope"


def normalize(compress):
    """joblib's ``compress`` argument as ``None`` (no compression) or ``(method, level)``
    (:func:`choose` without a file name; the method names' default levels are joblib's)."""
    chosen = choose(compress)
    return None if chosen is None else chosen[:2]


def detect(head):
    """The joblib compressor whose stream ``head`` (a file's first bytes) starts with, or
    None."""
    head = bytes(head[:PREFIX_MAX])
    for name, prefix in PREFIXES:
        if head.startswith(prefix):
            return name
    return None


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


_FILE_SIZE = L.HEADER_DTYPE.fields["file_size"][1]


def restore_stream(read, method, budget, *, compressed_size=None, grow=False):
    """The .mle file held by a joblib-layout compressed file (the compressor's stream of the
    whole file; docs/FORMAT.md, 16.4), read through ``read(n)`` (bytes; ``b""`` at the end;
    it may return fewer bytes than asked, as ``read1`` does, so a socket or a pipe is never
    read past the stream's end).

    The inner file's header is decompressed first: it must be an .mle header, and its
    ``file_size`` is then the exact size to restore. That size is charged to ``budget``
    (checked against the codec's largest ratio when ``compressed_size`` is known) before
    more is decompressed; with ``grow`` (a stream of unknown size, default limit), the budget's
    limit follows the compressed bytes read so far and each restored chunk is charged as it
    comes. Output never exceeds the declared size; a stream that ends early, is corrupt,
    holds something other than an .mle file or does not end right after it raises
    ``FormatError``.

    Returns ``(inner, unused)``: the inner file's bytes and the bytes read past the end of
    the stream (for the caller to give back, where the source can seek).
    """
    d = _decompressor(method)
    zlib_like = method in ("zlib", "gzip")
    out = bytearray()
    target = L.HEADER_SIZE
    declared = None
    consumed = 0
    tail = b""
    try:
        while not d.eof:
            limit = min(_CHUNK, target + 1 - len(out))
            if zlib_like:
                data = tail
                if not data:
                    data = read(_CHUNK)
                    if not data:
                        break
                    consumed += len(data)
                piece = d.decompress(data, limit)
                tail = d.unconsumed_tail
            else:
                data = b""
                if d.needs_input:
                    data = read(_CHUNK)
                    if not data:
                        break
                    consumed += len(data)
                piece = d.decompress(data, limit)
            if grow:
                budget.file_size = consumed
                budget.limit = default_limit(consumed)
            if piece:
                if declared is not None and (grow or compressed_size is None):
                    budget.charge(len(piece), f"restoring the {method}-compressed file")
                out += piece
            if declared is None and len(out) >= L.HEADER_SIZE:
                declared = _declared_size(out, method)
                if compressed_size is not None:
                    check_declared(method, declared, compressed_size)
                    budget.charge(declared, f"the {method}-compressed file, restored")
                elif grow:
                    budget.charge(len(out), f"restoring the {method}-compressed file")
                target = declared
            if len(out) > target:
                raise FormatError(f"the {method} stream holds more than the {target} bytes "
                                  "its .mle file declares; the file is damaged or hostile")
    except (FormatError, MemoryError, MissingDependencyError):
        raise
    except Exception as e:  # zlib.error, OSError, lzma.LZMAError
        if "memory usage limit" in str(e).lower():
            raise FormatError(f"the {method} stream needs more than the {LZMA_MEMLIMIT}-byte "
                              f"decoder memory limit: {e}") from None
        raise FormatError(f"the {method}-compressed file is corrupt: {e}") from None
    if declared is None:
        if len(out) < len(L.MAGIC) or bytes(out[:len(L.MAGIC)]) == L.MAGIC:
            raise FormatError(f"the {method}-compressed file is truncated: its stream ends "
                              f"after {len(out)} bytes, before the .mle header does")
        _declared_size(out, method)  # raises: not an .mle file
    if not d.eof:
        raise FormatError(f"the {method}-compressed file is truncated: its stream ends before "
                          f"its end marker ({len(out)} of {declared} bytes restored)")
    if len(out) != declared:
        raise FormatError(f"the {method} stream restores {len(out)} bytes, but its .mle file "
                          f"declares {declared}; the file is damaged")
    return out, d.unused_data  # at the end of the stream: the input after it


def _declared_size(head, method):
    """``file_size`` of the .mle header at the start of ``head``; refuses what is not one."""
    if bytes(head[:len(L.MAGIC)]) != L.MAGIC:
        if head[:1] == b"\x80" or detect(head) is not None:
            what = "a pickle/joblib file (compressed by joblib?)"
        else:
            what = "something that is not an .mle file"
        raise FormatError(
            f"this is a {method}-compressed file, but what it holds is {what}, not an .mle "
            "file. Pickle files can execute code when loaded; if you trust this one, convert "
            "it with `mle-export FILE --trust`, mle_runtime.compat.migrate(path, trust=True), "
            "or load it with mle_runtime.compat.joblib.load(path, allow_pickle=True)")
    size = int.from_bytes(bytes(head[_FILE_SIZE:_FILE_SIZE + 8]), "little")
    if size < L.HEADER_SIZE or size > MAX_UNCOMPRESSED:
        raise FormatError(f"the .mle file inside the {method} stream declares {size} bytes "
                          f"(expected {L.HEADER_SIZE} to {MAX_UNCOMPRESSED}); the file is "
                          "damaged")
    return size


def compress_stream(data, method, level):
    """The joblib-layout file of the .mle file ``data``: ``method``'s stream of it (one zlib
    stream, gzip member, bz2 stream, xz stream or lzma-alone stream)."""
    return compress(data, method, level)


def peek_inner(head, read, method, n):
    """The first ``n`` bytes (or fewer, at the end) that the ``method`` stream starting with
    ``head`` and continued by ``read(k)`` decompresses to; reads at most 16 MiB."""
    d = _decompressor(method)
    out = bytearray()
    data = head
    total = 0
    try:
        while len(out) < n and total < (16 << 20):
            if method in ("zlib", "gzip"):
                out += d.decompress(data, n - len(out))
                if d.unconsumed_tail:
                    data = d.unconsumed_tail
                    continue
            else:
                out += d.decompress(data, n - len(out))
                if not d.needs_input:
                    data = b""
                    if d.eof:
                        break
                    continue
            if d.eof:
                break
            data = bytes(read(_CHUNK))
            total += len(data)
            if not data:
                break
    except Exception:  # noqa: BLE001 - a corrupt stream holds no .mle file
        return bytes(out)
    return bytes(out[:n])
