"""Every way a file can be broken raises ``FormatError`` naming the problem, through both entry
points: ``mle_runtime.load(path)`` (read or memory-mapped) and ``_native.load_buffer(bytes)``.

Files are crafted with ``writer.pack_sections`` and then patched; where a test targets a check
that runs after the checksums, every checksum is recomputed so that the check is reached.
"""

import io
import os
import pickle

import numpy as np
import pytest

import mle_runtime as mle
from mle_runtime import FormatError, MLEError, UnsupportedModelError, _native
from mle_runtime.format import layout as L
from mle_runtime.format import writer

# ------------------------------------------------------------------------------ helpers

META = {"model_class": "tests.Scaler", "estimator_type": "transformer"}


def graph_dict():
    return {
        "name": "StandardScaler",
        "n_features": 2,
        "tensors": [[0, "f8", [2]], [16, "f8", [2]]],
        "nodes": [["SubDiv", ["X"], "v1", {"sub": 0, "div": 1}]],
        "outputs": [["transform", "v1"]],
    }


DATA = np.array([1.0, -2.0, 2.0, 0.5], "<f8").tobytes()
X = np.array([[3.0, 1.0], [0.0, 0.0]])
EXPECTED = (X - [1.0, -2.0]) / [2.0, 0.5]


def pack(meta=None, graph=None, data=DATA, extra=()):
    """A file with sections metadata, graph, tensor data, then ``extra`` payloads."""
    meta_b = meta if isinstance(meta, bytes) else writer.encode_json(META if meta is None else meta)
    graph_b = graph if isinstance(graph, bytes) else writer.encode_json(
        graph_dict() if graph is None else graph)
    payloads = [(L.SECTION_META, meta_b), (L.SECTION_GRAPH, graph_b)]
    if data is not None:
        payloads.append((L.SECTION_DATA, data, 64))
    return writer.pack_sections(payloads + list(extra))


VALID = pack()


def header(buf):
    return np.frombuffer(buf, dtype=L.HEADER_DTYPE, count=1)[0]


def table(buf):
    n = int(header(buf)["section_count"])
    return np.frombuffer(buf, dtype=L.SECTION_DTYPE, count=n, offset=L.HEADER_SIZE)


def refresh(buf, sections=True, table_crc=True):
    """Recomputes section CRCs (for entries inside the file), the table CRC and the header CRC
    of ``buf`` (a bytearray), in place; returns bytes."""
    n = int.from_bytes(buf[24:28], "little")
    table_end = L.HEADER_SIZE + n * L.SECTION_ENTRY_SIZE
    if table_end <= len(buf):
        entries = np.frombuffer(buf, dtype=L.SECTION_DTYPE, count=n, offset=L.HEADER_SIZE).copy()
        if sections:
            for e in entries:
                off, size = int(e["offset"]), int(e["size"])
                if off + size <= len(buf):
                    e["crc"] = _native.crc32c(bytes(buf[off:off + size]))
            buf[L.HEADER_SIZE:table_end] = entries.tobytes()
        if table_crc:
            buf[28:32] = _native.crc32c(bytes(buf[L.HEADER_SIZE:table_end])).to_bytes(4, "little")
    buf[60:64] = _native.crc32c(bytes(buf[:60])).to_bytes(4, "little")
    return bytes(buf)


def patch_header(data, **fields):
    buf = bytearray(data)
    h = np.frombuffer(buf, dtype=L.HEADER_DTYPE, count=1)
    for k, v in fields.items():
        h[0][k] = v
    return refresh(buf, sections=False)


def patch_entry(data, index, recrc=False, **fields):
    """Sets fields of table entry ``index``; fixes the table and header CRCs (and with
    ``recrc`` the section CRCs too)."""
    buf = bytearray(data)
    n = int.from_bytes(buf[24:28], "little")
    t = np.frombuffer(buf, dtype=L.SECTION_DTYPE, count=n, offset=L.HEADER_SIZE)
    for k, v in fields.items():
        t[index][k] = v
    return refresh(buf, sections=recrc)


def section_bounds(data, index):
    e = table(data)[index]
    return int(e["offset"]), int(e["size"])


@pytest.fixture
def loaders(tmp_path):
    """Both entry points: returns a function ``check(data, *fragments)`` that asserts each
    raises FormatError whose message contains every fragment (case-insensitive)."""
    counter = iter(range(10 ** 6))

    def check(data, *fragments):
        path = tmp_path / f"bad{next(counter)}.mle"
        path.write_bytes(data)
        messages = []
        for name, load in (("mle.load(path)", lambda: mle.load(path)),
                           ("load_buffer", lambda: _native.load_buffer(data)),
                           ("mle.load(file object)", lambda: mle.load(io.BytesIO(data)))):
            with pytest.raises(FormatError) as info:
                load()
            msg = str(info.value)
            for frag in fragments:
                assert frag.lower() in msg.lower(), f"{name}: {frag!r} not in {msg!r}"
            messages.append(msg)
        return messages[0]

    return check


def test_the_base_file_is_valid(tmp_path):
    path = tmp_path / "ok.mle"
    path.write_bytes(VALID)
    np.testing.assert_array_equal(mle.load(path).transform(X), EXPECTED)
    np.testing.assert_array_equal(_native.load_buffer(VALID).run(X, 0), EXPECTED)


def test_format_error_is_an_mle_error_and_a_value_error():
    assert issubclass(FormatError, MLEError) and issubclass(FormatError, ValueError)
    with pytest.raises(ValueError):
        _native.load_buffer(b"garbage that is not a model at all")


# ------------------------------------------------------------------ not an .mle file at all

def test_random_bytes(loaders):
    rng = np.random.default_rng(1234)
    data = b"\x00" + rng.integers(0, 256, 4000, dtype=np.uint8).tobytes()
    loaders(data, "not an .mle file", "magic")


@pytest.mark.parametrize("text", [b"hello world, this is text\n", b"PK\x03\x04" + bytes(100),
                                  b"\x89PNG\r\n\x1a\n" + bytes(100), b"{}" * 40])
def test_other_file_types(loaders, text):
    loaders(text, "not an .mle file")


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_pickle_file(loaders, protocol):
    data = pickle.dumps({"weights": [1.0, 2.0], "name": "model"}, protocol=protocol)
    msg = loaders(data, "pickle")
    assert "mle_runtime.dump" in msg  # says what to do


@pytest.fixture(scope="module")
def sklearn_model():
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True)
    return LogisticRegression(max_iter=1000).fit(X, y)


@pytest.mark.parametrize("compress", [0, 3, ("zlib", 3), ("gzip", 3), ("bz2", 3), ("xz", 3),
                                      ("lzma", 3)],
                         ids=["uncompressed", "default-zlib", "zlib", "gzip", "bz2", "xz", "lzma"])
def test_joblib_file(loaders, tmp_path, sklearn_model, compress):
    import joblib

    path = tmp_path / "model.joblib"
    joblib.dump(sklearn_model, path, compress=compress)
    msg = loaders(path.read_bytes(), "joblib")
    assert "not an .mle file" in msg


# ------------------------------------------------------------------ empty and truncated

def test_empty_file(loaders):
    loaders(b"", "truncated", "0 bytes")


@pytest.mark.parametrize("n", [1, 7, 8, 9, 32, 59, 60, 63])
def test_truncated_inside_header(loaders, n):
    loaders(VALID[:n], "truncated")


@pytest.mark.parametrize("extra", [1, 31, 32, 95])
def test_truncated_inside_table(loaders, extra):
    loaders(VALID[:64 + extra], "truncated")


@pytest.mark.parametrize("index", [0, 1, 2])
def test_truncated_inside_a_section(loaders, index):
    off, size = section_bounds(VALID, index)
    loaders(VALID[:off + size // 2], "truncated")
    loaders(VALID[:off + size - 1], "truncated")


def test_truncated_table_with_consistent_file_size(loaders):
    # The header's file_size agrees with the (short) file, but the table it announces does not
    # fit: the table check itself must catch it.
    data = patch_header(VALID[:64 + 40], file_size=64 + 40)
    loaders(data, "truncated", "section table")


def test_truncated_section_with_consistent_file_size(loaders):
    off, size = section_bounds(VALID, 2)
    data = patch_header(VALID[:off + size - 8], file_size=off + size - 8)
    loaders(data, "section 2", "beyond the end")


# ------------------------------------------------------------------ header

@pytest.mark.parametrize("major", [0, 2, 3, 255, 65535])
def test_unknown_major_version(loaders, major):
    msg = loaders(patch_header(VALID, major=major), "major version", str(major))
    assert "upgrade" in msg.lower()


def test_unknown_major_version_without_fixing_the_header_crc(loaders):
    buf = bytearray(VALID)
    buf[8:10] = (2).to_bytes(2, "little")
    loaders(bytes(buf))  # refused either for the version or the checksum


@pytest.mark.parametrize("minor", [1, 7, 65535])
def test_newer_minor_version_loads(minor):
    m = _native.load_buffer(patch_header(VALID, minor=minor))
    np.testing.assert_array_equal(m.run(X, 0), EXPECTED)


@pytest.mark.parametrize("flags", [1, 2, 0x80000000, 0xFFFFFFFF])
def test_unknown_header_flags(loaders, flags):
    loaders(patch_header(VALID, flags=flags), "flags")


@pytest.mark.parametrize("byte", [32, 45, 59])
def test_reserved_header_bytes_not_zero(loaders, byte):
    buf = bytearray(VALID)
    buf[byte] = 1
    loaders(refresh(buf, sections=False), "reserved")


@pytest.mark.parametrize("byte", [8, 12, 16, 24, 28, 40, 60, 63])
def test_header_checksum_mismatch(loaders, byte):
    buf = bytearray(VALID)
    buf[byte] ^= 0x10
    if byte in (8, 9):
        loaders(bytes(buf))  # a changed major version may be reported first
    else:
        loaders(bytes(buf), "checksum", "header")


@pytest.mark.parametrize("count", [0, L.MAX_SECTIONS + 1, 0xFFFFFFFF])
def test_invalid_section_count(loaders, count):
    loaders(patch_header(VALID, section_count=count), "section count")


def test_section_count_larger_than_the_table(loaders):
    loaders(patch_header(VALID, section_count=100), "truncated", "section table")


# ------------------------------------------------------------------ section table

@pytest.mark.parametrize("byte", [64, 64 + 8, 64 + 32 + 16, 64 + 95])
def test_table_checksum_mismatch(loaders, byte):
    buf = bytearray(VALID)
    buf[byte] ^= 0x01
    loaders(refresh(buf, sections=False, table_crc=False), "checksum", "section table")


@pytest.mark.parametrize("index, name", [(0, "section 0 (metadata)"), (1, "section 1 (graph)"),
                                         (2, "section 2 (tensor data)")])
def test_section_checksum_mismatch_names_the_section(loaders, index, name):
    off, size = section_bounds(VALID, index)
    for pos in (off, off + size // 2, off + size - 1):
        buf = bytearray(VALID)
        buf[pos] ^= 0x40
        loaders(bytes(buf), "checksum mismatch", name)


def test_section_checksum_field_wrong(loaders):
    e = table(VALID)[2]
    loaders(patch_entry(VALID, 2, crc=int(e["crc"]) ^ 1), "checksum mismatch", "section 2")


@pytest.mark.parametrize("index", [0, 1, 2])
def test_section_size_beyond_end_of_file(loaders, index):
    loaders(patch_entry(VALID, index, size=len(VALID)), f"section {index}", "beyond the end")


@pytest.mark.parametrize("size", [2 ** 63, 2 ** 64 - 1, 2 ** 64 - 64])
def test_section_size_overflow(loaders, size):
    loaders(patch_entry(VALID, 2, size=size), "section 2", "beyond the end")


@pytest.mark.parametrize("offset", [2 ** 63, 2 ** 64 - 64, 2 ** 64 - 8])
def test_section_offset_beyond_end_of_file(loaders, offset):
    loaders(patch_entry(VALID, 2, offset=offset), "section 2", "beyond the end")


def test_section_offset_plus_size_overflows(loaders):
    loaders(patch_entry(VALID, 2, offset=2 ** 64 - 8, size=16), "section 2", "beyond the end")


@pytest.mark.parametrize("delta", [1, 3, 4, 7])
def test_misaligned_section_offset(loaders, delta):
    off, _ = section_bounds(VALID, 2)
    loaders(patch_entry(VALID, 2, offset=off + delta), "section 2", "aligned")


def test_sections_overlap(loaders):
    off1, size1 = section_bounds(VALID, 1)
    loaders(patch_entry(VALID, 2, offset=off1), "section 2", "overlaps")
    loaders(patch_entry(VALID, 2, offset=off1 + 8, recrc=True), "section 2", "overlaps")
    loaders(patch_entry(VALID, 2, offset=off1 + size1 - size1 % 8 - 8, recrc=True), "section 2",
            "overlaps")


def test_section_overlaps_the_table(loaders):
    loaders(patch_entry(VALID, 0, offset=64), "section 0", "overlaps")
    loaders(patch_entry(VALID, 0, offset=0), "section 0", "overlaps")


def test_sections_out_of_order(loaders):
    off0, size0 = section_bounds(VALID, 0)
    off1, size1 = section_bounds(VALID, 1)
    swapped = patch_entry(patch_entry(VALID, 0, offset=off1, size=size1), 1, offset=off0,
                          size=size0, recrc=True)
    loaders(swapped, "section 1", "overlaps")


def test_reserved_entry_field_not_zero(loaders):
    loaders(patch_entry(VALID, 1, reserved=1), "section 1", "reserved")


def _refused_with_trailing_bytes(tmp_path, data, *fragments):
    """A path or a buffer with bytes after the declared end is refused; a file object is
    read to exactly its declared size (as joblib reads a pickle), so what follows is the
    next thing in the stream: loaded, with the position right after the file."""
    path = tmp_path / "trailing.mle"
    path.write_bytes(data)
    for load in (lambda: mle.load(path), lambda: _native.load_buffer(data)):
        with pytest.raises(FormatError) as info:
            load()
        for frag in fragments:
            assert frag.lower() in str(info.value).lower()
    f = io.BytesIO(data)
    np.testing.assert_array_equal(mle.load(f).transform(X), EXPECTED)
    assert f.tell() == len(VALID)


@pytest.mark.parametrize("n", [1, 8, 64, 4096])
def test_trailing_bytes(tmp_path, n):
    _refused_with_trailing_bytes(tmp_path, VALID + bytes(n), "trailing", str(n))


def test_trailing_bytes_with_data(tmp_path):
    _refused_with_trailing_bytes(tmp_path, VALID + b"appended by a broken copy", "trailing")


@pytest.mark.parametrize("kind", [L.SECTION_META, L.SECTION_GRAPH, L.SECTION_DATA])
def test_duplicate_section_kinds(loaders, kind):
    payload = {L.SECTION_META: b"{}", L.SECTION_GRAPH: writer.encode_json(graph_dict()),
               L.SECTION_DATA: DATA}[kind]
    loaders(pack(extra=[(kind, payload)]), "more than one")


def test_missing_metadata_section(loaders):
    data = writer.pack_sections([(L.SECTION_GRAPH, writer.encode_json(graph_dict())),
                                 (L.SECTION_DATA, DATA, 64)])
    loaders(data, "no metadata section")


def test_missing_graph_section(loaders):
    data = writer.pack_sections([(L.SECTION_META, b"{}"), (L.SECTION_DATA, DATA, 64)])
    loaders(data, "no graph section")


def test_tensors_without_a_data_section(loaders):
    loaders(pack(data=None), "tensor 0", "no tensor data section")


# ------------------------------------------------------------------ JSON size caps

def _padded_json(obj, total):
    raw = writer.encode_json(obj)
    assert len(raw) <= total
    return raw + b" " * (total - len(raw))  # whitespace after the value is valid JSON


def test_metadata_json_at_the_cap_loads():
    data = pack(meta=_padded_json(META, L.MAX_META_JSON))
    np.testing.assert_array_equal(_native.load_buffer(data).run(X, 0), EXPECTED)


def test_metadata_json_over_the_cap(loaders):
    data = pack(meta=_padded_json(META, L.MAX_META_JSON + 1))
    loaders(data, "section 0 (metadata)", "cap")


def test_graph_json_at_the_cap_loads():
    data = pack(graph=_padded_json(graph_dict(), L.MAX_GRAPH_JSON))
    np.testing.assert_array_equal(_native.load_buffer(data).run(X, 0), EXPECTED)


def test_graph_json_over_the_cap(loaders):
    data = pack(graph=_padded_json(graph_dict(), L.MAX_GRAPH_JSON + 1))
    loaders(data, "section 1 (graph)", "cap")


def test_crafted_size_field_over_the_cap(loaders):
    # The size field claims a huge metadata section: refused (bounds or cap) before any parse.
    loaders(patch_entry(VALID, 0, size=L.MAX_META_JSON + 1), "section 0")


# ------------------------------------------------------------------ invalid JSON

BAD_JSON = {
    "empty": b"",
    "whitespace": b"   \n",
    "unterminated object": b'{"a":1',
    "unterminated string": b'{"a":"abc}',
    "trailing comma": b'{"a":1,}',
    "single quotes": b"{'a':1}",
    "NaN literal": b'{"a":NaN}',
    "Infinity literal": b'{"a":-Infinity}',
    "duplicate key": b'{"a":1,"a":2}',
    "two values": b"{}{}",
    "garbage after value": b'{"a":1} x',
    "byte order mark": b"\xef\xbb\xbf{}",
    "leading zero": b'{"a":01}',
    "bad escape": b'{"a":"\\x41"}',
    "lone surrogate": b'{"a":"\\ud800"}',
    "control character": b'{"a":"tab\there"}',
    "number out of range": b'{"a":1e999}',
    "comment": b'{"a":1 /* no */}',
    "invalid utf-8 in a string": b'{"a":"\xff\xfe"}',
    "truncated utf-8 sequence": b'{"a":"caf\xc3"}',
    "overlong utf-8": b'{"a":"\xc0\xaf"}',
    "utf-8 encoded surrogate": b'{"a":"\xed\xa0\x80"}',
    "utf-8 beyond U+10FFFF": b'{"a":"\xf4\x90\x80\x80"}',
    "utf-8 in a key": b'{"\xff":1}',
}


def test_valid_utf8_loads():
    raw = '{"a":"caf\u00e9 \u2713 \U0001d11e","\u00e9":"\\u00e9"}'.encode()
    m = mle.load(io.BytesIO(pack(meta=raw)))
    assert m.metadata == {"a": "caf\u00e9 \u2713 \U0001d11e", "\u00e9": "\u00e9"}


@pytest.mark.parametrize("raw", list(BAD_JSON.values()), ids=list(BAD_JSON))
def test_invalid_metadata_json(loaders, raw):
    loaders(pack(meta=raw), "metadata")


@pytest.mark.parametrize("raw", list(BAD_JSON.values()), ids=list(BAD_JSON))
def test_invalid_graph_json(loaders, raw):
    loaders(pack(graph=raw), "graph")


@pytest.mark.parametrize("raw", [b"[]", b'"text"', b"1", b"null", b"true"])
def test_json_that_is_not_an_object(loaders, raw):
    loaders(pack(meta=raw), "metadata", "not a JSON object")
    loaders(pack(graph=raw), "graph", "not a JSON object")


def test_invalid_utf8_in_graph_name(loaders):
    raw = writer.encode_json(graph_dict()).replace(b'"StandardScaler"', b'"Standard\xffScaler"')
    assert b"\xff" in raw
    loaders(pack(graph=raw), "graph")


def test_invalid_utf8_in_output_name(loaders):
    raw = writer.encode_json(graph_dict()).replace(b'"transform"', b'"transform\xff"')
    loaders(pack(graph=raw), "graph")


def nested(depth, inner=b"0"):
    """A JSON object whose deepest value sits at ``depth`` (the root object is depth 0)."""
    return b'{"deep":' + b"[" * (depth - 1) + inner + b"]" * (depth - 1) + b"}"


def test_metadata_nesting_at_the_limit_loads():
    m = _native.load_buffer(pack(meta=nested(64)))
    np.testing.assert_array_equal(m.run(X, 0), EXPECTED)
    for inner in (b"[]", b"{}", b'"deepest"'):  # empty containers at depth 64 are fine too
        assert _native.load_buffer(pack(meta=nested(64, inner))).n_features == 2


@pytest.mark.parametrize("depth", [65, 66, 100, 10000])
def test_metadata_nesting_too_deep(loaders, depth):
    loaders(pack(meta=nested(depth)), "metadata", "nesting")


@pytest.mark.parametrize("depth", [65, 1000])
def test_graph_nesting_too_deep(loaders, depth):
    raw = writer.encode_json(graph_dict())[:-1] + b',"extra":' + nested(depth - 1) + b"}"
    loaders(pack(graph=raw), "graph", "nesting")


def test_nesting_with_objects_too_deep(loaders):
    raw = b'{"a":' * 65 + b"1" + b"}" * 65
    loaders(pack(meta=raw), "metadata", "nesting")


# ------------------------------------------------------------------ tensors

@pytest.mark.parametrize("dtype", ["float16", "f2", "c8", "i2", "U8", "f8 ", "", 8, None])
def test_tensor_dtype_unknown(loaders, dtype):
    g = graph_dict()
    g["tensors"][1][1] = dtype
    loaders(pack(graph=g), "tensor 1", "dtype")


@pytest.mark.parametrize("shape", [[3], [2, 2], [5], [1, 1, 1, 3]])
def test_tensor_shape_larger_than_the_data(loaders, shape):
    g = graph_dict()
    g["tensors"][1][2] = shape
    loaders(pack(graph=g), "tensor 1", "beyond the tensor data section")


@pytest.mark.parametrize("shape", [[-1], [2 ** 41], [1, 1, 1, 1, 2], "2", [2.0], [True]])
def test_tensor_shape_invalid(loaders, shape):
    g = graph_dict()
    g["tensors"][1][2] = shape
    loaders(pack(graph=g), "tensor 1")


def test_tensor_shape_element_count_overflow(loaders):
    g = graph_dict()
    g["tensors"][1][2] = [2 ** 40, 2 ** 40, 2 ** 40]
    loaders(pack(graph=g), "tensor 1")


@pytest.mark.parametrize("offset", [-8, 33, 40, 2 ** 62, "16", 16.0, None])
def test_tensor_offset_invalid(loaders, offset):
    g = graph_dict()
    g["tensors"][1][0] = offset
    loaders(pack(graph=g), "tensor 1")


def test_tensor_smaller_data_section(loaders):
    loaders(pack(data=DATA[:24]), "tensor 1", "beyond")


@pytest.mark.parametrize("record", [[0, "f8"], [0, "f8", [2], 1], {"offset": 0}, "t", 0])
def test_tensor_record_malformed(loaders, record):
    g = graph_dict()
    g["tensors"][0] = record
    loaders(pack(graph=g), "tensor 0")


# ------------------------------------------------------------------ unknown section kinds

EXTRA_KIND = 77


def with_extra_section(flags, position):
    """VALID plus a section of unknown kind at ``position`` (0..3), with these flags."""
    payloads = [(L.SECTION_META, writer.encode_json(META)),
                (L.SECTION_GRAPH, writer.encode_json(graph_dict())),
                (L.SECTION_DATA, DATA, 64)]
    payloads.insert(position, (EXTRA_KIND, b"a future feature's bytes\x00\x01\x02"))
    data = writer.pack_sections(payloads)
    return patch_entry(data, position, flags=flags)


@pytest.mark.parametrize("position", [0, 1, 2, 3])
def test_unknown_required_section_kind(loaders, position):
    loaders(with_extra_section(0, position), f"section {position}", "unknown kind 77")
    loaders(with_extra_section(2, position), f"section {position}", "unknown kind 77")


@pytest.mark.parametrize("position", [0, 1, 2, 3])
@pytest.mark.parametrize("flags", [L.SECTION_OPTIONAL, L.SECTION_OPTIONAL | 0x100])
def test_unknown_optional_section_is_skipped(tmp_path, position, flags):
    data = with_extra_section(flags, position)
    path = tmp_path / "optional.mle"
    path.write_bytes(data)
    np.testing.assert_array_equal(mle.load(path).transform(X), EXPECTED)
    np.testing.assert_array_equal(_native.load_buffer(data).run(X, 0), EXPECTED)


def test_unknown_optional_section_is_still_checksummed(loaders):
    data = bytearray(with_extra_section(L.SECTION_OPTIONAL, 3))
    off, size = section_bounds(data, 3)
    data[off] ^= 1
    loaders(bytes(data), "checksum mismatch", "section 3")


def test_unknown_optional_section_is_still_bounds_checked(loaders):
    data = with_extra_section(L.SECTION_OPTIONAL, 3)
    loaders(patch_entry(data, 3, size=2 ** 40), "section 3", "beyond the end")


# ------------------------------------------------------------------ operating-system errors

def test_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        mle.load(tmp_path / "does-not-exist.mle")


def test_directory_is_an_os_error(tmp_path):
    with pytest.raises(OSError) as info:
        mle.load(tmp_path)
    assert not isinstance(info.value, FormatError)


def test_large_file_goes_through_the_mapped_path(tmp_path):
    # Files above the read threshold (64 KiB) are memory-mapped: the same validation applies.
    assert _native._read_threshold() == 64 * 1024
    big = pack(meta=_padded_json(META, 3 << 20))
    path = tmp_path / "big.mle"
    path.write_bytes(big)
    np.testing.assert_array_equal(mle.load(path).transform(X), EXPECTED)
    buf = bytearray(big)
    off, _ = section_bounds(big, 0)
    buf[off + 100] ^= 1
    path.write_bytes(bytes(buf))
    with pytest.raises(FormatError, match="section 0"):
        mle.load(path)
    path.write_bytes(big + b"\0")
    with pytest.raises(FormatError, match="trailing"):
        mle.load(path)


def test_unknown_op_is_unsupported_not_format():
    g = graph_dict()
    g["nodes"][0][0] = "FutureOp"
    with pytest.raises(UnsupportedModelError, match="FutureOp"):
        _native.load_buffer(pack(graph=g))


def test_messages_do_not_depend_on_the_entry_point(tmp_path):
    bad = patch_header(VALID, major=9)
    path = tmp_path / "v9.mle"
    path.write_bytes(bad)
    with pytest.raises(FormatError) as a:
        mle.load(os.fspath(path))
    with pytest.raises(FormatError) as b:
        _native.load_buffer(bytearray(bad))
    with pytest.raises(FormatError) as c:
        _native.load_buffer(memoryview(bad))
    assert str(a.value) == str(b.value) == str(c.value)
