"""Compatibility layer that keeps mle_runtime a drop-in for joblib (installed as
``mle_runtime.compat``)."""
