"""``mle-inspect`` (mle_runtime/cli/inspect.py): description and verification. Run as installed
console scripts in subprocesses (tests/cli_testing.py)."""

import json

from cli_testing import cli
import numpy as np
import pytest
from sklearn.preprocessing import StandardScaler

import mle_runtime as mle


def test_inspect_errors(files, tmp_path):
    d, _, _ = files
    proc = cli("mle-inspect", d / "model.joblib")
    assert proc.returncode == 1 and "pickle" in proc.stderr and proc.stdout == ""
    proc = cli("mle-inspect", tmp_path / "nothing.mle")
    assert proc.returncode == 1 and "mle-inspect: error:" in proc.stderr


def flipped(data, kind, at=0):
    """``data`` with one bit flipped at byte ``at`` of its section of ``kind`` (CRCs kept)."""
    from mle_runtime.format import container

    s = container.parse(data).find(kind)
    buf = bytearray(data)
    buf[s.offset + at] ^= 0x01
    return bytes(buf)


def test_inspect_verifies_every_checksum_by_default(files, tmp_path):
    from mle_runtime.format import layout as L

    d, model, X = files
    good = tmp_path / "good.mle"
    mle.dump(model, good)
    proc = cli("mle-inspect", good)
    assert proc.returncode == 0, proc.stderr
    assert "verified:" in proc.stdout and "OK: every checksum, the model's graph" in proc.stdout
    bad = tmp_path / "bad.mle"
    bad.write_bytes(flipped(good.read_bytes(), L.SECTION_DATA, at=100))
    for args in ((), ("--verify",), ("--json",)):
        proc = cli("mle-inspect", bad, *args)
        assert proc.returncode == 1, (args, proc.stdout)
        assert "checksum mismatch in section 2 (tensor data)" in proc.stderr
    proc = cli("mle-inspect", bad, "--no-verify", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["verified"] is None
    # a compressed file: the flipped byte is in the payload
    comp = tmp_path / "comp.mle"
    mle.dump(model, comp, compress=("zstd", 3))
    (tmp_path / "badcomp.mle").write_bytes(flipped(comp.read_bytes(), L.SECTION_PAYLOAD, 50))
    proc = cli("mle-inspect", tmp_path / "badcomp.mle")
    assert proc.returncode == 1 and "checksum mismatch" in proc.stderr
    # joblib's layout (a gzip stream of the file): a changed byte is refused too
    gz = tmp_path / "comp.mle.gz"
    mle.dump(model, gz)
    data = bytearray(gz.read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / "badgz.mle.gz").write_bytes(bytes(data))
    proc = cli("mle-inspect", tmp_path / "badgz.mle.gz")
    assert proc.returncode == 1, proc.stdout
    proc = cli("mle-inspect", gz)
    assert proc.returncode == 0 and "gzip stream of the whole file" in proc.stdout


def test_inspect_verifies_the_signature_of_a_file_modified_behind_its_checksums(files,
                                                                                 tmp_path):
    """A tensor byte changed and every CRC recomputed: only the signature can tell."""
    from mle_runtime.format import layout as L
    from mle_runtime.format import writer
    from mle_runtime.format import container

    d, model, X = files
    path = tmp_path / "signed.mle"
    private, public = mle.generate_keys()
    mle.save_keys(private, tmp_path / "k.pem", tmp_path / "k.pub")
    mle.dump(model, path, sign_with=private)
    c = container.parse(flipped(path.read_bytes(), L.SECTION_DATA, at=100), verify=())
    resealed = writer.pack_sections([(s.kind, bytes(c.payload(s)), 64, s.flags)
                                     for s in c.sections], minor=c.minor)
    (tmp_path / "tampered.mle").write_bytes(resealed)
    proc = cli("mle-inspect", tmp_path / "tampered.mle")
    assert proc.returncode == 0, proc.stderr  # checksums are fine, no key to check with
    assert "not checked: signature" in proc.stdout
    proc = cli("mle-inspect", tmp_path / "tampered.mle", "--public-key", tmp_path / "k.pub")
    assert proc.returncode == 1 and "error:" in proc.stderr
    proc = cli("mle-inspect", path, "--public-key", tmp_path / "k.pub")
    assert proc.returncode == 0 and "the signature" in proc.stdout


def test_inspect_refuses_a_model_file_with_envelope_sections(files, tmp_path):
    """The native loader would skip optional envelope sections and run the plain model while
    inspection described the envelope's inner model: both refuse such a file."""
    from mle_runtime.format import container
    from mle_runtime.format import layout as L

    d, model, X = files
    mle.dump(model, tmp_path / "plain.mle")
    mle.dump(StandardScaler().fit(X), tmp_path / "other.mle", compress=("zstd", 3))
    other = container.parse((tmp_path / "other.mle").read_bytes())
    extra = [(s.kind, bytes(other.payload(s)), L.SECTION_OPTIONAL) for s in other.sections
             if s.kind in (L.SECTION_ENVELOPE, L.SECTION_PAYLOAD)]
    mixed = container.repack(container.parse((tmp_path / "plain.mle").read_bytes()),
                             append=extra)
    (tmp_path / "mixed.mle").write_bytes(mixed)
    for args in ((), ("--no-verify",), ("--json",)):
        proc = cli("mle-inspect", tmp_path / "mixed.mle", *args)
        assert proc.returncode == 1 and "crafted" in proc.stderr, (args, proc.stdout)
    with pytest.raises(mle.FormatError):
        mle.load(tmp_path / "mixed.mle")


def test_inspect_lists_unknown_optional_sections(files, tmp_path):
    from mle_runtime.format import container
    from mle_runtime.format import layout as L

    d, model, X = files
    mle.dump(model, tmp_path / "plain.mle")
    data = container.repack(container.parse((tmp_path / "plain.mle").read_bytes()),
                            append=[(77, b"from a later version", L.SECTION_OPTIONAL)])
    (tmp_path / "extra.mle").write_bytes(data)
    np.testing.assert_array_equal(mle.load(tmp_path / "extra.mle").predict(X), model.predict(X))
    proc = cli("mle-inspect", tmp_path / "extra.mle")
    assert proc.returncode == 0, proc.stderr
    assert "unknown kind 77 (20 B, optional: skipped)" in proc.stdout
    proc = cli("mle-inspect", tmp_path / "extra.mle", "--json")
    assert {"kind": 77, "size": 20, "unknown": True, "optional": True} in \
        json.loads(proc.stdout)["sections"]
