"""Compatibility layer that keeps mle_runtime a drop-in for joblib (installed as
``mle_runtime.compat``).

- ``from mle_runtime.compat import joblib``: a module to use in place of ``import joblib``
  (:mod:`mle_runtime.compat.joblib`): ``dump``/``load`` by mle_runtime, joblib's other names
  (``Parallel``, ``delayed``, ``Memory``, ...) forwarded to joblib;
- :func:`migrate`: converts existing joblib/pickle files (one, or a directory tree) to .mle
  files and reports what could not be stored natively (``mle-export DIR --trust``);
- ``pickle_fallback``: the opt-in pickle section, the only place anything is unpickled.
"""

from mle_runtime.compat.migrate import FileResult, MigrationReport, migrate

__all__ = ["migrate", "MigrationReport", "FileResult", "joblib"]
