"""Labels: parametrize values that name a branch of the test, not a checkpoint to load.

A parameter the test compares with string literals and never passes to a call is a label
(``if name == "gpt2": ...``); its rows, the literals it is compared with and the keys of a
table it indexes form one group, decided here before any rule rewrites anything: ``model-id``
leaves every literal of a group and ``model-labels`` renames them together. Also the reader of
``parametrize``/``parameterized.expand`` rows that every concern shares.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property

from .tree import FUNCS, TreeIndex, walk


@dataclass(frozen=True)
class LabelGroup:
    """The GPT2 label literals of one parametrized parameter: rows and comparisons."""

    func: ast.FunctionDef | ast.AsyncFunctionDef
    param: str
    nodes: list[ast.Constant]
    values: frozenset[str]  # every value the parameter takes


class Labels(TreeIndex):
    """Label groups and the parametrized literals they are made of."""

    @cached_property
    def label_groups(self) -> list[LabelGroup]:
        """Branch labels: parametrize values of a parameter that the test compares with string
        literals and never passes to a call, plus the literals it is compared with. They are
        decided here, before any rule rewrites anything: ``model-id`` leaves every literal of
        a group and ``model-labels`` renames them together, so rows and comparisons can never
        disagree."""
        groups = []
        for func in walk(self.tree):
            if not isinstance(func, FUNCS):
                continue
            for param, values in self.parametrized(func).items():
                compared = self._compared_literals(func, param)
                if not compared or self._used_as_id(func, param):
                    continue
                gpt2 = [
                    v
                    for v in [*values, *compared, *self._keys_looked_up(func, param)]
                    if self.models.target_of(str(v.value)) is not None
                ]
                if any(v in values for v in gpt2):
                    groups.append(
                        LabelGroup(func, param, gpt2, frozenset(str(v.value) for v in values))
                    )
        return groups

    def _keys_looked_up(self, func: ast.AST, param: str) -> list[ast.Constant]:
        """Keys of a dict indexed by the label (``TABLE[name]``, ``TABLE.get(name)``), with the
        dict a literal in the test or a module constant: they are labels too."""
        names = set()
        for node in walk(func):
            if (
                isinstance(node, ast.Subscript)
                and isinstance(node.slice, ast.Name)
                and node.slice.id == param
            ):
                names.add(ast.unparse(node.value))
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "get"
                and node.args
                and isinstance(node.args[0], ast.Name)
                and node.args[0].id == param
            ):
                names.add(ast.unparse(node.func.value))
        keys: list[ast.Constant] = []
        for stmt in [*self.tree.body, *walk(func)]:
            if (
                isinstance(stmt, ast.Assign)
                and isinstance(stmt.value, ast.Dict)
                and any(ast.unparse(t) in names for t in stmt.targets)
            ):
                keys.extend(
                    k
                    for k in stmt.value.keys
                    if isinstance(k, ast.Constant) and isinstance(k.value, str)
                )
        return keys

    @cached_property
    def compared_of(self) -> dict[int, tuple[ast.FunctionDef | ast.AsyncFunctionDef, str]]:
        """A literal compared with a parametrized parameter -> (test function, parameter)."""
        out = {}
        for func in walk(self.tree):
            if isinstance(func, FUNCS) and func.decorator_list:
                for param in self.parametrized(func):
                    for literal in self._compared_literals(func, param):
                        out[id(literal)] = (func, param)
        return out

    @cached_property
    def parameter_of(self) -> dict[int, tuple[ast.FunctionDef | ast.AsyncFunctionDef, str]]:
        """A parametrize value literal -> (its test function, its parameter name); for a
        parametrized class, its first test method taking the parameter."""
        return {key: targets[0] for key, targets in self.parameter_targets.items()}

    @cached_property
    def parameter_targets(
        self,
    ) -> dict[int, list[tuple[ast.FunctionDef | ast.AsyncFunctionDef, str]]]:
        """A parametrize value literal -> every (test function, parameter) it is given to: one
        for a function, each test method taking the parameter for a parametrized class
        (pytest applies a class's ``parametrize`` to all of its tests)."""
        out: dict[int, list[tuple[ast.FunctionDef | ast.AsyncFunctionDef, str]]] = {}
        for node in walk(self.tree):
            if isinstance(node, FUNCS) and node.decorator_list:
                for param, values in self.parametrized(node).items():
                    for value in values:
                        out.setdefault(id(value), []).append((node, param))
                takers = [node]
            elif isinstance(node, ast.ClassDef) and node.decorator_list:
                takers = [
                    m for m in node.body if isinstance(m, FUNCS) and m.name.startswith("test")
                ]
                for param, values in string_cells(node, self.row_constants(node)).items():
                    for value in values:
                        for method in takers:
                            if param in {a.arg for a in method.args.args}:
                                out.setdefault(id(value), []).append((method, param))
            else:
                continue
            self._unpacked_rows(node, takers, out)
        return out

    def _unpacked_rows(
        self,
        node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef,
        takers: list[ast.FunctionDef | ast.AsyncFunctionDef],
        out: dict[int, list[tuple[ast.FunctionDef | ast.AsyncFunctionDef, str]]],
    ) -> None:
        """One parameter given tuples (``("org/gpt2", "text-generation")``) that the test
        unpacks first thing (``model, task = model_w_task``): each string goes to its name."""
        for names, _row, cells in parametrize_rows(node, self.row_constants(node)):
            if len(names) != 1 or len(cells) != 1 or not isinstance(cells[0], ast.Tuple):
                continue
            for func in takers:
                targets = _unpacking(func, names[0], len(cells[0].elts))
                for target, elt in zip(targets, cells[0].elts, strict=False):
                    if target and isinstance(elt, ast.Constant) and isinstance(elt.value, str):
                        out.setdefault(id(elt), []).append((func, target))

    @cached_property
    def labels(self) -> set[int]:
        return {id(node) for group in self.label_groups for node in group.nodes}

    def parametrized(
        self, func: ast.FunctionDef | ast.AsyncFunctionDef
    ) -> dict[str, list[ast.Constant]]:
        """Parameter name -> the string literals given for it by parametrize/expand."""
        return self._memo(
            "parametrized", func, lambda: string_cells(func, self.row_constants(func))
        )

    def rows_of(
        self, func: ast.FunctionDef | ast.AsyncFunctionDef
    ) -> Iterator[tuple[list[str], ast.expr, list[ast.expr]]]:
        """``parametrize_rows`` of ``func``, rows given by a constant's name included."""
        return parametrize_rows(func, self.row_constants(func))

    def row_constants(self, node: ast.AST) -> dict[str, ast.expr]:
        """The names a decorator of ``node`` can read that are bound once to a list or tuple
        display: module constants, and attributes of the class whose body holds ``node``
        (``@parameterized.expand(SUPPORTED_ARCHITECTURES)``,
        ``@pytest.mark.parametrize("model_id", MODEL_IDS)``)."""
        cls = self.enclosing_class(node, direct=True)
        module = self._displays[id(self.tree)]
        return {**module, **self._displays[id(cls)]} if cls is not None else module

    @cached_property
    def _displays(self) -> dict[int, dict[str, ast.expr]]:
        out = {}
        for scope in [self.tree, *(n for n in walk(self.tree) if isinstance(n, ast.ClassDef))]:
            bound: dict[str, ast.expr | None] = {}
            for stmt in scope.body:  # type: ignore[attr-defined]
                if isinstance(stmt, ast.Assign):
                    targets, value = stmt.targets, stmt.value
                elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
                    targets, value = [stmt.target], stmt.value
                else:
                    continue
                for target in targets:
                    if isinstance(target, ast.Name):
                        once = target.id not in bound and len(targets) == 1
                        display = isinstance(value, (ast.List, ast.Tuple))
                        bound[target.id] = value if once and display else None
            out[id(scope)] = {k: v for k, v in bound.items() if v is not None}
        return out

    def _compared_literals(self, func: ast.AST, param: str) -> list[ast.Constant]:
        out = []
        for node in walk(func):
            if not isinstance(node, ast.Compare):
                continue
            sides = [node.left, *node.comparators]
            if not any(isinstance(s, ast.Name) and s.id == param for s in sides):
                continue
            if not all(isinstance(op, (ast.Eq, ast.NotEq, ast.In, ast.NotIn)) for op in node.ops):
                continue
            for side in sides:
                for item in [side, *getattr(side, "elts", [])]:
                    if isinstance(item, ast.Constant) and isinstance(item.value, str):
                        out.append(item)
        return out

    def _used_as_id(self, func: ast.AST, param: str) -> bool:
        for node in walk(func):
            if not isinstance(node, ast.Call):
                continue
            for arg in node.args:
                if isinstance(arg, ast.Name) and arg.id == param:
                    return True
            for kw in node.keywords:
                if isinstance(kw.value, ast.Name) and kw.value.id == param:
                    return True
        return False


def parametrize_rows(
    func: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef,
    constants: Mapping[str, ast.expr] | None = None,
) -> Iterator[tuple[list[str], ast.expr, list[ast.expr]]]:
    """(parameter names, row, the row's cells in parameter order) for every row of a
    ``parametrize``/``parameterized.expand`` decorator written as a literal list or tuple,
    or as the name of one in ``constants`` (a class: its ``parametrize`` rows)."""
    for deco in func.decorator_list:
        if not isinstance(deco, ast.Call) or not deco.args:
            continue
        name = ast.unparse(deco.func)
        if name.endswith("parametrize") and len(deco.args) >= 2:
            names = _argnames(deco.args[0])
            rows = deco.args[1]
        elif name.endswith("expand") and not isinstance(func, ast.ClassDef):
            names = [a.arg for a in func.args.args if a.arg not in ("self", "cls")]
            rows = deco.args[0]
        else:
            continue
        if isinstance(rows, ast.Name) and constants:
            rows = constants.get(rows.id, rows)
        if not isinstance(rows, (ast.List, ast.Tuple)):
            continue
        for row in rows.elts:
            if isinstance(row, ast.Call) and ast.unparse(row.func).endswith("param"):
                cells = list(row.args)  # pytest.param(value, ..., marks=...)
            elif isinstance(row, (ast.Tuple, ast.List)) and (
                name.endswith("expand") or len(names) > 1
            ):
                cells = list(row.elts)
            else:
                cells = [row]
            yield names, row, cells


def _unpacking(func: ast.FunctionDef | ast.AsyncFunctionDef, param: str, size: int) -> list[str]:
    """The names of ``a, b = param`` in ``func``'s body ("" for a target that is no plain
    name), or [] when the function does not unpack ``param`` into ``size`` names."""
    for stmt in func.body:
        if (
            isinstance(stmt, ast.Assign)
            and isinstance(stmt.value, ast.Name)
            and stmt.value.id == param
            and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], (ast.Tuple, ast.List))
            and len(stmt.targets[0].elts) == size
        ):
            return [t.id if isinstance(t, ast.Name) else "" for t in stmt.targets[0].elts]
    return []


def string_cells(
    func: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef,
    constants: Mapping[str, ast.expr],
) -> dict[str, list[ast.Constant]]:
    """Parameter name -> the string literals the parametrize rows of ``func`` give it."""
    out: dict[str, list[ast.Constant]] = {}
    for names, _row, cells in parametrize_rows(func, constants):
        for param, cell in zip(names, cells, strict=False):
            if isinstance(cell, ast.Constant) and isinstance(cell.value, str):
                out.setdefault(param, []).append(cell)
    return out


def parametrize_columns(
    func: ast.FunctionDef | ast.AsyncFunctionDef,
    cls: ast.ClassDef | None,
    constants: Mapping[str, ast.expr],
) -> dict[str, list[tuple[ast.expr, list[ast.expr]]]]:
    """Parameter of ``func`` -> (the value each row gives it, that row's cells), whatever
    the values' form; a parametrized class's rows count for the parameters ``func`` takes."""
    taken = {a.arg for a in func.args.args}
    out: dict[str, list[tuple[ast.expr, list[ast.expr]]]] = {}
    for owner in (func, cls):
        if owner is None:
            continue
        for names, _row, cells in parametrize_rows(owner, constants):
            for param, cell in zip(names, cells, strict=False):
                if param in taken:
                    out.setdefault(param, []).append((cell, cells))
    return out


def parametrized_names(func: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    """The parameters a ``parametrize`` decorator of ``func`` gives values (whatever their
    form): they shadow fixtures of the same name."""
    names: set[str] = set()
    for deco in func.decorator_list:
        if (
            isinstance(deco, ast.Call)
            and deco.args
            and ast.unparse(deco.func).endswith("parametrize")
        ):
            names.update(_argnames(deco.args[0]))
    return names


def _argnames(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [n.strip() for n in node.value.split(",") if n.strip()]
    if isinstance(node, (ast.List, ast.Tuple)):
        return [
            e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)
        ]
    return []
