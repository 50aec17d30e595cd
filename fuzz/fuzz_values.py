"""Coverage-guided fuzzing of the value decoder (``mle_runtime.format.values`` and
``values_pandas``) with atheris / libFuzzer.

An input is the value section's JSON, optionally followed by a NUL byte and the bytes of the
tensor data section (JSON text never holds a raw NUL). The harness packs them into a value
file with valid checksums, a metadata section and two model sections (a two-feature scaler
that ``["model", 0]`` and ``["model", 1]`` nodes name), and loads it with
``allow_pickle=False``: from a file object (arrays copied) and from a temporary path with
``mmap_mode="r"`` (arrays mapped). So every mutation reaches the decoder itself. The decoded value is walked and its models
exercised. The custom mutator edits JSON nodes (numbers at their limits, copies of other
nodes, tags) as well as bytes.

Run (see docs/FUZZING.md)::

    python fuzz/make_corpus.py build/fuzz/seeds
    python fuzz/fuzz_values.py build/fuzz/corpus/values build/fuzz/seeds/values -max_total_time=60
"""

import random
import sys

import _common
import _mutators

if __name__ == "__main__":  # fuzz/replay.py imports this module without atheris
    import atheris

    with atheris.instrument_imports(include=["mle_runtime"]):
        _common.import_load_path()

import numpy as np  # noqa: E402

from mle_runtime.format import layout as L  # noqa: E402
from mle_runtime.format import writer  # noqa: E402
from mle_runtime.ir import Graph  # noqa: E402

_META = writer.encode_json({"kind": "value", "mle_runtime_version": "0.0.0+fuzz"})


def _scaler_file():
    g = Graph("StandardScaler", 2)
    sub = g.tensor(np.array([1.0, -2.0]), "float64")
    div = g.tensor(np.array([2.0, 0.5]), "float64")
    g.output("transform", g.add("SubDiv", ["X"], sub=sub, div=div))
    meta = {"framework": "sklearn", "framework_version": "0.0",
            "model_class": "sklearn.StandardScaler", "estimator_type": "transformer"}
    return writer.model_file(g, meta)


_MODEL = _scaler_file()


def value_file(tree, blob=b""):
    """A value file holding the value section ``tree`` (bytes), the tensor data ``blob`` and
    the harness's two model sections, every checksum valid."""
    sections = [(L.SECTION_META, _META), (L.SECTION_VALUE, tree)]
    if blob:
        sections.append((L.SECTION_DATA, blob, L.DATA_ALIGN))
    sections += [(L.SECTION_MODEL, _MODEL, L.DATA_ALIGN)] * 2
    return writer.pack_sections(sections, minor=L.MINOR_VALUES)


def split(data):
    """``(value JSON, tensor data)`` of one input."""
    tree, _, blob = bytes(data).partition(b"\0")
    return tree, blob


def one_input(data):
    """The check for one input (also run by fuzz/replay.py without atheris)."""
    tree, blob = split(data)
    if len(tree) > L.MAX_VALUE_JSON:
        return
    f = value_file(tree, blob)
    _common.expect_refusal_or_value(lambda: _common.load_from_bytes(f))
    _common.expect_refusal_or_value(lambda: _common.load_from_path(f, mmap_mode="r"))


def mutate(data, max_size, seed):
    """libFuzzer's custom mutator: edits a node of the value JSON (fuzz/_mutators.py) or
    mutates the JSON text or the tensor data as bytes."""
    import atheris

    rng = random.Random(seed)
    tree, blob = split(data)
    try:
        r = rng.random()
        if r < 0.5:
            tree = _mutators.mutate_json(tree, rng) or atheris.Mutate(tree, max_size)
        elif r < 0.85 or not blob:
            tree = atheris.Mutate(tree, max_size).replace(b"\0", b" ")
        else:
            blob = atheris.Mutate(blob, max(len(blob) * 2, 64))
    except Exception:  # noqa: BLE001 - a mutator bug must not stop the run
        return atheris.Mutate(bytes(data), max_size)
    out = tree + (b"\0" + blob if blob else b"")
    return out if len(out) <= max_size else atheris.Mutate(bytes(data), max_size)


def main():
    import atheris

    atheris.Setup(sys.argv, one_input, custom_mutator=mutate)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
