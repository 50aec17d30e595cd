"""Every graph node is checked against its op's registered schema: at load by the native plan
builder (before the kernel's own checks), and at dump by ``ir.ops.validate_node``. The hostile
graphs are built with ``ir.Graph`` and then edited behind its back, so that only the native
validation stands between them and the kernels.
"""

import numpy as np
import pytest

import mle_runtime as mle
from mle_runtime import FormatError, _native
from mle_runtime.format import writer
from mle_runtime.ir import Graph
from mle_runtime.ir.ops import validate_node

W = np.array([[1.0, -2.0, 0.5], [0.0, 1.0, 1.0]])


def graph():
    """X (3 columns) -> Linear -> Softmax -> NormalizeRows(zero_rows="keep")."""
    g = Graph("LogisticRegression", 3)
    t = [g.tensor(W, "float64"), g.tensor([0.5, -0.5], "float64"), g.tensor([1, 2], "int64")]
    v = g.add("Linear", ["X"], weight=t[0], bias=t[1])
    p = g.add("Softmax", [v])
    q = g.add("NormalizeRows", [p], zero_rows="keep")
    g.output("predict_proba", q)
    g.output("decision_function", v)
    return g


def node(g, op):
    return next(n for n in g.nodes if n.op == op)


def refused(g, tmp_path, *fragments):
    """Both load entry points refuse the graph with FormatError naming every fragment."""
    data = writer.encode({}, g)
    path = tmp_path / "hostile.mle"
    path.write_bytes(data)
    for load in (lambda: _native.load_buffer(data), lambda: mle.load(path)):
        with pytest.raises(FormatError) as info:
            load()
        for frag in fragments:
            assert frag in str(info.value), (frag, str(info.value))


def test_the_unedited_graph_loads():
    m = _native.load_buffer(writer.encode({}, graph()))
    X = np.array([[1.0, 2.0, 3.0]])
    d = X @ W.T + [0.5, -0.5]
    np.testing.assert_allclose(m.run(X, m.outputs["decision_function"]), d)


def edit_unknown_attribute(g):
    node(g, "Softmax").attrs["axis"] = 1


def edit_misspelt_attribute(g):
    node(g, "Linear").attrs["biass"] = node(g, "Linear").attrs.pop("bias")


def edit_value_outside_the_set(g):
    node(g, "NormalizeRows").attrs["zero_rows"] = "zero"


def edit_value_of_wrong_case(g):
    node(g, "NormalizeRows").attrs["zero_rows"] = "Keep"


def edit_bool_as_number(g):
    node(g, "Linear").attrs["follow_input_dtype"] = 1


def edit_tensor_of_wrong_dtype(g):
    node(g, "Linear").attrs["bias"] = 2  # the int64 tensor


def edit_tensor_index_as_string(g):
    node(g, "Linear").attrs["weight"] = "0"


def edit_required_missing(g):
    del node(g, "NormalizeRows").attrs["zero_rows"]


def edit_two_inputs(g):
    node(g, "Softmax").inputs.append("X")


@pytest.mark.parametrize("edit, fragments", [
    (edit_unknown_attribute, ["graph node 1 (Softmax)", "unknown attribute 'axis'", "none"]),
    (edit_misspelt_attribute, ["graph node 0 (Linear)", "unknown attribute 'biass'",
                               "weight, bias, follow_input_dtype"]),
    (edit_value_outside_the_set, ["graph node 2 (NormalizeRows)",
                                  "'zero_rows' must be 'uniform', 'keep' or 'divide', got 'zero'"]),
    (edit_value_of_wrong_case, ["'zero_rows' must be 'uniform', 'keep' or 'divide', got 'Keep'"]),
    (edit_bool_as_number, ["'follow_input_dtype' must be a boolean"]),
    (edit_tensor_of_wrong_dtype, ["tensor 'bias' must be float64, got int64"]),
    (edit_tensor_index_as_string, ["'weight' is not a valid tensor index"]),
    (edit_required_missing, ["'zero_rows' must be one of 'uniform', 'keep' or 'divide'"]),
    (edit_two_inputs, ["graph node 1 (Softmax)", "expects 1 input(s), got 2"]),
])
def test_node_outside_its_schema_is_refused_at_load(tmp_path, edit, fragments):
    g = graph()
    edit(g)
    refused(g, tmp_path, *fragments)


@pytest.mark.parametrize("edit, fragment", [
    (edit_unknown_attribute, "no attribute 'axis'"),
    (edit_misspelt_attribute, "no attribute 'biass'"),
    (edit_value_outside_the_set, "'zero_rows' must be one of 'uniform', 'keep', 'divide', got 'zero'"),
    (edit_value_of_wrong_case, "got 'Keep'"),
    (edit_bool_as_number, "'follow_input_dtype' must be a bool"),
    (edit_tensor_index_as_string, "'weight' must be a tensor index"),
    (edit_required_missing, "needs attribute 'zero_rows'"),
    (edit_two_inputs, "takes 1 input(s), got 2"),
])
def test_the_same_nodes_are_refused_at_dump(edit, fragment):
    """ir.ops.validate_node (called by Graph.add) refuses each of these nodes."""
    g = graph()
    edit(g)
    bad = [n for n in g.nodes if n.op in ("Linear", "Softmax", "NormalizeRows")]
    with pytest.raises(ValueError) as info:
        for n in bad:
            validate_node(n.op, len(n.inputs), n.attrs, len(g.tensors))
    assert fragment in str(info.value)


def test_null_attributes_count_as_absent():
    """JSON null is the same as leaving the attribute out (FORMAT.md section 11), for optional
    attributes; a required one must still be present."""
    g = graph()
    node(g, "Linear").attrs.update(bias=None, follow_input_dtype=None)
    m = _native.load_buffer(writer.encode({}, g))
    X = np.array([[1.0, 2.0, 3.0]])
    np.testing.assert_allclose(m.run(X, m.outputs["decision_function"]), X @ W.T)
    node(g, "NormalizeRows").attrs["zero_rows"] = None
    with pytest.raises(FormatError, match="zero_rows"):
        _native.load_buffer(writer.encode({}, g))


def test_every_enumerated_value_of_the_tree_ensemble_is_checked(tmp_path):
    """TreeEnsemble's string attributes (compare, aggregate, node_format, accumulate and the
    category rule's aspects) accept only their listed values, even where the kernel would not
    read them (a category rule without categorical nodes)."""
    from mle_runtime.ir.trees import Tree, add_ensemble

    ops = dict(_native.ops())
    g = Graph("DecisionTreeRegressor", 2)
    tree = Tree(left=np.array([1, -1, -1]), right=np.array([2, -1, -1]),
                feature=np.array([0, 0, 0]), threshold=np.array([0.5, 0, 0]),
                leaf_value=np.array([[0.0], [1.0], [2.0]]))
    out = add_ensemble(g, "X", [tree], n_features=2, wide=True, compare="<=", aggregate="sum")
    g.output("predict", out, ravel=True)
    m = _native.load_buffer(writer.encode({}, g))
    np.testing.assert_array_equal(m.run(np.array([[0.0, 0], [1, 0]]), 0).ravel(), [1.0, 2.0])
    ens = g.nodes[-1].attrs
    for key, kind in ops["TreeEnsemble"]["attrs"].items():
        if not isinstance(kind, tuple):
            continue
        name = key.rstrip("?")
        saved = ens.get(name)
        ens[name] = kind[0] + "x"
        refused(g, tmp_path, f"'{name}' must be", f"got '{kind[0]}x'")
        if saved is None:
            del ens[name]
        else:
            ens[name] = saved


def test_a_long_hostile_name_is_cut_short_in_the_message():
    g = graph()
    node(g, "Softmax").attrs["k" * 100_000] = 1
    node(g, "NormalizeRows").attrs["zero_rows"] = "z" * 100_000
    with pytest.raises(FormatError) as info:
        _native.load_buffer(writer.encode({}, g))
    assert "unknown attribute 'kkkk" in str(info.value) and len(str(info.value)) < 300
    del node(g, "Softmax").attrs["k" * 100_000]
    with pytest.raises(FormatError) as info:
        _native.load_buffer(writer.encode({}, g))
    assert "got 'zzzz" in str(info.value) and len(str(info.value)) < 300
