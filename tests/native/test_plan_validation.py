"""Plan building refuses every graph the kernels could not run safely (docs/FORMAT.md, "Graph
section" and "Ops"). Graphs are built with ``ir.Graph`` and then edited as JSON, bypassing the
Python-side checks of ``Graph.add``, so that the native validation is what is tested.
"""

import copy
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import mle_runtime as mle
from mle_runtime import FormatError, UnsupportedModelError, _native
from mle_runtime.format import layout as L
from mle_runtime.format import writer
from mle_runtime.ir import Graph

CODES = {v: k for k, v in L.TENSOR_DTYPES.items()}

COLS = np.array([2, 0, 1], dtype=np.int64)
FILL = np.array([0.5, -1.0, 2.0])
SUB = np.array([1.0, 2.0, 3.0])
DIV = np.array([2.0, 4.0, 0.5])
W = np.array([[1.0, -2.0, 0.5], [0.0, 1.0, 1.0], [-1.0, 0.25, 2.0], [3.0, 0.0, -1.0]])
B = np.array([0.1, -0.2, 0.3, 0.0])


def base():
    """(graph JSON dict, tensor arrays) of a valid model:

    node 0 Impute(X) -> v1, node 1 SubDiv(v1) -> v2, node 2 Linear(v2) -> v3,
    node 3 Softmax(v3) -> v4, node 4 ArgMax(v3) -> v5.
    Tensors: 0 columns (i8), 1 fill, 2 sub, 3 div, 4 weight (4x3), 5 bias (f8).
    """
    g = Graph("SimpleImputer", 3)
    g.allow_nan = True
    t = [g.tensor(COLS, "int64"), g.tensor(FILL, "float64"), g.tensor(SUB, "float64"),
         g.tensor(DIV, "float64"), g.tensor(W, "float64"), g.tensor(B, "float64")]
    v1 = g.add("Impute", ["X"], columns=t[0], fill=t[1], missing_is_nan=True)
    v2 = g.add("SubDiv", [v1], sub=t[2], div=t[3])
    v3 = g.add("Linear", [v2], weight=t[4], bias=t[5])
    v4 = g.add("Softmax", [v3])
    v5 = g.add("ArgMax", [v3])
    g.output("predict", v5, ravel=True)
    g.output("predict_proba", v4)
    g.output("decision_function", v3)
    _, offsets, _ = writer.pack_tensors(g.tensors)
    return g.to_json(offsets), list(g.tensors)


def pack_tensors(arrays):
    """writer.pack_tensors' layout (element-size alignment, 64 for big tensors), also for
    empty arrays."""
    blob = bytearray()
    offsets = []
    for a in arrays:
        align = L.DATA_ALIGN if a.nbytes >= L.BIG_TENSOR else a.dtype.itemsize
        blob += bytes(L.align_up(len(blob), align) - len(blob))
        offsets.append(len(blob))
        blob += a.astype(a.dtype.newbyteorder("<")).tobytes()
    big = any(a.nbytes >= L.BIG_TENSOR for a in arrays)
    return bytes(blob), offsets, L.DATA_ALIGN if big else L.SECTION_ALIGN


def encode(graph, arrays, meta=None):
    """File bytes; the graph's tensor table is rewritten from ``arrays`` unless the graph's
    table has a different length (a test that crafts the table itself)."""
    graph = copy.deepcopy(graph)
    arrays = [np.ascontiguousarray(a) for a in arrays]
    blob, offsets, align = pack_tensors(arrays)
    if len(graph["tensors"]) == len(arrays):
        graph["tensors"] = [[off, CODES[a.dtype], list(a.shape)] for off, a in zip(offsets, arrays)]
    payloads = [(L.SECTION_META, writer.encode_json(meta or {"estimator_type": "classifier",
                                                             "classes": {"dtype": "<i8",
                                                                         "values": [0, 1, 2, 3]}})),
                (L.SECTION_GRAPH, writer.encode_json(graph))]
    if arrays:
        payloads.append((L.SECTION_DATA, blob, align))
    return writer.pack_sections(payloads)


def graph_json(g):
    """A Graph's JSON object and its tensors, placed as the writer places them."""
    from mle_runtime.format import writer

    _, offsets, _ = writer.pack_tensors(g.tensors)
    return g.to_json(offsets), list(g.tensors)


def load_graph(tmp_path, g):
    """A Graph written as a model file (bytes of encode) and loaded."""
    import mle_runtime as mle

    graph, arrays = graph_json(g)
    path = tmp_path / "m.mle"
    path.write_bytes(encode(graph, arrays, {}))
    return mle.load(path)


def reference(X):
    kept = X[:, COLS]
    kept = np.where(np.isnan(kept), FILL, kept)
    z = (kept - SUB) / DIV
    d = z @ W.T + B
    e = np.exp(d - d.max(axis=1, keepdims=True))
    return d, e / e.sum(axis=1, keepdims=True), d.argmax(axis=1)


@pytest.fixture
def refuse(tmp_path):
    """``refuse(graph, arrays, *fragments, error=FormatError)``: loading through the path and
    the buffer entry points raises ``error`` whose message holds every fragment."""

    def check(graph, arrays, *fragments, error=FormatError):
        data = encode(graph, arrays)
        path = tmp_path / "bad.mle"
        path.write_bytes(data)
        for load in (lambda: _native.load_buffer(data), lambda: mle.load(path)):
            with pytest.raises(error) as info:
                load()
            msg = str(info.value)
            for frag in fragments:
                assert frag in msg, f"{frag!r} not in {msg!r}"
        return msg

    return check


def test_base_graph_loads_and_computes(tmp_path):
    graph, arrays = base()
    path = tmp_path / "ok.mle"
    path.write_bytes(encode(graph, arrays))
    model = mle.load(path)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(257, 3))
    X[::5, 1] = np.nan
    d, p, y = reference(X)
    np.testing.assert_allclose(model.decision_function(X), d, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(model.predict_proba(X), p, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(model.predict(X), y)


def test_optional_attributes_may_be_left_out():
    graph, arrays = base()
    del graph["nodes"][1][3]["sub"]
    del graph["nodes"][2][3]["bias"]
    m = _native.load_buffer(encode(graph, arrays))
    assert m.outputs == {"predict": 0, "predict_proba": 1, "decision_function": 2}


# ------------------------------------------------------------------ value names

def test_input_not_defined(refuse):
    graph, arrays = base()
    graph["nodes"][1][1] = ["v9"]
    refuse(graph, arrays, "graph node 1 (SubDiv)", "'v9'", "not defined")


def test_input_self_reference(refuse):
    graph, arrays = base()
    graph["nodes"][1][1] = ["v2"]  # node 1 defines v2 and reads it
    refuse(graph, arrays, "graph node 1", "'v2'", "not defined")


def test_cycle_through_a_later_node(refuse):
    graph, arrays = base()
    graph["nodes"][0][1] = ["v3"]  # v1 <- v3 <- v2 <- v1
    refuse(graph, arrays, "graph node 0", "'v3'", "not defined")


def test_input_names_are_case_sensitive(refuse):
    graph, arrays = base()
    graph["nodes"][0][1] = ["x"]
    refuse(graph, arrays, "graph node 0", "not defined")


@pytest.mark.parametrize("inputs", [[], [1], [None], "X", None])
def test_inputs_malformed(refuse, inputs):
    graph, arrays = base()
    graph["nodes"][3][1] = inputs
    refuse(graph, arrays, "graph node 3")


def test_value_assigned_twice(refuse):
    graph, arrays = base()
    graph["nodes"][2][2] = "v1"
    refuse(graph, arrays, "graph node 2", "'v1'", "assigned twice")


def test_input_name_cannot_be_reassigned(refuse):
    graph, arrays = base()
    graph["nodes"][0][2] = "X"
    refuse(graph, arrays, "graph node 0", "'X'", "assigned twice")


@pytest.mark.parametrize("record", [{"op": "Softmax"}, ["Softmax"], ["Softmax", ["v3"]],
                                    ["Softmax", ["v3"], "v4", {}, "extra"], [7, ["v3"], "v4"],
                                    ["Softmax", ["v3"], 4], "Softmax"])
def test_node_record_malformed(refuse, record):
    graph, arrays = base()
    graph["nodes"][3] = record
    refuse(graph, arrays, "graph node 3")


def test_attrs_not_an_object(refuse):
    graph, arrays = base()
    graph["nodes"][1][3] = [2, 3]
    refuse(graph, arrays, "graph node 1", "attrs")


def test_wrong_number_of_inputs(refuse):
    graph, arrays = base()
    graph["nodes"][3][1] = ["v3", "v3"]
    refuse(graph, arrays, "graph node 3 (Softmax)", "input")


# ------------------------------------------------------------------ tensor references

@pytest.mark.parametrize("index", [6, 100, -1, 2 ** 40, 1.0, "2", True])
def test_tensor_index_out_of_range_or_not_an_index(refuse, index):
    graph, arrays = base()
    graph["nodes"][1][3]["sub"] = index
    refuse(graph, arrays, "graph node 1 (SubDiv)", "'sub'", "tensor index")


def test_tensor_with_wrong_dtype_for_the_op(refuse):
    graph, arrays = base()
    graph["nodes"][1][3]["div"] = 0  # the int64 columns tensor
    refuse(graph, arrays, "graph node 1 (SubDiv)", "'div'", "float64")


def test_impute_columns_with_wrong_dtype(refuse):
    graph, arrays = base()
    graph["nodes"][0][3]["columns"] = 1  # float64
    refuse(graph, arrays, "graph node 0 (Impute)", "'columns'", "int64")


@pytest.mark.parametrize("code", ["f4", "i4", "u4", "u1", "i8"])
def test_float64_attribute_stored_with_another_dtype(refuse, code):
    graph, arrays = base()
    arrays[2] = SUB.astype(L.TENSOR_DTYPES[code])
    refuse(graph, arrays, "graph node 1 (SubDiv)", "'sub'")


def test_tensor_with_wrong_rank_for_the_op(refuse):
    graph, arrays = base()
    graph["nodes"][1][3]["sub"] = 4  # the 4x3 weight
    refuse(graph, arrays, "graph node 1 (SubDiv)", "'sub'", "dimension")


@pytest.mark.parametrize("n", [1, 2, 4])
def test_tensor_with_wrong_length_for_the_op(refuse, n):
    graph, arrays = base()
    arrays[3] = np.ones(n)
    refuse(graph, arrays, "graph node 1 (SubDiv)", "'div'", "dimension 0 must be 3")


@pytest.mark.parametrize("columns, bad", [([2, 3, 0], 3), ([0, 1, 99], 99), ([-1, 0, 1], -1),
                                          ([2 ** 62, 0, 0], 2 ** 62)])
def test_impute_column_index_beyond_n_features(refuse, columns, bad):
    graph, arrays = base()
    arrays[0] = np.array(columns, dtype=np.int64)
    refuse(graph, arrays, "graph node 0 (Impute)", f"column index {bad} ")


def test_impute_fill_length_must_match_columns(refuse):
    graph, arrays = base()
    arrays[1] = np.array([1.0, 2.0])
    refuse(graph, arrays, "graph node 0 (Impute)", "'fill'")


@pytest.mark.parametrize("shape", [(4, 2), (4, 4), (12,), (1, 4, 3)])
def test_linear_weight_with_wrong_number_of_columns(refuse, shape):
    graph, arrays = base()
    arrays[4] = np.ones(shape)
    refuse(graph, arrays, "graph node 2 (Linear)", "'weight'")


def test_linear_weight_without_rows(refuse):
    graph, arrays = base()
    arrays[4] = np.ones((0, 3))
    refuse(graph, arrays, "graph node 2 (Linear)", "weight")


@pytest.mark.parametrize("n", [3, 5, 1])
def test_linear_bias_with_wrong_length(refuse, n):
    graph, arrays = base()
    arrays[5] = np.ones(n)
    refuse(graph, arrays, "graph node 2 (Linear)", "'bias'")


def test_linear_follow_input_dtype_needs_input_dtype_value(refuse):
    # v3 is float64 (a Linear output): following the caller's dtype is impossible
    graph, arrays = base()
    graph["nodes"].append(["Linear", ["v3"], "v6", {"weight": 6, "follow_input_dtype": True}])
    arrays.append(np.ones((2, 4)))
    graph["tensors"].append([0, "f8", [1]])  # placeholder, rewritten by encode()
    refuse(graph, arrays, "graph node 5 (Linear)", "follow_input_dtype")


# ------------------------------------------------------------------ value kinds and widths

def test_float_op_on_integer_value(refuse):
    graph, arrays = base()
    graph["nodes"].append(["Sigmoid", ["v5"], "v6"])  # v5 = ArgMax output, int64
    refuse(graph, arrays, "graph node 5 (Sigmoid)", "floating point")


@pytest.mark.parametrize("op", ["SignedSquare", "Log1pExp"])
def test_lightgbm_heads_refuse_integer_input(refuse, op):
    graph, arrays = base()
    graph["nodes"].append([op, ["v5"], "v6"])  # v5 = ArgMax output, int64
    refuse(graph, arrays, f"graph node 5 ({op})", "floating point")


def test_lightgbm_heads_values():
    """SignedSquare and Log1pExp as LightGBM writes them (Common::Sign(x) * x * x and
    std::log1p(std::exp(x)); Python's math calls the same C library functions)."""
    import math

    graph, arrays = base()
    graph["nodes"] += [["SignedSquare", ["v2"], "v6"], ["Log1pExp", ["v2"], "v7"]]
    graph["outputs"] += [["transform", "v6"], ["score_samples", "v7"]]
    m = _native.load_buffer(encode(graph, arrays))
    X = np.array([[2.0, 3.0, 1.0], [-1e200, 1e-170, -7.5], [800.0, -800.0, 37.25],
                  [3000.0, 2.0, 1.0 + 2**-40]])
    z = (X[:, COLS] - SUB) / DIV
    assert np.any(z == 0) and np.any(z < 0) and np.any(z > 0)
    sq = m.run(X, m.outputs["transform"])
    sp = m.run(X, m.outputs["score_samples"])
    for v, a, b in zip(z.ravel().tolist(), sq.ravel().tolist(), sp.ravel().tolist()):
        assert a == float((v > 0) - (v < 0)) * v * v
        try:
            want = math.log1p(math.exp(v))
        except OverflowError:
            want = math.inf
        assert b == want


@pytest.mark.parametrize("op", ["SubDiv", "Linear", "Impute", "Softmax", "Log", "Normalize"])
def test_ops_refuse_integer_input(refuse, op):
    graph, arrays = base()
    attrs = {"SubDiv": {}, "Linear": {"weight": 5}, "Impute": {"fill": 5, "missing_is_nan": True},
             "Softmax": {}, "Log": {}, "Normalize": {"norm": "l2"}}[op]
    arrays[5] = np.ones((1, 1)) if op == "Linear" else np.ones(1)
    graph["nodes"][2][3].pop("bias")
    graph["nodes"].append([op, ["v5"], "v6", attrs])
    refuse(graph, arrays, f"graph node 5 ({op})")


def test_binary_proba_needs_one_column(refuse):
    graph, arrays = base()
    graph["nodes"].append(["BinaryProba", ["v3"], "v6"])
    refuse(graph, arrays, "graph node 5 (BinaryProba)", "one column")


# ------------------------------------------------------------------ required attributes

@pytest.mark.parametrize("node, attr, fragment", [
    (2, "weight", "weight"),
    (0, "fill", "fill"),
    (0, "missing_is_nan", "missing_is_nan"),
])
def test_missing_required_attribute(refuse, node, attr, fragment):
    graph, arrays = base()
    del graph["nodes"][node][3][attr]
    refuse(graph, arrays, f"graph node {node}", fragment)


def test_missing_attrs_object_entirely(refuse):
    graph, arrays = base()
    graph["nodes"][2] = graph["nodes"][2][:3]
    refuse(graph, arrays, "graph node 2 (Linear)", "weight")


def test_impute_missing_value_needed_without_nan(refuse):
    graph, arrays = base()
    graph["nodes"][0][3]["missing_is_nan"] = False
    refuse(graph, arrays, "graph node 0 (Impute)", "missing_value")
    graph["nodes"][0][3]["missing_value"] = "-1"
    refuse(graph, arrays, "graph node 0 (Impute)", "missing_value")


@pytest.mark.parametrize("value", [1, "true", None, [True]])
def test_boolean_attribute_of_wrong_type(refuse, value):
    graph, arrays = base()
    graph["nodes"][0][3]["missing_is_nan"] = value
    refuse(graph, arrays, "graph node 0 (Impute)", "missing_is_nan")


@pytest.mark.parametrize("attrs, fragment", [
    ({}, "norm"),
    ({"norm": "l3"}, "norm"),
    ({"norm": 2}, "norm"),
    ({"norm": "L2"}, "norm"),
])
def test_normalize_attributes(refuse, attrs, fragment):
    graph, arrays = base()
    graph["nodes"].append(["Normalize", ["v2"], "v6", attrs])
    refuse(graph, arrays, "graph node 5 (Normalize)", fragment)


@pytest.mark.parametrize("attrs", [{}, {"zero_rows": "zero"}, {"zero_rows": True}])
def test_normalize_rows_attributes(refuse, attrs):
    graph, arrays = base()
    graph["nodes"].append(["NormalizeRows", ["v4"], "v6", attrs])
    refuse(graph, arrays, "graph node 5 (NormalizeRows)", "zero_rows")


@pytest.mark.parametrize("attrs, fragment", [
    ({"clip": True}, "clip_min"),
    ({"clip": True, "clip_min": 0}, "clip_max"),
    ({"clip": True, "clip_min": 1, "clip_max": 0}, "clip_min"),
    ({"clip": True, "clip_min": "0", "clip_max": 1}, "clip_min"),
    ({"clip": "yes"}, "clip"),
])
def test_muladd_clip_attributes(refuse, attrs, fragment):
    graph, arrays = base()
    graph["nodes"].append(["MulAdd", ["v2"], "v6", attrs])
    refuse(graph, arrays, "graph node 5 (MulAdd)", fragment)


def test_valid_extra_nodes_load():
    # The same additions with valid attributes load: the refusals above are about the values.
    graph, arrays = base()
    graph["nodes"] += [["Normalize", ["v2"], "v6", {"norm": "l1"}],
                       ["NormalizeRows", ["v4"], "v7", {"zero_rows": "keep"}],
                       ["MulAdd", ["v2"], "v8", {"clip": True, "clip_min": 0, "clip_max": 1}],
                       ["Sigmoid", ["v3"], "v9"], ["Log", ["v4"], "v10"]]
    graph["outputs"].append(["transform", "v8"])
    m = _native.load_buffer(encode(graph, arrays))
    X = np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 10.0]])
    got = m.run(X, m.outputs["transform"])
    z = (X[:, COLS] - SUB) / DIV
    np.testing.assert_array_equal(got, np.clip(z, 0, 1))


# ------------------------------------------------------------------ ops

@pytest.mark.parametrize("op", ["FutureOp", "softmax", "SOFTMAX", "", "Softmax "])
def test_unknown_op_is_unsupported(refuse, op):
    graph, arrays = base()
    graph["nodes"][3][0] = op
    msg = refuse(graph, arrays, "graph node 3", "unknown op", error=UnsupportedModelError)
    assert repr(op)[1:-1] in msg


def test_unknown_op_error_is_not_a_format_error():
    graph, arrays = base()
    graph["nodes"][3][0] = "FutureOp"
    with pytest.raises(UnsupportedModelError) as info:
        _native.load_buffer(encode(graph, arrays))
    assert not isinstance(info.value, FormatError)
    assert isinstance(info.value, TypeError)


# ------------------------------------------------------------------ outputs

def test_output_refers_to_undefined_value(refuse):
    graph, arrays = base()
    graph["outputs"][0][1] = "v42"
    refuse(graph, arrays, "graph output 0", "'v42'", "not defined")


def test_ravel_on_a_multi_column_value(refuse):
    graph, arrays = base()
    graph["outputs"][2] = ["decision_function", "v3", True]
    refuse(graph, arrays, "graph output 2", "ravel")


def test_ravel_of_the_input_with_several_features(refuse):
    graph, arrays = base()
    graph["outputs"].append(["transform", "X", True])
    refuse(graph, arrays, "graph output 3", "ravel")


@pytest.mark.parametrize("outputs", [[], None, {}, "predict"])
def test_outputs_missing_or_empty(refuse, outputs):
    graph, arrays = base()
    graph["outputs"] = outputs
    refuse(graph, arrays, "outputs")


@pytest.mark.parametrize("record", [["predict"], ["predict", "v5", True, 1], [1, "v5"],
                                    ["predict", 5], ["predict", "v5", 1], {"name": "predict"}])
def test_output_record_malformed(refuse, record):
    graph, arrays = base()
    graph["outputs"][0] = record
    refuse(graph, arrays, "graph output 0")


def test_duplicate_output_name(refuse):
    graph, arrays = base()
    graph["outputs"][1][0] = "predict"
    refuse(graph, arrays, "graph output 1", "duplicate")


def test_output_may_be_the_input_itself():
    graph, arrays = base()
    graph["outputs"].append(["transform", "X"])
    m = _native.load_buffer(encode(graph, arrays))
    X = np.array([[1.0, np.nan, 3.0]])
    np.testing.assert_array_equal(m.run(X, m.outputs["transform"]), X)


# ------------------------------------------------------------------ graph header fields

@pytest.mark.parametrize("n", [-1, -3, 2 ** 31 + 1, 2 ** 63, 3.0, "3", None, True])
def test_n_features_invalid(refuse, n):
    graph, arrays = base()
    graph["n_features"] = n
    refuse(graph, arrays, "n_features")


def test_n_features_missing(refuse):
    graph, arrays = base()
    del graph["n_features"]
    refuse(graph, arrays, "n_features")


def test_n_features_disagreeing_with_the_graph(refuse):
    # Impute reads column 2: with 2 input features that is out of range.
    graph, arrays = base()
    graph["n_features"] = 2
    refuse(graph, arrays, "graph node 0 (Impute)", "column index 2")


@pytest.mark.parametrize("key, value", [("allow_nan", "yes"), ("allow_inf", 1),
                                        ("allow_nan", None)])
def test_allow_flags_must_be_booleans(refuse, key, value):
    graph, arrays = base()
    graph[key] = value
    refuse(graph, arrays, key)


@pytest.mark.parametrize("name", [None, 3, ["a"]])
def test_graph_name_must_be_a_string(refuse, name):
    graph, arrays = base()
    graph["name"] = name
    refuse(graph, arrays, "name")


@pytest.mark.parametrize("key", ["tensors", "nodes"])
def test_tables_must_be_lists(refuse, key):
    graph, arrays = base()
    graph[key] = {}
    refuse(graph, arrays, key)


# ------------------------------------------------------------------ resource exhaustion

HUGE_COLUMNS = textwrap.dedent("""
    import numpy as np
    from mle_runtime import FormatError, InputError, MLEError, _native
    from mle_runtime.format import writer
    graph = {"name": "Huge", "n_features": 0, "allow_nan": True, "allow_inf": True,
             "tensors": [[0, "f8", [2 ** 31, 0]]],
             "nodes": [["Linear", ["X"], "wide", {"weight": 0}], ["ArgMax", ["wide"], "label"]],
             "outputs": [["predict", "label", True]]}
    data = writer.pack_sections([(1, b"{}"), (2, writer.encode_json(graph)), (3, b"", 64)])
    try:
        model = _native.load_buffer(data)
    except FormatError as e:
        print("refused at load:", e)
    else:
        try:
            model.run(np.zeros((1, 0)), 0, 1)
        except (MemoryError, InputError, MLEError) as e:
            print("refused at predict:", type(e).__name__, e)
        else:
            print("ran")
""")


def test_huge_intermediate_width_does_not_abort_the_process():
    """A 21-byte tensor table entry announces a (2^31 x 0) float64 weight, which needs no bytes:
    the Linear output is 2^31 columns wide and only feeds ArgMax, so predict needs
    2^31 * 8 * 128 bytes (2 TiB) of per-block scratch. That must end in an exception (at load
    or at predict), not in std::bad_alloc escaping the native call and aborting Python."""
    proc = subprocess.run([sys.executable, "-c", HUGE_COLUMNS], capture_output=True, text=True)
    assert proc.returncode == 0, (
        f"the process died (exit {proc.returncode}); stderr: {proc.stderr[-2000:]}")
    assert "refused" in proc.stdout or "ran" in proc.stdout


# ------------------------------------------------------------------ tree ensembles

LEAF = L.TREE_LEAF


def tree_parts(fmt="node32"):
    """Two trees over 3 features (pre-order, left child = next node):
    tree 0: x0 <= 0.5 ? leaf 0 : (x2 <= -1 ? leaf 1 : leaf 2);  tree 1: leaf 3."""
    dtype = L.TREE_NODE32_DTYPE if fmt == "node32" else L.TREE_NODE64_DTYPE
    nodes = np.zeros(6, dtype=dtype)
    nodes[0] = (0.5, 0, 2)
    nodes[1] = (0.0, LEAF, 0)
    nodes[2] = (-1.0, 2, 4)
    nodes[3] = (0.0, LEAF, 1)
    nodes[4] = (0.0, LEAF, 2)
    nodes[5] = (0.0, LEAF, 3)
    roots = np.array([0, 5], dtype=np.int32)
    leaves = np.array([[1.0], [10.0], [100.0], [0.25]])
    base = np.array([1000.0])
    graph = {
        "name": "Trees", "n_features": 3, "allow_nan": True,
        "tensors": [None] * 4,
        "nodes": [["TreeEnsemble", ["X"], "v1", {"nodes": 0, "roots": 1, "leaves": 2, "base": 3,
                                                 "node_format": fmt, "compare": "<=",
                                                 "aggregate": "sum"}]],
        "outputs": [["predict", "v1", True]],
    }
    return graph, nodes, [None, roots, leaves, base]


def tree_encode(graph, nodes, rest):
    raw = np.frombuffer(nodes.tobytes(), dtype=np.uint8).reshape(len(nodes), nodes.itemsize)
    return graph, [raw] + rest[1:]


def tree_reference(X):
    t0 = np.where(X[:, 0] <= 0.5, 1.0, np.where(X[:, 2] <= -1, 10.0, 100.0))
    return 1000.0 + t0 + 0.25


@pytest.mark.parametrize("fmt", ["node32", "node64"])
def test_tree_ensemble_base_loads_and_computes(fmt):
    graph, nodes, rest = tree_parts(fmt)
    m = _native.load_buffer(encode(*tree_encode(graph, nodes, rest)))
    X = np.array([[0.0, 9.0, 0.0], [1.0, 9.0, -2.0], [1.0, 9.0, 0.0], [0.5, 0.0, -1.0]])
    np.testing.assert_array_equal(m.run(X, 0), tree_reference(X))


@pytest.mark.parametrize("node, field, value, fragment", [
    (2, "right", 1, "child index"),      # backwards: a cycle
    (2, "right", 2, "child index"),      # itself
    (0, "right", 0, "child index"),
    (2, "right", 5, "child index"),      # beyond the end of tree 0 (into tree 1)
    (2, "right", 2 ** 32 - 1, "child index"),
    (4, "feature_flags", 0, "child index"),  # a split with no room for children
    (0, "feature_flags", 3, "feature 3"),
    (2, "feature_flags", L.TREE_FEATURE_MASK, "feature"),
    (1, "right", 4, "leaf row 4"),
    (5, "right", 2 ** 31, "leaf row"),
    (0, "feature_flags", 1 << 24, "unknown flags"),
    (3, "feature_flags", LEAF | (1 << 26), "unknown flags"),
])
@pytest.mark.parametrize("fmt", ["node32", "node64"])
def test_tree_nodes_refused(refuse, fmt, node, field, value, fragment):
    graph, nodes, rest = tree_parts(fmt)
    nodes[node][field] = value
    refuse(*tree_encode(graph, nodes, rest), "graph node 0 (TreeEnsemble)", fragment)


def test_tree_categorical_split_without_category_sets_is_refused():
    # A categorical node refers to a category set; this ensemble has none. Builds without
    # categorical support call it unsupported, builds with it invalid: refused either way.
    graph, nodes, rest = tree_parts()
    nodes[0]["feature_flags"] = L.TREE_CATEGORICAL | 0
    with pytest.raises((FormatError, UnsupportedModelError), match="(?i)categor|cat_"):
        _native.load_buffer(encode(*tree_encode(graph, nodes, rest)))


@pytest.mark.parametrize("roots, fragment", [
    ([5, 0], "root"), ([0, 7], "root"), ([-1, 5], "root"), ([0, 0], "root"), ([6], "root"),
    ([0, 6], "root"), ([], "no trees"),
])
def test_tree_roots_refused(refuse, roots, fragment):
    graph, nodes, rest = tree_parts()
    rest[1] = np.array(roots, dtype=np.int32)
    refuse(*tree_encode(graph, nodes, rest), "graph node 0 (TreeEnsemble)", fragment)


@pytest.mark.parametrize("attr, value, fragment", [
    ("node_format", "node16", "node_format"), ("node_format", "node64", "'nodes'"),
    ("compare", "==", "compare"), ("compare", None, "compare"), ("aggregate", "max", "aggregate"),
    ("nodes", 2, "'nodes'"), ("roots", 0, "'roots'"), ("leaves", 1, "'leaves'"),
    ("base", 2, "'base'"),
])
def test_tree_attributes_refused(refuse, attr, value, fragment):
    graph, nodes, rest = tree_parts()
    if value is None:
        del graph["nodes"][0][3][attr]
    else:
        graph["nodes"][0][3][attr] = value
    refuse(*tree_encode(graph, nodes, rest), "graph node 0 (TreeEnsemble)", fragment)


def test_tree_leaves_without_columns(refuse):
    graph, nodes, rest = tree_parts()
    rest[2] = np.zeros((4, 0))
    del graph["nodes"][0][3]["base"]
    refuse(*tree_encode(graph, nodes, rest), "graph node 0 (TreeEnsemble)", "columns")


def test_tree_base_with_wrong_length(refuse):
    graph, nodes, rest = tree_parts()
    rest[3] = np.array([1.0, 2.0])
    refuse(*tree_encode(graph, nodes, rest), "graph node 0 (TreeEnsemble)", "'base'")


def test_tree_on_integer_input(refuse):
    graph, nodes, rest = tree_parts()
    graph["nodes"].insert(0, ["ArgMax", ["X"], "lab"])
    graph["nodes"][1][1] = ["lab"]
    refuse(*tree_encode(graph, nodes, rest), "graph node 1 (TreeEnsemble)", "floating point")


def _tree_file_with_nodes_at(fmt, shift):
    """The base tree ensemble with its node records ``shift`` bytes into the data section
    (the section itself starts at a multiple of 64)."""
    graph, nodes, rest = tree_parts(fmt)
    blob = bytes(shift) + nodes.tobytes()
    table = [[shift, "u1", [len(nodes), nodes.itemsize]]]
    for a, code in zip(rest[1:], ["i4", "f8", "f8"]):
        blob += bytes(-len(blob) % 8)
        table.append([len(blob), code, list(a.shape)])
        blob += a.tobytes()
    graph["tensors"] = table
    return writer.pack_sections([(L.SECTION_META, b"{}"),
                                 (L.SECTION_GRAPH, writer.encode_json(graph)),
                                 (L.SECTION_DATA, blob, 64)])


@pytest.mark.parametrize("fmt, shift", [("node32", 1), ("node32", 2), ("node64", 4),
                                        ("node64", 12), ("node64", 1)])
def test_tree_node_records_misaligned_for_their_threshold(fmt, shift):
    with pytest.raises(FormatError, match="aligned"):
        _native.load_buffer(_tree_file_with_nodes_at(fmt, shift))


@pytest.mark.parametrize("fmt, shift", [("node32", 4), ("node32", 12), ("node64", 8),
                                        ("node64", 24)])
def test_tree_node_records_aligned_for_their_threshold_load(fmt, shift):
    m = _native.load_buffer(_tree_file_with_nodes_at(fmt, shift))
    X = np.array([[0.0, 9.0, 0.0], [1.0, 9.0, -2.0], [1.0, 9.0, 0.0]])
    np.testing.assert_array_equal(m.run(X, 0), tree_reference(X))


def test_outlier_label_needs_one_column(refuse):
    graph, arrays = base()
    graph["nodes"].append(["OutlierLabel", ["v3"], "v6"])
    refuse(graph, arrays, "graph node 5 (OutlierLabel)", "one column")


def test_outlier_label_and_anomaly_score_on_one_column():
    graph, arrays = base()
    arrays[4] = W[:1]
    arrays[5] = B[:1]
    graph["nodes"] = graph["nodes"][:3] + [["AnomalyScore", ["v3"], "v4"],
                                           ["OutlierLabel", ["v3"], "v5"]]
    graph["outputs"] = [["score_samples", "v4", True], ["predict", "v5", True]]
    m = _native.load_buffer(encode(graph, arrays))
    X = np.array([[1.0, 2.0, 3.0], [0.0, -4.0, 1.0], [-3.0, 0.0, 0.0]])
    z = (X[:, COLS] - SUB) / DIV
    d = z @ W[:1].T + B[:1]
    np.testing.assert_allclose(m.run(X, 0), -(2.0 ** -d[:, 0]), rtol=1e-15)
    np.testing.assert_array_equal(m.run(X, 1), np.where(d[:, 0] < 0, -1, 1))


@pytest.mark.parametrize("value", [1, "true", [True]])
def test_cast_float32_must_be_a_boolean(refuse, value):
    graph, arrays = base()
    graph["cast_float32"] = value
    refuse(graph, arrays, "cast_float32")


def test_weighted_median_needs_weights_one_output_and_no_base(refuse):
    graph, nodes, rest = tree_parts()
    attrs = graph["nodes"][0][3]
    attrs["aggregate"] = "weighted_median"
    refuse(*tree_encode(graph, nodes, rest), "graph node 0 (TreeEnsemble)", "median_weights")
    rest.append(np.array([1.0, 2.0]))
    graph["tensors"].append(None)
    attrs["median_weights"] = 4
    refuse(*tree_encode(graph, nodes, rest), "graph node 0 (TreeEnsemble)", "base")
    del attrs["base"]
    g, arrays = tree_encode(graph, nodes, rest)
    m = _native.load_buffer(encode(g, arrays))
    # tree 0 gives 1 or 100 (weight 1), tree 1 gives 0.25 (weight 2): sorted by value, tree 1
    # comes first and its weight alone reaches half the total, so it is the median.
    X = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    np.testing.assert_array_equal(m.run(X, 0), [0.25, 0.25])
    rest[-1] = np.array([1.0, 2.0, 3.0])
    refuse(*tree_encode(graph, nodes, rest), "graph node 0 (TreeEnsemble)", "'median_weights'")


def _categorical_tree(cat_offsets, cat_words, rule="hist_gradient_boosting", left_set=0):
    """tree_parts() in node64 with node 0 made a categorical split on feature 1."""
    graph, nodes, rest = tree_parts("node64")
    bits = np.array([left_set | (0xFFFFFFFF << 32)], dtype=np.uint64).view(np.float64)[0]
    nodes[0] = (bits, L.TREE_CATEGORICAL | 1, 2)
    rest += [np.array(cat_offsets, dtype=np.uint32), np.array(cat_words, dtype=np.uint32)]
    graph["tensors"] += [None, None]
    graph["nodes"][0][3].update(cat_offsets=4, cat_words=5, category_rule=rule)
    return tree_encode(graph, nodes, rest)


def test_categorical_split_loads_and_follows_the_left_set():
    # left set {1, 3, 33}: categories 1 and 3 (word 0) and 33 (word 1) go left
    graph, arrays = _categorical_tree([0, 2], [(1 << 1) | (1 << 3), 1 << 1])
    m = _native.load_buffer(encode(graph, arrays))
    X = np.array([[0.0, c, 0.0] for c in (1, 3, 33, 2, 0, 64, 300)])
    left = np.array([1, 1, 1, 0, 0, 0, 0], dtype=bool)
    # left: leaf 0 (1.0); right: x2 = 0 > -1 -> leaf 2 (100.0); plus tree 1 (0.25) and base
    expected = 1000.25 + np.where(left, 1.0, 100.0)
    np.testing.assert_array_equal(m.run(X, 0), expected)


@pytest.mark.parametrize("offsets, words, fragment", [
    ([1, 2], [0, 0], "start at 0"),
    ([0, 3], [0, 0], "cat_offsets"),
    ([0, 2, 1], [0, 0], "cat_offsets"),
    ([0], [0], "at least one set"),
])
def test_categorical_tables_refused(refuse, offsets, words, fragment):
    graph, arrays = _categorical_tree(offsets, words)
    refuse(graph, arrays, "graph node 0 (TreeEnsemble)", fragment)


def test_categorical_set_index_out_of_range(refuse):
    graph, arrays = _categorical_tree([0, 1], [2], left_set=1)
    refuse(graph, arrays, "graph node 0 (TreeEnsemble)", "category set index")


def test_unknown_category_rule_is_refused(refuse):
    # category_rule names the rule only in files before format 1.3, which know three names;
    # later files give the rule's aspects (docs/FORMAT.md 11.2), so another name is damage.
    graph, arrays = _categorical_tree([0, 1], [2], rule="lightgbm_v9")
    refuse(graph, arrays, "graph node 0 (TreeEnsemble)", "'category_rule' must be",
           "got 'lightgbm_v9'")
