"""Load migrated checkpoints through the Auto classes instead of the GPT2 classes.

``GPT2LMHeadModel.from_pretrained("gpt2")`` cannot load a Qwen2 or Llama checkpoint: once the id
is migrated, the class must follow. ``GPT2LMHeadModel``, ``GPT2Model``,
``GPT2ForSequenceClassification`` (and the token-classification and QA heads),
``GPT2Tokenizer``, ``GPT2TokenizerFast`` and ``GPT2Config`` ``.from_pretrained(<migrated id>)``
become the matching ``Auto*`` class. The id may be a literal or a name holding one
(``MODEL_ID``, ``self.model_id`` set in ``setUp``, a class attribute). The
``from transformers import ...`` statement is edited in place, keeping its layout and
comments: a GPT2 name whose every use was rewritten becomes the Auto name (or goes, when the
Auto name is imported already); one still used elsewhere stays, with the Auto name added
right after it. (LibCST's AddImportsVisitor would re-flow a parenthesized import.)

A GPT2 model built directly from a hand-written ``GPT2Config(...)`` is marked for review: the
config encodes GPT2's architecture, and the right replacement (``AutoConfig.from_pretrained``
of the target plus ``from_config``, or keeping GPT2 on purpose) is a human decision.
"""

from __future__ import annotations

import ast
from collections import Counter
from functools import partial

from migrator.context import RuleContext
from migrator.core import Safety
from migrator.registry import Example, declare

from . import _cst
from ._analysis import Analysis, analysis
from ._analysis.tree import walk

AUTO = {
    "GPT2LMHeadModel": "AutoModelForCausalLM",
    "GPT2Model": "AutoModel",
    "GPT2ForSequenceClassification": "AutoModelForSequenceClassification",
    "GPT2ForTokenClassification": "AutoModelForTokenClassification",
    "GPT2ForQuestionAnswering": "AutoModelForQuestionAnswering",
    "GPT2Tokenizer": "AutoTokenizer",
    "GPT2TokenizerFast": "AutoTokenizer",
    "GPT2Config": "AutoConfig",
}
MODELS = frozenset(name for name in AUTO if "Tokenizer" not in name and name != "GPT2Config")


def check(ctx: RuleContext) -> None:
    found = analysis(ctx)
    if found.subject_import or found.subject_path:
        return  # model-id reports why the file keeps GPT2
    replaced: Counter[str] = Counter()  # local name of a GPT2 class -> calls rewritten
    # A GPT2 built from a hand-written config in a file that migrates no checkpoint is the
    # file's subject (an architecture chosen on purpose), not a leftover of the GPT2 era.
    migrating = any(b.decision == "migrate" for b in found.binding_set.all)
    for node in walk(ctx.tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "from_pretrained":
            gpt2_class = _gpt2_class(found, func.value)
            if (
                gpt2_class is not None
                and _from_pretrained(ctx, found, node, func.value, gpt2_class)
                and isinstance(func.value, ast.Name)
            ):
                replaced[func.value.id] += 1
            continue
        gpt2_class = _gpt2_class(found, func)
        built_by_hand = gpt2_class in MODELS or (
            gpt2_class == "GPT2Config" and (node.args or node.keywords)
        )
        if not built_by_hand or found.internals_for(node) or _inside_construction(found, node):
            continue
        if not migrating:
            ctx.info(node, f"{gpt2_class} built by hand and no checkpoint migrates here: kept")
            continue
        ctx.review(
            node,
            f"{gpt2_class} built by hand encodes GPT2's architecture: build the target's "
            "with AutoConfig.from_pretrained(<target id>) and "
            "AutoModelForCausalLM.from_config(config), or keep GPT2 if it is the subject",
        )
    if replaced:
        _fix_imports(ctx, found, replaced)


def _fix_imports(ctx: RuleContext, found: Analysis, replaced: Counter[str]) -> None:
    """Edit ``from transformers import ...`` in place, keeping its layout: a GPT2 name whose
    every use was rewritten becomes its Auto class (or goes, when that is imported already);
    one still used elsewhere stays, with the Auto class added right after it."""
    loads = Counter(n.id for n in walk(ctx.tree) if isinstance(n, ast.Name))
    imported = {name for module, name in found.imports.values() if module == "transformers"}
    plan: dict[str, _cst.ImportPlan] = {}
    for local, count in replaced.items():
        auto = AUTO[found.imports[local][1]]
        plan[local] = (None if auto in imported else auto, loads[local] > count)
        imported.add(auto)
    for stmt in walk(ctx.tree):
        if not (
            isinstance(stmt, ast.ImportFrom) and stmt.module == "transformers" and not stmt.level
        ):
            continue
        wanted = {
            local: plan[local]
            for local in (alias.asname or alias.name for alias in stmt.names)
            if local in plan
        }
        if not wanted:
            continue

        rewrite = partial(_cst.auto_imports, wanted)
        ctx.fix(stmt, "GPT2 class imports -> Auto classes", stmt, rewrite)


def _inside_construction(found: Analysis, node: ast.Call) -> bool:
    """A ``GPT2Config(...)`` passed straight to a GPT2 model class is one finding, not two."""
    parent = found.parent.get(id(node))
    if isinstance(parent, ast.keyword):
        parent = found.parent.get(id(parent))
    return isinstance(parent, ast.Call) and _gpt2_class(found, parent.func) in MODELS


def _from_pretrained(
    ctx: RuleContext, found: Analysis, call: ast.Call, cls_expr: ast.expr, gpt2_class: str
) -> bool:
    arg = call.args[0] if call.args else None
    for keyword in call.keywords:
        if keyword.arg == "pretrained_model_name_or_path":
            arg = keyword.value
    if arg is None or found.resolve(arg) is None:
        return False
    auto = AUTO[gpt2_class]

    return ctx.fix(
        cls_expr, f"{ast.unparse(cls_expr)} -> {auto}", call, partial(_cst.auto_class, auto)
    )


def _gpt2_class(found: Analysis, expr: ast.expr) -> str | None:
    """The GPT2 class an expression names: an imported name (aliases too) or
    ``transformers.<Class>``."""
    if isinstance(expr, ast.Name) and expr.id in found.imports:
        module, name = found.imports[expr.id]
        if module.split(".")[0] == "transformers" and name in AUTO:
            return name
    if (
        isinstance(expr, ast.Attribute)
        and isinstance(expr.value, ast.Name)
        and expr.attr in AUTO
        and found.module_alias(expr.value.id) == "transformers"
    ):
        return expr.attr
    return None


RULE = declare(
    __name__,
    safety=Safety.FIX,
    check=check,
    order=30,
    examples=(
        Example(
            before=(
                "from transformers import GPT2LMHeadModel\n\n"
                'model = GPT2LMHeadModel.from_pretrained("gpt2")\n'
            ),
            after=(
                "from transformers import AutoModelForCausalLM\n\n"
                'model = AutoModelForCausalLM.from_pretrained("HuggingFaceTB/SmolLM2-135M-Instruct")\n'
            ),
        ),
    ),
)
