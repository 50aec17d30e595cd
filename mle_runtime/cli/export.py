"""``mle-export``: converts trusted joblib/pickle files to .mle.

- ``mle-export in.joblib out.mle``: one file (the pickle warning is printed; exit status 0
  when written, 1 on error);
- ``mle-export DIR [OUTDIR] --trust [--allow-pickle] [--overwrite] [--compress ...]``: every
  ``*.joblib``, ``*.pkl``, ``*.pickle`` and ``*.jbl`` file under DIR, with the same layout
  under OUTDIR (default: next to each source), by :func:`mle_runtime.compat.migrate`. Prints
  a table of the files and the counts. Exit status: 0 when every file was converted
  (natively, or with a pickle section under ``--allow-pickle``), 1 when some need pickle,
  failed or were skipped (their .mle file exists: ``--overwrite``), 2 for a usage error
  (such as a missing ``--trust``).
"""

import argparse
import json
import os
import sys

import mle_runtime as mle
from mle_runtime.cli import CommandError, add_key_options, read_encryption_key, run
from mle_runtime.compat import pickle_fallback
from mle_runtime.compat.migrate import DEFAULT_PATTERNS, MigrationReport, migrate

PICKLE_WARNING = ("warning: {path} is a pickle/joblib file. Loading it runs whatever code it "
                  "contains: convert only files you trust. The .mle file written is safe to "
                  "load (it holds no code).")


def parser():
    p = argparse.ArgumentParser(
        prog="mle-export",
        description="Convert a fitted model (or any value) saved with joblib.dump or pickle "
                    "into an .mle file, or every joblib/pickle file of a directory tree "
                    "(directory mode). The input is unpickled (which can execute code): use "
                    "only trusted files.",
        epilog="Directory mode: mle-export DIR [OUTDIR] --trust converts every file matching "
               "--pattern under DIR (default *.joblib, *.pkl, *.pickle, *.jbl) to OUTDIR "
               "(default: next to the sources) with the same layout, verifies each by loading "
               "it back, and prints a table. Exit status: 0 when every file was converted, 1 "
               "when some need pickle (see --allow-pickle), failed, or were skipped because "
               "their .mle file exists (see --overwrite); 2 for a usage error.")
    p.add_argument("input", help="the .joblib/.pkl file (trusted), or a directory of them")
    p.add_argument("output", nargs="?",
                   help="the .mle file to write (replaced atomically); in directory mode the "
                        "output directory (default: next to each source)")
    p.add_argument("--trust", action="store_true",
                   help="directory mode: confirm that every file under the directory may be "
                        "unpickled (required)")
    p.add_argument("--allow-pickle", action="store_true",
                   help="store the objects that cannot be represented natively in a pickle "
                        "section (loading then needs allow_pickle=True); by default such "
                        "files are not converted and their objects are listed")
    p.add_argument("--overwrite", action="store_true",
                   help="directory mode: replace existing .mle files (default: skip them)")
    p.add_argument("--pattern", action="append", metavar="GLOB",
                   help="directory mode: file names to convert (repeatable; default: "
                        "*.joblib, *.pkl, *.pickle, *.jbl)")
    p.add_argument("--no-recursive", action="store_true",
                   help="directory mode: do not descend into subdirectories")
    p.add_argument("--compress", default="0", metavar="LEVEL|METHOD[:LEVEL]",
                   help="0-9 (zstd), or a method (zstd, zlib, gzip, bz2, lzma, xz) with an "
                        "optional level, e.g. zstd:19. Default: 0 (none)")
    p.add_argument("--sign-with", metavar="KEY",
                   help="Ed25519 private key file to sign with (single file)")
    p.add_argument("--metadata", metavar="JSON", help="user metadata, a JSON object (single file)")
    p.add_argument("--model-version", metavar="SEMVER",
                   help="the model's semantic version (single file)")
    p.add_argument("--parent", metavar="HASH|FILE",
                   help="lineage: the parent model's content hash or .mle file (single file)")
    add_key_options(p, verb="encrypt")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="do not print the summary (the pickle warning is always printed); in "
                        "directory mode print only the files not converted and the counts")
    return p


def parse_compress(text):
    if ":" in text:
        method, level = text.split(":", 1)
        try:
            return (method, int(level))
        except ValueError:
            raise CommandError(f"--compress {text!r}: the level must be an integer") from None
    try:
        return int(text)
    except ValueError:
        return text


def _load_pickle(path):
    return pickle_fallback.load_trusted(path)


_SINGLE_FILE_ONLY = (("sign_with", "--sign-with"), ("metadata", "--metadata"),
                     ("model_version", "--model-version"), ("parent", "--parent"),
                     ("key_file", "--key-file"), ("passphrase_env", "--passphrase-env"))
_DIRECTORY_ONLY = (("overwrite", "--overwrite"), ("pattern", "--pattern"),
                   ("no_recursive", "--no-recursive"))


def main(argv=None):
    p = parser()
    args = p.parse_args(argv)
    if os.path.isdir(args.input):
        used = [flag for name, flag in _SINGLE_FILE_ONLY if getattr(args, name)]
        if used:
            p.error(f"{', '.join(used)}: only for a single file, not in directory mode")
        if not args.trust:
            p.error(f"{args.input} is a directory: converting it unpickles every joblib/pickle "
                    "file under it, which runs whatever code they contain. Pass --trust if "
                    "they all come from a trusted origin")
        return run("mle-export", lambda _: _directory(args), argv)
    if args.output is None:
        p.error("the output .mle file is required (or give a directory as input)")
    used = [flag for name, flag in _DIRECTORY_ONLY if getattr(args, name)]
    if used:
        p.error(f"{', '.join(used)}: only in directory mode (the input is a directory)")

    def go(_):
        metadata = None
        if args.metadata is not None:
            try:
                metadata = json.loads(args.metadata)
            except ValueError as e:
                raise CommandError(f"--metadata is not valid JSON: {e}") from None
        key = read_encryption_key(args)
        warning = PICKLE_WARNING.format(path=args.input)
        if args.allow_pickle:
            warning = warning.replace(
                " (it holds no code)", " unless --allow-pickle puts a pickle section in it (it "
                "then needs allow_pickle=True to load)")
        print(warning, file=sys.stderr)
        try:
            model = _load_pickle(args.input)
        except OSError:
            raise
        except Exception as e:  # noqa: BLE001 - unpickling can raise anything
            raise CommandError(f"cannot load {args.input}: {type(e).__name__}: {e}") from None
        mle.dump(model, args.output, compress=parse_compress(args.compress),
                 allow_pickle=args.allow_pickle, sign_with=args.sign_with,
                 encryption_key=key, metadata=metadata, model_version=args.model_version,
                 parent=args.parent)
        if not args.quiet:
            info = mle.inspect_model(args.output, encryption_key=key)
            print(f"wrote {args.output}: {info['model_class'] or info['summary'] or 'value'}, "
                  f"{info['file_size']} bytes, {info['content_hash']}")
        return 0

    return run("mle-export", go, argv)


def _directory(args):
    report = migrate(args.input, args.output, trust=True, allow_pickle=args.allow_pickle,
                     recursive=not args.no_recursive,
                     patterns=tuple(args.pattern) if args.pattern else DEFAULT_PATTERNS,
                     overwrite=args.overwrite, compress=parse_compress(args.compress))
    if not report:
        print(f"mle-export: {report}", file=sys.stderr)
        return 0
    if args.quiet:
        shown = MigrationReport([r for r in report if not r.ok], report.source,
                                report.destination, report.patterns)
        text = str(shown).splitlines()[:-1] if shown else []
        print("\n".join(text + [report.summary()]))
    else:
        print(report)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
