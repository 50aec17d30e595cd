"""Input and output adaptation of neural-network models (graphs with an input ``shape`` rule).

X of shape ``(n, *shape)`` is passed to the native plan as ``n`` rows of ``prod(shape)``
float32 values; an output with a ``shape`` rule comes back as ``(n, *shape)``. A torch tensor
is converted through ``.numpy()`` when torch is already imported (it is never imported here);
float64 and integer input (token ids of an embedding, exact up to 2**24) become float32.
"""

import sys

import numpy as np

from mle_runtime.errors import InputError

_MAX_EXACT_ID = 2 ** 24  # integers up to this are exact in float32


def _is_torch_tensor(X):
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(X, torch.Tensor)


def as_rows(X, shape, summary):
    """X as a C-contiguous float32 matrix (n, prod(shape))."""
    if _is_torch_tensor(X):
        X = X.detach().cpu().numpy()
    X = np.asarray(X)
    if X.dtype.kind in "iub":
        if X.size and (X.min() < -_MAX_EXACT_ID or X.max() > _MAX_EXACT_ID):
            raise InputError(f"{summary}: integer input beyond 2**24 is not exact in float32")
        X = X.astype(np.float32)
    elif X.dtype.kind != "f":
        raise TypeError(f"{summary} takes numeric input (float32), got dtype {X.dtype}")
    shape = tuple(shape)
    if X.shape[1:] != shape and not (shape == (1,) and X.ndim == 1):
        expected = ", ".join(["n"] + [str(d) for d in shape])
        raise InputError(f"{summary} expects input of shape ({expected}), got {X.shape}")
    n = X.shape[0] if X.ndim else 0
    return np.ascontiguousarray(X.reshape(n, -1), dtype=np.float32)


def nn_method(run, idx, in_shape, out_shape, threads, summary, resolve_n_threads):
    """The proxy method of output ``idx``: adapted input, one native call, shaped output."""
    out_shape = tuple(out_shape) if out_shape else None

    def method(X, *, n_threads=None):
        t = threads if n_threads is None else resolve_n_threads(n_threads)
        out = run(as_rows(X, in_shape, summary), idx, t)
        if out_shape is not None:
            out = out.reshape((out.shape[0],) + out_shape)
        return out

    return method
