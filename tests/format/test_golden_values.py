"""Golden bytes of a value file (docs/FORMAT.md, section 17): a fixed value must give exactly
this value section and tensor data, in a 1.2 container with the sections in the documented
order. A change here is a format change: update docs/FORMAT.md and these literals together."""

import datetime
import io
import json
import struct

import numpy as np
import pytest

import mle_runtime as mle
from mle_runtime.format import container
from mle_runtime.format import layout as L

VALUE_JSON = (
    b'{"root":["dict",{"name":"golden","t":["tuple",1,2.5,null,true],"b":["bytes",0,2],'
    b'"a":["array","<i2",[2,2],16,"C"],"when":["date",2020,1,2],'
    b'"big":["int","400000000000000000"],"s":["set",1,2]}],"memo":5}')
# arrays start at multiples of 16 (as joblib aligns them; 64 from 1 KiB)
DATA = bytes.fromhex("6162000000000000" "0000000000000000" "0100020003000400")


def golden_value():
    return {"name": "golden", "t": (1, 2.5, None, True), "b": b"ab",
            "a": np.array([[1, 2], [3, 4]], dtype="<i2"), "when": datetime.date(2020, 1, 2),
            "big": 2 ** 70, "s": {2, 1}}


@pytest.fixture
def golden_bytes(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    buf = io.BytesIO()
    mle.dump(golden_value(), buf)
    return buf.getvalue()


def test_value_file_layout(golden_bytes):
    data = golden_bytes
    assert data[:8] == L.MAGIC
    assert struct.unpack_from("<HH", data, 8) == (1, 2)  # version 1.2
    c = container.parse(data)
    assert [s.kind for s in c.sections] == [L.SECTION_META, L.SECTION_VALUE, L.SECTION_DATA]
    assert all(s.flags == 0 for s in c.sections)  # value and data are required sections
    assert c.find(L.SECTION_DATA).offset % 64 == 0
    assert bytes(c.payload(c.find(L.SECTION_VALUE))) == VALUE_JSON
    assert bytes(c.payload(c.find(L.SECTION_DATA))) == DATA
    meta = json.loads(bytes(c.payload(c.find(L.SECTION_META))))
    assert meta["kind"] == "value" and meta["created"] == "1970-01-01T00:00:00Z"
    assert meta["contents"] == {"type": "dict", "arrays": 1, "models": [], "pickled": []}
    import hashlib

    h = hashlib.sha256()
    for kind in (L.SECTION_VALUE, L.SECTION_DATA):
        payload = bytes(c.payload(c.find(kind)))
        h.update(len(payload).to_bytes(8, "little") + payload)
    assert meta["content_hash"] == "sha256:" + h.hexdigest()


def test_golden_value_loads_back(golden_bytes):
    back = mle.load(io.BytesIO(golden_bytes))
    want = golden_value()
    assert back.keys() == want.keys()
    for k in want:
        if k == "a":
            assert back[k].dtype == want[k].dtype and np.array_equal(back[k], want[k])
        else:
            assert back[k] == want[k] and type(back[k]) is type(want[k])


def test_bare_model_readers_refuse_value_files(golden_bytes, tmp_path):
    """The native model loader refuses a value file, saying what it is (a reader of an
    earlier version refuses it as a required section of unknown kind, FORMAT.md section 5)."""
    from mle_runtime import _native

    with pytest.raises(mle.FormatError, match="a value file .*not a plain model file"):
        _native.load_buffer(golden_bytes)
    assert _native.load_buffer_or_kind(golden_bytes) == "value"


def test_files_of_earlier_writers_still_load(golden_bytes):
    """Before format 1.4 the writer placed small arrays at multiples of 8: the same value
    with the array at offset 8 of the tensor data (the 1.2 golden bytes) loads the same."""
    from mle_runtime.format import writer

    old_json = VALUE_JSON.replace(b'"a":["array","<i2",[2,2],16,"C"]',
                                  b'"a":["array","<i2",[2,2],8,"C"]')
    old_data = DATA[:8] + DATA[16:]
    c = container.parse(golden_bytes)
    meta = bytes(c.payload(c.find(L.SECTION_META)))
    old = writer.pack_sections([(L.SECTION_META, meta), (L.SECTION_VALUE, old_json),
                                (L.SECTION_DATA, old_data, 64)], minor=L.MINOR_VALUES)
    back = mle.load(io.BytesIO(old))
    assert back["a"].dtype == np.dtype("<i2")
    np.testing.assert_array_equal(back["a"], golden_value()["a"])
    assert back["b"] == b"ab" and back["big"] == 2 ** 70
