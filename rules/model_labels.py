"""Rename "gpt2" branch labels to the target's family label, in the rows and the comparisons.

Many bare ``"gpt2"`` strings in trainer suites are not model ids but labels that pick a branch:
parametrize rows such as ``("gpt2", "sigmoid", True)`` next to ``("t5", "hinge", False)``, with
``if name == "gpt2": model = self.model`` in the body. Once the model behind the branch is an
instruct model, the label should say so; and a rewrite that changed the rows but not the
comparison (or the reverse) would silently send every case down the other branch.

Decision table (made once per file by the shared analysis, before any rule rewrites):

| the parameter is...                                  | rows and comparisons become      |
| ---------------------------------------------------- | -------------------------------- |
| compared with literals, never passed to a call       | the target's family label (here) |
| passed to a call (``from_pretrained(name)``...)      | the target id (``model-id``)     |
| compared, target's label unknown                     | unchanged, review: declare label |
| compared, the family label is already another value  | unchanged, review (would merge)  |

The family label comes from the target facts (``smollm``, ``qwen``, ``llama``); when the file
migrates ids to exactly one target, that target's label is used, otherwise the label's own
mapping. Identifiers that still say gpt2 (``self.gpt2_model``, ``test_gpt2_...``) are reported
as info: renaming them is optional and left to a human.
"""

from __future__ import annotations

import ast
import re
from functools import partial

from migrator.context import RuleContext
from migrator.core import Safety
from migrator.registry import Example, declare

from . import _cst
from ._analysis import Analysis, analysis
from ._analysis.labels import LabelGroup
from ._analysis.tree import walk

IDENTIFIER = re.compile(r"gpt2", re.IGNORECASE)


def check(ctx: RuleContext) -> None:
    found = analysis(ctx)
    for group in found.label_groups:
        _rename(ctx, found, group)
    _identifiers(ctx, found)


def _target(ctx: RuleContext, found: Analysis, value: str) -> str:
    # Target ids already in the file count as well: a second run (or a run after
    # ``--select model-id``) must pick the same label as the first.
    known_targets = set(ctx.models.targets.values())
    used = {
        ctx.models.target_of(v)
        for node, v in found.strings
        if ctx.models.target_of(v) is not None and found.migrated_id(node) is not None
    } | {v for _node, v in found.strings if v in known_targets}
    if len(used) == 1:
        return str(next(iter(used)))
    return ctx.models.target_of(value) or value


def _selected_model_stays(found: Analysis, group: LabelGroup) -> str | None:
    """Why the model this label selects is not migrated: a binding used by the test (or set
    up by its class) that is kept or left for review. A label migrates only with its model."""
    cls = found.enclosing_class(group.func)
    for binding in found.binding_set.all:
        if binding.decision == "migrate":
            continue
        if id(group.func) in binding.users or (
            cls is not None and any(found.enclosing_class(n) is cls for n in binding.literals)
        ):
            return (
                f"{binding.source!r} (line {binding.first_line}) is not migrated: {binding.reason}"
            )
    return None


def _rename(ctx: RuleContext, found: Analysis, group: LabelGroup) -> None:
    first = group.nodes[0]
    stays = _selected_model_stays(found, group)
    if stays is not None:
        ctx.info(
            first,
            f"label {first.value!r} of parameter {group.param!r} kept: the model it selects, {stays}",
            source_id=str(first.value),
        )
        return
    targets = {_target(ctx, found, str(node.value)) for node in group.nodes}
    labels = {ctx.models.facts(t).label for t in targets}
    if None in labels or len(labels) != 1:
        ctx.review(
            first,
            f"label {first.value!r} of parameter {group.param!r}: the family label of "
            f"{', '.join(sorted(targets))} is unknown; declare it "
            f'([tool.migrate-tests.models."{sorted(targets)[0]}"] label = "...") and re-run',
            anchor=_statement(found, first),
        )
        return
    label = str(labels.pop())
    sources = list(dict.fromkeys(str(node.value) for node in group.nodes))
    if len(sources) > 1:
        ctx.review(
            first,
            f"labels {', '.join(map(repr, sources))} of parameter {group.param!r} would all "
            f"become {label!r}: the branches would merge; rename by hand",
            anchor=_statement(found, first),
        )
        return
    if label in group.values:
        ctx.review(
            first,
            f"label {first.value!r} of parameter {group.param!r} would become {label!r}, "
            "which the parameter already takes: the branches would merge; rename by hand",
            anchor=_statement(found, first),
        )
        return

    for node in group.nodes:
        message = f"label {node.value!r} -> {label!r} (rows and comparisons of {group.param!r})"
        ctx.fix(node, message, node, partial(_cst.set_string, label), source_id=str(node.value))


def _statement(found: Analysis, node: ast.AST) -> ast.AST:
    """The enclosing statement (or the decorated function) of a label, for its marker."""
    for ancestor in found.ancestors(node):
        if isinstance(ancestor, ast.stmt):
            return ancestor
    return node


def _identifiers(ctx: RuleContext, found: Analysis) -> None:
    if not found.strings and not IDENTIFIER.search(ctx.source.text):
        return
    seen: set[str] = set()
    for node in walk(ctx.tree):
        where: ast.expr | _Def
        if isinstance(node, ast.Attribute) and IDENTIFIER.search(node.attr):
            name, where = ast.unparse(node), node
        elif isinstance(node, ast.Name) and IDENTIFIER.search(node.id):
            name, where = node.id, node
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and IDENTIFIER.search(
            node.name
        ):
            name, where = node.name, _Def(node)
        else:
            continue
        last = name.split(".")[-1]
        # GPT2 classes and imported names are auto-classes' business.
        if name in seen or last in found.imports or last.startswith("GPT2"):
            continue
        seen.add(name)
        ctx.info(where, f"identifier {name!r} still says gpt2; renaming it is optional")


class _Def:
    """The position of a ``def`` line, for a finding about the function's name."""

    def __init__(self, node: ast.stmt) -> None:
        self.lineno = self.end_lineno = node.lineno
        self.col_offset = node.col_offset
        self.end_col_offset = node.col_offset


RULE = declare(
    __name__,
    safety=Safety.FIX,
    check=check,
    order=10,
    examples=(
        Example(
            before=(
                "import pytest\n\n\n"
                '@pytest.mark.parametrize("name", ["gpt2", "t5"])\n'
                "def test_loss(name, models):\n"
                '    model = models.causal if name == "gpt2" else models.seq2seq\n'
            ),
            after=(
                "import pytest\n\n\n"
                '@pytest.mark.parametrize("name", ["smollm", "t5"])\n'
                "def test_loss(name, models):\n"
                '    model = models.causal if name == "smollm" else models.seq2seq\n'
            ),
        ),
    ),
)
