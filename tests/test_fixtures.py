"""Every fixture case under fixtures/<rule-id>/ becomes a test, run through the CLI's engine.

``<case>.before.py`` is migrated with ``--apply``; ``<case>.after.py`` is the expected result
(no after file: the case must stay byte-identical). Options ride on a first-line comment
``# options: --target X``; without ``--select`` a case runs only its folder's rule. Each case
also checks that the output parses, that a second run changes nothing, and that the CRLF form
of the input gives the CRLF form of the output.
"""

from __future__ import annotations

import ast
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

from migrator.registry import all_rules

from .helpers import FIXTURES, run_cli

OPTIONS_PREFIX = "# options:"
NOT_RULE_DIRS = {"demo_suite", "documents"}  # documents: tests/test_documents.py


@dataclass(frozen=True)
class Case:
    rule: str
    name: str
    before: Path
    after: Path | None

    @property
    def id(self) -> str:
        return f"{self.rule}/{self.name}"

    def options(self) -> list[str]:
        first = self.before.read_text(encoding="utf-8").split("\n", 1)[0]
        opts = shlex.split(first[len(OPTIONS_PREFIX) :]) if first.startswith(OPTIONS_PREFIX) else []
        if "--select" not in opts:
            opts += ["--select", self.rule]
        return opts


def collect() -> list[Case]:
    cases = []
    for before in sorted(FIXTURES.glob("*/*.before.py")):
        if before.parent.name in NOT_RULE_DIRS:
            continue
        name = before.name[: -len(".before.py")]
        after = before.with_name(f"{name}.after.py")
        cases.append(Case(before.parent.name, name, before, after if after.exists() else None))
    return cases


CASES = collect()


def migrate(case: Case, data: bytes, tmp_path: Path) -> bytes:
    target = tmp_path / "test_case.py"
    target.write_bytes(data)
    outcome = run_cli("--apply", *case.options(), str(target), cwd=tmp_path)
    assert outcome.code == 0, outcome.stdout + outcome.stderr
    return target.read_bytes()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case: Case, tmp_path: Path) -> None:
    before = case.before.read_bytes()
    expected = case.after.read_bytes() if case.after else before
    if case.after:
        assert expected != before, "an .after file identical to .before: make it a noop case"
    ast.parse(expected)  # an invalid expected output fails here, not silently
    result = migrate(case, before, tmp_path)
    assert result.decode() == expected.decode()
    ast.parse(result)
    assert migrate(case, result, tmp_path) == result, "second run changed the file"
    crlf = migrate(case, before.replace(b"\n", b"\r\n"), tmp_path)
    assert crlf == expected.replace(b"\n", b"\r\n"), "CRLF line endings not preserved"


def test_every_rule_has_rewrite_and_noop_cases() -> None:
    for rule in all_rules():
        mine = [c for c in CASES if c.rule == rule.id]
        assert any(c.after for c in mine), f"{rule.id}: no rewrite case"
        assert any(c.after is None for c in mine), f"{rule.id}: no must-not-change case"


def test_no_fixture_folder_without_rule() -> None:
    known = {rule.id for rule in all_rules()}
    folders = {p.name for p in FIXTURES.iterdir() if p.is_dir()} - NOT_RULE_DIRS
    assert folders <= known, f"fixture folders without a rule: {sorted(folders - known)}"


def test_every_fixture_file_is_paired() -> None:
    for path in FIXTURES.glob("*/*.py"):
        if path.parent.name in NOT_RULE_DIRS:
            continue
        assert path.name.endswith((".before.py", ".after.py")), path
        if path.name.endswith(".after.py"):
            assert path.with_name(path.name.replace(".after.py", ".before.py")).exists(), path


@pytest.mark.parametrize("rule", all_rules(), ids=lambda r: r.id)
def test_rule_examples_are_what_the_tool_does(rule: object, tmp_path: Path) -> None:
    from migrator.registry import Rule

    assert isinstance(rule, Rule)
    for example in rule.examples:
        case = Case(rule.id, "example", tmp_path / "x.before.py", None)
        case.before.write_text(example.before)
        opts = [*example.options] or []
        target = tmp_path / "test_example.py"
        target.write_text(example.before)
        outcome = run_cli("--apply", *opts, str(target), cwd=tmp_path)
        assert outcome.code == 0, outcome.stderr
        assert target.read_text() == example.after
