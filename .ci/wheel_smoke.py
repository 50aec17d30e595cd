"""Smoke test of a real (non-editable) install, run by ``make wheel-smoke``.

    python .ci/wheel_smoke.py make DIR    # in the development environment (needs scikit-learn):
                                          # writes models, inputs and expected outputs to DIR
    python .ci/wheel_smoke.py check DIR   # in a fresh virtual environment holding only the
                                          # wheel and numpy, from a directory outside the checkout

``check`` fails (exit status 1, the failures listed) unless mle_runtime is imported from the
environment's site-packages (not the checkout), every console script answers ``--help``,
``mle-runtime --version`` reports the version, ``mle-inspect`` verifies the files, every model
loads and predicts what scikit-learn predicted, and the README's first example runs.
"""

import json
import os
import re
import subprocess
import sys

import numpy as np

SCRIPTS = ("mle-export", "mle-inspect", "mle-benchmark", "mle-runtime", "mle")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def readme_first_example():
    """The first ```python block of README.md."""
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    return re.search(r"```python\n(.*?)```", text, re.S).group(1)


def make(out):
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    import mle_runtime as mle

    os.makedirs(out, exist_ok=True)
    X, y = load_iris(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)
    forest = RandomForestClassifier(n_estimators=400, random_state=0).fit(X, y)  # > 64 KiB: mapped
    mle.dump(pipe, os.path.join(out, "pipe.mle"))
    mle.dump(forest, os.path.join(out, "forest.mle"))
    mle.dump(pipe, os.path.join(out, "pipe_zlib.mle"), compress=("zlib", 6))  # no extra needed
    mle.dump({"model": forest, "columns": ["a", "b", "c", "d"], "X": X[:5]},
             os.path.join(out, "bundle.mle"))
    np.save(os.path.join(out, "X.npy"), X)
    np.savez(os.path.join(out, "expected.npz"), pipe_proba=pipe.predict_proba(X),
             pipe_predict=pipe.predict(X), forest_proba=forest.predict_proba(X),
             forest_predict=forest.predict(X))
    with open(os.path.join(out, "readme_example.py"), "w", encoding="utf-8") as f:
        f.write(readme_first_example())
    print(f"wheel smoke: files written to {out}")


class Check:
    def __init__(self):
        self.failures = []

    def __call__(self, ok, what):
        if not ok:
            self.failures.append(what)
        print(("ok    " if ok else "FAIL  ") + what)


def run_script(name, *args):
    exe = os.path.join(os.path.dirname(sys.executable), name)
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=600)


def check(d):
    import importlib.util

    import mle_runtime as mle

    ok = Check()
    here = os.path.abspath(mle.__file__)
    site = os.path.join(sys.prefix, "lib")
    ok(here.startswith(site + os.sep) and not here.startswith(ROOT + os.sep),
       f"mle_runtime imported from the environment ({here})")
    ok(importlib.util.find_spec("sklearn") is None,
       "scikit-learn is absent (numpy is the only dependency of load and predict)")
    for name in SCRIPTS:
        p = run_script(name, "--help")
        ok(p.returncode == 0 and "usage:" in p.stdout, f"{name} --help"
           + ("" if p.returncode == 0 else f": exit {p.returncode}: {p.stderr[-500:]}"))
    p = run_script("mle-runtime", "--version", "--json")
    version = json.loads(p.stdout).get("mle_runtime") if p.returncode == 0 else None
    ok(version == mle.__version__, f"mle-runtime --version reports {version}"
       + ("" if p.returncode == 0 else f": {p.stderr[-500:]}"))
    for f in ("pipe.mle", "forest.mle", "pipe_zlib.mle", "bundle.mle"):
        p = run_script("mle-inspect", f)
        ok(p.returncode == 0 and "OK: every checksum" in p.stdout,
           f"mle-inspect {f} verifies it" + ("" if p.returncode == 0 else f": {p.stderr}"))
    p = run_script("mle-benchmark", "pipe.mle", "X.npy", "--repeat", "3")
    ok(p.returncode == 0, "mle-benchmark pipe.mle X.npy" + ("" if p.returncode == 0
                                                            else f": {p.stderr[-500:]}"))
    X = np.load("X.npy")
    want = np.load("expected.npz")
    models = {"pipe": mle.load("pipe.mle"), "forest": mle.load("forest.mle"),
              "pipe_zlib": mle.load("pipe_zlib.mle"),
              "bundle": mle.load("bundle.mle", mmap_mode="r")["model"]}
    for name, model in models.items():
        base = "pipe" if name.startswith("pipe") else "forest"
        ok(np.array_equal(model.predict(X), want[base + "_predict"]), f"{name}: predict")
        ok(np.allclose(model.predict_proba(X), want[base + "_proba"], rtol=1e-12, atol=1e-14),
           f"{name}: predict_proba")
    ok(models["forest"].get_model_info()["memory_mapped"], "forest.mle is memory-mapped")
    # The README's first example, with the model loaded from pipe.mle (dumping a loaded
    # model needs no framework) and the iris rows as X.
    with open("readme_example.py", encoding="utf-8") as f:
        code = f.read()
    ns = {"model": models["pipe"], "X": X}
    try:
        exec(compile(code, "README.md (first example)", "exec"), ns)
        ran = np.allclose(ns["model"].predict_proba(X), want["pipe_proba"], rtol=1e-12,
                          atol=1e-14) and os.path.exists("model.mle")
    except Exception as e:  # reported as a failure below
        print(f"README example raised {type(e).__name__}: {e}")
        ran = False
    ok(ran, "the README's first example runs and predicts as scikit-learn")
    if ok.failures:
        print(f"wheel smoke: {len(ok.failures)} failure(s)")
        return 1
    print("wheel smoke: all checks passed")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("make", "check"):
        sys.exit(__doc__)
    if sys.argv[1] == "make":
        make(sys.argv[2])
    else:
        os.chdir(sys.argv[2])
        sys.exit(check(sys.argv[2]))
