"""mle_runtime: a safe, fast, drop-in replacement for ``joblib.dump`` / ``joblib.load`` for
trained models.

>>> import mle_runtime as mle
>>> mle.dump(pipeline, "model.mle")       # doctest: +SKIP
>>> model = mle.load("model.mle")         # doctest: +SKIP
>>> model.predict_proba(X)                # doctest: +SKIP
"""

from mle_runtime._version import __version__
from mle_runtime.api import dump, load
from mle_runtime.errors import FormatError, InputError, MLEError, UnsupportedModelError

__all__ = [
    "__version__",
    "dump",
    "load",
    "MLEError",
    "FormatError",
    "InputError",
    "UnsupportedModelError",
]
