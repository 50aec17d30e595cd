"""joblib's own persistence tests (``joblib/test/test_numpy_pickle.py`` of the installed
joblib), run against mle_runtime.

Every test function of that module is collected here. For each test, ``dump`` and ``load`` of
``joblib.numpy_pickle`` (the names the module calls) are replaced by
:func:`mle_runtime.compat.joblib.dump` / :func:`~mle_runtime.compat.joblib.load` with
``allow_pickle=True``: the objects mle_runtime cannot store natively (the tests' own classes,
functions, masked arrays) go to the file's pickle section, everything else is stored
natively. The tests that still fail are the deliberate differences listed in the README
("joblib compatibility", "Where we differ from joblib on purpose"); each is marked as an
expected failure (strict: one that starts passing is reported) with the reason, and
:func:`test_deliberate_differences_are_documented` checks that the README names each.

A test that blocks (reading a stream until its end, for instance) fails after
:data:`TIMEOUT` seconds instead of hanging the suite.
"""

import os
import signal

import pytest
from joblib import numpy_pickle
from joblib.compressor import _COMPRESSORS

from mle_runtime.compat import joblib as mle_joblib
from mle_runtime.compat import pickle_fallback

# joblib's module parametrises a test over the compressors registered when this module is
# collected: joblib's own, without the guard mle_runtime registers after a dump
# (pickle_fallback.guard_joblib), which the fixture below registers again for each test
_COMPRESSORS.pop("mle_runtime", None)
from joblib.test import test_numpy_pickle as joblib_tests  # noqa: E402

TIMEOUT = 20  # seconds per test

# test name (without parameters) or full test id -> why mle_runtime differs on purpose (the
# README's list of deliberate differences gives the same reasons)
DELIBERATE = {
    "test_memmap_persistence":
        "mmap_mode='r+' (and 'w+') is refused for files holding arrays: writing into the "
        "mapped file would change it behind its checksums",
    "test_object_array_inner_stream_uses_caller_find_class":
        "reads the file with joblib's own NumpyUnpickler: an .mle file is not a pickle "
        "stream",
    "test_lz4_compression_without_lz4":
        "lz4 is not available in mle_runtime whether or not the lz4 package is installed, "
        "and the error says so instead of 'LZ4 is not installed'",
    "test_compression_using_file_extension[.pkl-not-compressed]":
        "joblib's _detect_compressor names an uncompressed .mle file 'mle_runtime', the "
        "guard registered with joblib so that joblib.load of an .mle file says what it is",
    "test_compression_using_file_extension[-not-compressed]":
        "joblib's _detect_compressor names an uncompressed .mle file 'mle_runtime', the "
        "guard registered with joblib so that joblib.load of an .mle file says what it is",
}

for _name in dir(joblib_tests):
    if _name.startswith("test_") and callable(getattr(joblib_tests, _name)):
        globals()[_name] = getattr(joblib_tests, _name)
del _name


def _dump(value, filename, compress=0, protocol=None):
    return mle_joblib.dump(value, filename, compress, protocol, allow_pickle=True)


def _load(filename, mmap_mode=None, ensure_native_byte_order="auto"):
    kw = {} if ensure_native_byte_order == "auto" else \
        {"ensure_native_byte_order": ensure_native_byte_order}
    return mle_joblib.load(filename, mmap_mode, allow_pickle=True, **kw)


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout(f"the test ran for more than {TIMEOUT} s (it blocks)")


@pytest.fixture(autouse=True)
def _mle_numpy_pickle(request, monkeypatch):
    name = request.node.name
    reason = DELIBERATE.get(name) or DELIBERATE.get(name.partition("[")[0])
    if reason is not None:
        request.node.add_marker(pytest.mark.xfail(reason=reason, strict=True))
    pickle_fallback.guard_joblib()  # as after any mle_runtime.dump in a joblib user's process
    monkeypatch.setattr(numpy_pickle, "dump", _dump)
    monkeypatch.setattr(numpy_pickle, "load", _load)
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(TIMEOUT)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_deliberate_differences_are_documented():
    """Each expected failure is named in the README's list of deliberate differences."""
    readme = os.path.join(os.path.dirname(__file__), "..", "..", "README.md")
    with open(readme, encoding="utf-8") as f:
        text = f.read()
    section = text[text.index("Where we differ from joblib on purpose"):]
    for name in DELIBERATE:
        assert f"`{name.partition('[')[0]}`" in section, name


def test_the_whole_module_is_collected():
    """Every test function of joblib's module is collected here (a newer joblib's new tests
    run too)."""
    names = [n for n in dir(joblib_tests) if n.startswith("test_")]
    assert len(names) > 30
    assert all(globals()[n] is getattr(joblib_tests, n) for n in names)
