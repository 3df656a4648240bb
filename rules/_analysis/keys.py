"""Keys: the names a file binds and where each is read, for following an id through it.

A key is ``(scope qualname or "" for the module, name)``, ``(class name, "self.x")``,
``("fixture", name)`` or ``("return", function qualname)``. The index maps each key to the
loads that read it, by Python's scoping rules (class bodies are not visible from methods).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import TYPE_CHECKING

from .labels import parametrized_names
from .tree import FUNCS

if TYPE_CHECKING:
    from .evidence import Evidence

Key = tuple[str, str]  # (scope qualname or "" for the module, name) / ("fixture", name) ...
Func = ast.FunctionDef | ast.AsyncFunctionDef


class NameIndex:
    """Loads, calls, parameters and stores of one file, by name."""

    def __init__(self, found: Evidence) -> None:
        self.found = found
        self.name_loads: dict[str, list[ast.Name]] = {}
        self.attr_loads: dict[str, list[ast.Attribute]] = {}
        self.calls: dict[str, list[ast.Call]] = {}
        self.params: dict[str, list[Func]] = {}
        self.stores: dict[str, set[str]] = {}  # scope qualname -> names bound there
        for node in found.nodes:
            if isinstance(node, ast.Name):
                if isinstance(node.ctx, ast.Load):
                    self.name_loads.setdefault(node.id, []).append(node)
                else:
                    self.stores.setdefault(self.store_scope(node), set()).add(node.id)
            elif isinstance(node, ast.Attribute) and self_attr(node):
                if isinstance(node.ctx, ast.Load):
                    self.attr_loads.setdefault(node.attr, []).append(node)
            elif isinstance(node, ast.Call):
                func = node.func
                if isinstance(func, ast.Name):
                    self.calls.setdefault(func.id, []).append(node)
                elif isinstance(func, ast.Attribute) and self_attr(func):
                    self.calls.setdefault(func.attr, []).append(node)
            elif isinstance(node, FUNCS):
                scope = found.qualname(node)
                for arg in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]:
                    self.params.setdefault(arg.arg, []).append(node)
                    self.stores.setdefault(scope, set()).add(arg.arg)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    name = alias.asname or alias.name.split(".")[0]
                    self.stores.setdefault(self.store_scope(node), set()).add(name)

    def store_scope(self, node: ast.AST) -> str:
        for scope in self.found.ancestors(node):
            if isinstance(scope, (*FUNCS, ast.ClassDef)):
                return self.found.qualname(scope)
        return ""

    def resolve(self, name: ast.Name) -> Key:
        """The scope whose ``name.id`` this load reads (Python's rules; class bodies are not
        visible from their methods)."""
        chain: list[str] = []
        for node in self.found.ancestors(name):
            if isinstance(node, FUNCS) or (isinstance(node, ast.ClassDef) and not chain):
                chain.append(self.found.qualname(node))
        for qualname in [*chain, ""]:
            if name.id in self.stores.get(qualname, ()):
                return (qualname, name.id)
        return ("", name.id)

    def loads(self, key: Key) -> Iterator[ast.AST]:
        """The expressions of this file that read ``key``."""
        scope, name = key
        if name.startswith("self."):
            for load in self.attr_loads.get(name[5:], []):
                cls = self.found.enclosing_class(load)
                if cls is not None and cls.name == scope:
                    yield load
            return
        if scope == "return":
            owner, _, short = name.rpartition(".")
            for call in self.calls.get(short, []):
                if isinstance(call.func, ast.Attribute) and owner:
                    # self._load(): the method of the caller's class, not a namesake's
                    cls = self.found.enclosing_class(call)
                    if cls is not None and cls.name != owner.rsplit(".", 1)[-1]:
                        continue
                yield call
            return
        if scope == "fixture":
            for func in self.params.get(name, []):
                # A parametrized argument of the same name shadows the fixture.
                if func.name != name and name not in parametrized_names(func):
                    yield from self.loads((self.found.qualname(func), name))
            return
        for name_load in self.name_loads.get(name, []):
            if self.resolve(name_load) == key:
                yield name_load

    def callees(self, func: Func) -> Iterator[Func]:
        """Functions of this file that ``func`` calls by name (helpers, ``self.helper``)."""
        for node in self.found.walk(func):
            if isinstance(node, ast.Call):
                target = node.func
                name = target.id if isinstance(target, ast.Name) else None
                if isinstance(target, ast.Attribute) and self_attr(target):
                    name = target.attr
                if name is not None:
                    yield from self.named(node, name)

    def named(self, call: ast.Call, name: str) -> list[Func]:
        """The functions of this file ``call`` may call by ``name``: for ``self.name()``
        with namesakes in several classes, the method of the caller's class."""
        candidates = self.found.functions_named.get(name, [])
        if isinstance(call.func, ast.Attribute) and len(candidates) > 1:
            cls = self.found.enclosing_class(call)
            candidates = [
                c for c in candidates if self.found.enclosing_class(c, direct=True) is cls
            ]
        return candidates


def self_attr(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id in ("self", "cls")
    )
