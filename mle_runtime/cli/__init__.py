"""Command-line tools (console scripts declared in pyproject.toml).

``mle-export``, ``mle-inspect``, ``mle-benchmark``, ``mle-runtime`` and ``mle`` (``keygen``,
``sign``, ``verify``). Every tool prints errors to stderr as ``<tool>: error: <message>`` and
exits with status 1 when the operation fails, 2 for a usage error (argparse), 0 on success.
"""

import os
import sys

from mle_runtime.errors import MLEError


class CommandError(Exception):
    """A failure to report on stderr with exit status 1."""


def run(prog, main, argv):
    """Runs ``main(argv)``, turning expected failures into a message and exit status 1."""
    try:
        return main(argv) or 0
    except (CommandError, MLEError, OSError, ValueError, TypeError, ImportError) as e:
        msg = str(e) if not isinstance(e, OSError) or not e.filename else \
            f"{e.strerror or e}: {e.filename}"
        print(f"{prog}: error: {msg}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130


def read_encryption_key(args):
    """The encryption key from ``--key-file`` (32 raw bytes or 64 hex digits) or
    ``--passphrase-env`` (the name of an environment variable; never the secret itself)."""
    key_file = getattr(args, "key_file", None)
    env = getattr(args, "passphrase_env", None)
    if key_file and env:
        raise CommandError("give either --key-file or --passphrase-env, not both")
    if key_file:
        with open(key_file, "rb") as f:
            data = f.read()
        if len(data) == 32:
            return data
        try:
            key = bytes.fromhex(data.decode("ascii").strip())
        except (UnicodeDecodeError, ValueError):
            key = b""
        if len(key) != 32:
            raise CommandError(f"{key_file} must hold a 32-byte key (raw, or as 64 hex digits)")
        return key
    if env:
        value = os.environ.get(env)
        if not value:
            raise CommandError(f"environment variable {env} is not set or empty")
        return value
    return None


def add_key_options(parser, verb="decrypt"):
    parser.add_argument("--key-file", metavar="PATH",
                        help=f"file holding the 32-byte AES key to {verb} with (raw or hex)")
    parser.add_argument("--passphrase-env", metavar="VAR",
                        help=f"name of the environment variable holding the passphrase to "
                             f"{verb} with")
