"""``mle-export in.joblib|in.pkl out.mle``: converts a trusted joblib/pickle file to .mle."""

import argparse
import json
import sys

from mle_runtime.cli import CommandError, add_key_options, read_encryption_key, run

PICKLE_WARNING = ("warning: {path} is a pickle/joblib file. Loading it runs whatever code it "
                  "contains: convert only files you trust. The .mle file written is safe to "
                  "load (it holds no code).")


def parser():
    p = argparse.ArgumentParser(
        prog="mle-export",
        description="Convert a fitted model saved with joblib.dump or pickle into an .mle file. "
                    "The input is unpickled (which can execute code): use only trusted files.")
    p.add_argument("input", help="the .joblib/.pkl file (trusted)")
    p.add_argument("output", help="the .mle file to write (replaced atomically)")
    p.add_argument("--compress", default="0", metavar="LEVEL|METHOD[:LEVEL]",
                   help="0-9 (zstd), or a method (zstd, zlib, gzip, bz2, lzma, xz) with an "
                        "optional level, e.g. zstd:19. Default: 0 (none)")
    p.add_argument("--sign-with", metavar="KEY", help="Ed25519 private key file to sign with")
    p.add_argument("--metadata", metavar="JSON", help="user metadata, a JSON object")
    p.add_argument("--model-version", metavar="SEMVER", help="the model's semantic version")
    p.add_argument("--parent", metavar="HASH|FILE",
                   help="lineage: the parent model's content hash or .mle file")
    add_key_options(p, verb="encrypt")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="do not print the summary (the pickle warning is always printed)")
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
    try:
        import joblib
    except ImportError:
        import pickle

        with open(path, "rb") as f:
            return pickle.load(f)
    return joblib.load(path)


def main(argv=None):
    args = parser().parse_args(argv)

    def go(_):
        import mle_runtime as mle

        metadata = None
        if args.metadata is not None:
            try:
                metadata = json.loads(args.metadata)
            except ValueError as e:
                raise CommandError(f"--metadata is not valid JSON: {e}") from None
        key = read_encryption_key(args)
        print(PICKLE_WARNING.format(path=args.input), file=sys.stderr)
        try:
            model = _load_pickle(args.input)
        except OSError:
            raise
        except Exception as e:  # noqa: BLE001 - unpickling can raise anything
            raise CommandError(f"cannot load {args.input}: {type(e).__name__}: {e}") from None
        mle.dump(model, args.output, compress=parse_compress(args.compress),
                 sign_with=args.sign_with, encryption_key=key, metadata=metadata,
                 model_version=args.model_version, parent=args.parent)
        if not args.quiet:
            info = mle.inspect_model(args.output, encryption_key=key)
            print(f"wrote {args.output}: {info['model_class'] or 'model'}, "
                  f"{info['file_size']} bytes, {info['content_hash']}")
        return 0

    return run("mle-export", go, argv)


if __name__ == "__main__":
    sys.exit(main())
