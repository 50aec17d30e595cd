"""fork() safety of the native thread pool.

A process that has run multi-threaded batches and then forks (gunicorn ``--preload`` with a
warm-up request, ``multiprocessing`` with the fork start method, the Linux default before Python
3.14) must leave its child able to predict, multi-threaded, with the parent's results. With
libgomp the child hung forever in its first multi-threaded batch, so every scenario runs in a
subprocess with a timeout: a regression fails the test instead of blocking the suite.

Each script prints one JSON line; the tests check it. Children report through their exit
status and files, never by raising in a forked copy of pytest.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import mle_runtime as mle

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")

# Generous: each script needs a few seconds; the limit only turns a hang into a failure.
HANG_GUARD_S = 240

# Builds the batch every script predicts: 40,000 rows, large enough that the plan runs it on
# several threads (threads are counted through /proc/self/task where Linux offers it).
PRELUDE = """
import json, os, sys
import numpy as np
import mle_runtime as mle

def batch(seed=0, n=40_000):
    return np.random.default_rng(seed).normal(scale=2.0, size=(n, 20))

def os_threads():
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return None
"""


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier

    X, y = make_classification(n_samples=3000, n_features=20, n_informative=8, n_classes=3,
                               random_state=0)
    rf = RandomForestClassifier(n_estimators=25, max_depth=10, random_state=0).fit(X, y)
    path = tmp_path_factory.mktemp("fork") / "rf.mle"
    mle.dump(rf, path)
    return path


def run_script(tmp_path, body, *args):
    """Runs PRELUDE + body as a script file (importable by spawned children); returns its JSON."""
    script = tmp_path / "scenario.py"
    script.write_text(PRELUDE + textwrap.dedent(body))
    try:
        proc = subprocess.run([sys.executable, str(script), *map(str, args)],
                              capture_output=True, text=True, timeout=HANG_GUARD_S,
                              cwd=str(tmp_path))
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"the scenario hung (killed after {HANG_GUARD_S} s); output so far:\n"
                    f"{e.stdout}\n{e.stderr}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_child_after_multithreaded_batch_predicts_multithreaded(tmp_path, model_path):
    out = run_script(tmp_path, """
        model = mle.load(sys.argv[1])
        X = batch()
        expected = model.predict_proba(X, n_threads=4)
        parent_threads = os_threads()
        np.save("expected.npy", expected)

        def child():
            before = os_threads()
            got = model.predict_proba(X, n_threads=4)
            after = os_threads()
            ok = np.array_equal(got, expected)
            # a second generation: this child has run a multi-threaded batch, then forks
            pid = os.fork()
            if pid == 0:
                os._exit(0 if np.array_equal(model.predict_proba(X, n_threads=3), expected)
                         else 3)
            _, st = os.waitpid(pid, 0)
            with open("child.json", "w") as f:
                json.dump({"before": before, "after": after, "equal": bool(ok),
                           "grandchild": os.waitstatus_to_exitcode(st),
                           "labels": bool(np.array_equal(model.predict(X[:1]),
                                                         expected[:1].argmax(1)))}, f)

        pid = os.fork()
        if pid == 0:
            try:
                child()
                code = 0
            except BaseException:
                code = 1
            os._exit(code)
        _, st = os.waitpid(pid, 0)
        # the parent's pool is still usable after the fork
        again = model.predict_proba(X, n_threads=4)
        res = json.load(open("child.json")) if os.path.exists("child.json") else {}
        res.update(code=os.waitstatus_to_exitcode(st), parent_threads=parent_threads,
                   parent_again=bool(np.array_equal(again, expected)))
        print(json.dumps(res))
    """, model_path)
    assert out["code"] == 0
    assert out["equal"] and out["labels"], "the forked child's predictions differ"
    assert out["grandchild"] == 0, "a child of a forked child failed or predicted differently"
    assert out["parent_again"]
    if out["before"] is not None:
        # the parent ran a multi-threaded batch; the child inherits only the forking thread and
        # starts threads of its own for its batch
        assert out["parent_threads"] > 1
        assert out["before"] == 1
        assert out["after"] > 1, "the forked child predicted on one thread only"


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_multiprocessing_pool_map_over_chunks(tmp_path, model_path, method):
    import multiprocessing as mp

    if method not in mp.get_all_start_methods():
        pytest.skip(f"start method {method} not available")
    out = run_script(tmp_path, """
        import multiprocessing as mp

        MODEL = None

        def init(path):
            global MODEL
            if MODEL is None:  # spawn: load here; fork: inherited from the parent
                MODEL = mle.load(path)

        def work(chunk):
            lo, hi = chunk
            X = batch()[lo:hi]
            return MODEL.predict_proba(X, n_threads=2), os_threads()

        if __name__ == "__main__":
            path, method = sys.argv[1], sys.argv[2]
            MODEL = mle.load(path)
            X = batch()
            expected = MODEL.predict_proba(X, n_threads=4)  # warm-up: threads in the parent
            chunks = [(i, min(i + 10_000, len(X))) for i in range(0, len(X), 10_000)]
            ctx = mp.get_context(method)
            with ctx.Pool(2, initializer=init, initargs=(path,)) as pool:
                parts = pool.map(work, chunks)
            got = np.concatenate([p for p, _ in parts])
            print(json.dumps({"equal": bool(np.array_equal(got, expected)),
                              "rows": int(got.shape[0]),
                              "worker_threads": [t for _, t in parts]}))
    """, model_path, method)
    assert out["rows"] == 40_000
    assert out["equal"], f"{method} pool workers predicted differently from the parent"
    if out["worker_threads"][0] is not None:
        assert max(out["worker_threads"]) > 1, "pool workers predicted on one thread only"


def test_gunicorn_style_preload(tmp_path, model_path):
    # gunicorn --preload: the master loads the app (and here runs a warm-up batch), then forks
    # workers; each serves requests of every size; the master keeps working too.
    out = run_script(tmp_path, """
        N_WORKERS, REQUESTS = 3, 6
        model = mle.load(sys.argv[1])
        sizes = [1, 40_000, 7, 129, 20_000, 1]
        requests = [batch(seed=s, n=n) for s, n in enumerate(sizes)]
        expected = [model.predict_proba(X, n_threads=1) for X in requests]
        model.predict_proba(batch(), n_threads=4)  # warm-up on several threads

        pids = []
        for w in range(N_WORKERS):
            pid = os.fork()
            if pid == 0:
                code = 0
                try:
                    for r in range(REQUESTS):
                        k = (w + r) % len(requests)
                        got = model.predict_proba(requests[k], n_threads=[None, 2, 4][w])
                        if not np.array_equal(got, expected[k]):
                            code = 3
                    t = os_threads()
                    if t is not None and t <= 1:
                        code = 4  # served every request on one thread
                except BaseException:
                    code = 1
                os._exit(code)
            pids.append(pid)
        master_ok = all(np.array_equal(model.predict_proba(X, n_threads=2), e)
                        for X, e in zip(requests, expected))
        codes = [os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) for p in pids]
        print(json.dumps({"codes": codes, "master_ok": master_ok}))
    """, model_path)
    assert out["codes"] == [0, 0, 0], ("worker exit codes (3: wrong predictions, 4: one thread "
                                       f"only, 1: an exception): {out['codes']}")
    assert out["master_ok"]


def test_fork_while_other_threads_run_batches(tmp_path, model_path):
    # fork() from one thread while others are inside multi-threaded batches: the pool's state
    # is copied consistent (its lock is held across fork) and the child builds a new pool.
    out = run_script(tmp_path, """
        import threading
        FORKS = 8
        model = mle.load(sys.argv[1])
        X = batch(n=20_000)
        expected = model.predict_proba(X, n_threads=1)
        model.predict_proba(X, n_threads=2)  # the forking thread has run batches too
        stop = threading.Event()
        bad = []

        def busy(i):
            while not stop.is_set():
                if not np.array_equal(model.predict_proba(X, n_threads=2 + i % 3), expected):
                    bad.append(i)

        threads = [threading.Thread(target=busy, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        codes = []
        for k in range(FORKS):
            pid = os.fork()
            if pid == 0:
                ok = all(np.array_equal(model.predict_proba(X, n_threads=3), expected)
                         for _ in range(2))
                os._exit(0 if ok else 3)
            codes.append(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
        stop.set()
        for t in threads:
            t.join()
        print(json.dumps({"codes": codes, "bad": bad}))
    """, model_path)
    assert out["codes"] == [0] * 8
    assert out["bad"] == []
