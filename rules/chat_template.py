"""Remove hand-written chat templates from migrated tokenizers whose target ships one.

GPT2 has no chat template, so GPT2-era chat tests bolt one on (``tok.chat_template = "..."``
or a shared template constant). Instruct targets ship the template they were trained with;
a test that overrides it no longer tests what production renders.

Fix when every target of the tokenizer ships a chat template: the assignment goes (also inside
an ``if tok.chat_template is None:`` guard, which goes whole when that is all it does), and
the import of the template constant is removed when nothing else uses it. Kept and reported: a
target without a template (info), a target whose template is unknown (review: declare it), a
parametrized tokenizer whose other models still need it (review). Templates set on tokenizers
of other models are not touched; tokenizers of known targets (registry, ``--map``
destinations, config) count as migrated. When a template is removed, assertions comparing what
``apply_chat_template`` renders on that tokenizer with a string literal are marked for review:
the text is the target's template now. Also review, once per file: chat messages (dicts with
``"role"`` and ``"content"``) rendered by code outside transformers/trl/peft with a tokenizer
migrated from GPT2 (``conversation.to_text(tokenizer)``). GPT2 had no template, so that code
used a fallback of its own; the target's template renders other text, and the file's
assertions on rendered text or round trips must be checked by running them.
"""

from __future__ import annotations

import ast

from migrator.context import RuleContext
from migrator.core import Safety
from migrator.registry import Example, declare

from ._analysis import Analysis
from ._analysis.consumers import HF_PACKAGES, package_of
from ._analysis.objects import Fact, Objects, may_fix, objects, whole_guards
from ._analysis.origins import Origin
from ._analysis.tree import walk

TEMPLATE = Fact(
    "chat_template",
    "chat template",
    missing="ships no chat template, the hand-written one is still needed",
    declare="chat_template = true",
)


def check(ctx: RuleContext) -> None:
    objs = objects(ctx)
    handled: set[int] = set()
    attrs = frozenset({"chat_template"})
    for guard, origins in whole_guards(objs, attrs, lambda s: _assignment(objs, s)):
        handled.update(id(stmt) for stmt in guard.body)
        _decide(ctx, objs, guard, origins[0], guard.body)
    for node in walk(ctx.tree):
        if isinstance(node, ast.Assign) and id(node) not in handled:
            origin = _assignment(objs, node)
            if origin is not None:
                _decide(ctx, objs, node, origin, [node])
    text = ctx.source.text
    if "role" in text and "content" in text and ".chat_template =" not in text:
        _rendered_elsewhere(ctx, objs)


def _rendered_elsewhere(ctx: RuleContext, objs: Objects) -> None:
    """Chats rendered by code outside transformers (a library's ``to_text(tokenizer)``) on a
    tokenizer migrated from GPT2: GPT2 had no template, so that code fell back to its own; the
    target's template renders other text (a default system turn, other markers), and what the
    test asserts about the text or its round trip may change (review, once per file)."""
    found = objs.found
    chats = _chat_constants(objs)
    calls: list[tuple[ast.Call, Origin]] = []
    for func in walk(ctx.tree):
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        body = walk(func)
        if not any(_chat(n) or (isinstance(n, ast.Name) and n.id in chats) for n in body):
            continue
        for call in body:
            if not isinstance(call, ast.Call) or found.function_of(call) is not func:
                continue
            origin = next(
                (
                    o
                    for arg in [*call.args, *(k.value for k in call.keywords)]
                    if (o := objs.origin(arg)) is not None
                    and o.migrated
                    and o.kind in ("tokenizer", "processor")
                    and not _receiver_is(call, arg)
                ),
                None,
            )
            if origin is not None and not _hf_callee(found, call):
                calls.append((call, origin))
                break
    if not calls:
        return
    first, origin = calls[0]
    names = ", ".join(dict.fromkeys(f.model_id for f in objs.targets(origin)))
    others = len(calls) - 1
    more = f" (and in {others} more test{'s' if others > 1 else ''} here)" if others else ""
    ctx.review(
        first,
        f"{ast.unparse(first.func)}() renders chats with a tokenizer migrated from GPT2{more}: "
        f"GPT2 had no chat template, so it used a fallback; {names} ships its own, which "
        "renders other text: check what these tests assert about rendered text and round "
        "trips, and run them",
        anchor=found.statement_of(first),
    )


CHAT_KEYS = frozenset({"role", "content"})


def _chat(node: ast.AST) -> bool:
    """A chat message: a dict with "role" and "content" keys."""
    if not isinstance(node, ast.Dict):
        return False
    keys = {k.value for k in node.keys if isinstance(k, ast.Constant)}
    return keys >= CHAT_KEYS


def _chat_constants(objs: Objects) -> set[str]:
    """Module-level names whose value holds chat messages."""
    out: set[str] = set()
    for stmt in objs.tree.body:
        if isinstance(stmt, ast.Assign):
            value, targets = stmt.value, stmt.targets
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            value, targets = stmt.value, [stmt.target]
        else:
            continue
        if any(_chat(n) for n in walk(value)):
            out.update(t.id for t in targets if isinstance(t, ast.Name))
    return out


def _receiver_is(call: ast.Call, arg: ast.expr) -> bool:
    return isinstance(call.func, ast.Attribute) and ast.unparse(call.func.value) == ast.unparse(arg)


def _hf_callee(found: Analysis, call: ast.Call) -> bool:
    """The callee comes from transformers/trl/peft (a trainer, a collator): not a renderer
    of its own."""
    root = call.func
    while isinstance(root, ast.Attribute):
        root = root.value
    if not isinstance(root, ast.Name):
        return False
    return package_of(root.id, found.imports, found.module_aliases) in HF_PACKAGES


def _assignment(objs: Objects, stmt: ast.stmt) -> Origin | None:
    """The migrated tokenizer (or processor) a ``x.chat_template = ...`` statement sets."""
    if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1):
        return None
    target = stmt.targets[0]
    if not (isinstance(target, ast.Attribute) and target.attr == "chat_template"):
        return None
    if not _hand_written(objs, stmt.value):
        return None
    origin = objs.origin(target.value)
    if origin is None or not origin.sources or origin.kind not in ("tokenizer", "processor"):
        return None
    return origin


def _hand_written(objs: Objects, value: ast.expr) -> bool:
    """A template written in the test suite: a string (f-string, concatenation) or a constant
    holding one. ``None``, another tokenizer's template or a computed one are not."""
    if isinstance(value, ast.Constant):
        return isinstance(value.value, str)
    if isinstance(value, ast.JoinedStr):
        return True
    if isinstance(value, ast.BinOp) and isinstance(value.op, ast.Add):
        return _hand_written(objs, value.left) and _hand_written(objs, value.right)
    if isinstance(value, ast.Name):
        if value.id in objs.found.imports:
            return True
        return any(
            isinstance(stmt, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == value.id for t in stmt.targets)
            and _hand_written(objs, stmt.value)
            for stmt in objs.tree.body
        )
    return False


def _decide(
    ctx: RuleContext, objs: Objects, stmt: ast.stmt, origin: Origin, assignments: list[ast.stmt]
) -> None:
    if not may_fix(ctx, objs, stmt, origin, TEMPLATE):
        return
    names = ", ".join(dict.fromkeys(f.model_id for f in objs.targets(origin)))
    if not ctx.remove(stmt, f"hand-written chat template removed: {names} ships its own"):
        return
    for assignment in assignments:
        target = assignment.targets[0] if isinstance(assignment, ast.Assign) else None
        if isinstance(target, ast.Attribute):
            _rendered_expectations(ctx, objs, assignment, ast.unparse(target.value), names)
    for assignment in assignments:
        value = assignment.value if isinstance(assignment, ast.Assign) else None
        if isinstance(value, ast.Name) and value.id in objs.found.imports:
            module, name = objs.found.imports[value.id]
            ctx.remove_import_if_unused(module, name, value.id if value.id != name else None)


def _rendered_expectations(
    ctx: RuleContext, objs: Objects, assignment: ast.stmt, tok: str, names: str
) -> None:
    """Assertions on text rendered with the template just removed: the target's own template
    renders differently, so the expected text must be re-rendered (review)."""
    found = objs.found
    func = found.function_of(assignment)
    scopes: list[ast.AST] = [func] if func is not None else [ctx.tree]
    if func is not None and found.is_setup(func):
        cls = found.enclosing_class(func)
        scopes = [cls] if cls is not None else [ctx.tree]  # a fixture: its tests take it
    for scope in scopes:
        rendered = {
            t.id
            for node in walk(scope)
            if isinstance(node, ast.Assign) and _renders(node.value, tok)
            for t in node.targets
            if isinstance(t, ast.Name)
        }
        rebound = sorted(
            n.lineno
            for n in walk(scope)
            if isinstance(n, ast.Assign)
            and n.lineno > assignment.lineno
            and any(ast.unparse(t) == tok for t in n.targets)
        )
        until = rebound[0] if rebound else None
        for node in walk(scope):
            if not _is_assertion(node) or not isinstance(node, ast.stmt):
                continue
            if node.lineno < assignment.lineno and found.function_of(node) is func:
                continue
            if until is not None and node.lineno > until:
                continue
            inside = {id(n) for call in walk(node) if _renders(call, tok) for n in walk(call)}
            literal = next(
                (
                    n
                    for n in walk(node)
                    if isinstance(n, ast.Constant)
                    and isinstance(n.value, str)
                    and n.value.strip()
                    and id(n) not in inside
                ),
                None,
            )
            uses = any(
                _renders(n, tok) or (isinstance(n, ast.Name) and n.id in rendered)
                for n in walk(node)
            )
            if literal is not None and uses:
                ctx.review(
                    literal,
                    f"expected text rendered with the removed hand-written template: {names} "
                    "renders its own; re-render it with the target's template and paste the result",
                    anchor=found.statement_of(literal),
                )


def _renders(node: ast.AST, tok: str) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "apply_chat_template"
        and ast.unparse(node.func.value) == tok
    )


def _is_assertion(node: ast.AST) -> bool:
    if isinstance(node, ast.Assert):
        return True
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Attribute)
        and node.value.func.attr.startswith("assert")
    )


RULE = declare(
    __name__,
    safety=Safety.FIX,
    check=check,
    order=45,
    examples=(
        Example(
            before=(
                "from transformers import AutoTokenizer\n\n"
                "from .testing_constants import CHATML_TEMPLATE\n\n"
                'tokenizer = AutoTokenizer.from_pretrained("trl-internal-testing/dummy-GPT2-correct-vocab")\n'
                "tokenizer.chat_template = CHATML_TEMPLATE\n"
            ),
            after=(
                "from transformers import AutoTokenizer\n\n"
                'tokenizer = AutoTokenizer.from_pretrained("trl-internal-testing/tiny-Qwen2ForCausalLM-2.5")\n'
            ),
        ),
    ),
)
