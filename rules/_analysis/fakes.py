"""Fakes: a binding whose objects only compute what a mock returns.

``tokens = gpt2_tokenizer.tokenize(PROMPT)`` then ``service.tokenize = MagicMock(return_value=
result_built_from(tokens))``: GPT2's tokenization stands in for another system's (a remote
API whose tokenizer is GPT-2's BPE), and the numbers the test asserts are that system's. The
objects are only called, never handed to the code under test, so keeping GPT2 keeps the test
what it was; swapping the tokenizer would change what it fakes.
"""

from __future__ import annotations

import ast
import re
from typing import TYPE_CHECKING

from .tree import walk

if TYPE_CHECKING:
    from .bindings import Binding
    from .evidence import Evidence

MOCK_CALL = re.compile(r"(^|\.)(Mock|MagicMock|AsyncMock|NonCallableMock|patch(\.object)?)$")
MOCK_FIELDS = frozenset({"return_value", "side_effect"})


def fakes_only(found: Evidence, binding: Binding) -> int | None:
    """The line of the mock that returns what the binding's objects computed, when those
    objects are only called and every result goes to an assignment; else None."""
    names = {name for scope, name in binding.objects if scope not in ("return", "fixture")}
    if not names or not binding.users:
        return None
    line = None
    for func in binding.users.values():
        roots = _roots(func, names)
        derived: set[str] = set()
        for node in walk(func):
            if _reads(node, roots):
                if not _called(found, node):
                    return None  # handed over: the code under test may use it
                statement = found.statement_of(node)
                if not isinstance(statement, (ast.Assign, ast.AnnAssign)):
                    return None
                derived |= _targets(statement)
        if not derived:
            continue
        for stmt in sorted(
            (n for n in walk(func) if isinstance(n, (ast.Assign, ast.AnnAssign))),
            key=lambda n: n.lineno,
        ):
            value = stmt.value
            if value is not None and any(_reads(n, derived) for n in walk(value)):
                derived |= _targets(stmt)
        line = line or _mock_of(func, derived)
    return line


def _roots(func: ast.AST, names: set[str]) -> set[str]:
    """The names of ``func`` assigned what a ``from_pretrained`` call loaded (not a value
    computed from it, ``tokens = tok.tokenize(...)``, nor a config built by a helper)."""
    loaded = set()
    for node in walk(func):
        if (
            isinstance(node, (ast.Assign, ast.AnnAssign))
            and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Attribute)
            and node.value.func.attr == "from_pretrained"
        ):
            loaded |= _targets(node)
    return names & loaded


def _reads(node: ast.AST, names: set[str]) -> bool:
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
        return node.id in names
    if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
        return ast.unparse(node) in names
    return False


def _called(found: Evidence, node: ast.AST) -> bool:
    """``tok(...)`` or ``tok.method(...)``."""
    parent = found.parent.get(id(node))
    if isinstance(parent, ast.Call) and parent.func is node:
        return True
    grand = found.parent.get(id(parent)) if isinstance(parent, ast.Attribute) else None
    return isinstance(grand, ast.Call) and grand.func is parent


def _targets(stmt: ast.Assign | ast.AnnAssign) -> set[str]:
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
    out = set()
    for target in targets:
        for node in walk(target):
            if isinstance(node, (ast.Name, ast.Attribute)) and not isinstance(
                getattr(node, "ctx", None), ast.Load
            ):
                out.add(ast.unparse(node))
    return out


def _mock_of(func: ast.AST, derived: set[str]) -> int | None:
    """A mock in ``func`` set to return (or raise, or compute) one of ``derived``."""
    for node in walk(func):
        if isinstance(node, ast.Call) and MOCK_CALL.search(ast.unparse(node.func)):
            for keyword in node.keywords:
                if keyword.arg in MOCK_FIELDS and any(
                    _reads(n, derived) for n in walk(keyword.value)
                ):
                    return node.lineno
        elif (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Attribute) and t.attr in MOCK_FIELDS for t in node.targets)
            and any(_reads(n, derived) for n in walk(node.value))
        ):
            return node.lineno
    return None
