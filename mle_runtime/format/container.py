"""A pure-Python view of an .mle container: header and section table, validated as the native
reader validates them (docs/FORMAT.md, section 7, checks 1-10).

The native loader remains the only way a model is built; this module serves the parts that
work on the container itself without building a plan: envelopes (compression, encryption),
signatures, ``inspect_model`` and the model cache. Every byte is untrusted: each offset and
size is checked against the file length before use, and any violation raises ``FormatError``.
"""

import json
import struct

from mle_runtime import _native
from mle_runtime.errors import FormatError
from mle_runtime.format import layout as L

_HEADER = struct.Struct("<8sHHIQII28sI")
_ENTRY = struct.Struct("<IIQQII")
KNOWN_KINDS = {L.SECTION_META: "metadata", L.SECTION_GRAPH: "graph",
               L.SECTION_DATA: "tensor data", L.SECTION_ENVELOPE: "envelope",
               L.SECTION_PAYLOAD: "payload", L.SECTION_SIGNATURE: "signature",
               L.SECTION_VALUE: "value", L.SECTION_MODEL: "model", L.SECTION_PICKLE: "pickle"}
_REPEATABLE = {L.SECTION_MODEL}
# The kinds that make a file an envelope (16.2) or a value file (17.1). A file with a graph
# section is a model file, which the native loader runs as such; it must hold none of them
# (whatever their flags), or what inspection and the Python layer describe would differ from
# what runs.
ENVELOPE_KINDS = (L.SECTION_ENVELOPE, L.SECTION_PAYLOAD)
VALUE_KINDS = (L.SECTION_VALUE, L.SECTION_MODEL, L.SECTION_PICKLE)
_CAPS = {L.SECTION_META: L.MAX_META_JSON, L.SECTION_GRAPH: L.MAX_GRAPH_JSON,
         L.SECTION_ENVELOPE: L.MAX_ENVELOPE_JSON, L.SECTION_SIGNATURE: L.SIGNATURE_SIZE,
         L.SECTION_VALUE: L.MAX_VALUE_JSON}


class Section:
    """One section table entry; ``index`` is its position in the table."""

    __slots__ = ("index", "kind", "flags", "offset", "size", "crc")

    def __init__(self, index, kind, flags, offset, size, crc):
        self.index, self.kind, self.flags = index, kind, flags
        self.offset, self.size, self.crc = offset, size, crc

    @property
    def end(self):
        return self.offset + self.size

    def name(self):
        return KNOWN_KINDS.get(self.kind, "unknown")


class Container:
    """A validated header and section table over ``data`` (bytes-like)."""

    def __init__(self, data, major, minor, flags, sections):
        self.data = memoryview(data).cast("B") if not isinstance(data, bytes) else data
        self.major, self.minor, self.flags = major, minor, flags
        self.sections = sections

    def find(self, kind):
        """The section of ``kind`` or None (kinds with a uniqueness rule were checked)."""
        for s in self.sections:
            if s.kind == kind:
                return s
        return None

    def payload(self, section):
        """The section's bytes (a memoryview of the file data, no copy)."""
        return memoryview(self.data)[section.offset:section.end]

    def json(self, kind):
        """The JSON object held in the section of ``kind`` (None when absent)."""
        s = self.find(kind)
        if s is None:
            return None
        try:
            obj = json.loads(bytes(self.payload(s)).decode("utf-8"),
                             parse_constant=_refuse_constant,
                             object_pairs_hook=_no_duplicates)
        except (UnicodeDecodeError, ValueError, RecursionError) as e:
            raise FormatError(f"{s.name()} section is not valid JSON: {e}") from None
        if not isinstance(obj, dict):
            raise FormatError(f"{s.name()} section is not a JSON object")
        return obj

    @property
    def version(self):
        return f"{self.major}.{self.minor}"


def _refuse_constant(name):
    raise ValueError(f"{name} is not JSON")


def _no_duplicates(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r}")
        out[k] = v
    return out


def parse(data, verify=True):
    """Validates the header and section table of ``data`` and returns a :class:`Container`.

    ``verify``: True checks every section's CRC-32C; a collection of kinds checks only those
    sections (header and table checksums are always verified).
    """
    n = len(data)
    mv = memoryview(data).cast("B") if not isinstance(data, bytes) else data
    if n < 8 or bytes(mv[:8]) != L.MAGIC:
        head = bytes(mv[:6])
        if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
            raise FormatError("this is a pickle/joblib file, not an .mle file. Pickle files can "
                              "execute code when loaded; if you trust it, convert it with "
                              "mle-export (or joblib.load and mle_runtime.dump)")
        if head[:2] in (b"\x78\x01", b"\x78\x5e", b"\x78\x9c", b"\x78\xda", b"\x1f\x8b",
                        b"ZF") or head[:3] in (b"BZh", b"\x5d\x00\x00") or \
                head[:4] in (b"\x28\xb5\x2f\xfd", b"\x04\x22\x4d\x18") or \
                head[:5] == b"\xfd7zXZ":
            raise FormatError("this looks like a compressed joblib/pickle file, not an .mle "
                              "file. If you trust it, convert it with mle-export (or "
                              "joblib.load and mle_runtime.dump)")
        if n >= 8:
            raise FormatError("not an .mle file: the first 8 bytes are not the .mle magic number")
        raise FormatError(f"file is truncated: {n} bytes")
    if n < L.HEADER_SIZE:
        raise FormatError(f"file is truncated: {n} bytes, shorter than the 64-byte .mle header")
    magic, major, minor, flags, file_size, count, table_crc, reserved, header_crc = \
        _HEADER.unpack_from(mv, 0)
    if major != L.MAJOR:
        raise FormatError(f"unsupported .mle format major version {major}; this mle_runtime "
                          f"reads version {L.MAJOR}. Upgrade mle_runtime to load this file")
    if _native.crc32c(mv[:60]) != header_crc:
        raise FormatError("checksum mismatch in the file header")
    if file_size != n:
        if file_size > n:
            raise FormatError(f"file is truncated: header says {file_size} bytes, file has {n}")
        raise FormatError(f"file has {n - file_size} unexpected trailing bytes after the "
                          f"declared end ({file_size} bytes)")
    if flags:
        raise FormatError(f"file uses header flags {flags:#x} that this mle_runtime does not "
                          "understand; upgrade mle_runtime")
    if any(reserved):
        raise FormatError("reserved header bytes are not zero")
    if count == 0 or count > L.MAX_SECTIONS:
        raise FormatError(f"invalid section count {count}")
    table_end = L.HEADER_SIZE + count * L.SECTION_ENTRY_SIZE
    if table_end > n:
        raise FormatError("file is truncated inside the section table")
    if _native.crc32c(mv[L.HEADER_SIZE:table_end]) != table_crc:
        raise FormatError("checksum mismatch in the section table")
    sections = []
    seen = set()
    prev_end = table_end
    for i in range(count):
        kind, sflags, offset, size, crc, res = _ENTRY.unpack_from(mv, L.HEADER_SIZE + 32 * i)
        where = f"section {i} ({KNOWN_KINDS.get(kind, 'unknown')})"
        if res:
            raise FormatError(f"{where}: reserved field is not zero")
        if offset % L.SECTION_ALIGN:
            raise FormatError(f"{where}: offset {offset} is not {L.SECTION_ALIGN}-byte aligned")
        if offset < prev_end:
            raise FormatError(f"{where}: offset {offset} overlaps the previous section or the "
                              "section table")
        if size > n or offset > n - size:
            raise FormatError(f"{where}: bytes {offset}..{offset + size} lie beyond the end of "
                              f"the file ({n} bytes)")
        prev_end = offset + size
        if verify is True or kind in verify:
            if _native.crc32c(mv[offset:offset + size]) != crc:
                raise FormatError(f"checksum mismatch in {where}")
        if kind in KNOWN_KINDS:
            if kind in seen and kind not in _REPEATABLE:
                raise FormatError(f"more than one {KNOWN_KINDS[kind]} section")
            seen.add(kind)
            cap = _CAPS.get(kind)
            if cap is not None and size > cap:
                raise FormatError(f"{where}: {size} bytes exceeds the {cap}-byte cap")
        elif not sflags & L.SECTION_OPTIONAL:
            raise FormatError(f"{where}: required section of unknown kind {kind}; upgrade "
                              "mle_runtime")
        sections.append(Section(i, kind, sflags, offset, size, crc))
    if L.SECTION_META not in seen:
        raise FormatError("file has no metadata section")
    _check_one_kind_of_file(seen)
    return Container(data, major, minor, flags, sections)


def _check_one_kind_of_file(seen):
    """Refuses a file that mixes the sections of a model file (graph), an envelope (envelope,
    payload) and a value file (value, model, pickle): each reader would see a different file."""
    def names(kinds):
        return ", ".join(KNOWN_KINDS[k] for k in kinds)

    if L.SECTION_GRAPH in seen:
        extra = [k for k in ENVELOPE_KINDS + VALUE_KINDS if k in seen]
        if extra:
            raise FormatError(
                f"the file has a graph section (a model file) and also {names(extra)} "
                f"section(s), which only envelopes and value files have; a model file with "
                "them is damaged or crafted (the native loader would run its graph while the "
                "other sections describe something else). Re-save the model with "
                "mle_runtime.dump")
    elif any(k in seen for k in ENVELOPE_KINDS) and any(k in seen for k in VALUE_KINDS):
        extra = [k for k in ENVELOPE_KINDS + VALUE_KINDS if k in seen]
        raise FormatError(
            f"the file has both envelope and value-file sections ({names(extra)}); an "
            "envelope holds its value file inside its payload, so this file is damaged or "
            "crafted. Re-save the value with mle_runtime.dump")


def repack(container, replace=None, drop=(), append=()):
    """The bytes of a new file holding ``container``'s sections in order, with
    ``replace={kind: bytes}`` substituted, kinds in ``drop`` left out, and ``append``
    (``[(kind, bytes, flags)]``) added at the end. Tensor data placed at a multiple of 64
    stays at one (so tensors stay aligned); other sections go at multiples of 8. The minor
    version becomes ``MINOR_EXTENDED`` when any 1.1 section kind is present."""
    # dump side: the writer (hashlib, tempfile) is not imported by reading a file (cold start)
    from mle_runtime.format.writer import pack_sections

    replace = replace or {}
    payloads = []
    for s in container.sections:
        if s.kind in drop:
            continue
        data = replace.get(s.kind)
        if data is None:
            data = bytes(container.payload(s))
        # tensor data (and sections of unknown kinds) keep a 64-byte alignment they had
        keeps = s.kind in (L.SECTION_DATA, L.SECTION_MODEL) or s.kind not in KNOWN_KINDS
        align = L.DATA_ALIGN if keeps and s.offset % L.DATA_ALIGN == 0 else L.SECTION_ALIGN
        payloads.append((s.kind, data, align, s.flags))
    for kind, data, flags in append:
        payloads.append((kind, data, L.SECTION_ALIGN, flags))
    extended = any(p[0] in (L.SECTION_ENVELOPE, L.SECTION_PAYLOAD, L.SECTION_SIGNATURE)
                   for p in payloads)
    minor = max(container.minor, L.MINOR_EXTENDED) if extended else container.minor
    return pack_sections(payloads, minor=minor)
