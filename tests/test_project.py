"""The project's own promises: CI runs the README's command, and the code passes its linters."""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```bash\n(.+?)\n```", text, re.S)


def test_readme_opens_with_the_run_and_the_test_command():
    run, test = readme_commands()[:2]
    assert "hypercorn examples.echo:app" in run
    assert test.endswith("python3 -m pytest")


def test_ci_runs_exactly_the_readme_test_command():
    test = readme_commands()[1]
    lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test in lines


def test_the_test_command_installs_the_pinned_releases():
    # A fresh install on any day gets the releases the suite was last run green against.
    test = readme_commands()[1]
    assert " -c constraints.txt " in test
    pins = {
        line.split("==")[0].lower()
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    # the servers and frameworks whose behaviour the tests assert, and the linters that judge
    assert {
        "hypercorn",
        "uvicorn",
        "granian",
        "websockets",
        "starlette",
        "litestar",
        "redis",
    } <= pins
    assert {"ruff", "mypy", "hypothesis", "pytest"} <= pins


def test_mypy_strict_passes_on_the_package():
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "shallot_ws"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_passes():
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "shallot_ws", "tests", "examples", "benchmarks"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_passes():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "format",
            "--check",
            "shallot_ws",
            "tests",
            "examples",
            "benchmarks",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
