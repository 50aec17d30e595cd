"""The resource budget of one load (docs/FORMAT.md, section 18).

Loading a file of N bytes may allocate at most ``FACTOR * N + CONSTANT`` bytes beyond the file
itself, whatever the file says: decompressed and decrypted bytes, dequantised tensors, decoded
objects of a value file (pandas objects included) all draw on one :class:`LoadBudget` created
per load from the size of the file as stored. A file that would need more is refused with
:class:`~mle_runtime.FormatError` before the memory is allocated, unless the caller raises the
limit (``mle.load(..., memory_limit=...)``) for a file it trusts.
"""

from mle_runtime.errors import FormatError

FACTOR = 32
CONSTANT = 64 << 20


def default_limit(file_size):
    """The bytes a load of a ``file_size``-byte file may allocate by default."""
    return FACTOR * int(file_size) + CONSTANT


class LoadBudget:
    """What one load may still allocate. ``charge`` counts an allocation before it is made."""

    __slots__ = ("file_size", "limit", "used")

    def __init__(self, file_size, limit=None):
        self.file_size = int(file_size)
        if limit is None:
            limit = default_limit(file_size)
        elif isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise ValueError(f"memory_limit must be a non-negative int (bytes) or None, got "
                             f"{limit!r}")
        self.limit = limit
        self.used = 0

    @property
    def remaining(self):
        return self.limit - self.used

    def charge(self, nbytes, what):
        """Counts ``nbytes`` for ``what`` (a few words naming the allocation); raises
        FormatError when the total would pass the limit."""
        self.used += int(nbytes)
        if self.used > self.limit:
            raise FormatError(
                f"loading this {self.file_size}-byte file would allocate far more memory than "
                f"the file holds: more than {self.limit} bytes ({what}: {int(nbytes)} more); "
                "the limit is "
                f"{FACTOR} x the file size + {CONSTANT >> 20} MiB. The file is damaged or "
                "hostile; if you trust it, pass a larger memory_limit= to mle.load")

    @classmethod
    def of(cls, budget, file_size):
        """``budget`` itself, or a default budget for a ``file_size``-byte file when None."""
        return budget if budget is not None else cls(file_size)
