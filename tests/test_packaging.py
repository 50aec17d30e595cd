"""The package list of setup.py against the source tree: every directory of Python modules
under mle_runtime/ and compat/ is a declared package, so a wheel (a non-editable install)
holds everything an editable install sees. ``make wheel-smoke`` (run by .ci/run) checks a
real wheel in a fresh virtual environment."""

import os
import re
import runpy

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def setup_kwargs():
    """The keyword arguments setup.py passes to setuptools.setup (nothing is built)."""
    import setuptools
    from Cython import Build

    captured = {}
    mp = pytest.MonkeyPatch()
    mp.setattr(setuptools, "setup", lambda **kw: captured.update(kw))
    mp.setattr(Build, "cythonize", lambda *a, **kw: [])
    mp.chdir(ROOT)
    try:
        runpy.run_path(os.path.join(ROOT, "setup.py"), run_name="__main__")
    finally:
        mp.undo()
    return captured


def source_packages():
    """Dotted names of the directories holding .py files, as they are installed."""
    out = set()
    for top, installed_as in (("mle_runtime", "mle_runtime"), ("compat", "mle_runtime.compat")):
        for d, dirs, files in os.walk(os.path.join(ROOT, top)):
            dirs[:] = [x for x in dirs if x != "__pycache__"]
            if any(f.endswith(".py") for f in files):
                rel = os.path.relpath(d, os.path.join(ROOT, top))
                out.add(installed_as if rel == "." else
                        installed_as + "." + rel.replace(os.sep, "."))
    return out


def test_declared_packages_are_the_source_tree(setup_kwargs):
    declared = setup_kwargs["packages"]
    assert len(declared) == len(set(declared)), declared
    want = source_packages()
    assert {"mle_runtime", "mle_runtime.cli", "mle_runtime.compat"} <= want
    assert set(declared) == want, (f"missing from setup.py: {sorted(want - set(declared))}; "
                                   f"declared but absent: {sorted(set(declared) - want)}")
    assert "compat" not in declared  # installed only as mle_runtime.compat
    assert setup_kwargs["package_dir"] == {"mle_runtime.compat": "compat"}


def test_every_package_directory_has_an_init(setup_kwargs):
    """A directory of modules without __init__.py would be skipped by find_packages."""
    for name in source_packages():
        rel = name.replace("mle_runtime.compat", "compat", 1) if name.startswith(
            "mle_runtime.compat") else name
        path = os.path.join(ROOT, *rel.split("."), "__init__.py")
        assert os.path.isfile(path), f"{name}: no {os.path.relpath(path, ROOT)}"


def test_console_scripts_point_into_declared_packages(setup_kwargs):
    with open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8") as f:
        text = f.read()
    table = re.search(r"^\[project\.scripts\]\n(.*?)(?:^\[|\Z)", text, re.M | re.S).group(1)
    scripts = dict(re.findall(r'^([\w-]+)\s*=\s*"([\w.]+):\w+"', table, re.M))
    assert set(scripts) == {"mle-export", "mle-inspect", "mle-benchmark", "mle-runtime", "mle"}
    for name, module in scripts.items():
        package = module.rpartition(".")[0]
        assert package in setup_kwargs["packages"], f"{name}: {package} is not packaged"
