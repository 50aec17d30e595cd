"""Every script in examples/ runs to completion: quickstart fully, compare.py with --quick.

Only exit status, the table's shape and parity are checked; timings are never asserted.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def _run(*args):
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    proc = subprocess.run([sys.executable, *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, (
        f"{args[0]} exited with {proc.returncode}\n--- stdout\n{proc.stdout}\n"
        f"--- stderr\n{proc.stderr}")
    return proc.stdout


def _table(stdout):
    """The compare table: the header line (with 'labels') and its data rows."""
    lines = stdout.splitlines()
    head = next(i for i, line in enumerate(lines) if "labels" in line and "model" in line)
    assert set(lines[head + 1]) == {"-"}, "a rule under the column headers"
    rows = []
    for line in lines[head + 2:]:
        if not line.strip():
            break
        rows.append(line)
    return lines[head], rows


# Scripts run in full (every example but compare.py), with text their output must contain.
FULL_RUN = sorted(p.name for p in EXAMPLES.glob("*.py") if p.name != "compare.py")
EXPECTED = {
    "quickstart.py": ["predict_proba", "max |difference| vs scikit-learn",
                      "scikit-learn imported: False", "loading a joblib file: FormatError"],
    "bundle.py": ["predict_proba identical to scikit-learn: True", "reference equal: True",
                  "train_rows: memmap, read-only: True",
                  "predicted in 2 worker processes, identical: True",
                  "custom class refused: value['post']",
                  "load without allow_pickle: PickleNotAllowedError",
                  "with allow_pickle=True: Postprocessor 0.35"],
}


@pytest.mark.parametrize("script", FULL_RUN)
def test_example_runs(script):
    out = _run(EXAMPLES / script)
    assert out.strip(), f"{script} printed nothing"
    for text in EXPECTED.get(script, []):
        assert text in out, f"{script}: {text!r} missing from its output"


@pytest.fixture(scope="module")
def compare_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("compare") / "results.json"
    stdout = _run(EXAMPLES / "compare.py", "--quick", "--json", path)
    return stdout, json.loads(path.read_text())


def test_compare_prints_one_row_per_model_with_parity(compare_run):
    stdout, data = compare_run
    header, rows = _table(stdout)
    for column in ("joblib", "mle", "sklearn", "max|diff|", "labels"):
        assert column in header
    assert len(rows) == len(data["rows"]) >= 19
    for line, row in zip(rows, data["rows"]):
        cells = line.split()
        assert cells[0] == row["dataset"] and cells[1] == row["model"], line
        # the last column is 'labels': equal for classifiers, '-' where there are no labels
        expected = "yes" if row["kind"] == "classifier" else "-"
        assert cells[-1] == expected, f"labels column of {line!r}"
    assert "cold process start" in stdout


def test_compare_json_parity(compare_run):
    _, data = compare_run
    kinds = {r["kind"] for r in data["rows"]}
    assert kinds == {"classifier", "regressor", "transformer"}
    for row in data["rows"]:
        mle = row["cells"]["mle"]
        ref = row["cells"]["joblib"]
        assert mle["error"] is None and ref["error"] is None, row["case"]
        assert mle["max_abs_diff"] is not None and mle["max_abs_diff"] < 1e-9, row["case"]
        if row["kind"] == "classifier":
            assert mle["labels_equal"] is True, row["case"]
        for cell in (mle, ref):
            for key in ("size", "dump_ns", "load_ns", "one_row_ns", "batch_ns"):
                assert cell[key] > 0, (row["case"], key)
    labels = [c["label"] for c in data["cold_start"]]
    assert len(labels) == 3 and all(c["median_ns"] > 0 for c in data["cold_start"])
