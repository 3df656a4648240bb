"""The LibCST side of the rules' edits.

A rule decides on the ``ast`` and hands ``RuleContext.fix`` a rewrite of the LibCST twin of a
node. Every rewrite here is a module-level function taking plain data first and the LibCST
node last, bound by the rule with ``functools.partial``: an edit is then plain, picklable data.
That lets the runner decide edits in worker processes that never import libcst, while the main
process imports it, and apply them in processes that have it (see ``migrator/runner.py``).
For the same reason libcst is imported inside the functions, not when this module loads.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    import libcst as cst

T = TypeVar("T")

# For one imported GPT2 name: the Auto class to import in its place (None: already imported),
# and whether the GPT2 name itself stays (still used elsewhere).
ImportPlan = tuple[str | None, bool]


def string_literal(raw: str, value: str) -> str:
    """``raw`` (a string literal's source) with its content replaced by ``value``."""
    prefix_len = len(raw) - len(raw.lstrip("rRbBuUfF"))
    body = raw[prefix_len:]
    quote = body[:3] if body[:3] in ('"""', "'''") else body[0]
    return f"{raw[:prefix_len]}{quote}{value}{quote}"


def set_string(value: str, node: cst.CSTNode) -> cst.CSTNode:
    """A simple string literal with new content, same prefix and quotes."""
    import libcst as cst

    assert isinstance(node, cst.SimpleString)
    return node.with_changes(value=string_literal(node.value, value))


def whole_string(value: str, node: cst.CSTNode) -> cst.CSTNode:
    """A literal whose whole value is replaced: a plain string keeps its prefix and quotes; an
    implicit concatenation becomes one literal in its place; a placeholder-free f-string keeps
    its ``f``."""
    import libcst as cst

    if isinstance(node, cst.SimpleString):
        return set_string(value, node)
    if isinstance(node, cst.ConcatenatedString):
        first: cst.CSTNode = node
        while isinstance(first, cst.ConcatenatedString):
            first = first.left
        quote = first.value if isinstance(first, cst.SimpleString) else '""'
        plain = quote.lstrip("fFrRbBuU")
        return cst.SimpleString(string_literal(plain, value), lpar=node.lpar, rpar=node.rpar)
    return sub_in_string_node(node, lambda _text: value)


def sub_tokens(
    pattern: re.Pattern[str], targets: Mapping[str, str], node: cst.CSTNode
) -> cst.CSTNode:
    """Each match of ``pattern`` (group 1: a source id) in the literal text of a string node
    becomes its target."""
    return sub_in_string_node(node, lambda text: pattern.sub(lambda m: targets[m.group(1)], text))


def sub_in_string_node(node: cst.CSTNode, replace: Callable[[str], str]) -> cst.CSTNode:
    """Apply ``replace`` to the literal text of a string node: a plain string's source, each
    part of an implicit concatenation, and the literal (non-``{}``) parts of an f-string."""
    import libcst as cst

    if isinstance(node, cst.SimpleString):
        return node.with_changes(value=replace(node.value))
    if isinstance(node, cst.ConcatenatedString):
        return node.with_changes(
            left=sub_in_string_node(node.left, replace),
            right=sub_in_string_node(node.right, replace),
        )
    if isinstance(node, cst.FormattedString):
        return node.with_changes(
            parts=[
                p.with_changes(value=replace(p.value))
                if isinstance(p, cst.FormattedStringText)
                else p
                for p in node.parts
            ]
        )
    return node


def auto_class(auto: str, node: cst.CSTNode) -> cst.CSTNode:
    """``<GPT2 class>.from_pretrained(...)`` -> ``<auto>.from_pretrained(...)``; a dotted owner
    (``transformers.GPT2LMHeadModel``) keeps its module."""
    import libcst as cst

    assert isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute)
    owner = node.func.value
    if isinstance(owner, cst.Attribute):
        owner = owner.with_changes(attr=cst.Name(auto))
    else:
        owner = cst.Name(auto)
    return node.with_changes(func=node.func.with_changes(value=owner))


def auto_imports(
    wanted: Mapping[str, ImportPlan], node: cst.CSTNode
) -> cst.CSTNode | cst.RemovalSentinel:
    """Edit ``from transformers import ...`` in place, keeping its layout (see auto-classes)."""
    import libcst as cst

    assert isinstance(node, cst.ImportFrom) and not isinstance(node.names, cst.ImportStar)
    names: list[cst.ImportAlias] = []
    for alias in node.names:
        local = alias.evaluated_alias or alias.evaluated_name
        auto, keep = wanted.get(local, (None, True))
        if keep:
            names.append(alias)
        if auto is not None:
            if keep:  # the Auto name goes right after it
                names[-1] = names[-1].with_changes(comma=_separator(alias))
            names.append(cst.ImportAlias(cst.Name(auto), comma=alias.comma))
    if not names:  # every name was replaced by an Auto name imported elsewhere
        return cst.RemovalSentinel.REMOVE
    # The last name keeps the statement's own ending (a trailing comma or none).
    names[-1] = names[-1].with_changes(comma=node.names[-1].comma)
    return node.with_changes(names=names)


def _separator(alias: cst.ImportAlias) -> cst.Comma:
    """The comma after ``alias``, or ``", "`` when it was the last name."""
    import libcst as cst

    if isinstance(alias.comma, cst.Comma):
        return alias.comma
    return cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))


def keyword_value(keyword: str, code: str, node: cst.CSTNode) -> cst.CSTNode:
    """The value of keyword argument ``keyword`` of a call becomes the expression ``code``."""
    import libcst as cst

    assert isinstance(node, cst.Call)
    new = cst.parse_expression(code)
    args = [
        a.with_changes(value=new) if a.keyword is not None and a.keyword.value == keyword else a
        for a in node.args
    ]
    return node.with_changes(args=args)


def drop_keyword(keyword: str, node: cst.CSTNode) -> cst.CSTNode:
    """Keyword argument ``keyword`` of a call goes; the comma style of the last argument is
    kept (a trailing comma stays trailing, none stays none)."""
    import libcst as cst

    assert isinstance(node, cst.Call)
    args = list(node.args)
    index = next(
        i for i, a in enumerate(args) if a.keyword is not None and a.keyword.value == keyword
    )
    gone = args.pop(index)
    if index == len(args) and args:  # it was the last one: the new last takes its comma
        args[-1] = args[-1].with_changes(
            comma=gone.comma, whitespace_after_arg=gone.whitespace_after_arg
        )
    return node.with_changes(args=args)


def dict_value(key: str, code: str, node: cst.CSTNode) -> cst.CSTNode:
    """The value of the string key ``key`` in a dict display becomes the expression ``code``."""
    import libcst as cst

    assert isinstance(node, cst.Dict)
    new = cst.parse_expression(code)
    elements = [
        e.with_changes(value=new)
        if isinstance(e, cst.DictElement)
        and isinstance(e.key, cst.SimpleString)
        and e.key.evaluated_value == key
        else e
        for e in node.elements
    ]
    return node.with_changes(elements=elements)


# -- layout: what a long id does to the lines around it (see model-id) -------------------


def line_width(text: str) -> int:
    """Columns of one line as the formatters count them: a tab indents by four, trailing
    whitespace (which they strip) does not count."""
    return len(text.rstrip().expandtabs(4))


def name(identifier: str, node: cst.CSTNode) -> cst.CSTNode:
    """An expression replaced by a name (parentheses around it are kept)."""
    import libcst as cst

    return cst.Name(identifier, lpar=getattr(node, "lpar", ()), rpar=getattr(node, "rpar", ()))


def insert_first(code: str, node: cst.CSTNode) -> cst.CSTNode:
    """A function with the statement ``code`` first in its body, after a docstring and after
    the comment lines that open the body. The new line takes the body's indentation and the
    file's line ending."""
    import libcst as cst

    assert isinstance(node, (cst.FunctionDef)) and isinstance(node.body, cst.IndentedBlock)
    statements = list(node.body.body)
    first = statements[0] if statements else None
    docstring = (
        isinstance(first, cst.SimpleStatementLine)
        and isinstance(first.body[0], cst.Expr)
        and isinstance(first.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )
    at = 1 if docstring else 0
    new = cst.parse_statement(code + "\n")
    following = statements[at] if at < len(statements) else None
    if isinstance(following, (cst.SimpleStatementLine, cst.BaseCompoundStatement)) and (
        following.leading_lines
    ):
        # Comments that open the body read like a docstring: they stay first.
        new = new.with_changes(leading_lines=following.leading_lines)
        statements[at] = following.with_changes(leading_lines=[])
    statements.insert(at, new)
    return node.with_changes(body=node.body.with_changes(body=statements))


def wrap_call(indent: str, unit: str, limit: int, node: cst.CSTNode) -> cst.CSTNode:
    """A one-line call with its arguments on their own lines, as black splits it: all on one
    line indented by ``unit`` below ``indent`` (the call's line) when that fits in ``limit``,
    else one per line with a trailing comma; the closing parenthesis back at ``indent``.
    Measured here, after the other edits inside the call are applied."""
    import libcst as cst

    assert isinstance(node, cst.Call)
    if not node.args:
        return node
    inner = indent + unit
    rendered = cst.Module(body=[]).code_for_node
    last = node.args[-1]
    one_line = "".join(rendered(a) for a in node.args).rstrip()
    if not isinstance(last.comma, cst.Comma) and line_width(inner + one_line) <= limit:
        return node.with_changes(
            whitespace_before_args=_break(inner),
            args=[*node.args[:-1], last.with_changes(whitespace_after_arg=_break(indent))],
        )
    node = node.with_changes(args=_split_long(node.args, inner, unit, limit))
    last = node.args[-1]
    # A bare generator argument takes no trailing comma (``f(x for x in y,)`` is invalid).
    bare_generator = isinstance(last.value, cst.GeneratorExp) and not last.value.lpar
    args = []
    for position, arg in enumerate(node.args):
        final = position == len(node.args) - 1
        if final and bare_generator:
            args.append(
                arg.with_changes(
                    comma=cst.MaybeSentinel.DEFAULT, whitespace_after_arg=_break(indent)
                )
            )
            continue
        comma = cst.Comma(
            whitespace_before=cst.SimpleWhitespace(""),
            whitespace_after=_break(indent if final else inner),
        )
        args.append(arg.with_changes(comma=comma, whitespace_after_arg=cst.SimpleWhitespace("")))
    return node.with_changes(whitespace_before_args=_break(inner), args=args)


def wrap_display(indent: str, unit: str, limit: int, node: cst.CSTNode) -> cst.CSTNode:
    """A one-line list, set, dict or parenthesized tuple with one element per line and a
    trailing comma, the closing bracket back at ``indent``: how black splits a collection
    that does not fit; an element still over ``limit`` on its line is split the same way."""
    import libcst as cst

    inner = indent + unit
    elements = _split_long(list(getattr(node, "elements", [])), inner, unit, limit)
    if not elements:
        return node
    out = []
    for position, element in enumerate(elements):
        final = position == len(elements) - 1
        comma = cst.Comma(
            whitespace_before=cst.SimpleWhitespace(""),
            whitespace_after=_break(indent if final else inner),
        )
        out.append(element.with_changes(comma=comma))
    if isinstance(node, cst.Tuple):
        lpar, rpar = node.lpar[0], node.rpar[-1]
        return node.with_changes(
            lpar=[*node.lpar[:-1], lpar.with_changes(whitespace_after=_break(inner))],
            rpar=[rpar.with_changes(whitespace_before=cst.SimpleWhitespace("")), *node.rpar[1:]],
            elements=out,
        )
    if isinstance(node, cst.List):
        opening, closing = "lbracket", "rbracket"
    elif isinstance(node, (cst.Set, cst.Dict)):
        opening, closing = "lbrace", "rbrace"
    else:
        return node
    return node.with_changes(
        **{
            opening: getattr(node, opening).with_changes(whitespace_after=_break(inner)),
            closing: getattr(node, closing).with_changes(
                whitespace_before=cst.SimpleWhitespace("")
            ),
        },
        elements=out,
    )


def on_value(rewrite: Callable[[cst.CSTNode], cst.CSTNode], node: cst.CSTNode) -> cst.CSTNode:
    """An assignment with ``rewrite`` applied to its value."""
    return node.with_changes(value=rewrite(node.value))  # type: ignore[attr-defined]


def _split_long(elements: Sequence[T], inner: str, unit: str, limit: int) -> list[T]:
    """Elements (arguments, display elements) whose line at ``inner`` would be over
    ``limit``, with their value split one level deeper when it is a call or a display."""
    import libcst as cst

    rendered = cst.Module(body=[]).code_for_node
    out = []
    for element in elements:
        value = element.value  # type: ignore[attr-defined]
        line = inner + rendered(element.with_changes(comma=cst.MaybeSentinel.DEFAULT))  # type: ignore[attr-defined]
        if line_width(line + ",") > limit:
            if isinstance(value, cst.Call):
                value = wrap_call(inner, unit, limit, value)
            elif isinstance(value, (cst.List, cst.Set, cst.Dict)) or (
                isinstance(value, cst.Tuple) and value.lpar
            ):
                value = wrap_display(inner, unit, limit, value)
            element = element.with_changes(value=value)  # type: ignore[attr-defined]
        out.append(element)
    return out


def _break(indent: str) -> cst.ParenthesizedWhitespace:
    """A line break inside brackets (in the file's own line ending), then ``indent``."""
    import libcst as cst

    return cst.ParenthesizedWhitespace(indent=False, last_line=cst.SimpleWhitespace(indent))
