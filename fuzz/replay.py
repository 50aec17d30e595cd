"""Runs a fuzz harness over files, without atheris: to reproduce a finding, to replay a corpus
under the sanitizer build (``make sanitize``), or to check a corpus after a fix.

    python fuzz/replay.py load build/fuzz/seeds/load build/fuzz/corpus/load
    python fuzz/replay.py values build/fuzz/artifacts/crash-1234abcd

Each argument after the harness name is a file or a directory (its files, sorted). Every
unacceptable outcome is reported with its file and traceback; the exit status is 1 when there
was any. A crash ends the process, of course: with ``--verbose`` each file is named before it
runs, so the last name printed is the one that crashed.
"""

import argparse
import os
import sys
import time
import traceback


def _files(paths):
    for p in paths:
        if os.path.isdir(p):
            for name in sorted(os.listdir(p)):
                full = os.path.join(p, name)
                if os.path.isfile(full):
                    yield full
        elif os.path.isfile(p):
            yield p
        else:
            raise SystemExit(f"replay: {p} does not exist")


def check_sanitized(checkout):
    """Exits unless ``mle_runtime._native`` comes from outside ``checkout`` (not the in-place
    build) and AddressSanitizer's runtime is loaded into this process."""
    from mle_runtime import _native

    where = os.path.realpath(_native.__file__)
    if where.startswith(os.path.realpath(checkout) + os.sep) and \
            os.sep + "build" + os.sep + "asan" + os.sep not in where:
        raise SystemExit(f"replay: mle_runtime._native is the in-place build ({where}), not "
                         "the sanitizer build; run from its virtual environment with "
                         "PYTHONSAFEPATH=1 (see make sanitize)")
    with open("/proc/self/maps") as f:
        if "libasan" not in f.read():
            raise SystemExit("replay: libasan is not loaded; set LD_PRELOAD (see make sanitize)")
    print(f"replay: sanitizer build {where}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("harness", choices=("load", "values"))
    parser.add_argument("paths", nargs="+", help="files or directories of inputs")
    parser.add_argument("--verbose", "-v", action="store_true",
                        help="name each file before running it")
    parser.add_argument("--sanitized", action="store_true",
                        help="first check that the native core is the sanitizer build "
                        "(MLE_SANITIZE=1, installed outside the checkout) with libasan loaded")
    args = parser.parse_args(argv)
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, here)
    if args.sanitized:
        check_sanitized(os.path.dirname(here))
    if args.harness == "load":
        import fuzz_load as harness
    else:
        import fuzz_values as harness
    failures, count, slowest = [], 0, (0.0, None)
    start = time.perf_counter()
    for path in _files(args.paths):
        if args.verbose:
            print(f"replay: {path}", file=sys.stderr, flush=True)
        with open(path, "rb") as f:
            data = f.read()
        t = time.perf_counter()
        try:
            harness.one_input(data)
        except Exception:  # noqa: BLE001 - every escaping exception is a finding
            failures.append((path, traceback.format_exc()))
        slowest = max(slowest, (time.perf_counter() - t, path))
        count += 1
    for path, tb in failures:
        print(f"FINDING {path}\n{tb}", file=sys.stderr)
    print(f"replay {args.harness}: {count} inputs in {time.perf_counter() - start:.1f} s, "
          f"{len(failures)} finding(s); slowest {slowest[0]:.2f} s ({slowest[1]})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
