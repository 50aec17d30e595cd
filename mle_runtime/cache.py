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
import threading

from mle_runtime import _native
from mle_runtime.errors import FormatError
from mle_runtime.format import container
from mle_runtime.format import layout as L

_lock = threading.Lock()
_entries = collections.OrderedDict()  # path -> (stat key, metadata bytes, native model)
_max_entries = 32
MIN_SIZE = 64 * 1024  # plain files below this are not cached
_HASH_MARK = b'"content_hash":"sha256:'


def _stat_key(st):
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


# The cache reads this many table entries at most (model files have 3 to 4 sections; a value
# file has 3 plus one per model): a file with more is loaded normally.
_MAX_SECTIONS = 64
_HEAD_SIZE = L.HEADER_SIZE + _MAX_SECTIONS * L.SECTION_ENTRY_SIZE


def _disk_meta(path, st_size):
    """The metadata section's bytes of the file at ``path``, read without trusting it (None
    when anything looks wrong: the caller then loads the file normally). Only the header,
    the section table and the metadata section are read; the container parser checks them."""
    try:
        with open(path, "rb") as f:
            head = f.read(_HEAD_SIZE)
            if len(head) < _HEAD_SIZE:
                st_size = len(head)  # the whole file
            elif st_size < len(head):
                return None  # it changed since it was stat'ed
            try:
                c = container.parse_head(head, st_size, verify=(L.SECTION_META,))
            except FormatError:
                return None
            s = c.find(L.SECTION_META)
            if s.verified:
                return bytes(c.payload(s))
            f.seek(s.offset)
            meta = f.read(s.size)
            return meta if len(meta) == s.size and _native.crc32c(meta) == s.crc else None
    except OSError:
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
