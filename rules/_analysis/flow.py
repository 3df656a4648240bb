"""Flow: where one GPT2 id literal goes, and every use it meets on the way.

From the literal, along what Python does with it: call arguments (``consumers`` says whether
the callee takes a hub id), assignments to names and ``self.``/``cls.`` attributes (followed to
their loads, ``keys``), parameter defaults and parametrize values, helper returns and pytest
fixtures, dict entries, comparisons, collections; then the objects loaded from it, only to find
the functions that use them. ``bindings`` merges the flows and decides.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from migrator.crossfile import parameter_uses
from migrator.models import is_model_field

from .consumers import (
    HF_PACKAGES,
    HUB_CLIENT,
    OWN_REGISTRIES,
    Verdict,
    classify_call,
    is_path_call,
    package_of,
)
from .keys import Func, Key, NameIndex, self_attr
from .shapes import is_cli_string
from .tree import FUNCS

# Calls that compare their first two arguments (``self.assertEqual(a, b)``).
ASSERTION = re.compile(r"(^|\.)assert\w*(equal|equals|in)$", re.IGNORECASE)
MODEL_TYPE_ATTR = re.compile(r"(model_type|architecture|arch|family)s?$")
MAX_DEPTH = 6
# Builtins whose second argument names an attribute (``getattr(lm, model_family)``).
ATTRIBUTE_BUILTINS = frozenset({"getattr", "setattr", "hasattr", "delattr"})
# Libraries, not the project: their functions are judged by name (``consumers``).
KNOWN_PACKAGES = HF_PACKAGES | OWN_REGISTRIES | {HUB_CLIENT, "os", "pathlib", "pytest", "torch"}
# An id made part of a file path names a folder (a local copy, an output directory).
PATH_KEEP = "part of a file path ({}): a folder's name, not a checkpoint on the hub"


def call_slots(call: ast.Call) -> list[tuple[int | str, ast.expr]]:
    """A call's arguments by slot: positional index, or keyword name (``**kw`` left out)."""
    slots: list[tuple[int | str, ast.expr]] = list(enumerate(call.args))
    return slots + [(k.arg, k.value) for k in call.keywords if k.arg is not None]


@dataclass
class Use:
    """One place an id (or a name holding it) ends up."""

    node: ast.AST
    verdict: Verdict | None = None  # None: neutral (a comparison, a format string...)
    keep: str | None = None  # this use shows the literal is not a checkpoint id


class Flow:
    """Where one literal goes: the names it binds, its uses, and the functions it reaches."""

    def __init__(self, owner: NameIndex, literal: ast.expr | None) -> None:
        self.owner = owner
        self.found = owner.found
        self.keys: set[Key] = set()
        self.objects: set[Key] = set()
        self.uses: list[Use] = []
        self.users: dict[int, Func] = {}
        self.helpers: set[int] = set()  # helpers of this file the id is passed to
        self._seen: set[int] = set()
        if literal is not None:
            self._value(literal, 0)

    def enter(self, key: Key, id_valued: bool) -> None:
        for load in self.owner.loads(key):
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
        cells = found.parameter_targets.get(id(expr))
        if cells:  # a parametrize value (plain or inside pytest.param; a class's: each test)
            for func, param in cells:
                self._store_param(func, param, depth)
            return
        parent = found.parent.get(id(expr))
        if expr is getattr(parent, "test", None) or (
            isinstance(parent, ast.UnaryOp) and isinstance(parent.op, ast.Not)
        ):
            self.uses.append(Use(expr))  # ``x if path else y``, ``if not path``: a truth test
        elif isinstance(parent, (ast.IfExp, ast.BoolOp, ast.Starred)):
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
            self._compare([parent.left, *parent.comparators], expr)
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
            self._path(expr, "/")
        elif isinstance(parent, (ast.JoinedStr, ast.FormattedValue, ast.BinOp)):
            self.uses.append(Use(expr))  # formatted into text: neutral
        elif isinstance(parent, ast.Expr):
            self.uses.append(Use(expr, Verdict(False, "an expression statement (unused)")))
        elif parent is not None:
            kind = re.sub(r"(?<!^)(?=[A-Z])", " ", type(parent).__name__).lower()
            # Data, not a call: an element of a comprehension, an attribute's owner...
            self.uses.append(Use(expr, Verdict(False, f"an expression ({kind})", call=False)))

    def _consume(self, call: ast.Call, slot: int | str, depth: int) -> None:
        found = self.found
        helper = self._helper_param(call, slot)
        if helper is not None:  # a helper of this file: the id goes on in its parameter
            self.uses.append(Use(call))
            self.helpers.add(id(helper[0]))
            self._store_param(helper[0], helper[1], depth)
            return
        if isinstance(slot, int) and slot < 2 and ASSERTION.search(ast.unparse(call.func)):
            self._compare(call.args[:2], call.args[slot])
            return
        if self._imported_helper(call, slot):
            return
        if is_path_call(call, found.imports, found.module_aliases):
            self._path(call, f"{ast.unparse(call.func)}()")
            return
        callee = call.func.id if isinstance(call.func, ast.Name) else None
        if slot == 1 and callee in ATTRIBUTE_BUILTINS:
            self.uses.append(
                Use(call, keep=f"the attribute name of {callee}(): a name, not a checkpoint")
            )
            return
        if slot == "ids" and self._decorator(call):
            keep = "a pytest id (ids=): a label, not a checkpoint (rename it by hand if its row "
            self.uses.append(Use(call, keep=keep + "changes model)"))
            return
        verdict = classify_call(
            self._class_resolved(call),
            slot,
            found.imports,
            found.module_aliases,
            found.models.consumers,
            found.local_classes,
        )
        if isinstance(slot, str) and not verdict.known and not verdict.foreign:
            verdict = Verdict(False, verdict.what, call=False)  # a keyword: a field
        if self._decorator(call):
            if self._rows(call):  # the rows of a parametrize: followed as its cells
                self.uses.append(Use(call))
                return
            verdict = Verdict(False, f"the decorator {ast.unparse(call.func)}()")
        self.uses.append(Use(call, verdict))
        self._object(call, depth + 1)

    def _class_resolved(self, call: ast.Call) -> ast.Call:
        """``self.MODEL_CLASS.from_pretrained(...)`` read as ``X.from_pretrained(...)`` when
        the test's class (or a base class of this file) sets ``MODEL_CLASS = X``: which
        library loads the id is X's."""
        func = call.func
        if not (isinstance(func, ast.Attribute) and self_attr(func.value)):
            return call
        assert isinstance(func.value, ast.Attribute)
        name = func.value.attr
        owner = self.found.enclosing_class(call)
        seen: set[str] = set()
        while owner is not None and owner.name not in seen:
            seen.add(owner.name)
            for stmt in owner.body:
                if (
                    isinstance(stmt, ast.Assign)
                    and any(isinstance(t, ast.Name) and t.id == name for t in stmt.targets)
                    and isinstance(stmt.value, (ast.Name, ast.Attribute))
                ):
                    resolved = ast.Attribute(value=stmt.value, attr=func.attr, ctx=ast.Load())
                    return ast.Call(func=resolved, args=call.args, keywords=call.keywords)
            bases = [b.id for b in owner.bases if isinstance(b, ast.Name)]
            owner = next((c for b in bases for c in self.found.classes_named.get(b, [])), None)
        return call

    def _imported_helper(self, call: ast.Call, slot: int | str) -> bool:
        """``call`` is a function imported from a module of the project: the id goes where
        that function's parameter goes in its own file (``crossfile.parameter_uses``)."""
        name = call.func.id if isinstance(call.func, ast.Name) else None
        origin = self.found.imports.get(name or "")
        if origin is None or package_of(name or "", self.found.imports, {}) in KNOWN_PACKAGES:
            return False
        ctx = self.found.ctx
        outside = parameter_uses(ctx.source.path, origin[0], origin[1], slot, self.found.models)
        if not outside:
            return False
        for use in outside:
            where = f"{name}() in {use.path}:{use.line}"
            if use.keep is not None:
                self.uses.append(Use(call, keep=f"{use.keep} ({where})"))
            elif use.internals:
                keep = f"{where} relies on GPT2 ({use.what}); swapping the model would break it"
                self.uses.append(Use(call, keep=keep))
            elif use.known is not None:
                self.uses.append(Use(call, Verdict(use.known, f"{use.what}, through {where}")))
        return True

    def _path(self, node: ast.AST, how: str) -> None:
        """The id is made part of a file path: a folder's name. In a huggingface_hub test the
        path is a repository's layout, and the repository is what the test is about."""
        if self.found.hub_client_file:
            self.uses.append(Use(node, Verdict(False, f"{how} (a file path)", call=False)))
        else:
            self.uses.append(Use(node, keep=PATH_KEEP.format(how)))

    def _helper_param(self, call: ast.Call, slot: int | str) -> tuple[Func, str] | None:
        """The function of this file ``call`` calls (``helper(...)``, ``self.helper(...)``)
        and its parameter that receives ``slot``; None when that is not one function with
        such a parameter (``*args``/``**kwargs`` are not followed)."""
        target = call.func
        if isinstance(target, ast.Name):
            name, bound = target.id, False
        elif self_attr(target):
            assert isinstance(target, ast.Attribute)
            name, bound = target.attr, True
        else:
            return None
        candidates = self.owner.named(call, name)
        if len(candidates) != 1 or self._decorator(call):
            return None
        func = candidates[0]
        if self.found.function_of(call) is func:
            return None  # recursion: nothing new to follow
        args = func.args
        positional = [*args.posonlyargs, *args.args]
        if bound or (positional and positional[0].arg in ("self", "cls")):
            positional = positional[1:]
        if isinstance(slot, int):
            if any(isinstance(a, ast.Starred) for a in call.args[: slot + 1]):
                return None
            return (func, positional[slot].arg) if slot < len(positional) else None
        names = {a.arg for a in [*positional, *args.kwonlyargs]}
        return (func, slot) if slot in names else None

    def _rows(self, decorator: ast.Call) -> bool:
        """``decorator`` gives a test rows the analysis reads, from a constant's name."""
        name = ast.unparse(decorator.func)
        if not name.endswith(("parametrize", "expand")):
            return False
        constants = self.found.row_constants(decorator)
        return any(isinstance(a, ast.Name) and a.id in constants for a in decorator.args)

    def _decorator(self, call: ast.Call) -> bool:
        parent = self.found.parent.get(id(call))
        return isinstance(parent, (*FUNCS, ast.ClassDef)) and call in parent.decorator_list

    def _store(self, target: ast.AST, depth: int, id_valued: bool) -> None:
        owner = self.owner
        key: Key | None = None
        if isinstance(target, ast.Name):
            key = (owner.store_scope(target), target.id)
        elif self_attr(target):
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
            for load in self.owner.loads(key):
                if id_valued:
                    self._value(load, depth + 1)
                else:
                    self._object(load, depth + 1)

    def _returned(self, node: ast.Return | ast.Yield, depth: int, id_valued: bool) -> None:
        func = self.found.function_of(node)
        if func is None:
            return
        keys = [("return", self.found.qualname(func))]
        if self.found.is_fixture(func):
            keys.append(("fixture", func.name))
        for key in keys:
            (self.keys if id_valued else self.objects).add(key)
            for load in self.owner.loads(key):
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
        for load in self.owner.loads(key):
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
        if self._expected(node) and not self._argument_string(expr):
            self.uses.append(Use(expr))  # assert parsed == {"model_name": "gpt2"}: data
        elif isinstance(name, str) and "/" not in name and self.found.models.target_of(name):
            self.uses.append(Use(expr, keep=f"the checkpoint of model type {name!r} in a table"))
        elif isinstance(name, str):
            known = is_model_field(name)
            self.uses.append(Use(expr, Verdict(known, f'the key "{name}"', call=False)))
        else:
            self.uses.append(Use(expr, Verdict(False, "a dict value", call=False)))

    def _expected(self, node: ast.AST) -> bool:
        """``node`` is (inside displays) an operand of a comparison: an expected value, whose
        model-named keys describe data that was parsed or returned, not a config to load."""
        parent = self.found.parent.get(id(node))
        while isinstance(parent, (ast.Dict, ast.List, ast.Tuple, ast.Set)):
            node, parent = parent, self.found.parent.get(id(parent))
        return isinstance(parent, ast.Compare)

    def _argument_string(self, expr: ast.AST) -> bool:
        """The function around ``expr`` also holds the id as a token of a command line or
        key=value string (``"pretrained=gpt2,device=cpu"``), which model-id rewrites: the value
        parsed from it must change with it."""
        value = getattr(expr, "value", None)
        func = self.found.function_of(expr)
        if not isinstance(value, str) or func is None:
            return False
        return any(
            isinstance(n, ast.Constant)
            and isinstance(n.value, str)
            and is_cli_string(n.value)
            and value in re.split(r"[\s,=]+", n.value)
            for n in self.found.walk(func)
        )

    def _compare(self, sides: list[ast.expr], expr: ast.AST) -> None:
        """``==``/``in`` and ``assertEqual``-style calls: neutral, unless the other side
        says model type."""
        for side in sides:
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
