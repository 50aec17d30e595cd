"""Runs the fuzz harnesses one after the other for a bounded time (``make fuzz``; CI) and
prints what each executed and covered.

    python fuzz/run.py --time 90            # each harness 90 s (the CI run)
    python fuzz/run.py --time 3600 --keep-going   # a developer's long run

The seed corpus is generated first when ``build/fuzz/seeds`` is missing (``--reseed``: always).
Each harness keeps its growing corpus in ``build/fuzz/corpus/<harness>``; a finding (an
unaccepted exception, a crash, a timeout of ``--unit-timeout`` seconds, memory above
``--rss-limit-mb``) is written to ``build/fuzz/artifacts/`` and makes the exit status 1.
Reproduce one with ``python fuzz/replay.py <harness> build/fuzz/artifacts/<file>``.
"""

import argparse
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
HARNESSES = ("load", "values")
_STATS = re.compile(r"^#(\d+)\s+(\w+)\s+cov: (\d+) ft: (\d+)")


def run_once(name, args, build, seconds):
    """One libFuzzer process of harness ``name`` for at most ``seconds``: ``(exit status,
    inputs executed, cov, ft)``."""
    corpus = os.path.join(build, "corpus", name)
    seeds = os.path.join(build, "seeds", name)
    artifacts = os.path.join(build, "artifacts")
    os.makedirs(corpus, exist_ok=True)
    os.makedirs(artifacts, exist_ok=True)
    cmd = [sys.executable, os.path.join(HERE, f"fuzz_{name}.py"), corpus, seeds,
           f"-max_total_time={seconds}", f"-timeout={args.unit_timeout}",
           f"-rss_limit_mb={args.rss_limit_mb}", "-max_len=65536",
           f"-artifact_prefix={artifacts}{os.sep}{name}-", "-print_final_stats=1"]
    if args.seed is not None:
        cmd.append(f"-seed={args.seed}")
    cmd += args.libfuzzer
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            errors="replace", cwd=ROOT)
    last, executed, tail = None, None, []
    for line in proc.stdout:
        tail = (tail + [line])[-60:]
        m = _STATS.match(line)
        if m:
            last = m
        m = re.match(r"stat::number_of_executed_units:\s*(\d+)", line)
        if m:
            executed = int(m.group(1))
        if args.verbose:
            sys.stdout.write(line)
    rc = proc.wait()
    if rc != 0 and not args.verbose:
        sys.stdout.write("".join(tail))
    if executed is None:
        executed = int(last.group(1)) if last else 0
    return rc, executed, (last.group(3) if last else "?"), (last.group(4) if last else "?")


def run_one(name, args, build):
    """Harness ``name`` for ``args.time`` seconds (restarted after each finding with
    ``--keep-going``); prints its figures and returns the number of findings."""
    start = time.monotonic()
    findings, executed, cov, ft = 0, 0, "?", "?"
    while True:
        left = args.time - int(time.monotonic() - start)
        if left <= 0:
            break
        rc, n, cov, ft = run_once(name, args, build, left)
        executed += n
        if rc == 0:
            break
        findings += 1
        if not args.keep_going:
            break
    corpus = os.path.join(build, "corpus", name)
    print(f"fuzz {name}: {executed} inputs in {time.monotonic() - start:.0f} s, cov: {cov} "
          f"ft: {ft}, corpus {len(os.listdir(corpus))} files, {findings} finding(s)",
          flush=True)
    return findings


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--time", type=int, default=90, help="seconds per harness")
    parser.add_argument("--harness", choices=HARNESSES, action="append",
                        help="run only this harness (repeatable; default: all)")
    parser.add_argument("--build", default=os.path.join(ROOT, "build", "fuzz"),
                        help="where seeds, corpus and artifacts live")
    parser.add_argument("--reseed", action="store_true", help="regenerate the seed corpus")
    parser.add_argument("--seed", type=int, default=None, help="libFuzzer's random seed")
    parser.add_argument("--unit-timeout", type=int, default=30,
                        help="seconds after which one input counts as a hang")
    parser.add_argument("--rss-limit-mb", type=int, default=2048)
    parser.add_argument("--keep-going", action="store_true",
                        help="after a finding, start the harness again for the time left")
    parser.add_argument("--verbose", "-v", action="store_true", help="show libFuzzer's output")
    parser.add_argument("libfuzzer", nargs="*", help="extra libFuzzer flags (after --)")
    args = parser.parse_args(argv)
    if args.reseed or not os.path.isdir(os.path.join(args.build, "seeds", "load")):
        subprocess.run([sys.executable, os.path.join(HERE, "make_corpus.py"),
                        os.path.join(args.build, "seeds")], check=True, cwd=ROOT)
    status = 0
    for name in args.harness or HARNESSES:
        status |= run_one(name, args, args.build) > 0
    return status


if __name__ == "__main__":
    sys.exit(main())
