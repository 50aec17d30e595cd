"""mle_runtime: a safe, fast, drop-in replacement for ``joblib.dump`` / ``joblib.load`` for
trained models.

>>> import mle_runtime as mle
>>> mle.dump(pipeline, "model.mle")       # doctest: +SKIP
>>> model = mle.load("model.mle")         # doctest: +SKIP
>>> model.predict_proba(X)                # doctest: +SKIP
"""

import os as _os

# OpenMP threads that busy-wait long after a batch steal the cores from numpy's BLAS threads
# (and BLAS's from ours) when the two alternate, which turns sub-millisecond calls into
# multi-millisecond ones on small machines. A short spin before sleeping avoids that; an
# explicit setting by the user wins. Read once, when the native module loads libgomp.
if "OMP_WAIT_POLICY" not in _os.environ:
    _os.environ.setdefault("GOMP_SPINCOUNT", "10000")

from mle_runtime._version import __version__  # noqa: E402
from mle_runtime.api import dump, load  # noqa: E402
from mle_runtime.errors import FormatError, InputError, MLEError, UnsupportedModelError  # noqa: E402

__all__ = [
    "__version__",
    "dump",
    "load",
    "MLEError",
    "FormatError",
    "InputError",
    "UnsupportedModelError",
]
