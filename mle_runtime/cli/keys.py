"""``mle keygen|sign|verify``: Ed25519 keys and signatures of .mle files."""

import argparse
import sys

import mle_runtime as mle
from mle_runtime.cli import run


def parser():
    p = argparse.ArgumentParser(
        prog="mle",
        description="Sign and verify .mle files with Ed25519 keys.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    k = sub.add_parser("keygen", help="create a key pair (PEM files)",
                       description="Create an Ed25519 key pair: the private key (PKCS#8 PEM, "
                                   "mode 0600; never overwritten) and the public key.")
    k.add_argument("private", help="where to write the private key, e.g. signing.pem")
    k.add_argument("--public", help="where to write the public key (default: PRIVATE.pub)")
    s = sub.add_parser("sign", help="sign an .mle file",
                       description="Sign an .mle file (plain, compressed or encrypted) in place "
                                   "or into --output; an existing signature is replaced.")
    s.add_argument("model")
    s.add_argument("--key", required=True, help="Ed25519 private key file (PEM, DER or raw)")
    s.add_argument("-o", "--output", help="write the signed file here instead")
    v = sub.add_parser("verify", help="verify an .mle file's signature",
                       description="Verify an .mle file's signature and every checksum. Exit "
                                   "status 0: valid; 1: unsigned, another key, or modified.")
    v.add_argument("model")
    v.add_argument("--public-key", required=True,
                   help="Ed25519 public key file (PEM, OpenSSH, DER or raw)")
    return p


def main(argv=None):
    args = parser().parse_args(argv)

    def go(_):
        if args.command == "keygen":
            private, _ = mle.generate_keys()
            public = args.public or args.private + ".pub"
            fp = mle.save_keys(private, args.private, public)
            print(f"private key: {args.private}\npublic key:  {public}\nfingerprint: {fp}")
        elif args.command == "sign":
            fp = mle.sign_file(args.model, args.key, output=args.output)
            print(f"signed {args.output or args.model} with {fp}")
        else:
            info = mle.verify_file(args.model, args.public_key)
            print(f"OK: {args.model} is signed by {info['key_fingerprint']} and unmodified")
        return 0

    return run("mle", go, argv)


if __name__ == "__main__":
    sys.exit(main())
