"""One container reader: the native parser (``_native.parse_container``) is the only code that
reads the header and section table. ``format/container.py``, the model cache, ``load`` and
``inspect_model`` go through it, report one message per problem, and decide what a file is
(model, envelope or value file) from the parsed kind. Nothing else in the package holds a
struct format string or a header offset (``format/layout.py`` holds the few that writing and
signing need)."""

import io
import pathlib
import re

import numpy as np
import pytest

import mle_runtime as mle
from mle_runtime import _native, cache
from mle_runtime.format import container, crypto, envelope, writer
from mle_runtime.format import layout as L
from mle_testing import scaler_model

ROOT = pathlib.Path(__file__).resolve().parents[2]
X = np.array([[1.0, 2.0], [3.0, -4.0]])
KEY = bytes(range(32))


# ------------------------------------------------------------------------ the grep

# A struct format string ("<I", "<IIQQII", "<8sHHIQII28sI", ...), the struct module, or a
# literal header offset: a slice ending at a header field boundary, or an index into the table.
_FORBIDDEN = [
    (re.compile(r"^\s*(import struct|from struct import)"), "imports struct"),
    (re.compile(r"\bstruct\.(unpack|pack|Struct|calcsize|iter_unpack)"), "uses struct"),
    (re.compile(r"\.unpack_from\("), "unpacks bytes"),
    (re.compile(r"""["']<[0-9]*[xcbB?hHiIlLqQnNefdsp](?:[0-9]*[xcbB?hHiIlLqQnNefdsp])*["']"""),
     "holds a struct format string"),
    (re.compile(r"\[\s*(?:8|10|12|16|24|28|32|60)\s*:\s*(?:10|12|16|24|28|32|60|64)\s*\]"
                r"|\[\s*:\s*(?:28|60)\s*\]|\[\s*(?:28|60)\s*:\s*\]"),
     "slices at a header field boundary"),
    (re.compile(r"HEADER_SIZE\s*\+\s*32\b|\b32\s*\*\s*(?:i|index|count)\b"),
     "computes a table entry offset from a literal"),
]


def _package_files():
    for top in ("mle_runtime", "compat", "asv_bench"):
        for path in sorted((ROOT / top).rglob("*.py")):
            if path.relative_to(ROOT).as_posix() != "mle_runtime/format/layout.py":
                yield path


def _violations(text):
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        code = line.split("#", 1)[0]
        for pattern, what in _FORBIDDEN:
            if pattern.search(code):
                out.append((n, what, line.strip()))
    return out


def test_no_struct_format_string_or_header_offset_outside_layout():
    found = []
    for path in _package_files():
        for n, what, line in _violations(path.read_text("utf-8")):
            found.append(f"{path.relative_to(ROOT)}:{n}: {what}: {line}")
    assert not found, ("the container is read by the native parser "
                       "(mle_runtime.format.container) and its constants live in "
                       "format/layout.py:\n" + "\n".join(found))


@pytest.mark.parametrize("line", [
    "import struct",
    'count = struct.unpack_from("<I", head, 24)[0]',
    '_ENTRY = struct.Struct("<IIQQII")',
    "if bytes(data[10:12]) in (b'', b'00'):",
    "hb[60:64] = crc",
    "h.update(mv[:28])",
    "kind = table[32 * i]",
])
def test_the_grep_sees_what_it_forbids(line):
    assert _violations(line)


@pytest.mark.parametrize("line", [
    'np.dtype("<f8")', "x = row[:16] if short else row", "head = data[:8]",
    "hb[L.HEADER_CRC:] = crc", "names[:2]",
])
def test_the_grep_lets_ordinary_code_through(line):
    assert not _violations(line)


# ------------------------------------------------------------- files of every kind

def _model():
    meta, g = scaler_model()
    return writer.model_file(g, meta)


def _meta_of(data):
    c = container.parse(data)
    return bytes(c.payload(c.find(L.SECTION_META)))


def _value():
    buf = io.BytesIO()
    mle.dump({"x": np.arange(5.0), "m": mle.load(io.BytesIO(_model()))}, buf)
    return buf.getvalue()


def _files():
    model = _model()
    key = crypto.generate_private_key()
    out = {
        "model": model,
        "signed model": crypto.sign_file_bytes(model, key),
        "compressed envelope": envelope.seal(model, _meta_of(model), ("zlib", 6)),
        "encrypted envelope": envelope.seal(model, _meta_of(model), None, KEY),
        "value": _value(),
        "model with an unknown optional section": container.repack(
            container.parse(model), append=[(77, b"later", L.SECTION_OPTIONAL)]),
    }
    out["signed envelope"] = crypto.sign_file_bytes(out["compressed envelope"], key)
    return out


FILES = _files()
KIND = {"model": "model", "signed model": "model", "compressed envelope": "envelope",
        "encrypted envelope": "envelope", "signed envelope": "envelope", "value": "value",
        "model with an unknown optional section": "model"}


def _numpy_table(data):
    """The header and table as the numpy twins of the packed structs read them."""
    h = np.frombuffer(data, dtype=L.HEADER_DTYPE, count=1)[0]
    t = np.frombuffer(data, dtype=L.SECTION_DTYPE, count=int(h["section_count"]),
                      offset=L.HEADER_SIZE)
    return h, [(int(e["kind"]), int(e["flags"]), int(e["offset"]), int(e["size"]),
                int(e["crc"])) for e in t]


@pytest.mark.parametrize("name", list(FILES))
def test_native_and_python_views_agree_on_every_kind_of_file(name, tmp_path):
    data = FILES[name]
    kind, major, minor, flags, table = _native.parse_container(data)
    h, entries = _numpy_table(data)
    assert kind == KIND[name]
    assert (major, minor, flags) == (int(h["major"]), int(h["minor"]), int(h["flags"]))
    assert [t[:5] for t in table] == entries
    assert all(t[5] for t in table)  # every checksum verified
    c = container.parse(data)
    assert c.kind == kind and c.version == f"{major}.{minor}"
    assert [(s.kind, s.flags, s.offset, s.size, s.crc) for s in c.sections] == entries
    assert [s.index for s in c.sections] == list(range(len(entries)))
    # only the kinds asked for are verified
    c = container.parse(data, verify=(L.SECTION_META,))
    assert [s.verified for s in c.sections] == [s.kind == L.SECTION_META for s in c.sections]
    assert not any(s.verified for s in container.parse(data, verify=()).sections)
    # the cache's view: the header and table alone, checked against the file's size
    head = container.parse_head(data[:L.HEADER_SIZE + L.SECTION_ENTRY_SIZE * len(entries)],
                                len(data))
    assert head.kind == kind
    assert [(s.kind, s.offset, s.size, s.crc) for s in head.sections] == \
        [(e[0], e[2], e[3], e[4]) for e in entries]
    path = tmp_path / "f.mle"
    path.write_bytes(data)
    assert cache._disk_meta(str(path), len(data)) == _meta_of(data)
    # inspect_model describes the same table
    summary = mle.inspect_model(path, encryption_key=KEY if "encrypted" in name else None)
    assert [s["size"] for s in summary["sections"]] == [e[3] for e in entries]


@pytest.mark.parametrize("name", list(FILES))
def test_the_loader_reports_the_kind_of_other_files(name, tmp_path):
    data = FILES[name]
    path = tmp_path / "f.mle"
    path.write_bytes(data)
    for got in (_native.load_buffer_or_kind(data),
                _native.load_path_or_kind(str(path).encode())):
        if KIND[name] == "model":
            assert isinstance(got, _native.NativeModel)
        else:
            assert got == KIND[name]


def test_load_decides_the_kind_without_a_format_error(tmp_path, monkeypatch):
    """An envelope and a value file load although the native loader's FormatError would have
    been the only sign of what they are: the parsed kind decides."""
    want = mle.load(io.BytesIO(_model())).transform(X)
    for name in ("compressed envelope", "value"):
        path = tmp_path / f"{name}.mle"
        path.write_bytes(FILES[name])
        for source in (path, io.BytesIO(FILES[name])):
            out = mle.load(source, cache=False)
            model = out["m"] if name == "value" else out
            np.testing.assert_array_equal(model.transform(X), want)


# ------------------------------------------------------------- one message per problem

def _refresh(buf):
    """Recomputes the table and header checksums of ``buf`` in place (through the dtypes)."""
    h = np.frombuffer(buf, dtype=L.HEADER_DTYPE, count=1)
    n = int(h[0]["section_count"])
    end = L.HEADER_SIZE + n * L.SECTION_ENTRY_SIZE
    h[0]["table_crc"] = _native.crc32c(bytes(buf[L.HEADER_SIZE:end]))
    h[0]["header_crc"] = _native.crc32c(bytes(buf[:L.HEADER_CRC]))
    return bytes(buf)


def _with_header(data, **fields):
    buf = bytearray(data)
    h = np.frombuffer(buf, dtype=L.HEADER_DTYPE, count=1)
    for k, v in fields.items():
        h[0][k] = v
    return _refresh(buf)


def _with_entry(data, index, **fields):
    buf = bytearray(data)
    n = int(np.frombuffer(buf, dtype=L.HEADER_DTYPE, count=1)[0]["section_count"])
    t = np.frombuffer(buf, dtype=L.SECTION_DTYPE, count=n, offset=L.HEADER_SIZE)
    for k, v in fields.items():
        t[index][k] = v
    return _refresh(buf)


def _flip(data, offset):
    buf = bytearray(data)
    buf[offset] ^= 1
    return bytes(buf)


def _hostile():
    model, value, env = FILES["model"], FILES["value"], FILES["compressed envelope"]
    sig = container.parse(FILES["signed model"]).find(L.SECTION_SIGNATURE)
    return {
        # the flags were printed as 0x16 by the native reader and 0x10 by the Python one
        "header flags": (_with_header(model, flags=16), "header flags 0x10 "),
        "envelope header flags": (_with_header(env, flags=0x300), "header flags 0x300 "),
        "value: bad checksum": (_flip(value, container.parse(value).find(L.SECTION_VALUE)
                                      .offset), "checksum mismatch in section"),
        "envelope: second envelope section": (
            _with_entry(env, 2, kind=L.SECTION_ENVELOPE), "more than one envelope section"),
        "value: unknown required kind": (
            _with_entry(value, 0, kind=99), "required section of unknown kind 99"),
        "oversized signature": (
            container.repack(container.parse(model), append=[
                (L.SECTION_SIGNATURE, bytes(sig.size + 8), L.SECTION_OPTIONAL)]),
            "exceeds the 104-byte cap"),
        "truncated value": (value[:-8], "truncated"),
        "pickle": (b"\x80\x04N.", "pickle/joblib file"),
    }


HOSTILE = _hostile()


@pytest.mark.parametrize("name", list(HOSTILE))
def test_one_message_per_problem_whichever_path_finds_it(name, tmp_path):
    data, fragment = HOSTILE[name]
    path = tmp_path / "bad.mle"
    path.write_bytes(data)
    attempts = {
        "container.parse": lambda: container.parse(data),
        "container.parse(verify=())": lambda: container.parse(data, verify=()),
        "_native.load_buffer": lambda: _native.load_buffer(data),
        "mle.load(path)": lambda: mle.load(path, cache=False),
        "mle.load(file object)": lambda: mle.load(io.BytesIO(data)),
        "inspect_model(verify=True)": lambda: mle.inspect_model(path, verify=True),
    }
    if "checksum" in fragment:
        # found only where the value file's checksums are verified: the model loader leaves
        # them to the value layer (and says that this is not a plain model file)
        del attempts["container.parse(verify=())"], attempts["_native.load_buffer"]
    messages = {}
    for what, attempt in attempts.items():
        with pytest.raises(mle.FormatError) as info:
            attempt()
        messages[what] = str(info.value)
    assert fragment in messages["container.parse"], messages
    assert len(set(messages.values())) == 1, messages


# ------------------------------------------------------------------ the cache's reads

def test_cache_reads_metadata_inside_and_beyond_the_head_it_parses(tmp_path):
    """The cache parses the first bytes of a file (header and table) and reads the metadata
    section from them when it lies inside, else from the file; a changed byte is refused."""
    meta, g = scaler_model()
    small = writer.model_file(g, meta)
    big = writer.model_file(g, dict(meta, user={"notes": "x" * 5000}))
    for data, inside in ((small, True), (big, False)):
        c = container.parse(data)
        s = c.find(L.SECTION_META)
        assert (s.end <= cache._HEAD_SIZE) is inside
        path = tmp_path / "m.mle"
        path.write_bytes(data)
        assert cache._disk_meta(str(path), len(data)) == bytes(c.payload(s))
        path.write_bytes(_flip(data, s.offset + s.size - 2))
        assert cache._disk_meta(str(path), len(data)) is None


def test_cache_refuses_what_the_parser_refuses(tmp_path):
    model = FILES["model"]
    many = container.repack(container.parse(model), append=[
        (90 + i, b"", L.SECTION_OPTIONAL) for i in range(cache._MAX_SECTIONS)])
    path = tmp_path / "m.mle"
    for data in (_with_header(model, flags=1), _flip(model, L.HEADER_SIZE + 3), many,
                 model[:-8], model + bytes(8)):
        path.write_bytes(data)
        assert cache._disk_meta(str(path), len(data)) is None
