"""Replace GPT2 checkpoint ids with the target instruct model's id.

GPT2 has no chat template and no pad token, so a suite that still loads ``"gpt2"`` does not test
what production runs. Every string literal whose whole value is a GPT2 checkpoint id becomes
the target id (``real`` checkpoints -> ``HuggingFaceTB/SmolLM2-135M-Instruct``, tiny random
ones -> ``trl-internal-testing/tiny-Qwen2ForCausalLM-2.5``, or ``--target``), wherever it sits.
Inside command lines and key=value argument strings the id is replaced only as a whole token,
including in the literal parts of f-strings (``f"--model_name_or_path gpt2 --output_dir {d}"``).

Left alone and reported as info: ids in comments and docstrings; ids inside a collection that
enumerates several architectures (coverage); files and tests whose subject is GPT2 itself
(imports from ``transformers.models.gpt2``, a ``models/gpt2/`` path, GPT2 internals such as
``c_attn`` or ``Conv1D``); the base of a GPT2-derived artefact (an adapter trained on GPT2);
``"gpt2" in model_id`` substring tests; and branch labels (``model-labels`` handles those).
Also reported as info: parametrize rows that become identical because two GPT2 ids map to
the same target (``["gpt2", "distilgpt2"]``): the test would run the same case twice.
"""

from __future__ import annotations

import ast
import re
from functools import cache, partial

from migrator.context import RuleContext, Where
from migrator.core import Safety
from migrator.registry import Example, declare

from . import _cst
from ._helpers import analysis, is_cli_string, parametrize_rows, token_pattern, walk


def check(ctx: RuleContext) -> None:
    found = analysis(ctx)
    pattern = _pattern(tuple(ctx.models.targets))
    migrated: dict[int, str] = {}  # id of a literal replaced whole -> its new value
    for node, value in found.strings:
        if id(node) in found.docstrings:
            if _mention(ctx, value):
                ctx.info(node, "GPT2 id mentioned in a docstring: update the prose by hand")
            continue
        if found.in_fstring(node):
            continue
        target = ctx.models.target_of(value)
        if target is not None:
            reason = found.leave_reason(node)
            if reason is not None:
                ctx.info(node, f"{value!r} left as is: {reason.reason}")
                continue
            if _whole(ctx, node, target, f"{value!r} -> {target!r}"):
                ctx.record_migration(value, target)
                migrated[id(node)] = target
        elif is_cli_string(value) and pattern.search(value):
            _tokens(ctx, node, value, pattern)
    if migrated:
        _collapsed_rows(ctx, migrated)
    for fstring in found.fstrings:
        if found.in_fstring(fstring):
            continue
        text = "{}".join(
            part.value
            for part in fstring.values
            if isinstance(part, ast.Constant) and isinstance(part.value, str)
        )
        literal_only = all(isinstance(part, ast.Constant) for part in fstring.values)
        target = ctx.models.target_of(text) if literal_only else None
        if target is not None:
            reason = found.leave_reason(fstring)
            if reason is not None:
                ctx.info(fstring, f"{text!r} left as is: {reason.reason}")
            elif _whole(ctx, fstring, target, f"{text!r} -> {target!r}"):
                ctx.record_migration(text, target)
        elif is_cli_string(text) and pattern.search(text):
            _tokens(ctx, fstring, text, pattern)
    if _COMMENT.search(ctx.source.text):
        for line, col, text in ctx.source.comments:
            if _mention(ctx, text):
                before = len(ctx.source.lines[line - 1][:col].encode("utf-8"))
                where = Where(line, before, line, before + len(text.encode("utf-8")))
                ctx.info(where, "GPT2 id mentioned in a comment: update the prose by hand")


def _collapsed_rows(ctx: RuleContext, migrated: dict[int, str]) -> None:
    """Two parametrize rows that differed only by GPT2 ids mapped to the same target
    (``["gpt2", "distilgpt2"]``) now run the same case twice: say so (info), keep both."""
    for func in walk(ctx.tree):
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        seen: dict[tuple[tuple[str, ...], str], ast.expr] = {}
        for names, row, cells in parametrize_rows(func):
            if isinstance(row, ast.Call):  # pytest.param(..., id=...): may be told apart
                continue
            key = _row_key(cells, migrated)
            first = seen.setdefault((tuple(names), key), row)
            if first is not row and any(id(cell) in migrated for cell in cells):
                ctx.info(
                    row,
                    f"{ast.unparse(row)} and {ast.unparse(first)} both become {key}: the test "
                    "now runs the same case twice; drop one row",
                )


def _row_key(cells: list[ast.expr], migrated: dict[int, str]) -> str:
    """A row as it reads after the migration."""
    parts = [repr(migrated[id(c)]) if id(c) in migrated else ast.unparse(c) for c in cells]
    return parts[0] if len(parts) == 1 else f"({', '.join(parts)})"


def _whole(ctx: RuleContext, node: ast.expr, target: str, message: str) -> bool:
    """Replace a literal whose whole value is a source id: a plain string keeps its prefix and
    quotes; an implicit concatenation that spells the id becomes one literal in its place;
    a placeholder-free f-string keeps its ``f``."""
    return ctx.fix(node, message, node, partial(_cst.whole_string, target))


def _tokens(
    ctx: RuleContext, node: ast.Constant | ast.JoinedStr, value: str, pattern: re.Pattern[str]
) -> None:
    kind = "command line" if re.search(r"(^|\s)-", value) else "key=value argument string"
    reason = analysis(ctx).leave_reason(node)
    if reason is not None:
        ctx.info(node, f"GPT2 id in a {kind} left as is: {reason.reason}")
        return
    sources = sorted({m.group(1) for m in pattern.finditer(value)})
    targets = {s: ctx.models.target_of(s) or s for s in sources}

    changes = ", ".join(f"{s!r} -> {targets[s]!r}" for s in sources)
    # The finding covers the replaced tokens, not the whole string: later tools act on it.
    spots = list(pattern.finditer(ctx.source.segment(node)))
    where = Where.inside(ctx.source, node, spots[0].start(), spots[-1].end()) if spots else node
    rewrite = partial(_cst.sub_tokens, pattern, targets)
    if ctx.fix(where, f"in a {kind}: {changes}", node, rewrite):
        for source_id in sources:
            ctx.record_migration(source_id, targets[source_id])


_COMMENT = re.compile(r"#[^\n]*gpt2", re.IGNORECASE)


@cache
def _pattern(ids: tuple[str, ...]) -> re.Pattern[str]:
    return token_pattern(list(ids))


@cache
def _mention_pattern(ids: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(i) for i in sorted(ids, key=len, reverse=True))
    return re.compile(rf"(?<![\w/.-])({alternatives})(?![\w/-])")


def _mention(ctx: RuleContext, text: str) -> bool:
    return bool(_mention_pattern(tuple(ctx.models.targets)).search(text))


RULE = declare(
    __name__,
    safety=Safety.FIX,
    check=check,
    order=20,
    examples=(
        Example(
            before='model = AutoModelForCausalLM.from_pretrained("gpt2")\n',
            after='model = AutoModelForCausalLM.from_pretrained("HuggingFaceTB/SmolLM2-135M-Instruct")\n',
        ),
        Example(
            before='cmd = "trl sft --model_name_or_path hf-internal-testing/tiny-random-gpt2 --max_steps 1"\n',
            after='cmd = "trl sft --model_name_or_path trl-internal-testing/tiny-Qwen2ForCausalLM-2.5 --max_steps 1"\n',
        ),
    ),
)
