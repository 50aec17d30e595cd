"""Reading .mle files: the thin Python face of the native loader.

Opening, mapping (or reading small files), validating the header and section table, verifying
every checksum, parsing the graph and building the plan all happen in one native call.
"""

import json
import os

from mle_runtime import _native
from mle_runtime.errors import FormatError


def open_path(path):
    """Loads the file at ``path`` (str or PathLike); returns a ``NativeModel``."""
    return _native.load_path(os.fsencode(path), path)


def open_bytes(data):
    """Loads .mle bytes held in memory (bytes, bytearray, memoryview)."""
    return _native.load_buffer(data)


def open_path_or_kind(path):
    """Like :func:`open_path` for a model file; for an envelope or a value file returns its
    kind, ``"envelope"`` or ``"value"`` (the native parser's verdict: its header and section
    table are valid, its checksums are left to the layer that reads it). Any other file
    raises the native loader's error."""
    return _native.load_path_or_kind(os.fsencode(path), path)


def open_bytes_or_kind(data):
    """Like :func:`open_bytes`, returning the kind of an envelope or a value file as
    :func:`open_path_or_kind` does."""
    return _native.load_buffer_or_kind(data)


def read_metadata(native):
    """The metadata section of a loaded model as a dict."""
    try:
        meta = json.loads(native.meta_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise FormatError(f"metadata section is not valid JSON: {e}") from None
    if not isinstance(meta, dict):
        raise FormatError("metadata section is not a JSON object")
    return meta
