"""Run migrate-tests over real test suites and compare it with the ledger.

    python -m tests.realworld [--corpora ../shared/corpora] [--show] [--write-ratchet]

The corpora are real projects' test files (data, never copied into this repository). On a copy
of them this runs the installed tool three times: ``--dry-run --format json`` (the outcome of
every file, compared with ``tests/realworld/ledger.toml``), ``--apply`` (every output must
parse), and ``--check`` (a second run must change nothing). It fails when an output does not
parse, when the second run would change something, when a file the tool changes or flags is
missing from the ledger, or when the tool and the ledger disagree on more items than the
ledger's ``known_disagreements`` ratchet allows.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

HERE = Path(__file__).resolve().parent
LEDGER = HERE / "ledger.toml"
DEFAULT_CORPORA = HERE.parents[1].parent / "shared" / "corpora"


@dataclass
class Outcome:
    files: int = 0
    changed: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    decisions: Counter[str] = field(default_factory=Counter)
    disagreements: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def run_tool(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "migrator", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)


def tool_decisions(findings: list[dict[str, Any]]) -> dict[tuple[str, int], set[str]]:
    """(source id, line) -> the decisions the tool's findings took for that literal."""
    out: dict[tuple[str, int], set[str]] = {}
    for finding in findings:
        if finding.get("source_id"):
            out.setdefault((finding["source_id"], finding["line"]), set()).add(finding["decision"])
    return out


def verdict(decisions: set[str]) -> str:
    """One literal's decision: any fix migrates it, any review flags it, else it is kept."""
    if "migrate" in decisions:
        return "migrate"
    if "review" in decisions:
        return "review"
    return "keep"


def compare(report: dict[str, Any], ledger: dict[str, Any], root: Path, outcome: Outcome) -> None:
    files = {(root / f["path"]).resolve().relative_to(root).as_posix(): f for f in report["files"]}
    outcome.files = len(files)
    for path, entry in sorted(files.items()):
        outcome.statuses[entry["status"]] += 1
        outcome.changed += bool(entry["changed"])
        expected = ledger.get(path)
        flagged = entry["changed"] or entry["status"] not in ("clean", "skipped")
        if expected is None:
            if flagged:
                outcome.disagreements.append(f"{path}: {entry['status']}, not in the ledger")
            continue
        if expected["status"] != entry["status"]:
            outcome.disagreements.append(
                f"{path}: status {entry['status']}, ledger says {expected['status']}"
                + (f" ({expected['note']})" if expected.get("note") else "")
            )
        decided = tool_decisions(entry["findings"])
        covered: set[tuple[str, int]] = set()
        for binding in expected.get("bindings", []):
            outcome.decisions[binding["decision"]] += 1
            for line in binding["lines"]:
                key = (binding["id"], line)
                covered.add(key)
                got = verdict(decided.get(key, set()))
                if got != binding["decision"]:
                    outcome.disagreements.append(
                        f"{path}:{line} {binding['id']!r}: tool {got}, ledger "
                        f"{binding['decision']} ({binding['reason']})"
                    )
        for key in sorted(set(decided) - covered):
            outcome.disagreements.append(
                f"{path}:{key[1]} {key[0]!r}: tool {verdict(decided[key])}, not in the ledger"
            )
    for path in sorted(set(ledger) - set(files) - {"meta"}):
        outcome.failures.append(f"{path}: in the ledger but not in the corpora")


def check_outputs(report: dict[str, Any], copy: Path, outcome: Outcome) -> None:
    """--apply on the copy: every changed file parses; then --check: nothing left to change."""
    applied = run_tool(["--apply", "-q", "."], copy)
    if applied.returncode not in (0, 2):
        outcome.failures.append(f"--apply exited {applied.returncode}: {applied.stderr[-500:]}")
    for entry in report["files"]:
        if entry["changed"]:
            path = copy / entry["path"]
            try:
                ast.parse(path.read_bytes())
            except SyntaxError as exc:
                outcome.failures.append(f"{path}: output does not parse: {exc}")
    again = run_tool(["--check", "-q", "."], copy)
    if again.returncode == 1:
        outcome.failures.append(f"second run would change files:\n{again.stdout[-2000:]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    parser.add_argument("--show", action="store_true", help="list every disagreement")
    parser.add_argument(
        "--write-ratchet",
        action="store_true",
        help="set known_disagreements in the ledger to today's count (only ever lower it)",
    )
    options = parser.parse_args()
    if not options.corpora.is_dir():
        print(f"realworld: no corpora at {options.corpora}; nothing to compare")
        return 0
    ledger = tomllib.loads(LEDGER.read_text(encoding="utf-8"))
    allowed = int(ledger.get("meta", {}).get("known_disagreements", 0))
    outcome = Outcome()
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "corpora"
        shutil.copytree(options.corpora, copy, symlinks=True)
        for folder, _dirs, names in os.walk(copy):  # the corpora are read-only data
            os.chmod(folder, 0o755)
            for name in names:
                if not os.path.islink(os.path.join(folder, name)):
                    os.chmod(os.path.join(folder, name), 0o644)
        dry = run_tool(["--dry-run", "--format", "json", "."], copy)
        if dry.returncode not in (0, 2):
            print(dry.stderr, file=sys.stderr)
            return 1
        report = json.loads(dry.stdout)
        compare(report, ledger, copy.resolve(), outcome)
        check_outputs(report, copy, outcome)
    count = len(outcome.disagreements)
    print(
        f"realworld: {outcome.files} files, {outcome.changed} changed; by status: "
        + ", ".join(f"{k} {v}" for k, v in sorted(outcome.statuses.items()))
    )
    print(
        f"  ledger: {len(ledger) - 1} files, bindings by decision: "
        + ", ".join(f"{k} {v}" for k, v in sorted(outcome.decisions.items()))
    )
    print(f"  disagreements: {count} (ratchet: {allowed})")
    if options.show or count > allowed:
        for line in outcome.disagreements:
            print(f"    {line}")
    for line in outcome.failures:
        print(f"  FAILED: {line}")
    if options.write_ratchet:
        text = LEDGER.read_text(encoding="utf-8")
        LEDGER.write_text(
            re.sub(r"known_disagreements = -?\d+", f"known_disagreements = {count}", text),
            encoding="utf-8",
        )
        print(f"  ratchet set to {count}")
        return 1 if outcome.failures else 0
    if outcome.failures or count > allowed:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
