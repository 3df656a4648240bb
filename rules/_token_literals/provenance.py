"""Where a compared value comes from: computed with the migrated binding, echoed, fed in."""

from __future__ import annotations

import ast
from collections import Counter
from collections.abc import Callable
from functools import cached_property

from .._analysis.expected import literal_value
from .._analysis.tree import walk
from .patterns import INPUT_POSITIONS, PACKED
from .scope import TestScope
from .shapes import (
    echo_shape,
    int_value,
    last_name,
    length_text,
    mentions_word,
    non_text_field,
    source_of,
)


class Provenance(TestScope):
    """Where the values a test compares come from."""

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
                and not last_name(node)[:1].isupper()
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
            if isinstance(other, ast.Call) and source_of(other.func) == "len" and other.args
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
                    number = int_value(value) if value is not None else None
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
        return isinstance(name, ast.Name) and mentions_word(self._source(other), name.id)

    def _field_value(self, other: ast.expr) -> bool:
        """``result.metadata.get("finish_reason")``, ``out["status"]``, ``detail.
        error_message``: a field of the result that is not its text (an enum-like value such
        as "length" or "stop", an error)."""
        if isinstance(other, ast.Name):
            bound = self.values.get(other.id, [])
            other = bound[0] if len(bound) == 1 else other
        if isinstance(other, ast.Call) and source_of(other.func).endswith(".get") and other.args:
            name = other.args[0]
        elif isinstance(other, ast.Subscript):
            name = other.slice
        elif isinstance(other, ast.Attribute):
            return non_text_field(other.attr)
        else:
            return False
        return (
            isinstance(name, ast.Constant)
            and isinstance(name.value, str)
            and non_text_field(name.value)
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
        if not echo_shape(literal):
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
            id(n): ast.dump(n) for n in walk(self.func) if echo_shape(n) and not self._asserting(n)
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
            and "assert" in source_of(statement.value.func).lower()
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
        parts = [source_of(node)]
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
        other = self._number(other, length_text)
        counted = (
            other.args[0]
            if isinstance(other, ast.Call)
            and source_of(other.func) == "len"
            and len(other.args) == 1
            else None
        )
        if counted is not None and PACKED.search(self._source(counted)):
            return True  # samples of a dataset packed or chunked to a length: token counts
        if not length_text(source_of(other)):
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
            if len(bound) != 1 or not looks(source_of(bound[0])):
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
