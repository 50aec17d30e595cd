"""Build of mle_runtime: the C++ core in _native/ and its Cython wrapper, compiled into the
extension module ``mle_runtime._native``; ``compat/`` is installed as ``mle_runtime.compat``."""

import glob
import os

from setuptools import Extension, find_packages, setup
from Cython.Build import cythonize

HERE = os.path.dirname(os.path.abspath(__file__))


def native_sources():
    cpp = sorted(glob.glob(os.path.join("_native", "src", "**", "*.cpp"), recursive=True))
    return [os.path.join("_native", "mle_native.pyx")] + cpp


compile_args = [
    "-std=c++17",
    "-O3",
    "-pthread",
    "-ffp-contract=off",  # keep every rounding step exactly as numpy performs it
    "-fvisibility=hidden",
    "-Wall",
    "-Wno-unused-function",
]

extension = Extension(
    "mle_runtime._native",
    sources=native_sources(),
    include_dirs=[os.path.join("_native", "include")],
    depends=sorted(glob.glob(os.path.join("_native", "include", "mle", "*.h"))),
    language="c++",
    extra_compile_args=compile_args,
    extra_link_args=["-pthread"],
)


def packages():
    """Every package in the source tree: mle_runtime and its subpackages, and compat/ (with
    any subpackage) installed as mle_runtime.compat. tests/test_packaging.py checks this
    against the directories, so no subpackage can be left out of a wheel."""
    compat = ["mle_runtime.compat"] + ["mle_runtime.compat." + p for p in
                                       find_packages(where=os.path.join(HERE, "compat"))]
    return find_packages(where=HERE, include=["mle_runtime", "mle_runtime.*"]) + compat

# -- Sanitizer build (make sanitize, docs/FUZZING.md) ---------------------------------------
# MLE_SANITIZE=1 compiles the native core with AddressSanitizer and UndefinedBehaviorSanitizer
# (gcc), every undefined-behaviour report fatal, into build/asan so that the objects of the
# normal in-place build are never reused or replaced. Load it with libasan preloaded.
build_options = {}
if os.environ.get("MLE_SANITIZE") == "1":
    sanitize = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined"]
    extension.extra_compile_args += sanitize + ["-fno-omit-frame-pointer", "-g", "-O1"]
    extension.extra_link_args += sanitize
    build_options = {"build": {"build_base": os.path.join("build", "asan")}}
# -------------------------------------------------------------------------------------------

setup(
    packages=packages(),
    package_dir={"mle_runtime.compat": "compat"},
    options=build_options,
    ext_modules=cythonize(
        [extension],
        compiler_directives={"language_level": "3"},
        include_path=[os.path.join(HERE, "_native")],
    ),
)
