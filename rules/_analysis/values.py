"""Values: the id an expression evaluates to, when the analysis can tell.

A literal whose binding migrates, a name or ``self.x`` assigned one (``(scope, name)`` -> id),
a constant or fixture imported from another file whose binding migrates there; and the known
target id a name holds in a half-done migration.
"""

from __future__ import annotations

import ast
from functools import cached_property

from .evidence import Evidence
from .tree import FUNCS, walk


class Values(Evidence):
    """Migrated source ids and known target ids behind names, attributes and literals."""

    def migrated_id(self, node: ast.AST) -> str | None:
        """The source id a literal holds when it is migrated, else None."""
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and self.models.target_of(node.value)
            and self.leave_reason(node) is None
        ):
            return node.value
        return None

    @cached_property
    def bindings(self) -> dict[tuple[str, str], str]:
        """(scope, name) -> migrated source id, for ``X = "gpt2"`` (scope ``""`` module,
        a function's qualified name), and (class, ``self.X``) for attributes/class attrs."""
        out: dict[tuple[str, str], str] = {}
        for node in walk(self.tree):
            if not isinstance(node, (ast.Assign, ast.AnnAssign)) or node.value is None:
                continue
            source_id = self.migrated_id(node.value)
            if source_id is None:
                continue
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for key in self.assigned_keys(node, target, self.scope_name(node)):
                    out[key] = source_id
        return out

    def assigned_keys(self, node: ast.AST, target: ast.AST, scope: str) -> list[tuple[str, str]]:
        """What ``target = ...`` binds: the name in ``scope`` (and ``self.name`` for a class
        attribute), or ``self.attr`` of the enclosing class."""
        if isinstance(target, ast.Name):
            cls = self.enclosing_class(node, direct=True)
            keys = [(scope, target.id)]
            return [*keys, (cls.name, f"self.{target.id}")] if cls is not None else keys
        if (
            isinstance(target, ast.Attribute)
            and isinstance(target.value, ast.Name)
            and target.value.id in ("self", "cls")
        ):
            cls = self.enclosing_class(node)
            return [(cls.name, f"self.{target.attr}")] if cls is not None else []
        return []

    def resolve(self, expr: ast.AST) -> str | None:
        """The migrated source id an expression evaluates to, when the analysis can tell."""
        literal = self.migrated_id(expr)
        if literal is not None:
            return literal
        if isinstance(expr, ast.Name) and self._imported_id(expr) is not None:
            return self._imported_id(expr)
        if isinstance(expr, ast.Name):
            scope = self.scope_name(expr)
            while True:
                found = self.bindings.get((scope, expr.id))
                if found is not None:
                    return found
                if not scope:
                    return None
                scope = scope.rpartition(".")[0]
        if (
            isinstance(expr, ast.Attribute)
            and isinstance(expr.value, ast.Name)
            and expr.value.id in ("self", "cls")
        ):
            cls = self.enclosing_class(expr)
            if cls is not None:
                return self.bindings.get((cls.name, f"self.{expr.attr}"))
        return None

    def resolve_target(self, expr: ast.AST) -> str | None:
        """The known target id an expression holds (a literal, or a name or ``self.x``
        assigned one), for half-done migrations."""
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            return expr.value if self.models.is_target(expr.value) else None
        key: tuple[str, str] | None = None
        if isinstance(expr, ast.Name):
            key = self.binding_set.resolve(expr)
        elif (
            isinstance(expr, ast.Attribute)
            and isinstance(expr.value, ast.Name)
            and expr.value.id in ("self", "cls")
        ):
            cls = self.enclosing_class(expr)
            key = (cls.name, f"self.{expr.attr}") if cls else None
        return self._target_names.get(key) if key else None

    @cached_property
    def _target_names(self) -> dict[tuple[str, str], str]:
        out: dict[tuple[str, str], str] = {}
        for node in walk(self.tree):
            if not isinstance(node, ast.Assign) or not isinstance(node.value, ast.Constant):
                continue
            value = node.value.value
            if not (isinstance(value, str) and self.models.is_target(value)):
                continue
            for target in node.targets:
                scope = self.binding_set.store_scope(target)
                for key in self.assigned_keys(node, target, scope):
                    out[key] = value
        return out

    def _imported_id(self, name: ast.Name) -> str | None:
        """A constant imported from, or a fixture returning an id defined in, another file
        whose binding migrates (the cross-file pre-pass decided it there)."""
        imported = self.ctx.file.imported.get(name.id)
        if (
            imported is None
            or imported.kind != "id"
            or imported.decision != "migrate"
            or not imported.in_run
        ):
            return None
        if self.binding_set.resolve(name)[0] not in ("", *self._param_scopes(name)):
            return None
        return imported.source

    def _param_scopes(self, name: ast.Name) -> list[str]:
        return [self.qualname(f) for f in self.ancestors(name) if isinstance(f, FUNCS)]
