"""The numpy dtype twins in ``mle_runtime/format/layout.py`` agree with the packed C++ structs
and constants of ``_native/include/mle/layout.h`` (docs/FORMAT.md, "Header" and "Section
table"), and the tensor element types agree with the native reader."""

import json
import re
import struct
from pathlib import Path

import numpy as np
import pytest

from mle_runtime import FormatError, _native
from mle_runtime.format import layout as L
from mle_runtime.format import writer

INCLUDE = Path(__file__).resolve().parents[2] / "_native" / "include" / "mle"

# C++ record name (as persisted_fields() reports it) -> name of its numpy twin in layout.py.
TWIN_NAMES = {
    "Header": "HEADER_DTYPE",
    "SectionEntry": "SECTION_DTYPE",
    "trees::Node32": "TREE_NODE32_DTYPE",
    "trees::Node64": "TREE_NODE64_DTYPE",
}
RECORDS = sorted({r for r, _, _, _ in _native.persisted_fields()})

# The container records spelled with the struct module, independently of numpy.
STRUCT_FORMATS = {"Header": "<8sHHIQII28sI", "SectionEntry": "<IIQQII"}


def _twin(record):
    return getattr(L, TWIN_NAMES[record])


def _fields_by_record():
    out = {}
    for record, field, offset, size in _native.persisted_fields():
        out.setdefault(record, []).append((field, offset, size))
    return out


def test_every_persisted_record_has_a_known_twin():
    assert {"Header", "SectionEntry"} <= set(RECORDS)
    unknown = set(RECORDS) - set(TWIN_NAMES)
    assert not unknown, f"C++ records without a numpy twin registered here: {unknown}"
    for record in RECORDS:
        assert isinstance(_twin(record), np.dtype)


@pytest.mark.parametrize("record", RECORDS)
def test_every_cpp_field_matches_the_numpy_twin(record):
    dtype = _twin(record)
    cpp = _fields_by_record()[record]
    assert [f for f, _, _ in cpp] == list(dtype.names), "same fields in the same order"
    for field, offset, size in cpp:
        ftype, foffset = dtype.fields[field][:2]
        assert foffset == offset, f"{record}.{field}: numpy offset {foffset}, C++ {offset}"
        assert ftype.itemsize == size, f"{record}.{field}: numpy size {ftype.itemsize}, C++ {size}"


@pytest.mark.parametrize("record", RECORDS)
def test_records_are_packed_without_gaps(record):
    dtype = _twin(record)
    end = 0
    for field, offset, size in sorted(_fields_by_record()[record], key=lambda t: t[1]):
        assert offset == end, f"{record}.{field} starts at {offset}, previous field ends at {end}"
        end = offset + size
    assert end == dtype.itemsize


@pytest.mark.parametrize("record", RECORDS)
def test_multibyte_fields_are_little_endian(record):
    dtype = _twin(record)
    for name in dtype.names:
        ftype = dtype.fields[name][0]
        assert ftype.str[0] in "<|", f"{record}.{name} is {ftype.str}; the format is little-endian"


def test_itemsizes():
    assert L.HEADER_DTYPE.itemsize == 64 == L.HEADER_SIZE
    assert L.SECTION_DTYPE.itemsize == 32 == L.SECTION_ENTRY_SIZE
    assert struct.calcsize(STRUCT_FORMATS["Header"]) == 64
    assert struct.calcsize(STRUCT_FORMATS["SectionEntry"]) == 32


def test_numpy_and_struct_decode_the_same_header_and_table():
    # Decode the header and table of a real file both ways: the dtype twins and the struct
    # formats (which spell out the C++ field order and widths) must agree value for value.
    data = _tiny_file()
    h = np.frombuffer(data[:64], dtype=L.HEADER_DTYPE)[0]
    magic, major, minor, flags, file_size, count, table_crc, reserved, header_crc = \
        struct.unpack(STRUCT_FORMATS["Header"], data[:64])
    assert bytes(h["magic"]) == magic == L.MAGIC
    assert (int(h["major"]), int(h["minor"]), int(h["flags"])) == (major, minor, flags)
    assert (major, minor, flags) == (L.MAJOR, L.MINOR_RULES, 0)
    assert int(h["file_size"]) == file_size == len(data)
    assert int(h["section_count"]) == count == 3
    assert int(h["table_crc"]) == table_crc == _native.crc32c(data[64:64 + 32 * count])
    assert bytes(h["reserved"]) == reserved == bytes(28)
    assert int(h["header_crc"]) == header_crc == _native.crc32c(data[:60])
    table = np.frombuffer(data[64:64 + 32 * count], dtype=L.SECTION_DTYPE)
    for i in range(count):
        entry = struct.unpack(STRUCT_FORMATS["SectionEntry"], data[64 + 32 * i:96 + 32 * i])
        assert tuple(int(v) for v in table[i].tolist()) == entry
        kind, flags, offset, size, crc, reserved = entry
        assert crc == _native.crc32c(data[offset:offset + size])
        assert offset % L.SECTION_ALIGN == 0 and reserved == 0 and flags == 0


# ------------------------------------------------------------------------ header constants

def _cpp_int(expr):
    """Evaluates the integer constant expressions the headers use: ``64``, ``1u << 20``,
    ``16ull << 20``, ``0x00FFFFFFu``, ``3u << kMissingShift``."""
    parts = [p.strip() for p in expr.split("<<")]
    assert 1 <= len(parts) <= 2, expr
    vals = []
    for p in parts:
        m = re.fullmatch(r"(0x[0-9A-Fa-f]+|\d+)[uUlL]*", p)
        assert m, f"cannot read {p!r} in {expr!r}"
        vals.append(int(m.group(1), 0))
    return vals[0] << vals[1] if len(vals) == 2 else vals[0]


def _cpp_constants(header):
    out = {}
    text = (INCLUDE / header).read_text()
    for m in re.finditer(r"constexpr\s+\w+\s+(k\w+)\s*=\s*([^;{]+);", text):
        try:
            out[m.group(1)] = _cpp_int(m.group(2))
        except AssertionError:
            pass  # an expression of other constants; not compared here
    return out


def _cpp_magic():
    m = re.search(r"kMagic\[8\]\s*=\s*\{([^}]*)\}", (INCLUDE / "layout.h").read_text())
    assert m, "kMagic not found in layout.h"
    escapes = {r"\r": 13, r"\n": 10, r"\t": 9, r"\0": 0, r"\\": 92, r"\'": 39}
    out = []
    for tok in (t.strip() for t in m.group(1).split(",")):
        if tok.startswith("'"):
            body = tok[1:-1]
            out.append(escapes[body] if body.startswith("\\") else ord(body))
        else:
            out.append(int(tok, 0))
    return bytes(out)


def test_magic_matches_layout_h():
    assert _cpp_magic() == L.MAGIC == b"\x89MLE\r\n\x1a\n"


@pytest.mark.parametrize("cpp_name, py_name", [
    ("kMajor", "MAJOR"),
    ("kMinor", "MINOR"),
    ("kSectionAlign", "SECTION_ALIGN"),
    ("kDataAlign", "DATA_ALIGN"),
    ("kBigTensor", "BIG_TENSOR"),
    ("kHeaderSize", "HEADER_SIZE"),
    ("kMaxSections", "MAX_SECTIONS"),
    ("kMaxMetaJson", "MAX_META_JSON"),
    ("kMaxGraphJson", "MAX_GRAPH_JSON"),
    ("kSectionMeta", "SECTION_META"),
    ("kSectionGraph", "SECTION_GRAPH"),
    ("kSectionData", "SECTION_DATA"),
    ("kSectionOptional", "SECTION_OPTIONAL"),
    ("kSectionEstimator", "SECTION_ESTIMATOR"),
    ("kSectionEstimatorData", "SECTION_ESTIMATOR_DATA"),
])
def test_constant_matches_layout_h(cpp_name, py_name):
    consts = _cpp_constants("layout.h")
    assert cpp_name in consts, f"{cpp_name} not found in layout.h"
    assert consts[cpp_name] == getattr(L, py_name)


def test_version_one_defines_no_header_flags():
    # Every header flag bit is unknown in version 1: writers write 0, readers refuse others.
    assert _cpp_constants("layout.h")["kKnownFlags"] == 0


def test_static_asserts_in_layout_h_pin_the_record_sizes():
    text = (INCLUDE / "layout.h").read_text()
    assert re.search(r"static_assert\(sizeof\(Header\)\s*==\s*kHeaderSize", text)
    assert re.search(r"static_assert\(sizeof\(SectionEntry\)\s*==\s*32", text)


@pytest.mark.parametrize("record", [r for r in RECORDS if r.startswith("trees::")])
def test_tree_node_flag_constants_match_trees_h(record):
    consts = _cpp_constants("trees.h")
    assert consts["kFeatureMask"] == L.TREE_FEATURE_MASK
    assert consts["kLeaf"] == L.TREE_LEAF
    assert consts["kDefaultLeft"] == L.TREE_DEFAULT_LEFT
    assert consts["kCategorical"] == L.TREE_CATEGORICAL
    assert consts["kMissingShift"] == L.TREE_MISSING_SHIFT
    text = (INCLUDE / "trees.h").read_text()
    for cpp, py in [("kMissingNone", "TREE_MISSING_NONE"), ("kMissingNaN", "TREE_MISSING_NAN"),
                    ("kMissingZero", "TREE_MISSING_ZERO"),
                    ("kMissingAsZero", "TREE_MISSING_AS_ZERO")]:
        m = re.search(cpp + r"\s*=\s*(\d+)", text)
        assert m and int(m.group(1)) == getattr(L, py), cpp
    size = {"trees::Node32": 12, "trees::Node64": 16}[record]
    assert _twin(record).itemsize == size


def test_align_up():
    assert [L.align_up(n, 64) for n in (0, 1, 63, 64, 65, 128, 129)] == \
        [0, 64, 64, 64, 128, 128, 192]
    assert [L.align_up(n, 8) for n in (0, 1, 7, 8, 9, 160)] == [0, 8, 8, 8, 16, 160]


# ------------------------------------------------------------------------ tensor dtypes

def _tiny_graph_json(extra_tensors=()):
    graph = {
        "name": "Tiny",
        "n_features": 2,
        "tensors": [[0, "f8", [2]]],
        "nodes": [["SubDiv", ["X"], "v1", {"sub": 0}]],
        "outputs": [["transform", "v1"]],
    }
    for off, dtype, shape in extra_tensors:
        graph["tensors"].append([off, dtype, list(shape)])
    return graph


def _tiny_file(extra=(), data_tail=b""):
    """extra: [(offset in the data section, dtype name, shape)] appended as unused tensors whose
    bytes follow the 16 bytes of the used one (``data_tail``)."""
    graph = _tiny_graph_json(extra)
    data = np.array([1.0, 2.0], "<f8").tobytes() + data_tail
    return writer.pack_sections([(L.SECTION_META, b"{}"),
                                 (L.SECTION_GRAPH, writer.encode_json(graph)),
                                 (L.SECTION_DATA, data, 64)])


def test_tensor_dtype_codes_are_the_six_persisted_ones():
    assert sorted(L.TENSOR_DTYPES) == sorted(["f4", "f8", "i4", "i8", "u1", "u4"])
    for code, dt in L.TENSOR_DTYPES.items():
        assert dt.str in ("<" + code, "|" + code)


@pytest.mark.parametrize("code", sorted(L.TENSOR_DTYPES))
def test_native_reader_accepts_each_tensor_dtype_with_its_itemsize(code):
    dt = L.TENSOR_DTYPES[code]
    arr = np.arange(6).astype(dt).reshape(2, 3)
    raw = arr.tobytes()
    m = _native.load_buffer(_tiny_file([(16, code, arr.shape)], raw))
    assert m.outputs == {"transform": 0}
    # One element more than the section holds: the C++ element size must be numpy's itemsize.
    with pytest.raises(FormatError, match="beyond"):
        _native.load_buffer(_tiny_file([(16, code, arr.shape)], raw[:-1]))


@pytest.mark.parametrize("code", ["i4", "i8", "u4", "f4", "f8"])
def test_native_reader_refuses_tensors_misaligned_for_their_element_size(code):
    # The data section sits at a multiple of 64, so offset 17 is misaligned for every element
    # size above 1.
    with pytest.raises(FormatError, match="multiple of its element size"):
        _native.load_buffer(_tiny_file([(17, code, (1,))], bytes(16)))


@pytest.mark.parametrize("name", ["float16", "float64", "f2", "c16", "i1", "b1", "<f8", "F8", ""])
def test_native_reader_refuses_other_dtype_names(name):
    with pytest.raises(FormatError, match="dtype"):
        _native.load_buffer(_tiny_file([(16, name, (2,))], bytes(16)))


def test_graph_json_round_trips_through_the_python_json_module():
    data = _tiny_file()
    table = np.frombuffer(data[64:64 + 3 * 32], dtype=L.SECTION_DTYPE)
    off, size = int(table[1]["offset"]), int(table[1]["size"])
    assert json.loads(data[off:off + size]) == _tiny_graph_json()
