"""Flag assertions that encode GPT2's tokenization; fix the special-token ones by role.

Expected values computed with GPT2's tokenizer (token ids, ``-100`` label lists, attention
masks, lengths, parameter counts, decoded generations) are wrong for any other vocabulary. In
GPT2 ``50256`` is bos, eos, unk and, after the pad workaround, pad; instruct models split
these roles, so a literal can only be replaced once its role is known:

- fixed: a standalone ``50256`` compared with ``<tok>.eos_token_id``, the last token of an
  encoding (``[-1]``) or ``generation_config.eos_token_id`` becomes ``<tok>.eos_token_id``;
  compared with padded positions (``pad_token_id``, values selected by ``attention_mask == 0``)
  it becomes ``<tok>.pad_token_id``. ``"<|endoftext|>"`` compared with ``eos_token`` becomes
  ``<tok>.eos_token`` (with ``pad_token``: ``<tok>.pad_token``), and text that appends it
  (``"abc<|endoftext|>"``) becomes ``"abc" + <tok>.eos_token``;
- review (marked, never rewritten): any other role of ``50256``, literal token-id lists and
  ``-100`` label lists and attention masks (bare, or given to ``torch.tensor``/``np.array``/
  ``tf.constant``) in ``assert*``/``assert ==``/``torch.equal``/``assert_close`` comparisons, integer expectations of lengths, shapes, parameter counts or
  dataset sizes, decoded generation text, and GPT2-specific slicing of encoded templates
  (``encode(template)[2:]``). The message says what the value was computed with and how to
  re-measure it with the target.

Values are followed through the test's locals and module constants: decoded text assigned
to a local, an expected string or structure of literals bound to a name (the marker goes on
that value, naming the assertion), a number computed by ``len(...)`` into a local. GPT2's
vocabulary size ``50257`` is review wherever the test asserts or hard-codes it. Counts of items
are not tokenization lengths: the fields of a model's output tuple, the entries of a list or
tuple built in the test, and a length equal to a size the test requested (``max_length=15``)
is what it asked for; the number of samples of a dataset packed to a length is reported.
Generated output (``generate``, pipelines, inference engines) compared
with literal text or structures holding it is review, and so is what a project's function
computes from the migrated tokenizer, model or id (``clip(text, tokenizer=tok)``) compared
with literal text, or with a number named for tokens. Parametrize columns the test compares
with are judged row by row (one finding per column); an ``expected*`` column whose rows also
give the migrated id holds values measured with GPT2. An input found back in the output (a
row's own cell, a substring of what the test sent, either alternative of an ``or``) is not.
``eos_token_id`` put first in a sequence leans on GPT2's bos = eos (review when the target's
bos differs); numbers divided by a length in the expected count of chunks of what the binding
built are the data's token counts. A comment saying the code leans on GPT-2's tokenization
("7 tokens with the GPT-2 tokenizer") marks the statement it describes.

A migrated tokenizer called with ``padding="max_length"`` and no ``max_length`` is reported
(info: the test still runs, slower): it pads to the tokenizer's ``model_max_length``, GPT2's
1024 before, the target's own after.

Only tests that use a tokenizer or model loaded from a migrated id are examined; ``<tok>`` is
a migrated tokenizer of that test. Findings point at the exact literal, so that a later
``--update-literals`` can write measured values back.
"""

from __future__ import annotations

import ast

from migrator.context import RuleContext
from migrator.core import Safety
from migrator.registry import Example, declare

from ._analysis.objects import Objects, encoded_by, objects
from ._analysis.tree import FUNCS, walk
from ._token_literals.judge import Test
from ._token_literals.patterns import COMPOUND, TOKENIZATION_NOTE


def check(ctx: RuleContext) -> None:
    objs = objects(ctx)
    for func in walk(ctx.tree):
        if isinstance(func, FUNCS) and objs.uses_migrated(func):
            Test(ctx, objs, func).check()
    if TOKENIZATION_NOTE.search(ctx.source.text):
        _notes(ctx, objs)
    if "max_length" in ctx.source.text:
        _padded_to_model_max_length(ctx, objs)


def _padded_to_model_max_length(ctx: RuleContext, objs: Objects) -> None:
    """``tok(text, padding="max_length")`` with no ``max_length`` pads to the tokenizer's
    ``model_max_length``: GPT2's 1024, the target's own after the migration (8192 on SmolLM2),
    so every sample grows with it (time and memory of the test)."""
    for call in walk(ctx.tree):
        if not isinstance(call, ast.Call):
            continue
        keywords = {k.arg: k.value for k in call.keywords if k.arg is not None}
        padding = keywords.get("padding")
        if not (
            isinstance(padding, ast.Constant)
            and padding.value == "max_length"
            and "max_length" not in keywords
        ):
            continue
        origin = objs.origin(encoded_by(call))
        if origin is None or not origin.migrated or origin.kind != "tokenizer":
            continue
        ctx.info(
            padding,
            'padding="max_length" without max_length pads to the tokenizer\'s '
            "model_max_length: 1024 on GPT2, the target's own now (often 8192 or more), so "
            "every sample grows and the test gets slower; pass max_length= (1024 keeps the "
            "old size)",
        )


def _notes(ctx: RuleContext, objs: Objects) -> None:
    """Comments where the author says the code leans on GPT-2's tokenization ("51 tokens
    according to the GPT-2 tokenizer", "unambiguous in GPT-2's vocab"): the values they
    describe were chosen or measured with GPT2, wherever they sit."""
    for line, _col, text in ctx.source.comments:
        if "migrate-tests" in text or not TOKENIZATION_NOTE.search(text):
            continue
        statement = _statement_at(objs, line)
        if statement is None:
            continue
        scope = objs.found.function_of(statement) or objs.found.enclosing_class(statement)
        if objs.uses_migrated(scope if scope is not None else objs.found.tree):
            ctx.review(
                statement,
                f"the comment on line {line} ({text.lstrip('#').strip()[:80]!r}) says this "
                "leans on GPT-2's tokenization: check the values it describes against the "
                "target's tokenizer",
                anchor=statement,
            )


def _statement_at(objs: Objects, line: int) -> ast.stmt | None:
    """The simple statement a comment sits in (a trailing comment of a multi-line dict),
    else the first statement after it."""
    inside = [
        n
        for n in walk(objs.found.tree)
        if isinstance(n, ast.stmt)
        and not isinstance(n, COMPOUND)
        and n.lineno <= line <= (n.end_lineno or n.lineno)
    ]
    if inside:
        return max(inside, key=lambda n: n.lineno)
    after = [n for n in walk(objs.found.tree) if isinstance(n, ast.stmt) and n.lineno > line]
    return min(after, key=lambda n: n.lineno, default=None)


RULE = declare(
    __name__,
    safety=Safety.REVIEW,
    check=check,
    order=50,
    examples=(
        Example(
            before=(
                "from transformers import AutoTokenizer\n\n\n"
                "def test_eos_appended():\n"
                '    tokenizer = AutoTokenizer.from_pretrained("gpt2")\n'
                '    ids = tokenizer("hello")["input_ids"] + [tokenizer.eos_token_id]\n'
                "    assert ids[-1] == 50256\n"
            ),
            after=(
                "from transformers import AutoTokenizer\n\n\n"
                "def test_eos_appended():\n"
                '    tokenizer = AutoTokenizer.from_pretrained("HuggingFaceTB/SmolLM2-135M-Instruct")\n'
                '    ids = tokenizer("hello")["input_ids"] + [tokenizer.eos_token_id]\n'
                "    assert ids[-1] == tokenizer.eos_token_id\n"
            ),
        ),
    ),
)
