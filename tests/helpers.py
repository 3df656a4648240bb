"""Running the tool as a user would: in-process through click, or the installed console script."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

from migrator.cli import main

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: str
    stderr: str


def run_cli(*args: str, cwd: Path | None = None) -> Outcome:
    """In-process run (fast; the same code path as the console script)."""
    old = Path.cwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        result = CliRunner().invoke(main, [*args, "-j", "1"], catch_exceptions=False)
    finally:
        os.chdir(old)
    return Outcome(result.exit_code, result.stdout, result.stderr)


def script() -> str:
    """The installed ``migrate-tests`` console script of this environment."""
    found = shutil.which("migrate-tests", path=str(Path(sys.executable).parent))
    assert found, "migrate-tests is not installed in this environment (pip install -e '.[test]')"
    return found


def run_script(
    *args: str,
    cwd: Path,
    env: dict[str, str] | None = None,
    prefix: list[str] | None = None,
) -> Outcome:
    """A real subprocess through the console script, as a user or pre-commit runs it."""
    full_env = {**os.environ, "NO_COLOR": "1", **(env or {})}
    proc = subprocess.run(
        [*(prefix or []), script(), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=300,
        check=False,
    )
    return Outcome(proc.returncode, proc.stdout, proc.stderr)
