"""One op vocabulary: the native op table (each kernel family's registered schemas, returned by
``_native.ops()``), ``mle_runtime/ir/ops.py`` and docs/FORMAT.md section 11 agree.

``ir/ops.py`` is a literal (generating it from the native table at import would cost every
``import mle_runtime``), so this test is what keeps the two in step: it fails when either side
gains or loses an op, an attribute, an attribute's kind or optionality, or an allowed value.
"""

import pathlib
import re

import pytest

from mle_runtime import _native
from mle_runtime.ir.ops import OPS

FORMAT_MD = pathlib.Path(__file__).resolve().parents[2] / "docs" / "FORMAT.md"


def differences(native, python):
    """What differs between two op tables of the ``OPS`` form, one line each."""
    out = []
    for op in sorted(set(native) | set(python)):
        if op not in python:
            out.append(f"{op}: registered natively, missing from ir/ops.py")
            continue
        if op not in native:
            out.append(f"{op}: in ir/ops.py, registered by no kernel family")
            continue
        n, p = native[op], python[op]
        if n["inputs"] != p["inputs"]:
            out.append(f"{op}: {n['inputs']} input(s) natively, {p['inputs']} in ir/ops.py")
        for key in sorted(set(n["attrs"]) | set(p["attrs"])):
            if key not in p["attrs"]:
                out.append(f"{op}.{key}: natively only")
            elif key not in n["attrs"]:
                out.append(f"{op}.{key}: in ir/ops.py only")
            elif n["attrs"][key] != p["attrs"][key]:
                out.append(f"{op}.{key}: {n['attrs'][key]!r} natively, "
                           f"{p['attrs'][key]!r} in ir/ops.py")
    return out


def test_each_op_is_registered_once():
    names = [name for name, _ in _native.ops()]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    assert len(names) >= 29


def test_ir_ops_equals_the_native_op_table():
    diff = differences(dict(_native.ops()), OPS)
    assert not diff, "the op vocabulary disagrees:\n" + "\n".join(diff)


@pytest.mark.parametrize("edit, expected", [
    (lambda t: t.update(NewOp={"inputs": 1, "attrs": {}}), "NewOp: registered natively"),
    (lambda t: t.pop("Sigmoid"), "Sigmoid: in ir/ops.py"),
    (lambda t: t["Scale"]["attrs"].update({"offset?": "number"}), "Scale.offset?: natively only"),
    (lambda t: t["Linear"]["attrs"].pop("bias?"), "Linear.bias?: in ir/ops.py only"),
    (lambda t: t["Linear"]["attrs"].update({"weight": "tensor:float32"}), "Linear.weight:"),
    (lambda t: t["NormalizeRows"]["attrs"].update({"zero_rows": ("uniform",)}),
     "NormalizeRows.zero_rows:"),
    (lambda t: t["ArgMax"]["attrs"].update({"ge": t["ArgMax"]["attrs"].pop("ge?")}),
     "ArgMax.ge"),
    (lambda t: t["Softmax"].update(inputs=2), "Softmax: 2 input(s)"),
])
def test_the_comparison_sees_every_kind_of_change(edit, expected):
    """The check above is only as good as ``differences``: a table that gained or lost an op,
    an attribute, a kind, an allowed value, optionality or an input is reported."""
    native = {op: {"inputs": s["inputs"], "attrs": dict(s["attrs"])}
              for op, s in _native.ops()}
    edit(native)
    diff = differences(native, OPS)
    assert any(expected in line for line in diff), diff


def _section_11():
    text = FORMAT_MD.read_text(encoding="utf-8")
    start = text.index("\n## 11. Ops")
    return text[start:text.index("\n## 12.", start)]


def test_format_md_section_11_names_every_op_attribute_and_value():
    text = _section_11()
    missing = []
    for op, schema in dict(_native.ops()).items():
        if f"**`{op}`**" not in text:
            missing.append(f"op {op}")
        for key, kind in schema["attrs"].items():
            name = key.rstrip("?")
            if not re.search(rf"`{re.escape(name)}\??`", text):
                missing.append(f"{op} attribute {name}")
            for value in kind if isinstance(kind, tuple) else ():
                if f'"{value}"' not in text:
                    missing.append(f"{op}.{name} value {value!r}")
    assert not missing, "docs/FORMAT.md section 11 does not mention: " + ", ".join(missing)
