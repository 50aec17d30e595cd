"""Coverage-guided fuzzing of ``mle.load`` over arbitrary bytes (atheris / libFuzzer).

Each input is loaded as it is from a file object, and again with every checksum recomputed
(``_common.repair``) from a temporary path and through ``inspect_model``, so that mutations
reach the parsers, codecs, value decoder and plan validation behind the checksums. Encrypted
inputs are loaded with the seed corpus's AES key, signed ones with its public key;
``allow_pickle`` is always False. What a load returns is exercised (every model in it
predicts on valid and wrong-width rows). The custom mutator (fuzz/_mutators.py) edits one
section at a time, inside compressed payloads too, and keeps the container valid.

Run (see docs/FUZZING.md)::

    python fuzz/make_corpus.py build/fuzz/seeds
    python fuzz/fuzz_load.py build/fuzz/corpus/load build/fuzz/seeds/load -max_total_time=60
"""

import os
import random
import sys

import _common
import _mutators

if __name__ == "__main__":  # fuzz/replay.py imports this module without atheris
    import atheris

    with atheris.instrument_imports(include=["mle_runtime"]):
        _common.import_load_path()

import mle_runtime as mle  # noqa: E402  (instrumented above when fuzzing)


# MLE_FUZZ_SKIP=inspect leaves inspect_model out (while a known finding in it is being fixed,
# to look for others).
_SKIP = os.environ.get("MLE_FUZZ_SKIP", "").split(",")


def one_input(data):
    """The check for one input (also run by fuzz/replay.py without atheris)."""
    data = bytes(data)
    _common.expect_refusal_or_value(
        lambda: _common.load_from_bytes(data, **_common.load_options(data)))
    fixed = _common.repair(data)
    kw = _common.load_options(fixed)
    _common.expect_refusal_or_value(lambda: _common.load_from_path(fixed, **kw))
    if "inspect" not in _SKIP:
        try:
            mle.inspect_model(fixed, **kw)
        except mle.MLEError:
            pass


def mutate(data, max_size, seed):
    """libFuzzer's custom mutator: a structure-aware mutation (fuzz/_mutators.py)."""
    import atheris

    data = bytes(data)
    try:
        return _mutators.mutate_container(data, max_size, random.Random(seed), atheris.Mutate)
    except Exception:  # noqa: BLE001 - a mutator bug must not stop the run
        return atheris.Mutate(data, max_size)


def main():
    import atheris

    atheris.Setup(sys.argv, one_input, custom_mutator=mutate)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
