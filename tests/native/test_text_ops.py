"""The text ops (docs/FORMAT.md 11.8) and the input rule "text" (9.9): TextCounts and
TextLinear compute scikit-learn's sparse rows from token ids of any width, refuse ids that
name no column at run time, and plan building refuses every malformed node, rule and graph
shape with a FormatError (a hostile file never crashes)."""

import json

import numpy as np
import pytest

from mle_runtime import _native
from mle_runtime.errors import InputError
from mle_runtime.ir import Graph

from native.test_plan_validation import encode, refuse  # noqa: F401  (refuse: a fixture)
from native.test_plan_validation import graph_json as _json

N = 6
IDF = np.array([1.0, 1.5, 2.0, 1.25, 3.0, 1.1])
W = np.arange(2 * N, dtype=float).reshape(2, N) / 7.0 - 0.5
B = np.array([0.25, -1.0])
RULE = {"analyzer": "word", "lowercase": True, "strip_accents": None, "ngram_range": [1, 1],
        "token_pattern": r"(?u)\b\w\w+\b", "stop_words": None, "encoding": "utf-8",
        "decode_error": "strict", "vocabulary": [["a", "b", "c", "d", "e", "f"],
                                                 [3, 0, 1, 2, 5, 4]]}


def text_graph(signed=False, idf=None, **attrs):
    g = Graph("CountVectorizer", 1)
    g.inputs["text"] = dict(RULE)
    common = dict(n_features=N, signed=True if signed else None, **attrs)
    if idf is not None:
        common["idf"] = g.tensor(idf, "float64")
    g.output("transform", g.add("TextCounts", ["X"], **common))
    g.output("decision_function", g.add("TextLinear", ["X"], weight=g.tensor(W, "float64"),
                                        bias=g.tensor(B, "float64"), **common))
    g.estimator_type = "transformer"
    return g


def _model(g):
    graph, arrays = _json(g)
    return _native.load_buffer(encode(graph, arrays, {}))


def _reference(ids, signed, binary=False, sublinear=False, idf=None, norm=None):
    """numpy's reading of FORMAT.md 11.8 (a dense row with explicit-zero columns marked)."""
    out = np.zeros((ids.shape[0], N))
    for r, row in enumerate(ids):
        cols = {}
        for v in row:
            if v == -1:
                continue
            col, sign = (int(v), 1) if v >= 0 else (int(-v - 2), -1)
            cols[col] = cols.get(col, 0) + sign
        for c in sorted(cols):
            x = 1.0 if binary else float(cols[c])
            if sublinear:
                x = np.log(x) + 1.0
            if idf is not None:
                x *= idf[c]
            out[r, c] = x
        present = sorted(cols)  # only the sparse row's entries are divided
        if norm == "l1":
            s = np.abs(out[r, present]).sum()
            if s:
                out[r, present] /= s
        elif norm == "l2":
            s = np.sqrt((out[r, present] ** 2).sum())
            if s:
                out[r, present] /= s
    return out


def _ids(rng, n, width, signed):
    ids = rng.integers(-N - 1 if signed else 0, N, size=(n, width)).astype(float)
    ids[ids == -1] = 0
    ids[rng.random(ids.shape) < 0.3] = -1.0  # padding anywhere
    return ids


@pytest.mark.parametrize("attrs", [
    {}, {"binary": True}, {"norm": "l1"}, {"norm": "l2"}, {"sublinear_tf": True},
    {"idf": True, "norm": "l2", "sublinear_tf": True}, {"idf": True, "norm": "none"},
], ids=str)
@pytest.mark.parametrize("signed", [False, True])
def test_text_ops_compute_the_sparse_rows(attrs, signed):
    attrs = dict(attrs)
    use_idf = attrs.pop("idf", False)
    g = text_graph(signed=signed, idf=IDF if use_idf else None, **attrs)
    model = _model(g)
    rng = np.random.default_rng(0)
    for n, width in ((1, 1), (3, 7), (300, 5), (257, 40)):
        ids = _ids(rng, n, width, signed)
        norm = attrs.get("norm")
        bad = any(sum(1 if v >= 0 else -1 for v in row if v != -1 and
                      (v if v >= 0 else -v - 2) == c) <= 0
                  for row in ids for c in {int(v if v >= 0 else -v - 2) for v in row if v != -1})
        if bad and attrs.get("sublinear_tf") and norm not in (None, "none"):
            # log of a negative or zero sum before a norm: refused, as scikit-learn refuses it
            for out in ("transform", "decision_function"):
                with pytest.raises(InputError, match="Input contains"):
                    model.run(ids, model.outputs[out], 1)
            continue
        want = _reference(ids, signed, attrs.get("binary", False),
                          attrs.get("sublinear_tf", False), IDF if use_idf else None,
                          None if norm == "none" else norm)
        got = model.run(ids, model.outputs["transform"], 1)
        np.testing.assert_allclose(got, want, rtol=1e-15, atol=0, equal_nan=True)
        lin = model.run(ids, model.outputs["decision_function"], 2)
        with np.errstate(invalid="ignore"):
            np.testing.assert_allclose(lin, want @ W.T + B, rtol=1e-12, atol=1e-15,
                                       equal_nan=True)


def test_integer_counts_and_any_width():
    model = _model(text_graph(integer=None))
    ids = np.array([[0, 0, 5, -1, -1, -1, -1, -1]], dtype=float)
    np.testing.assert_array_equal(model.run(ids, model.outputs["transform"], 1),
                                  [[2, 0, 0, 0, 0, 1]])
    g = Graph("CountVectorizer", 1)
    g.inputs["text"] = dict(RULE)
    g.output("transform", g.add("TextCounts", ["X"], n_features=N, integer=True))
    model = _model(g)
    got = model.run(ids[:, :3].copy(), model.outputs["transform"], 1)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, [[2, 0, 0, 0, 0, 1]])


@pytest.mark.parametrize("bad, signed", [
    (N, False), (-2, False), (0.5, False), (np.nan, True), (np.inf, True), (-N - 2, True),
    (-3.5, True), (1e300, False), (-1e300, True),
])
def test_ids_naming_no_column_are_input_errors(bad, signed):
    g = text_graph(signed=signed)
    g.allow_nan = g.allow_inf = True  # the kernel's own check, not the plan's
    model = _model(g)
    ids = np.zeros((130, 3))
    ids[129, 1] = bad
    for out in ("transform", "decision_function"):
        with pytest.raises(InputError, match="names no column"):
            model.run(ids, model.outputs[out], 1)


def test_canonical_rules_repeat_the_text_rule():
    rules = json.loads(_model(text_graph()).rules_json())
    assert rules["inputs"]["text"] == RULE
    hashed = dict(RULE, analyzer="char", token_pattern=None, ngram_range=[2, 3])
    del hashed["vocabulary"]
    hashed["hashing"] = [1024, True]
    g = text_graph()
    g.inputs["text"] = hashed
    assert json.loads(_model(g).rules_json())["inputs"]["text"] == hashed


def _node(graph, op):
    return next(n for n in graph["nodes"] if n[0] == op)


@pytest.mark.parametrize("op", ["TextCounts", "TextLinear"])
@pytest.mark.parametrize("edit, fragment", [
    (lambda n: n[3].update(n_features=0), "n_features"),
    (lambda n: n[3].update(n_features=2.5), "n_features"),
    (lambda n: n[3].update(n_features=2.0 ** 40), "n_features"),
    (lambda n: n[3].update(n_features="6"), "n_features"),
    (lambda n: n[3].pop("n_features"), "n_features"),
    (lambda n: n[3].update(norm="max"), "norm"),
    (lambda n: n[3].update(binary=1), "binary"),
    (lambda n: n[3].update(idf=99), "idf"),
    (lambda n: n[3].update(idf=0), "idf"),  # tensor 0 is W: wrong shape
    (lambda n: n[3].update(unknown=1), "unknown"),
    (lambda n: n[3].update(float32=True, sublinear_tf=True), "float32"),
    (lambda n: n.__setitem__(1, ["X", "X"]), "input"),
])
def test_text_ops_refuse_malformed_nodes(refuse, op, edit, fragment):
    graph, arrays = _json(text_graph())
    edit(_node(graph, op))
    refuse(graph, arrays, f"({op})", fragment)


@pytest.mark.parametrize("edit, fragment", [
    (lambda gr, a: a.__setitem__(0, np.zeros((2, N + 1))), "weight"),
    (lambda gr, a: a.__setitem__(0, np.zeros((0, N))), "weight"),
    (lambda gr, a: a.__setitem__(0, np.zeros((2, N), np.int64)), "weight"),
    (lambda gr, a: a.__setitem__(1, np.zeros(3)), "bias"),
    (lambda gr, a: _node(gr, "TextLinear")[3].pop("weight"), "weight"),
    (lambda gr, a: _node(gr, "TextCounts")[3].update(weight=0), "weight"),
    (lambda gr, a: _node(gr, "TextLinear")[3].update(integer=True), "integer"),
    (lambda gr, a: _node(gr, "TextCounts")[3].update(integer=True, norm="l2"), "integer"),
])
def test_text_ops_refuse_malformed_tensors(refuse, edit, fragment):
    graph, arrays = _json(text_graph())
    edit(graph, arrays)
    refuse(graph, arrays, fragment)


def test_idf_must_be_finite(refuse):
    g = text_graph()
    g.nodes[0].attrs["idf"] = g.tensor(np.array([1.0, np.nan, 1, 1, 1, 1]), "float64")
    graph, arrays = _json(g)
    refuse(graph, arrays, "(TextCounts)", "idf must be finite")


def test_float32_idf_must_be_float32_values(refuse):
    g = text_graph(idf=np.array([1.0, 0.1, 1, 1, 1, 1]), float32=True)
    graph, arrays = _json(g)
    refuse(graph, arrays, "(TextCounts)", "float32 values")


def test_float32_rounds_each_step():
    idf = np.array([1.0, 1.5, 2.0, 1.25, 3.0, 1.1], dtype=np.float32).astype(float)
    model = _model(text_graph(idf=idf, float32=True, norm="l2"))
    ids = np.array([[0, 1, 1, 4, 5, 5, 5, -1], [2, 3, -1, -1, -1, -1, -1, -1]], dtype=float)
    got = model.run(ids, model.outputs["transform"], 1)
    want = np.zeros((2, N), dtype=np.float32)
    for r, row in enumerate(ids):
        cols, counts = np.unique(row[row >= 0].astype(int), return_counts=True)
        v = counts.astype(np.float32) * idf.astype(np.float32)[cols]
        s = np.sqrt(np.sum((v * v).astype(np.float64)))
        want[r, cols] = (v.astype(np.float64) / s).astype(np.float32)
    np.testing.assert_array_equal(got, want.astype(np.float64))


def _graph_edit(fn):
    graph, arrays = _json(text_graph())
    fn(graph)
    return graph, arrays


@pytest.mark.parametrize("edit, fragment", [
    (lambda gr: gr["inputs"].pop("text"), "the text ops read X"),  # text ops without the rule
    (lambda gr: gr["nodes"].append(["Sigmoid", ["X"], "v9"]), "only they read"),
    (lambda gr: gr["nodes"].append(["TextCounts", ["v1"], "v9", {"n_features": 2}]),
     "the text ops read X"),
    (lambda gr: gr.update(n_features=2), "n_features 1"),
    (lambda gr: gr["outputs"].append(["ids", "X"]), "cannot be an output"),
])
def test_text_graphs_refuse_other_shapes(refuse, edit, fragment):
    graph, arrays = _graph_edit(edit)
    refuse(graph, arrays, fragment)


def _rule_edit(**changes):
    def edit(gr):
        rule = gr["inputs"]["text"]
        for k, v in changes.items():
            if v is KeyError:
                rule.pop(k)
            else:
                rule[k] = v
    return edit


@pytest.mark.parametrize("edit, fragment", [
    (_rule_edit(analyzer="sentence"), "'analyzer'"),
    (_rule_edit(analyzer=KeyError), "'analyzer'"),
    (_rule_edit(lowercase="yes"), "'lowercase'"),
    (_rule_edit(strip_accents="latin"), "'strip_accents'"),
    (_rule_edit(ngram_range=[2, 1]), "'ngram_range'"),
    (_rule_edit(ngram_range=[0, 1]), "'ngram_range'"),
    (_rule_edit(ngram_range=[1, 5000]), "'ngram_range'"),
    (_rule_edit(ngram_range=[1]), "'ngram_range'"),
    (_rule_edit(token_pattern=None), "'token_pattern'"),
    (_rule_edit(token_pattern=""), "'token_pattern'"),
    (_rule_edit(token_pattern="x" * 5000), "'token_pattern'"),
    (_rule_edit(analyzer="char"), "'token_pattern'"),  # char with a pattern
    (_rule_edit(stop_words=["b", "a"]), "'stop_words'"),
    (_rule_edit(stop_words=["a", 1]), "'stop_words'"),
    (_rule_edit(stop_words="english"), "'stop_words'"),
    (_rule_edit(encoding="utf 8; rm"), "'encoding'"),
    (_rule_edit(encoding=""), "'encoding'"),
    (_rule_edit(decode_error="panic"), "'decode_error'"),
    (_rule_edit(vocabulary=KeyError), "one of 'vocabulary' and 'hashing'"),
    (_rule_edit(hashing=[8, True]), "one of 'vocabulary' and 'hashing'"),
    (_rule_edit(vocabulary=[["b", "a"], [0, 1]]), "sorted"),
    (_rule_edit(vocabulary=[["a", "a"], [0, 1]]), "sorted"),
    (_rule_edit(vocabulary=[["a", "b"], [0, 0]]), "permutation"),
    (_rule_edit(vocabulary=[["a", "b"], [0, 2]]), "permutation"),
    (_rule_edit(vocabulary=[["a", "b"], [0, -1]]), "permutation"),
    (_rule_edit(vocabulary=[["a", "b"], [0]]), "one column per term"),
    (_rule_edit(vocabulary=[[], []]), "one column per term"),
    (_rule_edit(vocabulary=[["a", 2], [0, 1]]), "sorted"),
    (_rule_edit(extra=1), "unknown key 'extra'"),
])
def test_text_rule_refuses_malformed_settings(refuse, edit, fragment):
    graph, arrays = _graph_edit(edit)
    refuse(graph, arrays, "inputs 'text'", fragment)


@pytest.mark.parametrize("hashing", [[0, True], [2 ** 31, False], [8, 1], [8], "8"])
def test_text_rule_refuses_malformed_hashing(refuse, hashing):
    graph, arrays = _graph_edit(_rule_edit(vocabulary=KeyError, hashing=hashing))
    refuse(graph, arrays, "inputs 'text'", "'hashing'")


def test_text_rule_must_be_an_object(refuse):
    graph, arrays = _graph_edit(lambda gr: gr["inputs"].update(text=[1]))
    refuse(graph, arrays, "inputs 'text'", "object")


def test_vocabulary():
    ops = dict(_native.ops())
    assert ops["TextCounts"]["inputs"] == 1 and ops["TextLinear"]["inputs"] == 1


@pytest.mark.parametrize("pattern, fragment", [("(a)(b)", "capturing group"),
                                               ("(", "unterminated subpattern")])
def test_a_pattern_python_refuses_is_a_format_error(tmp_path, pattern, fragment):
    import mle_runtime as mle
    from mle_runtime.errors import FormatError

    graph, arrays = _graph_edit(_rule_edit(token_pattern=pattern))
    path = tmp_path / "m.mle"
    path.write_bytes(encode(graph, arrays, {}))
    model = mle.load(path)  # the native loader cannot compile Python's patterns
    with pytest.raises(FormatError, match=fragment):
        model.transform(["a b"])


def tfidf_rows_graph(cols=4, **attrs):
    g = Graph("TfidfTransformer", cols)
    g.output("transform", g.add("TfidfRows", ["X"], **attrs))
    g.estimator_type = "transformer"
    return g


def test_tfidf_rows_weigh_the_non_zero_entries():
    idf = np.array([1.0, 2.0, 0.5, 3.0])
    model = _model(tfidf_rows_graph(idf=0 if False else None, norm="l2"))
    X = np.array([[0.0, 3.0, 0.0, 4.0], [0.0, 0.0, 0.0, 0.0]])
    np.testing.assert_array_equal(model.run(X, model.outputs["transform"], 1),
                                  [[0.0, 0.6, 0.0, 0.8], [0.0, 0.0, 0.0, 0.0]])
    g = tfidf_rows_graph()
    g.nodes[0].attrs["idf"] = g.tensor(idf, "float64")
    model = _model(g)
    np.testing.assert_array_equal(model.run(X, model.outputs["transform"], 1), X * idf)
    got = model.run(X.astype(np.float32), model.outputs["transform"], 1)
    assert got.dtype == np.float32


@pytest.mark.parametrize("edit, fragment", [
    (lambda gr, a: a.__setitem__(0, np.zeros(5)), "idf"),
    (lambda gr, a: a.__setitem__(0, np.array([1.0, np.inf, 1.0, 1.0])), "idf must be finite"),
    (lambda gr, a: _node(gr, "TfidfRows")[3].update(norm="max"), "norm"),
    (lambda gr, a: _node(gr, "TfidfRows")[3].update(sublinear_tf="yes"), "sublinear_tf"),
    (lambda gr, a: _node(gr, "TfidfRows")[3].update(n_features=4), "n_features"),
])
def test_tfidf_rows_refuse_malformed_nodes(refuse, edit, fragment):
    g = tfidf_rows_graph(norm="l1")
    g.nodes[0].attrs["idf"] = g.tensor(np.ones(4), "float64")
    graph, arrays = _json(g)
    edit(graph, arrays)
    refuse(graph, arrays, "(TfidfRows)", fragment)
