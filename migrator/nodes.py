"""The ``ast`` side of the bridge to the LibCST rewrite (the LibCST side is in apply.py).

Rules decide with Python's ``ast`` (cheap, with exact positions); LibCST applies the edits.
Resolving LibCST's PositionProvider costs several times a parse, so instead both trees are
indexed by *kind and ordinal*: the n-th string literal, call, integer, statement... in source
order is the same node in both trees. The kinds below are exactly those whose nodes correspond
one to one between the two grammars. Nodes inside f-strings are not indexed on either side
(their ``ast`` positions differ between Python versions). Every edit re-checks a fingerprint of
the node and the applier checks the counts, so a drift can never rewrite the wrong node: it
becomes an internal error and the file is left unchanged.
"""

from __future__ import annotations

import ast
import bisect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

STR = "str"
INT = "int"
CALL = "call"
LIST = "list"
DICT = "dict"
COMPARE = "compare"
SMALL = "small"
COMPOUND = "compound"

Key = tuple[str, int]
# A rewrite of one LibCST node (the node in; its replacement or a RemovalSentinel out). Typed
# loosely so that this module, used for every file, does not import libcst (see apply.py).
Rewrite = Callable[[Any], Any]
MARKER_PREFIX = "# migrate-tests: review("


@dataclass(frozen=True)
class Edit:
    key: Key
    fingerprint: object
    rewrite: Rewrite


def marker_text(rule: str, why: str) -> str:
    return f"{MARKER_PREFIX}{rule}): {' '.join(why.split())}"


_AST_SMALL = (
    ast.Assign,
    ast.AugAssign,
    ast.AnnAssign,
    ast.Expr,
    ast.Pass,
    ast.Return,
    ast.Delete,
    ast.Raise,
    ast.Assert,
    ast.Import,
    ast.ImportFrom,
    ast.Global,
    ast.Nonlocal,
    ast.Break,
    ast.Continue,
)
_AST_COMPOUND = (
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.If,
    ast.For,
    ast.AsyncFor,
    ast.While,
    ast.With,
    ast.AsyncWith,
    ast.Try,
    ast.Match,
    *((ast.TryStar,) if hasattr(ast, "TryStar") else ()),
)
_AST_SMALL_ALL = _AST_SMALL + ((ast.TypeAlias,) if hasattr(ast, "TypeAlias") else ())


def ast_kind(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant):
        if isinstance(node.value, (str, bytes)):
            return STR
        if isinstance(node.value, int) and not isinstance(node.value, bool):
            return INT
        return None
    if isinstance(node, ast.JoinedStr):
        return STR
    if isinstance(node, ast.Call):
        return CALL
    if isinstance(node, ast.List):
        return LIST
    if isinstance(node, ast.Dict):
        return DICT
    if isinstance(node, ast.Compare):
        return COMPARE
    if isinstance(node, _AST_SMALL_ALL):
        return SMALL
    if isinstance(node, _AST_COMPOUND):
        return COMPOUND
    return None


def _start(node: ast.AST) -> tuple[int, int]:
    return (getattr(node, "lineno", 0), getattr(node, "col_offset", 0))


def _sort_key(node: ast.AST) -> tuple[int, int, int, int]:
    return (
        getattr(node, "lineno", 0),
        getattr(node, "col_offset", 0),
        -(getattr(node, "end_lineno", 0) or 0),
        -(getattr(node, "end_col_offset", 0) or 0),
    )


def _walk(node: ast.AST) -> Iterator[ast.AST]:
    """All nodes, without descending into f-strings (the f-string itself is yielded)."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        if isinstance(current, ast.JoinedStr):
            continue
        stack.extend(ast.iter_child_nodes(current))


class AstIndex:
    """Ordinals of the indexed ``ast`` nodes, per kind, in source order."""

    def __init__(self, tree: ast.Module) -> None:
        by_kind: dict[str, list[ast.AST]] = {}
        for node in _walk(tree):
            kind = ast_kind(node)
            if kind is not None:
                by_kind.setdefault(kind, []).append(node)
        self.keys: dict[int, Key] = {}
        self.nodes: dict[Key, ast.AST] = {}
        self.counts: dict[str, int] = {}
        for kind, nodes in by_kind.items():
            nodes.sort(key=_sort_key)
            self.counts[kind] = len(nodes)
            for ordinal, node in enumerate(nodes):
                self.keys[id(node)] = (kind, ordinal)
                self.nodes[(kind, ordinal)] = node

    def key(self, node: ast.AST) -> Key:
        return self.keys[id(node)]

    def inside(self) -> dict[Key, dict[str, tuple[int, int]]]:
        """For each statement (compound or simple, by key): per kind, the ordinal range
        [first, end) of the indexed nodes inside it. Lets the LibCST pass skip a statement
        that holds no edit while keeping its numbering (source order makes ranges contiguous)."""
        starts = {
            kind: [_start(self.nodes[(kind, i)]) for i in range(count)]
            for kind, count in self.counts.items()
        }
        out: dict[Key, dict[str, tuple[int, int]]] = {}
        for statement_kind in (COMPOUND, SMALL):
            for ordinal in range(self.counts.get(statement_kind, 0)):
                node = self.nodes[(statement_kind, ordinal)]
                decorators = getattr(node, "decorator_list", [])
                first = min([_start(d) for d in decorators] + [_start(node)])
                last = (
                    getattr(node, "end_lineno", 0) or 0,
                    getattr(node, "end_col_offset", 0) or 0,
                )
                ranges = {}
                for kind, positions in starts.items():
                    low = bisect.bisect_left(positions, first)
                    high = bisect.bisect_right(positions, last)
                    if kind == statement_kind:
                        low = ordinal + 1  # itself excluded
                    if high > low:
                        ranges[kind] = (low, high)
                out[(statement_kind, ordinal)] = ranges
        return out


def ast_fingerprint(node: ast.AST) -> object:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "<f-string>"
    if isinstance(node, ast.Call):
        return _ast_dotted(node.func)
    return type(node).__name__.lower().replace("async", "")


def _ast_dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Constant) and any(node.value is v for v in (True, False, None)):
        return repr(node.value)  # a Name in LibCST: True.__index__()
    if isinstance(node, ast.Attribute):
        return f"{_ast_dotted(node.value)}.{node.attr}"
    return "?"
