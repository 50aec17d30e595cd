"""Neural-network ops and the memory plan (docs/FORMAT.md 11, "Neural networks", and 11.4):
a small graph built with ``ir.Graph`` (no torch needed) computes what numpy computes, and
plan building refuses every hostile edit of its JSON: shapes, strides, weights, broadcast
shapes, permutations, arena offsets and sizes, live buffers sharing bytes. Graphs are edited
as JSON, bypassing ``Graph.add``'s checks, so that the native validation is what is tested.
"""

import copy

import numpy as np
import pytest

import mle_runtime as mle
from mle_runtime import FormatError, _native
from mle_runtime.format import layout as L
from mle_runtime.format import writer
from mle_runtime.ir import Graph
from mle_runtime.ir.memory_plan import plan_memory

CODES = {v: k for k, v in L.TENSOR_DTYPES.items()}
RNG = np.random.default_rng(0)
CONV_W = RNG.normal(size=(2, 1, 3, 3)).astype(np.float32)
CONV_B = RNG.normal(size=2).astype(np.float32)
FC_W = RNG.normal(size=(8, 3)).astype(np.float32)  # stored k x n
FC_B = RNG.normal(size=3).astype(np.float32)
EMB = RNG.normal(size=(5, 2)).astype(np.float32)


def i8(g, values):
    return g.tensor(np.asarray(values, dtype=np.int64), "int64")


def build():
    """A conv net on (1, 4, 4) input: Conv(2, 3x3, pad 1) -> relu -> maxpool 2 -> reshape ->
    Gemm(8 -> 3) -> (x - 0.5) -> softmax, and a second output, the mean of the pooled map.
    Node indices: 0 conv, 1 relu, 2 pool, 3 reshape, 4 gemm, 5 sub, 6 softmax, 7 mean."""
    g = Graph("Net", 16)
    g.allow_nan = g.allow_inf = True
    g.inputs["shape"] = [1, 4, 4]
    v = g.add("NnConv", ["X"], weight=g.tensor(CONV_W, "float32"),
              bias=g.tensor(CONV_B, "float32"), in_shape=i8(g, [1, 4, 4]), stride_h=1,
              stride_w=1, pad_h=1, pad_w=1, dil_h=1, dil_w=1, groups=1)
    v = g.add("NnActivation", [v], fn="relu")
    pooled = g.add("NnPool", [v], kind="max", in_shape=i8(g, [2, 4, 4]), kernel_h=2,
                   kernel_w=2, stride_h=2, stride_w=2, pad_h=0, pad_w=0)
    v = g.add("NnReshape", [pooled])
    v = g.add("NnGemm", [v], weight=g.tensor(FC_W, "float32"), bias=g.tensor(FC_B, "float32"))
    v = g.add("NnBinaryConst", [v], fn="sub", const=g.tensor(np.float32([0.5]), "float32"),
              a_shape=i8(g, [3]), b_shape=i8(g, [1]), shape=i8(g, [3]))
    out = g.add("NnSoftmax", [v], outer=1, size=3, inner=1)
    mean = g.add("NnMean", [pooled], outer=2, size=4, inner=1)
    g.output("predict", out)
    g.output("output_1", mean)
    widths = {g.nodes[0].output: 32, g.nodes[1].output: 32, g.nodes[2].output: 8,
              g.nodes[3].output: 8, g.nodes[4].output: 3, g.nodes[5].output: 3,
              g.nodes[6].output: 3, g.nodes[7].output: 2}
    g.memory_plan = plan_memory(g.nodes, {k: 4 * w for k, w in widths.items()},
                                ["predict", out, mean])
    return g


def graph_json():
    g = build()
    _, offsets, _ = writer.pack_tensors(g.tensors)
    return g.to_json(offsets), list(g.tensors)


def encode(graph, arrays):
    arrays = [np.ascontiguousarray(a) for a in arrays]
    blob, offsets, align = writer.pack_tensors(arrays)
    graph = copy.deepcopy(graph)
    graph["tensors"] = [[off, CODES[a.dtype], list(a.shape)] for off, a in zip(offsets, arrays)]
    return writer.pack_sections([(L.SECTION_META, writer.encode_json({})),
                                 (L.SECTION_GRAPH, writer.encode_json(graph)),
                                 (L.SECTION_DATA, blob, align)])


def reference(X):
    x = X.reshape(-1, 1, 4, 4).astype(np.float64)
    p = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    conv = np.zeros((len(x), 2, 4, 4))
    for o in range(2):
        for i in range(3):
            for j in range(3):
                conv[:, o] += CONV_W[o, 0, i, j] * p[:, 0, i:i + 4, j:j + 4]
        conv[:, o] += CONV_B[o]
    r = np.maximum(conv, 0)
    pooled = r.reshape(len(x), 2, 2, 2, 2, 2).max(axis=(3, 5))
    z = pooled.reshape(len(x), 8) @ FC_W + FC_B - 0.5
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True), pooled.reshape(len(x), 2, 4).mean(axis=2)


def test_the_graph_loads_and_computes():
    g, arrays = graph_json()
    model = mle.runtime.proxies.MLEModel(_native.load_buffer(encode(g, arrays)))
    for n in (1, 7, 300):
        X = RNG.normal(size=(n, 1, 4, 4)).astype(np.float32)
        proba, mean = reference(X)
        np.testing.assert_allclose(model.predict(X), proba, atol=1e-6)
        outs = model.run([X])
        np.testing.assert_allclose(outs[1], mean, atol=1e-6)
        assert model.predict(X.astype(np.float64)).dtype == np.float32


def test_the_plan_reuses_memory():
    plan = build().memory_plan
    assert plan.arena <= plan.total
    assert plan.arena == plan.lower_bound
    # the reshape shares the pooled buffer: no offset of its own
    assert plan.offsets[3] is None


def test_float64_X_is_refused_natively():
    g, arrays = graph_json()
    native = _native.load_buffer(encode(g, arrays))
    with pytest.raises(ValueError, match="computes in float32"):
        native.run(np.zeros((2, 16)), 0, 1)


def refuse(graph, arrays, *fragments):
    with pytest.raises(FormatError) as info:
        _native.load_buffer(encode(graph, arrays))
    for frag in fragments:
        assert frag in str(info.value), (frag, str(info.value))


def edit_attr(node, key, value):
    def f(g, arrays):
        g["nodes"][node][3][key] = value
    return f


def edit_tensor(node, key, array):
    def f(g, arrays):
        idx = g["nodes"][node][3][key]
        arrays[idx] = array
    return f


def edit_plan(fn):
    def f(g, arrays):
        fn(g["memory_plan"])
    return f


HOSTILE = [
    ("conv in_shape", edit_tensor(0, "in_shape", np.int64([1, 4, 5])), "in_shape does not match"),
    ("conv in_shape rank", edit_tensor(0, "in_shape", np.int64([16])), "(channels, height"),
    ("shape zero size", edit_tensor(0, "in_shape", np.int64([1, 0, 16])), "size out of"),
    ("shape too many dims", edit_tensor(0, "in_shape", np.ones(9, np.int64)), "1 to 8 sizes"),
    ("conv groups", edit_attr(0, "groups", 2), "groups must divide"),
    ("conv stride 0", edit_attr(0, "stride_h", 0), "stride_h"),
    ("conv stride fraction", edit_attr(0, "stride_w", 1.5), "stride_w"),
    ("conv pad negative", edit_attr(0, "pad_h", -1), "pad_h"),
    ("conv huge dilation", edit_attr(0, "dil_h", 2 ** 40), "dil_h"),
    ("conv window too big", edit_attr(0, "dil_w", 5), "larger than the padded input"),
    ("conv weight channels", edit_tensor(0, "weight", np.zeros((2, 2, 3, 3), np.float32)),
     "in_channels / groups"),
    ("conv weight dtype", edit_tensor(0, "weight", np.zeros((2, 1, 3, 3))), "float32"),
    ("conv bias length", edit_tensor(0, "bias", np.zeros(3, np.float32)), "bias"),
    ("activation alpha on relu", edit_attr(1, "alpha", 0.1), "only for fn"),
    ("pool pad", edit_attr(2, "pad_h", 2), "half the kernel"),
    ("pool kernel 0", edit_attr(2, "kernel_w", 0), "kernel_w"),
    ("gemm weight rows", edit_tensor(4, "weight", np.zeros((3, 3), np.float32)), "multiple"),
    ("gemm bias", edit_tensor(4, "bias", np.zeros(4, np.float32)), "bias"),
    ("broadcast", edit_tensor(5, "b_shape", np.int64([2])), "b_shape does not match"),
    ("broadcast rank", edit_tensor(5, "shape", np.int64([3, 1])), "same number of sizes"),
    ("softmax layout", edit_attr(6, "size", 4), "outer x size x inner"),
    ("mean layout", edit_attr(7, "inner", 2), "outer x size x inner"),
    ("plan not an object", lambda g, a: g.__setitem__("memory_plan", [1, 2]), "memory_plan"),
    ("plan offsets length", edit_plan(lambda p: p["offsets"].pop()), "one entry per node"),
    ("plan arena huge", edit_plan(lambda p: p.__setitem__("arena", 2 ** 40)), "memory_plan"),
    ("plan offset unaligned", edit_plan(lambda p: p["offsets"].__setitem__(0, 4)),
     "multiple of 8"),
    ("plan offset beyond arena", edit_plan(lambda p: p["offsets"].__setitem__(0, p["arena"] + 8)),
     "multiple of 8"),
    ("plan size past arena", edit_plan(lambda p: p["offsets"].__setitem__(
        0, p["arena"] - 8)), "past the arena"),
    ("plan missing offset", edit_plan(lambda p: p["offsets"].__setitem__(1, None)),
     "no offset"),
    ("plan overlap", edit_plan(lambda p: p["offsets"].__setitem__(1, p["offsets"][0])),
     "alive at the same time"),
    ("plan overlap partial", edit_plan(lambda p: p["offsets"].__setitem__(
        2, p["offsets"][1] + 64)), "alive at the same time"),
    ("input shape rule", lambda g, a: g["inputs"].__setitem__("shape", [1, 4, 5]),
     "product is 16"),
    ("output shape rule", lambda g, a: g["outputs"][0].append({"shape": [2, 2]}),
     "product is 3"),
]


@pytest.mark.parametrize("name, edit, fragment", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_graphs_are_refused(name, edit, fragment):
    g, arrays = graph_json()
    edit(g, arrays)
    refuse(g, arrays, fragment)


def small(op_nodes, n_features, shape=None):
    """A graph of the given (op, attrs-builder) chain on X; no memory plan."""
    g = Graph("Net", n_features)
    g.allow_nan = g.allow_inf = True
    g.inputs["shape"] = shape or [n_features]
    v = "X"
    for op, attrs in op_nodes:
        v = g.add(op, [v], **attrs(g))
    g.output("predict", v)
    _, offsets, _ = writer.pack_tensors(g.tensors)
    return g.to_json(offsets), list(g.tensors)


def test_permute_must_be_a_permutation():
    g, arrays = small([("NnPermute", lambda g: {"shape": i8(g, [2, 3]),
                                                "perm": i8(g, [1, 1])})], 6)
    refuse(g, arrays, "permutation")
    g, arrays = small([("NnPermute", lambda g: {"shape": i8(g, [2, 3]),
                                                "perm": i8(g, [1, 2])})], 6)
    refuse(g, arrays, "permutation")


def test_permute_computes():
    g, arrays = small([("NnPermute", lambda g: {"shape": i8(g, [2, 3, 4]),
                                                "perm": i8(g, [2, 0, 1])})], 24, [2, 3, 4])
    model = mle.runtime.proxies.MLEModel(_native.load_buffer(encode(g, arrays)))
    X = RNG.normal(size=(5, 2, 3, 4)).astype(np.float32)
    np.testing.assert_array_equal(model.predict(X), X.transpose(0, 3, 1, 2).reshape(5, -1))


def test_embedding_refuses_bad_tables_and_ids():
    g, arrays = small([("NnEmbedding", lambda g: {"weight": g.tensor(EMB, "float32")})], 3)
    arrays[0] = np.zeros((0, 2), np.float32)
    refuse(g, arrays, "must not be empty")
    g, arrays = small([("NnEmbedding", lambda g: {"weight": g.tensor(EMB, "float32")})], 3)
    model = mle.runtime.proxies.MLEModel(_native.load_buffer(encode(g, arrays)))
    np.testing.assert_array_equal(model.predict(np.array([[0, 4, 2]])),
                                  EMB[[0, 4, 2]].reshape(1, -1))
    for bad in ([[0, 5, 1]], [[-1, 0, 0]], [[0.5, 1, 1]], [[np.nan, 1, 1]]):
        with pytest.raises(ValueError, match="token id"):
            model.predict(np.array(bad, dtype=np.float32))


def test_concat_widths_must_divide():
    g = Graph("Net", 6)
    g.inputs["shape"] = [6]
    a = g.add("NnReshape", ["X"])
    v = g.add("NnConcat", ["X", a], outer=4, inner=1)
    g.output("predict", v)
    _, offsets, _ = writer.pack_tensors(g.tensors)
    refuse(g.to_json(offsets), list(g.tensors), "not a multiple")


def test_nn_ops_refuse_float64_values():
    g = Graph("Net", 3)
    v = g.add("Linear", ["X"], weight=g.tensor(np.eye(3), "float64"))
    v = g.add("NnActivation", [v], fn="tanh")
    g.output("predict", v)
    _, offsets, _ = writer.pack_tensors(g.tensors)
    refuse(g.to_json(offsets), list(g.tensors), "float32 tensor value")
