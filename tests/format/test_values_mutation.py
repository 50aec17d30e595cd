"""Hostile and damaged value files (format 1.2), seeded and in-process.

(a) random byte changes and (b) every truncation of small value files (arrays, a model,
strings, datetimes, shared objects; one of them with a pickle section) must raise
``FormatError`` - or ``PickleNotAllowedError`` for the file with a pickle section - unless
every changed byte is padding that no checksum covers, and then the value must load unchanged.
The pickle section is never unpickled: its payload would create a marker file.

(c) files whose value tree, tensor data or embedded model is edited with every checksum
recomputed (so that the edit reaches the decoder) must either load or raise ``FormatError``
(``UnsupportedModelError`` only for a model using a feature this build lacks); loaded models
must predict or raise ``FormatError`` / ``InputError``.

(d) hand-made value trees, one per kind of violation, each raising ``FormatError`` with a
message that says what is wrong.

Anything else - another exception type, a crash, a hang - fails the suite.
"""

import collections
import copy
import datetime
import decimal
import io
import json
import zoneinfo

import numpy as np
import pytest

import mle_runtime as mle
from mle_runtime import FormatError, InputError, PickleNotAllowedError, UnsupportedModelError
from mle_runtime.api import value_hooks
from mle_runtime.format import container
from mle_runtime.format import layout as L
from mle_runtime.format import values, writer
from mle_runtime.runtime.proxies import MLEModel
from mle_testing import Failures, json_get, json_nodes

N_FLIPS = 6000
N_HOSTILE_TREE = 6000
N_HOSTILE_DATA = 1500
N_HOSTILE_MODEL = 1500
MAX_REPORTED = 8
SEED = 7070


class WritesMarker:
    """Unpickling this creates the file ``path``: it must never happen here."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


# ------------------------------------------------------------------------------ files

@pytest.fixture(scope="module")
def iris():
    from sklearn.datasets import load_iris

    return load_iris(return_X_y=True)


def _value(iris):
    from sklearn.tree import DecisionTreeClassifier

    X, y = iris
    rng = np.random.default_rng(SEED)
    names = ["alpha", "é✓", "", "\ud800"]
    obj = np.empty(3, dtype=object)
    obj[:] = [1, "two", (3.0, None)]
    return {
        "X": rng.normal(size=(6, 3)),
        "ids": np.arange(5, dtype=">i4"),
        "F": np.asfortranarray(rng.integers(-9, 9, (3, 4), dtype="i2")),
        "s": np.array(["ab", "c"]),
        "rec": np.zeros(2, dtype=[("a", "<f4"), ("b", "S2", (2,))]),
        "model": DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y),
        "names": names,
        "same names": names,
        "when": datetime.datetime(2021, 11, 7, 1, 30, fold=1,
                                  tzinfo=zoneinfo.ZoneInfo("America/New_York")),
        "big": [2 ** 70, -(3 ** 50)],
        "raw": b"\x00\x01bytes",
        "set": {1, 2, (3, "x")},
        "odict": collections.OrderedDict([(2, "b"), (1.5, None)]),
        "scalars": [np.float32(1.5), np.datetime64("2020-01-01", "ns"), np.str_("hé")],
        "dec": decimal.Decimal("1.25"),
        "obj": obj,
        "f": [float("nan"), -0.0, float("inf")],
        "c": 1 - 2j,
        "r": range(1, 9, 2),
    }


@pytest.fixture(scope="module")
def files(iris, tmp_path_factory):
    """name -> (file bytes, value digest or None); "pickled" has a live pickle payload."""
    d = tmp_path_factory.mktemp("values_mutation")
    marker = d / "marker.txt"
    out = {}
    value = _value(iris)
    buf = io.BytesIO()
    mle.dump(value, buf)
    out["plain"] = buf.getvalue()
    pickled = dict(value)
    pickled["evil"] = WritesMarker(marker)
    buf = io.BytesIO()
    mle.dump(pickled, buf, allow_pickle=True)
    out["pickled"] = buf.getvalue()
    assert len(out["plain"]) < 8000 and len(out["pickled"]) < 9000
    return out, marker


def digest(value):
    """A fingerprint of a loaded value: the content hash of its encoding (types, dtypes,
    bits, order and identity all change it)."""
    return values.encode(value, hooks=value_hooks())[2]


def covered_mask(data):
    """True for every byte a checksum covers: header, section table, section contents."""
    c = container.parse(data, verify=())
    mask = np.zeros(len(data), dtype=bool)
    mask[:L.HEADER_SIZE + L.SECTION_ENTRY_SIZE * len(c.sections)] = True
    for s in c.sections:
        mask[s.offset:s.end] = True
    return mask


def sections(data):
    """[[kind, payload bytes, alignment, flags]] of a valid file."""
    return [[s.kind, data[s.offset:s.end],
             L.DATA_ALIGN if s.offset % L.DATA_ALIGN == 0 else L.SECTION_ALIGN, s.flags]
            for s in container.parse(data, verify=()).sections]


def repack(parts, minor=L.MINOR_VALUES):
    return writer.pack_sections([tuple(p) for p in parts], minor=minor)


def part(parts, kind):
    [i] = [i for i, p in enumerate(parts) if p[0] == kind]
    return i


def test_repack_is_faithful(files):
    (out, _) = files
    for data in out.values():
        assert repack(sections(data)) == data


# ------------------------------------------------------------------------------ outcomes

def _models_in(value, seen=None):
    seen = set() if seen is None else seen
    if id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, MLEModel):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _models_in(k, seen)
            yield from _models_in(v, seen)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for v in value:
            yield from _models_in(v, seen)
    elif isinstance(value, np.ndarray) and value.dtype.hasobject:
        for v in value.reshape(-1):
            yield from _models_in(v, seen)


def load_hostile(data, what, X, failures, allowed=(FormatError,)):
    """Loads bytes that may be hostile; calls the models it holds. Returns the outcome."""
    try:
        value = mle.load(io.BytesIO(data))
    except allowed:
        return "refused"
    except UnsupportedModelError as e:
        # well-formed, but needing a feature this build lacks (a model's unknown op)
        if "unknown op" not in str(e) and "not supported" not in str(e) and "pytz" not in str(e):
            failures.add(f"{what}: load raised", e, "load")
        return "refused"
    except Exception as e:  # noqa: BLE001 - anything else is the failure being looked for
        failures.add(f"{what}: load raised", e, "load")
        return "error"
    for model in _models_in(value):
        for method in ("predict", "predict_proba"):
            try:
                out = getattr(model, method)(X)
            except (FormatError, InputError, UnsupportedModelError, AttributeError):
                continue
            except Exception as e:  # noqa: BLE001
                failures.add(f"{what}: {method} raised", e, method)
                continue
            if not isinstance(out, np.ndarray) or out.shape[:1] != X.shape[:1]:
                failures.add(f"{what}: {method} returned {type(out).__name__}", stage=method)
    return "loaded"


# ------------------------------------------------------------------------------ (a) byte flips

@pytest.mark.parametrize("name", ["plain", "pickled"])
def test_random_byte_changes(files, name, iris, tmp_path):
    out, marker = files
    data = out[name]
    allowed = (FormatError,) if name == "plain" else (FormatError, PickleNotAllowedError)
    # arrays as stored whatever mmap_mode (mmap_mode=None would restore big-endian arrays
    # to the machine's byte order, as joblib does): the same value through every route
    same = {"ensure_native_byte_order": False}
    expected = digest(mle.load(io.BytesIO(data), **same)) if name == "plain" else None
    covered = covered_mask(data)
    rng = np.random.default_rng(SEED + (name == "pickled"))
    failures = Failures(MAX_REPORTED)
    outcomes = collections.Counter()
    path = tmp_path / "flipped.mle"
    for attempt in range(N_FLIPS):
        buf = bytearray(data)
        k = int(rng.integers(1, 9))
        positions = rng.integers(0, len(data), k)
        for p, v in zip(positions, rng.integers(0, 256, k)):
            buf[int(p)] = int(v)
        mutated = bytes(buf)
        changed = np.flatnonzero(np.frombuffer(mutated, np.uint8) != np.frombuffer(data, np.uint8))
        what = f"{name}: bytes {[(int(p), mutated[int(p)]) for p in changed]}"
        try:
            if attempt % 10 == 0:  # through a path: mapped and read routes
                path.write_bytes(mutated)
                value = mle.load(path, mmap_mode=[None, "r", "c"][attempt // 10 % 3], **same)
            else:
                value = mle.load(io.BytesIO(mutated), **same)
        except allowed as e:
            outcomes[type(e).__name__] += 1
            if len(changed) == 0 and isinstance(e, FormatError):
                failures.add(f"{what}: the unchanged file was refused", stage="unchanged")
            elif isinstance(e, PickleNotAllowedError) and covered[changed].any():
                failures.add(f"{what}: change to checked bytes got past the checksums",
                             stage="pickle")
            continue
        except Exception as e:  # noqa: BLE001
            failures.add(f"{what}: load raised", e, "load")
            continue
        outcomes["loaded"] += 1
        if covered[changed].any():
            failures.add(f"{what}: a change to checked bytes loaded", stage="loaded")
        elif digest(value) != expected:
            failures.add(f"{what}: loaded a different value", stage="changed")
    failures.check()
    assert not marker.exists()
    assert outcomes["FormatError"] > N_FLIPS * 0.9, outcomes


@pytest.mark.parametrize("name", ["plain", "pickled"])
def test_every_truncation_is_refused(files, name):
    out, marker = files
    data = out[name]
    failures = Failures(MAX_REPORTED)
    for n in range(len(data)):
        try:
            mle.load(io.BytesIO(data[:n]))
        except FormatError:
            continue
        except Exception as e:  # noqa: BLE001
            failures.add(f"{name}: first {n} bytes: load raised", e, "load")
            continue
        failures.add(f"{name}: first {n} bytes loaded", stage="loaded")
    failures.check()
    assert not marker.exists()


@pytest.mark.parametrize("name", ["plain", "pickled"])
def test_truncations_through_paths(files, name, tmp_path):
    out, marker = files
    data = out[name]
    rng = np.random.default_rng(SEED + 1)
    path = tmp_path / "short.mle"
    for i, n in enumerate(rng.integers(0, len(data), 60)):
        path.write_bytes(data[:int(n)])
        with pytest.raises(FormatError):
            mle.load(path, mmap_mode=[None, "r", "c"][i % 3])
    for extra in (b"\x00", b"\x00" * 8, b"junk" * 100):
        path.write_bytes(data + extra)
        with pytest.raises(FormatError, match="trailing"):
            mle.load(path)
    assert not marker.exists()


# ------------------------------------------------------------------------------ (c) hostile

POOL = [0, 1, -1, 2, 3, 7, 8, 64, 255, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 63 - 1,
        -2 ** 63, 2 ** 64, 10 ** 30, -10 ** 30, 0.5, -0.0, 1e308, 1e-320, True, False, None,
        "", "x", "C", "F", "nan", "inf", "-inf", "ff", "-", "<f8", ">i4", "|O", "<U0", "|V0",
        "S3", "M8[ns]", "<U2", "|b1", "<c16", "list", "tuple", "dict", "dictk", "odict",
        "odictk", "set", "frozenset", "ref", "array", "objarray", "scalar", "bytes",
        "bytearray", "int", "float", "complex", "datetime", "date", "time", "timedelta",
        "tzinfo", "tz", "zone", "decimal", "range", "model", "pickle",
        "Europe/Paris", "../../etc/passwd", "\u00e9\u2713", "\x00", [], {}, [0], ["list"],
        ["ref", 0], ["int", "f" * 40], ["array", "<f8", [1], 0, "C"], ["model", 0],
        ["pickle", 0], [["a", "<f8"]], [["a", "|O"]], {"a": 1}]


def mutate_json(doc, rng):
    """One random edit of a JSON document in place (never its root); returns a description."""
    nodes = list(json_nodes(doc))[1:]
    path, target = nodes[int(rng.integers(len(nodes)))]
    parent = json_get(doc, path[:-1])
    op = int(rng.integers(9))
    if op <= 2:  # replace the value
        if op == 1 and type(target) is int:
            new = target + int(rng.choice([1, -1, 8, -8, 64, -64, 1000, 2 ** 32, -2 ** 40]))
        elif op == 2 and isinstance(target, list) and target:
            new = copy.deepcopy(target[int(rng.integers(len(target)))])  # hoist a child
        else:
            new = copy.deepcopy(POOL[int(rng.integers(len(POOL)))])
        parent[path[-1]] = new
        return f"{list(path)} = {str(new)[:60]}"
    if op == 3 and isinstance(target, list) and target:
        j = int(rng.integers(len(target)))
        del target[j]
        return f"del {list(path)}[{j}]"
    if op == 4 and isinstance(target, list) and target:
        j = int(rng.integers(len(target)))
        target.insert(int(rng.integers(len(target) + 1)), copy.deepcopy(target[j]))
        return f"duplicate {list(path)}[{j}]"
    if op == 5 and isinstance(target, list) and len(target) > 1:
        a, b = (int(v) for v in rng.choice(len(target), 2, replace=False))
        target[a], target[b] = target[b], target[a]
        return f"swap {list(path)}[{a}], [{b}]"
    if op == 6 and isinstance(target, dict) and target:
        k = list(target)[int(rng.integers(len(target)))]
        target.pop(k)
        return f"del {list(path)}[{k!r}]"
    if op == 7 and isinstance(target, dict):
        k = str(POOL[int(rng.integers(len(POOL)))])
        target[k] = copy.deepcopy(POOL[int(rng.integers(len(POOL)))])
        return f"{list(path)}[{k!r}] = {target[k]!r}"[:100]
    if op == 8:  # wrap in a list / in a tagged node
        new = [target] if rng.random() < 0.5 else ["list", target]
        parent[path[-1]] = new
        return f"wrap {list(path)}"
    parent[path[-1]] = None
    return f"{list(path)} = None"


def test_hostile_value_tree_edits(files, iris):
    out, marker = files
    X = iris[0][::11]
    parts = sections(out["plain"])
    vi = part(parts, L.SECTION_VALUE)
    tree = json.loads(parts[vi][1])
    rng = np.random.default_rng(SEED + 10)
    failures = Failures(MAX_REPORTED)
    outcomes = collections.Counter()
    for _ in range(N_HOSTILE_TREE):
        doc = copy.deepcopy(tree)
        edits = [mutate_json(doc, rng) for _ in range(int(rng.integers(1, 4)))]
        new = copy.deepcopy(parts)
        new[vi][1] = json.dumps(doc, separators=(",", ":")).encode()
        outcomes[load_hostile(repack(new), f"value tree edits {edits}", X, failures)] += 1
    failures.check()
    assert outcomes["refused"] > N_HOSTILE_TREE // 3 and outcomes["loaded"] > 0, outcomes


def test_hostile_metadata_edits(files, iris):
    """The metadata of a value file is informative: edits load the same value or are
    refused."""
    out, _ = files
    X = iris[0][::11]
    parts = sections(out["plain"])
    meta = json.loads(parts[0][1])
    rng = np.random.default_rng(SEED + 11)
    failures = Failures(MAX_REPORTED)
    for _ in range(300):
        doc = copy.deepcopy(meta)
        edits = [mutate_json(doc, rng) for _ in range(int(rng.integers(1, 4)))]
        new = copy.deepcopy(parts)
        new[0][1] = json.dumps(doc, separators=(",", ":")).encode()
        load_hostile(repack(new), f"metadata edits {edits}", X, failures)
    failures.check()


SPECIAL_8 = [np.float64(np.nan).tobytes(), np.float64(-np.inf).tobytes(),
             np.int64(-1).tobytes(), np.int64(2 ** 62).tobytes(), bytes(8), b"\xff" * 8,
             np.int64(-2 ** 63).tobytes(), "\U0010ffff\ud800".encode("utf-32-le", "surrogatepass")]


def test_hostile_tensor_data(files, iris):
    out, _ = files
    X = iris[0][::11]
    parts = sections(out["plain"])
    di = part(parts, L.SECTION_DATA)
    blob = parts[di][1]
    rng = np.random.default_rng(SEED + 12)
    failures = Failures(MAX_REPORTED)
    outcomes = collections.Counter()
    for _ in range(N_HOSTILE_DATA):
        new = bytearray(blob)
        r = rng.random()
        if r < 0.5:
            for _ in range(int(rng.integers(1, 4))):
                p = int(rng.integers(len(new) // 8)) * 8
                new[p:p + 8] = SPECIAL_8[int(rng.integers(len(SPECIAL_8)))]
            what = "special values"
        elif r < 0.75:
            for _ in range(int(rng.integers(1, 9))):
                new[int(rng.integers(len(new)))] = int(rng.integers(256))
            what = "random bytes"
        elif r < 0.9:
            new = new[:-int(rng.integers(1, 33))]
            what = "shortened"
        else:
            new += bytes(int(rng.integers(1, 65)))
            what = "lengthened"
        p = copy.deepcopy(parts)
        p[di][1] = bytes(new)
        outcomes[load_hostile(repack(p), f"tensor data {what}", X, failures)] += 1
    failures.check()
    assert outcomes["refused"] > 0 and outcomes["loaded"] > 0, outcomes


def _refresh_inner(model_bytes):
    """The embedded .mle file with its own checksums recomputed."""
    parts = sections(model_bytes)
    return repack(parts, minor=writer.model_minor(p[0] for p in parts))


def test_hostile_embedded_model(files, iris):
    """Edits inside the model section, reaching the native builder (load_view) with both the
    inner file's checksums and the outer file's recomputed."""
    out, _ = files
    X = iris[0][::11]
    parts = sections(out["plain"])
    mi = part(parts, L.SECTION_MODEL)
    inner = parts[mi][1]
    assert _refresh_inner(inner) == inner
    inner_parts = sections(inner)
    graph = json.loads(inner_parts[1][1])
    rng = np.random.default_rng(SEED + 13)
    failures = Failures(MAX_REPORTED)
    outcomes = collections.Counter()
    for i in range(N_HOSTILE_MODEL):
        ip = copy.deepcopy(inner_parts)
        if i % 3 == 0:  # the graph JSON
            doc = copy.deepcopy(graph)
            edits = [mutate_json(doc, rng) for _ in range(int(rng.integers(1, 3)))]
            ip[1][1] = json.dumps(doc, separators=(",", ":")).encode()
            what = f"model graph edits {edits}"
        elif i % 3 == 1:  # the model's tensor data
            blob = bytearray(ip[2][1])
            for _ in range(int(rng.integers(1, 5))):
                blob[int(rng.integers(len(blob)))] = int(rng.integers(256))
            ip[2][1] = bytes(blob)
            what = "model tensor bytes"
        else:  # raw bytes anywhere in the inner file, inner checksums left stale
            raw = bytearray(inner)
            raw[int(rng.integers(len(raw)))] ^= 1 << int(rng.integers(8))
            p = copy.deepcopy(parts)
            p[mi][1] = bytes(raw)
            outcomes[load_hostile(repack(p), "model raw flip", X, failures)] += 1
            continue
        p = copy.deepcopy(parts)
        p[mi][1] = repack(ip, minor=0)
        outcomes[load_hostile(repack(p), what, X, failures)] += 1
    failures.check()
    assert outcomes["refused"] > 0 and outcomes["loaded"] > 0, outcomes


# ------------------------------------------------------------------------------ (d) targeted

BLOB = np.arange(8, dtype="<f8").tobytes() + "ab".encode("utf-32-le") + b"\xff" * 8


def build(root=None, memo=None, blob=BLOB, models=(), extra=(), tree=None):
    """A value file holding the tree ``{"root": root, "memo": memo}`` (memo: the number of
    memoised nodes, counted when None), the tensor data ``blob`` and model sections."""
    if tree is None:
        tree = {"root": root, "memo": memo if memo is not None else _count_memo(root)}
    meta = {"kind": "value", "contents": {"type": "dict", "arrays": 0, "models": [],
                                          "pickled": []}}
    parts = [(L.SECTION_META, writer.encode_json(meta))]
    parts.append((L.SECTION_VALUE, tree if isinstance(tree, bytes) else
                  json.dumps(tree, separators=(",", ":")).encode()))
    if blob is not None:
        parts.append((L.SECTION_DATA, blob, L.DATA_ALIGN))
    parts += [(L.SECTION_MODEL, m, L.DATA_ALIGN) for m in models]
    return writer.pack_sections(parts + list(extra), minor=L.MINOR_VALUES)


def _count_memo(node):
    if not isinstance(node, list) or not node or not isinstance(node[0], str):
        if isinstance(node, dict):
            return sum(_count_memo(v) for v in node.values())
        return 0
    n = sum(_count_memo(x) for x in node[1:])
    return n + (node[0] in values.MEMO_TAGS)


@pytest.fixture(scope="module")
def model_bytes(iris):
    from sklearn.linear_model import LogisticRegression

    buf = io.BytesIO()
    mle.dump(LogisticRegression(max_iter=500).fit(*iris), buf)
    return buf.getvalue()


def _deep(n, leaf=0):
    node = leaf
    for _ in range(n):
        node = ["list", node]
    return node


TARGETED = {
    # the tree itself
    "value section not an object": (dict(tree=b"[1,2]"), "not a JSON object"),
    "value section not JSON": (dict(tree=b"{\"root\": "), "not valid JSON"),
    "value section with NaN": (dict(tree=b"{\"root\": NaN, \"memo\": 0}"), "not valid JSON"),
    "duplicate keys": (dict(tree=b"{\"root\": 1, \"root\": 2, \"memo\": 0}"), "duplicate"),
    "root key missing": (dict(tree={"memo": 0}), "keys 'root' and 'memo'"),
    "extra key": (dict(tree={"root": 1, "memo": 0, "x": 1}), "keys 'root' and 'memo'"),
    "memo not an int": (dict(tree={"root": 1, "memo": "0"}), "keys 'root' and 'memo'"),
    "memo count wrong": (dict(root=["list"], memo=5), "reference count"),
    # node shapes and tags
    "untagged list": (dict(root=[1, 2]), "unexpected node"),
    "empty list": (dict(root=[]), "unexpected node"),
    "bare object": (dict(root={"a": 1}), "unexpected node"),
    "unknown tag": (dict(root=["pickles", 0]), "unknown node type 'pickles'"),
    "empty tag": (dict(root=[""]), "unknown node type ''"),
    "tag not a string": (dict(root=[["list"]]), "unexpected node"),
    "dict payload not an object": (dict(root=["dict", [1]]), "wrong type"),
    "dict with extra parts": (dict(root=["dict", {}, {}]), "has 3 parts, expected 2"),
    "dictk pair not a pair": (dict(root=["dictk", [[1]]]), "must be \\[key, value\\]"),
    "dictk unhashable key": (dict(root=["dictk", [[["list"], 1]]]), "unhashable"),
    "set of unhashable": (dict(root=["set", ["list", 1]]), "unhashable"),
    "bytes offset not an int": (dict(root=["bytes", "0", 3]), "wrong type"),
    "bytes offset a bool": (dict(root=["bytes", True, 3]), "wrong type"),
    "complex of strings": (dict(root=["complex", "1", "2"]), "bad complex"),
    "complex of ints": (dict(root=["complex", 1, 2]), "bad complex"),
    "float not special": (dict(root=["float", "1e5"]), "bad special float"),
    # offsets and lengths
    "bytes beyond the blob": (dict(root=["bytes", len(BLOB) - 2, 3]), "outside the tensor"),
    "bytes offset huge": (dict(root=["bytes", 2 ** 63, 1]), "outside the tensor"),
    "bytes length huge": (dict(root=["bytes", 0, 2 ** 64]), "outside the tensor"),
    "bytes without a data section": (dict(root=["bytes", 0, 1], blob=None), "outside the tensor"),
    "negative bytes length": (dict(root=["bytes", 0, -1]), "outside the tensor"),
    "negative bytes offset": (dict(root=["bytearray", -8, 8]), "outside the tensor"),
    "array beyond the blob": (dict(root=["array", "<f8", [3], len(BLOB) - 16, "C"]),
                              "outside the tensor"),
    "scalar beyond the blob": (dict(root=["scalar", "<c16", len(BLOB) - 8]),
                               "outside the tensor"),
    "scalar offset negative": (dict(root=["scalar", "<f8", -8]), "outside the tensor"),
    # shapes
    "huge shape": (dict(root=["array", "<f8", [2 ** 62, 2 ** 62], 0, "C"]), "outside the tensor"),
    "huge shape with a zero": (dict(root=["array", "<f8", [0, 2 ** 62, 2 ** 62], 0, "C"]),
                               "too big|[Mm]aximum"),
    "negative shape": (dict(root=["array", "<f8", [-1], 0, "C"]), "shape must be a list"),
    "shape not a list": (dict(root=["array", "<f8", 3, 0, "C"]), "shape must be a list"),
    "float shape": (dict(root=["array", "<f8", [2.0], 0, "C"]), "shape must be a list"),
    "65 dimensions": (dict(root=["array", "<f8", [1] * 65, 0, "C"]), "shape must be a list"),
    "bad order": (dict(root=["array", "<f8", [2], 0, "X"]), "order must be"),
    "array with 4 parts": (dict(root=["array", "<f8", [2], 0]), "has 4 parts"),
    "objarray size mismatch": (dict(root=["objarray", [3], "C", [1, 2]]), "does not match"),
    "objarray huge shape": (dict(root=["objarray", [2 ** 40, 2 ** 40], "C", []]),
                            "does not match"),
    "objarray negative shape": (dict(root=["objarray", [-1], "C", []]), "bad object array"),
    "objarray bad order": (dict(root=["objarray", [1], "K", [1]]), "bad object array"),
    # dtypes
    "object dtype": (dict(root=["array", "|O", [1], 0, "C"]), "holds Python objects"),
    "object field": (dict(root=["array", [["a", "|O"]], [1], 0, "C"]), "holds Python objects"),
    "nested object field": (dict(root=["array", [["a", [["b", "|O"]]]], [1], 0, "C"]),
                            "holds Python objects"),
    "object scalar": (dict(root=["scalar", "|O", 0]), "holds Python objects"),
    "zero-size dtype": (dict(root=["array", "|V0", [3], 0, "C"]), "zero-size"),
    "zero-size structured dtype": (dict(root=["array", [], [2], 0, "C"]), "zero-size"),
    "unknown dtype": (dict(root=["array", "<f3", [1], 0, "C"]), "invalid dtype"),
    "dtype not a string": (dict(root=["array", 8, [1], 0, "C"]), "invalid dtype"),
    "dtype field malformed": (dict(root=["array", [["a"]], [1], 0, "C"]), "invalid dtype"),
    "dtype field shape negative": (dict(root=["array", [["a", "<f8", [-1]]], [1], 0, "C"]),
                                   "invalid dtype"),
    "dtype field shape huge": (dict(root=["array", [["a", "<f8", [2 ** 31 - 1] * 3]], [1], 0,
                                               "C"]), "invalid dtype"),
    "dtype nested too deep": (dict(root=["array", json.loads("[" * 40 + "]" * 40), [1], 0, "C"]),
                              "invalid dtype"),
    "dtype python expression": (dict(root=["array", "__import__('os')", [1], 0, "C"]),
                                "invalid dtype"),
    # references
    "ref at the root": (dict(root=["ref", 0], memo=0), "reference 0 to an object not yet read"),
    "ref negative": (dict(root=["list", ["list"], ["ref", -1]]), "reference -1"),
    "ref not an int": (dict(root=["list", ["list"], ["ref", "0"]]), "wrong type"),
    "ref a bool": (dict(root=["list", ["list"], ["ref", False]]), "wrong type"),
    "ref forward": (dict(root=["list", ["ref", 1], ["list"]]), "not yet read"),
    "ref to its own container": (dict(root=["list", ["ref", 0]]), "not yet read"),
    "ref with extra parts": (dict(root=["list", ["list"], ["ref", 0, 0]]), "has 3 parts"),
    # models and pickles
    "model index out of range": (dict(root=["model", 1]), "model 1 does not exist"),
    "model index negative": (dict(root=["model", -1]), "model -1 does not exist"),
    "model index a string": (dict(root=["model", "0"]), "wrong type"),
    "model without model sections": (dict(root=["model", 0], models=()),
                                     "model 0 does not exist"),
    "pickle without a pickle section": (dict(root=["pickle", 0]), "no pickle section"),
    # deep nesting
    "nesting beyond the limit": (dict(root=_deep(values.MAX_DEPTH + 1)), "nests more than"),
    "nesting far beyond the limit": (
        dict(tree=b'{"memo":0,"root":' + b'["list",' * 5000 + b"0" + b"]" * 5000 + b"}"),
        "not valid JSON|nests more"),
    "tuple nesting beyond the limit": (
        dict(root=json.loads('["tuple",' * (values.MAX_DEPTH + 2) + "0" +
                             "]" * (values.MAX_DEPTH + 2))), "nests more than"),
    # numbers
    "int hex too long": (dict(root=["int", "f" * ((1 << 20) + 1)]), "bad integer"),
    "int not hex": (dict(root=["int", "xyz"]), "bad integer"),
    "int empty": (dict(root=["int", ""]), "bad integer"),
    "int two signs": (dict(root=["int", "--1"]), "malformed"),
    "int sign only": (dict(root=["int", "-"]), "malformed"),
    "int upper case": (dict(root=["int", "FF"]), "bad integer"),
    "int not a string": (dict(root=["int", 5]), "wrong type"),
    "JSON int over 4300 digits": (dict(tree=b'{"root":' + b"9" * 5000 + b',"memo":0}'),
                                  "not valid JSON"),
    "decimal malformed": (dict(root=["decimal", "1.2.3"]), "bad decimal"),
    "decimal too long": (dict(root=["decimal", "1" * 10001]), "decimal too long"),
    "range step zero": (dict(root=["range", 0, 5, 0]), "malformed"),
    "range of floats": (dict(root=["range", 0, 5.0, 1]), "wrong type"),
    # datetimes
    "datetime month 13": (dict(root=["datetime", 2020, 13, 1, 0, 0, 0, 0, 0, None]),
                          "bad datetime"),
    "datetime fold 2": (dict(root=["datetime", 2020, 1, 1, 0, 0, 0, 0, 2, None]), "bad datetime"),
    "datetime year huge": (dict(root=["datetime", 2 ** 70, 1, 1, 0, 0, 0, 0, 0, None]),
                           "bad datetime"),
    "datetime parts missing": (dict(root=["datetime", 2020, 1, 1]), "has 4 parts"),
    "time zone offset a day": (dict(root=["tzinfo", ["tz", 1, 0, 0]]), "bad tzinfo"),
    "time zone offset huge": (dict(root=["tzinfo", ["tz", 2 ** 80, 0, 0]]), "bad tzinfo"),
    "time zone name not a string": (dict(root=["tzinfo", ["tz", 0, 60, 0, 5]]),
                                    "bad time zone name"),
    "time zone unknown kind": (dict(root=["tzinfo", ["moon", 0]]), "bad time zone"),
    "time zone not a list": (dict(root=["tzinfo", "UTC"]), "bad time zone"),
    "empty tzinfo": (dict(root=["tzinfo", None]), "empty tzinfo"),
    "zone unknown": (dict(root=["tzinfo", ["zone", "Nowhere/City"]]), "unknown time zone"),
    "zone path traversal": (dict(root=["tzinfo", ["zone", "../../../etc/passwd"]]),
                            "unknown time zone"),
    "zone absolute path": (dict(root=["tzinfo", ["zone", "/etc/localtime"]]),
                           "unknown time zone"),
    "time with bad hour": (dict(root=["time", 25, 0, 0, 0, 0, None]), "bad time"),
    "timedelta huge": (dict(root=["timedelta", 10 ** 12, 0, 0]), "bad timedelta"),
    "date of strings": (dict(root=["date", "2020", 1, 1]), "wrong type"),
}


@pytest.mark.parametrize("case", sorted(TARGETED))
def test_targeted_hostile_trees(case, model_bytes):
    kwargs, message = TARGETED[case]
    kwargs = dict(kwargs)
    if kwargs.get("root") in (["model", 1], ["model", -1], ["model", "0"]):
        kwargs["models"] = (model_bytes,)
    data = build(**kwargs)
    with pytest.raises(FormatError, match=message):
        mle.load(io.BytesIO(data))


def test_targeted_trees_are_valid_otherwise(model_bytes, iris):
    """The builder makes loadable files: the targeted cases fail for their one violation."""
    out = mle.load(io.BytesIO(build(["list", ["list"], ["ref", 0], ["bytes", 0, 8],
                                     ["array", "<f8", [2, 3], 8, "F"], ["scalar", "<U2", 64],
                                     ["model", 0], ["int", "-ff"], ["float", "-inf"],
                                     ["tzinfo", ["zone", "Europe/Paris"]],
                                     _deep(values.MAX_DEPTH - 1)],
                                    models=(model_bytes,))))
    assert out[0] is out[1] and out[0] == []
    assert out[2] == np.float64(0).tobytes()
    np.testing.assert_array_equal(out[3], np.arange(1, 7.0).reshape(3, 2).T)
    assert out[3].flags.f_contiguous
    assert out[4] == np.str_("ab")
    X = iris[0][:5]
    assert out[5].predict(X).shape == (5,)
    assert out[6] == -255 and out[7] == float("-inf")
    assert out[8] is zoneinfo.ZoneInfo("Europe/Paris")


MALFORMED_MODELS = {
    "garbage": lambda m: b"\x00" * 256,
    "empty": lambda m: b"",
    "truncated": lambda m: m[:len(m) // 2],
    "one flipped byte": lambda m: m[:100] + bytes([m[100] ^ 1]) + m[101:],
    "a pickle": lambda m: b"\x80\x04\x95" + m[3:],
    "a value file": lambda m: build(["list"]),
    "an envelope": None,  # filled in below: a compressed model
    "trailing bytes": lambda m: m + b"\x00" * 8,
}


@pytest.mark.parametrize("case", sorted(MALFORMED_MODELS))
def test_malformed_model_sections(case, model_bytes, tmp_path):
    if case == "an envelope":
        from sklearn.linear_model import Ridge

        path = tmp_path / "c.mle"
        mle.dump(Ridge().fit(np.eye(3), np.arange(3.0)), path, compress=3)
        inner = path.read_bytes()
    else:
        inner = MALFORMED_MODELS[case](model_bytes)
    data = build(["dict", {"m": ["model", 0]}], models=(inner,))
    with pytest.raises(FormatError, match="model section 0 is invalid"):
        mle.load(io.BytesIO(data))
    path = tmp_path / "v.mle"
    path.write_bytes(data)
    with pytest.raises(FormatError, match="model section 0 is invalid"):
        mle.load(path, mmap_mode="r")


def test_pytz_zone_without_pytz(model_bytes):
    """A pytz zone names the missing package (UnsupportedModelError), or is an unknown zone
    (FormatError) where pytz is installed."""
    try:
        import pytz  # noqa: F401
    except ImportError:
        with pytest.raises(UnsupportedModelError, match="install pytz"):
            mle.load(io.BytesIO(build(["tzinfo", ["pytz", "Europe/Paris"]])))
    else:
        with pytest.raises(FormatError, match="unknown time zone"):
            mle.load(io.BytesIO(build(["tzinfo", ["pytz", "Nowhere/City"]])))


def test_section_kinds_of_value_files(model_bytes):
    """Two value sections, two data sections or two pickle sections are refused; model
    sections may repeat; an unknown required kind is refused, an unknown optional one
    skipped."""
    tree = json.dumps({"root": 1, "memo": 0}).encode()
    meta = writer.encode_json({"kind": "value"})
    cases = [
        ([(L.SECTION_VALUE, tree)], "more than one value section"),
        ([(L.SECTION_DATA, b"x" * 8)], "more than one tensor data section"),
        ([(L.SECTION_PICKLE, b""), (L.SECTION_PICKLE, b"")], "more than one pickle section"),
        ([(77, b"x")], "unknown kind 77"),
    ]
    for extra, message in cases:
        data = writer.pack_sections([(L.SECTION_META, meta), (L.SECTION_VALUE, tree),
                                     (L.SECTION_DATA, b"")] + extra, minor=L.MINOR_VALUES)
        with pytest.raises(FormatError):
            mle.load(io.BytesIO(data))
        with pytest.raises(FormatError, match=message):
            container.parse(data)
    data = writer.pack_sections([(L.SECTION_META, meta), (L.SECTION_VALUE, tree),
                                 (77, b"x", 8, L.SECTION_OPTIONAL),
                                 (L.SECTION_MODEL, model_bytes, 64),
                                 (L.SECTION_MODEL, model_bytes, 64)], minor=L.MINOR_VALUES)
    assert mle.load(io.BytesIO(data)) == 1


def test_a_shared_hostile_reference_is_not_an_amplifier():
    """References are shared, not copied: 30 levels of lists holding the previous level twice
    describe 2**30 leaves but load as 30 small lists, quickly."""
    levels = [["list", 0]]  # memo 0
    for i in range(1, 31):  # level i (memo i) holds level i-1 twice
        levels.append(["list", ["ref", i - 1], ["ref", i - 1]])
    out = mle.load(io.BytesIO(build(["list"] + levels, memo=32)))
    assert len(out) == 31 and out[30][0] is out[30][1] is out[29]


BEYOND = (0x110000).to_bytes(4, "little")  # one past the last code point, U+10FFFF


@pytest.mark.parametrize("descr,blob", [
    ("<U2", BEYOND + bytes(4)),
    (">U2", bytes(4) + BEYOND[::-1]),
    ([["a", "<i4"], ["t", "<U1", [2]]], bytes(8) + BEYOND),
    ([["n", [["t", ">U1"]]]], BEYOND[::-1]),
])
@pytest.mark.parametrize("node", ["scalar", "array"])
def test_text_beyond_unicode_is_refused(descr, blob, node, tmp_path):
    """numpy reads any 4-byte value as a code point of a 'U' dtype and would hand out invalid
    Python str objects (SystemError when used): such data is refused at load."""
    root = ["scalar", descr, 0] if node == "scalar" else ["array", descr, [1], 0, "C"]
    data = build(root, blob=blob + bytes(8))
    with pytest.raises(FormatError, match="beyond U\\+10FFFF"):
        mle.load(io.BytesIO(data))
    path = tmp_path / "t.mle"
    path.write_bytes(data)
    with pytest.raises(FormatError, match="beyond U\\+10FFFF"):
        mle.load(path, mmap_mode="r")
    # the largest code point and lone surrogates are text
    ok = build(["array", "<U2", [1], 0, "C"],
               blob="\U0010ffff\ud800".encode("utf-32-le", "surrogatepass"))
    assert mle.load(io.BytesIO(ok))[0] == "\U0010ffff\ud800"


# ------------------------------------------------------------------------ resource limits

def _tiny_value_file(tree, blob=b""):
    secs = [(L.SECTION_META, writer.encode_json({"kind": "value"})),
            (L.SECTION_VALUE, writer.encode_json(tree))]
    if blob:
        secs.append((L.SECTION_DATA, blob, L.DATA_ALIGN))
    return writer.pack_sections(secs, minor=L.MINOR_VALUES)


@pytest.mark.parametrize("node", [["bytes", 0, 1 << 20], ["array", "|u1", [1 << 20], 0, "C"],
                                  ["scalar", "|V1048576", 0]], ids=["bytes", "array", "scalar"])
def test_the_same_bytes_named_again_and_again_are_refused(node):
    """A 1 MB file naming its 1 MB of data 2000 times would allocate 2 GB."""
    memo = int(node[0] != "scalar")  # numpy scalars are not memoised
    data = _tiny_value_file({"root": ["list"] + [node] * 2000, "memo": 1 + 2000 * memo},
                            b"\0" * (1 << 20))
    with pytest.raises(FormatError, match="far more memory"):
        mle.load(io.BytesIO(data))
    # a handful of uses stays well within the budget
    ok = _tiny_value_file({"root": ["list"] + [node] * 3, "memo": 1 + 3 * memo},
                          b"\0" * (1 << 20))
    assert len(mle.load(io.BytesIO(ok))) == 3


def test_arrays_referred_to_again_and_again_are_charged():
    node = ["objarray", [1 << 18], "C", ["x"] * (1 << 18)]
    tree = {"root": ["list", node] + [["ref", 0]] * 2000, "memo": 2}
    with pytest.raises(FormatError, match="far more memory"):
        mle.load(io.BytesIO(_tiny_value_file(tree)))


def test_one_model_section_used_twice_is_one_model(iris):
    from sklearn.linear_model import LogisticRegression

    X, y = iris
    est = LogisticRegression(max_iter=1000).fit(X, y)
    buf = io.BytesIO()
    mle.dump({"m": est}, buf)
    parts = sections(buf.getvalue())
    tree = {"root": ["list", ["model", 0], ["model", 0]], "memo": 3}
    parts[1][1] = writer.encode_json(tree)
    a, b = mle.load(io.BytesIO(repack(parts)))
    assert a is b and (a.predict(X) == est.predict(X)).all()


@pytest.mark.parametrize("tag", ["set", "dictk"])
def test_keys_built_to_collide_are_refused(tag):
    keys = [["int", format(j * (2 ** 61 - 1), "x")] for j in range(1, 2001)]
    root = ["set"] + keys if tag == "set" else ["dictk", [[k, None] for k in keys]]
    with pytest.raises(FormatError, match="share one hash"):
        mle.load(io.BytesIO(_tiny_value_file({"root": root, "memo": 1})))


def test_object_arrays_hold_only_nodes():
    tree = {"root": ["objarray", [2], "C", [{"a": 1}, "x"]], "memo": 1}
    with pytest.raises(FormatError, match="unexpected node"):
        mle.load(io.BytesIO(_tiny_value_file(tree)))


@pytest.mark.parametrize("flag", ["False", "0", 1, None])
def test_allow_pickle_must_be_a_bool(flag, files):
    out, marker = files
    with pytest.raises(TypeError, match="allow_pickle must be True or False"):
        mle.load(io.BytesIO(out["pickled"]), allow_pickle=flag)
    with pytest.raises(TypeError, match="allow_pickle must be True or False"):
        mle.dump({"a": 1}, io.BytesIO(), allow_pickle=flag)
    assert not marker.exists()


# ------------------------------------------------- (d) arrays of pickled objects (17.4, 1.4)

def test_pickled_arrays_changes_with_valid_checksums():
    """The arrays inside pickled objects are array nodes of the value section
    (``pickled_arrays``) over the tensor data section: changes to either, checksums
    recomputed, loaded with allow_pickle=True (the pickle is a benign SimpleNamespace), are
    refused with FormatError or load a value; nothing else escapes."""
    import types

    value = {"ns": types.SimpleNamespace(a=np.arange(40, dtype=">i4").reshape(5, 8),
                                         b=np.linspace(0, 1, 300), c="x")}
    buf = io.BytesIO()
    mle.dump(value, buf, allow_pickle=True)
    data = buf.getvalue()
    c = container.parse(data)
    tree = c.json(L.SECTION_VALUE)
    assert len(tree["pickled_arrays"]) == 2 and c.version == "1.4"
    rng = np.random.default_rng(SEED + 7)
    alphabet = b'{}[]",:0123456789-.eE<>|ifuU truefalsnul'
    outcomes = collections.Counter()
    for attempt in range(600):
        kind = L.SECTION_VALUE if attempt % 3 else L.SECTION_DATA
        payload = bytearray(c.payload(c.find(kind)))
        start = bytes(payload).find(b'"pickled_arrays"') if kind == L.SECTION_VALUE else 0
        for _ in range(int(rng.integers(1, 4))):
            p = int(rng.integers(start, len(payload)))
            payload[p] = alphabet[int(rng.integers(len(alphabet)))] \
                if kind == L.SECTION_VALUE else int(rng.integers(256))
        bad = container.repack(c, replace={kind: bytes(payload)})
        try:
            mle.load(io.BytesIO(bad), allow_pickle=True)
        except FormatError:
            outcomes["refused"] += 1
            continue
        outcomes["loaded"] += 1
    assert outcomes["refused"] > 100, outcomes
