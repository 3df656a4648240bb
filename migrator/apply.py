"""The single LibCST pass that applies every rule's edits and review markers to one file."""

from __future__ import annotations

import bisect
import unicodedata
from collections.abc import Mapping, Sequence

import libcst as cst

from migrator.nodes import (
    CALL,
    COMPARE,
    COMPOUND,
    DICT,
    INT,
    LIST,
    MARKER_PREFIX,
    SMALL,
    STR,
    Edit,
    Key,
)


class MappingDrift(Exception):
    """The ``ast`` and LibCST trees disagree about a node: never guess, give up on the file."""


class EditApplier(cst.CSTTransformer):
    """Walks the tree once, numbering indexed nodes as ``nodes.AstIndex`` does."""

    def __init__(
        self,
        edits: Sequence[Edit],
        markers: Mapping[Key, Sequence[str]],
        inside: Mapping[Key, Mapping[str, tuple[int, int]]],
    ) -> None:
        super().__init__()
        self.edits = {edit.key: edit for edit in edits}
        self.markers = markers
        self.inside = inside
        self._wanted: dict[str, list[int]] = {}
        for kind, ordinal in [*self.edits, *markers]:
            self._wanted.setdefault(kind, []).append(ordinal)
        for ordinals in self._wanted.values():
            ordinals.sort()
        self.counts: dict[str, int] = {}
        self.markers_added = 0
        self._keys: list[Key | None] = []
        self._frames: list[list[str]] = []
        # Per enclosing block: layout lines of removed statements, for the next statement.
        self._orphans: list[list[cst.EmptyLine]] = [[]]

    def on_visit(self, node: cst.CSTNode) -> bool:
        kind, role = _traits(type(node))
        key: Key | None = None
        if kind is not None:
            key = (kind, self.counts.get(kind, 0))
            self.counts[kind] = key[1] + 1
        self._keys.append(key)
        if role is _LINE:
            self._frames.append([])
        elif role is _BLOCK:
            self._orphans.append([])
        if key is not None and key in self.inside and self._skip(key):
            return False
        # Nothing inside an f-string or an implicit concatenation is indexed (see nodes.py).
        return role is not _OPAQUE

    def _skip(self, statement: Key) -> bool:
        """Skip the inside of a statement holding no edit or marker: advance the numbering by
        what the ``ast`` index counted there instead of visiting it (most of a file)."""
        ranges = self.inside[statement]
        for kind, (low, high) in ranges.items():
            wanted = self._wanted.get(kind, [])
            if bisect.bisect_left(wanted, low) < bisect.bisect_left(wanted, high):
                return False
        for kind, (low, high) in ranges.items():
            self.counts[kind] = self.counts.get(kind, 0) + high - low
        return True

    def on_leave(  # type: ignore[override]  # generic over every node type, as LibCST's own
        self, original_node: cst.CSTNode, updated_node: cst.CSTNode
    ) -> cst.CSTNode | cst.RemovalSentinel:
        key = self._keys.pop()
        role = _traits(type(original_node))[1]
        if key is None and role is None:  # most nodes: nothing to do (kept cheap on purpose)
            return updated_node
        result: cst.CSTNode | cst.RemovalSentinel = updated_node
        if key is not None:
            if key in self.markers:
                if not self._frames:
                    raise MappingDrift(f"no statement around {key}")
                self._frames[-1].extend(self.markers[key])
            edit = self.edits.get(key)
            if edit is not None:
                found = cst_fingerprint(original_node)
                if found != edit.fingerprint:
                    raise MappingDrift(f"{key}: expected {edit.fingerprint!r}, found {found!r}")
                result = edit.rewrite(updated_node)
        if role is _LINE:
            pending = self._frames.pop()
            if isinstance(result, cst.SimpleStatementLine) and isinstance(
                original_node, cst.SimpleStatementLine
            ):
                result = _after_removals(original_node, result)
            if isinstance(result, cst.RemovalSentinel):
                self._orphans[-1].extend(_unattached(_leading(original_node)))
            elif isinstance(result, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
                if pending:
                    result = self._with_markers(result, pending)
                if self._orphans[-1]:
                    result = result.with_changes(
                        leading_lines=[*self._orphans[-1], *_leading(result)]
                    )
                    self._orphans[-1] = []
        elif role is _BLOCK:
            orphans = self._orphans.pop()
            if orphans and isinstance(result, cst.IndentedBlock):
                result = result.with_changes(footer=[*orphans, *result.footer])
        elif role is _MODULE and self._orphans[-1]:
            assert isinstance(result, cst.Module)
            result = result.with_changes(footer=[*self._orphans[-1], *result.footer])
        return result

    # LibCST calls these around every child of every visited node, looking up per-attribute
    # visitor methods this pass does not have.
    def on_visit_attribute(self, node: cst.CSTNode, attribute: str) -> None:
        pass

    def on_leave_attribute(self, original_node: cst.CSTNode, attribute: str) -> None:
        pass

    def _with_markers(self, stmt: cst.CSTNode, texts: Sequence[str]) -> cst.CSTNode:
        present = {
            line.comment.value.split("):", 1)[0]
            for line in _leading(stmt)
            if line.comment is not None and line.comment.value.startswith(MARKER_PREFIX)
        }
        new_lines = []
        for text in dict.fromkeys(texts):
            head = text.split("):", 1)[0]
            if head in present:
                continue
            present.add(head)
            new_lines.append(cst.EmptyLine(indent=True, comment=cst.Comment(text)))
        if not new_lines:
            return stmt
        self.markers_added += len(new_lines)
        # Directly above the statement: that is the line a reader (and --update-literals) looks at.
        return stmt.with_changes(leading_lines=[*_leading(stmt), *new_lines])


def _after_removals(
    original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine
) -> cst.SimpleStatementLine | cst.RemovalSentinel:
    """A line whose statements were all removed goes; one that lost its last statement
    drops the semicolon that separated them (``a = 1; <removed>`` -> ``a = 1``)."""
    if not updated.body:
        return cst.RemovalSentinel.REMOVE
    if len(updated.body) < len(original.body) and original.body[-1] is not updated.body[-1]:
        last = updated.body[-1].with_changes(semicolon=cst.MaybeSentinel.DEFAULT)
        return updated.with_changes(body=[*updated.body[:-1], last])
    return updated


def _leading(stmt: cst.CSTNode) -> Sequence[cst.EmptyLine]:
    """``leading_lines`` of a statement (every line statement has them; the base class does
    not declare them)."""
    lines: Sequence[cst.EmptyLine] = getattr(stmt, "leading_lines", ())
    return lines


def _unattached(lines: Sequence[cst.EmptyLine]) -> list[cst.EmptyLine]:
    """The layout above a removed statement that is not its own: everything but the comment
    lines directly above it (those go with it; blank lines and earlier comments stay)."""
    keep = len(lines)
    while keep > 0 and lines[keep - 1].comment is not None:
        keep -= 1
    return list(lines[:keep])


def apply_edits(
    module: cst.Module,
    edits: Sequence[Edit],
    markers: Mapping[Key, Sequence[str]],
    expected_counts: Mapping[str, int],
    inside: Mapping[Key, Mapping[str, tuple[int, int]]],
) -> tuple[cst.Module, int]:
    """Returns the rewritten module and the number of markers added."""
    applier = EditApplier(edits, markers, inside)
    new = module.visit(applier)
    if applier.counts != {k: v for k, v in expected_counts.items() if v}:
        raise MappingDrift(f"node counts differ: ast {expected_counts} vs cst {applier.counts}")
    assert isinstance(new, cst.Module)
    return new, applier.markers_added


# -- the LibCST twins of nodes.ast_kind / nodes.ast_fingerprint -------------------------

_LINE, _BLOCK, _OPAQUE, _MODULE = "line", "block", "opaque", "module"
_TRAITS: dict[type, tuple[str | None, str | None]] = {}


def _traits(node_type: type) -> tuple[str | None, str | None]:
    """(kind, role) of a node class, computed once per class: the pass runs on every node."""
    traits = _TRAITS.get(node_type)
    if traits is None:
        role = None
        if issubclass(node_type, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
            role = _LINE
        elif issubclass(node_type, cst.IndentedBlock):
            role = _BLOCK
        elif issubclass(node_type, (cst.FormattedString, cst.ConcatenatedString)):
            role = _OPAQUE
        elif issubclass(node_type, cst.Module):
            role = _MODULE
        traits = _TRAITS[node_type] = (_kind_of_class(node_type), role)
    return traits


def cst_kind(node: cst.CSTNode) -> str | None:
    return _traits(type(node))[0]


def _kind_of_class(node_type: type) -> str | None:
    if issubclass(node_type, (cst.SimpleString, cst.FormattedString, cst.ConcatenatedString)):
        return STR
    if issubclass(node_type, cst.Integer):
        return INT
    if issubclass(node_type, cst.Call):
        return CALL
    if issubclass(node_type, cst.List):
        return LIST
    if issubclass(node_type, cst.Dict):
        return DICT
    if issubclass(node_type, cst.Comparison):
        return COMPARE
    if issubclass(node_type, cst.BaseSmallStatement):
        return SMALL
    if issubclass(node_type, cst.BaseCompoundStatement):
        return COMPOUND
    return None


def cst_fingerprint(node: cst.CSTNode) -> object:
    if isinstance(node, (cst.SimpleString, cst.ConcatenatedString)):
        value = node.evaluated_value
        return "<f-string>" if value is None else value
    if isinstance(node, cst.FormattedString):
        return "<f-string>"
    if isinstance(node, cst.Integer):
        return int(node.evaluated_value)
    if isinstance(node, cst.Call):
        return _cst_dotted(node.func)
    return _CST_NAMES.get(type(node).__name__, type(node).__name__.lower())


_CST_NAMES = {
    "Del": "delete",
    "FunctionDef": "functiondef",
    "For": "for",
    "With": "with",
    "Comparison": "compare",
    "TryStar": "trystar",
}


def _cst_dotted(node: cst.CSTNode) -> str:
    if isinstance(node, cst.Name):
        # ``ast`` stores identifiers NFKC-normalized (fullwidth letters become ASCII);
        # LibCST keeps them as written.
        return unicodedata.normalize("NFKC", node.value)
    if isinstance(node, cst.Attribute):
        return f"{_cst_dotted(node.value)}.{unicodedata.normalize('NFKC', node.attr.value)}"
    return "?"
