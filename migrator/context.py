"""What a rule sees of one file, and the only way it can report or change anything."""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property, partial
from typing import Any, Protocol

from migrator.core import Finding, Safety
from migrator.crossfile import ExternalUse, Imported
from migrator.models import ModelMap
from migrator.nodes import AstIndex, Edit, Key, Rewrite, ast_fingerprint, marker_text
from migrator.source import Source


class Span(Protocol):
    """Anything with ``ast``-style positions (UTF-8 byte columns)."""

    @property
    def lineno(self) -> int: ...
    @property
    def col_offset(self) -> int: ...
    @property
    def end_lineno(self) -> int | None: ...
    @property
    def end_col_offset(self) -> int | None: ...


@dataclass(frozen=True)
class Where:
    """A span inside a node (e.g. one token of a string), in ``ast`` coordinates."""

    lineno: int
    col_offset: int
    end_lineno: int | None
    end_col_offset: int | None

    @classmethod
    def inside(cls, source: Source, node: Span, start: int, end: int) -> Where:
        """The span of characters ``start:end`` of ``node``'s source segment."""
        text = source.segment(node)  # type: ignore[arg-type]

        def locate(offset: int) -> tuple[int, int]:
            line = node.lineno + text.count("\n", 0, offset)
            line_start = text.rfind("\n", 0, offset) + 1
            piece = text[line_start:offset].encode("utf-8")
            return line, (node.col_offset if line == node.lineno else 0) + len(piece)

        (line, col), (end_line, end_col) = locate(start), locate(end)
        return cls(line, col, end_line, end_col)


@dataclass
class FileContext:
    """Per-file state shared by all rules: the source, its ``ast``, and what rules decided."""

    source: Source
    models: ModelMap
    markers_enabled: bool = True
    # The project's line length (ruff/black config nearest the file, else 88): a rewrite that
    # makes a line longer than this lays it out again (see rules/model_id.py).
    line_length: int = 88
    findings: list[Finding] = field(default_factory=list)
    edits: dict[Key, Edit] = field(default_factory=dict)
    markers: dict[Key, list[str]] = field(default_factory=dict)
    remove_imports: set[tuple[str, str, str | None]] = field(default_factory=set)
    migrations: set[tuple[str, str]] = field(default_factory=set)
    suppressed: int = 0
    # What the cross-file pre-pass found (migrator/crossfile.py): outside uses of the names
    # this file exports, and the decisions of the names it imports from other files.
    external: Mapping[str, tuple[ExternalUse, ...]] = field(default_factory=dict)
    imported: Mapping[str, Imported] = field(default_factory=dict)
    # Analyses shared by several rules, computed once per file on first use (see rules/_analysis).
    shared: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def index(self) -> AstIndex:
        return AstIndex(self.source.tree)

    def for_rule(self, rule_id: str) -> RuleContext:
        return RuleContext(self, rule_id)

    def memo(self, name: str, compute: Callable[[], Any]) -> Any:
        if name not in self.shared:
            self.shared[name] = compute()
        return self.shared[name]


class RuleContext:
    """The reporting and editing API, bound to one rule so findings carry its id."""

    def __init__(self, file: FileContext, rule_id: str) -> None:
        self.file = file
        self.rule = rule_id
        self.source = file.source
        self.tree = file.source.tree
        self.models = file.models
        self.line_length = file.line_length

    def memo(self, name: str, compute: Callable[[], Any]) -> Any:
        return self.file.memo(name, compute)

    def _suppressed(self, node: Span) -> bool:
        end = node.end_lineno or node.lineno
        if self.source.directives.ignored(self.rule, node.lineno, end):
            self.file.suppressed += 1
            return True
        return False

    def _finding(
        self, node: Span, safety: Safety, message: str, fixed: bool, source_id: str | None = None
    ) -> Finding:
        end_line = node.end_lineno or node.lineno
        finding = Finding(
            rule=self.rule,
            safety=safety,
            line=node.lineno,
            col=self.source.char_col(node.lineno, node.col_offset),
            end_line=end_line,
            end_col=self.source.char_col(end_line, node.end_col_offset or 0),
            message=message,
            fixed=fixed,
            source_id=source_id,
        )
        self.file.findings.append(finding)
        return finding

    def info(self, node: Span, message: str, source_id: str | None = None) -> None:
        """Something worth knowing that the tool deliberately leaves alone (``source_id``:
        the GPT2 id the finding decides about, for the report's per-binding view)."""
        if not self._suppressed(node):
            self._finding(node, Safety.INFO, message, fixed=False, source_id=source_id)

    def review(
        self,
        node: ast.expr | ast.stmt,
        message: str,
        anchor: ast.AST | None = None,
        source_id: str | None = None,
    ) -> None:
        """A human (or a test run) must decide; ``--apply`` marks the statement around
        ``anchor`` (default ``node``, which must then be an indexed kind)."""
        if self._suppressed(node):
            return
        self._finding(node, Safety.REVIEW, message, fixed=False, source_id=source_id)
        if self.file.markers_enabled:
            key = self.file.index.key(anchor if anchor is not None else node)
            self.file.markers.setdefault(key, []).append(marker_text(self.rule, message))

    def fix(
        self,
        node: Span,
        message: str,
        target: ast.AST,
        rewrite: Rewrite,
        source_id: str | None = None,
    ) -> bool:
        """Rewrite the LibCST twin of ``target`` (an indexed node) with ``rewrite``."""
        if self._suppressed(node):
            return False
        key = self.file.index.key(target)
        previous = self.file.edits.get(key)
        if previous is not None:
            rewrite = partial(_chain, previous.rewrite, rewrite)
        self.file.edits[key] = Edit(key, ast_fingerprint(target), rewrite)
        self._finding(node, Safety.FIX, message, fixed=True, source_id=source_id)
        return True

    def remove(self, stmt: ast.stmt, message: str, anchor: Span | None = None) -> bool:
        """Delete a statement. Comment lines directly above it go with it; blank lines and
        other comments stay; an emptied block gets ``pass`` (LibCST inserts it)."""
        return self.fix(anchor or stmt, message, stmt, _remove)

    def replace(
        self, node: ast.expr, code: str, message: str, target: ast.AST | None = None
    ) -> bool:
        """Replace an indexed expression with ``code`` (parentheses around it are kept)."""
        return self.fix(node, message, target or node, partial(_replace, code))

    def remove_import_if_unused(self, module: str, name: str, asname: str | None = None) -> None:
        self.file.remove_imports.add((module, name, asname))

    def record_migration(self, source_id: str, target_id: str) -> None:
        self.file.migrations.add((source_id, target_id))


# The rewrites behind remove/replace, and two rewrites of one node: module-level functions bound
# with partial, so that an edit stays picklable data (see rules/_cst.py).


def _chain(first: Rewrite, second: Rewrite, node: Any) -> Any:
    import libcst as cst

    once = first(node)
    return once if isinstance(once, cst.RemovalSentinel) else second(once)


def _remove(_node: Any) -> Any:
    import libcst as cst

    return cst.RemovalSentinel.REMOVE


def _replace(code: str, node: Any) -> Any:
    import libcst as cst

    new = cst.parse_expression(code)
    lpar, rpar = getattr(node, "lpar", ()), getattr(node, "rpar", ())
    return new.with_changes(lpar=lpar, rpar=rpar) if lpar else new
