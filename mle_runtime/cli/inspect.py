"""``mle-inspect model.mle [--json] [--no-verify]``: describes an .mle file and, unless
``--no-verify``, checks every byte as loading would (every checksum, the model's graph, the
signature with ``--public-key``); exits 1 on any failure."""

import argparse
import json
import sys

import mle_runtime as mle
from mle_runtime.cli import add_key_options, read_encryption_key, run


def parser():
    p = argparse.ArgumentParser(
        prog="mle-inspect",
        description="Describe an .mle file (versions, model class, content hash, metadata, "
                    "compression, encryption, signature, sections). By default it also "
                    "verifies the file as loading would (every section's checksum, the "
                    "restored inner file of a compressed or encrypted one, each model's "
                    "graph, and the signature when --public-key is given) and exits with "
                    "status 1 if anything fails.")
    p.add_argument("model", help="the .mle file")
    p.add_argument("--verify", dest="verify", action="store_true", default=True,
                   help="verify every checksum, the model's graph and (with --public-key) the "
                        "signature; exit 1 on failure (the default)")
    p.add_argument("--no-verify", dest="verify", action="store_false",
                   help="only describe: check the checksums of the described sections, "
                        "not the tensor data (faster for large files)")
    p.add_argument("--json", action="store_true", help="print everything as one JSON object")
    p.add_argument("--public-key", metavar="KEY",
                   help="verify the signature with this Ed25519 public key (exit 1 if invalid)")
    add_key_options(p, verb="decrypt")
    return p


def _size(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def render(info):
    """The human-readable description printed without --json."""
    lines = []

    def row(label, value):
        if value is not None:
            lines.append(f"{label + ':':22s}{value}")

    row("file", info.get("path"))
    row("size", _size(info["file_size"]))
    row("format version", info["format_version"])
    row("sections", ", ".join(_section(s) for s in info.get("sections") or []))
    contents = info.get("contents")
    row("value" if contents else "model", info.get("summary") or info.get("model_class"))
    if isinstance(contents, dict):
        for m in contents.get("models") or []:
            if isinstance(m, dict):
                row("  model", f"{m.get('path')}: {m.get('model_class') or 'model'}")
        for p in contents.get("pickled") or []:
            if isinstance(p, dict):
                row("  pickled", f"{p.get('path')}: {p.get('type')} (loading needs "
                    "allow_pickle=True)")
    row("model class", info.get("model_class"))
    row("estimator type", info.get("estimator_type"))
    fw = info.get("framework")
    if fw:
        row("framework", f"{fw} {info.get('framework_version') or ''}".strip())
    row("written by", info.get("mle_runtime_version") and
        f"mle_runtime {info['mle_runtime_version']}")
    row("created", info.get("created"))
    row("content hash", info.get("content_hash"))
    row("model version", info.get("model_version"))
    row("parent", info.get("parent"))
    g = info.get("graph")
    if g:
        row("features", g.get("n_features"))
        row("outputs", ", ".join(g.get("outputs") or []))
        row("ops", ", ".join(f"{k} x{v}" for k, v in (g.get("ops") or {}).items()))
        row("tensor data", _size(g.get("tensor_bytes") or 0))
    comp = info.get("compression")
    how = comp and ("stream of the whole file, as joblib writes" if comp.get("layout") ==
                    "stream" else f"level {comp.get('level')}")
    row("compression", comp and f"{comp.get('method')} {how} "
        f"({_size(info.get('uncompressed_size') or 0)} uncompressed)")
    enc = info.get("encryption")
    if enc:
        kdf = (enc.get("kdf") or {}).get("name") if isinstance(enc.get("kdf"), dict) else None
        row("encryption", f"{enc.get('cipher')}" + (" (passphrase, scrypt)" if kdf == "scrypt"
                                                    else " (32-byte key)"))
        if info.get("model_class") is None:
            lines.append("  (the model's description is encrypted; pass --key-file or "
                         "--passphrase-env to show it)")
    sig = info.get("signature")
    if sig:
        state = "verified" if sig.get("verified") else "not verified (pass --public-key)"
        row("signature", f"{sig['algorithm']} by {sig['key_fingerprint']}, {state}")
    else:
        row("signature", "none")
    q = info.get("quantization")
    if q:
        row("quantization", json.dumps(q))
    user = info.get("user_metadata")
    if user is not None:
        row("user metadata", json.dumps(user, ensure_ascii=False))
    v = info.get("verified")
    if v:
        checked = ["every checksum"]
        if v.get("models"):
            checked.append("the model's graph" if v["models"] == 1 else
                           f"{v['models']} models' graphs")
        if v.get("value"):
            checked.append("the stored value")
        if v.get("signature"):
            checked.append("the signature")
        row("verified", "OK: " + ", ".join(checked))
        for note in v.get("unchecked") or []:
            lines.append(f"  not checked: {note}")
    else:
        row("verified", "no (--no-verify)")
    return "\n".join(lines)


def _section(s):
    if s.get("unknown"):
        return f"unknown kind {s['kind']} ({_size(s['size'])}, optional: skipped)"
    return f"{s['kind']} ({_size(s['size'])})"


def main(argv=None):
    args = parser().parse_args(argv)

    def go(_):
        key = read_encryption_key(args)
        info = mle.inspect_model(args.model, public_key=args.public_key, encryption_key=key,
                                 verify=args.verify)
        info = {"path": args.model, **info}
        if args.json:
            print(json.dumps(info, indent=2, ensure_ascii=False))
        else:
            print(render(info))
        return 0

    return run("mle-inspect", go, argv)


if __name__ == "__main__":
    sys.exit(main())
