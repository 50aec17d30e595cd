"""The Python face of the one container parser: header and section table of any .mle file,
validated by the native parser with the native loader's messages (docs/FORMAT.md, section 7).

The native loader remains the only way a model is built; this module serves the parts that
work on the container itself without building a plan: envelopes (compression, encryption),
value files, signatures, ``inspect_model`` and the model cache. Every byte is untrusted: the
native parser checks each offset and size against the file length before use, and any
violation raises ``FormatError``, with the same message whichever entry point found it.
"""

import json

from mle_runtime import _native
from mle_runtime.errors import FormatError
from mle_runtime.format import layout as L

KNOWN_KINDS = {L.SECTION_META: "metadata", L.SECTION_GRAPH: "graph",
               L.SECTION_DATA: "tensor data", L.SECTION_ENVELOPE: "envelope",
               L.SECTION_PAYLOAD: "payload", L.SECTION_SIGNATURE: "signature",
               L.SECTION_VALUE: "value", L.SECTION_MODEL: "model", L.SECTION_PICKLE: "pickle",
               L.SECTION_ESTIMATOR: "estimator record",
               L.SECTION_ESTIMATOR_DATA: "estimator data",
               L.SECTION_ESTIMATOR_ZLIB: "estimator record (zlib)"}
# The kinds that make a file an envelope (16.2) or a value file (17.1); the parser refuses a
# file that mixes them with each other or with a graph section (a model file).
ENVELOPE_KINDS = (L.SECTION_ENVELOPE, L.SECTION_PAYLOAD)
VALUE_KINDS = (L.SECTION_VALUE, L.SECTION_MODEL, L.SECTION_PICKLE)


class Section:
    """One section table entry; ``index`` is its position in the table, ``crc`` the checksum
    the table records and ``verified`` whether the parse checked the bytes against it."""

    __slots__ = ("index", "kind", "flags", "offset", "size", "crc", "verified")

    def __init__(self, index, kind, flags, offset, size, crc, verified=False):
        self.index, self.kind, self.flags = index, kind, flags
        self.offset, self.size, self.crc, self.verified = offset, size, crc, verified

    @property
    def end(self):
        return self.offset + self.size

    def name(self):
        return KNOWN_KINDS.get(self.kind, "unknown")


class Container:
    """A validated header and section table over ``data`` (bytes-like). ``kind`` is what the
    file is: "model", "envelope" or "value"."""

    def __init__(self, data, major, minor, flags, sections, kind="model"):
        self.data = memoryview(data).cast("B") if not isinstance(data, bytes) else data
        self.major, self.minor, self.flags = major, minor, flags
        self.sections = sections
        self.kind = kind

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

    Parameters
    ----------
    data : bytes-like
        The whole file (bytes, bytearray, memoryview or mmap).
    verify : bool or collection of int, default True
        True checks every section's CRC-32C; a collection of kinds checks only those
        sections' (header and table checksums are always verified).

    Returns
    -------
    Container

    Raises
    ------
    FormatError
        Anything about the header or section table is wrong, a verified checksum does not
        match, or the file mixes the sections of models, envelopes and value files.
    """
    kind, major, minor, flags, table = _native.parse_container(data, verify)
    sections = [Section(i, *entry) for i, entry in enumerate(table)]
    return Container(data, major, minor, flags, sections, kind)


def parse_head(head, file_size, verify=()):
    """:func:`parse` of a file's first bytes ``head`` (at least its header and section
    table) for a file of ``file_size`` bytes: every section is checked against
    ``file_size``; only those lying inside ``head`` have their bytes (and, with ``verify``,
    their checksums) checked. The model cache reads a file's metadata this way without
    reading the file."""
    kind, major, minor, flags, table = _native.parse_container(head, verify,
                                                               file_size=file_size)
    sections = [Section(i, *entry) for i, entry in enumerate(table)]
    return Container(head, major, minor, flags, sections, kind)


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
        keeps = s.kind in (L.SECTION_DATA, L.SECTION_MODEL, L.SECTION_ESTIMATOR_DATA) or \
            s.kind not in KNOWN_KINDS
        align = L.DATA_ALIGN if keeps and s.offset % L.DATA_ALIGN == 0 else L.SECTION_ALIGN
        payloads.append((s.kind, data, align, s.flags))
    for kind, data, flags in append:
        payloads.append((kind, data, L.SECTION_ALIGN, flags))
    extended = any(p[0] in (L.SECTION_ENVELOPE, L.SECTION_PAYLOAD, L.SECTION_SIGNATURE)
                   for p in payloads)
    minor = max(container.minor, L.MINOR_EXTENDED) if extended else container.minor
    return pack_sections(payloads, minor=minor)
