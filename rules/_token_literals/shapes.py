"""Pure helpers on expressions and values for ``token-literals``."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from .._analysis.expected import NOT_TEXT_FIELD
from .._analysis.objects import Objects
from .._analysis.tree import walk
from .patterns import ASSERT_CALLS, COMPARE_HELPER, LENGTH_SUBJECT, TEXT_FIELD


def comparisons(node: ast.AST) -> Iterator[tuple[ast.expr, ast.expr]]:
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


def mentions_word(text: str, name: str) -> bool:
    """Whether source ``text`` mentions the name ``name`` (as a whole word)."""
    return re.search(rf"\b{re.escape(name)}\b", text) is not None


def echo_shape(node: ast.AST) -> bool:
    """A value a test may write and get back: a string, a list or a tuple."""
    return isinstance(node, (ast.List, ast.Tuple)) or (
        isinstance(node, ast.Constant) and isinstance(node.value, str)
    )


def non_text_field(name: str) -> bool:
    """A field of a result that does not hold generated text."""
    return bool(NOT_TEXT_FIELD.search(name)) or not TEXT_FIELD.search(name)


def first_token(node: ast.AST) -> ast.Attribute | None:
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
        and int_value(node.args[0]) == 0
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


def other_rows(values: list[ast.expr]) -> str:
    """What a column's one finding says of the values it stands for after the first."""
    if len(values) == 1:
        return ""
    lines = sorted({v.lineno for v in values[1:]} - {values[0].lineno})
    where = f" (lines {', '.join(map(str, lines))})" if lines else ""
    return f"; the same for {len(values) - 1} more row(s) of this column{where}"


def uses_param(node: ast.AST, param: str) -> bool:
    """``node`` is a call handed ``param`` or a comparison with it."""
    if isinstance(node, ast.Call):
        sides = [*node.args, *(k.value for k in node.keywords)]
    elif isinstance(node, ast.Compare):
        sides = [node.left, *node.comparators]
    else:
        return False
    return any(isinstance(side, ast.Name) and side.id == param for side in sides)


def holds_measurement(node: ast.expr) -> bool:
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


def last_name(node: ast.AST) -> str:
    """The name an expression ends in: ``tokens.batch_size[0]`` -> ``batch_size``,
    ``count_tokens(...)`` -> ``count_tokens``."""
    while isinstance(node, (ast.Subscript, ast.Call)):
        node = node.value if isinstance(node, ast.Subscript) else node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def source_of(node: ast.AST) -> str:
    return ast.unparse(node)


def length_text(other: str) -> bool:
    return ("len(" in other or ".shape" in other or ".size(" in other) and bool(
        LENGTH_SUBJECT.search(other)
    )


def shape_text(other: str) -> bool:
    return other.endswith(".shape") or ".size()" in other


# Calls that make an array of the list they are given.
ARRAY = re.compile(r"(^|\.)(tensor|as_tensor|array|asarray|LongTensor|IntTensor|constant)$")


def int_list(node: ast.expr) -> list[int] | None:
    """The ints of a literal list/tuple, nested lists flattened; also of one given to an
    array constructor (``torch.tensor([...])``, ``np.array([[...]])``, ``tf.constant``)."""
    if isinstance(node, ast.Call) and node.args and ARRAY.search(source_of(node.func)):
        node = node.args[0]
    if not isinstance(node, (ast.List, ast.Tuple)) or not node.elts:
        return None
    values: list[int] = []
    for elt in node.elts:
        if isinstance(elt, (ast.List, ast.Tuple)):
            inner = int_list(elt)
            if inner is None:
                return None
            values.extend(inner)
        else:
            value = int_value(elt)
            if value is None:
                return None
            values.append(value)
    return values


def int_value(node: ast.AST) -> int | None:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = int_value(node.operand)
        return -inner if inner is not None else None
    return None


def anchor_statement(objs: Objects, node: ast.AST) -> ast.AST:
    return next(a for a in [node, *objs.found.ancestors(node)] if isinstance(a, ast.stmt))


def own_value_message(other: str) -> str:
    return (
        f"asserts GPT2's own value of {other}: pin the target's value (see its tokenizer "
        "config) or drop the assertion"
    )


def list_message(values: list[int]) -> str:
    if -100 in values:
        kind = "label list with -100"
    elif set(values) <= {0, 1}:
        kind = "attention mask (its length is GPT2's token count)"
    else:
        kind = "token ids"
    return (
        f"{kind} computed with GPT2's tokenizer: re-measure with the target's tokenizer "
        "(tokenize the same input and paste the result, or compute it in the test)"
    )


def computed_message(call: ast.Call, what: str) -> str:
    return (
        f"{what} computed by {source_of(call.func)}() (line {call.lineno}) with GPT2's tokenizer "
        "or model: the target splits text differently; re-measure it with the target (run "
        "the test once and take the new value)"
    )
