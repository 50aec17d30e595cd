"""``mle-runtime --version``: runtime and format versions and the native build's features."""

import argparse
import json
import sys

from mle_runtime import _native
from mle_runtime._version import __version__
from mle_runtime.cli import run
from mle_runtime.format import layout as L


def version_info():
    """What ``--version`` reports, as a dict."""
    build = dict(_native.build_info())
    return {
        "mle_runtime": __version__,
        "format": f"{L.MAJOR}.{L.MINOR_CHAIN}",
        "reads_formats": f"{L.MAJOR}.x",
        "python": sys.version.split()[0],
        "threads": build.get("max_threads"),
        "cuda": build.get("cuda", False),
        "simd": build.get("simd", "not reported by this build"),
        "crc32c": build.get("crc32c"),
        "dense": build.get("dense", "not reported by this build"),
        "build": build,
    }


def render(v):
    yes = {True: "yes", False: "no"}
    lines = [
        f"mle_runtime {v['mle_runtime']}",
        f"format: writes {v['format']} (model files; envelopes {L.MAJOR}.{L.MINOR_EXTENDED}, "
        f"value files {L.MAJOR}.{L.MINOR_VALUES}), reads {v['reads_formats']}",
        f"python: {v['python']}",
        f"threads: {v['threads']} by default (own pool, fork-safe)",
        f"CUDA: {yes.get(v['cuda'], v['cuda'])}",
        f"SIMD: {v['simd']}",
        f"CRC-32C: {v['crc32c']}",
        f"dense kernels: {v['dense']}",
    ]
    return "\n".join(lines)


def parser():
    p = argparse.ArgumentParser(
        prog="mle-runtime",
        description="mle_runtime: safe, fast, memory-mapped replacement for joblib.dump/load. "
                    "Other tools: mle-export, mle-inspect, mle-benchmark, mle (keygen, sign, "
                    "verify).")
    p.add_argument("--version", action="store_true",
                   help="print the runtime and format versions and the compiled features")
    p.add_argument("--json", action="store_true", help="with --version: as JSON")
    return p


def main(argv=None):
    p = parser()
    args = p.parse_args(argv)

    def go(_):
        if not args.version:
            p.print_help(sys.stderr)
            return 2
        v = version_info()
        print(json.dumps(v, indent=2) if args.json else render(v))
        return 0

    return run("mle-runtime", go, argv)


if __name__ == "__main__":
    sys.exit(main())
