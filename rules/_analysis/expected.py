"""Expected values: what a test's names are bound to, and which of them are literals.

A test compares what the model or tokenizer produced with an expected value that often sits
in a local or a module constant (``expected = "Hi there"``, ``EXPECTED = [{...}]``), or
collects what it checks through a loop (``for item in dataset: items.append(item)``).
``token-literals`` follows those names to judge (and point at) the value itself.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable

from migrator.context import RuleContext

from .tree import walk

# Fields of a result that do not hold generated text (an enum-like value, an error, an id).
NOT_TEXT_FIELD = re.compile(r"error|reason|status|_id$|^id$|type|role", re.IGNORECASE)
# Callees that build literal values: constructors (a capitalized name) and these functions.
LITERAL_CALL = re.compile(r"^[A-Za-z_][\w.]*$")
LITERAL_FUNCS = frozenset({"dict", "list", "tuple", "set", "frozenset", "tensor", "array"})


def local_values(own: list[ast.AST], tree: ast.AST, ctx: RuleContext) -> dict[str, list[ast.expr]]:
    """Values bound to plain names by single-target assignments: the test's own, else the
    module's (a module constant the test compares with)."""
    module: dict[str, list[ast.expr]] = ctx.memo("module_values", lambda: bound_names(tree.body))  # type: ignore[attr-defined]
    local = bound_names(own)
    return {**module, **local}


def bound_names(nodes: list[ast.AST] | list[ast.stmt]) -> dict[str, list[ast.expr]]:
    found: dict[str, list[ast.expr]] = {}
    for node in nodes:
        if isinstance(node, (ast.For, ast.AsyncFor)):  # for idx, item in enumerate(dataset)
            for name in walk(node.target):
                if isinstance(name, ast.Name):
                    found.setdefault(name.id, []).append(node.iter)
            continue
        if (  # items.append(item)
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Attribute)
            and node.value.func.attr in ("append", "extend")
            and isinstance(node.value.func.value, ast.Name)
            and len(node.value.args) == 1
        ):
            found.setdefault(node.value.func.value.id, []).append(node.value.args[0])
            continue
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name):
            found.setdefault(target.id, []).append(value)
        elif isinstance(target, ast.Tuple) and not isinstance(value, ast.Tuple):
            # text, used = clip(text, tokenizer=tok): each name holds part of the call's result
            for elt in target.elts:
                if isinstance(elt, ast.Name):
                    found.setdefault(elt.id, []).append(value)
    return found


def literal_value(node: ast.expr, values: dict[str, list[ast.expr]], depth: int = 2) -> bool:
    """A literal, or a structure whose leaves are literals: displays, constructors
    (``Message(content="...", role=Role.ASSISTANT)``), ``torch.tensor([...])``, enum members,
    names bound once to such a structure."""
    allowed: set[int] = set()
    for n in walk(node):
        if isinstance(n, ast.Call):
            callee = ast.unparse(n.func)
            last = callee.rsplit(".", 1)[-1]
            if not LITERAL_CALL.match(callee) or not (last[:1].isupper() or last in LITERAL_FUNCS):
                return False
            allowed.update(id(x) for x in walk(n.func))
        elif (
            isinstance(n, ast.Attribute)
            and isinstance(n.value, ast.Name)
            and n.value.id[:1].isupper()
        ):
            allowed.add(id(n.value))  # Role.ASSISTANT
    for n in walk(node):
        if isinstance(n, ast.Name) and id(n) not in allowed:
            bound = values.get(n.id, [])  # *conversation.messages: a local built of literals
            if not (depth and len(bound) == 1 and literal_value(bound[0], values, depth - 1)):
                return False
    return any(isinstance(n, ast.Constant) for n in walk(node))


def expected_text(
    node: ast.expr,
    values: dict[str, list[ast.expr]],
    skip: Callable[[ast.Constant | ast.Name], bool],
    depth: int = 3,
) -> ast.Constant | None:
    """The first non-empty string of the expected value ``node`` that is not a dict key, nor
    one ``skip`` rejects (a value the test also wrote as an input); names bound once are
    followed into their values (``expected = [conversation]``, ``FIXED_RESPONSE = "..."``)
    unless ``skip`` rejects the name (an input of the computation compared with)."""
    keys = {id(k) for d in walk(node) if isinstance(d, ast.Dict) for k in d.keys if k}
    keys |= {  # role="assistant", {"status": "ok"}: fields, not the generated text
        id(value) for d in walk(node) for name, value in _fields(d) if NOT_TEXT_FIELD.search(name)
    }
    for n in walk(node):  # the value's own strings first, then what its names hold
        text = isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value.strip()
        if text and id(n) not in keys and not skip(n):  # type: ignore[arg-type]
            return n  # type: ignore[return-value]
    for n in walk(node):
        if isinstance(n, ast.Name) and depth and not skip(n):
            bound = values.get(n.id, [])
            if len(bound) == 1:
                found = expected_text(bound[0], values, skip, depth - 1)
                if found is not None:
                    return found
    return None


def _fields(node: ast.AST) -> list[tuple[str, ast.expr]]:
    if isinstance(node, ast.Call):
        return [(k.arg, k.value) for k in node.keywords if k.arg]
    if isinstance(node, ast.Dict):
        return [
            (k.value, v)
            for k, v in zip(node.keys, node.values, strict=True)
            if isinstance(k, ast.Constant) and isinstance(k.value, str)
        ]
    return []
