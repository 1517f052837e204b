"""The official AsyncAPI parser (``@asyncapi/parser``, npm) run on a generated document.

``tests/asyncapi`` pins the parser (and ``@asyncapi/react-component``, whose bundle the page
test serves) in ``package.json`` and ``package-lock.json``; ``.ci/run`` installs them with
``INSTALL``. ``validate.js`` reads a document on stdin and prints the diagnostics as JSON.
Without node or the installed packages a test fails, naming the command; it never skips.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

__all__ = ["INSTALL", "NODE_DIR", "assert_valid", "diagnostics", "installed_package"]

NODE_DIR = Path(__file__).resolve().parent / "asyncapi"
INSTALL = "npm ci --prefix tests/asyncapi --ignore-scripts --no-audit --no-fund"
ERROR = 0  # a diagnostic's severity: 0 error, 1 warning, 2 information, 3 hint
PARSE_TIMEOUT = 60.0  # seconds


def installed_package(name: str) -> Path:
    """The folder of the npm package ``name`` under tests/asyncapi/node_modules; the test
    fails naming the install command when it is not there."""
    folder = NODE_DIR / "node_modules" / name
    if not (folder / "package.json").is_file():
        pytest.fail(
            f"{name} is not installed in tests/asyncapi/node_modules: run `{INSTALL}` "
            "from the project root (.ci/run does)",
            pytrace=False,
        )
    return folder


def diagnostics(document: Any) -> list[dict[str, Any]]:
    """What the parser says about ``document``: ``code``, ``message``, ``path``, ``severity``."""
    node = shutil.which("node")
    if node is None:
        pytest.fail(
            "node is missing: install Node.js 20 (apt-get install nodejs npm)", pytrace=False
        )
    installed_package("@asyncapi/parser")
    result = subprocess.run(
        [node, "validate.js"],
        input=json.dumps(document),
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=PARSE_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, f"validate.js failed:\n{result.stderr}"
    found: list[dict[str, Any]] = json.loads(result.stdout)
    return found


def assert_valid(document: Any) -> None:
    """The parser finds no error in ``document`` (warnings and hints are allowed)."""
    errors = [d for d in diagnostics(document) if d["severity"] == ERROR]
    assert errors == [], json.dumps(errors, indent=2)
