"""Quantisation of float weights at dump time (``mle.dump(..., quantize=...)``).

Not available in this version: every call raises ``UnsupportedModelError`` (files are stored
with their exact float32/float64 weights, which keeps predictions identical to the source
framework's).
"""

from mle_runtime.errors import UnsupportedModelError

MODES = ("fp16", "int8")


def quantize_graph(graph, mode, model, calibration):
    """Quantises ``graph``'s float weights in place; returns metadata keys to record."""
    if mode not in MODES:
        raise ValueError(f"quantize={mode!r}: expected one of {MODES}")
    raise UnsupportedModelError(
        f"quantize={mode!r} is not supported by this version of mle_runtime: weights are "
        "stored exactly (identical predictions). Use compress= to make files smaller.")
