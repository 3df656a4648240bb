"""The tree index: one walk of a file's ``ast`` and where each node sits.

Parents, the walk cache, the file's strings, docstrings and imports, the function, statement,
class and scope around a node, and a per-node memo for the questions rules ask again and again
about the same scope. Every other concern reads the tree through this index.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from functools import cached_property
from typing import Any, TypeVar

from migrator.context import RuleContext
from migrator.models import ModelMap

T = TypeVar("T")

SETUP_NAMES = frozenset(
    {"setUp", "setUpClass", "setup_method", "setup_class", "setUpModule", "__init__"}
)
FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)
SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def walk(node: ast.AST) -> list[ast.AST]:
    """``ast.walk`` as a list, computed once per node: rules walk the same scopes many times
    (the list is kept on the node itself, so it lives exactly as long as the file's tree)."""
    cached: list[ast.AST] | None = getattr(node, "_migrate_tests_walk", None)
    if cached is None:
        cached = list(ast.walk(node))
        node._migrate_tests_walk = cached  # type: ignore[attr-defined]
    return cached


class TreeIndex:
    """The index every concern of ``Analysis`` shares: built once, in one walk of the file."""

    def __init__(self, ctx: RuleContext) -> None:
        self.ctx = ctx
        self.source = ctx.source
        self.tree = ctx.tree
        self.models: ModelMap = ctx.models
        self.parent: dict[int, ast.AST] = {}
        self._cache: dict[tuple[str, int], Any] = {}
        self.docstrings: set[int] = set()
        self.strings: list[tuple[ast.Constant, str]] = []
        self.fstrings: list[ast.JoinedStr] = []
        self.imports: dict[str, tuple[str, str]] = {}
        self.subject_import: str | None = None
        self.module_aliases: dict[str, str] = {}
        for node in walk(self.tree):
            for child in ast.iter_child_nodes(node):
                self.parent[id(child)] = node
            if isinstance(node, (ast.Module, *SCOPES)) and node.body:
                first = node.body[0]
                if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                    self.docstrings.add(id(first.value))
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                self.strings.append((node, node.value))
            elif isinstance(node, ast.JoinedStr):
                self.fstrings.append(node)
            elif isinstance(node, ast.ImportFrom) and (node.module or node.level):
                module = "." * node.level + (node.module or "")
                for alias in node.names:
                    self.imports[alias.asname or alias.name] = (module, alias.name)
                if module.startswith("transformers.models.gpt2"):
                    self.subject_import = node.module
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    self.module_aliases[alias.asname or alias.name.split(".")[0]] = (
                        alias.name if alias.asname else alias.name.split(".")[0]
                    )
                    if alias.name.startswith("transformers.models.gpt2"):
                        self.subject_import = alias.name
        self.strings.sort(key=lambda item: (item[0].lineno, item[0].col_offset))

    def module_alias(self, name: str) -> str | None:
        return self.module_aliases.get(name)

    @property
    def nodes(self) -> list[ast.AST]:
        return walk(self.tree)

    @staticmethod
    def walk(node: ast.AST) -> list[ast.AST]:
        return walk(node)

    @cached_property
    def functions_named(self) -> dict[str, list[ast.FunctionDef | ast.AsyncFunctionDef]]:
        out: dict[str, list[ast.FunctionDef | ast.AsyncFunctionDef]] = {}
        for node in walk(self.tree):
            if isinstance(node, FUNCS):
                out.setdefault(node.name, []).append(node)
        return out

    @cached_property
    def classes_named(self) -> dict[str, list[ast.ClassDef]]:
        out: dict[str, list[ast.ClassDef]] = {}
        for node in walk(self.tree):
            if isinstance(node, ast.ClassDef):
                out.setdefault(node.name, []).append(node)
        return out

    @cached_property
    def local_classes(self) -> frozenset[str]:
        return frozenset(self.classes_named)

    # -- where a node sits ------------------------------------------------------------------

    def ancestors(self, node: ast.AST) -> Iterator[ast.AST]:
        current = self.parent.get(id(node))
        while current is not None:
            yield current
            current = self.parent.get(id(current))

    def statement_of(self, node: ast.AST) -> ast.AST:
        """The statement around ``node`` (its review marker goes above it)."""
        for ancestor in self.ancestors(node):
            if isinstance(ancestor, ast.stmt):
                return ancestor
        return node

    def in_fstring(self, node: ast.AST) -> bool:
        return any(isinstance(a, ast.JoinedStr) for a in self.ancestors(node))

    def _memo(self, name: str, node: ast.AST, compute: Callable[[], T]) -> T:
        """Per-node memo for the questions rules ask again and again about the same scope."""
        key = (name, id(node))
        if key not in self._cache:
            self._cache[key] = compute()
        value: T = self._cache[key]
        return value

    def function_of(self, node: ast.AST) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        """The innermost function around ``node`` (not ``node`` itself)."""
        return self._functions.get(id(node))

    @cached_property
    def _functions(self) -> dict[int, ast.FunctionDef | ast.AsyncFunctionDef | None]:
        out: dict[int, ast.FunctionDef | ast.AsyncFunctionDef | None] = {}
        stack: list[tuple[ast.AST, ast.FunctionDef | ast.AsyncFunctionDef | None]] = [
            (self.tree, None)
        ]
        while stack:
            node, func = stack.pop()
            out[id(node)] = func
            inner = node if isinstance(node, FUNCS) else func
            stack.extend((child, inner) for child in ast.iter_child_nodes(node))
        return out

    def scope_text(self, node: ast.stmt) -> str:
        def compute() -> str:
            decorators = getattr(node, "decorator_list", [])
            first = min([node.lineno, *(d.lineno for d in decorators)])
            return "".join(self.source.lines[first - 1 : node.end_lineno])

        return self._memo("text", node, compute)

    def scope_name(self, node: ast.AST) -> str:
        def compute() -> str:
            names = [a.name for a in self.ancestors(node) if isinstance(a, SCOPES)]
            return ".".join(reversed(names))

        return self._memo("scope", node, compute)

    def qualname(self, func: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> str:
        """The scope name of the code inside ``func`` (as ``scope_name`` gives it)."""
        outer = self.scope_name(func)
        return f"{outer}.{func.name}" if outer else func.name

    def enclosing_class(self, node: ast.AST, direct: bool = False) -> ast.ClassDef | None:
        for anc in self.ancestors(node):
            if isinstance(anc, ast.ClassDef):
                return anc
            if direct and isinstance(anc, FUNCS):
                return None
        return None

    def is_setup(self, func: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
        """setUp-like methods and fixtures: what they bind is shared by the tests."""
        return func.name in SETUP_NAMES or self.is_fixture(func)

    @staticmethod
    def is_fixture(func: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
        return any("fixture" in ast.unparse(d) for d in func.decorator_list)

    def _assigned_name(self, node: ast.AST) -> str | None:
        parent = self.parent.get(id(node))
        if isinstance(parent, ast.Assign) and len(parent.targets) == 1:
            target = parent.targets[0]
            if isinstance(target, ast.Name):
                return target.id
        if isinstance(parent, ast.AnnAssign) and isinstance(parent.target, ast.Name):
            return parent.target.id
        return None

    def users_of(self, name: str) -> list[ast.stmt]:
        """Top-level functions and classes that read the module-level ``name``."""
        users: list[ast.stmt] = []
        for stmt in self.tree.body:
            if isinstance(stmt, SCOPES) and any(
                isinstance(n, ast.Name) and n.id == name for n in walk(stmt)
            ):
                users.append(stmt)
        return users
