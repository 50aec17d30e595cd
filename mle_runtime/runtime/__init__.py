"""Loaded models: estimator proxies and input adaptation."""
