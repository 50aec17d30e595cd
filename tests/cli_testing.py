"""Running the installed console scripts (pyproject.toml ``[project.scripts]``) in subprocesses,
for tests/cli/. A missing script fails the test: install the package (``pip install -e
".[dev]"``) before running the suite."""

import os
import shutil
import subprocess
import sys

import pytest

SCRIPTS = ("mle-export", "mle-inspect", "mle-benchmark", "mle-runtime", "mle")



def script(name):
    """The installed console script ``name``: next to the interpreter, else on PATH."""
    here = os.path.join(os.path.dirname(sys.executable), name)
    if os.path.isfile(here) and os.access(here, os.X_OK):
        return here
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"console script {name!r} is not installed (looked next to "
                    f"{sys.executable} and on PATH); run: pip install -e '.[dev]'")
    return found



def cli(name, *args, env=None):
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([script(name), *map(str, args)], capture_output=True, text=True,
                          timeout=300, env=full_env)

