"""Hostile oblivious-ensemble files: every index the ObliviousEnsemble kernel follows is checked
at load.

Each test takes a valid dumped CatBoost model, finds its ObliviousEnsemble node and tensors
through the graph JSON (the section of kind 2; tensors are ``[offset, dtype, shape]`` records
into the section of kind 3), edits a tensor in place or points an attribute at a new tensor,
and re-packs the file with valid checksums (``writer.pack_sections``). The checksums being
right, only plan validation stands between the edit and the kernel: ``mle.load`` must raise
``FormatError``. After each refusal a pristine copy must still load and predict as before.
A seeded fuzz pass flips values in the index tensors: each file either loads and predicts
(finite or not, but without crashing) or is refused with FormatError.
"""

import io
import json
import warnings

import catboost
import numpy as np
import pytest
from sklearn.datasets import load_diabetes, load_wine

import mle_runtime as mle
from mle_runtime import FormatError
from mle_runtime.format import layout as L
from mle_runtime.format import writer


class Surgery:
    """A parsed .mle file whose ObliviousEnsemble tensors can be edited and packed again."""

    def __init__(self, data):
        header = np.frombuffer(data, dtype=L.HEADER_DTYPE, count=1)[0]
        table = np.frombuffer(data, dtype=L.SECTION_DTYPE, count=int(header["section_count"]),
                              offset=L.HEADER_SIZE)
        self.sections = {}
        for entry in table:
            start, size = int(entry["offset"]), int(entry["size"])
            self.sections[int(entry["kind"])] = bytes(data[start:start + size])
        self.graph = json.loads(self.sections[L.SECTION_GRAPH])
        self.blob = bytearray(self.sections[L.SECTION_DATA])
        ens = [n for n in self.graph["nodes"] if n[0] == "ObliviousEnsemble"]
        assert len(ens) == 1
        self.attrs = ens[0][3]

    def get(self, attr):
        off, code, shape = self.graph["tensors"][self.attrs[attr]]
        dt = L.TENSOR_DTYPES[code]
        count = int(np.prod(shape))
        return np.frombuffer(self.blob, dtype=dt, count=count, offset=off).reshape(shape).copy()

    def set(self, attr, array):
        """Writes an array of the same dtype and shape in place."""
        off, code, shape = self.graph["tensors"][self.attrs[attr]]
        arr = np.ascontiguousarray(array, dtype=L.TENSOR_DTYPES[code])
        assert list(arr.shape) == list(shape)
        raw = arr.tobytes()
        self.blob[off:off + len(raw)] = raw

    def replace(self, attr, array, code=None):
        """Points ``attr`` at a new tensor (any shape; dtype ``code`` or the old one's)."""
        code = code or self.graph["tensors"][self.attrs[attr]][1]
        array = np.ascontiguousarray(array, dtype=L.TENSOR_DTYPES[code])
        off = L.align_up(len(self.blob), 64)
        self.blob += bytes(off - len(self.blob)) + array.tobytes()
        self.graph["tensors"].append([off, code, list(array.shape)])
        self.attrs[attr] = len(self.graph["tensors"]) - 1

    def pack(self):
        graph = writer.encode_json(self.graph)
        return writer.pack_sections([(L.SECTION_META, self.sections[L.SECTION_META]),
                                     (L.SECTION_GRAPH, graph),
                                     (L.SECTION_DATA, bytes(self.blob), L.DATA_ALIGN)])


@pytest.fixture(scope="module", params=["regressor", "multiclass", "depthwise"])
def case(request, tmp_path_factory):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if request.param == "regressor":
            X, y = load_diabetes(return_X_y=True)
            model = catboost.CatBoostRegressor(iterations=12, depth=5, verbose=0,
                                               allow_writing_files=False, thread_count=1,
                                               nan_mode="Max").fit(X, y)
            method = "predict"
        elif request.param == "depthwise":  # non-symmetric trees: one split per node
            X, y = load_diabetes(return_X_y=True)
            model = catboost.CatBoostRegressor(iterations=12, depth=5, verbose=0,
                                               allow_writing_files=False, thread_count=1,
                                               grow_policy="Depthwise").fit(X, y)
            method = "predict"
        else:
            X, y = load_wine(return_X_y=True)
            model = catboost.CatBoostClassifier(iterations=12, depth=4, verbose=0,
                                                allow_writing_files=False,
                                                thread_count=1).fit(X, y)
            method = "predict_proba"
    path = tmp_path_factory.mktemp("obl") / "pristine.mle"
    mle.dump(model, path)
    pristine = path.read_bytes()
    expected = getattr(mle.load(path), method)(X)

    class Case:
        def surgery(self):
            return Surgery(pristine)

        def refuse(self, data, match=None):
            with pytest.raises(FormatError, match=match):
                mle.load(io.BytesIO(data))
            proxy = mle.load(path)
            np.testing.assert_array_equal(getattr(proxy, method)(X), expected)

    c = Case()
    c.X = X
    c.method = method
    return c


def test_pristine_loads(case):
    s = case.surgery()
    proxy = mle.load(io.BytesIO(s.pack()))
    assert getattr(proxy, case.method)(case.X).shape[0] == len(case.X)


@pytest.mark.parametrize("value", [-1, "n_features", 1 << 30])
def test_feature_column_out_of_range(case, value):
    s = case.surgery()
    f = s.get("features")
    f[-1] = s.graph["n_features"] if value == "n_features" else value
    s.set("features", f)
    case.refuse(s.pack(), "input column")


@pytest.mark.parametrize("edit", ["first", "decrease", "last", "beyond"])
def test_border_offsets(case, edit):
    s = case.surgery()
    o = s.get("border_offsets")
    if edit == "first":
        o[0] = 1
    elif edit == "decrease":
        o[2] = o[1] - 1
    elif edit == "last":
        o[-1] -= 1
    else:
        o[1] = 1 << 30
    s.set("border_offsets", o)
    case.refuse(s.pack(), "border_offsets")


@pytest.mark.parametrize("edit", ["nan", "swap", "duplicate"])
def test_borders_must_increase(case, edit):
    s = case.surgery()
    o = s.get("border_offsets")
    b = s.get("borders")
    f = int(np.argmax(np.diff(o)))  # the feature with the most borders (at least 2)
    i = int(o[f])
    assert o[f + 1] - o[f] >= 2
    if edit == "nan":
        b[i + 1] = np.nan
    elif edit == "swap":
        b[i], b[i + 1] = b[i + 1], b[i]
    else:
        b[i + 1] = b[i]
    s.set("borders", b)
    case.refuse(s.pack(), "border")


def test_nan_flag(case):
    s = case.surgery()
    n = s.get("nan_as_true")
    n[0] = 2
    s.set("nan_as_true", n)
    case.refuse(s.pack(), "nan_as_true")


@pytest.mark.parametrize("edit", ["slot-neg", "slot-big", "border-neg", "border-big"])
def test_split_indices(case, edit):
    s = case.surgery()
    sp = s.get("splits")
    o = s.get("border_offsets")
    k = len(sp) // 2
    if edit == "slot-neg":
        sp[k, 0] = -1
    elif edit == "slot-big":
        sp[k, 0] = len(o) - 1
    elif edit == "border-neg":
        sp[k, 1] = -1
    else:
        slot = sp[k, 0]
        sp[k, 1] = o[slot + 1] - o[slot]
    s.set("splits", sp)
    case.refuse(s.pack(), "split")


@pytest.mark.parametrize("edit", ["negative", "too-deep", "huge", "one-more", "one-less"])
def test_depths(case, edit):
    s = case.surgery()
    d = s.get("depths")
    if edit == "negative":
        d[0] = -1
    elif edit == "too-deep":
        d[0] = 17
    elif edit == "huge":
        d[0] = 1 << 30
    elif edit == "one-more":
        d[0] += 1
    else:
        d[-1] -= 1
    s.set("depths", d)
    case.refuse(s.pack(), "depth|levels|split table")


def test_depths_matching_splits_but_not_leaves(case):
    """Moving levels between trees keeps the level count (oblivious layout) but changes the
    number of leaf rows needed; for complete trees it changes the split count too."""
    s = case.surgery()
    d = s.get("depths")
    d[0] -= 1
    d[1] += 2
    d[2] -= 1
    s.set("depths", d)
    case.refuse(s.pack(), "leaf|splits")


@pytest.mark.parametrize("edit", ["fewer-leaves", "more-leaves", "bias", "no-trees",
                                  "borders-f64", "splits-shape", "zero-columns"])
def test_table_shapes(case, edit):
    s = case.surgery()
    if edit == "fewer-leaves":
        s.replace("leaves", s.get("leaves")[:-1])
    elif edit == "more-leaves":
        lv = s.get("leaves")
        s.replace("leaves", np.vstack([lv, lv[:1]]))
    elif edit == "bias":
        s.replace("bias", np.zeros(len(s.get("bias")) + 1))
    elif edit == "no-trees":
        s.replace("depths", np.zeros(0, np.int32))
    elif edit == "borders-f64":
        s.replace("borders", s.get("borders"), code="f8")
    elif edit == "splits-shape":
        s.replace("splits", s.get("splits").reshape(-1))
    else:
        s.replace("leaves", np.zeros((len(s.get("leaves")), 0)))
        s.replace("bias", np.zeros(0))
    case.refuse(s.pack())


@pytest.mark.parametrize("attr,value", [("scale", "one"), ("scale", None), ("leaves", 10**6),
                                        ("splits", -1), ("features", 1.5)])
def test_bad_attributes(case, attr, value):
    s = case.surgery()
    if value is None:
        del s.attrs[attr]
    else:
        s.attrs[attr] = value
    case.refuse(s.pack())


def test_fuzz_index_tensors(case):
    """Random values in the index tensors never crash: refused, or loaded and run."""
    rng = np.random.default_rng(11)
    refused = 0
    for trial in range(150):
        s = case.surgery()
        attr = ["features", "border_offsets", "splits", "depths", "nan_as_true"][trial % 5]
        a = s.get(attr)
        flat = a.reshape(-1)
        for _ in range(int(rng.integers(1, 4))):
            i = int(rng.integers(0, flat.size))
            flat[i] = int(rng.choice([-1, 0, 1, 2, 16, 255, 256, 1 << 20, -(1 << 31)]) if
                          a.dtype.kind == "i" else rng.integers(0, 256))
        s.set(attr, flat.reshape(a.shape))
        try:
            proxy = mle.load(io.BytesIO(s.pack()))
        except FormatError:
            refused += 1
            continue
        out = getattr(proxy, case.method)(case.X[:40])
        assert out.shape[0] == 40
    assert refused > 50


def test_layout_flag(case):
    """The same tables read with the other layout no longer add up (the split count differs
    as soon as a tree is deeper than 1)."""
    s = case.surgery()
    if s.attrs.get("complete"):
        del s.attrs["complete"]
    else:
        s.attrs["complete"] = True
    case.refuse(s.pack(), "splits")
