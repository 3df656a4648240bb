"""One test function that uses a migrated tokenizer or model, judged comparison by comparison."""

from __future__ import annotations

import ast

from migrator.context import RuleContext

from .._analysis.expected import expected_text, literal_value, local_values
from .._analysis.labels import parametrize_columns
from .._analysis.objects import Objects
from .._analysis.tree import walk
from .patterns import (
    CHUNKS_MESSAGE,
    DECODED,
    DECODED_MESSAGE,
    EOS_ID,
    EOS_TEXT,
    EXPECTED_PARAM,
    GENERATION,
    LENGTH_MESSAGE,
    MOCKED,
    PARAMS_MESSAGE,
    PARAMS_SUBJECT,
    REQUESTED,
    TOKEN_COUNT,
    TOKEN_IDS,
    VOCAB_MESSAGE,
    VOCAB_SIZE,
)
from .provenance import Provenance
from .shapes import (
    comparisons,
    computed_message,
    echo_shape,
    first_token,
    holds_measurement,
    int_list,
    int_value,
    last_name,
    list_message,
    mentions_word,
    other_rows,
    shape_text,
    source_of,
    uses_param,
)
from .special import SpecialTokens


class Test(Provenance, SpecialTokens):
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
            for actual, expected in comparisons(node):
                if self._about_other_model(actual) or self._about_other_model(expected):
                    continue
                self.containment = isinstance(node, ast.Compare) and isinstance(
                    node.ops[0], (ast.In, ast.NotIn)
                )
                self._pair(expected, actual)
                self._pair(actual, expected)
            if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice):
                self._slicing(node)
            if first := first_token(node):
                self._eos_first(first)
        for param in self.columns:
            if EXPECTED_PARAM.search(param) and param not in self.judged:
                self._handed_over(param)
        for node in self.own:
            if isinstance(node, ast.Constant) and id(node) not in self.done:
                if isinstance(node.value, str):
                    self._appended_eos(node)
                elif int_value(node) == EOS_ID and self._in_assertion(node):
                    self._unknown_eos(node)
                elif int_value(node) == VOCAB_SIZE:
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
                echo_shape(cell)
                and any(ast.dump(c) == ast.dump(cell) for c in row if c is not cell)
            ):
                continue  # the row's own input given back: what it was, whatever the model
            self.row = [c for c in row if c is not cell]
            self._judge(cell, other, fixable=False)
            self.row = None
        self.via, self.collected = None, None
        if found:
            first, message = found[0]
            self._review(first, message + other_rows([node for node, _ in found]))
            self.done.update(id(node) for node, _ in found)
            self.judged.add(name.id)

    def _handed_over(self, param: str) -> None:
        """``expected_results`` given by the rows that also give the migrated id, handed to
        a checking helper (``_validate(expected_results=expected_results, ...)``): the
        scores, counts and texts in it were measured with GPT2."""
        check = next((n for n in self.own if uses_param(n, param)), None)
        if not isinstance(check, (ast.Call, ast.Compare)):
            return
        of = self.objs.found.binding_set.of
        measured = [
            cell
            for cell, row in self.columns[param]
            if holds_measurement(cell)
            and any(id(n) in of and of[id(n)].decision == "migrate" for c in row for n in walk(c))
        ]
        if measured:
            by = f" by {source_of(check.func)}()" if isinstance(check, ast.Call) else ""
            message = (
                f"{param}: measured with GPT2 (the same parametrize row gives the migrated id) "
                f"and checked{by} on line {check.lineno}: re-measure it with the target (run "
                "the test once and take the new values)"
            )
            self._review(measured[0], message + other_rows(measured))

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
        value = int_value(literal)
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
        elif self._is_length(other) and (int_list(literal) is not None or value is not None):
            if value not in (0, 1) and value not in self.requested:
                self._review(literal, LENGTH_MESSAGE)
        elif (values := int_list(literal)) is not None and shape_text(source_of(other)):
            # (batch, length): the batch is the inputs' count; a length the test requested
            # (max_length=15) is not GPT2's tokenization either.
            if any(v not in (0, 1) and v not in self.requested for v in values[1:] or values):
                self._review(literal, LENGTH_MESSAGE)
        elif (values := int_list(literal)) is not None and (
            (len(values) >= 2 and self.direct) or TOKEN_IDS.search(other_text)
        ):
            self._review(literal, list_message(values))
        elif value is not None and value not in (0, 1):
            if PARAMS_SUBJECT.search(source_of(self._number(other, PARAMS_SUBJECT.search))):
                self._review(literal, PARAMS_MESSAGE)
            elif TOKEN_IDS.search(source_of(self._number(other, TOKEN_IDS.search))):
                self._review(literal, list_message([value]))
            elif TOKEN_COUNT.search(f"{last_name(other)} {self._via_name}") and (
                call := self._computed_with(other)
            ):
                self._review(literal, computed_message(call, "token count"))
        elif (decoded := bool(DECODED.search(other_text) or GENERATION.search(other_text))) or (
            not self.containment
            and literal_value(literal, self.values)
            and (computed := self._computed_with(other)) is not None
        ):
            inputs = self._source(other)

            def skip(node: ast.Constant | ast.Name) -> bool:
                if isinstance(node, ast.Name):
                    return mentions_word(inputs, node.id)
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
                    message = computed_message(computed, "text")
                self._review(text, message + where)
