"""Plan building refuses hostile graphs for the naive Bayes, dummy, discriminant analysis and
isotonic ops (docs/FORMAT.md, section 11): every index the kernels follow and every shape is
checked at load, and the ops that refuse input values do so as input errors, never crashes."""

import copy

import numpy as np
import pytest

from mle_runtime import FormatError, _native
from mle_runtime.format import layout as L
from mle_runtime.format import writer
from mle_runtime.ir import Graph

CODES = {v: k for k, v in L.TENSOR_DTYPES.items()}


def encode(graph, arrays, patch=None):
    arrays = [np.ascontiguousarray(a) for a in arrays]
    blob = bytearray()
    offsets = []
    for a in arrays:
        align = L.DATA_ALIGN if a.nbytes >= L.BIG_TENSOR else a.dtype.itemsize
        blob += bytes(L.align_up(len(blob), align) - len(blob))
        offsets.append(len(blob))
        blob += a.astype(a.dtype.newbyteorder("<")).tobytes()
    big = any(a.nbytes >= L.BIG_TENSOR for a in arrays)
    graph = copy.deepcopy(graph)
    graph["tensors"] = [[off, CODES[a.dtype], list(a.shape)] for off, a in zip(offsets, arrays)]
    text = writer.encode_json(graph)
    if patch is not None:  # bytes JSON cannot hold (1e999 parses as infinity)
        text = text.replace(*patch)
    payloads = [(L.SECTION_META, writer.encode_json({})), (L.SECTION_GRAPH, text)]
    if arrays:
        payloads.append((L.SECTION_DATA, bytes(blob), L.DATA_ALIGN if big else L.SECTION_ALIGN))
    return writer.pack_sections(payloads)


def build(n_features, op, attrs_tensors, **attrs):
    """(graph JSON, tensors) of X -> op -> output "out"; attrs_tensors name -> array."""
    g = Graph("m", n_features)
    idx = {k: g.tensor(v, v.dtype) for k, v in attrs_tensors.items()}
    v = g.add(op, ["X"], **idx, **attrs)
    g.output("out", v)
    _, offsets, _ = writer.pack_tensors(g.tensors)
    return g.to_json(offsets), list(g.tensors)


def refused(graph, arrays, fragment):
    with pytest.raises(FormatError, match=fragment):
        _native.load_buffer(encode(graph, arrays))


def gaussian():
    return build(3, "GaussianLogLikelihood", {"theta": np.zeros((2, 3)), "var": np.ones((2, 3)),
                                              "log_prior": np.zeros(2), "norm": np.zeros(2)})


def categorical():
    return build(2, "CategoricalLogLikelihood", {
        "offsets": np.array([0, 2, 5]), "table": np.arange(10.0).reshape(5, 2),
        "log_prior": np.array([-1.0, -2.0])})


def test_valid_graphs_load():
    for graph, arrays in (gaussian(), categorical()):
        _native.load_buffer(encode(graph, arrays))


@pytest.mark.parametrize("index, shape", [(0, (2, 4)), (1, (3, 3)), (2, (3,)), (3, (1,)),
                                          (0, (0, 3))])
def test_gaussian_shapes(index, shape):
    graph, arrays = gaussian()
    arrays[index] = np.zeros(shape)
    refused(graph, arrays, "GaussianLogLikelihood")


@pytest.mark.parametrize("offsets, fragment", [
    ([1, 2, 5], "start at 0"), ([0, 2, 2], "increase"), ([0, 3, 2], "increase"),
    ([0, 2, 6], "end at the number of table rows"), ([0, 2, 4], "end at"),
    ([0, -1, 5], "increase")])
def test_categorical_offsets(offsets, fragment):
    graph, arrays = categorical()
    arrays[0] = np.array(offsets, dtype=np.int64)
    refused(graph, arrays, fragment)


def test_categorical_table_and_prior_shapes():
    graph, arrays = categorical()
    refused(graph, [arrays[0], np.zeros((5, 0)), np.zeros(0)], "no columns")
    refused(graph, [arrays[0], arrays[1], np.zeros(3)], "log_prior")
    refused(graph, [np.array([0, 5]), arrays[1], arrays[2]], "offsets")


def test_categorical_refuses_out_of_range_values_at_run_time():
    graph, arrays = categorical()
    model = _native.load_buffer(encode(graph, arrays))
    out = model.run(np.array([[1.0, 2.0]]), 0)
    np.testing.assert_array_equal(out, [[2.0 + 8.0 - 1.0, 3.0 + 9.0 - 2.0]])
    for bad, fragment in (([2.0, 0.0], "index 2"), ([0.0, 3.0], "index 3"),
                          ([-1.0, 0.0], "Negative"), ([1e300, 0.0], "Negative"),
                          ([0.0, -0.99], None)):
        if fragment is None:  # truncated to category 0, as numpy's astype(int64)
            np.testing.assert_array_equal(model.run(np.array([bad]), 0),
                                          [[0.0 + 4.0 - 1.0, 1.0 + 5.0 - 2.0]])
            continue
        with pytest.raises(ValueError, match=fragment):
            model.run(np.array([bad]), 0)


@pytest.mark.parametrize("values", [np.zeros(0), np.zeros((2, 2))])
def test_constant_shapes(values):
    graph, arrays = build(2, "Constant", {"values": np.ones(2)})
    refused(graph, [values], "Constant")


@pytest.mark.parametrize("threshold", [b"1e999", b"-1e999"])
def test_binarize_threshold_must_be_finite(threshold):
    graph, arrays = build(2, "Binarize", {}, threshold=0.125)
    with pytest.raises(FormatError):  # the JSON reader refuses it before the kernel sees it
        _native.load_buffer(encode(graph, arrays, patch=(b"0.125", threshold)))


@pytest.mark.parametrize("segments", [[2, 2], [0, 3], [-1, 4], [4, 0], [1, 1, 1, 1, 1]])
def test_segment_sum_squares_segments(segments):
    graph, arrays = build(3, "SegmentSumSquares", {
        "segments": np.array([1, 2]), "offset": np.zeros(2), "bias": np.zeros(2)}, scale=-0.5)
    k = len(segments)
    refused(graph, [np.array(segments, dtype=np.int64), np.zeros(k), np.zeros(k)],
            "segments")


def test_segment_sum_squares_offset_length():
    graph, arrays = build(3, "SegmentSumSquares", {
        "segments": np.array([1, 2]), "offset": np.zeros(2), "bias": np.zeros(2)}, scale=-0.5)
    refused(graph, [arrays[0], np.zeros(3), arrays[2]], "offset")


@pytest.mark.parametrize("x, y, fragment", [
    ([0.0, 0.0, 1.0], [1.0, 2.0, 3.0], "strictly increasing"),
    ([1.0, 0.0, 2.0], [1.0, 2.0, 3.0], "strictly increasing"),
    ([0.0, np.nan, 2.0], [1.0, 2.0, 3.0], "finite"),
    ([0.0, 1.0, np.inf], [1.0, 2.0, 3.0], "finite"),
    ([], [], "empty"),
    ([0.0, 1.0], [1.0, 2.0, 3.0], "y"),
])
def test_interp_knots(x, y, fragment):
    graph, arrays = build(1, "Interp1D", {"x": np.array([0.0, 1.0]), "y": np.array([0.0, 1.0])},
                          out_of_bounds="nan")
    refused(graph, [np.array(x), np.array(y)], fragment)


def test_interp_needs_a_known_rule():
    graph, arrays = build(1, "Interp1D", {"x": np.array([0.0, 1.0]), "y": np.array([0.0, 1.0])},
                          out_of_bounds="nan")
    graph["nodes"][0][3]["out_of_bounds"] = "extrapolate"
    with pytest.raises(FormatError):
        _native.load_buffer(encode(graph, arrays))


@pytest.mark.parametrize("rule", [False, 1, "yes", None])
def test_vector_input_rule_values(rule):
    graph, arrays = build(1, "Interp1D", {"x": np.array([0.0, 1.0]), "y": np.array([0.0, 1.0])},
                          out_of_bounds="clip")
    graph["inputs"] = {"vector": rule}
    refused(graph, arrays, "vector")


def test_vector_input_rule_needs_one_feature():
    graph, arrays = build(2, "Constant", {"values": np.ones(1)})
    graph["inputs"] = {"vector": True}
    refused(graph, arrays, "one feature")
