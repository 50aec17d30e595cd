"""Layers import downwards only (docs: ../shared/DESIGN.md, "Layers import downwards"):

    base (errors, _version, _native) -> format (pure codecs) -> ir -> exporters | runtime
    -> api -> cli, compat, legacy and the package's public face (mle_runtime/__init__.py)

Every import of the package's own modules is read from the source (``ast``, function-local
imports included) and checked against that order. A function-local import of the package is
allowed only with a comment saying why (a cycle, or cold start: ``import mle_runtime;
mle.load(path)`` must stay light), on the import's line or the line above it.
"""

import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = "mle_runtime"

# (module prefix, layer, rank). The longest matching prefix decides; the package's own entry
# matches mle_runtime/__init__.py only, so a new module must be placed here. Layers of equal
# rank (exporters, runtime) are peers and do not import each other.
LAYERS = (
    ("mle_runtime.errors", "base", 0),
    ("mle_runtime._version", "base", 0),
    ("mle_runtime._native", "base", 0),
    ("mle_runtime.format", "format", 1),
    # The opt-in pickle codec lives in compat/ (DESIGN: the pickle fallback is kept there),
    # but it is a codec that imports nothing of this package (checked below): api hands it
    # to the value codec as a hook.
    ("mle_runtime.compat.pickle_fallback", "format", 1),
    ("mle_runtime.ir", "ir", 2),
    ("mle_runtime.exporters", "exporters", 3),
    ("mle_runtime.runtime", "runtime", 3),
    ("mle_runtime.cache", "runtime", 3),
    ("mle_runtime.api", "api", 4),
    ("mle_runtime.cli", "top", 5),
    ("mle_runtime.compat", "top", 5),
    ("mle_runtime.legacy", "top", 5),
    ("mle_runtime", "top", 5),  # the package itself: its __init__ imports api (and legacy)
)

# Upward imports that another change removes; each must still exist (so that the entry is
# deleted together with the import).
KNOWN_UPWARD = set()  # (module, target) pairs allowed to import upwards: none left


def _source_modules():
    """``{module name: path}`` of every module of the package; compat/ is installed as
    mle_runtime.compat (setup.py); the extension module is built from _native/."""
    out = {"mle_runtime._native": os.path.join(ROOT, "_native", "mle_native.pyx")}
    for top, prefix in ((os.path.join(ROOT, PACKAGE), PACKAGE),
                        (os.path.join(ROOT, "compat"), PACKAGE + ".compat")):
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = [d for d in dirnames if d != "__pycache__"]
            rel = os.path.relpath(dirpath, top)
            parts = [prefix] + ([] if rel == "." else rel.split(os.sep))
            for name in filenames:
                if name.endswith(".py"):
                    mod = parts if name == "__init__.py" else parts + [name[:-3]]
                    out[".".join(mod)] = os.path.join(dirpath, name)
    return out


MODULES = _source_modules()


def layer_of(module):
    best = None
    for prefix, layer, rank in LAYERS:
        if (module == prefix or module.startswith(prefix + ".") and prefix != PACKAGE) and \
                (best is None or len(prefix) > len(best[0])):
            best = (prefix, layer, rank)
    return None if best is None else best[1:]


def _package_of(module, path):
    return module if os.path.basename(path) == "__init__.py" else module.rpartition(".")[0]


def imports(source, module, path, modules=MODULES):
    """``[(target module, line, function-local)]``: the package modules ``source`` imports."""
    tree = ast.parse(source, path)
    found = []

    def visit(node, local):
        for child in ast.iter_child_nodes(node):
            inner = local or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                ast.Lambda))
            if isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name == PACKAGE or alias.name.startswith(PACKAGE + "."):
                        found.append((alias.name, child.lineno, local))
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    pkg = _package_of(module, path).split(".")
                    pkg = pkg[:len(pkg) - (child.level - 1)]
                    base = ".".join(pkg + ([base] if base else []))
                if base == PACKAGE or base.startswith(PACKAGE + "."):
                    for alias in child.names:
                        sub = f"{base}.{alias.name}"
                        found.append((sub if sub in modules else base, child.lineno, local))
            visit(child, inner)

    visit(tree, False)
    return found


def _commented(lines, line):
    """Whether the import on ``line`` (1-based) has a comment on its line, or on the line
    above it or above the run of import lines it belongs to."""
    if "#" in lines[line - 1]:
        return True
    k = line - 2
    while k >= 0 and lines[k].strip().startswith(("from ", "import ")):
        k -= 1
    return k >= 0 and lines[k].strip().startswith("#")


def violations(source, module, path, modules=MODULES):
    """``(upward imports, uncommented function-local imports)`` of one module's source, each
    a list of ``"path:line: message"``."""
    lines = source.splitlines()
    own = layer_of(module)
    upward, uncommented = [], []
    for target, line, local in imports(source, module, path, modules):
        where = f"{os.path.relpath(path, ROOT)}:{line}"
        theirs = layer_of(target)
        if own is None or theirs is None:
            upward.append(f"{where}: {module} or {target} is in no layer; add it to "
                          "tests/test_layers.py LAYERS")
        elif (module, target) not in KNOWN_UPWARD and (
                theirs[1] > own[1] or theirs[1] == own[1] and theirs[0] != own[0]):
            upward.append(f"{where}: {module} ({own[0]}) imports {target} ({theirs[0]}); "
                          "layers import downwards only: pass what is needed from above as "
                          "an argument or hook")
        if local and not _commented(lines, line):
                uncommented.append(f"{where}: function-local import of {target} without a "
                                   "comment saying why (a cycle, or cold start); import it "
                                   "at module level")
    return upward, uncommented


def _read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def test_every_module_is_in_a_layer():
    assert [m for m in MODULES if layer_of(m) is None] == []
    assert "mle_runtime.format.values" in MODULES and "mle_runtime.compat.migrate" in MODULES


def test_layers_import_downwards_only():
    found = []
    for module, path in sorted(MODULES.items()):
        if not path.endswith(".py"):
            continue  # the extension module (Cython)
        found += violations(_read(path), module, path)[0]
    assert found == [], "\n".join(found)


def test_function_local_imports_say_why():
    found = []
    for module, path in sorted(MODULES.items()):
        if not path.endswith(".py"):
            continue  # the extension module (Cython)
        found += violations(_read(path), module, path)[1]
    assert found == [], "\n".join(found)


def test_known_upward_imports_still_exist():
    """An entry of KNOWN_UPWARD whose import is gone must be deleted with it."""
    for module, target in KNOWN_UPWARD:
        path = MODULES[module]
        assert target in [t for t, _, _ in imports(_read(path), module, path)], \
            f"{module} no longer imports {target}: delete the entry from KNOWN_UPWARD"


def test_pickle_codec_imports_nothing_of_the_package():
    module = "mle_runtime.compat.pickle_fallback"
    path = MODULES[module]
    assert imports(_read(path), module, path) == []


def test_quantization_is_a_codec_of_the_format_layer():
    assert "mle_runtime.format.quantization" in MODULES
    assert "mle_runtime.quantization" not in MODULES


# -- the checker itself, on constructed sources -----------------------------------------------

# the module names a constructed source may refer to
FAKE = {"mle_runtime.format.values", "mle_runtime.runtime.proxies", "mle_runtime.format.writer",
        "mle_runtime.api", "mle_runtime.exporters", "mle_runtime.format"}


@pytest.mark.parametrize("source, upward, uncommented", [
    ("from mle_runtime.runtime.proxies import MLEModel\n", 1, 0),
    ("import mle_runtime.api\n", 1, 0),
    ("import mle_runtime as mle\n", 1, 0),
    ("from ..runtime import proxies\n", 1, 0),
    ("def f():\n    from mle_runtime.exporters import export\n", 1, 1),
    ("def f():\n    from mle_runtime.format import writer\n", 0, 1),
    ("def f():\n    # a cycle: writer imports values\n    from mle_runtime.format import writer\n",
     0, 0),
    ("def f():\n    from mle_runtime.format import writer  # cold start\n", 0, 0),
    ("def f():\n    # cold start\n    import mle_runtime.format.writer\n"
     "    from mle_runtime.format import container\n", 0, 0),
    ("def f():\n    # cold start\n    x = 1\n    from mle_runtime.format import writer\n",
     0, 1),
    ("class C:\n    def m(self):\n        from . import writer\n", 0, 1),
    ("from mle_runtime.format import writer\nfrom mle_runtime.errors import FormatError\n", 0, 0),
    ("import json\ndef f():\n    import pandas\n", 0, 0),
])
def test_checker_flags_upward_and_uncommented_imports(source, upward, uncommented):
    path = os.path.join(ROOT, "mle_runtime", "format", "values.py")
    up, unc = violations(source, "mle_runtime.format.values", path, FAKE)
    assert (len(up), len(unc)) == (upward, uncommented), (up, unc)


def test_checker_flags_imports_between_peer_layers():
    path = os.path.join(ROOT, "mle_runtime", "runtime", "proxies.py")
    up, _ = violations("from mle_runtime.exporters import export\n",
                       "mle_runtime.runtime.proxies", path, FAKE)
    assert len(up) == 1 and "(exporters)" in up[0]
