"""The load budget of value files (docs/FORMAT.md, sections 17.5 and 18): hostile files built
here, each small, that would crash the process, hang it or fill memory unless the decoder
counts what they cost before paying it.

Loads that would crash or hang without the limits run in a child process (with a memory
cap), so that a regression fails the test instead of killing the suite.
"""

import io
import json
import subprocess
import sys
import zoneinfo

import pytest

import mle_runtime as mle
from mle_runtime import FormatError
from mle_runtime.format import container, envelope
from mle_runtime.format import layout as L
from mle_runtime.format import values, writer

# Loads a file in a fresh process under an address-space cap; prints one JSON line.
CHILD = r"""
import json, resource, sys
cap = int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
import mle_runtime as mle
try:
    value = mle.load(sys.argv[1], mmap_mode=sys.argv[3] if sys.argv[3] != "None" else None)
    out = {"outcome": "loaded", "value": repr(value)[:200]}
except Exception as e:
    out = {"outcome": type(e).__name__, "message": str(e)[:1000]}
# the peak of this process's own memory (ru_maxrss would include the parent's at fork)
status = open("/proc/self/status").read()
out["peak_kib"] = int(status.split("VmHWM:")[1].split()[0])
print(json.dumps(out))
"""
CHILD_CAP = 3 << 30
CHILD_TIMEOUT = 300  # only so that a hang fails the test; the loads take well under a second


def value_file(tree=None, raw_tree=None):
    """A value file holding the value tree ``tree`` (or the JSON bytes ``raw_tree``)."""
    raw = raw_tree if raw_tree is not None else writer.encode_json(tree)
    return writer.pack_sections([(L.SECTION_META, writer.encode_json({"kind": "value"})),
                                 (L.SECTION_VALUE, raw)], minor=L.MINOR_VALUES)


def zstd_envelope(inner):
    pytest.importorskip("zstandard")
    return envelope.seal(inner, writer.encode_json({"kind": "value"}), ("zstd", 3))


def load_in_child(tmp_path, data, mmap_mode=None):
    path = tmp_path / "hostile.mle"
    path.write_bytes(data)
    proc = subprocess.run([sys.executable, "-c", CHILD, str(path), str(CHILD_CAP),
                           str(mmap_mode)],
                          capture_output=True, text=True, timeout=CHILD_TIMEOUT)
    assert proc.returncode == 0, (f"the load killed the process (exit {proc.returncode}):\n"
                                  f"{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def refused(out, match):
    assert out["outcome"] == "FormatError", out
    assert match in out["message"], out


# ---------------------------------------------------------- depth through references

def deep_tuples(n):
    """Tuple k holds tuple k - 1: an object nested n levels deep from flat JSON, then put
    in a set (CPython hashes tuples recursively, in C, without a depth check)."""
    items = [["tuple"]] + [["tuple", ["ref", k]] for k in range(n - 1)]
    return {"root": ["list"] + items + [["set", ["ref", n - 1]]], "memo": n + 2}


@pytest.mark.parametrize("wrap", ["plain", "zstd"])
def test_nesting_through_references_is_refused(wrap, tmp_path):
    data = value_file(deep_tuples(300_000))
    if wrap == "plain":
        refused(load_in_child(tmp_path, data), "levels deep through references")
    else:  # the budget of the small compressed file refuses its 7 MB of JSON first
        out = load_in_child(tmp_path, zstd_envelope(data))
        assert out["outcome"] == "FormatError", out
        with pytest.raises(FormatError, match="levels deep through references"):
            mle.load(io.BytesIO(zstd_envelope(value_file(deep_tuples(1000)))))


def test_nesting_through_references_counts_like_nesting():
    """Nodes 201 levels deep through references are refused as 201 levels of JSON are;
    200 levels load (deep_tuples(n) reaches level n + 1)."""
    with pytest.raises(FormatError, match="levels deep through references"):
        mle.load(io.BytesIO(value_file(deep_tuples(200))))
    value = mle.load(io.BytesIO(value_file(deep_tuples(199))))
    inner, depth = value[-2], 0
    while inner:
        inner, depth = inner[0], depth + 1
    assert depth == 198 and len(value[-1]) == 1


def _nested(levels, leaf):
    for _ in range(levels):
        leaf = [leaf]
    return leaf


def test_dump_counts_shared_objects_at_each_place(tmp_path):
    """What the reader refuses, dump refuses: a shared object deep inside counts fully."""
    shared = _nested(120, "leaf")
    with pytest.raises(ValueError, match="more than 200 levels deep"):
        mle.dump([shared, _nested(100, shared)], tmp_path / "deep.mle")
    ok = [shared, _nested(60, shared)]
    mle.dump(ok, tmp_path / "ok.mle")
    back = mle.load(tmp_path / "ok.mle")
    assert back == ok and back[0] is json_get_nested(back[1], 60)


def json_get_nested(x, levels):
    for _ in range(levels):
        x = x[0]
    return x


# ---------------------------------------------------------- hashing work

def wide_tuples(levels, width=20):
    """Level i is a tuple of ``width`` references to level i - 1; hashing level ``levels``
    visits width ** levels leaves (tuple hashes are not cached)."""
    items = [["tuple", 1]] + [["tuple"] + [["ref", k]] * width for k in range(levels)]
    return {"root": ["list"] + items + [["set", ["ref", levels]]], "memo": levels + 3}


def test_tuples_expanding_through_references_are_refused(tmp_path):
    data = value_file(wide_tuples(7))
    assert len(data) < 2000
    refused(load_in_child(tmp_path, data), "expands through references")


def test_hashing_decoded_keys_is_bounded():
    """Each set element holds a shared tuple of about a million nodes: hashing 100 of them
    would visit 10^8 nodes, more than the budget of this small file allows."""
    levels = [["tuple"] + [0] * 100] + [["tuple"] + [["ref", k]] * 100 for k in range(2)]
    elements = [["tuple", ["ref", 2], i] for i in range(100)]
    tree = {"root": ["list"] + levels + [["set"] + elements], "memo": 3 + 100 + 2}
    with pytest.raises(FormatError, match="hashing keys or set elements would visit"):
        mle.load(io.BytesIO(value_file(tree)))
    # the same shape with a small shared tuple loads
    tree["root"][3] = ["tuple"] + [["ref", 0]] * 2
    value = mle.load(io.BytesIO(value_file(tree)))
    assert len(value[-1]) == 100


def test_dict_keys_and_pandas_names_are_charged_too():
    levels = [["tuple"] + [0] * 100] + [["tuple"] + [["ref", k]] * 100 for k in range(2)]
    keys = [[["tuple", ["ref", 2], i], None] for i in range(100)]
    tree = {"root": ["list"] + levels + [["dictk", keys]], "memo": 3 + 100 + 2}
    with pytest.raises(FormatError, match="would visit"):
        mle.load(io.BytesIO(value_file(tree)))
    pytest.importorskip("pandas")
    names = [["pd.range", 0, 3, 1, ["tuple", ["ref", 2], i]] for i in range(100)]
    tree = {"root": ["list"] + levels + [["list"] + names], "memo": 3 + 200 + 2}
    with pytest.raises(FormatError, match="would visit"):
        mle.load(io.BytesIO(value_file(tree)))


# ---------------------------------------------------------- what parsing allocates

def empty_dicts(n):
    return b'{"root":["list"' + b",{}" * n + b'],"memo":1}'


def test_json_that_would_build_millions_of_objects_is_refused_before_parsing():
    # 2 million empty dicts: 6 MB of JSON that would take ~150 MB to parse
    data = value_file(raw_tree=empty_dicts(2_000_000))
    with pytest.raises(FormatError, match="parsing the value section's JSON"):
        mle.load(io.BytesIO(data))


def test_compressed_json_is_charged_to_the_outer_file(tmp_path):
    """A few KB of zstd that expand to 63 MiB of `[{},{},...]` (22 million dicts)."""
    data = zstd_envelope(value_file(raw_tree=empty_dicts(22_000_000)))
    assert len(data) < 20_000
    out = load_in_child(tmp_path, data)
    assert out["outcome"] == "FormatError", out
    assert "far more memory" in out["message"] and f"this {len(data)}-byte file" in \
        out["message"], out
    assert out["peak_kib"] < 1 << 20, out  # refused before the dicts were built


def test_json_cost_bounds_what_parsing_allocates():
    import tracemalloc

    for text in [empty_dicts(20_000), b"[" + b",".join([b"0"] * 50_000) + b"]",
                 b"[" + b",".join([b'"ab"'] * 50_000) + b"]",
                 b"{" + b",".join(b'"%d":[1.5]' % i for i in range(20_000)) + b"}"]:
        tracemalloc.start()
        parsed = json.loads(text.decode(), object_pairs_hook=container._no_duplicates)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        del parsed
        assert peak <= values.json_cost(text), (text[:40], peak, values.json_cost(text))


def test_long_lists_of_numbers_stay_within_the_default_budget(tmp_path):
    value = {"ids": list(range(2_000_000)), "x": [0.5] * 1_000_000}
    mle.dump(value, tmp_path / "numbers.mle")
    assert mle.load(tmp_path / "numbers.mle") == value


# ---------------------------------------------------------- pandas materialisation

def test_pandas_interval_of_two_ranges_is_charged(tmp_path):
    pytest.importorskip("pandas")
    n = 1 << 29  # 4 GiB per bound once materialised
    tree = {"root": ["pd.interval", "right", ["pd.range", 0, n, 1, None],
                     ["pd.range", 1, n + 1, 1, None]], "memo": 3}
    data = value_file(tree)
    assert len(data) < 300
    refused(load_in_child(tmp_path, data), "an interval array")


def test_pandas_multiindex_level_of_a_long_range_is_charged(tmp_path):
    pytest.importorskip("pandas")
    codes = ["array", "<i8", [4], 0, "C"]
    tree = {"root": ["pd.multi", [["pd.range", 0, 1 << 33, 1, None]], [codes], [None], None],
            "memo": 3}
    secs = [(L.SECTION_META, writer.encode_json({"kind": "value"})),
            (L.SECTION_VALUE, writer.encode_json(tree)), (L.SECTION_DATA, bytes(32), 64)]
    data = writer.pack_sections(secs, minor=L.MINOR_VALUES)
    refused(load_in_child(tmp_path, data), "checking a MultiIndex level")


def _mapped_file(root, blob):
    secs = [(L.SECTION_META, writer.encode_json({"kind": "value"})),
            (L.SECTION_VALUE, writer.encode_json({"root": root, "memo": 0})),
            (L.SECTION_DATA, blob, L.DATA_ALIGN)]
    return writer.pack_sections(secs, minor=L.MINOR_VALUES)


@pytest.mark.parametrize("case", ["frame", "freq"])
def test_pandas_copies_of_mapped_arrays_are_charged(case, tmp_path):
    """Mapped arrays cost nothing, but what pandas builds from them does: many nodes naming
    the same bytes of a small file would make pandas copy them again and again."""
    np = pytest.importorskip("numpy")
    pytest.importorskip("pandas")
    n, k = 1 << 14, 1000
    if case == "frame":  # k columns over the same bytes: joining them copies each
        arr = ["array", "<i8", [n], 0, "C"]
        root = ["pd.frame", ["pd.range", 0, n, 1, None], ["pd.range", 0, k, 1, None],
                [arr] * k, None, True]
        blob, match = bytes(8 * n), "joining the columns"
    else:  # k daily indexes over the same bytes: checking the frequency rebuilds each
        arr = ["array", "<M8[ns]", [n], 0, "C"]
        root = ["list"] + [["pd.index", arr, None, "D"]] * k
        blob = (np.arange(n, dtype="<i8") * 86_400 * 10**9).tobytes()
        match = "checking the frequency"
    path = tmp_path / "mapped.mle"
    path.write_bytes(_mapped_file(root, blob))
    assert path.stat().st_size < 256 * 1024
    with pytest.raises(FormatError, match=match):
        mle.load(path, mmap_mode="r")


def test_interval_bounds_must_be_numbers_or_times():
    pytest.importorskip("pandas")
    bound = ["pd.index", ["objarray", [1], "C", [["tuple", 1]]], None, None]
    tree = {"root": ["pd.interval", "right", bound, bound], "memo": 6}
    with pytest.raises(FormatError, match="numbers or times"):
        mle.load(io.BytesIO(value_file(tree)))


# ---------------------------------------------------------- literals and time zones

@pytest.mark.parametrize("literal", [b"1e400", b"-1e400", b"1E999"])
def test_float_literals_that_overflow_are_refused(literal):
    for root in [b'["list",%s]', b'["objarray",[1],"C",[%s]]', b'["dict",{"a":%s}]']:
        raw = b'{"root":' + root % literal + b',"memo":1}'
        with pytest.raises(FormatError, match="too large for a float"):
            mle.load(io.BytesIO(value_file(raw_tree=raw)))


def test_non_finite_floats_still_round_trip(tmp_path):
    import math

    value = [float("inf"), -float("inf"), float("nan"), 1e308, -5e-324, 2.5]
    mle.dump(value, tmp_path / "floats.mle")
    back = mle.load(tmp_path / "floats.mle")
    assert back[:2] == value[:2] and math.isnan(back[2]) and back[3:] == value[3:]


@pytest.fixture
def tz_dir(tmp_path, monkeypatch):
    """Time zones looked up in a search path and in a ``tzdata`` package (zoneinfo's
    fallback) that both hold a directory ("America"), a file that is no TZif file
    ("zone.tab") and an unreadable one ("Secret/Zone")."""
    roots = [tmp_path / "zoneinfo", tmp_path / "site" / "tzdata" / "zoneinfo"]
    for root in roots:
        (root / "America").mkdir(parents=True)
        (root / "zone.tab").write_text("# not a zone\n")
        (root / "Secret").mkdir()
        (root / "Secret" / "Zone").write_bytes(b"TZif2" + bytes(40))
        (root / "Secret" / "Zone").chmod(0)
    for package in (roots[1].parent, roots[1], roots[1] / "America", roots[1] / "Secret"):
        (package / "__init__.py").write_text("")
    for name in [m for m in sys.modules if m == "tzdata" or m.startswith("tzdata.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    # (ZoneInfo's cache is kept: zones built before must stay the same objects; failed
    # lookups are never cached)
    zoneinfo.reset_tzpath([str(roots[0])])
    yield roots
    for root in roots:
        (root / "Secret" / "Zone").chmod(0o600)
    zoneinfo.reset_tzpath()
    for name in [m for m in sys.modules if m == "tzdata" or m.startswith("tzdata.")]:
        del sys.modules[name]  # the stand-in; monkeypatch then restores any real one


@pytest.mark.parametrize("key", ["America", "zone.tab", "Secret/Zone", "America/", "..",
                                 "/etc/passwd", "a\0b", "\ud800", "x" * 5000, "", "Secret",
                                 "America/__init__.py"], ids=lambda key: repr(key)[:24])
def test_hostile_zone_keys_raise_format_error(key, tz_dir):
    tree = {"root": ["tzinfo", ["zone", key]], "memo": 0}
    raw = json.dumps(tree).encode()  # keeps lone surrogates as escapes
    with pytest.raises(FormatError, match="unknown time zone"):
        mle.load(io.BytesIO(value_file(raw_tree=raw)))
