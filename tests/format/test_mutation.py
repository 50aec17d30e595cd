"""Mutation testing of the reader on files of real models (seeded, in-process).

(a) random byte changes and (b) truncations must either leave a file that loads and predicts
exactly as before (possible only when every changed byte is padding that no checksum covers)
or raise ``FormatError``; (c) "hostile" files, mutated inside the JSON and tensor data sections
with every checksum recomputed so that the mutation reaches the parsers and the plan
validation, must either be refused (``FormatError``, or ``UnsupportedModelError`` for an unknown
op or a feature this build lacks) or load into a model whose every method, called on valid
input, returns an array or raises ``FormatError`` / ``InputError`` / ``UnsupportedModelError``.

Anything else - another exception type, a crash, a hang - fails the suite.
"""

import copy
import io
import json
import warnings

import numpy as np
import pytest

import mle_runtime as mle
from mle_runtime import FormatError, InputError, UnsupportedModelError, _native
from mle_runtime.format import layout as L
from mle_runtime.format import writer
from mle_testing import Failures, json_get, json_nodes

METHODS = ("predict", "predict_proba", "predict_log_proba", "decision_function", "transform",
           "score_samples")
ALLOWED_CALL_ERRORS = (FormatError, InputError, UnsupportedModelError)

N_FLIPS = 3000          # per model: (a)
N_HOSTILE_BYTES = 1200  # per model: (c) byte-level
N_HOSTILE_JSON = 1500   # per model: (c) structured JSON edits
N_HOSTILE_DATA = 400    # per model: (c) tensor data edits
MAX_REPORTED = 8


# ------------------------------------------------------------------------------ models

def _models():
    from sklearn.datasets import load_diabetes, load_iris, load_wine
    from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression, Ridge, SGDClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    out = {}
    X, y = load_iris(return_X_y=True)
    out["iris scaler+logreg"] = (
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y), X[::7])
    X, y = load_diabetes(return_X_y=True)
    out["diabetes ridge"] = (Ridge(alpha=0.5).fit(X, y), X[::20])
    X, y = load_wine(return_X_y=True)
    X = X.copy()
    rng = np.random.default_rng(0)
    X[rng.random(X.shape) < 0.1] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = make_pipeline(SimpleImputer(), MinMaxScaler(),
                            SGDClassifier(loss="modified_huber", max_iter=200, random_state=0))
        out["wine imputer+minmax+sgd"] = (clf.fit(X, y), X[::9])
    # Tree ensembles: packed node records whose indices the plan must validate.
    X, y = load_iris(return_X_y=True)
    out["iris random forest"] = (
        RandomForestClassifier(n_estimators=4, max_depth=4, random_state=0).fit(X, y), X[::7])
    X, y = load_diabetes(return_X_y=True)
    X = X.copy()
    X[::4, 2] = np.nan
    out["diabetes hist gradient boosting"] = (
        HistGradientBoostingRegressor(max_iter=8, random_state=0).fit(X, y), X[::20])
    # LightGBM: float64 node records, missing-value kinds and category bitsets (category_rule
    # "lightgbm") whose tables the plan must validate too.
    from lightgbm import LGBMClassifier

    rng = np.random.default_rng(2)
    X = np.column_stack([rng.integers(0, 40, 400), rng.normal(size=(400, 3))])
    y = (np.isin(X[:, 0], [1, 5, 9, 33]) ^ (X[:, 1] > 0.3)).astype(int)
    X[rng.random(X.shape) < 0.1] = np.nan
    out["lightgbm categorical"] = (
        LGBMClassifier(n_estimators=4, num_leaves=6, min_data_per_group=5, cat_smooth=1.0,
                       verbose=-1).fit(X, y, categorical_feature=[0]), X[::9])
    # XGBoost: float32 node records with category sets (category_rule "xgboost"), float32
    # accumulation and the float32 link ops.
    import xgboost

    d = xgboost.DMatrix(X, label=y, feature_types=["c", "q", "q", "q"], enable_categorical=True)
    booster = xgboost.train({"objective": "binary:logistic", "max_depth": 3,
                             "tree_method": "hist", "max_cat_to_onehot": 1}, d,
                            num_boost_round=4)
    out["xgboost categorical booster"] = (booster, X[::9])
    # Over 64 KiB: with the read threshold lowered to that (fixture below), loads through a
    # path take the memory-mapped route.
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 9000))
    out["wide ridge (mapped)"] = (Ridge().fit(X, rng.normal(size=40)), X[:5])
    return out


@pytest.fixture(scope="module", autouse=True)
def small_read_threshold():
    """Files over 64 KiB are memory-mapped in this module (the default, pinned here so that
    the mapped route meets every mutation whatever the default becomes)."""
    old = _native._read_threshold(64 * 1024)
    yield
    _native._read_threshold(old)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """name -> (file bytes, sample X, {method: expected output})."""
    out = {}
    d = tmp_path_factory.mktemp("mutation")
    for name, (est, X) in _models().items():
        path = d / (name.replace(" ", "_") + ".mle")
        mle.dump(est, path)
        data = path.read_bytes()
        model = mle.load(path)
        expected = {m: getattr(model, m)(X) for m in METHODS if hasattr(model, m)}
        assert expected
        out[name] = (data, X, expected)
    assert len(out["wide ridge (mapped)"][0]) > 64 * 1024
    return out


MODEL_NAMES = ["iris scaler+logreg", "diabetes ridge", "wine imputer+minmax+sgd",
               "iris random forest", "diabetes hist gradient boosting", "wide ridge (mapped)",
               "lightgbm categorical", "xgboost categorical booster"]
TREE_MODELS = ["iris random forest", "diabetes hist gradient boosting", "lightgbm categorical",
               "xgboost categorical booster"]


# ------------------------------------------------------------------------------ file layout

def entries(data):
    n = int.from_bytes(data[24:28], "little")
    return np.frombuffer(data, dtype=L.SECTION_DTYPE, count=n, offset=L.HEADER_SIZE)


def covered_mask(data):
    """True for every byte some check covers: header, section table, section contents."""
    mask = np.zeros(len(data), dtype=bool)
    t = entries(data)
    mask[:L.HEADER_SIZE + L.SECTION_ENTRY_SIZE * len(t)] = True
    for e in t:
        mask[int(e["offset"]):int(e["offset"]) + int(e["size"])] = True
    return mask


def sections(data):
    """[[kind, payload bytes, alignment, flags]] of a valid file."""
    out = []
    for e in entries(data):
        off, size = int(e["offset"]), int(e["size"])
        out.append([int(e["kind"]), data[off:off + size],
                    L.DATA_ALIGN if off % L.DATA_ALIGN == 0 else L.SECTION_ALIGN,
                    int(e["flags"])])
    return out


def repack(parts):
    """The file of ``parts``, with the minor version a writer gives it (writer.model_minor)."""
    minor = writer.model_minor(p[0] for p in parts)
    return writer.pack_sections([tuple(p) for p in parts], minor=minor)


def refresh_checksums(buf):
    """Recomputes every section CRC, the table CRC and the header CRC in place."""
    t = entries(bytes(buf)).copy()
    for e in t:
        off, size = int(e["offset"]), int(e["size"])
        e["crc"] = _native.crc32c(bytes(buf[off:off + size]))
    end = L.HEADER_SIZE + L.SECTION_ENTRY_SIZE * len(t)
    buf[L.HEADER_SIZE:end] = t.tobytes()
    buf[28:32] = _native.crc32c(bytes(buf[L.HEADER_SIZE:end])).to_bytes(4, "little")
    buf[60:64] = _native.crc32c(bytes(buf[:60])).to_bytes(4, "little")
    return bytes(buf)


def test_checksum_refresh_is_faithful(models):
    for data, _, _ in models.values():
        assert refresh_checksums(bytearray(data)) == data
        assert repack(sections(data)) == data


# ------------------------------------------------------------------------------ outcomes

def same_outputs(model, X, expected):
    for m, exp in expected.items():
        got = getattr(model, m)(X)
        if got.dtype != exp.dtype or got.shape != exp.shape or not np.array_equal(
                got, exp, equal_nan=exp.dtype.kind == "f"):
            return False
    return all(not hasattr(model, m) for m in METHODS if m not in expected)


def exercise(model, X, what, failures):
    """Calls everything a user would on a loaded (possibly hostile) model."""
    try:
        text = repr(model)
        assert isinstance(text, str)
    except Exception as e:  # repr must never raise
        failures.add(f"{what}: repr(model) raised", e, "repr")
    try:
        model.metadata
    except FormatError:
        pass
    except Exception as e:
        failures.add(f"{what}: model.metadata raised", e, "metadata")
    n = model.n_features_in_
    if n == X.shape[1]:
        inputs = [X, X[:1], X.astype(np.float32)]
    elif n <= 4096:
        rng = np.random.default_rng(n)
        Z = rng.normal(size=(7, n))
        inputs = [Z, Z[:1], Z.astype(np.float32)]
    else:  # too wide to build; a mismatched X must still be refused cleanly
        inputs = [X[:2]]
    for name in METHODS:
        if name not in model._native.outputs:
            continue
        try:
            method = getattr(model, name)
        except FormatError:
            continue
        except Exception as e:
            failures.add(f"{what}: getattr(model, {name!r}) raised", e, f"getattr {name}")
            continue
        for Z in inputs:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    out = method(Z)
            except ALLOWED_CALL_ERRORS:
                continue
            except Exception as e:
                failures.add(f"{what}: {name}(X of shape {Z.shape} {Z.dtype}) raised", e, name)
                break
            if not isinstance(out, np.ndarray) or out.shape[:1] != Z.shape[:1]:
                failures.add(f"{what}: {name} returned {type(out).__name__} "
                             f"{getattr(out, 'shape', None)} for {Z.shape[0]} rows",
                             stage=f"{name} result")


def load_hostile(data, what, X, failures):
    """Loads bytes that may be hostile; exercises the model when it loads."""
    try:
        model = mle.load(io.BytesIO(data))
    except FormatError:
        return "refused"
    except UnsupportedModelError as e:
        # a well-formed file using a feature this build lacks (an unknown op, a categorical
        # tree split) is "unsupported", not "invalid"
        if "unknown op" not in str(e) and "not supported" not in str(e):
            failures.add(f"{what}: load raised", e, "load")
        return "refused"
    except Exception as e:
        failures.add(f"{what}: load raised", e, "load")
        return "error"
    exercise(model, X, what, failures)
    return "loaded"


# ------------------------------------------------------------------------------ (a) byte flips

@pytest.mark.parametrize("name", MODEL_NAMES)
def test_random_byte_changes(models, name, tmp_path):
    data, X, expected = models[name]
    covered = covered_mask(data)
    rng = np.random.default_rng(MODEL_NAMES.index(name))
    failures = Failures(MAX_REPORTED)
    outcomes = {"refused": 0, "loaded": 0}
    path = tmp_path / "flipped.mle"
    for attempt in range(N_FLIPS):
        buf = bytearray(data)
        k = int(rng.integers(1, 9))
        positions = rng.integers(0, len(data), k)
        values = rng.integers(0, 256, k)
        for p, v in zip(positions, values):
            buf[int(p)] = int(v)
        mutated = bytes(buf)
        changed = [int(p) for p in np.flatnonzero(np.frombuffer(mutated, np.uint8)
                                                  != np.frombuffer(data, np.uint8))]
        what = f"{name}: bytes {[(int(p), int(v)) for p, v in zip(positions, values)]}"
        via_path = attempt % 25 == 0
        try:
            if via_path:
                path.write_bytes(mutated)
                model = mle.load(path)
            else:
                model = mle.load(io.BytesIO(mutated))
        except FormatError:
            outcomes["refused"] += 1
            if not changed:
                failures.add(f"{what}: the unchanged file was refused", stage="refused")
            continue
        except Exception as e:
            failures.add(f"{what}: load raised", e, "load")
            continue
        outcomes["loaded"] += 1
        if any(covered[p] for p in changed):
            failures.add(f"{what}: a change to checked bytes {changed} loaded", stage="loaded")
            continue
        try:
            if not same_outputs(model, X, expected):
                failures.add(f"{what}: loaded, but predictions changed", stage="changed")
        except Exception as e:
            failures.add(f"{what}: predicting raised", e, "predict")
    failures.check()
    assert outcomes["refused"] > N_FLIPS * 0.9


# ------------------------------------------------------------------------------ (b) truncation

@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_truncation_is_refused(models, name):
    data, _, _ = models[name]
    failures = Failures(MAX_REPORTED)
    for n in range(len(data)):
        try:
            _native.load_buffer(data[:n])
        except FormatError:
            continue
        except Exception as e:
            failures.add(f"{name}: first {n} bytes: load raised", e, "load")
            continue
        failures.add(f"{name}: first {n} bytes loaded", stage="loaded")
    failures.check()


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_random_truncations_through_files(models, name, tmp_path):
    data, _, _ = models[name]
    rng = np.random.default_rng(100 + MODEL_NAMES.index(name))
    path = tmp_path / "short.mle"
    for n in rng.integers(0, len(data), 60):
        path.write_bytes(data[:int(n)])
        with pytest.raises(FormatError):
            mle.load(path)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_appended_bytes_are_refused(models, name):
    data, _, _ = models[name]
    rng = np.random.default_rng(200 + MODEL_NAMES.index(name))
    for n in (1, 2, 7, 8, 64, 1000):
        with pytest.raises(FormatError, match="trailing"):
            _native.load_buffer(data + rng.integers(0, 256, n, dtype=np.uint8).tobytes())


# ------------------------------------------------------------------------------ (c) hostile

JSON_ALPHABET = b'0123456789-+.eE"{}[],: \\tfnulrsaXv_/'


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_hostile_byte_changes_with_valid_checksums(models, name):
    data, X, _ = models[name]
    rng = np.random.default_rng(300 + MODEL_NAMES.index(name))
    t = entries(data)
    failures = Failures(MAX_REPORTED)
    outcomes = {"refused": 0, "loaded": 0, "error": 0}
    for _ in range(N_HOSTILE_BYTES):
        i = int(rng.integers(len(t)))
        off, size = int(t[i]["offset"]), int(t[i]["size"])
        if size == 0:
            continue
        buf = bytearray(data)
        changes = []
        for _ in range(int(rng.integers(1, 5))):
            p = off + int(rng.integers(size))
            if int(t[i]["kind"]) != L.SECTION_DATA and rng.random() < 0.6:
                v = JSON_ALPHABET[int(rng.integers(len(JSON_ALPHABET)))]
            else:
                v = int(rng.integers(256))
            buf[p] = v
            changes.append((p, v))
        what = f"{name}: section {i} bytes {changes} (checksums recomputed)"
        outcomes[load_hostile(refresh_checksums(buf), what, X, failures)] += 1
    failures.check()
    assert outcomes["refused"] > 0 and outcomes["loaded"] > 0


POOL = [0, 1, -1, 2, 3, 4, 7, 8, 13, 64, 255, 2 ** 24, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 53,
        2 ** 63 - 1, -2 ** 63, 0.5, -0.0, 1.5, 1e308, -1e308, 1e-320, "", "X", "v1", "v2", "v3",
        "f8", "f4", "i8", "u1", "predict", "transform", "Linear", "Impute", "SubDiv", "ArgMax",
        "Softmax", "classifier", "regressor", "object", "<i8", "<U5", "|b1", "\u00e9\u2713",
        "\x00", True, False, None, [], {}, [0], [1, 2], [[0]], {"a": 1}, ["X"],
        {"dtype": "<i8", "values": [0]}]


def _strings(obj):
    return [o for _, o in json_nodes(obj) if isinstance(o, str)] + \
        [k for _, o in json_nodes(obj) if isinstance(o, dict) for k in o]


def mutate_json(doc, rng):
    """One random structural edit of a JSON document (in place); returns a description."""
    nodes = list(json_nodes(doc))
    path, target = nodes[int(rng.integers(len(nodes)))]
    op = int(rng.integers(8))
    strings = _strings(doc)
    if not path:
        op = 6 if isinstance(doc, dict) else 2
    if op <= 2 and path:  # replace this value
        parent = json_get(doc, path[:-1])
        if op == 0:
            new = copy.deepcopy(POOL[int(rng.integers(len(POOL)))])
        elif op == 1 and isinstance(target, (int, float)) and not isinstance(target, bool):
            new = target + [1, -1, 8, -8, 1000][int(rng.integers(5))] if isinstance(
                target, int) else target * [-1, 2, 1e10][int(rng.integers(3))]
        else:
            new = strings[int(rng.integers(len(strings)))] if strings else "X"
        parent[path[-1]] = new
        return f"{list(path)} = {new!r}"
    if op == 3 and isinstance(target, list) and target:  # delete an element
        j = int(rng.integers(len(target)))
        del target[j]
        return f"del {list(path)}[{j}]"
    if op == 4 and isinstance(target, list) and target:  # duplicate an element
        j = int(rng.integers(len(target)))
        target.insert(int(rng.integers(len(target) + 1)), copy.deepcopy(target[j]))
        return f"duplicate {list(path)}[{j}]"
    if op == 5 and isinstance(target, list) and len(target) > 1:  # swap two elements
        a, b = (int(v) for v in rng.choice(len(target), 2, replace=False))
        target[a], target[b] = target[b], target[a]
        return f"swap {list(path)}[{a}], [{b}]"
    if op == 6 and isinstance(target, dict) and target:  # delete or rename a key
        keys = list(target)
        k = keys[int(rng.integers(len(keys)))]
        v = target.pop(k)
        if rng.random() < 0.5 and strings:
            new = strings[int(rng.integers(len(strings)))]
            target[new] = v
            return f"rename {list(path)}[{k!r}] -> {new!r}"
        return f"del {list(path)}[{k!r}]"
    if op == 7 and isinstance(target, dict):  # add a key
        k = strings[int(rng.integers(len(strings)))] if strings else "k"
        target[k] = copy.deepcopy(POOL[int(rng.integers(len(POOL)))])
        return f"{list(path)}[{k!r}] = {target[k]!r}"
    if path:
        parent = json_get(doc, path[:-1])
        parent[path[-1]] = None
        return f"{list(path)} = None"
    return "no-op"


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_hostile_json_edits(models, name):
    data, X, _ = models[name]
    rng = np.random.default_rng(400 + MODEL_NAMES.index(name))
    parts = sections(data)
    failures = Failures(MAX_REPORTED)
    outcomes = {"refused": 0, "loaded": 0, "error": 0}
    for _ in range(N_HOSTILE_JSON):
        i = int(rng.integers(2))  # 0 metadata, 1 graph
        doc = json.loads(parts[i][1])
        edits = [mutate_json(doc, rng) for _ in range(int(rng.integers(1, 4)))]
        new_parts = copy.deepcopy(parts)
        new_parts[i][1] = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
        what = f"{name}: {['metadata', 'graph'][i]} edits {edits}"
        outcomes[load_hostile(repack(new_parts), what, X, failures)] += 1
    failures.check()
    assert outcomes["refused"] > 0 and outcomes["loaded"] > 0


SPECIAL_8 = [np.float64(np.nan).tobytes(), np.float64(np.inf).tobytes(),
             np.float64(-np.inf).tobytes(), np.float64(1e308).tobytes(),
             np.int64(-1).tobytes(), np.int64(2 ** 62).tobytes(), np.int64(2 ** 31).tobytes(),
             np.int64(-2 ** 63).tobytes(), bytes(8), b"\xff" * 8]


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_hostile_tensor_data(models, name):
    data, X, _ = models[name]
    rng = np.random.default_rng(500 + MODEL_NAMES.index(name))
    parts = sections(data)
    di = [j for j, p in enumerate(parts) if p[0] == L.SECTION_DATA][0]
    blob = parts[di][1]
    failures = Failures(MAX_REPORTED)
    for _ in range(N_HOSTILE_DATA):
        new = bytearray(blob)
        r = rng.random()
        if r < 0.6:  # aligned special values
            for _ in range(int(rng.integers(1, 4))):
                p = int(rng.integers(len(new) // 8)) * 8
                new[p:p + 8] = SPECIAL_8[int(rng.integers(len(SPECIAL_8)))]
            what = "special values"
        elif r < 0.8:  # random bytes
            for _ in range(int(rng.integers(1, 9))):
                new[int(rng.integers(len(new)))] = int(rng.integers(256))
            what = "random bytes"
        elif r < 0.9:  # shorter section
            cut = int(rng.integers(1, 17))
            new = new[:-cut]
            what = f"section shortened by {cut}"
        else:  # longer section
            new += rng.integers(0, 256, int(rng.integers(1, 65)), dtype=np.uint8).tobytes()
            what = "section lengthened"
        new_parts = copy.deepcopy(parts)
        new_parts[di][1] = bytes(new)
        load_hostile(repack(new_parts), f"{name}: tensor data {what}", X, failures)
    failures.check()


TREE_FIELD_VALUES = {
    "right": [0, 1, 2, 3, 2 ** 31, 2 ** 32 - 1, 7, 100],
    "feature_flags": [0, 3, 4, 9, 10, 2 ** 24 - 1, 1 << 24, 1 << 26, L.TREE_LEAF,
                      L.TREE_LEAF | 1000, L.TREE_DEFAULT_LEFT, L.TREE_CATEGORICAL,
                      (L.TREE_MISSING_NAN << L.TREE_MISSING_SHIFT) | 1,
                      (L.TREE_MISSING_ZERO << L.TREE_MISSING_SHIFT) | 1,
                      (L.TREE_MISSING_AS_ZERO << L.TREE_MISSING_SHIFT) | L.TREE_DEFAULT_LEFT,
                      0xFFFFFFFF],
    "threshold": [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e300],
}


@pytest.mark.parametrize("name", TREE_MODELS)
def test_hostile_tree_records(models, name):
    """Field-level edits of the packed tree nodes and root offsets (checksums valid): child
    indices backwards, out of range or into the next tree, unknown flags, features beyond the
    input, leaf rows beyond the leaf matrix."""
    data, X, _ = models[name]
    rng = np.random.default_rng(600 + MODEL_NAMES.index(name))
    parts = sections(data)
    graph = json.loads(parts[1][1])
    attrs = [n for n in graph["nodes"] if n[0] == "TreeEnsemble"][0][3]
    dtype = L.TREE_NODE32_DTYPE if attrs["node_format"] == "node32" else L.TREE_NODE64_DTYPE
    n_off, _, n_shape = graph["tensors"][attrs["nodes"]]
    r_off, _, r_shape = graph["tensors"][attrs["roots"]]
    di = [j for j, p in enumerate(parts) if p[0] == L.SECTION_DATA][0]
    blob = parts[di][1]
    failures = Failures(MAX_REPORTED)
    outcomes = {"refused": 0, "loaded": 0, "error": 0}
    for _ in range(N_HOSTILE_DATA):
        new = bytearray(blob)
        nodes = np.frombuffer(new, dtype=dtype, count=n_shape[0], offset=n_off)
        roots = np.frombuffer(new, dtype="<i4", count=r_shape[0], offset=r_off)
        edits = []
        for _ in range(int(rng.integers(1, 3))):
            if rng.random() < 0.85:
                i = int(rng.integers(len(nodes)))
                field = ["right", "feature_flags", "threshold"][int(rng.integers(3))]
                choices = TREE_FIELD_VALUES[field]
                value = choices[int(rng.integers(len(choices)))]
                if field == "right" and rng.random() < 0.5:
                    value = int(nodes[i]["right"]) + int(rng.integers(-3, 4))
                with np.errstate(over="ignore"):  # 1e300 in a float32 threshold: inf
                    nodes[i][field] = value % 2 ** 32 if field != "threshold" else value
                edits.append(f"node {i} {field}={value}")
            else:
                j = int(rng.integers(len(roots)))
                value = [-1, 0, 1, len(nodes), len(nodes) + 1, int(roots[j]) + 1,
                         int(roots[j]) - 1, 2 ** 31 - 1][int(rng.integers(8))]
                roots[j] = value
                edits.append(f"root {j}={value}")
        del nodes, roots
        new_parts = copy.deepcopy(parts)
        new_parts[di][1] = bytes(new)
        what = f"{name}: tree edits {edits}"
        outcomes[load_hostile(repack(new_parts), what, X, failures)] += 1
    failures.check()
    assert outcomes["refused"] > 0 and outcomes["loaded"] > 0


# ------------------------------------------------------------------------------ targeted hostile

def _edit_meta(data, fn):
    parts = sections(data)
    meta = json.loads(parts[0][1])
    fn(meta)
    parts[0][1] = writer.encode_json(meta)
    return repack(parts)


def _edit_graph(data, fn):
    parts = sections(data)
    graph = json.loads(parts[1][1])
    fn(graph)
    parts[1][1] = writer.encode_json(graph)
    return repack(parts)


def _output_value(graph, name):
    return [o for o in graph["outputs"] if o[0] == name][0][1]


def _repoint_predict(graph):
    """predict -> the (float, multi-column) probability value, without ravel."""
    proba = _output_value(graph, "predict_proba")
    graph["outputs"] = [o if o[0] != "predict" else ["predict", proba] for o in graph["outputs"]]


# The metadata cases change nothing a 1.3 file predicts (its metadata is descriptive): they
# must load and work or be refused, never break. test_golden_legacy.py refuses them in
# files before 1.3, whose metadata holds the prediction rules.
HOSTILE_CASES = {
    "labels removed from a classifier": (
        "iris scaler+logreg", "graph", lambda g: g.pop("labels")),
    "classes spec not an object": (
        "wine imputer+minmax+sgd", "meta", lambda m: m.update(classes=[0, 1, 2])),
    "regressor relabelled classifier": (
        "diabetes ridge", "meta", lambda m: m.update(estimator_type="classifier")),
    "model_class not a string": (
        "diabetes ridge", "meta", lambda m: m.update(model_class=5)),
    "summary not a string": (
        "wine imputer+minmax+sgd", "meta", lambda m: m.update(summary=["a"])),
    "feature names not a list": (
        "diabetes ridge", "meta", lambda m: m.update(feature_names_in=3)),
    "integer_input malformed": (
        "wine imputer+minmax+sgd", "meta", lambda m: m.update(integer_input={"keep": "yes"})),
    "predict pointing at probabilities": (
        "iris scaler+logreg", "graph", _repoint_predict),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_CASES))
def test_targeted_hostile_metadata_and_graph(models, case):
    name, section, fn = HOSTILE_CASES[case]
    data, X, _ = models[name]
    edit = _edit_meta if section == "meta" else _edit_graph
    failures = Failures(MAX_REPORTED)
    outcome = load_hostile(edit(data, fn), f"{case}:", X, failures)
    failures.check()
    assert outcome in ("refused", "loaded")


def _output_options(graph, name):
    """The options object of output ``name`` (created when the record has none)."""
    record = next(o for o in graph["outputs"] if o[0] == name)
    if len(record) < 3 or not isinstance(record[2], dict):
        record[2:] = [{"ravel": True} if record[2:] == [True] else {}]
    return record[2]


# Prediction rules of the graph (format 1.3, docs/FORMAT.md 9.7): each must be refused at load.
HOSTILE_RULES = {
    "labels shorter than the class indices": (
        "iris scaler+logreg", lambda g: g["labels"][0].__setitem__(1, [0, 1])),
    "labels of an unknown dtype": (
        "iris scaler+logreg", lambda g: g["labels"][0].__setitem__(0, "<c16")),
    "labels of a huge string width": (
        "iris scaler+logreg",
        lambda g: g["labels"].__setitem__(0, ["<U500000000", ["a", "b", "c"]])),
    "labels naming a missing set": (
        "iris scaler+logreg", lambda g: _output_options(g, "predict").update(labels=1)),
    "labels on probabilities": (
        "iris scaler+logreg", lambda g: _output_options(g, "predict_proba").update(labels=0)),
    "alias to a missing output": (
        "iris scaler+logreg",
        lambda g: g.setdefault("keywords", []).append(["predict", "raw", True, "nope"])),
    "output dtype unknown": (
        "iris scaler+logreg", lambda g: _output_options(g, "predict_proba").update(dtype="f2")),
    "splits summing wrong": (
        "iris scaler+logreg", lambda g: _output_options(g, "predict_proba").update(splits=[1])),
    "unknown output option": (
        "diabetes ridge", lambda g: _output_options(g, "predict").update(colour="red")),
    "feature names of the wrong length": (
        "diabetes ridge", lambda g: g.setdefault("inputs", {}).update(feature_names=["a"])),
    "categories without feature names": (
        "diabetes ridge", lambda g: g.setdefault("inputs", {}).update(categories={"a": None})),
    "unseen policy unknown": (
        "diabetes ridge", lambda g: g.setdefault("inputs", {}).update(unseen="ignore")),
    "integer rule malformed": (
        "wine imputer+minmax+sgd",
        lambda g: g.setdefault("inputs", {}).update(integer={"keep": "yes"})),
    "estimator type not an identifier": (
        "diabetes ridge", lambda g: g.update(estimator_type="re gressor")),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_RULES))
def test_targeted_hostile_rules_are_refused_at_load(models, case):
    name, fn = HOSTILE_RULES[case]
    data, X, _ = models[name]
    failures = Failures(MAX_REPORTED)
    outcome = load_hostile(_edit_graph(data, fn), f"{case}:", X, failures)
    failures.check()
    assert outcome == "refused"
