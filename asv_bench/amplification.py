"""Memory amplification of value files: peak RSS of a load divided by the file's size.

For each kind of crafted value file (docs/FORMAT.md, section 18: the shapes a hostile file
would use to make loading allocate far more than it holds), this finds the largest instance
the load budget still accepts (doubling, then bisecting a size parameter), loads it in a
fresh process and reports::

    extra = peak RSS of the load - peak RSS of a process that imports the same libraries
    ratio = extra / file size        budget = extra / (32 * file size + 64 MiB)

``budget`` at or below 1.0 means the load stayed within the budget of its file. Files of a few
KB have large ratios by design (the 64 MiB constant); the figures that test the factor 32 are
those of large files.

Run: ``python asv_bench/amplification.py`` (``--quick`` for fewer bisection steps,
``--only NAME`` for one case).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

CHILD = r"""
import json, sys
import numpy, pandas, zstandard  # the baseline imports them too
import mle_runtime as mle
path, mmap_mode = sys.argv[1], sys.argv[2]
out = {}
if path != "-":
    try:
        mle.load(path, mmap_mode=None if mmap_mode == "None" else mmap_mode)
        out["outcome"] = "loaded"
    except Exception as e:
        out["outcome"] = type(e).__name__
        out["message"] = str(e)[:300]
status = open("/proc/self/status").read()
out["peak_kib"] = int(status.split("VmHWM:")[1].split()[0])
print(json.dumps(out))
"""


def _value_file(raw_tree, blob=b""):
    from mle_runtime.format import layout as L
    from mle_runtime.format import writer

    secs = [(L.SECTION_META, writer.encode_json({"kind": "value"})),
            (L.SECTION_VALUE, raw_tree)]
    if blob:
        secs.append((L.SECTION_DATA, blob, L.DATA_ALIGN))
    return writer.pack_sections(secs, minor=L.MINOR_VALUES)


def _zstd(inner):
    from mle_runtime.format import envelope, writer

    return envelope.seal(inner, writer.encode_json({"kind": "value"}), ("zstd", 19))


def _tree(root_json, memo=0):
    return b'{"root":' + root_json + b',"memo":%d}' % memo


def _repeated(item, n, memoised=False):
    """A list of ``n`` copies of the node ``item`` (``memoised``: a node that counts in
    ``memo``)."""
    return _tree(b'["list"' + (b"," + item) * n + b"]", 1 + n * memoised)


MAX_FILE = 60 << 20  # value sections are capped at 64 MiB
# name -> (builder(n) -> file bytes, mmap_mode, first n)
CASES = {
    # JSON that parses into many small objects, plain and compressed ({} is no node: the
    # file is refused after parsing, which is what these measure)
    "empty dicts": (lambda n: _value_file(_repeated(b"{}", n)), None, 1 << 10),
    "empty dicts, zstd": (lambda n: _zstd(_value_file(_repeated(b"{}", n))), None, 1 << 10),
    "nested empty lists, zstd": (lambda n: _zstd(_value_file(_repeated(b"[[]]", n))), None,
                                 1 << 10),
    "empty lists": (lambda n: _value_file(_repeated(b'["list"]', n, True)), None, 1 << 10),
    "empty lists, zstd": (lambda n: _zstd(_value_file(_repeated(b'["list"]', n, True))), None,
                          1 << 10),
    "one large dict": (lambda n: _value_file(_tree(b'["dict",{' + b",".join(
        b'"%d":0' % i for i in range(n)) + b"}]", 1)), None, 1 << 10),
    "one large dict, zstd": (lambda n: _zstd(_value_file(_tree(b'["dict",{' + b",".join(
        b'"%d":0' % i for i in range(n)) + b"}]", 1))), None, 1 << 10),
    "dict nodes, zstd": (lambda n: _zstd(_value_file(_repeated(b'["dict",{"a":0}]', n, True))),
                         None, 1 << 10),
    "short strings, zstd": (lambda n: _zstd(_value_file(_repeated(b'"ab"', n))), None,
                            1 << 10),
    "floats, zstd": (lambda n: _zstd(_value_file(_repeated(b"1.5", n))), None, 1 << 10),
    # the same without compression: large files, where the factor 32 is what counts
    "floats": (lambda n: _value_file(_repeated(b"1.5", n)), None, 1 << 10),
    "zeros": (lambda n: _value_file(_repeated(b"0", n)), None, 1 << 10),
    "short strings": (lambda n: _value_file(_repeated(b'"ab"', n)), None, 1 << 10),
    "set of ints": (
        lambda n: _value_file(_tree(b'["set",' + b",".join(
            b"%d" % i for i in range(n)) + b"]", 1)), None, 1 << 10),
    "object array of floats, zstd": (
        lambda n: _zstd(_value_file(_tree(b'["objarray",[%d],"C",[' % n +
                                          b",".join([b"1.5"] * n) + b"]]", 1))),
        None, 1 << 10),
    "set of ints, zstd": (
        lambda n: _zstd(_value_file(_tree(b'["set",' + b",".join(
            b"%d" % i for i in range(n)) + b"]", 1))), None, 1 << 10),
    "tuple keys, zstd": (
        lambda n: _zstd(_value_file(_tree(b'["dictk",[' + b",".join(
            b'[["tuple",%d,%d],0]' % (i, i) for i in range(n)) + b"]]", 1 + n))),
        None, 1 << 10),
    # one array named again and again (copied for mmap_mode=None)
    "array refs": (
        lambda n: _value_file(_tree(b'["list",["array","|u1",[65536],0,"C"]' +
                                    b',["ref",0]' * n + b"]", 2), bytes(65536)),
        None, 1 << 4),
    "array nodes over the same bytes": (
        lambda n: _value_file(_repeated(b'["array","|u1",[65536],0,"C"]', n, True),
                              bytes(65536)),
        None, 1 << 4),
    # pandas: what pandas builds from small inputs
    "pandas interval of ranges": (
        lambda n: _value_file(_tree(b'["pd.interval","right",["pd.range",0,%d,1,null],'
                                    b'["pd.range",1,%d,1,null]]' % (n, n + 1), 3)),
        None, 1 << 10),
    "pandas multiindex of a range": (
        lambda n: _value_file(_tree(b'["pd.multi",[["pd.range",0,%d,1,null]],'
                                    b'[["array","<i8",[4],0,"C"]],[null],null]' % n, 3),
                              bytes(32)), None, 1 << 10),
    "pandas frame of one column again and again (mapped)": (
        lambda n: _value_file(_tree(
            b'["pd.frame",["pd.range",0,16384,1,null],["pd.range",0,%d,1,null],[' % n +
            b",".join([b'["array","<i8",[16384],0,"C"]'] * n) + b'],null,true]', 3 + n),
            bytes(8 * 16384)), "r", 1 << 2),
    "pandas strings from one object array": (
        lambda n: _value_file(_tree(
            b'["list",["objarray",[4096],"C",[' + b",".join([b'"abcdefgh"'] * 4096) +
            b"]]" + b',["pd.str","python","NA",["ref",0]]' * n + b"]", 2 + n)),
        None, 1 << 2),
}


def _run(path, mmap_mode):
    proc = subprocess.run([sys.executable, "-c", CHILD, path, str(mmap_mode)],
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        return {"outcome": f"exit {proc.returncode}", "message": proc.stderr[-300:],
                "peak_kib": 0}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _measure(build, n, mmap_mode, tmp):
    data = build(n)
    path = os.path.join(tmp, "case.mle")
    with open(path, "wb") as f:
        f.write(data)
    return len(data), _run(path, mmap_mode)


def _accepted(out):
    """Whether the load went past the budget's checks (it may still fail later: a file
    refused for another reason after parsing has cost what parsing costs)."""
    msg = out.get("message", "")
    return out["outcome"] == "loaded" or out["outcome"] == "FormatError" and not any(
        m in msg for m in ("far more memory", "would visit", "expands through references"))


def largest_accepted(build, mmap_mode, n, tmp, steps):
    """The largest size parameter (within ``steps`` bisections) whose file gets past the
    budget."""
    best = None
    size, out = _measure(build, n, mmap_mode, tmp)
    while _accepted(out) and 2 * size <= MAX_FILE:
        best = (n, size, out)
        n *= 2
        size, out = _measure(build, n, mmap_mode, tmp)
    if best is None:
        return None, (n, size, out)
    lo, hi = best[0], n
    for _ in range(steps):
        mid = (lo + hi) // 2
        if mid in (lo, hi):
            break
        size, out = _measure(build, mid, mmap_mode, tmp)
        if _accepted(out):
            lo, best = mid, (mid, size, out)
        else:
            hi = mid
    return best, (hi, None, None)


def main(argv=None):
    from mle_runtime.format.budget import CONSTANT, FACTOR

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="3 bisection steps instead of 6")
    ap.add_argument("--only", help="run the case whose name contains this text")
    args = ap.parse_args(argv)
    steps = 3 if args.quick else 6
    base = _run("-", None)["peak_kib"] * 1024
    print(f"baseline peak RSS (imports only): {base / 2**20:.1f} MiB")
    print(f"{'case':52s} {'n':>10s} {'file B':>10s} {'extra MiB':>10s} {'ratio':>10s} "
          f"{'budget':>7s}")
    worst, sizes = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (build, mmap_mode, n0) in CASES.items():
            if args.only and args.only not in name:
                continue
            best, refused = largest_accepted(build, mmap_mode, n0, tmp, steps)
            if best is None:
                print(f"{name:52s} refused at n={refused[0]}: {refused[2].get('message')}")
                continue
            n, size, out = best
            extra = max(0, out["peak_kib"] * 1024 - base)
            ratio = extra / size
            used = extra / (FACTOR * size + CONSTANT)
            worst[name] = (ratio, used)
            sizes[name] = size
            print(f"{name:52s} {n:10d} {size:10d} {extra / 2**20:10.1f} {ratio:10.0f} "
                  f"{used:7.2f}")
    if worst:
        name = max(worst, key=lambda k: worst[k][0])
        print(f"largest ratio: {name}: {worst[name][0]:.0f} x the file size")
        big = {k: v for k, v in worst.items() if sizes[k] >= 1 << 20}
        if big:
            name = max(big, key=lambda k: big[k][0])
            print(f"largest ratio of a file of 1 MiB or more: {name}: {big[name][0]:.1f} x")
        name = max(worst, key=lambda k: worst[k][1])
        print(f"largest share of the budget: {name}: {worst[name][1]:.2f}")


if __name__ == "__main__":
    main()
