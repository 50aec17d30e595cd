"""Golden bytes: two tiny hand-built graphs encoded by ``writer.encode`` must give exactly these
bytes (docs/FORMAT.md). A change to any of them is a format change: bump the version and
update docs/FORMAT.md, then these literals.

Every literal is also re-derived independently (struct decoding, a pure-Python CRC-32C), so a
failure says which part of the layout moved.
"""

import hashlib
import json
import struct

import numpy as np
import pytest

import mle_runtime as mle
from mle_runtime import _native
from mle_runtime.format import layout as L
from mle_runtime.format import writer
from mle_runtime.ir import Graph
from mle_testing import scaler_model


def crc32c_py(data, crc=0):
    """Bitwise reference CRC-32C (Castagnoli, reflected polynomial 0x82F63B78)."""
    crc ^= 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


# ------------------------------------------------------------------ golden 1: StandardScaler

SCALER = {
    "size": 512,
    "sha256": "53e88d32b0d08a2ac0e0cfa27148ada61cbb5007a1bc978039eb6c18fa53b199",
    "header": bytes.fromhex(
        "894d4c450d0a1a0a"                  # magic
        "0100" "0300"                       # major 1, minor 3
        "00000000"                          # flags
        "0002000000000000"                  # file_size 512
        "03000000"                          # section_count 3
        "69a837f2"                          # table_crc
        + "00" * 28 +                       # reserved
        "d19e53d5"                          # header_crc
    ),
    # (kind, flags, offset, size, crc, reserved)
    "table": [
        (1, 0, 160, 156, 0x4D1731BB, 0),
        (2, 0, 320, 160, 0xAB33E0B3, 0),
        (3, 0, 480, 32, 0xA2BCB9F2, 0),
    ],
    "sections": [
        b'{"mle_runtime_version":"0.0.0+golden","framework":"sklearn","framework_version":"0.0",'
        b'"model_class":"sklearn.StandardScaler","estimator_type":"transformer"}',
        b'{"name":"StandardScaler","n_features":2,"tensors":[[0,"f8",[2]],[16,"f8",[2]]],'
        b'"nodes":[["SubDiv",["X"],"v1",{"sub":0,"div":1}]],"outputs":[["transform","v1"]]}',
        struct.pack("<4d", 1.0, -2.0, 2.0, 0.5),
    ],
}


# ------------------------------------------------ golden 2: Impute -> Linear -> ArgMax

W2 = (np.arange(150, dtype=np.float64) - 75).reshape(50, 3) / 16


def imputer_model():
    g = Graph("SimpleImputer", 8)
    g.allow_nan = True
    c = g.tensor(np.array([0, 5, 7]), "int64")
    f = g.tensor(np.array([1.5, -1.0, 0.25]), "float64")
    w = g.tensor(W2, "float64")  # 1200 bytes: a "big" tensor, 64-byte aligned
    v1 = g.add("Impute", ["X"], columns=c, fill=f, missing_is_nan=True)
    v2 = g.add("Linear", [v1], weight=w)
    g.output("predict", g.add("ArgMax", [v2]), ravel=True)
    g.output("decision_function", v2)
    meta = {"model_class": "golden.ImputeLinearArgMax", "note": "caf\u00e9 \u2713"}
    return meta, g


IMPUTER = {
    "size": 1840,
    "sha256": "1cecb0b6854acbc543e8d4d2df539c1497a509a5c4d2c3bb7b18a3821339528e",
    "header": bytes.fromhex(
        "894d4c450d0a1a0a" "0100" "0300" "00000000"
        "3007000000000000"                  # file_size 1840
        "03000000" "ccda01a2" + "00" * 28 + "b980f80e"
    ),
    "table": [
        (1, 0, 160, 62, 0x4C3CE6FD, 0),
        (2, 0, 224, 309, 0x00A5E418, 0),
        (3, 0, 576, 1264, 0x7E74AC21, 0),   # data section: 64-aligned (it holds a big tensor)
    ],
    "sections": [
        '{"model_class":"golden.ImputeLinearArgMax","note":"caf\u00e9 \u2713"}'.encode(),
        b'{"name":"SimpleImputer","n_features":8,"allow_nan":true,'
        b'"tensors":[[0,"i8",[3]],[24,"f8",[3]],[64,"f8",[50,3]]],'
        b'"nodes":[["Impute",["X"],"v1",{"columns":0,"fill":1,"missing_is_nan":true}],'
        b'["Linear",["v1"],"v2",{"weight":2}],["ArgMax",["v2"],"v3"]],'
        b'"outputs":[["predict","v3",true],["decision_function","v2"]]}',
        struct.pack("<3q", 0, 5, 7) + struct.pack("<3d", 1.5, -1.0, 0.25) + bytes(16)
        + W2.astype("<f8").tobytes(),
    ],
}

GOLDEN = {"scaler": (scaler_model, SCALER), "imputer": (imputer_model, IMPUTER)}


@pytest.fixture(params=sorted(GOLDEN))
def golden(request):
    build, expected = GOLDEN[request.param]
    meta, graph = build()
    return writer.encode(meta, graph), expected


def test_whole_file_sha256(golden):
    data, exp = golden
    assert len(data) == exp["size"]
    assert hashlib.sha256(data).hexdigest() == exp["sha256"]


def test_header_bytes(golden):
    data, exp = golden
    assert data[:64].hex() == exp["header"].hex()


def test_header_fields_decode_independently(golden):
    data, exp = golden
    magic, major, minor, flags, file_size, count, table_crc, reserved, header_crc = \
        struct.unpack("<8sHHIQII28sI", data[:64])
    assert magic == b"\x89MLE\r\n\x1a\n"
    assert (major, minor, flags) == (1, L.MINOR_RULES, 0)
    assert file_size == len(data)
    assert count == len(exp["table"])
    assert reserved == bytes(28)
    assert table_crc == crc32c_py(data[64:64 + 32 * count])
    assert header_crc == crc32c_py(data[:60])


def test_section_table_entries(golden):
    data, exp = golden
    entries = [struct.unpack("<IIQQII", data[64 + 32 * i:96 + 32 * i])
               for i in range(len(exp["table"]))]
    assert entries == exp["table"]
    # numpy twin reads the same
    table = np.frombuffer(data[64:64 + 32 * len(entries)], dtype=L.SECTION_DTYPE)
    assert [tuple(int(x) for x in e.tolist()) for e in table] == exp["table"]


def test_section_bytes_and_checksums(golden):
    data, exp = golden
    for (kind, _, offset, size, crc, _), payload in zip(exp["table"], exp["sections"]):
        assert data[offset:offset + size] == payload, f"section of kind {kind}"
        assert crc32c_py(payload) == crc


def test_json_sections_are_compact_utf8_objects(golden):
    data, exp = golden
    for kind, _, offset, size, _, _ in exp["table"][:2]:
        raw = data[offset:offset + size]
        obj = json.loads(raw.decode("utf-8"))
        assert isinstance(obj, dict)
        assert raw == json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def test_alignment_and_zero_padding(golden):
    data, exp = golden
    table = exp["table"]
    covered = np.zeros(len(data), dtype=bool)
    covered[:64 + 32 * len(table)] = True
    prev_end = 64 + 32 * len(table)
    for kind, _, offset, size, _, _ in table:
        assert offset % 8 == 0
        assert offset >= prev_end
        covered[offset:offset + size] = True
        prev_end = offset + size
    assert prev_end == len(data), "the file ends where its last section ends"
    gaps = np.frombuffer(data, dtype=np.uint8)[~covered]
    assert (gaps == 0).all(), "padding is zero"
    assert gaps.size < 8 * len(table) + 64


def test_tensor_alignment_inside_the_data_section(golden):
    data, exp = golden
    _, _, data_off, data_size, _, _ = exp["table"][2]
    graph = json.loads(exp["sections"][1])
    for off, dtype, shape in graph["tensors"]:
        dt = L.TENSOR_DTYPES[dtype]
        nbytes = int(np.prod(shape)) * dt.itemsize
        assert (data_off + off) % dt.itemsize == 0
        if nbytes >= L.BIG_TENSOR:
            assert (data_off + off) % 64 == 0 and data_off % 64 == 0
        assert off + nbytes <= data_size


def test_scaler_loads_and_transforms(tmp_path):
    meta, graph = scaler_model()
    data = writer.encode(meta, graph)
    path = tmp_path / "golden.mle"
    path.write_bytes(data)
    X = np.array([[3.0, 1.0], [1.0, -2.0], [-1.5, 0.25]])
    expected = (X - np.array([1.0, -2.0])) / np.array([2.0, 0.5])
    model = mle.load(path)
    assert model.n_features_in_ == 2
    assert not hasattr(model, "predict")
    np.testing.assert_array_equal(model.transform(X), expected)
    got32 = model.transform(X.astype(np.float32))
    assert got32.dtype == np.float32
    np.testing.assert_array_equal(got32, expected.astype(np.float32))
    native = _native.load_buffer(data)
    assert native.outputs == {"transform": 0} and native.n_features == 2
    np.testing.assert_array_equal(native.run(X, 0), expected)
    assert model.metadata == meta


def test_imputer_loads_and_predicts(tmp_path):
    meta, graph = imputer_model()
    path = tmp_path / "golden2.mle"
    path.write_bytes(writer.encode(meta, graph))
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 8))
    X[::7, 5] = np.nan
    X[::11, 0] = np.nan
    X[3, 3] = np.nan  # column 3 is dropped: its NaN does not matter
    kept = X[:, [0, 5, 7]].copy()
    fill = np.array([1.5, -1.0, 0.25])
    kept = np.where(np.isnan(kept), fill, kept)
    decision = kept @ W2.T
    model = mle.load(path)
    np.testing.assert_allclose(model.decision_function(X), decision, rtol=0, atol=1e-12)
    pred = model.predict(X)
    assert pred.dtype == np.int64 and pred.shape == (300,)
    np.testing.assert_array_equal(pred, np.argmax(model.decision_function(X), axis=1))
    assert model.metadata["note"] == "caf\u00e9 \u2713"
