"""The rule type, and discovery of the rule modules in ``migrator.rules``.

A rule module declares exactly one ``RULE = declare(__name__, ...)``. Its id is the module name
with ``_`` written as ``-`` and its summary is the first line of the module docstring, so
neither is ever typed twice. Discovery walks the package on demand; the engine never imports a
rule module by name.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from migrator.core import Safety

if TYPE_CHECKING:
    from migrator.context import RuleContext


class RuleError(Exception):
    """A rule module is malformed, or a rule id given by the user does not exist."""


@dataclass(frozen=True)
class Example:
    before: str
    after: str
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rule:
    id: str
    summary: str
    doc: str
    safety: Safety
    check: Callable[[RuleContext], None]
    examples: tuple[Example, ...]
    order: int = 50


def declare(
    module_name: str,
    *,
    safety: Safety,
    check: Callable[[RuleContext], None],
    examples: tuple[Example, ...],
    order: int = 50,
) -> Rule:
    """Build a rule from the calling module: id from its name, summary and doc from its docstring."""
    doc = inspect.cleandoc(sys.modules[module_name].__doc__ or "")
    if not doc:
        raise RuleError(f"rule module {module_name} has no docstring")
    return Rule(
        id=module_name.rsplit(".", 1)[-1].replace("_", "-"),
        summary=doc.splitlines()[0].rstrip("."),
        doc=doc,
        safety=safety,
        check=check,
        examples=examples,
        order=order,
    )


@cache
def all_rules() -> tuple[Rule, ...]:
    """Every rule, in run order. Fails loudly naming a module that does not declare one rule."""
    # Imported by name: static tools cannot follow the package-dir mapping of rules/.
    package = importlib.import_module("migrator.rules")
    rules: list[Rule] = []
    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        declared = [v for v in vars(module).values() if isinstance(v, Rule)]
        if len(declared) != 1 or getattr(module, "RULE", None) is not declared[0]:
            raise RuleError(
                f"rule module {module.__name__} must declare exactly one RULE = declare(...)"
            )
        rules.append(declared[0])
    return tuple(sorted(rules, key=lambda r: (r.order, r.id)))


def rule_ids() -> list[str]:
    """Every rule id, from the module names alone: validating ``--select`` imports no rule
    (and so no libcst) until a file actually needs one."""
    package = importlib.import_module("migrator.rules")
    return sorted(
        info.name.replace("_", "-")
        for info in pkgutil.iter_modules(package.__path__)
        if not info.name.startswith("_")
    )


def select_rules(select: frozenset[str] | None, ignore: frozenset[str]) -> tuple[str, ...]:
    """The ids of the rules to run; unknown ids are a ``RuleError`` naming them."""
    known = set(rule_ids())
    for option, names in (("select", select or frozenset()), ("ignore", ignore)):
        unknown = sorted(names - known)
        if unknown:
            raise RuleError(
                f"unknown rule {', '.join(map(repr, unknown))} in {option}; "
                f"known rules: {', '.join(sorted(known))}"
            )
    return tuple(
        rule for rule in sorted(known) if (select is None or rule in select) and rule not in ignore
    )
