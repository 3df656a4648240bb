"""One pytest session in a subprocess, read back through its JUnit XML report."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Outcome:
    """Per test file (as given): failing test ids with their first error line, and whether
    the file ran at all (collected tests)."""

    failures: dict[str, dict[str, str]] = field(default_factory=dict)
    passed: dict[str, int] = field(default_factory=dict)
    error: str | None = None  # the session itself could not run (timeout, no pytest...)
    # with several sessions (-j): the error of the session that ran each file
    errors: dict[str, str] = field(default_factory=dict)

    def error_for(self, path: str) -> str | None:
        return self.errors.get(path, self.error)


def run_many(python: str, files: list[str], cwd: Path, timeout: float, jobs: int = 1) -> Outcome:
    """The files in up to ``jobs`` pytest sessions side by side (one per batch of files)."""
    batches = [files[i::jobs] for i in range(max(1, min(jobs, len(files))))]
    if len(batches) <= 1:
        return run(python, files, cwd, timeout)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(len(batches)) as pool:
        outcomes = list(pool.map(lambda batch: run(python, batch, cwd, timeout), batches))
    merged = Outcome()
    for batch, outcome in zip(batches, outcomes, strict=True):
        merged.failures.update(outcome.failures)
        merged.passed.update(outcome.passed)
        if outcome.error is not None:
            merged.errors.update(dict.fromkeys(batch, outcome.error))
    return merged


def default_python() -> str:
    """The ``python`` of the active environment, else the interpreter running the tool."""
    if os.environ.get("VIRTUAL_ENV") or os.environ.get("CONDA_PREFIX"):
        found = shutil.which("python")
        if found:
            return found
    return sys.executable


PLUGIN_DIR = Path(__file__).resolve().parent / "plugin"


def run(
    python: str, files: list[str], cwd: Path, timeout: float, record: Path | None = None
) -> Outcome:
    """Run the tests of ``files`` (paths relative to ``cwd``) in one pytest session;
    ``record``: a file the recording plugin appends the compared values to."""
    if not files:
        return Outcome()
    env = dict(os.environ)
    plugin: list[str] = []
    if record is not None:
        plugin = ["-p", "migrate_tests_record"]
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PLUGIN_DIR), env.get("PYTHONPATH")]))
        env["MIGRATE_TESTS_RECORD"] = str(record)
    with tempfile.TemporaryDirectory(prefix="migrate-tests-verify-") as tmp:
        report = Path(tmp) / "junit.xml"
        command = [
            python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "junit_family=xunit1",
            *plugin, f"--junitxml={report}", *files,
        ]  # fmt: skip
        try:
            proc = subprocess.run(
                command,
                cwd=cwd,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
                env=env,
            )
        except subprocess.TimeoutExpired:
            return Outcome(error=f"the test session timed out after {timeout:g} s")
        except OSError as exc:
            return Outcome(error=f"cannot run {python}: {exc.strerror or exc}")
        if not report.exists():
            last = (proc.stderr or proc.stdout).strip().splitlines()
            return Outcome(error=f"pytest did not run ({last[-1] if last else proc.returncode})")
        return _read(report, files, cwd)


def _read(report: Path, files: list[str], cwd: Path) -> Outcome:
    outcome = Outcome()
    by_resolved = {str((cwd / f).resolve()): f for f in files}
    for case in ET.parse(report).getroot().iter("testcase"):
        name = by_resolved.get(str((cwd / case.get("file", "")).resolve()))
        if name is None:
            continue
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        test_id = f"{case.get('file')}::{case.get('name')}"
        if problem is not None:
            text = (problem.get("message") or problem.text or "").strip().splitlines()
            outcome.failures.setdefault(name, {})[test_id] = text[0] if text else "failed"
        elif case.find("skipped") is None:
            outcome.passed[name] = outcome.passed.get(name, 0) + 1
    return outcome
