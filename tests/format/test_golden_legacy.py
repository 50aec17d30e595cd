"""Files written before format 1.3 keep their prediction rules in metadata keys; the reader
maps those keys onto the graph's records (docs/FORMAT.md, section 12) and validates them at
load. The golden files in legacy_golden.py (formats 1.0, 1.1 and 1.2, one per metadata key
that changed predictions) must load and predict exactly as they did when they were written.
"""

import base64
import io
import json
import zlib

import numpy as np
import pytest

import mle_runtime as mle
from mle_runtime.format import layout as L
from mle_runtime.format import writer
from mle_testing import rules
from legacy_golden import GOLDEN
from legacy_inputs import INPUTS


def _bytes(name):
    return zlib.decompress(base64.b64decode("".join(GOLDEN[name]["file"])))


def _array(e):
    if isinstance(e, list):
        return [_array(x) for x in e]
    dtype = object if e["dtype"] == "object" else np.dtype(e["dtype"])
    return np.array(e["values"], dtype=dtype).reshape(e["shape"])


def _model(name):
    m = mle.load(io.BytesIO(_bytes(name)))
    return m["model"] if isinstance(m, dict) else m


def test_every_version_and_old_key_is_covered():
    assert {v["version"] for v in GOLDEN.values()} == {"1.0", "1.1", "1.2"}
    keys = set()
    for name in GOLDEN:
        if GOLDEN[name]["version"] == "1.0":
            data = _bytes(name)
            keys |= set(json.loads(_sections(data)[0][1]))
    assert {"classes", "output_dtypes", "keyword_outputs", "column_outputs", "output_splits",
            "integer_input", "pandas_categories", "pandas_unseen", "feature_names_in",
            "estimator_type"} <= keys


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_file_predicts_as_when_written(name):
    model = _model(name)
    X = INPUTS[name]()
    for method, kwargs, expected in json.loads(GOLDEN[name]["calls"]):
        got = getattr(model, method)(X, **kwargs)
        want = _array(expected)
        if isinstance(want, list):
            assert isinstance(got, list) and len(got) == len(want)
            pairs = list(zip(got, want))
        else:
            pairs = [(got, want)]
        for g, w in pairs:
            assert g.dtype == w.dtype and g.shape == w.shape, (method, kwargs)
            np.testing.assert_array_equal(g, w)


def test_old_keys_become_the_same_records():
    r = rules(_model("xgb_cat"))
    assert r["estimator_type"] == "classifier"
    assert r["labels"] == [["<i8", [0, 1, 2]]]
    assert r["outputs"]["predict"] == {"labels": 0}
    assert r["outputs"]["margin"] == {"dtype": "float32"}
    assert r["keywords"] == [["predict", "output_margin", True, "margin"]]
    assert r["inputs"]["categories"] == {"c": ["a", "b", "c"]}
    assert r["inputs"]["unseen"] == "error"
    assert rules(_model("cat_multi"))["outputs"]["predict"] == {"labels": 0, "column": True}
    assert rules(_model("tree_multi"))["outputs"]["predict_proba"] == {"splits": [2, 3]}
    assert rules(_model("imputer_int"))["inputs"]["integer"] == {"keep": True,
                                                                "fill_dtypes": ["int64"]}
    model = _model("logreg_str")
    np.testing.assert_array_equal(model.classes_, ["setosa", "versicolor", "virginica"])
    assert list(model.feature_names_in_) == ["sl", "sw", "pl", "pw"]
    assert model.get_model_info()["estimator_type"] == "classifier"


# ------------------------------------------------------------------ hostile old metadata

def _sections(data):
    from mle_runtime.format import container

    c = container.parse(data)
    return [[s.kind, bytes(c.payload(s)), L.DATA_ALIGN if s.kind == L.SECTION_DATA else 8]
            for s in c.sections]


def _with_old_meta(name, edit):
    """A 1.0 golden file whose metadata was changed by ``edit(meta)`` (checksums valid)."""
    parts = _sections(_bytes(name))
    meta = json.loads(parts[0][1])
    edit(meta)
    parts[0][1] = writer.encode_json(meta)
    return writer.pack_sections([tuple(p) for p in parts], minor=L.MINOR)


OLD_HOSTILE = {
    "classes shorter than the class indices": (
        "logreg_str", lambda m: m["classes"].update(values=["setosa", "versicolor"])),
    "classes removed from a classifier": ("logreg_str", lambda m: m.pop("classes")),
    "classes dtype unknown": ("logreg_str", lambda m: m["classes"].update(dtype="nonsense")),
    "classes huge string width": (
        "logreg_str", lambda m: m["classes"].update(dtype="<U500000000")),
    "feature names of the wrong length": (
        "logreg_str", lambda m: m.update(feature_names_in=["a"])),
    "output dtype unknown": ("xgb_cat", lambda m: m["output_dtypes"].update(margin="float16")),
    "keyword alias to a missing output": (
        "lgbm_cat", lambda m: m["keyword_outputs"].append(["predict", "x", True, "nope"])),
    "splits summing wrong": (
        "tree_multi", lambda m: m["output_splits"].update(predict_proba=[2, 2])),
    "column output of several columns": (
        "tree_multi", lambda m: m.update(column_outputs=["predict_proba"])),
    "integer rule malformed": ("imputer_int", lambda m: m.update(integer_input={"keep": 1})),
    "unseen policy unknown": ("xgb_cat", lambda m: m.update(pandas_unseen="ignore")),
    "categories of an unknown column": (
        "lgbm_cat", lambda m: m.update(pandas_categories={"zz": ["a"]})),
    "estimator type not an identifier": ("logreg_str", lambda m: m.update(estimator_type=7)),
}


@pytest.mark.parametrize("case", sorted(OLD_HOSTILE))
def test_hostile_old_metadata_is_refused_at_load(case):
    name, edit = OLD_HOSTILE[case]
    data = _with_old_meta(name, edit)
    with pytest.raises(mle.FormatError):
        mle.load(io.BytesIO(data))


def test_old_files_may_not_carry_new_records():
    """A record in the graph of a file that says it predates 1.3 is refused (old readers
    would ignore it and predict differently)."""
    parts = _sections(_bytes("logreg_str"))
    graph = json.loads(parts[1][1])
    graph["estimator_type"] = "regressor"
    parts[1][1] = writer.encode_json(graph)
    data = writer.pack_sections([tuple(p) for p in parts], minor=L.MINOR)
    with pytest.raises(mle.FormatError, match="needs format 1.3"):
        mle.load(io.BytesIO(data))
    # the same graph in a 1.3 file: the record is the rule, the old metadata keys are not
    r = rules(mle.load(io.BytesIO(writer.pack_sections([tuple(p) for p in parts]))))
    assert r == {"estimator_type": "regressor"}
