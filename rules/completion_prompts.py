"""Flag raw completion prompts and completion-style datasets fed to migrated chat models.

GPT2 only knows completion: tests feed it ``tokenizer("The sky is", ...)`` and generate, or
train on ``{"text": ...}`` rows. An instruct model is used through its chat template in
production; a test that keeps prompting it as a completion model tests a path no user takes.
The conversational form is a human's call (what is the user turn? is a system prompt
needed?), so this rule only reports (review), with the equivalent in the message:
``messages = [{"role": "user", "content": <prompt>}]`` and
``tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt")``;
for datasets, ``{"messages": [{"role": "user", ...}, {"role": "assistant", ...}]}`` rows
(or ``prompt``/``completion`` as message lists).

Examined: string literals passed to a migrated tokenizer (call, ``encode``) in a test that
generates (``.generate(``) and prompts passed to a ``pipeline`` built on a migrated id;
``Dataset.from_dict``/``from_list`` with ``text`` or ``prompt``/``completion`` string columns
in a test that uses a migrated model and chat templates; and, in a file that migrates an id
for a trainer that generates from prompts (PPO, GRPO, RLOO, online DPO: ``*PPOTrainer``,
``make_experience``), lists of prompt strings (a list bound to a name, key or keyword that
says prompt, or built in a function named for prompts), reported once per list.
"""

from __future__ import annotations

import ast
import re

from migrator.context import RuleContext
from migrator.core import Safety
from migrator.registry import Example, declare

from ._analysis.objects import Objects, encoded_by, objects
from ._analysis.tree import FUNCS, SCOPES, walk

COMPLETION_COLUMNS = ({"text"}, {"prompt", "completion"}, {"prompt"})
# Trainers that generate from the prompts they are given (rollouts), by class or method name.
GENERATING_TRAINER = re.compile(
    r"\b\w*(PPO|GRPO|RLOO|OnlineDPO|XPO|NashMD)\w*Trainer\b|\.make_experience\(|\brollouts?\b"
)
PROMPT_NAME = re.compile(r"prompt", re.IGNORECASE)
# What makes a test a chat-template test (not ``caplog.messages``: the key "messages" only).
CHAT_HINTS = re.compile(r"chat_template|\bis_conversational\b|[\"']messages[\"']")


def check(ctx: RuleContext) -> None:
    objs = objects(ctx)
    for func in walk(ctx.tree):
        if not isinstance(func, FUNCS) or not objs.uses_migrated(func):
            continue
        text = objs.found.scope_text(func)
        if ".generate(" in text or "pipeline(" in text:
            _prompts(ctx, objs, func)
    for scope in walk(ctx.tree):
        if isinstance(scope, SCOPES) and objs.uses_migrated(scope):
            text = objs.found.scope_text(scope)
            if CHAT_HINTS.search(text):
                _datasets(ctx, objs, scope)
    if GENERATING_TRAINER.search(ctx.source.text) and any(
        b.decision == "migrate" for b in objs.found.binding_set.all
    ):
        _rollout_prompts(ctx, objs)


def _rollout_prompts(ctx: RuleContext, objs: Objects) -> None:
    """Lists of prompt strings in a file that migrates the model of a generating trainer:
    the trainer samples completions from them, which an instruct model gets through its
    chat template."""
    for node in walk(ctx.tree):
        if not isinstance(node, (ast.List, ast.Tuple)):
            continue
        prompts = _strings(node)
        if len(prompts) < 2 or len(prompts) != len(node.elts):
            continue
        if not all(len(str(p.value).split()) >= 2 for p in prompts) or not _named_prompt(
            objs, node
        ):
            continue
        more = f" and {len(prompts) - 1} more"
        ctx.review(
            prompts[0],
            f"raw completion prompts ({_short(prompts[0].value)}{more}) for a trainer that "
            "generates from them (rollouts): an instruct model is prompted through its chat "
            'template: give them as conversations ([{"role": "user", "content": ...}]) or '
            "check that the trainer applies the template",
            anchor=_statement(objs, node),
        )


def _named_prompt(objs: Objects, node: ast.AST) -> bool:
    """The list is bound to a name, key or keyword that says prompt, or built in a function
    named for prompts (``def get_default_prompts(): return dict(train=[...])``)."""
    found = objs.found
    for ancestor in found.ancestors(node):
        if isinstance(ancestor, (ast.Assign, ast.AnnAssign)):
            targets = ancestor.targets if isinstance(ancestor, ast.Assign) else [ancestor.target]
            return any(PROMPT_NAME.search(ast.unparse(t)) for t in targets)
        if isinstance(ancestor, ast.keyword) and ancestor.arg and PROMPT_NAME.search(ancestor.arg):
            return True
        if isinstance(ancestor, ast.Dict):
            for key, value in zip(ancestor.keys, ancestor.values, strict=True):
                if (
                    value is node
                    and isinstance(key, ast.Constant)
                    and PROMPT_NAME.search(str(key.value))
                ):
                    return True
        if isinstance(ancestor, FUNCS):
            return bool(PROMPT_NAME.search(ancestor.name))
    return False


def _prompts(ctx: RuleContext, objs: Objects, func: ast.AST) -> None:
    for call in walk(func):
        if not isinstance(call, ast.Call):
            continue
        callee = encoded_by(call)
        origin = objs.origin(callee)
        is_tokenizer = origin is not None and origin.migrated and origin.kind == "tokenizer"
        if not (is_tokenizer or _is_pipeline(objs, callee)):
            continue
        text = next((k.value for k in call.keywords if k.arg == "text"), None)
        first = call.args[0] if call.args else text
        if first is None:
            continue
        for prompt in _strings(_value_of(objs, func, first)):
            ctx.review(
                prompt,
                f"raw completion prompt {_short(prompt.value)} fed to a chat model: use "
                f'messages = [{{"role": "user", "content": {_short(prompt.value)}}}] and '
                "tokenizer.apply_chat_template(messages, add_generation_prompt=True, "
                'return_tensors="pt")',
                anchor=_statement(objs, prompt),
            )


def _is_pipeline(objs: Objects, callee: ast.expr) -> bool:
    """A name bound to ``pipeline("text-generation", model=<migrated id>)``."""
    if not isinstance(callee, ast.Name):
        return False
    for node in walk(objs.tree):
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == callee.id for t in node.targets)
            and isinstance(node.value, ast.Call)
            and ast.unparse(node.value.func).endswith("pipeline")
        ):
            values = [*node.value.args, *(k.value for k in node.value.keywords)]
            for value in values:
                origin = objs.origin(value)
                if objs.found.resolve(value) is not None or (origin and origin.migrated):
                    return True
    return False


def _value_of(objs: Objects, func: ast.AST, node: ast.expr) -> ast.expr:
    """A name's assigned literal, in the test or at module level (``prompts = [...]`` then
    ``tokenizer(prompts)``)."""
    if not isinstance(node, ast.Name):
        return node
    for stmt in [*walk(func), *objs.tree.body]:
        if (
            isinstance(stmt, ast.Assign)
            and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name)
            and stmt.targets[0].id == node.id
            and isinstance(stmt.value, (ast.Constant, ast.List, ast.Tuple))
        ):
            return stmt.value
    return node


def _strings(node: ast.expr) -> list[ast.Constant]:
    items = node.elts if isinstance(node, (ast.List, ast.Tuple)) else [node]
    return [i for i in items if isinstance(i, ast.Constant) and isinstance(i.value, str)]


def _datasets(ctx: RuleContext, objs: Objects, scope: ast.AST) -> None:
    for call in walk(scope):
        if not (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and call.func.attr in ("from_dict", "from_list")
            and call.args
        ):
            continue
        if _inner_scope(objs, call) is not scope:
            continue
        columns = _columns(call.args[0])
        if columns is not None and any(columns == c for c in COMPLETION_COLUMNS):
            ctx.review(
                call,
                f"completion-style dataset (columns {', '.join(sorted(columns))}) for a chat "
                'model: use conversational rows, e.g. {"messages": [{"role": "user", '
                '"content": ...}, {"role": "assistant", "content": ...}]}',
                anchor=_statement(objs, call),
            )


def _columns(node: ast.expr) -> set[str] | None:
    """String-valued column names of a dict of lists, or of a list of dicts."""
    if isinstance(node, ast.List) and node.elts and isinstance(node.elts[0], ast.Dict):
        node = node.elts[0]
    if not isinstance(node, ast.Dict):
        return None
    names = set()
    for key, value in zip(node.keys, node.values, strict=True):
        if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
            return None
        items = value.elts if isinstance(value, (ast.List, ast.Tuple)) else [value]
        if not all(isinstance(i, (ast.Constant, ast.JoinedStr, ast.BinOp)) for i in items):
            return None
        names.add(key.value)
    return names


def _inner_scope(objs: Objects, node: ast.AST) -> ast.AST | None:
    return next((a for a in objs.found.ancestors(node) if isinstance(a, SCOPES)), None)


def _statement(objs: Objects, node: ast.AST) -> ast.AST:
    return next(a for a in objs.found.ancestors(node) if isinstance(a, ast.stmt))


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "...'"


RULE = declare(
    __name__,
    safety=Safety.REVIEW,
    check=check,
    order=60,
    examples=(
        Example(
            before=(
                "from transformers import AutoModelForCausalLM, AutoTokenizer\n\n\n"
                "def test_generate():\n"
                '    tokenizer = AutoTokenizer.from_pretrained("gpt2")\n'
                '    model = AutoModelForCausalLM.from_pretrained("gpt2")\n'
                '    inputs = tokenizer("The sky is", return_tensors="pt")\n'
                "    model.generate(**inputs, max_new_tokens=3)\n"
            ),
            after=(
                "from transformers import AutoModelForCausalLM, AutoTokenizer\n\n\n"
                "def test_generate():\n"
                '    tokenizer = AutoTokenizer.from_pretrained("HuggingFaceTB/SmolLM2-135M-Instruct")\n'
                '    model = AutoModelForCausalLM.from_pretrained("HuggingFaceTB/SmolLM2-135M-Instruct")\n'
                "    # migrate-tests: review(completion-prompts): raw completion prompt 'The sky "
                'is\' fed to a chat model: use messages = [{"role": "user", "content": '
                "'The sky is'}] and tokenizer.apply_chat_template(messages, "
                'add_generation_prompt=True, return_tensors="pt")\n'
                '    inputs = tokenizer("The sky is", return_tensors="pt")\n'
                "    model.generate(**inputs, max_new_tokens=3)\n"
            ),
        ),
    ),
)
