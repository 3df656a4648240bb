"""Which tokenizers and models in a file are loaded from migrated GPT2 ids.

Rules other than ``model-id`` may only touch a tokenizer or model that comes from a migrated
id; this module answers "where does this object come from?" once per file, from ``ast``:

- literals passed directly: ``AutoTokenizer.from_pretrained("gpt2")``;
- ids held by locals, module constants, class attributes, ``self.x``/``cls.x`` set in any
  method (``setUp``, ``setUpClass``) and pytest fixtures that return one;
- parametrized ids: only some values may be GPT2 ids; then the object is *partially*
  migrated and rules report instead of rewriting;
- objects bound the same ways: ``tok = ...``, ``self.tokenizer = ...`` in ``setUp``,
  ``cls.tokenizer`` in ``setUpClass``, fixtures returning one (tests take it as an argument),
  ``processor.tokenizer``.

When it cannot tell, ``origin`` returns None and rules leave the code alone.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from .flow import Flow, call_slots
from .labels import parametrized_names, string_cells
from .tree import FUNCS, walk

if TYPE_CHECKING:
    from . import Analysis

LOADERS = frozenset({"from_pretrained"})


@dataclass(frozen=True)
class Origin:
    """A tokenizer, model or processor and the GPT2 ids it may be loaded from."""

    kind: str  # "tokenizer" | "model" | "processor" | "config"
    sources: frozenset[str]  # migrated GPT2 ids it can come from
    others: frozenset[str]  # non-GPT2 values it can come from (parametrized mixes)
    # Loaded from a known target id already (``sources`` then holds that id): a half-done
    # migration whose workarounds pad-token and chat-template finish; nothing was measured
    # with GPT2 on it, so token-literals and completion-prompts leave it alone.
    finished: bool = False

    @property
    def migrated(self) -> bool:
        return bool(self.sources) and not self.others and not self.finished

    @property
    def partial(self) -> bool:
        return bool(self.sources) and bool(self.others)


@dataclass(frozen=True)
class Binding:
    """One assignment: where it is, and what it loads (None: not a tokenizer/model load)."""

    line: int
    func: ast.FunctionDef | ast.AsyncFunctionDef | None
    origin: Origin | None


@dataclass(frozen=True)
class Ids:
    sources: frozenset[str]
    others: frozenset[str]
    finished: bool = False


def kind_of_class(name: str) -> str:
    if "Tokenizer" in name:
        return "tokenizer"
    if "Processor" in name:
        return "processor"
    if name.endswith("Config"):
        return "config"
    return "model"


class Origins:
    """Where the tokenizers/models of one file come from (see ``Objects``)."""

    def __init__(self, found: Analysis) -> None:
        self.found = found
        self.tree = found.tree
        self._origins: dict[int, Origin | None] = {}
        self._passing: dict[tuple[int, str], Ids | None] = {}

    # -- ids ------------------------------------------------------------------------------

    def ids(self, expr: ast.AST) -> Ids | None:
        """The ids an expression can hold, or None when the analysis cannot tell."""
        found = self.found
        migrated = found.resolve(expr)
        if migrated is not None:
            return Ids(frozenset({migrated}), frozenset())
        target = found.resolve_target(expr)
        if target is not None:
            return Ids(frozenset({target}), frozenset(), finished=True)
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            return Ids(frozenset(), frozenset({expr.value}))
        if isinstance(expr, ast.Name):
            func = next((a for a in found.ancestors(expr) if isinstance(a, FUNCS)), None)
            if func is not None:
                values = found.parametrized(func).get(expr.id)
                cls = found.enclosing_class(func, direct=True)
                if not values and cls is not None and func.name.startswith("test"):
                    # a parametrized class gives the parameter to each of its tests
                    values = string_cells(cls, found.row_constants(cls)).get(expr.id)
                if values:
                    sources = {v.value for v in values if found.migrated_id(v)}
                    others = {str(v.value) for v in values if not found.migrated_id(v)}
                    return Ids(frozenset(str(s) for s in sources), frozenset(others))
                return self._passed_in(func, expr.id)
        return None

    def _passed_in(self, func: ast.FunctionDef | ast.AsyncFunctionDef, name: str) -> Ids | None:
        """The ids a helper's parameter receives: what every call of the helper in this file
        passes to it (``self.load_data(model_name)`` from a parametrized test), or None when
        a call passes something the analysis cannot tell, or the helper is never called."""
        key = (id(func), name)
        if key in self._passing:
            return self._passing[key]
        self._passing[key] = None  # a recursive helper: unknown
        if name not in {a.arg for a in [*func.args.args, *func.args.kwonlyargs]}:
            return None
        index = self.found.binding_set
        router = Flow(index, None)
        passed = [
            self.ids(arg)
            for call in index.calls.get(func.name, [])
            for slot, arg in call_slots(call)
            if router._helper_param(call, slot) == (func, name)
        ]
        if not passed or any(p is None for p in passed):
            return None
        known = [p for p in passed if p is not None]
        result = Ids(
            frozenset().union(*(p.sources for p in known)),
            frozenset().union(*(p.others for p in known)),
            finished=all(p.finished for p in known),
        )
        self._passing[key] = result
        return result

    # -- objects --------------------------------------------------------------------------

    def loaded(self, call: ast.AST) -> Origin | None:
        """``X.from_pretrained(arg)`` -> the origin of what it loads."""
        if not (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and call.func.attr in LOADERS
        ):
            return None
        owner = call.func.value
        name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
        if name in self.found.imports:
            name = self.found.imports[name][1]
        arg = call.args[0] if call.args else None
        for keyword in call.keywords:
            if keyword.arg == "pretrained_model_name_or_path":
                arg = keyword.value
        ids = self.ids(arg) if arg is not None else None
        if ids is None:
            return None
        return Origin(kind_of_class(name), ids.sources, ids.others, ids.finished)

    @cached_property
    def bindings(self) -> dict[tuple[str, str], list[Binding]]:
        """Every assignment to a name or ``self.x`` attribute, in source order, with what it
        loads (None: something else). Keys: (function qualname or "" for the module, name),
        (class name, ``self.x``), and ("fixture", name) for pytest fixtures."""
        out: dict[tuple[str, str], list[Binding]] = {}
        found = self.found
        assignments = sorted(
            (n for n in walk(self.tree) if isinstance(n, (ast.Assign, ast.AnnAssign))),
            key=lambda n: (n.lineno, n.col_offset),
        )
        for node in assignments:
            if node.value is None:
                continue
            origin = self.loaded(node.value) or self._derived(node.value, out)
            func = self._function(node)
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for key in self._keys(target, node):
                    out.setdefault(key, []).append(Binding(node.lineno, func, origin))
        for fixture in walk(self.tree):
            if isinstance(fixture, FUNCS) and found.is_fixture(fixture):
                for ret in walk(fixture):
                    if isinstance(ret, (ast.Return, ast.Yield)) and ret.value is not None:
                        origin = self.loaded(ret.value) or self._lookup(out, ret.value)
                        if origin is not None:
                            binding = Binding(fixture.lineno, fixture, origin)
                            out[("fixture", fixture.name)] = [binding]
        return out

    def _function(self, node: ast.AST) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        return self.found.function_of(node)

    def _keys(self, target: ast.AST, at: ast.AST) -> list[tuple[str, str]]:
        return self.found.assigned_keys(at, target, self.found.scope_name(at))

    def _derived(self, value: ast.AST, out: dict[tuple[str, str], list[Binding]]) -> Origin | None:
        """``processor.tokenizer`` of a migrated processor is a migrated tokenizer."""
        if isinstance(value, ast.Attribute) and value.attr == "tokenizer":
            owner = self.loaded(value.value) or self._lookup(out, value.value)
            if owner is not None:
                return Origin("tokenizer", owner.sources, owner.others, owner.finished)
        return self._lookup(out, value) if isinstance(value, (ast.Name, ast.Attribute)) else None

    def _lookup(self, out: dict[tuple[str, str], list[Binding]], expr: ast.AST) -> Origin | None:
        """Python's scoping, flow-aware within a function: the latest assignment before the
        use; a parameter shadows outer names (a fixture of that name binds it); class bodies
        are not visible from methods; module-level names take their last assignment."""
        found = self.found
        if isinstance(expr, ast.Name):
            for scope in found.ancestors(expr):
                if not isinstance(scope, FUNCS):
                    continue
                entries = out.get((found.qualname(scope), expr.id), [])
                before = [b for b in entries if b.line <= expr.lineno]
                if before:
                    return before[-1].origin
                if entries:
                    return None
                params = {a.arg for a in [*scope.args.args, *scope.args.kwonlyargs]}
                if expr.id in params and expr.id not in parametrized_names(scope):
                    fixture = out.get(("fixture", expr.id))
                    return fixture[-1].origin if fixture else self._imported(expr.id)
            module = out.get(("", expr.id))
            return module[-1].origin if module else None
        if (
            isinstance(expr, ast.Attribute)
            and isinstance(expr.value, ast.Name)
            and expr.value.id in ("self", "cls")
        ):
            cls = found.enclosing_class(expr)
            if cls is None:
                return None
            entries = out.get((cls.name, f"self.{expr.attr}"), [])
            func = self._function(expr)
            mine = [b for b in entries if b.func is func and b.line <= expr.lineno]
            if mine:
                return mine[-1].origin
            setup = [b for b in entries if b.func is None or found.is_setup(b.func)]
            if setup:
                return setup[-1].origin
            if entries and len({b.origin for b in entries}) == 1:
                return entries[0].origin
        return None

    def _imported(self, name: str) -> Origin | None:
        """A fixture of a conftest.py in another file, when its binding migrates there."""
        imported = self.found.ctx.file.imported.get(name)
        if imported is None or imported.kind == "id":
            return None
        if imported.decision == "finished":  # the fixture already loads a known target
            return Origin(imported.kind, frozenset({imported.source}), frozenset(), finished=True)
        if imported.decision != "migrate" or not imported.in_run:
            return None
        return Origin(imported.kind, frozenset({imported.source}), frozenset())

    def origin(self, expr: ast.AST) -> Origin | None:
        """Where the object ``expr`` evaluates to comes from, or None if unknown."""
        key = id(expr)
        if key not in self._origins:
            self._origins[key] = self._origin(expr)
        return self._origins[key]

    def _origin(self, expr: ast.AST) -> Origin | None:
        loaded = self.loaded(expr)
        if loaded is not None:
            return loaded
        if isinstance(expr, ast.Attribute) and expr.attr == "tokenizer":
            owner = self.origin(expr.value)
            if owner is not None and owner.kind == "processor":
                return Origin("tokenizer", owner.sources, owner.others, owner.finished)
        return self._lookup(self.bindings, expr)
