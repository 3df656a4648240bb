"""Objects: what rules ask about the tokenizers and models of a file, and how a fix goes.

Whether a scope uses an object loaded from a migrated id, the tokenizers it names, the target
facts behind an origin (``origins`` tells where each object comes from); ``whole_guards`` and
``may_fix`` for the rules that remove GPT2 workarounds.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property

from migrator.context import RuleContext
from migrator.models import ModelFacts

from . import analysis
from .origins import Origin, Origins
from .tree import walk


class Objects(Origins):
    """Origins of the tokenizers/models of one file; build with ``objects(ctx)``."""

    def uses_migrated(self, scope: ast.AST) -> bool:
        """Whether ``scope`` touches a tokenizer or model loaded from a migrated id, passes
        a migrated id to a call (``pipeline(model="gpt2")``, ``SFTTrainer(model="gpt2")``), or
        uses what a migrated binding built (a project's config or engine made from the id in a
        helper: ``engine = Engine(default_params())``)."""
        return id(scope) in self._touching

    @cached_property
    def _touching(self) -> set[int]:
        """The nodes with such a use inside them: one pass over the file, each use marking
        its ancestors (rules ask about every function and class, nested ones included)."""
        marked: set[int] = set()
        parent = self.found.parent
        users = [
            func
            for binding in self.found.binding_set.all
            if binding.decision == "migrate"
            for func in binding.users.values()
        ]
        points = [n for n in walk(self.found.tree) if id(n) in self._touch_points]
        for node in [*users, *points]:
            key: int | None = id(node)
            while key is not None and key not in marked:
                marked.add(key)
                above = parent.get(key)
                key = id(above) if above is not None else None
        return marked

    def touches(self, node: ast.AST) -> bool:
        """Whether ``node`` itself is a migrated tokenizer/model or passes a migrated id."""
        return id(node) in self._touch_points

    @cached_property
    def _touch_points(self) -> set[int]:
        return {id(n) for n in walk(self.found.tree) if self._touches(n)}

    def _touches(self, node: ast.AST) -> bool:
        if isinstance(node, (ast.Name, ast.Attribute, ast.Call)):
            origin = self.origin(node)
            if origin is not None and origin.migrated:
                return True
        if isinstance(node, ast.Call):
            args = [*node.args, *(k.value for k in node.keywords)]
            return any(self.found.resolve(arg) is not None for arg in args)
        return False

    def holds_migrated(self, node: ast.AST) -> bool:
        """Whether ``node`` reads a name that holds what a migrated binding loaded (its
        tokenizer through a project's builder and a fixture, a helper's return)."""
        return id(node) in self._object_loads

    @cached_property
    def _object_loads(self) -> set[int]:
        bindings = self.found.binding_set
        return {
            id(load)
            for binding in bindings.all
            if binding.decision == "migrate"
            for key in binding.objects
            for load in bindings.loads(key)
        }

    def tokenizers_in(self, scope: ast.AST) -> Iterator[tuple[ast.expr, Origin]]:
        """Expressions naming a tokenizer inside ``scope`` (each distinct text once)."""
        seen: set[str] = set()
        for node in walk(scope):
            if isinstance(node, (ast.Name, ast.Attribute)):
                text = ast.unparse(node)
                if text in seen:
                    continue
                origin = self.origin(node)
                if origin is not None and origin.kind == "tokenizer":
                    seen.add(text)
                    yield node, origin

    def targets(self, origin: Origin) -> list[ModelFacts]:
        models = self.found.models
        return [models.facts(models.target_of(s) or s) for s in sorted(origin.sources)]


def encoded_by(call: ast.Call) -> ast.expr:
    """The object a tokenizer-style call runs on: ``tok`` in ``tok(text)``,
    ``tok.encode(text)`` and ``tok.encode_plus(text)`` (else the callee itself)."""
    callee = call.func
    if isinstance(callee, ast.Attribute) and callee.attr in ("encode", "encode_plus", "__call__"):
        return callee.value
    return callee


def objects(ctx: RuleContext) -> Objects:
    result: Objects = ctx.memo("objects", lambda: Objects(analysis(ctx)))
    return result


def whole_guards(
    objs: Objects, attrs: frozenset[str], classify: Callable[[ast.stmt], Origin | None]
) -> Iterator[tuple[ast.If, list[Origin]]]:
    """``if tok.<attr> is None:`` / ``if not tok.<attr>:`` blocks (no else) whose every
    statement ``classify`` recognises: such a guard goes whole, not line by line."""
    for node in walk(objs.tree):
        if not (isinstance(node, ast.If) and not node.orelse and _tests_unset(node.test, attrs)):
            continue
        found = [classify(stmt) for stmt in node.body]
        origins = [o for o in found if o is not None]
        if origins and len(origins) == len(found):
            yield node, origins


def _tests_unset(test: ast.expr, attrs: frozenset[str]) -> bool:
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        test = test.operand
    elif (
        isinstance(test, ast.Compare)
        and len(test.ops) == 1
        and isinstance(test.ops[0], (ast.Is, ast.Eq))
        and isinstance(test.comparators[0], ast.Constant)
        and test.comparators[0].value is None
    ):
        test = test.left
    return isinstance(test, ast.Attribute) and test.attr in attrs


@dataclass(frozen=True)
class Fact:
    """A target fact a fix depends on, and how to talk about it when it is missing."""

    name: str  # attribute of ModelFacts
    label: str  # "pad token", for messages
    missing: str  # "has no pad token, ..." (info: kept)
    declare: str  # config line that declares it


def may_fix(
    ctx: RuleContext, objs: Objects, node: ast.stmt | ast.expr, origin: Origin, fact: Fact
) -> bool:
    """True when a fix that needs ``fact`` on every target of ``origin`` may go ahead;
    otherwise the reason is reported: other parametrized models (review), a target without
    the fact (info, kept), or a target whose fact is unknown (review: declare it)."""
    anchor = next(a for a in [node, *objs.found.ancestors(node)] if isinstance(a, ast.stmt))
    if origin.partial:
        ctx.review(
            node,
            "parametrized over GPT2 and other models "
            f"({', '.join(sorted(origin.others))}) that may still need this: keep it for "
            "those (guard it on the model id) or split the test",
            anchor=anchor,
        )
        return False
    facts = objs.targets(origin)
    state = fact_state(facts, fact.name)
    names = ", ".join(dict.fromkeys(f.model_id for f in facts))
    if state is False:
        ctx.info(node, f"kept: {names} {fact.missing}")
        return False
    if state is None:
        ctx.review(
            node,
            f"{fact.label} of {names} unknown: declare it in "
            f'[tool.migrate-tests.models."{facts[0].model_id}"] ({fact.declare}) and re-run',
            anchor=anchor,
        )
        return False
    return True


def fact_state(facts: list[ModelFacts], name: str) -> bool | None:
    """True when every target has the fact, False when one lacks it, None when unknown."""
    values = [getattr(f, name) for f in facts]
    if any(v is False for v in values):
        return False
    if any(v is None for v in values):
        return None
    return True
