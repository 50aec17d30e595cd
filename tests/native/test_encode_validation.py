"""Hostile graphs for the categorical encoder ops (OneHot, CategoryMap): every attribute the
kernels follow is validated at load (FormatError), never trusted. A valid graph is built
through ir.Graph, then its tensors are replaced."""

import json
import math

import numpy as np
import pytest

from mle_runtime import FormatError, _native
from mle_runtime.format import writer
from mle_runtime.ir import Graph

NAN = math.nan


def onehot(offsets=(0, 3, 5), categories=(0.0, 1.0, 2.0, -1.0, NAN), columns=(0, 1, 2, 3, 4),
           unknown=(-1, 4), width=(5,)):
    g = Graph("OneHotEncoder", 2)
    g.allow_nan = True
    v = g.add("OneHot", ["X"], offsets=g.tensor(np.array(offsets, np.int64), "int64"),
              categories=g.tensor(np.array(categories, np.float64), "float64"),
              columns=g.tensor(np.array(columns, np.int64), "int64"),
              unknown=g.tensor(np.array(unknown, np.int64), "int64"),
              width=g.tensor(np.array(width, np.int64), "int64"))
    g.output("transform", v)
    return g


def category_map(offsets=(0, 2, 3), categories=(1.0, 5.0, NAN), codes=(0.0, 1.0, -2.0),
                 unknown=(NAN, -1.0)):
    g = Graph("OrdinalEncoder", 2)
    g.allow_nan = True
    v = g.add("CategoryMap", ["X"], offsets=g.tensor(np.array(offsets, np.int64), "int64"),
              categories=g.tensor(np.array(categories, np.float64), "float64"),
              codes=g.tensor(np.array(codes, np.float64), "float64"),
              unknown=g.tensor(np.array(unknown, np.float64), "float64"))
    g.output("transform", v)
    return g


def load(g):
    return _native.load_buffer(writer.encode({}, g, hash_key="content_hash"))


def test_valid_graphs_compute():
    m = load(onehot())
    X = np.array([[0.0, -1.0], [2.0, NAN], [7.0, 3.0]])
    out = m.run(X, 0, 1)
    np.testing.assert_array_equal(out, [[1, 0, 0, 1, 0], [0, 0, 1, 0, 1], [0, 0, 0, 0, 1]])
    m = load(category_map())
    out = m.run(np.array([[5.0, NAN], [3.0, 4.0], [NAN, 1.0]]), 0, 1)
    np.testing.assert_array_equal(out, [[1.0, -2.0], [NAN, -1.0], [NAN, -1.0]])
    out32 = m.run(np.array([[5.0, NAN]], dtype=np.float32), 0, 1)
    np.testing.assert_array_equal(out32, [[1.0, -2.0]])


@pytest.mark.parametrize("kw, message", [
    (dict(offsets=(1, 3, 5)), "offsets must start at 0"),
    (dict(offsets=(0, 3, 4)), "end at the number of categories"),
    (dict(offsets=(0, 6, 5)), "must not decrease"),
    (dict(offsets=(0, 3)), "offsets"),
    (dict(categories=(0.0, 2.0, 1.0, -1.0, NAN)), "strictly increasing"),
    (dict(categories=(0.0, 0.0, 2.0, -1.0, NAN)), "strictly increasing"),
    (dict(categories=(0.0, NAN, 2.0, -1.0, 3.0)), "NaN category must be"),
    (dict(categories=(0.0, 1.0, math.inf, -1.0, NAN)), "finite"),
    (dict(columns=(0, 1, 2, 3)), "columns"),
    (dict(columns=(0, 1, 2, 3, 5)), "outside the width"),
    (dict(columns=(0, 1, -2, 3, 4)), "outside the width"),
    (dict(unknown=(-1, 5)), "outside the width"),
    (dict(unknown=(-1,)), "unknown"),
    (dict(width=(0,)), "width must be"),
    (dict(width=(1 << 40,)), "width must be"),
    (dict(width=(5, 5)), "width"),
])
def test_hostile_onehot(kw, message):
    with pytest.raises(FormatError, match=message):
        load(onehot(**kw))


@pytest.mark.parametrize("kw, message", [
    (dict(offsets=(0, 2, 4)), "end at the number of categories"),
    (dict(categories=(5.0, 1.0, NAN)), "strictly increasing"),
    (dict(categories=(NAN, 1.0, 2.0)), "NaN category must be"),
    (dict(codes=(0.0, 1.0)), "codes"),
    (dict(unknown=(NAN,)), "unknown"),
])
def test_hostile_category_map(kw, message):
    with pytest.raises(FormatError, match=message):
        load(category_map(**kw))


def _single(op, **attrs):
    g = Graph(op, 3)
    g.allow_nan = True
    v = g.add(op, ["X"], **{k: (g.tensor(np.asarray(a, np.int64), "int64")
                                if isinstance(a, (list, tuple)) else a)
                            for k, a in attrs.items()})
    g.output("transform", v)
    return g


def test_missing_mask_and_binarize():
    m = load(_single("MissingMask", columns=[2, 0], missing_is_nan=True))
    np.testing.assert_array_equal(m.run(np.array([[NAN, 1.0, NAN], [0.0, NAN, 5.0]]), 0, 1),
                                  [[1, 1], [0, 0]])
    m = load(_single("MissingMask", columns=[1], missing_is_nan=False, missing_value=-1.0))
    np.testing.assert_array_equal(m.run(np.array([[0.0, -1.0, 1.0]]), 0, 1), [[1]])
    m = load(_single("Binarize", threshold=0.5))
    np.testing.assert_array_equal(m.run(np.array([[0.5, 0.6, -1.0]]), 0, 1), [[0, 1, 0]])


@pytest.mark.parametrize("attrs, message", [
    (dict(columns=[3], missing_is_nan=True), "outside"),
    (dict(columns=[-1], missing_is_nan=True), "outside"),
    (dict(columns=[], missing_is_nan=True), "no output columns"),
    (dict(columns=[0], missing_is_nan=False), "missing_value"),
])
def test_hostile_missing_mask(attrs, message):
    g = _single("MissingMask", **{k: v for k, v in attrs.items() if k != "columns"},
                columns=[0])
    g.tensors[0] = np.asarray(attrs["columns"], dtype=np.int64)
    with pytest.raises(FormatError, match=message):
        load(g)


def _with_unread(unread):
    g = Graph("Dropped", 3)
    v = g.add("Columns", ["X"], columns=g.tensor(np.array([0, 2], np.int64), "int64"))
    g.output("transform", v)
    g.inputs["unread"] = unread
    return g


def test_unread_columns_rule():
    m = load(_with_unread([1]))
    assert json.loads(m.rules_json())["inputs"]["unread"] == [1]


@pytest.mark.parametrize("unread", [[], [3], [-1], [1, 1], [2, 1], [0.5], "1", {"1": 1}])
def test_hostile_unread_columns_rule(unread):
    with pytest.raises(FormatError, match="unread"):
        load(_with_unread(unread))
