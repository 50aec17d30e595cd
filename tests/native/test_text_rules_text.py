"""The canonical rules of a text model (docs/FORMAT.md 9.7, 9.9): the loader copies the
vocabulary's bytes from the graph section when they already are its canonical text, and
writes it again otherwise (white space, escapes, "-0"). Either way rules_json() is the same
text, byte for byte, for the same vocabulary."""

import json

import pytest

from mle_runtime import _native
from mle_runtime.format import layout as L
from mle_runtime.format import writer

from native.test_text_ops import _json, text_graph


def canonical(v):
    """The reference reader's canonical JSON of a list of strings and integers."""
    if isinstance(v, str):
        out = []
        for c in v:
            if c in '"\\':
                out.append("\\" + c)
            elif ord(c) < 0x20:
                out.append("\\u%04x" % ord(c))
            else:
                out.append(c)
        return '"' + "".join(out) + '"'
    if isinstance(v, int):
        return str(v)
    return "[" + ",".join(canonical(x) for x in v) + "]"


def _graph(terms):
    g = text_graph()
    g.inputs["text"] = dict(g.inputs["text"], vocabulary=[terms, list(range(len(terms)))[::-1]])
    graph, arrays = _json(g)
    return graph, arrays


def _load(graph_bytes, arrays):
    blob, _, align = writer.pack_tensors(arrays)
    return _native.load_buffer(writer.pack_sections([
        (L.SECTION_META, writer.encode_json({})), (L.SECTION_GRAPH, graph_bytes),
        (L.SECTION_DATA, blob, align)]))


def _check(model, vocabulary):
    text = model.rules_json()
    assert '"vocabulary":' + canonical(vocabulary) + "}" in text
    assert json.loads(text)["inputs"]["text"]["vocabulary"] == vocabulary


TERMS = ["", "a", "b\u00e9", "c", "d\u4e2d", "e", "f\U0001F600"]


@pytest.mark.parametrize("terms", [
    TERMS,
    ["a", "b", "c", "d", "e", "f"],
    ["only"],
    sorted(f"t{i:05d}" for i in range(3000)),
    ["a\"q", "b\\s", "c\nl", "d\x01", "e/", "f\x7f"],  # written with escapes: copied no more
    # long terms (written eight bytes at a time) with a byte to escape at every position
    sorted({"w" * k + c + "\u00e9" * (k % 3) + "z" * (20 - k) for k in range(21) for c in '"\\\t'}),
])
def test_written_vocabularies_give_the_canonical_text(terms):
    graph, arrays = _graph(terms)
    _check(_load(writer.encode_json(graph), arrays), graph["inputs"]["text"]["vocabulary"])


def _spell(raw, old, new):
    assert raw.count(old) == 1
    return raw.replace(old, new)


# Other spellings of ``TERMS``' vocabulary [["", "a", ...], [6, 5, ..., 0]]: the same values.
SPELLINGS = [
    ('"vocabulary":[[', '"vocabulary": [ [ '),
    ('"vocabulary":[["","a"', '"vocabulary":[["" , "a"'),
    ('"a"', '"\\u0061"'),
    ('"c"', '"\\u0063"'),
    ('"e"', '"\\u0065"'),
    ('"f\U0001F600"]', '"f\\ud83d\\ude00"]'),
    ('"f\U0001F600"]', '"f\U0001F600" ]'),
    ('],[6,', '], [6,'),
    ('],[6,', '],[ 6,'),
    (',3,', ', 3,'),
    (',1,0]]', ',1,-0]]'),
    (',1,0]]', ',1,0 ]]'),
    (',1,0]]', ',1,0] ]'),
]


@pytest.mark.parametrize("old, new", SPELLINGS)
def test_other_spellings_give_the_same_text(old, new):
    graph, arrays = _graph(TERMS)
    raw = writer.encode_json(graph).decode()
    expected = _load(raw.encode(), arrays).rules_json()
    model = _load(_spell(raw, old, new).encode(), arrays)
    assert model.rules_json() == expected
    _check(model, graph["inputs"]["text"]["vocabulary"])


def test_escaped_first_term():
    graph, arrays = _graph(["a", "b", "c"])
    raw = writer.encode_json(graph).decode()
    expected = _load(raw.encode(), arrays).rules_json()
    for old, new in [('[["a"', '[["\\u0061"'), ('"c"]', '"\\u0063"]'), ('"b"', '"\\u0062"')]:
        assert _load(_spell(raw, old, new).encode(), arrays).rules_json() == expected
