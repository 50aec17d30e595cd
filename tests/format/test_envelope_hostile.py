"""Hostile envelopes (docs/FORMAT.md 16.2 and 18), each built here from a tiny model: declared
sizes judged against the codec and the load budget before anything is expanded, one stream
per payload (no trailing frames, members or streams), quantisation entries that may not alias
code bytes, inner files that may not be signed or be envelopes, and missing optional packages
reported as such rather than as corruption."""

import io
import json
import lzma
import os
import struct
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from mle_testing import scaler_model

import mle_runtime as mle
from mle_runtime import FormatError
from mle_runtime.format import compression, container, crypto, envelope, quantization, writer
from mle_runtime.format import layout as L
from mle_runtime.format.budget import LoadBudget
from mle_runtime.format.writer import encode_json, pack_sections

X2 = np.array([[1.0, 2.0], [3.0, -4.0]])


@pytest.fixture(scope="module")
def inner():
    """A plain model file (the golden scaler) to put inside envelopes."""
    meta, graph = scaler_model()
    return writer.encode(meta, graph)


def _envelope(inner_size, payload, method=None, extra=None, meta=b"{}"):
    env = {"inner_size": inner_size}
    if method is not None:
        env["compression"] = {"method": method, "level": 3}
    env.update(extra or {})
    return pack_sections([(L.SECTION_META, meta), (L.SECTION_ENVELOPE, encode_json(env)),
                          (L.SECTION_PAYLOAD, payload)], minor=L.MINOR_EXTENDED)


def _load(data, **kw):
    return mle.load(io.BytesIO(data), **kw)


def test_the_untampered_envelopes_load(inner):
    for method in compression.METHODS:
        for level in (1, 9):  # xz/lzma -9: a 64 MiB dictionary, within LZMA_MEMLIMIT
            packed = compression.compress(inner, method, level)
            model = _load(_envelope(len(inner), packed, method))
            np.testing.assert_allclose(model.transform(X2), (X2 - [1.0, -2.0]) / [2.0, 0.5])
    _load(_envelope(len(inner), inner))


# ---------------------------------------------------------------- declared sizes, bombs

class Expanded(BaseException):
    """Raised by the codecs under ``no_expansion`` (a BaseException: no handler hides it)."""


@pytest.fixture
def no_expansion(monkeypatch):
    """Fails the test if anything is decompressed."""
    def boom(*args, **kwargs):
        raise Expanded("the payload was decompressed before its size was judged")

    monkeypatch.setattr(compression, "_zstd_decompress", boom)
    monkeypatch.setattr(compression, "_stream_decompress", boom)


@pytest.mark.parametrize("method", compression.METHODS)
def test_honest_bomb_is_charged_to_the_budget_before_expanding(method, no_expansion):
    # 16 MiB of zeros, declared honestly: more than this load may allocate
    size = 1 << 24
    data = _envelope(size, compression.compress(bytes(size), method, 9), method)
    with pytest.raises(FormatError, match="would allocate .*decompressed"):
        _load(data, memory_limit=8 << 20)


@pytest.mark.parametrize("method", compression.METHODS)
def test_honest_bomb_under_the_default_budget(method, no_expansion):
    # 1 GiB declared from 4 KiB: far beyond 32 x the file + 64 MiB (bz2 reaches ~850,000:1,
    # so such a file can be real); refused before a byte is decompressed
    payload = compression.compress(bytes(1 << 20), method, 9)[:64] + bytes(4096)
    with pytest.raises(FormatError, match="would allocate|can expand to at most"):
        _load(_envelope(1 << 30, payload, method))


@pytest.mark.parametrize("method", ["gzip", "zlib", "zstd"])
def test_declared_size_beyond_the_codec_ratio(method, no_expansion):
    ratio = compression.MAX_RATIO[method]
    payload = bytes(100)
    with pytest.raises(FormatError, match=f"at most {ratio * 100} \\({ratio}:1\\)"):
        _load(_envelope(ratio * 100 + 1, payload, method), memory_limit=1 << 40)
    # the bound itself is allowed through to the budget (and then to the codec)
    with pytest.raises(Expanded):
        _load(_envelope(ratio * 100, payload, method), memory_limit=1 << 40)


@pytest.mark.parametrize("method, log2_size", [("zstd", 26), ("zlib", 24), ("gzip", 24)])
def test_the_stated_ratios_hold(method, log2_size):
    """MAX_RATIO is a real bound of each codec: zeros, its best case, stay below it."""
    data = bytes(1 << log2_size)
    assert len(data) <= compression.MAX_RATIO[method] * len(compression.compress(data, method, 9))


def test_zstd_frame_content_size_must_match(inner):
    payload = compression.compress(inner, "zstd", 3)
    with pytest.raises(FormatError, match="frame declares"):
        _load(_envelope(len(inner) + 64, payload, "zstd"))


@pytest.mark.parametrize("compress", [0, 3])
def test_encrypted_payload_sizes_are_judged_before_decrypting(compress, inner, monkeypatch):
    def no_decrypt(*args, **kwargs):
        raise AssertionError("decrypted before the declared size was judged")

    monkeypatch.setattr(crypto, "decrypt", no_decrypt)
    method = "zstd" if compress else None
    payload = bytes(4096 + 16)  # ciphertext and tag
    enc = {"encryption": {"cipher": "AES-256-GCM", "nonce": "00" * 12,
                          "kdf": {"name": "none"}}}
    size = 1 << 30 if compress else 4097
    with pytest.raises(FormatError, match="would allocate|at most|payload has 4096"):
        _load(_envelope(size, payload, method, enc), encryption_key=bytes(32))


def test_scrypt_memory_is_charged_before_deriving(monkeypatch):
    """A passphrase file may ask for scrypt parameters up to 1 GiB of memory (the format's
    cap); the memory is charged to the load's budget before the key is derived."""
    from cryptography.hazmat.primitives.kdf import scrypt

    def no_scrypt(*args, **kwargs):
        raise AssertionError("scrypt ran before its memory was charged")

    monkeypatch.setattr(scrypt, "Scrypt", no_scrypt)
    enc = {"encryption": {"cipher": "AES-256-GCM", "nonce": "00" * 12,
                          "kdf": {"name": "scrypt", "salt": "00" * 16, "n": 1 << 17, "r": 8,
                                  "p": 1}}}
    data = _envelope(64, bytes(64 + 16), extra=enc)
    with pytest.raises(FormatError, match="would allocate .*scrypt"):
        _load(data, encryption_key="passphrase")


# ---------------------------------------------------------------- one stream per payload

def _skippable(n=8):
    return struct.pack("<II", 0x184D2A50, n) + bytes(n)


@pytest.mark.parametrize("method, trailer", [
    ("zstd", lambda c, d: c + _skippable()),
    ("zstd", lambda c, d: c + compression.compress(b"x" * 10, "zstd", 3)),
    ("zstd", lambda c, d: c + b"\x00"),
    ("zlib", lambda c, d: c + compression.compress(b"x", "zlib", 3)),
    ("gzip", lambda c, d: c + compression.compress(b"x", "gzip", 3)),  # a second member
    ("bz2", lambda c, d: c + compression.compress(b"x", "bz2", 3)),  # a second stream
    ("xz", lambda c, d: c + compression.compress(b"x", "xz", 3)),  # concatenated streams
    ("xz", lambda c, d: c + bytes(4)),  # stream padding
    ("lzma", lambda c, d: c + b"junk"),
])
def test_trailing_data_after_the_stream_is_refused(method, trailer, inner):
    packed = compression.compress(inner, method, 3)
    data = _envelope(len(inner), trailer(packed, inner), method)
    with pytest.raises(FormatError, match="trailing"):
        _load(data)


def test_trailing_member_hiding_more_data_is_refused(inner):
    """Stdlib readers (gzip.decompress, lzma.decompress) would join these; an envelope holds
    exactly its declared inner file."""
    import gzip

    two = gzip.compress(inner) + gzip.compress(inner)
    assert gzip.decompress(two) == inner + inner
    with pytest.raises(FormatError, match="trailing"):
        _load(_envelope(len(inner), two, "gzip"))
    xz = compression.compress(inner, "xz", 3) * 2
    assert lzma.decompress(xz) == inner + inner
    with pytest.raises(FormatError, match="trailing"):
        _load(_envelope(len(inner), xz, "xz"))


# ---------------------------------------------------------------- what an inner file may be

@pytest.mark.parametrize("method", [None, "zstd"])
def test_signed_inner_file_is_refused(method, inner):
    signed = crypto.sign_file_bytes(inner, crypto.generate_private_key())
    mle.load(io.BytesIO(signed))  # fine on its own
    payload = compression.compress(signed, method, 3) if method else signed
    with pytest.raises(FormatError, match="inside the envelope has a signature section"):
        _load(_envelope(len(signed), payload, method))


def test_inner_file_with_envelope_sections_is_refused(inner):
    # a model file that also carries (optional) envelope and payload sections
    c = container.parse(inner)
    odd = container.repack(c, append=[(L.SECTION_ENVELOPE, b"{}", L.SECTION_OPTIONAL),
                                      (L.SECTION_PAYLOAD, b"", L.SECTION_OPTIONAL)])
    # refused by the envelope's check of the inner file, or already by the container reader
    # (a model file may not carry envelope sections at all)
    with pytest.raises(FormatError, match="inside the envelope (has an? (envelope|payload) "
                                          "section|is invalid: .*envelope, payload section)"):
        _load(_envelope(len(odd), compression.compress(odd, "zstd", 3), "zstd"))


def test_signed_value_file_inside_an_envelope_is_refused(tmp_path):
    key = crypto.generate_private_key()
    mle.dump({"a": [1, 2, 3]}, tmp_path / "v.mle", sign_with=key)
    signed = (tmp_path / "v.mle").read_bytes()
    assert mle.load(tmp_path / "v.mle") == {"a": [1, 2, 3]}
    with pytest.raises(FormatError, match="signature section"):
        _load(_envelope(len(signed), compression.compress(signed, "zlib", 3), "zlib"))


# ---------------------------------------------------------------- quantised envelopes

@pytest.fixture(scope="module")
def quantized(tmp_path_factory):
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge

    X, y = load_diabetes(return_X_y=True)
    path = tmp_path_factory.mktemp("q") / "q.mle"
    mle.dump(Ridge().fit(X, y), path, quantize="int8")
    return path.read_bytes(), X


def _requantized(data, change_inner, change_entries):
    """``data`` (a quantised envelope) with its inner graph and quantisation entries
    changed, re-sealed with valid checksums (zstd)."""
    c = container.parse(data)
    env = c.json(L.SECTION_ENVELOPE)
    ic = container.parse(bytes(c.payload(c.find(L.SECTION_PAYLOAD))))
    graph = ic.json(L.SECTION_GRAPH)
    change_inner(graph)
    change_entries(env["quantization"], graph)
    new_inner = container.repack(ic, replace={L.SECTION_GRAPH: encode_json(graph)})
    env["inner_size"] = len(new_inner)
    env["compression"] = {"method": "zstd", "level": 3}
    return pack_sections([(L.SECTION_META, bytes(c.payload(c.find(L.SECTION_META)))),
                          (L.SECTION_ENVELOPE, encode_json(env)),
                          (L.SECTION_PAYLOAD, compression.compress(new_inner, "zstd", 3))],
                         minor=L.MINOR_EXTENDED)


def _aliases(k):
    """Adds ``k`` tensors aliasing the first quantised tensor's codes, each listed for
    dequantisation (every alias would be restored again: ``8 x`` the codes per alias)."""
    def change_inner(graph):
        graph["_first"] = None

    def change_entries(entries, graph):
        graph.pop("_first")
        first = entries[0]
        for _ in range(k):
            graph["tensors"].append(list(graph["tensors"][first["index"]]))
            entries.append(dict(first, index=len(graph["tensors"]) - 1))

    return change_inner, change_entries


def test_quantized_round_trip_still_loads(quantized):
    data, X = quantized
    same = _requantized(data, lambda g: None, lambda e, g: None)
    np.testing.assert_array_equal(_load(same).predict(X), _load(data).predict(X))


def test_aliased_quantized_tensors_are_refused(quantized):
    data, _ = quantized
    with pytest.raises(FormatError, match="share code bytes"):
        _load(_requantized(data, *_aliases(3)))


def test_partly_overlapping_code_ranges_are_refused(quantized):
    data, _ = quantized

    def change_entries(entries, graph):
        first = entries[0]
        off, _, (nbytes,) = graph["tensors"][first["index"]]
        assert nbytes >= 2
        graph["tensors"].append([off + 1, "u1", [nbytes - 1]])
        entries.append({"index": len(graph["tensors"]) - 1, "scheme": "int8",
                        "shape": [nbytes - 1], "scale": 1.0, "zero_point": 0})

    with pytest.raises(FormatError, match="share code bytes"):
        _load(_requantized(data, lambda g: None, change_entries))


def test_dequantised_bytes_are_charged_before_allocating(quantized):
    data, X = quantized
    c = container.parse(data)
    env = c.json(L.SECTION_ENVELOPE)
    inner_bytes = bytes(c.payload(c.find(L.SECTION_PAYLOAD)))
    budget = LoadBudget(len(data), limit=len(inner_bytes) + 64)
    with pytest.raises(FormatError, match="would allocate .*dequantised"):
        quantization.dequantize_inner(inner_bytes, env["quantization"], budget=budget)
    assert budget.used > budget.limit  # refused at the charge, before the allocation
    # the whole load fits the default budget, and everything restored was counted
    budget = LoadBudget(len(data))
    restored = envelope.open_inner(c, budget=budget)
    assert budget.used >= len(restored) + 8 * 10  # ten int8 weights restored to float64


def test_large_quantized_tensor_within_default_budget_is_refused_past_it(quantized):
    """A quantised tensor of 8 MiB of zero codes compresses to almost nothing; restoring it
    (64 MiB of float64) and the inner file exceed the default budget of the small file."""
    data, _ = quantized
    c = container.parse(data)
    env = c.json(L.SECTION_ENVELOPE)
    ic = container.parse(bytes(c.payload(c.find(L.SECTION_PAYLOAD))))
    graph = ic.json(L.SECTION_GRAPH)
    n = 8 << 20
    old = bytes(ic.payload(ic.find(L.SECTION_DATA)))
    pos = L.align_up(len(old), 64)
    graph["tensors"].append([pos, "u1", [n]])
    env["quantization"].append({"index": len(graph["tensors"]) - 1, "scheme": "int8",
                                "shape": [n], "scale": 1.0, "zero_point": 0})
    new_inner = container.repack(ic, replace={L.SECTION_GRAPH: encode_json(graph),
                                              L.SECTION_DATA: old + bytes(pos - len(old) + n)})
    env["inner_size"] = len(new_inner)
    env["compression"] = {"method": "zstd", "level": 3}
    bomb = pack_sections([(L.SECTION_META, bytes(c.payload(c.find(L.SECTION_META)))),
                          (L.SECTION_ENVELOPE, encode_json(env)),
                          (L.SECTION_PAYLOAD, compression.compress(new_inner, "zstd", 19))],
                         minor=L.MINOR_EXTENDED)
    assert len(bomb) < 8192
    with pytest.raises(FormatError, match="would allocate .*dequantised"):
        _load(bomb)


# ---------------------------------------------------------------- missing optional packages

MISSING = textwrap.dedent(r"""
    import io, json, os, sys
    sys.modules[sys.argv[1]] = None  # as if the package were not installed
    import mle_runtime as mle
    from mle_runtime.format import writer
    from mle_testing import scaler_model
    loads, out_dir = json.loads(sys.argv[2]), sys.argv[3]
    out = {}

    def attempt(name, fn, written=None):
        try:
            fn()
            out[name] = None
        except Exception as e:
            out[name] = [type(e).__name__, isinstance(e, mle.MLEError),
                         isinstance(e, ImportError), str(e),
                         written is not None and os.path.exists(written)]

    for name, (path, kwargs) in loads.items():
        kwargs = {k: bytes.fromhex(v) for k, v in kwargs.items()}
        attempt("load " + name, lambda: mle.load(path, cache=False, **kwargs))
    meta, graph = scaler_model()
    plain = mle.load(io.BytesIO(writer.encode(meta, graph)))
    for name, kwargs in [("compress=3", {"compress": 3}), ("sign_with", {"sign_with": bytes(32)}),
                         ("encryption_key", {"encryption_key": bytes(32)})]:
        path = os.path.join(out_dir, name + ".mle")
        attempt("dump " + name, lambda: mle.dump(plain, path, **kwargs), path)
    attempt("generate_keys", mle.generate_keys)
    print(json.dumps(out))
""")


def _without(module, loads, tmp_path):
    """What each load of ``loads`` (``{name: (path, {keyword: hex bytes})}``) and each dump
    with an optional feature raise in a process where ``module`` cannot be imported."""
    env = dict(os.environ)
    tests = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = tests + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, "-c", MISSING, module, json.dumps(loads),
                           str(tmp_path)], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _names_the_extra(outcome, package, extra):
    assert outcome is not None, "expected an error"
    name, is_mle, is_import, msg, written = outcome
    assert (name, is_mle, is_import) == ("MissingDependencyError", True, True), outcome
    assert package in msg and f"pip install 'mle_runtime[{extra}]'" in msg, msg
    assert "corrupt" not in msg
    assert not written  # a dump that cannot be done leaves no file


def test_missing_zstandard_is_named_not_called_corruption(inner, tmp_path):
    zstd, gz = tmp_path / "z.mle", tmp_path / "g.mle"
    zstd.write_bytes(_envelope(len(inner), compression.compress(inner, "zstd", 3), "zstd"))
    gz.write_bytes(_envelope(len(inner), compression.compress(inner, "gzip", 3), "gzip"))
    got = _without("zstandard", {"zstd": (str(zstd), {}), "gzip": (str(gz), {})}, tmp_path)
    _names_the_extra(got["load zstd"], "zstandard", "compression")
    _names_the_extra(got["dump compress=3"], "zstandard", "compression")
    assert got["load gzip"] is None  # the standard-library codecs need nothing
    assert got["dump sign_with"] is None and got["dump encryption_key"] is None


def test_missing_cryptography_is_named(inner, tmp_path):
    key = crypto.generate_private_key()
    signed, encrypted = tmp_path / "s.mle", tmp_path / "e.mle"
    signed.write_bytes(crypto.sign_file_bytes(inner, key))
    c = container.parse(inner)
    encrypted.write_bytes(envelope.seal(inner, bytes(c.payload(c.find(L.SECTION_META))), None,
                                        bytes(32)))
    public = crypto.public_bytes(key.public_key()).hex()
    got = _without("cryptography", {
        "signed": (str(signed), {}),
        "signed, verified": (str(signed), {"public_key": public}),
        "encrypted": (str(encrypted), {"encryption_key": bytes(32).hex()})}, tmp_path)
    assert got["load signed"] is None  # loading without verifying needs no cryptography
    for what in ("load signed, verified", "load encrypted", "dump sign_with",
                 "dump encryption_key", "generate_keys"):
        _names_the_extra(got[what], "cryptography", "security")
    assert got["dump compress=3"] is None


def test_envelope_json_is_charged_before_parsing(inner):
    # 1 MiB of "{}," parses into ~26 MiB of dicts: charged before json.loads runs
    big = b'{"inner_size":64,"q":[' + b",".join([b"{}"] * ((1 << 20) // 3 - 20)) + b"]}"
    data = pack_sections([(L.SECTION_META, b"{}"), (L.SECTION_ENVELOPE, big),
                          (L.SECTION_PAYLOAD, bytes(64))], minor=L.MINOR_EXTENDED)
    with pytest.raises(FormatError, match="would allocate .*envelope section's parsed JSON"):
        _load(data, memory_limit=16 << 20)


def test_lzma_decoder_memory_is_limited(inner):
    """An .lzma header may ask for a dictionary of up to 4 GiB; the decoder is limited to
    LZMA_MEMLIMIT (every preset fits) and such a stream is refused before decoding."""
    packed = bytearray(compression.compress(inner, "lzma", 9))
    assert struct.unpack_from("<I", packed, 1)[0] <= 64 << 20  # the preset's dictionary
    struct.pack_into("<I", packed, 1, 1 << 31)
    assert lzma.decompress(bytes(packed), format=lzma.FORMAT_ALONE) == inner  # still valid
    with pytest.raises(FormatError, match="decoder memory limit"):
        _load(_envelope(len(inner), bytes(packed), "lzma"))


def test_inner_graph_json_is_charged_before_the_native_parser_sees_it():
    """A 16 MiB inner graph of `[0,0,...]` compresses to a few KB, but the native JSON tree
    for it would take about 32 bytes a byte: charged before the native loader parses it."""
    graph = b"[" + b"0," * ((8 << 20) - 8) + b"0]"
    inner = pack_sections([(L.SECTION_META, b"{}"), (L.SECTION_GRAPH, graph)])
    data = envelope.seal(inner, b"{}", compress=("zstd", 19))
    assert len(data) < 4096
    budget = LoadBudget(len(data))
    with pytest.raises(FormatError, match="parsing the inner model's graph"):
        envelope.open_inner(container.parse(data), budget=budget)
    assert budget.used > 32 * len(graph)
    with pytest.raises(FormatError, match="far more memory"):
        _load(data)
