"""``mle-benchmark model.mle data.npy|data.csv [--vs model.joblib]``: load time, single-row
latency and batch throughput, optionally side by side with the joblib original."""

import argparse
import gc
import statistics
import sys
import time

import numpy as np

import mle_runtime as mle
from mle_runtime.cli import CommandError, add_key_options, read_encryption_key, run


def parser():
    p = argparse.ArgumentParser(
        prog="mle-benchmark",
        description="Measure an .mle model: load time, single-row latency and batch throughput "
                    "(medians). With --vs, the same for a joblib/pickle file (trusted: it is "
                    "unpickled) with ratios, and a check that both predict the same.")
    p.add_argument("model", help="the .mle file")
    p.add_argument("data", help="input rows: .npy (2-D, numeric) or .csv (numeric; a header "
                                "line is skipped)")
    p.add_argument("--vs", metavar="JOBLIB", help="a joblib/pickle file of the same model")
    p.add_argument("--method", default=None,
                   help="method to time (default: predict, or transform for transformers)")
    p.add_argument("--repeat", type=int, default=50, metavar="N",
                   help="timed repetitions per measurement (default 50)")
    p.add_argument("--threads", type=int, default=None, help="n_threads for mle_runtime")
    add_key_options(p, verb="decrypt")
    return p


def read_data(path):
    if path.endswith(".npy"):
        X = np.load(path, allow_pickle=False)
    elif path.endswith(".csv") or path.endswith(".txt"):
        try:
            X = np.loadtxt(path, delimiter=",", ndmin=2)
        except ValueError:
            X = np.loadtxt(path, delimiter=",", ndmin=2, skiprows=1)
    else:
        raise CommandError(f"{path}: expected a .npy or .csv file")
    if X.ndim == 1:
        X = X.reshape(1, -1)
    if X.ndim != 2 or X.shape[0] == 0:
        raise CommandError(f"{path}: expected a non-empty 2-D array, got shape {X.shape}")
    if X.dtype.kind not in "fiub":
        raise CommandError(f"{path}: expected numeric data, got {X.dtype}")
    return np.ascontiguousarray(X, dtype=np.float64 if X.dtype.kind != "f" else X.dtype)


def median_time(fn, repeat):
    fn()  # warm up
    gc_was = gc.isenabled()
    gc.disable()
    try:
        samples = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - t0)
    finally:
        if gc_was:
            gc.enable()
    return statistics.median(samples)


def _fmt(seconds):
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def main(argv=None):
    args = parser().parse_args(argv)

    def go(_):
        if args.repeat < 1:
            raise CommandError("--repeat must be at least 1")
        key = read_encryption_key(args)
        X = read_data(args.data)
        model = mle.load(args.model, encryption_key=key, n_threads=args.threads)
        method = args.method or ("predict" if hasattr(model, "predict") else "transform")
        if not hasattr(model, method):
            raise CommandError(f"the model has no method {method!r}")
        fn = getattr(model, method)
        row = X[:1]
        res = {"mle_runtime": {
            "load": median_time(lambda: mle.load(args.model, encryption_key=key, cache=False),
                                max(5, args.repeat // 5)),
            "latency": median_time(lambda: fn(row), args.repeat),
            "batch": median_time(lambda: fn(X), max(3, args.repeat // 5)),
        }}
        agree = None
        if args.vs:
            print(f"warning: {args.vs} is a pickle/joblib file; loading it runs the code it "
                  "contains (only use files you trust)", file=sys.stderr)
            import joblib

            ref = joblib.load(args.vs)
            rfn = getattr(ref, method, None)
            if rfn is None:
                raise CommandError(f"{args.vs} has no method {method!r}")
            res["joblib"] = {
                "load": median_time(lambda: joblib.load(args.vs), max(3, args.repeat // 10)),
                "latency": median_time(lambda: rfn(row), args.repeat),
                "batch": median_time(lambda: rfn(X), max(3, args.repeat // 5)),
            }
            a, b = np.asarray(fn(X)), np.asarray(rfn(X))
            if a.shape != b.shape:
                agree = f"shapes differ: {a.shape} vs {b.shape}"
            elif a.dtype.kind in "fc":
                agree = f"max abs difference {float(np.max(np.abs(a - b))) if a.size else 0:.3g}"
            else:
                agree = f"{int(np.sum(a != b))} of {a.size} differ"
        print(f"{args.model}: {method} on {X.shape[0]} rows x {X.shape[1]} features "
              f"({X.dtype})")
        header = f"{'':22s}{'load':>12s}{'1-row latency':>16s}{'batch':>12s}{'rows/s':>14s}"
        print(header)
        for name, r in res.items():
            print(f"{name:22s}{_fmt(r['load']):>12s}{_fmt(r['latency']):>16s}"
                  f"{_fmt(r['batch']):>12s}{X.shape[0] / r['batch']:>14,.0f}")
        if "joblib" in res:
            m, j = res["mle_runtime"], res["joblib"]
            print(f"{'speed-up (joblib/mle)':22s}{j['load'] / m['load']:>11.1f}x"
                  f"{j['latency'] / m['latency']:>15.1f}x{j['batch'] / m['batch']:>11.1f}x")
            print(f"predictions: {agree}")
        return 0

    return run("mle-benchmark", go, argv)


if __name__ == "__main__":
    sys.exit(main())
