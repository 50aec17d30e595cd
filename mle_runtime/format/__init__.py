"""The .mle container: byte layout, reader and writer (see docs/FORMAT.md)."""
