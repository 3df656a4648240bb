"""``--update-literals``: write the values the tests measured back over the flagged literals.

For a migrated file whose tests fail, two recording sessions run (the plugin in
``plugin/migrate_tests_record.py``). Only a ``token-literals`` review finding is ever
rewritten, at its exact source range: when a failing ``==`` on the finding's statement compared
the literal with a value both runs agree on, the literal becomes that value and the finding's
marker above the statement goes. A value that differs between the runs keeps its marker, with
both values in a note. The file's tests then run again: if they still fail, the file goes
back to what the migration wrote (markers included).
"""

from __future__ import annotations

import ast
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from migrator.core import FileResult, Finding, Safety, Status
from migrator.verify import pytest as session
from migrator.writer import ConcurrentChange, write_atomic

RULE = "token-literals"
MARKER = f"# migrate-tests: review({RULE}):"
UPDATED = "measured value(s) written back, then the tests pass"


@dataclass(frozen=True)
class Record:
    line: int
    op: str
    left: str | None
    right: str | None


def record(python: str, files: list[str], cwd: Path, timeout: float) -> dict[str, list[Record]]:
    """One recording session: the failing comparisons of each file (absolute path)."""
    with tempfile.TemporaryDirectory(prefix="migrate-tests-record-") as tmp:
        target = Path(tmp) / "values.jsonl"
        session.run(python, files, cwd, timeout, record=target)
        out: dict[str, list[Record]] = {}
        if target.exists():
            for raw in target.read_text(encoding="utf-8").splitlines():
                item = json.loads(raw)
                rec = Record(item["line"], item["op"], item["left"], item["right"])
                out.setdefault(item["file"], []).append(rec)
        return out


def update(
    result: FileResult,
    path: Path,
    runs: tuple[dict[str, list[Record]], dict[str, list[Record]]],
    rerun: Callable[[], session.Outcome],
    name: str,
) -> FileResult:
    """Write measured values over the literals of the statements marked for review by
    ``token-literals``, confirm with a run, or undo."""
    key = str(path.resolve())
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text)
    lines = text.splitlines(keepends=True)
    edits: list[tuple[ast.expr, str, int]] = []  # literal, its new source, its marker's line
    notes: list[str] = []
    for index, line in enumerate(lines):
        if not line.lstrip().startswith(MARKER):
            continue
        statement = _statement_below(tree, lines, index)
        if statement is None:
            continue
        for literal in _compared_literals(statement):
            values = [_measured(runs[i].get(key, []), statement, literal) for i in (0, 1)]
            if values[0] is None and values[1] is None:
                continue
            if values[0] != values[1]:
                where = f"line {literal.lineno}"
                notes.append(f"{where}: the value differs between runs ({values[0]} / {values[1]})")
                continue
            assert values[0] is not None
            edits.append((literal, values[0], index))
    if not edits:
        return _note(result, notes)
    new = _apply(text, edits, notes)
    written = text.encode("utf-8")
    try:
        write_atomic(path, written, new.encode("utf-8"))
    except (OSError, ConcurrentChange) as exc:
        return _note(result, [*notes, f"could not write the measured values: {exc}"])
    outcome = rerun()
    if outcome.error is None and not outcome.failures.get(name):
        message = f"verified: {len(edits)} {UPDATED}"
        resolved = [lines[marker].split(MARKER, 1)[1].strip() for _, _, marker in edits]
        findings = (*_resolved(result.findings, resolved), _info(message))
        left = "# migrate-tests: review(" in new
        status = result.status if left else Status.READY
        markers = max(0, result.markers - len({marker for _, _, marker in edits}))
        return replace(result, findings=findings, status=status, new_text=new, markers=markers)
    try:
        write_atomic(path, new.encode("utf-8"), written)
    except (OSError, ConcurrentChange) as exc:
        return _note(result, [*notes, f"could not undo the measured values: {exc}"])
    return _note(result, [*notes, "measured values did not make the tests pass: undone"])


def _statement_below(tree: ast.AST, lines: list[str], index: int) -> ast.stmt | None:
    """The statement a marker on line ``index`` (0-based) stands above."""
    below = index + 1
    while below < len(lines) and lines[below].lstrip().startswith("# migrate-tests: review("):
        below += 1
    for node in ast.walk(tree):
        if isinstance(node, ast.stmt) and node.lineno == below + 1:
            return node
    return None


def _compared_literals(statement: ast.stmt) -> list[ast.expr]:
    """The literal sides of the ``==`` comparisons of a statement (one line each)."""
    out: list[ast.expr] = []
    for node in ast.walk(statement):
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], ast.Eq):
            for side in (node.left, node.comparators[0]):
                if side.lineno == side.end_lineno and _is_literal(side):
                    out.append(side)
    return out


def _is_literal(node: ast.expr) -> bool:
    try:
        ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError):
        return False
    return True


def _measured(records: list[Record], statement: ast.stmt, literal: ast.expr) -> str | None:
    """The value the failing ``==`` of ``statement`` compared ``literal`` with."""
    expected = ast.literal_eval(literal)
    end = statement.end_lineno or statement.lineno
    for rec in records:
        if rec.op != "==" or not statement.lineno <= rec.line <= end:
            continue
        for mine, other in ((rec.right, rec.left), (rec.left, rec.right)):
            if mine is not None and other is not None and ast.literal_eval(mine) == expected:
                return other
    return None


def _apply(text: str, edits: list[tuple[ast.expr, str, int]], notes: list[str]) -> str:
    """Replace each literal (by its exact range) and drop the markers above the statements
    it fixed."""
    lines = text.splitlines(keepends=True)
    for literal, value, _ in sorted(edits, key=lambda e: (-e[0].lineno, -e[0].col_offset)):
        row = lines[literal.lineno - 1]
        raw = row.encode("utf-8")  # ast columns are UTF-8 byte offsets
        start = len(raw[: literal.col_offset].decode("utf-8"))
        end = len(raw[: literal.end_col_offset].decode("utf-8"))
        lines[literal.lineno - 1] = row[:start] + value + row[end:]
    drop = {marker for _, _, marker in edits}
    return "".join(line for i, line in enumerate(lines) if i not in drop)


def _info(message: str) -> Finding:
    return Finding("verify", Safety.INFO, 1, 0, 1, 0, message)


def _resolved(findings: tuple[Finding, ...], messages: list[str]) -> list[Finding]:
    """The token-literals findings whose markers went: fixed, by the measured value."""
    todo = list(messages)
    out = []
    for finding in findings:
        if finding.rule == RULE and finding.safety is Safety.REVIEW and finding.message in todo:
            todo.remove(finding.message)
            text = f"measured value written back ({finding.message})"
            finding = replace(finding, safety=Safety.FIX, fixed=True, message=text)
        out.append(finding)
    return out


def _note(result: FileResult, notes: list[str]) -> FileResult:
    if not notes:
        return result
    extra = tuple(_info(n) for n in notes)
    return replace(result, findings=(*result.findings, *extra))
