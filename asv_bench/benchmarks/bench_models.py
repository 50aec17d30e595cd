"""asv benchmarks: mle_runtime against joblib + scikit-learn on every model of
``asv_bench/peers.py`` (linear models, pipelines and tree ensembles; the same cases
``examples/compare.py`` prints).

Every class shares one ``setup_cache``: it trains every case once and stores it with joblib and
with mle_runtime in asv's working directory; the benchmarks receive the file paths.

Run from ``asv_bench/``: ``asv run --python=same`` (add ``--quick`` for a smoke run).
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import peers  # noqa: E402

CASES = [c.name for c in peers.CASES]
BATCH_ROWS = 100_000


def _store_all():
    """Trains every case and stores it with joblib and mle in the current directory.

    Returns ``{case name: {"joblib": path, "mle": path}}`` (absolute paths).
    """
    files = {}
    for case in peers.CASES:
        est, X = case.fit()
        stem = os.path.abspath(case.name.replace(":", "-"))
        files[case.name] = {}
        for name in ("joblib", "mle"):
            peer = peers.PEERS[name]
            path = stem + peer.ext
            peer.save(est, X, path)
            files[case.name][name] = path
    return files


class _Stored:
    """Base: parametrised over the cases, with the stored files from ``setup_cache``."""

    params = [CASES]
    param_names = ["model"]
    timeout = 300

    def setup_cache(self):
        return _store_all()


class FileSize(_Stored):
    def track_file_size_mle(self, files, model):
        return os.path.getsize(files[model]["mle"])

    track_file_size_mle.unit = "bytes"

    def track_file_size_joblib(self, files, model):
        return os.path.getsize(files[model]["joblib"])

    track_file_size_joblib.unit = "bytes"

    def track_size_ratio(self, files, model):
        """joblib file size / mle file size (above 1: the .mle file is smaller)."""
        return os.path.getsize(files[model]["joblib"]) / os.path.getsize(files[model]["mle"])

    track_size_ratio.unit = "ratio"


class Load(_Stored):
    def setup(self, files, model):
        import joblib

        import mle_runtime

        self.mle_load = mle_runtime.load
        self.joblib_load = joblib.load
        # import scikit-learn outside the timing (joblib.load would import it the first time)
        self.joblib_load(files[model]["joblib"])

    def time_load_mle(self, files, model):
        # cache=False: every load reads, verifies and validates the file (a cached load of an
        # unchanged file returns the model already in memory and is timed separately)
        self.mle_load(files[model]["mle"], cache=False)

    def time_load_mle_cached(self, files, model):
        self.mle_load(files[model]["mle"])

    def time_load_joblib(self, files, model):
        self.joblib_load(files[model]["joblib"])


class Dump(_Stored):
    """``mle.dump`` (export, the native validation load of the bytes, atomic write with fsync)
    beside ``joblib.dump`` (compress=0) of the same fitted model, to files in the same
    directory (asv's working directory)."""

    def setup(self, files, model):
        import joblib

        import mle_runtime

        self.est = joblib.load(files[model]["joblib"])
        self.mle_dump = mle_runtime.dump
        self.joblib_dump = joblib.dump
        self.mle_path = os.path.abspath("dump-bench.mle")
        self.joblib_path = os.path.abspath("dump-bench.joblib")
        # first-use imports (the framework's exporter, joblib's pickler) outside the timing
        self.mle_dump(self.est, self.mle_path)
        self.joblib_dump(self.est, self.joblib_path)

    def teardown(self, files, model):
        for path in (self.mle_path, self.joblib_path):
            if os.path.exists(path):
                os.unlink(path)

    def time_dump_mle(self, files, model):
        self.mle_dump(self.est, self.mle_path)

    def time_dump_joblib(self, files, model):
        self.joblib_dump(self.est, self.joblib_path)


class LoadMemory(_Stored):
    """Peak RSS of a benchmark process that loads the model (and imports what that needs);
    nothing else is imported beforehand except numpy."""

    def peakmem_load_mle(self, files, model):
        import mle_runtime

        mle_runtime.load(files[model]["mle"])

    def peakmem_load_joblib(self, files, model):
        import joblib

        joblib.load(files[model]["joblib"])


class Predict(_Stored):
    def setup(self, files, model):
        import joblib

        import mle_runtime

        case = peers.CASES_BY_NAME[model]
        X, _ = case.data()
        self.sk = joblib.load(files[model]["joblib"])
        self.mle = mle_runtime.load(files[model]["mle"])
        method = peers.timed_method(self.sk)
        self.sk_method = getattr(self.sk, method)
        self.mle_method = getattr(self.mle, method)
        self.one = peers.first_row(X)
        self.batch = peers.tile_rows(X, BATCH_ROWS)

    def time_predict_one_row_mle(self, files, model):
        self.mle_method(self.one)

    def time_predict_one_row_sklearn(self, files, model):
        self.sk_method(self.one)

    def time_predict_batch_mle(self, files, model):
        self.mle_method(self.batch)

    def time_predict_batch_sklearn(self, files, model):
        self.sk_method(self.batch)


class ColdStart:
    """A fresh process: import, load and predict one row (asv times the statement in a new
    interpreter; numpy's own import is part of it)."""

    timeout = 300
    case = "iris:scaler+logreg"

    def setup_cache(self):
        case = peers.CASES_BY_NAME[self.case]
        est, X = case.fit()
        files = {"row": [float(v) for v in X[0]]}
        for name in ("joblib", "mle"):
            peer = peers.PEERS[name]
            files[name] = os.path.abspath("cold-" + case.name.replace(":", "-") + peer.ext)
            peer.save(est, X, files[name])
        return files

    def timeraw_cold_start(self, files):
        return ("import numpy, mle_runtime\n"
                f"m = mle_runtime.load({files['mle']!r})\n"
                f"m.predict(numpy.array([{files['row']!r}]))\n")

    def timeraw_cold_start_joblib(self, files):
        return ("import numpy, joblib\n"
                f"m = joblib.load({files['joblib']!r})\n"
                f"m.predict(numpy.array([{files['row']!r}]))\n")


class ValueFiles:
    """Bundles people give joblib.dump (``asv_bench/value_files.py``): load time in memory and
    memory-mapped, file sizes, and shipping a loaded model to a worker (pickle round trip)."""

    timeout = 600
    params = [["models+settings", "models+arrays(16MB)", "DataFrame(10k rows, mixed)"],
              [None, "r"]]
    param_names = ["value", "mmap_mode"]

    def setup_cache(self):
        import joblib

        import mle_runtime as mle
        import value_files

        files = {}
        for name, value in value_files.bundles():
            stem = os.path.abspath("value-" + "".join(c for c in name if c.isalnum()))
            mle.dump(value, stem + ".mle")
            joblib.dump(value, stem + ".joblib")
            files[name] = stem
        return files

    def setup(self, files, value, mmap_mode):
        import joblib

        import mle_runtime as mle

        self.stem = files[value]
        joblib.load(self.stem + ".joblib")  # framework imports outside the timing
        mle.load(self.stem + ".mle")  # and mle_runtime's first-use imports

    def time_load_mle(self, files, value, mmap_mode):
        import mle_runtime as mle

        mle.load(self.stem + ".mle", mmap_mode=mmap_mode)

    def time_load_joblib(self, files, value, mmap_mode):
        import joblib

        joblib.load(self.stem + ".joblib", mmap_mode=mmap_mode)

    def track_size_ratio(self, files, value, mmap_mode):
        return os.path.getsize(files[value] + ".mle") / os.path.getsize(files[value] + ".joblib")

    track_size_ratio.unit = "mle/joblib"
