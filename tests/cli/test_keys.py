"""``mle keygen|sign|verify`` (mle_runtime/cli/keys.py) and encrypted files through the CLI. Run as
installed console scripts in subprocesses (tests/cli_testing.py)."""

import json
import os

from cli_testing import cli

import mle_runtime as mle


def test_keygen_sign_verify(files, tmp_path):
    d, model, X = files
    path = tmp_path / "m.mle"
    mle.dump(model, path)
    proc = cli("mle", "keygen", tmp_path / "k.pem")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "k.pem").stat().st_mode & 0o077 == 0
    assert (tmp_path / "k.pem.pub").read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    assert cli("mle", "keygen", tmp_path / "k.pem").returncode == 1  # never overwritten
    cli("mle", "keygen", tmp_path / "other.pem", "--public", tmp_path / "other.pub")
    proc = cli("mle", "verify", path, "--public-key", tmp_path / "k.pem.pub")
    assert proc.returncode == 1 and "not signed" in proc.stderr
    proc = cli("mle", "sign", path, "--key", tmp_path / "k.pem")
    assert proc.returncode == 0, proc.stderr and "signed" in proc.stdout
    proc = cli("mle", "verify", path, "--public-key", tmp_path / "k.pem.pub")
    assert proc.returncode == 0 and proc.stdout.startswith("OK")
    proc = cli("mle", "verify", path, "--public-key", tmp_path / "other.pub")
    assert proc.returncode == 1 and "another key" in proc.stderr
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 4
    (tmp_path / "bad.mle").write_bytes(bytes(data))
    proc = cli("mle", "verify", tmp_path / "bad.mle", "--public-key", tmp_path / "k.pem.pub")
    assert proc.returncode == 1 and "error:" in proc.stderr
    proc = cli("mle-inspect", path, "--public-key", tmp_path / "k.pem.pub", "--json")
    assert json.loads(proc.stdout)["signature"]["verified"] is True
    proc = cli("mle", "sign", path, "--key", tmp_path / "k.pem", "-o", tmp_path / "copy.mle")
    assert proc.returncode == 0 and (tmp_path / "copy.mle").exists()
    assert cli("mle").returncode == 2


def test_encrypted_through_the_cli(files, tmp_path):
    d, model, X = files
    out = tmp_path / "e.mle"
    env = {"MLE_TEST_PASS": "s3cret"}
    proc = cli("mle-export", d / "model.joblib", out, "--passphrase-env", "MLE_TEST_PASS",
               env=env)
    assert proc.returncode == 0, proc.stderr
    proc = cli("mle-inspect", out)
    assert proc.returncode == 0 and "AES-256-GCM" in proc.stdout and "encrypted" in proc.stdout
    proc = cli("mle-inspect", out, "--json", "--passphrase-env", "MLE_TEST_PASS", env=env)
    assert json.loads(proc.stdout)["model_class"] == "sklearn.RandomForestClassifier"
    proc = cli("mle-inspect", out, "--passphrase-env", "MLE_TEST_PASS",
               env={"MLE_TEST_PASS": "wrong"})
    assert proc.returncode == 1 and "wrong key" in proc.stderr
    (tmp_path / "aes.key").write_text(os.urandom(32).hex())
    proc = cli("mle-export", d / "model.joblib", out, "--key-file", tmp_path / "aes.key")
    assert proc.returncode == 0, proc.stderr
    proc = cli("mle-benchmark", out, d / "X.npy", "--key-file", tmp_path / "aes.key",
               "--repeat", "3")
    assert proc.returncode == 0, proc.stderr
