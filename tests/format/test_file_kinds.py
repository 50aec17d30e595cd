"""One view of a file: ``load`` (native and Python), ``inspect_model`` and the container parser
agree on what a file is. A model file (it has a graph section) that also carries envelope or
value-file sections, flagged optional so that a bare-model reader would skip them, is refused
by every entry point instead of being run as one model and described as another."""

import io

import numpy as np
import pytest

import mle_runtime as mle
from mle_runtime import _native
from mle_runtime.format import container, writer
from mle_runtime.format import layout as L
from mle_testing import scaler_model

X = np.array([[1.0, 2.0], [3.0, -4.0]])


def scaler_file(sub=(1.0, -2.0)):
    """A plain model file of the golden scaler (with ``sub`` as its centre)."""
    meta, g = scaler_model()
    g.tensors[0] = np.array(sub)
    return writer.model_file(g, meta)


def envelope_of(data):
    """A compressed envelope (zlib: no optional package needed) around ``data``."""
    from mle_runtime.format import envelope

    c = container.parse(data)
    return envelope.seal(data, bytes(c.payload(c.find(L.SECTION_META))), ("zlib", 6))


def with_sections(data, sections, flags):
    """``data`` with ``sections`` ([(kind, bytes)]) appended, each with ``flags``."""
    return container.repack(container.parse(data),
                            append=[(k, b, flags) for k, b in sections])


def sections_of(data, kinds):
    c = container.parse(data)
    return [(s.kind, bytes(c.payload(s))) for s in c.sections if s.kind in kinds]


def value_bytes():
    buf = io.BytesIO()
    mle.dump({"x": np.arange(3), "model": mle.load(io.BytesIO(scaler_file()))}, buf)
    return buf.getvalue()


def mixed_files():
    """(name, bytes) of files mixing the kinds of file; each is damaged or crafted."""
    other = envelope_of(scaler_file(sub=(100.0, 100.0)))  # describes a different model
    env = sections_of(other, (L.SECTION_ENVELOPE, L.SECTION_PAYLOAD))
    val = sections_of(value_bytes(), (L.SECTION_VALUE, L.SECTION_MODEL))
    model = scaler_file()
    out = []
    for flags in (L.SECTION_OPTIONAL, 0):
        tag = "optional" if flags else "required"
        out.append((f"model+envelope ({tag})", with_sections(model, env, flags)))
        out.append((f"model+value ({tag})", with_sections(model, val[:1], flags)))
        out.append((f"model+model section ({tag})", with_sections(model, val[1:], flags)))
        out.append((f"model+pickle ({tag})",
                    with_sections(model, [(L.SECTION_PICKLE, b"\x80\x04N.")], flags)))
        out.append((f"value+envelope ({tag})", with_sections(value_bytes(), env, flags)))
    return out


MIXED = mixed_files()


@pytest.mark.parametrize("name,data", MIXED, ids=[n for n, _ in MIXED])
def test_mixed_file_is_refused_everywhere(tmp_path, name, data):
    path = tmp_path / "mixed.mle"
    path.write_bytes(data)
    attempts = {
        "mle.load(path)": lambda: mle.load(path, cache=False),
        "mle.load(file object)": lambda: mle.load(io.BytesIO(data)),
        "inspect_model": lambda: mle.inspect_model(path),
        "inspect_model(verify=True)": lambda: mle.inspect_model(path, verify=True),
        "container.parse": lambda: container.parse(data),
    }
    if name.startswith("model"):
        attempts["native load_buffer"] = lambda: _native.load_buffer(data)
    for what, attempt in attempts.items():
        with pytest.raises(mle.FormatError) as info:
            attempt()
        msg = str(info.value)
        assert "section" in msg and ("crafted" in msg or "unknown kind" in msg), (what, msg)


def test_native_loader_names_the_optional_envelope_section():
    data = dict(MIXED)["model+envelope (optional)"]
    with pytest.raises(mle.FormatError, match=r"section 3 .*kind 4 is a section of envelopes"):
        _native.load_buffer(data)


def test_plain_files_of_each_kind_still_load_and_agree(tmp_path):
    model = scaler_file()
    want = mle.load(io.BytesIO(model)).transform(X)
    for name, data in (("plain", model), ("envelope", envelope_of(model))):
        path = tmp_path / f"{name}.mle"
        path.write_bytes(data)
        np.testing.assert_array_equal(mle.load(path, cache=False).transform(X), want)
        info = mle.inspect_model(path, verify=True)
        assert info["model_class"] == "sklearn.StandardScaler"
        assert info["verified"]["checksums"] and info["verified"]["models"] == 1
    path = tmp_path / "value.mle"
    path.write_bytes(value_bytes())
    np.testing.assert_array_equal(mle.load(path)["model"].transform(X), want)
    assert mle.inspect_model(path, verify=True)["verified"]["models"] == 1


def test_unknown_optional_section_is_listed_as_such(tmp_path):
    data = with_sections(scaler_file(), [(77, b"a later version's bytes")], L.SECTION_OPTIONAL)
    path = tmp_path / "extra.mle"
    path.write_bytes(data)
    np.testing.assert_array_equal(mle.load(path).transform(X),
                                  mle.load(io.BytesIO(scaler_file())).transform(X))
    sections = mle.inspect_model(path)["sections"]
    assert sections[-1] == {"kind": 77, "size": 23, "unknown": True, "optional": True}
    assert [s["kind"] for s in sections[:-1]] == ["metadata", "graph", "tensor data"]


def flip_in_section(data, kind, at=0):
    """``data`` with one bit flipped inside the first section of ``kind`` (CRCs unchanged)."""
    c = container.parse(data)
    s = c.find(kind)
    buf = bytearray(data)
    buf[s.offset + at] ^= 0x01
    return bytes(buf)


def test_verify_finds_a_flipped_byte_that_description_does_not_read(tmp_path):
    data = flip_in_section(scaler_file(), L.SECTION_DATA, at=3)
    path = tmp_path / "flipped.mle"
    path.write_bytes(data)
    assert mle.inspect_model(path)["verified"] is None  # only the described sections
    with pytest.raises(mle.FormatError, match=r"checksum mismatch in section 2 \(tensor data\)"):
        mle.inspect_model(path, verify=True)
    with pytest.raises(mle.FormatError, match="checksum mismatch"):
        mle.load(path, cache=False)


def test_verify_checks_the_inner_file_of_an_envelope(tmp_path):
    """A payload whose checksum is valid but whose inner model is invalid (here: the inner
    file's own tensor data checksum is wrong) is found by verify, as load finds it."""
    from mle_runtime.format import envelope

    inner = flip_in_section(scaler_file(), L.SECTION_DATA, at=3)
    c = container.parse(scaler_file())
    data = envelope.seal(inner, bytes(c.payload(c.find(L.SECTION_META))), ("zlib", 6))
    with pytest.raises(mle.FormatError, match="checksum mismatch"):
        mle.inspect_model(data, verify=True)
    with pytest.raises(mle.FormatError, match="checksum mismatch"):
        mle.load(io.BytesIO(data))


def test_verify_decodes_a_stored_value_as_load_does():
    """A value section with valid checksums but a malformed tree: load refuses it, and so does
    verify (a description alone does not decode the tree)."""
    c = container.parse(value_bytes())
    bad = container.repack(c, replace={L.SECTION_VALUE: b'{"root":["moon",1]}'})
    with pytest.raises(mle.FormatError, match="value section") as from_load:
        mle.load(io.BytesIO(bad))
    with pytest.raises(mle.FormatError) as from_verify:
        mle.inspect_model(bad, verify=True)
    assert str(from_verify.value) == str(from_load.value)
    assert mle.inspect_model(bad)["verified"] is None
    good = mle.inspect_model(value_bytes(), verify=True)["verified"]
    assert good == {"checksums": True, "models": 1, "signature": None, "value": True,
                    "unchecked": []}


def test_verify_says_what_it_could_not_check():
    buf = io.BytesIO()
    mle.dump({"f": print}, buf, allow_pickle=True)  # a builtin function: pickled
    v = mle.inspect_model(buf.getvalue(), verify=True)["verified"]
    assert v["value"] is None and any("allow_pickle=True" in u for u in v["unchecked"])


@pytest.mark.parametrize("key,value", [("nodes", 1), ("tensors", True), ("outputs", "x"),
                                       ("nodes", [1, [2], []])])
def test_inspect_describes_malformed_graph_records_without_crashing(key, value):
    """inspect_model reads a file it has not verified: records that are not lists are left
    out of the description (not a TypeError); verifying refuses the file as load does."""
    meta, g = scaler_model()
    blob, offsets, align = writer.pack_tensors(g.tensors)
    graph = g.to_json(offsets)
    graph[key] = value
    data = writer.pack_sections([(L.SECTION_META, writer.encode_json(meta)),
                                 (L.SECTION_GRAPH, writer.encode_json(graph)),
                                 (L.SECTION_DATA, blob, align)])
    info = mle.inspect_model(io.BytesIO(data))
    assert isinstance(info["graph"]["ops"], dict)
    with pytest.raises(mle.FormatError):
        mle.load(io.BytesIO(data))
    with pytest.raises(mle.FormatError):
        mle.inspect_model(io.BytesIO(data), verify=True)
