"""Build of mle_runtime: the C++ core in _native/ and its Cython wrapper, compiled into the
extension module ``mle_runtime._native``; ``compat/`` is installed as ``mle_runtime.compat``."""

import glob
import os

from concurrent.futures import ThreadPoolExecutor

from setuptools import Extension, find_packages, setup
from setuptools.command.build_ext import build_ext
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


def openblas():
    """Include dir, lib dir and library name of scipy-openblas32 (the BLAS behind the dense
    kernels, _native/src/kernels/dense/; its symbols carry a ``scipy_`` prefix, so it never
    clashes with another BLAS in the process)."""
    try:
        import scipy_openblas32
    except ImportError:
        raise SystemExit("building mle_runtime needs scipy-openblas32 (the BLAS of the dense "
                         "kernels): pip install scipy-openblas32") from None
    return (scipy_openblas32.get_include_dir(), scipy_openblas32.get_lib_dir(),
            scipy_openblas32.get_library())


OPENBLAS_INCLUDE, OPENBLAS_LIB, OPENBLAS_NAME = openblas()
# The installed extension (site-packages/mle_runtime/_native*.so) finds the library of the
# installed scipy-openblas32 package next to it; an in-place build finds it where it was built
# against (a directory that does not exist is skipped).
openblas_rpath = ["-Wl,-rpath,$ORIGIN/../scipy_openblas32/lib", "-Wl,-rpath," + OPENBLAS_LIB]

extension = Extension(
    "mle_runtime._native",
    sources=native_sources(),
    include_dirs=[os.path.join("_native", "include"), OPENBLAS_INCLUDE],
    library_dirs=[OPENBLAS_LIB],
    libraries=[OPENBLAS_NAME],
    depends=sorted(glob.glob(os.path.join("_native", "include", "mle", "*.h"))),
    language="c++",
    extra_compile_args=compile_args,
    extra_link_args=["-pthread"] + openblas_rpath,
)


class IncrementalBuildExt(build_ext):
    """build_ext that recompiles only the sources whose object file is older than the source
    or than any header the extension depends on, and compiles them in parallel (``-j N``, or
    one job per CPU): setuptools alone recompiles every source of the extension, one after
    another, whenever any one changed."""

    def build_extension(self, ext):
        compiler = self.compiler
        jobs = self.parallel if isinstance(self.parallel, int) and self.parallel > 1 \
            else (os.cpu_count() or 1)
        force = self.force
        headers = [h for h in (ext.depends or []) if os.path.exists(h)]
        newest_header = max((os.path.getmtime(h) for h in headers), default=0.0)

        def compile_changed(sources, output_dir=None, macros=None, include_dirs=None,
                            debug=False, extra_preargs=None, extra_postargs=None,
                            depends=None):
            macros, objects, extra_postargs, pp_opts, build = compiler._setup_compile(
                output_dir, macros, include_dirs, sources, depends, extra_postargs)
            cc_args = compiler._get_cc_args(pp_opts, debug, extra_preargs)

            def stale(obj):
                src = build[obj][0]
                if force or not os.path.exists(obj):
                    return True
                built = os.path.getmtime(obj)
                return built < os.path.getmtime(src) or built < newest_header

            todo = [obj for obj in objects if obj in build and stale(obj)]
            with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
                for done in pool.map(lambda obj: compiler._compile(
                        obj, build[obj][0], build[obj][1], cc_args, extra_postargs, pp_opts),
                        todo):
                    pass
            return objects

        compiler.compile = compile_changed
        try:
            super().build_extension(ext)
        finally:
            del compiler.compile


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
    cmdclass={"build_ext": IncrementalBuildExt},
    packages=packages(),
    package_dir={"mle_runtime.compat": "compat"},
    options=build_options,
    ext_modules=cythonize(
        [extension],
        compiler_directives={"language_level": "3"},
        include_path=[os.path.join(HERE, "_native")],
    ),
)
