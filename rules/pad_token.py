"""Remove pad-token workarounds on migrated tokenizers and models whose target has a pad token.

GPT2 has no pad token, so GPT2-era tests set one: ``tok.pad_token = tok.eos_token``, the
``_id`` variant, ``model.config.pad_token_id = tok.eos_token_id`` (or ``=
model.config.eos_token_id``), the same inside ``if tok.pad_token is None:`` guards, or
``tok.add_special_tokens({"pad_token": ...})`` with the ``model.resize_token_embeddings(len(tok))``
that follows. Instruct targets ship a real pad token that differs from eos; keeping the
workaround makes tests pad with eos, which production never does.

Fix when every target of the object has a pad token (from the registry or the config): the
statement goes (a guard whose body is only workarounds goes whole; an emptied block gets
``pass``; comment lines directly above a removed line go with it), and
``pad_token_id=tok.eos_token_id`` passed to ``generate``/generation kwargs becomes
``tok.pad_token_id``; a config field named for a pad token and set to GPT2's eos text
(``ModelParams(tokenizer_name="gpt2", tokenizer_pad_token="<|endoftext|>")``) goes with the
migrated id beside it in the same call. Kept and reported: a target without a pad token
(info), a target whose pad token is unknown (review: declare it), a parametrized object whose
other values still need the workaround (review). Only objects loaded from migrated ids are touched; assertions on the
error a missing pad token raises are left alone. Objects loaded from a known target (registry,
``--map`` destinations, config) count as migrated: a suite whose ids were moved by hand loses
the workarounds it no longer needs.
"""

from __future__ import annotations

import ast
from functools import partial

from migrator.context import RuleContext
from migrator.core import Safety
from migrator.registry import Example, declare

from . import _cst
from ._analysis.objects import Fact, Objects, may_fix, objects, whole_guards
from ._analysis.origins import Origin
from ._analysis.tree import walk

PAIRS = {"pad_token": "eos_token", "pad_token_id": "eos_token_id"}
GPT2_EOS = "<|endoftext|>"
PAD = Fact(
    "has_pad_token",
    "pad token",
    missing="has no pad token, the workaround is still needed",
    declare='pad_token = "..."',
)


def check(ctx: RuleContext) -> None:
    objs = objects(ctx)
    handled: set[int] = set()
    for guard, origins in whole_guards(objs, frozenset(PAIRS), lambda s: _workaround(objs, s)):
        handled.update(id(stmt) for stmt in guard.body)
        _decide(ctx, objs, guard, _merge(origins), "guarded pad-token workaround")
    for node in walk(ctx.tree):
        if isinstance(node, ast.stmt) and id(node) not in handled:
            origin = _workaround(objs, node)
            if origin is not None:
                _decide(ctx, objs, node, origin, "pad-token workaround")
            elif isinstance(node, ast.Expr):
                _add_special_tokens(ctx, objs, node)
        elif isinstance(node, ast.Call):
            _generation_kwarg(ctx, objs, node)
            _pad_keyword(ctx, objs, node)
        elif isinstance(node, ast.Dict):
            _generation_dict(ctx, objs, node)


def _workaround(objs: Objects, stmt: ast.stmt) -> Origin | None:
    """The migrated object a workaround statement is about, or None if it is not one."""
    if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1):
        return None
    target, value = stmt.targets[0], stmt.value
    if not (
        isinstance(target, ast.Attribute)
        and target.attr in PAIRS
        and isinstance(value, ast.Attribute)
        and value.attr == PAIRS[target.attr]
    ):
        return None
    # The object whose pad token is set decides: a migrated tokenizer, or the config of a
    # migrated model (``reward_model.config.pad_token_id = tok.eos_token_id`` with a non-GPT2
    # reward model is not a GPT2 workaround even when ``tok`` is migrated).
    owner = target.value
    if isinstance(owner, ast.Attribute) and owner.attr in ("config", "generation_config"):
        owner = owner.value
    origin = objs.origin(owner)
    return origin if origin is not None and origin.sources else None


def _merge(origins: list[Origin]) -> Origin:
    return Origin(
        origins[0].kind,
        frozenset().union(*(o.sources for o in origins)),
        frozenset().union(*(o.others for o in origins)),
        all(o.finished for o in origins),
    )


def _decide(ctx: RuleContext, objs: Objects, stmt: ast.stmt, origin: Origin, what: str) -> None:
    if (origin.migrated or origin.partial or origin.finished) and may_fix(
        ctx, objs, stmt, origin, PAD
    ):
        pads = ", ".join(sorted({str(f.pad_token) for f in objs.targets(origin)}))
        ctx.remove(stmt, f"{what} removed: the target has a pad token ({pads})")


def _add_special_tokens(ctx: RuleContext, objs: Objects, stmt: ast.Expr) -> None:
    call = stmt.value
    if not (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and call.func.attr == "add_special_tokens"
        and len(call.args) == 1
        and isinstance(call.args[0], ast.Dict)
        and [getattr(k, "value", None) for k in call.args[0].keys] == ["pad_token"]
    ):
        return
    tok = call.func.value
    origin = objs.origin(tok)
    if origin is None or not origin.sources or not may_fix(ctx, objs, stmt, origin, PAD):
        return
    ctx.remove(stmt, "added pad token removed: the target has its own pad token")
    resize = _following_resize(objs, stmt, ast.unparse(tok))
    if resize is not None:
        ctx.remove(resize, "embedding resize for the added pad token removed")


def _following_resize(objs: Objects, stmt: ast.stmt, tok: str) -> ast.stmt | None:
    """The ``model.resize_token_embeddings(len(tok))`` after ``stmt`` in the same block."""
    parent = objs.found.parent.get(id(stmt))
    body = getattr(parent, "body", [])
    if stmt not in body:
        return None
    for later in body[body.index(stmt) + 1 :]:
        if (
            isinstance(later, ast.Expr)
            and isinstance(later.value, ast.Call)
            and isinstance(later.value.func, ast.Attribute)
            and later.value.func.attr == "resize_token_embeddings"
            and any(
                isinstance(n, ast.Call)
                and ast.unparse(n.func) == "len"
                and n.args
                and ast.unparse(n.args[0]) == tok
                for n in walk(later.value)
            )
        ):
            return later
    return None


def _eos_of_migrated(ctx: RuleContext, objs: Objects, value: ast.expr) -> str | None:
    """Source of ``tok`` when ``value`` is ``tok.eos_token_id`` on a migrated tokenizer that
    may take the fix; else None (reasons are reported)."""
    if not (isinstance(value, ast.Attribute) and value.attr == "eos_token_id"):
        return None
    origin = objs.origin(value.value)
    if origin is None or origin.kind != "tokenizer" or not origin.sources:
        return None
    if not may_fix(ctx, objs, value, origin, PAD):
        return None
    return ctx.source.segment(value.value)


def _generation_kwarg(ctx: RuleContext, objs: Objects, call: ast.Call) -> None:
    for keyword in call.keywords:
        if keyword.arg != "pad_token_id":
            continue
        tok = _eos_of_migrated(ctx, objs, keyword.value)
        if tok is None:
            continue
        rewrite = partial(_cst.keyword_value, "pad_token_id", f"{tok}.pad_token_id")
        ctx.fix(keyword.value, f"pad_token_id=<eos> -> {tok}.pad_token_id", call, rewrite)


def _pad_keyword(ctx: RuleContext, objs: Objects, call: ast.Call) -> None:
    """The workaround as a config field: ``ModelParams(tokenizer_name="gpt2",
    tokenizer_pad_token="<|endoftext|>")`` pads with GPT2's eos; the field goes with the id
    it sits next to (the target's own pad token is used)."""
    for keyword in call.keywords:
        if not (
            keyword.arg is not None
            and keyword.arg.endswith("pad_token")
            and isinstance(keyword.value, ast.Constant)
            and keyword.value.value == GPT2_EOS
        ):
            continue
        sources = {
            source
            for other in call.keywords
            if other is not keyword and (source := objs.found.resolve(other.value)) is not None
        }
        if len(sources) != 1:
            continue
        origin = Origin("tokenizer", frozenset(sources), frozenset())
        if not may_fix(ctx, objs, keyword.value, origin, PAD):
            continue
        names = ", ".join(dict.fromkeys(f.model_id for f in objs.targets(origin)))
        ctx.fix(
            keyword.value,
            f"{keyword.arg}={GPT2_EOS!r} (GPT2's eos as pad) removed: {names} has a pad token",
            call,
            partial(_cst.drop_keyword, keyword.arg),
        )


def _generation_dict(ctx: RuleContext, objs: Objects, node: ast.Dict) -> None:
    for key, value in zip(node.keys, node.values, strict=True):
        if not (isinstance(key, ast.Constant) and key.value == "pad_token_id"):
            continue
        tok = _eos_of_migrated(ctx, objs, value)
        if tok is None:
            continue
        rewrite = partial(_cst.dict_value, "pad_token_id", f"{tok}.pad_token_id")
        ctx.fix(value, f'"pad_token_id": <eos> -> {tok}.pad_token_id', node, rewrite)


RULE = declare(
    __name__,
    safety=Safety.FIX,
    check=check,
    order=40,
    examples=(
        Example(
            before=(
                "from transformers import AutoTokenizer\n\n"
                'tokenizer = AutoTokenizer.from_pretrained("gpt2")\n'
                "tokenizer.pad_token = tokenizer.eos_token\n"
            ),
            after=(
                "from transformers import AutoTokenizer\n\n"
                'tokenizer = AutoTokenizer.from_pretrained("HuggingFaceTB/SmolLM2-135M-Instruct")\n'
            ),
        ),
    ),
)
