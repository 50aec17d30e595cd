"""mle_runtime.ir.ops: the op schemas and node validation; mle_runtime.ir.graph."""

import numpy as np
import pytest

from mle_runtime.ir.graph import Graph
from mle_runtime.ir.ops import METHODS, OPS, validate_node

KINDS = ("bool", "number", "string")


def test_every_schema_is_well_formed():
    for op, schema in OPS.items():
        assert set(schema) == {"inputs", "attrs"}, op
        assert isinstance(schema["inputs"], int) and (schema["inputs"] >= 1
                                                      or schema["inputs"] == -1), op
        for key, kind in schema["attrs"].items():
            assert key.rstrip("?") and "?" not in key.rstrip("?"), (op, key)
            if isinstance(kind, tuple):  # the values a string attribute may take
                assert kind and len(set(kind)) == len(kind), (op, key, kind)
                assert all(isinstance(v, str) and v for v in kind), (op, key, kind)
            elif kind.startswith("tensor:"):
                np.dtype(kind.split(":", 1)[1])  # a real numpy dtype name
            else:
                assert kind in KINDS, (op, key, kind)


def test_unknown_op_and_wrong_arity_are_refused():
    with pytest.raises(ValueError, match="unknown op 'Nope'"):
        validate_node("Nope", 1, {}, 0)
    with pytest.raises(ValueError, match="takes 1 input"):
        validate_node("Sigmoid", 2, {}, 0)


def test_attribute_kinds_are_checked():
    with pytest.raises(ValueError, match="no attribute 'factr'"):
        validate_node("Scale", 1, {"factr": 1.0}, 0)
    with pytest.raises(ValueError, match="needs attribute 'factor'"):
        validate_node("Scale", 1, {}, 0)
    with pytest.raises(ValueError, match="'factor' must be a number"):
        validate_node("Scale", 1, {"factor": True}, 0)
    with pytest.raises(ValueError, match="'ge' must be a bool"):
        validate_node("ArgMax", 1, {"ge": 1}, 0)
    with pytest.raises(ValueError, match="'norm' must be one of 'l1', 'l2', 'max', got 2"):
        validate_node("Normalize", 1, {"norm": 2}, 0)
    with pytest.raises(ValueError, match="'norm' must be one of 'l1', 'l2', 'max', got 'l3'"):
        validate_node("Normalize", 1, {"norm": "l3"}, 0)
    with pytest.raises(ValueError, match="'weight' must be a tensor index"):
        validate_node("Linear", 1, {"weight": True}, 3)
    validate_node("Normalize", 1, {"norm": "max"}, 0)
    with pytest.raises(ValueError, match="'weight' must be a tensor index"):
        validate_node("Linear", 1, {"weight": 3}, 3)
    validate_node("Linear", 1, {"weight": 2}, 3)
    validate_node("ArgMax", 1, {}, 0)  # optional attributes may be left out


def test_graph_add_validates_and_drops_none_attributes():
    g = Graph("m", 2)
    w = g.tensor(np.ones((1, 2)), "float64")
    v = g.add("Linear", ["X"], weight=w, bias=None)
    assert g.nodes[-1].attrs == {"weight": w} and v == "v1"
    with pytest.raises(ValueError, match="must be finite"):
        g.add("Scale", [v], factor=float("nan"))
    with pytest.raises(ValueError, match="tensor index"):
        g.add("Linear", [v], weight=5)


def test_graph_tensors_convert_exactly_or_refuse():
    g = Graph("m", 1)
    assert g.tensors == [] and g.tensor([1, 2], "int32") == 0
    assert g.tensors[0].dtype == np.dtype("<i4")
    with pytest.raises(ValueError, match="exactly"):
        g.tensor([0.1], "float32")
    with pytest.raises(ValueError, match="exactly"):
        g.tensor([2**40], "int32")
    with pytest.raises(ValueError, match="not storable"):
        g.tensor([1], "complex128")


def test_graph_outputs_are_unique_method_records():
    g = Graph("m", 1)
    g.output("predict", "X", ravel=True)
    with pytest.raises(ValueError, match="duplicate graph output"):
        g.output("predict", "X")
    assert g.to_json([])["outputs"] == [["predict", "X", True]]
    assert "predict" in METHODS and "transform" in METHODS
