"""Bindings: a source id, everything loaded from it, everywhere that flows; one decision each.

A binding starts at the string literals that hold a GPT2 id and grows along the flow Python
gives them: names and module constants (``MODEL_ID = "gpt2"``), ``self.``/``cls.``
attributes, parameter defaults, parametrize values, helper returns and pytest fixtures
(tests take them by name), and the objects loaded from it (``tok = AutoTokenizer.
from_pretrained(MODEL_ID)``, ``self.model``, a fixture returning the model). Literals of the
same id in one function, or in a function and the helper it calls, are one binding: they are
meant to be the same checkpoint (an adapter built on it in the helper must fit the base the
test loads).

The whole binding gets one decision, from all of its evidence:

- **keep** (info): GPT2 itself is needed on any of its objects (internals touched in any
  function that uses the binding), or a literal is not a checkpoint id here (a model type, an
  architecture-table key, a coverage peer, the base of a GPT2-derived artefact...);
- **review**: the id reaches something not known to take a hub id (``consumers``), or
  reaches nothing the analysis can follow;
- **migrate**: every use is a known consumer (or neutral, like a comparison).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .consumers import HF_PACKAGES, HUB_CLIENT, Verdict, classify_call, is_model_field

if TYPE_CHECKING:
    from .._helpers import Analysis

Key = tuple[str, str]  # (scope qualname or "" for the module, name) / ("fixture", name) ...
FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)
Func = ast.FunctionDef | ast.AsyncFunctionDef
MODEL_TYPE_ATTR = re.compile(r"(model_type|architecture|arch|family)s?$")
MAX_DEPTH = 6


@dataclass
class Use:
    """One place an id (or a name holding it) ends up."""

    node: ast.AST
    verdict: Verdict | None = None  # None: neutral (a comparison, a format string...)
    keep: str | None = None  # this use shows the literal is not a checkpoint id


@dataclass
class Binding:
    source: str
    literals: list[ast.expr] = field(default_factory=list)
    keys: set[Key] = field(default_factory=set)  # names holding the id
    objects: set[Key] = field(default_factory=set)  # names holding what was loaded from it
    uses: list[Use] = field(default_factory=list)
    users: dict[int, Func] = field(default_factory=dict)  # functions touching the binding
    decision: str = "migrate"  # "migrate" | "keep" | "review"
    reason: str = ""
    line: int = 0  # the line of the evidence

    @property
    def first_line(self) -> int:
        return min(getattr(n, "lineno", 0) for n in self.literals)


class Bindings:
    """Every binding of one file; build with ``Analysis.binding_set``."""

    def __init__(self, found: Analysis, literals: list[ast.expr]) -> None:
        self.found = found
        self._index()
        groups = _UnionFind()
        flows: dict[int, _Flow] = {}
        for literal in literals:
            flow = _Flow(self, literal)
            flows[id(literal)] = flow
            groups.add(id(literal))
            for key in flow.keys:
                groups.union(id(literal), ("key", key))
            func = found.function_of(literal)
            if func is not None:
                groups.union(id(literal), ("func", id(func), _value(literal)))
                for callee in self._callees(func):
                    groups.union(id(literal), ("func", id(callee), _value(literal)))
        self.of: dict[int, Binding] = {}
        members: dict[object, Binding] = {}
        for literal in literals:
            root = groups.find(id(literal))
            binding = members.setdefault(root, Binding(_value(literal)))
            flow = flows[id(literal)]
            binding.literals.append(literal)
            binding.keys |= flow.keys
            binding.objects |= flow.objects
            binding.uses.extend(flow.uses)
            binding.users.update(flow.users)
            self.of[id(literal)] = binding
        self.all = list(members.values())
        for binding in self.all:
            self._decide(binding)

    def seeded(self, key: Key, id_valued: bool) -> _Flow:
        """The flow of a name another file binds (a conftest fixture, an imported constant)."""
        flow = _Flow(self, None)
        flow.enter(key, id_valued)
        return flow

    # -- indexes ------------------------------------------------------------------------

    def _index(self) -> None:
        found = self.found
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
            elif isinstance(node, ast.Attribute) and _self_attr(node):
                if isinstance(node.ctx, ast.Load):
                    self.attr_loads.setdefault(node.attr, []).append(node)
            elif isinstance(node, ast.Call):
                func = node.func
                if isinstance(func, ast.Name):
                    self.calls.setdefault(func.id, []).append(node)
                elif isinstance(func, ast.Attribute) and _self_attr(func):
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

    def _callees(self, func: Func) -> Iterator[Func]:
        """Functions of this file that ``func`` calls by name (helpers, ``self.helper``)."""
        for node in self.found.walk(func):
            if isinstance(node, ast.Call):
                target = node.func
                name = target.id if isinstance(target, ast.Name) else None
                if isinstance(target, ast.Attribute) and _self_attr(target):
                    name = target.attr
                if name is not None:
                    yield from self.found.functions_named.get(name, [])

    # -- decision ------------------------------------------------------------------------

    def _decide(self, binding: Binding) -> None:
        found = self.found
        for literal in binding.literals:
            leave = found.literal_leave(literal)
            if leave is not None:
                self._set(binding, "keep", leave.reason, literal)
                return
        for use in binding.uses:
            if use.keep is not None:
                self._set(binding, "keep", use.keep, use.node)
                return
        remote = [
            use
            for scope, name in binding.keys | binding.objects
            if scope in ("fixture", "")
            for use in found.ctx.file.external.get(name, ())
        ]
        for outside in remote:
            if outside.internals:
                self._set(
                    binding,
                    "keep",
                    f"{outside.path}:{outside.line} relies on GPT2 ({outside.what}); swapping "
                    "the model"
                    " would break it",
                    binding.literals[0],
                )
                return
        for outside in remote:
            if outside.known is not None:
                what = f"{outside.what} in {outside.path}:{outside.line}"
                binding.uses.append(Use(binding.literals[0], Verdict(outside.known, what)))
        for func in sorted(binding.users.values(), key=lambda f: f.lineno):
            internals = found.internals_in(func)
            if internals:
                self._set(
                    binding,
                    "keep",
                    f"{func.name} relies on GPT2 ({internals}); swapping the model would void it",
                    func,
                )
                return
        unknown = [u for u in binding.uses if u.verdict is not None and not u.verdict.known]
        if unknown:
            first = min(unknown, key=lambda u: getattr(u.node, "lineno", 0))
            assert first.verdict is not None
            if found.hub_client_file or HUB_CLIENT in first.verdict.what:
                self._set(
                    binding,
                    "keep",
                    "a repository name for huggingface_hub (the test is about that repository, "
                    "not about a model)",
                    first.node,
                )
                return
            if "/" not in binding.source and all(not u.verdict.call for u in unknown if u.verdict):
                self._set(
                    binding,
                    "keep",
                    f"{binding.source!r} here names something (it reaches {first.verdict.what}, "
                    f"line {getattr(first.node, 'lineno', '?')}): a model type, "
                    "template or directory name, not a checkpoint to load",
                    first.node,
                )
                return
            self._set(
                binding,
                "review",
                f"it reaches {first.verdict.what} (line {getattr(first.node, 'lineno', '?')}), "
                "not known to take a Hugging Face hub id: migrate it by hand, or declare that "
                "consumer in [tool.migrate-tests] consumers and re-run",
                first.node,
            )
            return
        if not any(u.verdict is not None and u.verdict.known for u in binding.uses):
            if "/" not in binding.source and binding.uses:
                self._set(
                    binding,
                    "keep",
                    f"{binding.source!r} here is only compared or formatted into text: a name, "
                    "not a checkpoint to load",
                    binding.literals[0],
                )
                return
            self._set(
                binding,
                "review",
                "it reaches no loader the tool knows (nothing here loads it): check where it "
                "is used and migrate it by hand",
                binding.literals[0],
            )

    @staticmethod
    def _set(binding: Binding, decision: str, reason: str, node: ast.AST) -> None:
        binding.decision, binding.reason = decision, reason
        binding.line = getattr(node, "lineno", 0)


class _Flow:
    """Where one literal goes: the names it binds, its uses, and the functions it reaches."""

    def __init__(self, owner: Bindings, literal: ast.expr | None) -> None:
        self.owner = owner
        self.found = owner.found
        self.keys: set[Key] = set()
        self.objects: set[Key] = set()
        self.uses: list[Use] = []
        self.users: dict[int, Func] = {}
        self._seen: set[int] = set()
        if literal is not None:
            self._value(literal, 0)

    def enter(self, key: Key, id_valued: bool) -> None:
        for load in self._loads(key):
            if id_valued:
                self._value(load, 1)
            else:
                self._object(load, 1)

    def _user(self, node: ast.AST) -> None:
        func = self.found.function_of(node)
        if func is not None:
            self.users[id(func)] = func

    # -- the id itself -------------------------------------------------------------------

    def _value(self, expr: ast.AST, depth: int) -> None:
        """Follow an expression that evaluates to the id."""
        if id(expr) in self._seen or depth > MAX_DEPTH:
            return
        self._seen.add(id(expr))
        self._user(expr)
        found = self.found
        cell = found.parameter_of.get(id(expr))
        if cell is not None:  # a parametrize value (plain or inside pytest.param)
            self._store_param(cell[0], cell[1], depth)
            return
        parent = found.parent.get(id(expr))
        if isinstance(parent, (ast.IfExp, ast.BoolOp, ast.Starred)) and expr is not getattr(
            parent, "test", None
        ):
            self._value(parent, depth)
        elif isinstance(parent, ast.Call):
            if expr in parent.args:
                self._consume(parent, parent.args.index(expr), depth)
        elif isinstance(parent, ast.keyword):
            call = found.parent.get(id(parent))
            if isinstance(call, ast.Call) and parent.arg is not None:
                self._consume(call, parent.arg, depth)
        elif isinstance(parent, (ast.Assign, ast.AnnAssign, ast.NamedExpr)):
            targets = parent.targets if isinstance(parent, ast.Assign) else [parent.target]
            for target in targets:
                self._store(target, depth, id_valued=True)
        elif isinstance(parent, ast.Dict):
            self._dict(parent, expr)
        elif isinstance(parent, ast.Compare):
            self._compare(parent, expr)
        elif isinstance(parent, (ast.List, ast.Tuple, ast.Set)):
            self._element(parent, expr, depth)
        elif isinstance(parent, (ast.Return, ast.Yield)):
            self._returned(parent, depth, id_valued=True)
        elif isinstance(parent, ast.arguments):
            self._default(parent, expr, depth)
        elif isinstance(parent, ast.Subscript) and parent.slice is expr:
            self.uses.append(
                Use(
                    expr,
                    keep=f"a key of {ast.unparse(parent.value)}: a model type, not a checkpoint",
                )
            )
        elif isinstance(parent, (ast.For, ast.comprehension)) and parent.iter is expr:
            self._store(parent.target, depth, id_valued=True)
        elif isinstance(parent, ast.BinOp) and isinstance(parent.op, ast.Div):
            self.uses.append(Use(expr, Verdict(False, "a path component", call=False)))
        elif isinstance(parent, (ast.JoinedStr, ast.FormattedValue, ast.BinOp)):
            self.uses.append(Use(expr))  # formatted into text: neutral
        elif isinstance(parent, ast.Expr):
            self.uses.append(Use(expr, Verdict(False, "an expression statement (unused)")))
        elif parent is not None:
            kind = re.sub(r"(?<!^)(?=[A-Z])", " ", type(parent).__name__).lower()
            self.uses.append(Use(expr, Verdict(False, f"an expression ({kind})")))

    def _consume(self, call: ast.Call, slot: int | str, depth: int) -> None:
        found = self.found
        verdict = classify_call(
            call,
            slot,
            found.imports,
            found.module_aliases,
            found.models.consumers,
            found.local_classes,
        )
        if isinstance(slot, str) and not verdict.known and "(" in verdict.what:
            verdict = Verdict(False, verdict.what, call=False)  # a keyword: a field
        if self._decorator(call):
            verdict = Verdict(False, f"the decorator {ast.unparse(call.func)}()")
        self.uses.append(Use(call, verdict))
        self._object(call, depth + 1)

    def _decorator(self, call: ast.Call) -> bool:
        parent = self.found.parent.get(id(call))
        return isinstance(parent, (*FUNCS, ast.ClassDef)) and call in parent.decorator_list

    def _store(self, target: ast.AST, depth: int, id_valued: bool) -> None:
        owner = self.owner
        key: Key | None = None
        if isinstance(target, ast.Name):
            key = (owner.store_scope(target), target.id)
        elif _self_attr(target):
            assert isinstance(target, ast.Attribute)
            cls = self.found.enclosing_class(target)
            key = (cls.name, f"self.{target.attr}") if cls else None
        elif isinstance(target, ast.Attribute) and id_valued:
            known = is_model_field(target.attr)
            self.uses.append(Use(target, Verdict(known, f"the field .{target.attr}", call=False)))
            return
        elif isinstance(target, ast.Subscript) and id_valued:
            name = target.slice.value if isinstance(target.slice, ast.Constant) else None
            known = isinstance(name, str) and is_model_field(name)
            self.uses.append(
                Use(target, Verdict(known, f"the item [{ast.unparse(target.slice)}]", call=False))
            )
            return
        if key is None:
            return
        keys = [key]
        cls = self.found.enclosing_class(target, direct=True)
        if isinstance(target, ast.Name) and cls is not None:
            keys.append((cls.name, f"self.{target.id}"))  # a class attribute, read as self.x
        for key in keys:
            (self.keys if id_valued else self.objects).add(key)
            for load in self._loads(key):
                if id_valued:
                    self._value(load, depth + 1)
                else:
                    self._object(load, depth + 1)

    def _loads(self, key: Key) -> Iterator[ast.AST]:
        owner = self.owner
        scope, name = key
        if name.startswith("self."):
            for load in owner.attr_loads.get(name[5:], []):
                cls = self.found.enclosing_class(load)
                if cls is not None and cls.name == scope:
                    yield load
            return
        if scope == "return":
            yield from owner.calls.get(name.rsplit(".", 1)[-1], [])
            return
        if scope == "fixture":
            for func in owner.params.get(name, []):
                if func.name != name:
                    yield from self._loads((self.found.qualname(func), name))
            return
        for name_load in owner.name_loads.get(name, []):
            if owner.resolve(name_load) == key:
                yield name_load

    def _returned(self, node: ast.Return | ast.Yield, depth: int, id_valued: bool) -> None:
        func = self.found.function_of(node)
        if func is None:
            return
        keys = [("return", self.found.qualname(func))]
        if self.found.is_fixture(func):
            keys.append(("fixture", func.name))
        for key in keys:
            (self.keys if id_valued else self.objects).add(key)
            for load in self._loads(key):
                if id_valued:
                    self._value(load, depth + 1)
                else:
                    self._object(load, depth + 1)

    def _default(self, args: ast.arguments, expr: ast.AST, depth: int) -> None:
        func = self.found.parent.get(id(args))
        if not isinstance(func, FUNCS):
            return
        positional = [*args.posonlyargs, *args.args]
        params = positional[len(positional) - len(args.defaults) :]
        pairs = list(zip(params, args.defaults, strict=True))
        pairs += [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d]
        for param, default in pairs:
            if default is expr:
                self._store_param(func, param.arg, depth)

    def _store_param(self, func: Func, name: str, depth: int) -> None:
        key = (self.found.qualname(func), name)
        self.keys.add(key)
        self.users[id(func)] = func
        for load in self._loads(key):
            self._value(load, depth + 1)

    def _dict(self, node: ast.Dict, expr: ast.AST) -> None:
        if expr in node.keys:
            value = getattr(expr, "value", "")
            if "/" in str(value):
                self.uses.append(Use(expr, Verdict(False, "a dict key", call=False)))
            else:
                self.uses.append(Use(expr, keep="a dict key naming a model type, not a checkpoint"))
            return
        key = node.keys[node.values.index(expr)]  # type: ignore[arg-type]
        name = key.value if isinstance(key, ast.Constant) else None
        if isinstance(name, str) and "/" not in name and self.found.models.target_of(name):
            self.uses.append(Use(expr, keep=f"the checkpoint of model type {name!r} in a table"))
        elif isinstance(name, str):
            known = is_model_field(name)
            self.uses.append(Use(expr, Verdict(known, f'the key "{name}"', call=False)))
        else:
            self.uses.append(Use(expr, Verdict(False, "a dict value", call=False)))

    def _compare(self, node: ast.Compare, expr: ast.AST) -> None:
        for side in [node.left, *node.comparators]:
            if side is not expr and MODEL_TYPE_ATTR.search(ast.unparse(side)):
                self.uses.append(Use(expr, keep=f"compared with {ast.unparse(side)}: a model type"))
                return
        self.uses.append(Use(expr))

    def _element(
        self, container: ast.List | ast.Tuple | ast.Set, expr: ast.AST, depth: int
    ) -> None:
        elts = container.elts
        index = elts.index(expr)  # type: ignore[arg-type]
        assign = self.found.parent.get(id(container))
        if isinstance(assign, ast.Assign) and assign.value is container:
            unpacked = [t for t in assign.targets if isinstance(t, (ast.Tuple, ast.List))]
            if unpacked and len(unpacked[0].elts) == len(elts):  # a, b = "x", "gpt2"
                self._store(unpacked[0].elts[index], depth, id_valued=True)
                return
        previous = elts[index - 1] if index else None
        if isinstance(previous, ast.Constant) and str(previous.value).startswith("-"):
            flag = str(previous.value)
            self.uses.append(
                Use(expr, Verdict(is_model_field(flag), f"the flag {flag}", call=False))
            )
            return
        if self.found.model_type_peers(elts):
            self.uses.append(Use(expr, keep="one of several model types in a collection"))
            return
        self._value(container, depth)

    # -- objects loaded from it ----------------------------------------------------------

    def _object(self, expr: ast.AST, depth: int) -> None:
        """Follow an object loaded from the id: only to find the functions that use it."""
        if id(expr) in self._seen or depth > MAX_DEPTH:
            return
        self._seen.add(id(expr))
        self._user(expr)
        parent = self.found.parent.get(id(expr))
        if isinstance(parent, ast.Attribute) and parent.value is expr:
            self._object(parent, depth)  # model.to(device), processor.tokenizer
        elif isinstance(parent, ast.Call) and (parent.func is expr or expr in parent.args):
            self._object(parent, depth)  # .to(device) result, a wrapper of the model
        elif isinstance(parent, ast.keyword):
            call = self.found.parent.get(id(parent))
            if isinstance(call, ast.Call):
                self._object(call, depth)
        elif isinstance(parent, (ast.Assign, ast.AnnAssign)):
            targets = parent.targets if isinstance(parent, ast.Assign) else [parent.target]
            for target in targets:
                self._store(target, depth, id_valued=False)
        elif isinstance(parent, (ast.Return, ast.Yield)):
            self._returned(parent, depth, id_valued=False)


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[object, object] = {}

    def add(self, item: object) -> None:
        self.parent.setdefault(item, item)

    def find(self, item: object) -> object:
        self.add(item)
        while self.parent[item] != item:
            self.parent[item] = self.parent[self.parent[item]]
            item = self.parent[item]
        return item

    def union(self, a: object, b: object) -> None:
        self.parent[self.find(a)] = self.find(b)


def _self_attr(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id in ("self", "cls")
    )


def _value(literal: ast.expr) -> str:
    if isinstance(literal, ast.Constant):
        return str(literal.value)
    return "".join(
        str(part.value) for part in getattr(literal, "values", []) if isinstance(part, ast.Constant)
    )


def hub_client_file(imports: dict[str, tuple[str, str]], modules: dict[str, str]) -> bool:
    """The file uses huggingface_hub and loads nothing with transformers, trl or peft."""
    packages = {m.lstrip(".").split(".")[0] for m, _ in imports.values()} | {
        m.split(".")[0] for m in modules.values()
    }
    return HUB_CLIENT in packages and not packages & HF_PACKAGES
