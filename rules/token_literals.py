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
  ``-100`` label lists and attention masks in ``assert*``/``assert ==``/``torch.equal``/
  ``assert_close`` comparisons, integer expectations of lengths, shapes, parameter counts or
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

Only tests that use a tokenizer or model loaded from a migrated id are examined; ``<tok>`` is
a migrated tokenizer of that test. Findings point at the exact literal, so that a later
``--update-literals`` can write measured values back.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from collections.abc import Callable, Iterator
from functools import cached_property

from migrator.context import RuleContext
from migrator.core import Safety
from migrator.registry import Example, declare

from ._analysis.expected import NOT_TEXT_FIELD, expected_text, literal_value, local_values
from ._analysis.labels import parametrize_columns
from ._analysis.objects import Objects, objects
from ._analysis.tree import FUNCS, walk

EOS_ID = 50256
EOS_TEXT = "<|endoftext|>"
ASSERT_CALLS = re.compile(
    r"(^|\.)(assert(Equal|Equals|ListEqual|TupleEqual|SequenceEqual|NotEqual|In|NotIn|"
    r"AlmostEqual|CountEqual|DictEqual)|equal|assert_close|allclose|assert_equal|"
    r"assert_array_equal|assert_allclose)$"
)
# Lengths that follow tokenization (not raw dataset sizes: those do not change).
LENGTH_SUBJECT = re.compile(
    r"input_ids|token|encod|label|mask|pack|tokenized|processed|completion|prompt|ids|output|"
    r"generat|logits|seq|batch|chosen|rejected|vocab|embed|len\(tok|trainer\.\w*dataset",
    re.IGNORECASE,
)
TOKEN_IDS = re.compile(r"input_ids|convert_tokens_to_ids|encode\(|token_ids|\btokenizer\(")
# Parameter counts (not "called_params.max_new_tokens": a parameter object's field).
PARAMS_SUBJECT = re.compile(
    r"num_parameters|trainable|numel|n_params|param_count|count_param|\.parameters\(|"
    r"^params$|num_params",
    re.IGNORECASE,
)
DECODED = re.compile(r"decode\(|generated_text|completion_text|generated")
# Calls whose result is generated text or structures holding it (compared with expected text).
GENERATION = re.compile(r"\.generate\(|\binfer\w*\(|\bpipe\w*\(|\bgenerat\w*\(|\.chat\(")
# Functions that compare their first two arguments (asserted true by the test).
COMPARE_HELPER = re.compile(r"(^|[._])(compare|equal|same|match)", re.IGNORECASE)
# The parts of a generation result that hold its text (else a field: "finish_reason").
TEXT_FIELD = re.compile(r"text|content|generat|output|completion|response|decoded|message")
# A test that mocks what would run the model: its "generations" are the values it set up.
MOCKED = re.compile(r"\bMock\(|MagicMock|\bpatch\b|aioresponses|\bmock_\w+|mocker\b")
# A dataset cut into samples of so many tokens: how many samples it yields follows the tokenizer.
PACKED = re.compile(r"\bseq_length\b|\bpack(ing|ed)?\b|max_seq_len", re.IGNORECASE)
# A comment saying the code leans on GPT-2's tokenization.
TOKENIZATION_NOTE = re.compile(
    r"gpt-?2.{0,40}\b(token|vocab|bpe)|\b(token|vocab|bpe)\w*\b.{0,40}gpt-?2", re.IGNORECASE
)
# Statements with a body: a comment inside them belongs to a statement of the body.
COMPOUND = (
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.If,
    ast.For,
    ast.AsyncFor,
    ast.While,
    ast.With,
    ast.AsyncWith,
    ast.Try,
)
# A parametrize column holding what the test expects (checked by the test or a helper).
EXPECTED_PARAM = re.compile(r"^expected|_expected$|^golden|^reference", re.IGNORECASE)
# A number computed with the tokenizer that says it counts tokens (``used_tokens``,
# ``prompt_length``); ``len(...)`` of a result counts its items unless it says tokens.
TOKEN_COUNT = re.compile(r"token|length", re.IGNORECASE)
REQUESTED = re.compile(r"length|len$|^num_|size|count|max_new_tokens|steps", re.IGNORECASE)
VOCAB_SIZE = 50257  # GPT2's vocabulary: asserted or hard-coded as a logits dimension
ENCODERS = re.compile(r"encode\(|apply_chat_template\(|tokenizer\(|\btok\(")
OWN_ATTRIBUTES = frozenset({"eos_token_id", "pad_token_id", "eos_token", "pad_token"})
TOKENIZER_NAME = re.compile(r"(tokenizer|processing_class|\btok)$")


def check(ctx: RuleContext) -> None:
    objs = objects(ctx)
    for func in walk(ctx.tree):
        if isinstance(func, FUNCS) and objs.uses_migrated(func):
            _Test(ctx, objs, func).check()
    if TOKENIZATION_NOTE.search(ctx.source.text):
        _notes(ctx, objs)


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


class _Test:
    """One test function that uses a migrated tokenizer or model."""

    def __init__(
        self, ctx: RuleContext, objs: Objects, func: ast.FunctionDef | ast.AsyncFunctionDef
    ) -> None:
        self.ctx, self.objs, self.func = ctx, objs, func
        self.own = [n for n in walk(func) if objs.found.function_of(n) is func]
        self.toks = [(n, o) for n, o in objs.tokenizers_in(func) if o.migrated]
        self.foreign = self._foreign_names()
        self.done: set[int] = set()
        self.values = local_values(self.own, objs.found.tree, ctx)
        self.via: ast.expr | None = None  # the name that led to the value being judged
        # Findings of one parametrize column, gathered to be reported as one.
        self.collected: list[tuple[ast.expr, str]] | None = None
        cls = objs.found.enclosing_class(func)
        self.columns = parametrize_columns(func, cls, objs.found.row_constants(func))
        self.containment = False  # the comparison being judged is ``a in b``
        self.row: list[ast.expr] | None = None  # the other cells of the row being judged
        self.judged: set[str] = set()  # parametrize columns already reported
        # Examined only because it uses what a migrated binding built (a project's engine or
        # config made from the id elsewhere): no tokenizer or model of its own is in sight,
        # so only values that say tokens or generated text are judged, and a mocked run
        # generates nothing.
        self.direct = bool(self.toks) or any(objs.touches(n) for n in self.own)
        self.mocked = bool(MOCKED.search(objs.found.scope_text(func))) or any(
            MOCKED.search(a.arg) for a in func.args.args
        )
        # Sizes the test asks for (max_length=15, num_completions=3, seq_length=19): a length
        # equal to one of them is what was requested, not what GPT2's tokenizer produced.
        # Also set as attributes: ``tokenizer.model_max_length = 20``.
        requests = [
            (kw.arg, kw.value)
            for call in self.own
            if isinstance(call, ast.Call)
            for kw in call.keywords
            if kw.arg
        ] + [
            (target.attr, node.value)
            for node in self.own
            if isinstance(node, ast.Assign)
            for target in node.targets
            if isinstance(target, ast.Attribute)
        ]
        self.requested = {
            value.value
            for name, value in requests
            if REQUESTED.search(name)
            and isinstance(value, ast.Constant)
            and type(value.value) is int
        }
        # How many inputs it hands over (``Batch.from_texts(["a", "b"])``): counts of items.
        self.requested |= {
            len(arg.elts)
            for call in self.own
            if isinstance(call, ast.Call) and not self._asserting(call)
            for arg in call.args
            if isinstance(arg, (ast.List, ast.Tuple)) and len(arg.elts) > 1
        }

    def check(self) -> None:
        for node in self.own:
            if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or):
                self._alternatives(node)
            for actual, expected in _comparisons(node):
                if self._about_other_model(actual) or self._about_other_model(expected):
                    continue
                self.containment = isinstance(node, ast.Compare) and isinstance(
                    node.ops[0], (ast.In, ast.NotIn)
                )
                self._pair(expected, actual)
                self._pair(actual, expected)
            if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice):
                self._slicing(node)
            if first := _first_token(node):
                self._eos_first(first)
        for param in self.columns:
            if EXPECTED_PARAM.search(param) and param not in self.judged:
                self._handed_over(param)
        for node in self.own:
            if isinstance(node, ast.Constant) and id(node) not in self.done:
                if isinstance(node.value, str):
                    self._appended_eos(node)
                elif _int(node) == EOS_ID and self._in_assertion(node):
                    self._unknown_eos(node)
                elif _int(node) == VOCAB_SIZE:
                    self._review(node, VOCAB_MESSAGE)

    def _alternatives(self, node: ast.BoolOp) -> None:
        """``assert "2+2" in decoded or "2 + 2" in decoded`` after asking "What is 2+2?":
        one alternative finds the input back, so the assertion holds whatever the model."""
        self.containment = True
        literals = [
            side
            for test in node.values
            if isinstance(test, ast.Compare) and isinstance(test.ops[0], (ast.In, ast.NotIn))
            for side in (test.left, *test.comparators)
            if isinstance(side, ast.Constant) and isinstance(side.value, str)
        ]
        if any(self._echoed(literal) for literal in literals):
            self.done.update(id(literal) for literal in literals)

    # -- which objects an expression is about ----------------------------------------------

    def _foreign_names(self) -> set[str]:
        """Names of objects of other (not migrated) models, and locals computed from them."""
        foreign: set[str] = set()
        for node in walk(self.func):
            if isinstance(node, (ast.Name, ast.Attribute)):
                origin = self.objs.origin(node)
                if origin is not None and not origin.sources:
                    foreign.add(_text(node))
        for _ in range(2):  # reward_ids = reward_tokenizer(...); first = reward_ids[0]
            for node in walk(self.func):
                if (
                    isinstance(node, ast.Assign)
                    and len(node.targets) == 1
                    and isinstance(node.targets[0], ast.Name)
                    and self._mentions(node.value, foreign)
                    and not self._mentions_migrated(node.value)
                ):
                    foreign.add(node.targets[0].id)
        return foreign

    @staticmethod
    def _mentions(node: ast.AST, names: set[str]) -> bool:
        return any(
            isinstance(n, (ast.Name, ast.Attribute)) and _text(n) in names for n in walk(node)
        )

    def _mentions_migrated(self, node: ast.AST) -> bool:
        for n in walk(node):
            if isinstance(n, (ast.Name, ast.Attribute)):
                origin = self.objs.origin(n)
                if origin is not None and origin.migrated:
                    return True
        return False

    def _about_other_model(self, side: ast.expr) -> bool:
        return self._mentions(side, self.foreign) and not self._mentions_migrated(side)

    def _in_assertion(self, node: ast.AST) -> bool:
        for anc in self.objs.found.ancestors(node):
            if isinstance(anc, ast.Assert) or (
                isinstance(anc, ast.Call) and ASSERT_CALLS.search(_text(anc.func))
            ):
                return True
            if isinstance(anc, ast.stmt):
                return False
        return False

    def _tok(self, other: ast.expr) -> str | None:
        """The migrated tokenizer to name: the one the other side mentions, else the test's."""
        other_text = _text(other)
        for node, _origin in self.toks:
            if _text(node) in other_text:
                return self.ctx.source.segment(node)
        return self.ctx.source.segment(self.toks[0][0]) if self.toks else None

    def _own_attribute(self, other: ast.expr) -> bool:
        """``tok.eos_token_id`` itself (a tokenizer's own special-token attribute): replacing
        the literal with it would make the assertion vacuous."""
        if not (isinstance(other, ast.Attribute) and other.attr in OWN_ATTRIBUTES):
            return False
        owner = other.value
        origin = self.objs.origin(owner)
        if origin is not None:
            return origin.kind == "tokenizer"
        return bool(TOKENIZER_NAME.search(_text(owner)))

    def _role(self, other: ast.expr, text: bool = False) -> str | None:
        """eos or pad, from what the value is compared with; None when it cannot tell."""
        other_text = _text(other)
        suffix = "" if text else "_id"
        if f"pad_token{suffix}" in other_text or "attention_mask" in other_text:
            return "pad"
        if f"eos_token{suffix}" in other_text:
            return "eos"
        if other_text.endswith("[-1]") and "pad" not in other_text and self._appends_eos():
            return "eos"
        return None

    def _appends_eos(self) -> bool:
        """The last token is eos only if the test appended it (``+ [tok.eos_token_id]``,
        ``add_eos_token=True``...): otherwise it may just as well be padding."""
        text = self.objs.found.scope_text(self.func)
        return EOS_TEXT in text or bool(
            re.search(r"eos_token(_id)?\]|add_eos|append_eos|\+ *\[?\w*\.?eos", text)
        )

    # -- the checks ------------------------------------------------------------------------

    def _review(self, node: ast.expr, message: str) -> None:
        if self.collected is not None:
            self.collected.append((node, message))
            return
        if self.via is not None:
            message += f" (asserted through {_text(self.via)} on line {self.via.lineno})"
        self.done.add(id(node))
        self.ctx.review(node, message, anchor=_anchor(self.objs, node))

    def _fix(self, node: ast.expr, code: str, message: str) -> None:
        self.done.add(id(node))
        self.ctx.replace(node, code, message)

    def _pair(self, literal: ast.expr, other: ast.expr) -> None:
        if isinstance(literal, ast.Name) and literal.id in self.columns:
            self._column(literal, other)
            return
        value_of = self._value(literal)
        if value_of is not literal:  # a name bound once to the expected value: judge that value
            if id(value_of) not in self.done and not self._fed_in(literal):
                self.via = literal
                self._judge(value_of, other, fixable=False)
                self.via = None
            return
        if id(literal) not in self.done:
            self._judge(literal, other, fixable=True)

    def _column(self, name: ast.Name, other: ast.expr) -> None:
        """``assert clipped == expected_text`` with ``expected_text`` a parametrize column:
        each row's value is judged; one finding for the column names every row it holds."""
        if self._fed_in(name) or name.id in self.values:
            return
        found: list[tuple[ast.expr, str]] = []
        self.via, self.collected = name, found
        for cell, row in self.columns[name.id]:
            if id(cell) in self.done or (
                _echo_shape(cell)
                and any(ast.dump(c) == ast.dump(cell) for c in row if c is not cell)
            ):
                continue  # the row's own input given back: what it was, whatever the model
            self.row = [c for c in row if c is not cell]
            self._judge(cell, other, fixable=False)
            self.row = None
        self.via, self.collected = None, None
        if found:
            first, message = found[0]
            self._review(first, message + _other_rows([node for node, _ in found]))
            self.done.update(id(node) for node, _ in found)
            self.judged.add(name.id)

    def _handed_over(self, param: str) -> None:
        """``expected_results`` given by the rows that also give the migrated id, handed to
        a checking helper (``_validate(expected_results=expected_results, ...)``): the
        scores, counts and texts in it were measured with GPT2."""
        check = next((n for n in self.own if _uses_param(n, param)), None)
        if not isinstance(check, (ast.Call, ast.Compare)):
            return
        of = self.objs.found.binding_set.of
        measured = [
            cell
            for cell, row in self.columns[param]
            if _measured(cell)
            and any(id(n) in of and of[id(n)].decision == "migrate" for c in row for n in walk(c))
        ]
        if measured:
            by = f" by {_text(check.func)}()" if isinstance(check, ast.Call) else ""
            message = (
                f"{param}: measured with GPT2 (the same parametrize row gives the migrated id) "
                f"and checked{by} on line {check.lineno}: re-measure it with the target (run "
                "the test once and take the new values)"
            )
            self._review(measured[0], message + _other_rows(measured))

    def _judge(self, literal: ast.expr, other: ast.expr, fixable: bool) -> None:
        """``literal`` is what ``other`` is asserted to equal. ``fixable``: the literal sits in
        the assertion itself, where the tokenizer it would name is in scope."""
        if self._echoed(literal) or (self.mocked and not self.direct):
            return
        if counts := self._chunked_counts(literal, other):
            for count in counts:
                self._review(count, CHUNKS_MESSAGE + f" (compared on line {literal.lineno})")
            return
        other_text = self._source(other)
        value = _int(literal)
        computed: ast.Call | None = None
        if value == EOS_ID and isinstance(literal, ast.Constant):
            if fixable:
                self._eos_id(literal, other)
            else:
                self._unknown_eos(literal)
        elif isinstance(literal, ast.Constant) and literal.value == EOS_TEXT:
            if fixable:
                self._eos_text(literal, other)
        elif value == VOCAB_SIZE:
            self._review(literal, VOCAB_MESSAGE)
        elif self._is_length(other) and (_int_list(literal) is not None or value is not None):
            if value not in (0, 1) and value not in self.requested:
                self._review(literal, LENGTH_MESSAGE)
        elif (values := _int_list(literal)) is not None and _is_shape(_text(other)):
            # (batch, length): the batch is the inputs' count; a length the test requested
            # (max_length=15) is not GPT2's tokenization either.
            if any(v not in (0, 1) and v not in self.requested for v in values[1:] or values):
                self._review(literal, LENGTH_MESSAGE)
        elif (values := _int_list(literal)) is not None and (
            (len(values) >= 2 and self.direct) or TOKEN_IDS.search(other_text)
        ):
            self._review(literal, _list_message(values))
        elif value is not None and value not in (0, 1):
            if PARAMS_SUBJECT.search(_text(self._number(other, PARAMS_SUBJECT.search))):
                self._review(literal, PARAMS_MESSAGE)
            elif TOKEN_IDS.search(_text(self._number(other, TOKEN_IDS.search))):
                self._review(literal, _list_message([value]))
            elif TOKEN_COUNT.search(f"{_last_name(other)} {self._via_name}") and (
                call := self._computed_with(other)
            ):
                self._review(literal, _computed_message(call, "token count"))
        elif (decoded := bool(DECODED.search(other_text) or GENERATION.search(other_text))) or (
            not self.containment
            and literal_value(literal, self.values)
            and (computed := self._computed_with(other)) is not None
        ):
            inputs = self._source(other)

            def skip(node: ast.Constant | ast.Name) -> bool:
                if isinstance(node, ast.Name):
                    return _names(inputs, node.id)
                return self._echoed(node)

            text = expected_text(literal, self.values, skip)
            if (
                text is not None
                and not GENERATION.search(self._source(literal))
                and not self._field_value(other)
                and not self._round_trip(literal, other)
            ):
                where = ""
                if self.via is None and all(n is not text for n in walk(literal)):
                    where = f" (compared on line {getattr(other, 'lineno', '?')})"
                message = DECODED_MESSAGE
                if computed is not None and not decoded:
                    message = _computed_message(computed, "text")
                self._review(text, message + where)

    # -- where a compared value comes from --------------------------------------------------

    @property
    def _via_name(self) -> str:
        return self.via.id if isinstance(self.via, ast.Name) else ""

    def _migrated_arg(self, arg: ast.expr) -> bool:
        """A tokenizer, model or processor loaded from a migrated binding, or its id."""
        if isinstance(arg, ast.Constant):
            binding = self.objs.found.binding_set.of.get(id(arg))
            return binding is not None and binding.decision == "migrate"
        if isinstance(arg, (ast.Name, ast.Attribute)):
            origin = self.objs.origin(arg)
            if origin is not None:
                return origin.migrated and origin.kind != "config"
            return self.objs.holds_migrated(arg)
        return False

    def _computed_with(self, other: ast.expr, depth: int = 3) -> ast.Call | None:
        """The call that computed ``other`` (itself, or what its locals were bound to) with a
        migrated tokenizer, model or id among its arguments: ``clip(text, tokenizer=tok)``,
        ``render(conversation, "gpt2")``; of ``round_scores(attribute(args_with_model))``
        the innermost. Not a loader (that makes the object), not a constructor (its fields
        are what it was given) and not the object's own methods (decoding and encoding are
        judged apart)."""
        for node in walk(other):
            if (
                isinstance(node, ast.Call)
                and not _last_name(node)[:1].isupper()
                and self.objs.origin(node) is None
                and any(
                    self._migrated_arg(a) for a in [*node.args, *(k.value for k in node.keywords)]
                )
            ):
                if depth:
                    for arg in [*node.args, *(k.value for k in node.keywords)]:
                        if isinstance(arg, ast.Name) and (
                            inner := self._computed_with(arg, depth - 1)
                        ):
                            return inner
                return node
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and depth:
                for bound in self.values.get(node.id, ())[:4]:
                    if bound is not other and (call := self._computed_with(bound, depth - 1)):
                        return call
        return None

    def _chunked_counts(self, literal: ast.expr, other: ast.expr) -> list[ast.Constant]:
        """``len(loader) == div_up((n_tokens - 1) // max_length, batch_size)`` with the
        loader built from the migrated binding: the numbers divided by a length are token
        counts of the data (``n_tokens = 2391884``), not what the test asked for."""
        counted = (
            other.args[0]
            if isinstance(other, ast.Call) and _text(other.func) == "len" and other.args
            else None
        )
        if counted is None or not any(
            self.objs.holds_migrated(n) or self._migrated_arg(n)
            for n in walk(counted)
            if isinstance(n, (ast.Name, ast.Attribute))
        ):
            return []
        counts: dict[int, ast.Constant] = {}
        for node in walk(literal):
            if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.FloorDiv, ast.Div)):
                for leaf in walk(node.left):
                    bound = self.values.get(leaf.id, []) if isinstance(leaf, ast.Name) else [leaf]
                    value = bound[0] if len(bound) == 1 else None
                    number = _int(value) if value is not None else None
                    if (
                        isinstance(value, ast.Constant)
                        and number is not None
                        and number not in (0, 1)
                        and number not in self.requested
                    ):
                        counts[id(value)] = value
        return list(counts.values())

    def _round_trip(self, literal: ast.expr, other: ast.expr) -> bool:
        """``dec = tok.decode(tok.encode(turn))``; ``assert dec == turn``: the expected text
        is the input the other side was computed from, whatever the tokenizer."""
        name = self.via
        return isinstance(name, ast.Name) and _names(self._source(other), name.id)

    def _field_value(self, other: ast.expr) -> bool:
        """``result.metadata.get("finish_reason")``, ``out["status"]``, ``detail.
        error_message``: a field of the result that is not its text (an enum-like value such
        as "length" or "stop", an error)."""
        if isinstance(other, ast.Name):
            bound = self.values.get(other.id, [])
            other = bound[0] if len(bound) == 1 else other
        if isinstance(other, ast.Call) and _text(other.func).endswith(".get") and other.args:
            name = other.args[0]
        elif isinstance(other, ast.Subscript):
            name = other.slice
        elif isinstance(other, ast.Attribute):
            return _field_name(other.attr)
        else:
            return False
        return (
            isinstance(name, ast.Constant)
            and isinstance(name.value, str)
            and _field_name(name.value)
        )

    def _fed_in(self, name: ast.expr) -> bool:
        """``user_query = "Hello"``, ``env.reset({"query": user_query})``, ``assert user_query
        in decoded``: the name is also an input the test passes outside its assertions; what
        comes back holds it whatever the model."""
        return isinstance(name, ast.Name) and name.id in self._inputs

    def _echoed(self, literal: ast.expr) -> bool:
        """The test wrote this value itself outside its assertions (a mocked response, a
        generation parameter, a fake output): what comes back is what it put in, not what
        GPT2 measured or generated."""
        if not _echo_shape(literal):
            return False  # small numbers recur by chance: requested sizes are handled apart
        # ``assert "2+2" in decoded`` after asking "What is 2+2?": the input found back
        if (
            self.containment
            and isinstance(literal, ast.Constant)
            and isinstance(literal.value, str)
            and any(literal.value in text for text in self._written_texts)
        ):
            return True
        shape = ast.dump(literal)
        if self.row is not None:  # a parametrize row: what its other cells hand the test
            return any(ast.dump(n) == shape for cell in self.row for n in walk(cell))
        own = sum(1 for n in walk(literal) if self._written.get(id(n)) == shape)
        return self._written_counts.get(shape, 0) > own

    @cached_property
    def _inputs(self) -> set[str]:
        """Names the test hands to something (a call, a display) outside its assertions."""
        parent = self.objs.found.parent
        return {
            n.id
            for n in walk(self.func)
            if isinstance(n, ast.Name)
            and isinstance(n.ctx, ast.Load)
            and isinstance(parent.get(id(n)), INPUT_POSITIONS)
            and not self._asserting(n)
        }

    @cached_property
    def _written(self) -> dict[int, str]:
        """The strings, lists and tuples the test writes outside its assertions, by shape."""
        return {
            id(n): ast.dump(n) for n in walk(self.func) if _echo_shape(n) and not self._asserting(n)
        }

    @cached_property
    def _written_texts(self) -> list[str]:
        return [
            n.value
            for n in walk(self.func)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) in self._written
        ]

    @cached_property
    def _written_counts(self) -> Counter[str]:
        return Counter(self._written.values())

    def _asserting(self, node: ast.AST) -> bool:
        """``node`` sits in an assertion statement (``assert``, ``self.assert*(...)``, an
        ``assert_*`` helper), its message included."""
        statement = self.objs.found.statement_of(node)
        if isinstance(statement, ast.Assert):
            return True
        return (
            isinstance(statement, ast.Expr)
            and isinstance(statement.value, ast.Call)
            and "assert" in _text(statement.value.func).lower()
        )

    def _value(self, node: ast.expr) -> ast.expr:
        """The value a name is bound to, when it is bound once (in the test or the module) to
        a literal or a structure of literals: the expected value sits there."""
        if isinstance(node, ast.Name):
            bound = self.values.get(node.id, [])
            if len(bound) == 1 and literal_value(bound[0], self.values):
                return bound[0]
        return node

    def _source(self, node: ast.expr, depth: int = 3) -> str:
        """``node``'s text and the text of what its local names were computed from
        (``text = tok.decode(out[0])``; ``assert text == ...``)."""
        parts = [_text(node)]
        if depth:
            for name in walk(node):
                if isinstance(name, ast.Name) and isinstance(name.ctx, ast.Load):
                    for bound in self.values.get(name.id, ())[:4]:
                        if bound is not node:
                            parts.append(self._source(bound, depth - 1))
        return " ".join(parts)

    def _is_length(self, other: ast.expr) -> bool:
        """A length or shape that follows the tokenization (not a count of items: the fields of
        a model's output tuple, the entries of a list built in the test, raw dataset rows)."""
        other = self._number(other, _is_length)
        counted = (
            other.args[0]
            if isinstance(other, ast.Call) and _text(other.func) == "len" and len(other.args) == 1
            else None
        )
        if counted is not None and PACKED.search(self._source(counted)):
            return True  # samples of a dataset packed or chunked to a length: token counts
        if not _is_length(_text(other)):
            return False
        if counted is not None:
            return not self._counts_items(counted, 3)
        return True

    def _number(self, node: ast.expr, looks: Callable[[str], object]) -> ast.expr:
        """``n = len(ids)``, ``assert n == 3``: follow a name to the computation of the number
        while that computation ``looks`` like the kind asked about (never into containers: a
        dataset built next to a tokenizer is not a tokenization length)."""
        for _ in range(3):
            bound = self.values.get(node.id, []) if isinstance(node, ast.Name) else []
            if len(bound) != 1 or not looks(_text(bound[0])):
                break
            node = bound[0]
        return node

    def _counts_items(self, node: ast.expr, depth: int) -> bool:
        if isinstance(node, (ast.Tuple, ast.List, ast.Set, ast.Dict)):
            return True
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            gen = node.generators
            return (
                depth > 0
                and len(gen) == 1
                and not gen[0].ifs
                and (self._counts_items(gen[0].iter, depth - 1))
            )
        if isinstance(node, ast.Call):  # model(**inputs, return_dict=False): output fields
            origin = self.objs.origin(node.func)
            return origin is not None and origin.kind == "model"
        if isinstance(node, ast.Name) and depth > 0:
            bound = self.values.get(node.id, [])
            return bool(bound) and all(self._counts_items(b, depth - 1) for b in bound)
        return False

    def _eos_id(self, literal: ast.Constant, other: ast.expr) -> None:
        if self._own_attribute(other):
            self._review(literal, _own_value_message(_text(other)))
            return
        role = self._role(other)
        tok = self._tok(other)
        if role is None or tok is None:
            self._unknown_eos(literal)
            return
        self._fix(literal, f"{tok}.{role}_token_id", f"50256 ({role}) -> {tok}.{role}_token_id")

    def _unknown_eos(self, literal: ast.Constant) -> None:
        self._review(
            literal,
            "50256 is GPT2's eos/bos/unk (and pad after the workaround) token id; the target "
            "splits these roles: compare with <tokenizer>.eos_token_id or .pad_token_id, "
            "whichever this value stands for",
        )

    def _eos_text(self, literal: ast.Constant, other: ast.expr) -> None:
        if self._own_attribute(other):
            self._review(literal, _own_value_message(_text(other)))
            return
        role = self._role(other, text=True)
        tok = self._tok(other)
        if role is None or tok is None:
            self._review(
                literal,
                f"{EOS_TEXT!r} is GPT2's eos (and pad after the workaround) text: compare with "
                "<tokenizer>.eos_token or .pad_token, whichever this value stands for",
            )
            return
        self._fix(literal, f"{tok}.{role}_token", f"{EOS_TEXT!r} ({role}) -> {tok}.{role}_token")

    def _slicing(self, node: ast.Subscript) -> None:
        assert isinstance(node.slice, ast.Slice)
        bounds = [node.slice.lower, node.slice.upper]
        if any(b is not None and _int(b) is not None for b in bounds) and ENCODERS.search(
            _text(node.value)
        ):
            self._review(
                node,
                "slicing an encoded template at GPT2-specific positions: recompute the offsets "
                "for the target's tokenizer and chat template",
            )

    def _eos_first(self, node: ast.Attribute) -> None:
        """``(tok.eos_token_id, *ids)``, ``expected.insert(0, tok.eos_token_id)``: eos put
        where a sequence starts, which is GPT2's bos (both are ``<|endoftext|>``)."""
        origin = self.objs.origin(node.value)
        if id(node) in self.done or origin is None or not origin.migrated:
            return
        facts = self.objs.targets(origin)
        if facts and all(f.bos_token is not None and f.bos_token == f.eos_token for f in facts):
            return  # the target's bos is its eos too
        targets = "; ".join(
            f"{f.model_id}: eos {f.eos_token or '?'}, bos {f.bos_token or 'another or none'}"
            for f in facts
        )
        self._review(
            node,
            f"{_text(node)} put first: in GPT2 that is also the bos token (both are "
            f"<|endoftext|>), not in the target ({targets}); if the code under test starts "
            "sequences with bos_token_id, expect that",
        )

    def _appended_eos(self, node: ast.Constant) -> None:
        value = str(node.value)
        raw = self.ctx.source.segment(node)
        if (
            not value.endswith(EOS_TEXT)
            or value == EOS_TEXT
            or not raw.endswith(EOS_TEXT + raw[-1])
        ):
            return
        if not self.toks:
            self._review(
                node, f"text ends with GPT2's eos {EOS_TEXT!r}: use the target's eos_token"
            )
            return
        tok = self.ctx.source.segment(self.toks[0][0])
        head = raw[: len(raw) - len(EOS_TEXT) - 1] + raw[-1]
        code = f"{head} + {tok}.eos_token"
        parent = self.objs.found.parent.get(id(node))
        if isinstance(parent, (ast.Attribute, ast.Subscript, ast.UnaryOp)) or (
            isinstance(parent, ast.BinOp) and not isinstance(parent.op, ast.Add)
        ):
            code = f"({code})"  # "a<eos>".lower() -> ("a" + tok.eos_token).lower()
        self._fix(node, code, f"text ending in {EOS_TEXT!r} -> ... + {tok}.eos_token")


# Where a name is handed to something: a call argument, a keyword, an entry of a display.
INPUT_POSITIONS = (ast.Call, ast.keyword, ast.Dict, ast.List, ast.Tuple, ast.Set)


def _comparisons(node: ast.AST) -> Iterator[tuple[ast.expr, ast.expr]]:
    """(left, right) of ``a == b`` comparisons, of assert-style calls and of comparison
    helpers asserted true (``assert _compare_conversations(output, expected)``)."""
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        if isinstance(node.ops[0], (ast.Eq, ast.NotEq, ast.In, ast.NotIn)):
            yield node.left, node.comparators[0]
    elif isinstance(node, ast.Call) and len(node.args) >= 2:
        name = ast.unparse(node.func)
        if ASSERT_CALLS.search(name):
            yield node.args[0], node.args[1]
    elif isinstance(node, ast.Assert) and isinstance(node.test, ast.Call):
        call = node.test
        if len(call.args) >= 2 and COMPARE_HELPER.search(ast.unparse(call.func)):
            yield call.args[0], call.args[1]


def _names(text: str, name: str) -> bool:
    """Whether source ``text`` mentions the name ``name`` (as a whole word)."""
    return re.search(rf"\b{re.escape(name)}\b", text) is not None


def _echo_shape(node: ast.AST) -> bool:
    """A value a test may write and get back: a string, a list or a tuple."""
    return isinstance(node, (ast.List, ast.Tuple)) or (
        isinstance(node, ast.Constant) and isinstance(node.value, str)
    )


def _field_name(name: str) -> bool:
    """A field of a result that does not hold generated text."""
    return bool(NOT_TEXT_FIELD.search(name)) or not TEXT_FIELD.search(name)


def _first_token(node: ast.AST) -> ast.Attribute | None:
    """The ``<x>.eos_token_id`` that starts a sequence: first of a tuple or list with more
    after it, or what ``.insert(0, ...)`` puts in front (itself or a 1-tuple/list of it)."""
    first: ast.AST | None = None
    if isinstance(node, (ast.Tuple, ast.List)) and len(node.elts) > 1:
        first = node.elts[0]
    elif (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "insert"
        and len(node.args) == 2
        and _int(node.args[0]) == 0
    ):
        first = next(
            (
                n
                for n in walk(node.args[1])
                if isinstance(n, ast.Attribute) and n.attr == "eos_token_id"
            ),
            None,
        )
    if isinstance(first, ast.Attribute) and first.attr == "eos_token_id":
        return first
    return None


def _other_rows(values: list[ast.expr]) -> str:
    """What a column's one finding says of the values it stands for after the first."""
    if len(values) == 1:
        return ""
    lines = sorted({v.lineno for v in values[1:]} - {values[0].lineno})
    where = f" (lines {', '.join(map(str, lines))})" if lines else ""
    return f"; the same for {len(values) - 1} more row(s) of this column{where}"


def _uses_param(node: ast.AST, param: str) -> bool:
    """``node`` is a call handed ``param`` or a comparison with it."""
    if isinstance(node, ast.Call):
        sides = [*node.args, *(k.value for k in node.keywords)]
    elif isinstance(node, ast.Compare):
        sides = [node.left, *node.comparators]
    else:
        return False
    return any(isinstance(side, ast.Name) and side.id == param for side in sides)


def _measured(node: ast.expr) -> bool:
    """An expected value that holds a measurement: a float, an int other than 0 and 1, or
    text that is not a dict key."""
    keys = {id(k) for d in walk(node) if isinstance(d, ast.Dict) for k in d.keys if k}
    for n in walk(node):
        if isinstance(n, ast.Constant) and id(n) not in keys:
            if type(n.value) is float or (type(n.value) is int and n.value not in (0, 1)):
                return True
            if isinstance(n.value, str) and n.value.strip():
                return True
    return False


def _last_name(node: ast.AST) -> str:
    """The name an expression ends in: ``tokens.batch_size[0]`` -> ``batch_size``,
    ``count_tokens(...)`` -> ``count_tokens``."""
    while isinstance(node, (ast.Subscript, ast.Call)):
        node = node.value if isinstance(node, ast.Subscript) else node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def _text(node: ast.AST) -> str:
    return ast.unparse(node)


def _is_length(other: str) -> bool:
    return ("len(" in other or ".shape" in other or ".size(" in other) and bool(
        LENGTH_SUBJECT.search(other)
    )


def _is_shape(other: str) -> bool:
    return other.endswith(".shape") or ".size()" in other


def _int_list(node: ast.expr) -> list[int] | None:
    """The ints of a literal list/tuple (``torch.tensor([...])`` too), nested lists flattened."""
    if isinstance(node, ast.Call) and node.args and _text(node.func).endswith("tensor"):
        node = node.args[0]
    if not isinstance(node, (ast.List, ast.Tuple)) or not node.elts:
        return None
    values: list[int] = []
    for elt in node.elts:
        if isinstance(elt, (ast.List, ast.Tuple)):
            inner = _int_list(elt)
            if inner is None:
                return None
            values.extend(inner)
        else:
            value = _int(elt)
            if value is None:
                return None
            values.append(value)
    return values


def _int(node: ast.AST) -> int | None:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _int(node.operand)
        return -inner if inner is not None else None
    return None


def _anchor(objs: Objects, node: ast.AST) -> ast.AST:
    return next(a for a in [node, *objs.found.ancestors(node)] if isinstance(a, ast.stmt))


def _own_value_message(other: str) -> str:
    return (
        f"asserts GPT2's own value of {other}: pin the target's value (see its tokenizer "
        "config) or drop the assertion"
    )


def _list_message(values: list[int]) -> str:
    if -100 in values:
        kind = "label list with -100"
    elif set(values) <= {0, 1}:
        kind = "attention mask whose length follows GPT2's tokenization"
    else:
        kind = "token ids"
    return (
        f"{kind} computed with GPT2's tokenizer: re-measure with the target's tokenizer "
        "(tokenize the same input and paste the result, or compute it in the test)"
    )


def _computed_message(call: ast.Call, what: str) -> str:
    return (
        f"{what} computed by {_text(call.func)}() (line {call.lineno}) with GPT2's tokenizer "
        "or model: the target splits text differently; re-measure it with the target (run "
        "the test once and take the new value)"
    )


LENGTH_MESSAGE = (
    "length measured with GPT2's tokenization: re-measure with the target's "
    "tokenizer (run the test once and take the new value)"
)
CHUNKS_MESSAGE = (
    "token count of the data measured with GPT2's tokenizer (divided by a length to count "
    "chunks): re-measure it with the target's tokenizer (run the test once and take the new "
    "value)"
)
PARAMS_MESSAGE = (
    "parameter count measured on GPT2: re-measure with the target model "
    "(run the test once, or sum(p.numel() for p in model.parameters()))"
)
VOCAB_MESSAGE = (
    "50257 is GPT2's vocabulary size: use len(<tokenizer>) or <model>.config.vocab_size of "
    "the target (they differ: the target's vocabulary is another size)"
)
DECODED_MESSAGE = (
    "decoded text of a GPT2 generation: the target generates different text; assert "
    "on structure (type, length > 0, prefix) or re-record it with the target"
)


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
