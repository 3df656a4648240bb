"""Layout of model-id's rewrites: lines that a long target id pushes past the project's line
length are laid out as maintainers do (a local ``model_id``, or brackets split black style).

``lay_out`` is model-id's last step: it replaces the whole-value literals it is given and
returns what it replaced; see the model-id docstring for the behaviour.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from functools import partial

from migrator.context import RuleContext, Where

from . import _cst
from ._analysis import analysis
from ._analysis.tree import walk


def replace_whole(ctx: RuleContext, node: ast.expr, target: str, message: str, source: str) -> bool:
    """Replace a literal whose whole value is a source id: a plain string keeps its prefix and
    quotes; an implicit concatenation that spells the id becomes one literal in its place;
    a placeholder-free f-string keeps its ``f``."""
    return ctx.fix(node, message, node, partial(_cst.whole_string, target), source_id=source)


HOISTED = "model_id"
# A plain one-token literal: what a local name can stand for (no concatenation, no f-string).
_PLAIN = re.compile(r"[rRuU]?(\"\"\"|'''|\"|')(.*)\1", re.DOTALL)
_INTROSPECTION = frozenset({"locals", "vars", "exec", "eval"})
_PRAGMA = re.compile(r"#\s*(noqa|type:|pyright:|ruff:|fmt:|isort:|pragma\b|migrate-tests:)")
# What may follow a call that is split: closing brackets, a comma or colon, a comment.
_CLOSING = re.compile(r"[\s)\]},:]*(#.*)?")
_Function = ast.FunctionDef | ast.AsyncFunctionDef


def lay_out(
    ctx: RuleContext,
    wholes: list[tuple[ast.Constant, str, str]],
    rewritten: list[tuple[ast.expr, str]],
) -> dict[int, str]:
    """Replace the literals of ``wholes`` by their targets, keeping the lines that grow
    within the project's line length: (1) an id given two or more times as an argument in
    one function goes through a local ``model_id`` set first in the function; (2) else the
    one-line call or display ending the long line is split, black style; (3) else the line
    stays long. A line that was over the limit already is left as it was. Returns the
    literals replaced (id -> target)."""
    source = ctx.source
    active = []
    for node, value, target in wholes:
        if source.directives.ignored(ctx.rule, node.lineno, node.end_lineno or node.lineno):
            replace_whole(ctx, node, target, f"{value!r} -> {target!r}", value)  # counts the ignore
        else:
            active.append((node, value, target))
    new = {id(node): _new_literal(ctx, node, target) for node, _, target in active}
    edits = [(node, new[id(node)]) for node, _, _ in active] + rewritten
    limit = ctx.line_length
    long = _long_lines(ctx, edits, limit)
    hoists: dict[int, tuple[_Function, str]] = {}  # id(function) -> (function, statement)
    hoisted: set[int] = set()
    if long:
        for func, nodes, statement in _hoists(ctx, active, long):
            hoists[id(func)] = (func, statement)
            hoisted.update(id(n) for n in nodes)
        if hoisted:
            edits = [(n, HOISTED if id(n) in hoisted else text) for n, text in edits]
            long = _long_lines(ctx, edits, limit)
    migrated: dict[int, str] = {}
    for node, value, target in active:
        if id(node) in hoisted:
            message = f"{value!r} -> {target!r}, through the local {HOISTED}"
            ctx.fix(node, message, node, partial(_cst.name, HOISTED), source_id=value)
        else:
            replace_whole(ctx, node, target, f"{value!r} -> {target!r}", value)
        ctx.record_migration(value, target)
        migrated[id(node)] = target
    for func, statement in hoists.values():
        where = Where(func.lineno, func.col_offset, func.lineno, func.col_offset)
        message = (
            f"{statement} added at the top of {func.name}: the id it replaces appears several "
            f"times there and a line would exceed the line length ({limit})"
        )
        ctx.fix(where, message, func, partial(_cst.insert_first, statement))
    for bracket, width in _wraps(ctx, edits, long, limit):
        indent = re.match(r"[ \t]*", source.lines[bracket.lineno - 1])
        assert indent is not None
        kind = "call" if isinstance(bracket, ast.Call) else type(bracket).__name__.lower()
        message = f"{kind} split over lines: with the new id its line would be {width} > {limit}"
        wrap = _cst.wrap_call if isinstance(bracket, ast.Call) else _cst.wrap_display
        rewrite = partial(wrap, indent.group(), _indent_unit(ctx), limit)
        assigned = _assigned(ctx, bracket) if isinstance(bracket, ast.Tuple) else None
        if assigned is not None:  # a tuple is addressed through its statement
            ctx.fix(bracket, message, assigned, partial(_cst.on_value, rewrite))
        else:
            ctx.fix(bracket, message, bracket, rewrite)
    return migrated


def _new_literal(ctx: RuleContext, node: ast.Constant, target: str) -> str:
    """The source ``_cst.whole_string`` gives ``node`` (one literal, in the first part's quotes)."""
    segment = ctx.source.segment(node)
    if _PLAIN.fullmatch(segment):
        return _cst.string_literal(segment, target)
    quote = re.search(r"['\"]", segment)
    return _cst.string_literal(quote.group() * 2 if quote else '""', target)


def _long_lines(ctx: RuleContext, edits: list[tuple[ast.expr, str]], limit: int) -> dict[int, int]:
    """Lines that the edits (node, its new source) take over ``limit``, with their new width.
    Only one-line nodes are measured (a multi-line string keeps its own layout), and a
    trailing pragma comment (``# noqa``, ``# migrate-tests: ignore``) is not counted, as
    ruff does not count it."""
    by_line = _by_line(edits)
    long = {}
    for line in by_line:
        old = ctx.source.lines[line - 1].rstrip("\r\n")
        new = _rewritten(ctx, by_line, line, 0, len(old.encode("utf-8")))
        for comment_line, col, text in ctx.source.comments:
            if comment_line == line and _PRAGMA.match(text):
                old, new = old[:col].rstrip(), new[: col + len(new) - len(old)].rstrip()
        if _cst.line_width(old) <= limit < _cst.line_width(new):
            long[line] = _cst.line_width(new)
    return long


def _by_line(edits: list[tuple[ast.expr, str]]) -> dict[int, list[tuple[ast.expr, str]]]:
    by_line: dict[int, list[tuple[ast.expr, str]]] = {}
    for node, text in edits:
        if node.end_lineno == node.lineno:
            by_line.setdefault(node.lineno, []).append((node, text))
    return by_line


def _rewritten(
    ctx: RuleContext,
    by_line: dict[int, list[tuple[ast.expr, str]]],
    line: int,
    start: int,
    end: int,
) -> str:
    """Bytes ``start:end`` of ``line`` as they read once the edits on them are made."""
    piece = ctx.source.lines[line - 1].encode("utf-8")[start:end]
    inside = [
        (node, text)
        for node, text in by_line.get(line, [])
        if start <= node.col_offset and (node.end_col_offset or 0) <= end
    ]
    for node, text in sorted(inside, key=lambda change: -change[0].col_offset):
        low, high = node.col_offset - start, (node.end_col_offset or 0) - start
        piece = piece[:low] + text.encode("utf-8") + piece[high:]
    return piece.decode("utf-8")


def _hoists(
    ctx: RuleContext, active: list[tuple[ast.Constant, str, str]], long: dict[int, int]
) -> list[tuple[_Function, list[ast.Constant], str]]:
    """Per function with a long line: the id (given as an argument two or more times in its
    body) that a local ``model_id`` replaces, the literals it replaces, and its assignment."""
    groups: dict[tuple[int, str], list[ast.Constant]] = {}
    functions: dict[int, _Function] = {}
    targets: dict[str, str] = {}
    for node, value, target in active:
        func = _argument_of_function(ctx, node)
        if func is not None:
            groups.setdefault((id(func), value), []).append(node)
            functions[id(func)] = func
            targets[value] = target
    chosen: dict[int, tuple[str, list[ast.Constant]]] = {}
    for (func_id, value), nodes in groups.items():
        if len(nodes) < 2 or not any(n.lineno in long for n in nodes):
            continue
        best = chosen.get(func_id)
        if best is None or len(nodes) > len(best[1]):
            chosen[func_id] = (value, nodes)
    out = []
    for func_id, (value, nodes) in chosen.items():
        func = functions[func_id]
        if _can_bind(ctx, func):
            first = ctx.source.segment(nodes[0])
            out.append((func, nodes, f"{HOISTED} = {_cst.string_literal(first, targets[value])}"))
    return out


def _argument_of_function(ctx: RuleContext, node: ast.Constant) -> _Function | None:
    """The function whose body passes ``node`` (a plain literal) straight to a call, as a
    positional or keyword argument; None elsewhere (module level, a class body, a lambda, a
    decorator or a default value, inside a container)."""
    found = analysis(ctx)
    parent = found.parent.get(id(node))
    owner = found.parent.get(id(parent)) if isinstance(parent, ast.keyword) else parent
    if not isinstance(owner, ast.Call) or owner.func is node:
        return None
    if not _PLAIN.fullmatch(ctx.source.segment(node)):
        return None
    child: ast.AST = node
    for ancestor in found.ancestors(node):
        if isinstance(ancestor, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return ancestor if any(s is child for s in ancestor.body) else None
        if isinstance(ancestor, (ast.Lambda, ast.ClassDef)):
            return None
        child = ancestor
    return None


def _can_bind(ctx: RuleContext, func: _Function) -> bool:
    """A new local ``model_id`` cannot change what ``func`` does: no name ``model_id``
    anywhere in it (read from outside, a parameter, bound, declared global), no look at its
    locals, and a body on lines of its own."""
    first = func.body[0]
    line = ctx.source.lines[first.lineno - 1].encode("utf-8")
    if first.lineno == func.lineno or line[: first.col_offset].strip():
        return False  # ``def f(): return g(...)``: no line to put the assignment on
    if ctx.source.directives.ignored(ctx.rule, func.lineno, func.lineno):
        return False
    for node in walk(func):
        names: list[str | None] = []
        if isinstance(node, ast.Name):
            names = [node.id]
            if isinstance(node.ctx, ast.Load) and node.id in _INTROSPECTION:
                return False
        elif isinstance(node, ast.arg):
            names = [node.arg]
        elif isinstance(node, ast.alias):
            names = [node.asname or node.name.split(".")[0]]
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            names = list(node.names)
        elif isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)):
            names = [node.name]
        elif isinstance(node, ast.MatchMapping):
            names = [node.rest]
        if HOISTED in names:
            return False
    return True


def _wraps(
    ctx: RuleContext, edits: list[tuple[ast.expr, str]], long: dict[int, int], limit: int
) -> list[tuple[ast.expr, int]]:
    """For each long line, the one-line call or display to split (with the line's width):
    the outermost bracket holding every rewritten string on the line, when it ends the line's
    code (black splits the last brackets of a line) and every line of the split fits."""
    found = analysis(ctx)
    by_line = _by_line(edits)
    out = []
    for line, changes in sorted(by_line.items()):
        if line not in long:
            continue
        outers: dict[int, ast.expr] = {}
        for node, _ in changes:
            outer: ast.expr | None = None
            for ancestor in found.ancestors(node):
                if isinstance(ancestor, ast.stmt):
                    break
                if (
                    isinstance(ancestor, ast.expr)
                    and _brackets(ctx, ancestor)
                    and ancestor.lineno == ancestor.end_lineno
                ):
                    outer = ancestor
            if outer is None:
                break
            outers[id(outer)] = outer
        else:
            if len(outers) == 1:
                (bracket,) = outers.values()
                if _splits_within(ctx, by_line, bracket, limit):
                    out.append((bracket, long[line]))
    return out


def _brackets(ctx: RuleContext, node: ast.AST, nested: bool = False) -> bool:
    """A call, or a list or dict display, black splits one element per line; inside one
    (split with it), also a set or a tuple in parentheses."""
    if isinstance(node, (ast.Call, ast.List, ast.Dict)):
        return True
    parenthesized = isinstance(node, ast.Tuple) and ctx.source.segment(node).startswith("(")
    if not nested:  # edits address calls, lists, dicts and statements (migrator/nodes.py)
        return parenthesized and _assigned(ctx, node) is not None
    return parenthesized or isinstance(node, ast.Set)


def _assigned(ctx: RuleContext, node: ast.AST) -> ast.Assign | ast.AnnAssign | None:
    """The assignment whose whole value ``node`` is."""
    parent = analysis(ctx).parent.get(id(node))
    if isinstance(parent, (ast.Assign, ast.AnnAssign)) and parent.value is node:
        return parent
    return None


def _splits_within(
    ctx: RuleContext, by_line: dict[int, list[tuple[ast.expr, str]]], node: ast.expr, limit: int
) -> bool:
    """``node`` ends its line's code, and split as ``_cst.wrap_call``/``wrap_display`` split
    it (an element still too long split again, as black does), no line is over ``limit``."""
    line = node.lineno
    text = ctx.source.lines[line - 1].rstrip("\r\n").encode("utf-8")
    if not _CLOSING.fullmatch(text[node.end_col_offset or 0 :].decode()):
        return False
    if _open_brackets(text[: node.col_offset].decode("utf-8")):
        return False  # ``[f(...)]``: black splits the outer brackets first; leave it to it
    indent = re.match(r"[ \t]*", text.decode("utf-8"))
    assert indent is not None
    head = _rewritten(ctx, by_line, line, 0, _opening_end(node))
    return _fits(ctx, by_line, node, head, indent.group(), limit)


def _fits(
    ctx: RuleContext,
    by_line: dict[int, list[tuple[ast.expr, str]]],
    node: ast.expr,
    head: str,
    indent: str,
    limit: int,
) -> bool:
    """Split below ``head`` (its first line, ending with the opening bracket), ``node``'s
    lines fit: a call's arguments on one line or one per line, a display's one per line,
    an element that is a bracket itself split again one level deeper."""
    items = _items(node)
    if items is None or not items or _cst.line_width(head) > limit:
        return False
    inner = indent + _indent_unit(ctx)
    line = node.lineno
    parts = [
        _rewritten(ctx, by_line, line, start, value.end_col_offset or 0) for start, value in items
    ]
    if isinstance(node, ast.Call) and _cst.line_width(inner + ", ".join(parts)) <= limit:
        return True
    for (start, value), part in zip(items, parts, strict=True):
        if _cst.line_width(f"{inner}{part},") <= limit:
            continue
        if not (_brackets(ctx, value, nested=True) and value.lineno == value.end_lineno):
            return False
        nested_head = inner + _rewritten(ctx, by_line, line, start, _opening_end(value))
        if not _fits(ctx, by_line, value, nested_head, inner, limit):
            return False
    return True


def _items(node: ast.expr) -> list[tuple[int, ast.expr]] | None:
    """Where each element of a call or display starts, and its value (the expression a
    nested split would open)."""
    if isinstance(node, ast.Call):
        items = [(a.col_offset, a) for a in node.args]
        items += [(k.col_offset, k.value) for k in node.keywords]
    elif isinstance(node, ast.Dict):
        if any(k is None for k in node.keys):
            return None  # ``{**base, ...}``
        items = [(k.col_offset, v) for k, v in zip(node.keys, node.values, strict=True)]  # type: ignore[union-attr]
    elif isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        items = [(e.col_offset, e) for e in node.elts]
    else:
        return None
    return sorted(items, key=lambda item: item[0])


def _opening_end(node: ast.expr) -> int:
    """The byte offset just past ``node``'s opening bracket on its line."""
    if isinstance(node, ast.Call):
        return (node.func.end_col_offset or 0) + 1
    return node.col_offset + 1


def _open_brackets(prefix: str) -> int:
    """How many brackets the start of a line opens and leaves open."""
    depth = 0
    try:
        for token in tokenize.generate_tokens(io.StringIO(prefix.lstrip()).readline):
            if token.type == tokenize.OP and token.string in "([{":
                depth += 1
            elif token.type == tokenize.OP and token.string in ")]}":
                depth = max(0, depth - 1)
    except (tokenize.TokenError, SyntaxError):
        pass  # the line goes on past the prefix: what was read counts
    return depth


def _indent_unit(ctx: RuleContext) -> str:
    """One level of the file's indentation, as LibCST reads it: its first indent."""

    def compute() -> str:
        try:
            for token in tokenize.generate_tokens(io.StringIO(ctx.source.text).readline):
                if token.type == tokenize.INDENT:
                    return token.string
        except (tokenize.TokenError, SyntaxError):
            pass
        return "    "

    unit: str = ctx.memo("model-id:indent-unit", compute)
    return unit
