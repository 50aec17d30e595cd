"""The Status codes of the C++ core (_native/include/mle/status.h) and the one table that
maps them to Python exceptions (``_native.STATUS_EXCEPTIONS``, read by ``check_status``)."""

import os
import re

import pytest

from mle_runtime import _native
from mle_runtime.errors import FormatError, InputError, MLEError, UnsupportedModelError

STATUS_H = os.path.join(os.path.dirname(__file__), "..", "..", "_native", "include", "mle",
                        "status.h")
EXPECTED = {"kFormat": FormatError, "kInput": InputError,
            "kUnsupported": UnsupportedModelError, "kIO": OSError, "kMemory": MemoryError}


def _codes():
    """``{name: value}`` of ``enum class Code`` in status.h."""
    with open(STATUS_H, encoding="utf-8") as f:
        text = f.read()
    body = re.search(r"enum class Code : int \{(.*?)\};", text, re.S)
    assert body, "enum class Code not found in status.h"
    return {m[1]: int(m[2]) for m in re.finditer(r"(k\w+)\s*=\s*(\d+)", body[1])}


def test_every_error_code_has_its_exception():
    codes = _codes()
    assert codes["kOk"] == 0 and "kInternal" in codes
    # every code but kOk and kInternal (a bug: MLEError) is in the table, and nothing else
    assert set(_native.STATUS_EXCEPTIONS) == {v for k, v in codes.items()
                                              if k not in ("kOk", "kInternal")}
    for name, exc in EXPECTED.items():
        assert _native.STATUS_EXCEPTIONS[codes[name]] is exc, name


def test_statuses_raise_their_exceptions(tmp_path):
    with pytest.raises(FormatError):
        _native.load_buffer(b"not an .mle file" * 8)
    missing = tmp_path / "missing.mle"
    with pytest.raises(OSError) as e:
        _native.load_path(os.fsencode(missing), str(missing))
    assert e.value.filename == str(missing) and e.value.errno is not None
    assert not isinstance(e.value, MLEError)
