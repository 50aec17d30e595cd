"""CRC-32C (Castagnoli) of the native core: known check values, chaining, and the hardware
paths (including the three-stream path for buffers of 3 x 8 KiB and more) against a pure-Python
reference."""

import numpy as np
import pytest

from mle_runtime import _native

POLY = 0x82F63B78  # reflected Castagnoli polynomial


def _table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ POLY if c & 1 else c >> 1
        t.append(c)
    return t


TABLE = _table()


def crc32c_py(data, crc=0):
    """Byte-at-a-time reference (init and final xor 0xFFFFFFFF), chainable like the native one."""
    crc ^= 0xFFFFFFFF
    t = TABLE
    for b in bytes(data):
        crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def crc32c_bitwise(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ POLY if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


# Check value of the CRC catalogue and the iSCSI test vectors of RFC 3720, B.4.
KNOWN = [
    (b"", 0x00000000),
    (b"123456789", 0xE3069283),
    (bytes(32), 0x8A9136AA),
    (b"\xff" * 32, 0x62A8AB43),
    (bytes(range(32)), 0x46DD794E),
    (bytes(range(31, -1, -1)), 0x113FDB5C),
]


@pytest.mark.parametrize("data, expected", KNOWN)
def test_known_check_values(data, expected):
    assert _native.crc32c(data) == expected
    assert crc32c_py(data) == expected
    assert crc32c_bitwise(data) == expected


def test_result_is_an_unsigned_32_bit_int():
    v = _native.crc32c(b"\xff" * 100)
    assert isinstance(v, int) and 0 <= v < 2 ** 32


@pytest.mark.parametrize("make", [bytes, bytearray, memoryview,
                                  lambda b: np.frombuffer(b, dtype=np.uint8),
                                  lambda b: np.frombuffer(b, dtype=np.float64)])
def test_accepts_any_contiguous_buffer(make):
    data = bytes(range(256)) * 4
    assert _native.crc32c(make(data)) == crc32c_py(data)


def test_single_byte_values():
    for b in range(256):
        assert _native.crc32c(bytes([b])) == crc32c_py(bytes([b]))


@pytest.mark.parametrize("n", list(range(0, 80)) + [127, 128, 129, 255, 256, 1023, 1024, 1025])
def test_small_lengths_match_the_reference(n):
    rng = np.random.default_rng(n)
    data = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
    assert _native.crc32c(data) == crc32c_py(data)


@pytest.mark.parametrize("start", range(0, 9))
def test_unaligned_starts_match_the_reference(start):
    rng = np.random.default_rng(100 + start)
    data = rng.integers(0, 256, 4096 + 17, dtype=np.uint8).tobytes()
    view = memoryview(data)[start:]
    assert _native.crc32c(view) == crc32c_py(view)


def test_incremental_equals_one_shot():
    rng = np.random.default_rng(7)
    data = rng.integers(0, 256, 5000, dtype=np.uint8).tobytes()
    whole = _native.crc32c(data)
    for cut in [0, 1, 2, 3, 7, 8, 9, 63, 64, 65, 1000, 2500, 4999, 5000]:
        a = _native.crc32c(data[:cut])
        assert _native.crc32c(data[cut:], a) == whole, cut
        assert crc32c_py(data[cut:], crc32c_py(data[:cut])) == whole


def test_incremental_with_many_random_splits():
    rng = np.random.default_rng(8)
    data = rng.integers(0, 256, 20000, dtype=np.uint8).tobytes()
    whole = _native.crc32c(data)
    for _ in range(50):
        cuts = np.sort(rng.integers(0, len(data) + 1, rng.integers(1, 10)))
        crc = 0
        prev = 0
        for c in list(cuts) + [len(data)]:
            crc = _native.crc32c(data[prev:c], crc)
            prev = c
        assert crc == whole


STRIPE = 8192  # bytes per stream of the 3-stream path (crc32c.cpp)


@pytest.mark.parametrize("n", [3 * STRIPE - 1, 3 * STRIPE, 3 * STRIPE + 1, 3 * STRIPE + 7,
                               6 * STRIPE, 6 * STRIPE + 13, 9 * STRIPE - 3])
def test_three_stream_boundaries_match_the_reference(n):
    rng = np.random.default_rng(n)
    data = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
    assert _native.crc32c(data) == crc32c_py(data)
    # and starting from a nonzero CRC (the streams are merged with the running value)
    assert _native.crc32c(data, 0xDEADBEEF) == crc32c_py(data, 0xDEADBEEF)


def test_three_stream_path_on_unaligned_start_matches_the_reference():
    rng = np.random.default_rng(11)
    data = rng.integers(0, 256, 3 * STRIPE * 2 + 100, dtype=np.uint8).tobytes()
    for start in (1, 3, 5):
        view = memoryview(data)[start:]
        assert _native.crc32c(view) == crc32c_py(view)


@pytest.fixture(scope="module")
def big():
    rng = np.random.default_rng(2024)
    return rng.integers(0, 256, 8 * 1024 * 1024 + 12345, dtype=np.uint8).tobytes()


@pytest.mark.parametrize("chunk", [4096, 8191, 3 * STRIPE - 1, 3 * STRIPE, 3 * STRIPE + 1,
                                   100003, 1 << 20, 3 << 20])
def test_large_buffer_equal_across_chunkings(big, chunk):
    whole = _native.crc32c(big)
    crc = 0
    for i in range(0, len(big), chunk):
        crc = _native.crc32c(big[i:i + chunk], crc)
    assert crc == whole


def test_large_buffer_prefix_matches_the_reference(big):
    # The pure-Python reference is slow; a 200 KB prefix spans several 3-stream rounds.
    sample = big[:200_003]
    assert _native.crc32c(sample) == crc32c_py(sample)


def test_large_buffer_one_shot_equals_small_serial_chunks(big):
    # Chunks below 3 x 8 KiB take the serial path; the one-shot call takes the 3-stream path.
    part = big[:1_000_000]
    crc = 0
    for i in range(0, len(part), 1000):
        crc = _native.crc32c(part[i:i + 1000], crc)
    assert crc == _native.crc32c(part)


def test_single_bit_flips_change_the_crc(big):
    part = bytearray(big[:100_000])
    base = _native.crc32c(part)
    rng = np.random.default_rng(5)
    for pos in rng.integers(0, len(part), 200):
        part[pos] ^= 1 << int(rng.integers(0, 8))
        assert _native.crc32c(part) != base
        part[pos] = big[pos]
    assert _native.crc32c(part) == base


def test_build_info_names_the_implementation():
    info = _native.build_info()
    assert info["crc32c"] in ("avx512-vpclmulqdq", "sse4.2", "armv8-crc", "table")
    assert info["simd"] in ("avx2 avx512-vpclmulqdq", "avx2", "sse4.2", "baseline")
    assert info["cuda"] is False
    if info["crc32c"] == "avx512-vpclmulqdq":
        assert "avx512-vpclmulqdq" in info["simd"]


# Buffers of 4 KiB and more take the folding path where the CPU has AVX-512 VPCLMULQDQ: 256
# bytes per round, then the tail through the crc32 instruction.
@pytest.mark.parametrize("n", [4095, 4096, 4097, 4096 + 255, 4096 + 256, 4096 + 257, 8191,
                               65536 + 63, 300_001])
@pytest.mark.parametrize("start", [0, 1, 13])
def test_folding_boundaries_match_the_reference(n, start):
    rng = np.random.default_rng(n + start)
    data = rng.integers(0, 256, n + start, dtype=np.uint8).tobytes()
    view = memoryview(data)[start:]
    assert _native.crc32c(view) == crc32c_py(view)
    assert _native.crc32c(view, 0x12345678) == crc32c_py(view, 0x12345678)


def test_large_sections_are_verified_on_all_cores():
    # Sections of several MiB are checksummed in parallel chunks whose CRCs are combined; a
    # valid file must load and a flipped byte in any chunk must still be caught.
    import mle_runtime as mle
    from mle_runtime.format import writer
    from mle_runtime.ir import Graph

    n = 400_000  # a 3.2 MB weight tensor
    g = Graph("Big", n)
    w = np.linspace(-1.0, 1.0, n).reshape(1, n)
    g.output("predict", g.add("Linear", ["X"], weight=g.tensor(w, "float64")), ravel=True)
    data = writer.encode({"estimator_type": "regressor"}, g)
    x = np.ones((1, n))
    assert abs(mle._native.load_buffer(data).run(x, 0)[0] - w.sum()) < 1e-9
    for pos in (len(data) // 3, len(data) // 2 + 12345, len(data) - 5):
        bad = bytearray(data)
        bad[pos] ^= 0x40
        with pytest.raises(mle.FormatError, match="checksum"):
            mle._native.load_buffer(bytes(bad))
