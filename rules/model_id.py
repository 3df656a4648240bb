"""Replace GPT2 checkpoint ids with the target instruct model's id.

GPT2 has no chat template and no pad token, so a suite that still loads ``"gpt2"`` does not test
what production runs. A string literal whose whole value is a GPT2 checkpoint id becomes the
target id (``real`` checkpoints -> ``HuggingFaceTB/SmolLM2-135M-Instruct``, tiny random ones ->
``trl-internal-testing/tiny-Qwen2ForCausalLM-2.5``, or ``--target``) when its *binding* migrates:
the id, every object loaded from it and everywhere those flow (names, ``self.`` attributes,
helpers, fixtures, parametrize values, rows given by a constant's name such as
``@pytest.mark.parametrize("model_id", MODEL_IDS)`` or ``@parameterized.expand(ARCHS)``)
get one decision, from all of its evidence; the same id written again in a function that
takes those objects (``assert model.config._name_or_path == "gpt2"`` on a fixture's model)
shares it.

Migrate: the id reaches only consumers known to take a hub id (transformers/trl/peft
``from_pretrained``, ``pipeline``, trainer ``model=``, fields and flags named for a model or
tokenizer such as ``model_name_or_path=`` or ``--model_name_or_path``). Inside command lines
and key=value strings the id is replaced only as a whole token after such an option, including
in the literal parts of f-strings.

Layout: a long target id can push a line past the project's line length (ruff's
``line-length`` in the nearest ``ruff.toml``/``.ruff.toml``/``pyproject.toml``, else black's;
default 88). Such a line, if it was within the limit before, is laid out as maintainers do:
when the same id is passed as a plain string argument two or more times in one function that
never uses the name ``model_id``, a ``model_id = "<target>"`` line opens the function body
(after its docstring and opening comments) and those arguments become ``model_id``;
otherwise the one-line call or display (list, dict, a tuple assigned in parentheses) that
ends the line is split black style: a call's arguments on their own line if that fits, else
one per line with a trailing comma; a display's elements one per line; an element still too
long split the same way one level deeper. Otherwise the line stays long. Nothing is hoisted at
module level, in class bodies, lambdas or decorators, nor out of f-strings or command lines.

Keep (info): GPT2 itself is needed somewhere in the binding (internals such as ``c_attn``,
``transformer.h`` or ``n_embd`` in any function that uses it, code paths written per
architecture such as DeepSpeed's ``replace_with_kernel_inject=True``, a tokenizer only
called to compute what a mock returns, ``service.tokenize = MagicMock(return_value=...)``,
standing in for another system's GPT-2 tokenization, a GPT2 class named in a
string there such as ``"GPT2LMHeadModel"`` as a registry key or in an expected warning,
GPT2's hidden size 768 given as a width such as ``d_model``/``d_in``/``hidden_size`` or
its vocabulary size 50257 as a dimension, a file importing ``transformers.models.gpt2``),
GPT2 is the named subject (a test function or class whose name starts with it or names a
piece of it, ``test_gpt2_eos``/``TestHFGPT2Tokenizer``, but not a name that only says which
model the test runs, ``test_gpt2``/``test_build_gpt2_success``: that one migrates; a file
named for it or under a ``gpt2/`` folder), the test is the GPT2 case of a series of tests by
model (``test_count_tokens_gpt2`` beside ``test_count_tokens_opt`` loading an OPT), the id
enumerates architectures (coverage, in a flat list or the same column of
parametrize rows written as tuples or as lists), it sits in a table row with expected numbers
measured on it (``(ExportedCausalLM, "tiny-random-gpt2", 22)``) that nothing the tool
follows loads, it is the base of a GPT2-derived artefact (loaded onto the base's model or
compared with it in the same test, followed statement by statement; or tied to one by a
comment such as ``# must match the model the probe was trained on``; an artefact only loaded
beside the base, each checked on its own, is no pair), it is a
name rather than a checkpoint (a model type, such as a bare name given to a transformers
function that is not a loader, a table key, the attribute name
of ``getattr``/``setattr``, a pytest ``ids=`` label, a template name, part of a file path
(``os.path.join(assets, "gpt2")``, ``tmp_path / "gpt2"``, ``Path``, ``joinpath``: a folder's
name, also through a helper's parameter); such a
name is decided on its own, never together with a checkpoint of the same spelling in that
test), a repository name in a huggingface_hub test, a substring test,
or a branch label (``model-labels``). Ids in comments and docstrings are reported too.

A parametrize value given as a tuple to one parameter that the test unpacks first
(``model, task = model_w_task``) is followed to each name. A function imported from the
project's own modules is followed into its file, as a
helper of the same file is (its parameter reaching ``from_pretrained`` migrates the id).
``self.MODEL_CLASS.from_pretrained(...)`` is judged as the class the test class (or a base
class in the file) sets ``MODEL_CLASS`` to: an optimum or other library's class is review.

Legacy base test models (pythia, OPT, BLOOM, tiny random Llama/Mistral) are reported with
the target their tier would get, and migrate like GPT2 ids under ``--include legacy``;
encoder-decoders and vision-language test models are only reported.

GPT2-family ids the registry does not list are recognised by their shape and reported (info,
with their tier and the ``--map`` that migrates them), never rewritten on their own: an org
and a name that is gpt2 with a size or a tiny/random/mini marker (``erwanf/gpt2-mini``,
``org/tiny-random-gpt2``, ``someone/gpt2-medium``), or ``"GPT2"`` given to ``from_pretrained``.
Never: composites (``vit-gpt2``, ``bert2gpt2``), exports and other formats (onnx, openvino,
gguf, quantized), adapters, SAEs, tokenizers and pre-tokenized data built on GPT2, hardware
configuration repos (``Habana/gpt2``), and other registries' own names (``openai/gpt2``).

Review: the id reaches a loader not known to take a hub id (a project's own wrapper the tool
cannot read, an interpretability library's registry; declare more with ``consumers`` in the config), an
option not named for a model, or a string of Python code. Also reported as info: parametrize
rows that become identical because two GPT2 ids map to the same target.
"""

from __future__ import annotations

import ast
import re
from functools import cache, partial

from migrator.context import RuleContext, Where
from migrator.core import Safety
from migrator.models import is_model_field, legacy_message, shape_message
from migrator.registry import Example, declare

from . import _cst
from ._analysis import analysis
from ._analysis.shapes import is_cli_string, is_code_string, token_pattern
from ._analysis.tree import walk
from ._layout import lay_out, replace_whole


def check(ctx: RuleContext) -> None:
    found = analysis(ctx)
    pattern = _pattern(tuple(ctx.models.targets))
    wholes: list[tuple[ast.Constant, str, str]] = []  # literals replaced whole, laid out last
    rewritten: list[tuple[ast.expr, str]] = []  # other rewritten strings, with their new source
    for node, value in found.strings:
        if id(node) in found.docstrings:
            if _mention(ctx, value):
                ctx.info(node, "GPT2 id mentioned in a docstring: update the prose by hand")
            continue
        if found.in_fstring(node):
            continue
        target = ctx.models.target_of(value)
        if target is not None:
            if _decided(ctx, node, value):
                wholes.append((node, value, target))
        elif legacy := ctx.models.legacy(value):
            ctx.info(node, legacy_message(value, *legacy))
        elif (shaped := ctx.models.by_shape(value)) and (
            "/" in value or _given_to_from_pretrained(found.parent, node)
        ):  # a bare "GPT2" is also a label or a class's name: only a loader's argument counts
            ctx.info(node, shape_message(value, *shaped))
        elif is_code_string(value) and pattern.search(value):
            _in_code(ctx, node, pattern)
        elif is_cli_string(value) and pattern.search(value):
            _tokens(ctx, node, value, pattern, rewritten)
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
            if _decided(ctx, fstring, text) and replace_whole(
                ctx, fstring, target, f"{text!r} -> {target!r}", text
            ):
                ctx.record_migration(text, target)
                rewritten.append(
                    (fstring, _cst.string_literal(ctx.source.segment(fstring), target))
                )
        elif is_cli_string(text) and pattern.search(text):
            _tokens(ctx, fstring, text, pattern, rewritten)
    migrated = lay_out(ctx, wholes, rewritten)
    if migrated:
        _collapsed_rows(ctx, migrated)
    if _COMMENT.search(ctx.source.text):
        for line, col, text in ctx.source.comments:
            if _mention(ctx, text):
                before = len(ctx.source.lines[line - 1][:col].encode("utf-8"))
                where = Where(line, before, line, before + len(text.encode("utf-8")))
                ctx.info(where, "GPT2 id mentioned in a comment: update the prose by hand")


def _given_to_from_pretrained(parent: dict[int, ast.AST], node: ast.expr) -> bool:
    call = parent.get(id(node))
    return (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and call.func.attr == "from_pretrained"
        and node in call.args
    )


def _decided(ctx: RuleContext, node: ast.expr, value: str) -> bool:
    """True when the literal's binding migrates; otherwise say why it stays (info: kept,
    review: a human must decide)."""
    found = analysis(ctx)
    reason = found.leave_reason(node)
    if reason is not None:
        ctx.info(node, f"{value!r} left as is: {reason.reason}", source_id=value)
        return False
    review = found.review_reason(node)
    if review is not None:
        ctx.review(
            node,
            f"{value!r} not migrated: {review}",
            anchor=found.statement_of(node),
            source_id=value,
        )
        return False
    return True


def _in_code(ctx: RuleContext, node: ast.Constant, pattern: re.Pattern[str]) -> None:
    """An id inside a string of Python code (a snippet run later, a doc example): what the
    code does with it is not visible to the analysis."""
    found = analysis(ctx)
    reason = found.literal_leave(node)
    found_ids = sorted({m.group(1) for m in pattern.finditer(str(node.value))})
    if reason is not None:
        ctx.info(
            node,
            f"GPT2 id in a string of code left as is: {reason.reason}",
            source_id=found_ids[0],
        )
        return
    ctx.review(
        node,
        f"GPT2 id {', '.join(found_ids)} inside a string of Python code: the tool cannot see "
        "what that code loads it with; migrate it by hand",
        anchor=found.statement_of(node),
        source_id=found_ids[0],
    )


def _collapsed_rows(ctx: RuleContext, migrated: dict[int, str]) -> None:
    """Two parametrize rows that differed only by GPT2 ids mapped to the same target
    (``["gpt2", "distilgpt2"]``) now run the same case twice: say so (info), keep both."""
    found = analysis(ctx)
    told: set[int] = set()  # rows of a constant several tests share: said once
    for func in walk(ctx.tree):
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        seen: dict[tuple[tuple[str, ...], str], ast.expr] = {}
        for names, row, cells in found.rows_of(func):
            if isinstance(row, ast.Call):  # pytest.param(..., id=...): may be told apart
                continue
            key = _row_key(cells, migrated)
            first = seen.setdefault((tuple(names), key), row)
            if first is not row and id(row) not in told and any(id(c) in migrated for c in cells):
                told.add(id(row))
                ctx.info(
                    row,
                    f"{ast.unparse(row)} and {ast.unparse(first)} both become {key}: the test "
                    "now runs the same case twice; drop one row",
                )


def _row_key(cells: list[ast.expr], migrated: dict[int, str]) -> str:
    """A row as it reads after the migration."""
    parts = [repr(migrated[id(c)]) if id(c) in migrated else ast.unparse(c) for c in cells]
    return parts[0] if len(parts) == 1 else f"({', '.join(parts)})"


def _tokens(
    ctx: RuleContext,
    node: ast.Constant | ast.JoinedStr,
    value: str,
    pattern: re.Pattern[str],
    rewritten: list[tuple[ast.expr, str]],
) -> None:
    kind = "command line" if re.search(r"(^|\s)-", value) else "key=value argument string"
    reason = analysis(ctx).leave_reason(node)
    first = min((m.group(1) for m in pattern.finditer(value)), key=value.find)
    if reason is not None:
        ctx.info(node, f"GPT2 id in a {kind} left as is: {reason.reason}", source_id=first)
        return
    flags = {_flag_before(value[: m.start()]) for m in pattern.finditer(value)}
    unknown = sorted(f for f in flags if not is_model_field(f))
    if unknown:
        ctx.review(
            node,
            f"GPT2 id after {unknown[0]!r} in a {kind}: not an option known to take a model; "
            "migrate it by hand",
            anchor=analysis(ctx).statement_of(node),
            source_id=first,
        )
        return
    sources = sorted({m.group(1) for m in pattern.finditer(value)})
    targets = {s: ctx.models.target_of(s) or s for s in sources}

    changes = ", ".join(f"{s!r} -> {targets[s]!r}" for s in sources)
    # The finding covers the replaced tokens, not the whole string: later tools act on it.
    spots = list(pattern.finditer(ctx.source.segment(node)))
    where = Where.inside(ctx.source, node, spots[0].start(), spots[-1].end()) if spots else node
    rewrite = partial(_cst.sub_tokens, pattern, targets)
    if ctx.fix(where, f"in a {kind}: {changes}", node, rewrite, source_id=first):
        for source_id in sources:
            ctx.record_migration(source_id, targets[source_id])
        segment = ctx.source.segment(node)
        rewritten.append((node, pattern.sub(lambda m: targets[m.group(1)], segment)))


def _flag_before(text: str) -> str:
    """The option (``--model_name_or_path``) or key (``pretrained=``) a token follows."""
    match = re.search(r"(--?[\w.-]+|[\w.-]+(?==))[\s=]*['\"]?$", text)
    return match.group(1) if match else "(a positional argument)"


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


# -- layout: a long target id must not leave lines longer than the project allows ----------

RULE = declare(
    __name__,
    safety=Safety.FIX,
    check=check,
    order=20,
    examples=(
        Example(
            before=(
                "from transformers import AutoModelForCausalLM\n\n"
                'model = AutoModelForCausalLM.from_pretrained("gpt2")\n'
            ),
            after=(
                "from transformers import AutoModelForCausalLM\n\n"
                'model = AutoModelForCausalLM.from_pretrained("HuggingFaceTB/SmolLM2-135M-Instruct")\n'
            ),
        ),
        Example(
            before='cmd = "trl sft --model_name_or_path hf-internal-testing/tiny-random-gpt2 --max_steps 1"\n',
            after='cmd = "trl sft --model_name_or_path trl-internal-testing/tiny-Qwen2ForCausalLM-2.5 --max_steps 1"\n',
        ),
    ),
)
