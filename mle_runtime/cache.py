"""The model cache of :func:`mle_runtime.load`.

Loading a file that is already loaded and unchanged returns the already-mapped native model
(wrapped in a new proxy, so attributes set on one proxy never leak into another), without
reading, verifying or decompressing it again. "Unchanged" means the same path, device, inode,
size and modification time *and* the same metadata bytes on disk, which hold the model's
SHA-256 content hash: a file rewritten in place within the clock's resolution is still seen
as changed.

Only loads that are expensive to repeat are cached: files of :data:`MIN_SIZE` (64 KiB) or
more, whose load verifies every checksum and validates every tree, and compressed files.
Small plain files load in a few microseconds, about what checking the cache would cost, so
they are never cached and their load does no extra work. Files without a content hash (written by mle_runtime before it
recorded one), and loads that verify a signature or decrypt, are not cached.

The cache is a bounded LRU (:func:`set_max_entries`, default 32) guarded by a lock; it holds
strong references, so a cached model stays mapped until evicted or :func:`clear` is called.
"""

import collections
import os
import struct
import threading

from mle_runtime import _native
from mle_runtime.format import layout as L

_lock = threading.Lock()
_entries = collections.OrderedDict()  # path -> (stat key, metadata bytes, native model)
_max_entries = 32
MIN_SIZE = 64 * 1024  # plain files below this are not cached
_HASH_MARK = b'"content_hash":"sha256:'


def _stat_key(st):
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _disk_meta(path, st_size):
    """The metadata section's bytes of the file at ``path``, read without trusting it (None
    when anything looks wrong: the caller then loads the file normally)."""
    try:
        with open(path, "rb") as f:
            head = f.read(L.HEADER_SIZE)
            if len(head) != L.HEADER_SIZE or head[:8] != L.MAGIC:
                return None
            count = struct.unpack_from("<I", head, 24)[0]
            if not 1 <= count <= 64 or _native.crc32c(head[:60]) != \
                    struct.unpack_from("<I", head, 60)[0]:
                return None
            table = f.read(32 * count)
            if len(table) != 32 * count or _native.crc32c(table) != \
                    struct.unpack_from("<I", head, 28)[0]:
                return None
            for i in range(count):
                kind, _, offset, size, crc, _ = struct.unpack_from("<IIQQII", table, 32 * i)
                if kind == L.SECTION_META:
                    if size > L.MAX_META_JSON or offset + size > st_size:
                        return None
                    f.seek(offset)
                    meta = f.read(size)
                    return meta if _native.crc32c(meta) == crc else None
    except OSError:
        return None
    return None


def lookup(path):
    """The cached native model for ``path`` if the file is unchanged, else None."""
    entry = _entries.get(path)
    if entry is None:
        return None
    key, meta, native = entry
    try:
        st = os.stat(path)
    except OSError:
        return None
    if _stat_key(st) != key or _disk_meta(path, st.st_size) != meta:
        with _lock:
            if _entries.get(path) is entry:
                del _entries[path]
        return None
    with _lock:
        if path in _entries:
            _entries.move_to_end(path)
    return native


def store(path, meta, native):
    """Caches ``native``, loaded from ``path`` whose metadata bytes were ``meta``."""
    meta = bytes(meta)
    if _HASH_MARK not in meta:
        return
    try:
        st = os.stat(path)
    except OSError:
        return
    with _lock:
        _entries[path] = (_stat_key(st), meta, native)
        _entries.move_to_end(path)
        while len(_entries) > _max_entries:
            _entries.popitem(last=False)


def clear():
    """Empties the cache (cached models stay valid for whoever holds them)."""
    with _lock:
        _entries.clear()


def set_max_entries(n):
    """Sets the cache's capacity (0 disables caching); returns the previous one."""
    global _max_entries
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise ValueError(f"the cache size must be a non-negative int, got {n!r}")
    with _lock:
        old, _max_entries = _max_entries, n
        while len(_entries) > n:
            _entries.popitem(last=False)
    return old


def info():
    """``{"entries": [paths, least recently used first], "max_entries": n}``."""
    with _lock:
        return {"entries": list(_entries), "max_entries": _max_entries}
