"""Plan building bounds what a small file can make loading and predicting cost
(docs/FORMAT.md, section 18): output columns backed by stored numbers, the bytes one predicted
row needs, and the validation work of tensors shared by many nodes. Each hostile file is
built here, with valid checksums, and refused at load, never at predict."""

import io
import re

import numpy as np
import pytest

import mle_runtime as mle
from mle_runtime import FormatError, _native
from mle_runtime.format import envelope, writer
from mle_runtime.format import layout as L

CODES = {v: k for k, v in L.TENSOR_DTYPES.items()}

# The caps of _native/include/mle/plan.h (Model::kScanFactor, ...), as FORMAT.md states them.
SCAN_FACTOR, SCAN_CONSTANT = 4, 16 << 20
ROW_FACTOR, ROW_CONSTANT = 32, 64 << 20


def model_bytes(nodes, outputs, arrays=(), n_features=1):
    """A plain model file: ``nodes``/``outputs`` as graph JSON records, tensor ``i`` holding
    ``arrays[i]`` (laid out as the writer lays them out)."""
    arrays = [np.ascontiguousarray(a) for a in arrays]
    blob, offsets, align = writer.pack_tensors(arrays)
    graph = {"name": "Crafted", "n_features": n_features, "allow_nan": True, "allow_inf": True,
             "tensors": [[off, CODES[a.dtype], list(a.shape)] for off, a in zip(offsets, arrays)],
             "nodes": nodes, "outputs": outputs}
    payloads = [(L.SECTION_META, b"{}"), (L.SECTION_GRAPH, writer.encode_json(graph))]
    if arrays:
        payloads.append((L.SECTION_DATA, blob, align))
    return writer.pack_sections(payloads)


# ------------------------------------------------------------------ output width backed by data

def test_linear_without_input_columns_or_bias_is_refused_at_load():
    """Zero input features and a (2^28 x 0) weight (no bytes): 2^28 output columns, 2 GiB
    for every predicted row, from a 384-byte file. No output column is backed by a stored
    number, so the plan is refused before anything runs."""
    data = model_bytes([["Linear", ["X"], "wide", {"weight": 0}]],
                       [["decision_function", "wide"]], [np.zeros((2 ** 28, 0))], n_features=0)
    assert len(data) < 1024
    with pytest.raises(FormatError, match="not backed by any stored number"):
        _native.load_buffer(data)


def test_linear_without_input_columns_is_its_bias():
    """The same shape with a bias is backed (one stored number per column) and predicts it."""
    bias = np.array([0.5, -1.0, 2.0])
    data = model_bytes([["Linear", ["X"], "y", {"weight": 0, "bias": 1}]],
                       [["decision_function", "y"]], [np.zeros((3, 0)), bias], n_features=0)
    model = _native.load_buffer(data)
    np.testing.assert_array_equal(model.run(np.zeros((2, 0)), 0), [bias, bias])


def _tree_file(n_outputs, base):
    """One single-leaf tree adding to column 0 of ``n_outputs`` columns; ``base`` or not."""
    leaf = np.zeros(1, dtype=L.TREE_NODE32_DTYPE)
    leaf["feature_flags"] = L.TREE_LEAF
    arrays = [leaf.view(np.uint8).reshape(1, -1), np.zeros(1, np.int32), np.ones((1, 1)),
              np.zeros(1, np.int32)]
    attrs = {"node_format": "node32", "aggregate": "sum", "compare": "<", "nodes": 0,
             "roots": 1, "leaves": 2, "targets": 3, "n_outputs": n_outputs}
    if base:
        arrays.append(np.zeros(n_outputs))
        attrs["base"] = 4
    return model_bytes([["TreeEnsemble", ["X"], "raw", attrs]], [["predict", "raw"]], arrays)


def test_tree_targets_without_base_need_a_tree_per_column():
    """n_outputs columns that no tree adds to and no base backs (65536 x 8 bytes per row
    from one tree) are refused; with a base each column is backed and the file loads."""
    with pytest.raises(FormatError, match="n_outputs is 65536 but there are only 1 trees"):
        _native.load_buffer(_tree_file(65536, base=False))
    model = _native.load_buffer(_tree_file(3, base=True))
    np.testing.assert_array_equal(model.run(np.zeros((2, 1)), 0), [[1, 0, 0], [1, 0, 0]])


# ------------------------------------------------------------------ bytes one predicted row needs

def _wide_exp(n_features):
    return model_bytes([["Exp", ["X"], "y"]], [["transform", "y"]], n_features=n_features)


def test_one_predicted_row_may_not_need_more_than_the_file_allows():
    """A 200-byte file declaring 2^24 features whose output keeps that width needs 128 MiB
    per predicted row: more than 32 x the file + 64 MiB, refused at load with the numbers."""
    data = _wide_exp(2 ** 24)
    with pytest.raises(FormatError) as info:
        _native.load_buffer(data)
    msg = str(info.value)
    assert f"needs {2 ** 27} bytes to predict one row" in msg
    assert f"{ROW_FACTOR * len(data) + ROW_CONSTANT} bytes allowed" in msg


def test_wide_rows_within_the_cap_load():
    """2^20 features (8 MiB per row), and a 1000-class head: both load and predict."""
    model = _native.load_buffer(_wide_exp(2 ** 20))
    assert model.output_cols(0) == 2 ** 20
    W = np.linspace(-1, 1, 1000 * 4).reshape(1000, 4)
    data = model_bytes([["Linear", ["X"], "d", {"weight": 0}], ["Softmax", ["d"], "p"],
                        ["ArgMax", ["d"], "label"]],
                       [["predict", "label", True], ["predict_proba", "p"]], [W], n_features=4)
    model = _native.load_buffer(data)
    X = np.random.default_rng(0).normal(size=(5, 4))
    np.testing.assert_array_equal(model.run(X, model.outputs["predict"]),
                                  (X @ W.T).argmax(axis=1))


def test_scratch_counts_as_one_block_for_one_row():
    """Scratch is allocated per block of 128 rows even to predict one row: two intermediates
    of 2^16 float64 columns (1 MiB per row, 128 MiB per block) from a 300-byte file are
    refused; one (64 MiB per block) stays within 32 x the file + 64 MiB and loads."""
    def chain(n):
        nodes = [["Exp", ["X" if i == 0 else f"v{i - 1}"], f"v{i}"] for i in range(n)]
        nodes.append(["ArgMax", [f"v{n - 1}"], "label"])
        return model_bytes(nodes, [["predict", "label", True]], n_features=2 ** 16)
    with pytest.raises(FormatError, match=f"needs {2 ** 27 + 8} bytes to predict one row"):
        _native.load_buffer(chain(2))
    model = _native.load_buffer(chain(1))
    np.testing.assert_array_equal(model.run(np.zeros((3, 2 ** 16)), 0), [0, 0, 0])


# ------------------------------------------------------------------ validation work

OBLIVIOUS = ["features", "border_offsets", "borders", "nan_as_true", "splits", "depths",
             "leaves", "bias"]


def _shared_oblivious(n_trees, n_nodes):
    """A plain model whose ``n_nodes`` ObliviousEnsemble nodes all name the same tensors:
    ``n_trees`` trees of depth 0 (zeros, which compress to almost nothing). Each node
    validates all the trees again."""
    arrays = [np.zeros(0, np.int32), np.zeros(1, np.int32), np.zeros(0, np.float32),
              np.zeros(0, np.uint8), np.zeros((0, 2), np.int32), np.zeros(n_trees, np.int32),
              np.zeros((n_trees, 1)), np.zeros(1)]
    attrs = {name: i for i, name in enumerate(OBLIVIOUS)}
    attrs["scale"] = 1.0
    nodes = [["ObliviousEnsemble", ["X"], f"v{i}", attrs] for i in range(n_nodes)]
    blob, _, _ = writer.pack_tensors(arrays)
    return model_bytes(nodes, [["predict", "v0"]], arrays), 12 * n_trees + 12, len(blob)


def _counted(msg):
    """(bytes counted, bytes allowed) from a validation-work refusal."""
    m = re.search(r"nodes name (\d+) bytes of tensors so far.*more than the (\d+) bytes", msg)
    assert m, msg
    return int(m.group(1)), int(m.group(2))


def test_tensors_shared_by_many_nodes_are_refused_before_the_work():
    """1100 nodes naming the same 24 MB of tensors: a 3 KB compressed file whose load
    validated 26 GB (over 4 s) before the cap; now refused once the nodes have named
    4 x the tensor data + 16 MiB, so validation reads at most that plus one node's share."""
    inner, per_node, data_section = _shared_oblivious(2_000_000, 1100)
    data = envelope.seal(inner, b"{}", compress=("zstd", 19))
    assert len(data) < 3300 and len(inner) > 24_000_000
    with pytest.raises(FormatError) as info:
        mle.load(io.BytesIO(data))
    counted, allowed = _counted(str(info.value))
    assert allowed == SCAN_FACTOR * data_section + SCAN_CONSTANT
    # the refusal comes at the first naming beyond the cap: work is bounded by the cap
    assert allowed < counted <= allowed + per_node
    assert counted < 6 * per_node  # of the 1100 nodes, the sixth is refused


def test_a_tensor_shared_by_a_few_nodes_loads():
    """Sharing within the cap (3 nodes on the same trees) is allowed."""
    data, _, _ = _shared_oblivious(200_000, 3)
    model = _native.load_buffer(data)
    assert model.output_cols(0) == 1


# ------------------------------------------------------------------ JSON objects with many keys

def _with_extra_attrs(keys):
    attrs = {"factor": 2.0}
    for k in keys:
        attrs[k] = 0
    return attrs


def test_duplicate_key_in_a_large_object_is_refused():
    """Objects of more than 16 keys are checked by sorting their keys: a duplicate after
    hundreds of distinct keys is still found."""
    nodes = [["Scale", ["X"], "y", _with_extra_attrs(f"k{i}" for i in range(500))]]
    data = model_bytes(nodes, [["transform", "y"]])
    # without the duplicate the JSON parses, and the node is refused by its op's schema
    with pytest.raises(FormatError, match="unknown attribute 'k0'"):
        _native.load_buffer(data)
    graph = writer.encode_json({"name": "Crafted", "n_features": 1, "tensors": [],
                                "nodes": nodes, "outputs": [["transform", "y"]]})
    dup = graph.replace(b'"k7":0', b'"k7":0,"k499":1')
    assert dup != graph
    bad = writer.pack_sections([(L.SECTION_META, b"{}"), (L.SECTION_GRAPH, dup)])
    with pytest.raises(FormatError, match="duplicate key"):
        _native.load_buffer(bad)
