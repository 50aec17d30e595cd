"""Every console script: installed, --help, usage errors. Run as installed console scripts in
subprocesses (tests/cli_testing.py)."""

from cli_testing import SCRIPTS, cli
import pytest


@pytest.mark.parametrize("name", SCRIPTS)
def test_scripts_installed_with_help(name):
    proc = cli(name, "--help")
    assert proc.returncode == 0, proc.stderr
    assert "usage:" in proc.stdout and len(proc.stdout) > 200


@pytest.mark.parametrize("name", SCRIPTS)
def test_usage_errors_exit_2(name):
    proc = cli(name, "--no-such-option")
    assert proc.returncode == 2
    assert "usage:" in proc.stderr and proc.stdout == ""
