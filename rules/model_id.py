"""Replace GPT2 checkpoint ids with the target instruct model's id.

GPT2 has no chat template and no pad token, so a suite that still loads ``"gpt2"`` does not test
what production runs. A string literal whose whole value is a GPT2 checkpoint id becomes the
target id (``real`` checkpoints -> ``HuggingFaceTB/SmolLM2-135M-Instruct``, tiny random ones ->
``trl-internal-testing/tiny-Qwen2ForCausalLM-2.5``, or ``--target``) when its *binding* migrates:
the id, every object loaded from it and everywhere those flow (names, ``self.`` attributes,
helpers, fixtures, parametrize values) get one decision, from all of its evidence.

Migrate: the id reaches only consumers known to take a hub id (transformers/trl/peft
``from_pretrained``, ``pipeline``, trainer ``model=``, fields and flags named for a model or
tokenizer such as ``model_name_or_path=`` or ``--model_name_or_path``). Inside command lines
and key=value strings the id is replaced only as a whole token after such an option, including
in the literal parts of f-strings.

Layout: a long target id can push a line past the project's line length (ruff's
``line-length`` in the nearest ``ruff.toml``/``.ruff.toml``/``pyproject.toml``, else black's;
default 88). Such a line, if it was within the limit before, is laid out as maintainers do:
when the same id is passed as a plain string argument two or more times in one function that
never uses the name ``model_id``, a ``model_id = "<target>"`` line opens the function body
(after its docstring and opening comments) and those arguments become ``model_id``;
otherwise a one-line call that ends the line gets its arguments on their own lines, black
style (on one line if that fits, else one per line with a trailing comma); otherwise the line
stays long. Nothing is hoisted at
module level, in class bodies, lambdas or decorators, nor out of f-strings or command lines.

Keep (info): GPT2 itself is needed somewhere in the binding (internals such as ``c_attn``,
``transformer.h`` or ``n_embd`` in any function that uses it, a file importing
``transformers.models.gpt2``), GPT2 is the named subject (a test function or class named for
it, ``test_gpt2_eos``/``TestGPT2Tokenizer``; a file named for it or under a ``gpt2/``
folder), the id enumerates architectures (coverage), it is the base of a
GPT2-derived artefact, it is a name rather than a checkpoint (a model type, a table key, a
template or directory name), a repository name in a huggingface_hub test, a substring test,
or a branch label (``model-labels``). Ids in comments and docstrings are reported too.

Review: the id reaches a loader not known to take a hub id (a project's own wrapper, an
interpretability library's registry; declare more with ``consumers`` in the config), an
option not named for a model, or a string of Python code. Also reported as info: parametrize
rows that become identical because two GPT2 ids map to the same target.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from functools import cache, partial

from migrator.context import RuleContext, Where
from migrator.core import Safety
from migrator.registry import Example, declare

from . import _cst
from ._analysis import analysis
from ._analysis.consumers import is_model_field
from ._analysis.labels import parametrize_rows
from ._analysis.shapes import is_cli_string, is_code_string, token_pattern
from ._analysis.tree import walk


def check(ctx: RuleContext) -> None:
    found = analysis(ctx)
    pattern = _pattern(tuple(ctx.models.targets))
    wholes: list[tuple[ast.Constant, str, str]] = []  # literals replaced whole, laid out last
    rewritten: list[tuple[ast.expr, str]] = []  # other rewritten strings, with their new source
    for node, value in found.strings:
        if id(node) in found.docstrings:
            if _mention(ctx, value):
                ctx.info(node, "GPT2 id mentioned in a docstring: update the prose by hand")
            continue
        if found.in_fstring(node):
            continue
        target = ctx.models.target_of(value)
        if target is not None:
            if _decided(ctx, node, value):
                wholes.append((node, value, target))
        elif is_code_string(value) and pattern.search(value):
            _in_code(ctx, node, pattern)
        elif is_cli_string(value) and pattern.search(value):
            _tokens(ctx, node, value, pattern, rewritten)
    for fstring in found.fstrings:
        if found.in_fstring(fstring):
            continue
        text = "{}".join(
            part.value
            for part in fstring.values
            if isinstance(part, ast.Constant) and isinstance(part.value, str)
        )
        literal_only = all(isinstance(part, ast.Constant) for part in fstring.values)
        target = ctx.models.target_of(text) if literal_only else None
        if target is not None:
            if _decided(ctx, fstring, text) and _whole(
                ctx, fstring, target, f"{text!r} -> {target!r}", text
            ):
                ctx.record_migration(text, target)
                rewritten.append(
                    (fstring, _cst.string_literal(ctx.source.segment(fstring), target))
                )
        elif is_cli_string(text) and pattern.search(text):
            _tokens(ctx, fstring, text, pattern, rewritten)
    migrated = _lay_out(ctx, wholes, rewritten)
    if migrated:
        _collapsed_rows(ctx, migrated)
    if _COMMENT.search(ctx.source.text):
        for line, col, text in ctx.source.comments:
            if _mention(ctx, text):
                before = len(ctx.source.lines[line - 1][:col].encode("utf-8"))
                where = Where(line, before, line, before + len(text.encode("utf-8")))
                ctx.info(where, "GPT2 id mentioned in a comment: update the prose by hand")


def _decided(ctx: RuleContext, node: ast.expr, value: str) -> bool:
    """True when the literal's binding migrates; otherwise say why it stays (info: kept,
    review: a human must decide)."""
    found = analysis(ctx)
    reason = found.leave_reason(node)
    if reason is not None:
        ctx.info(node, f"{value!r} left as is: {reason.reason}", source_id=value)
        return False
    review = found.review_reason(node)
    if review is not None:
        ctx.review(
            node,
            f"{value!r} not migrated: {review}",
            anchor=found.statement_of(node),
            source_id=value,
        )
        return False
    return True


def _in_code(ctx: RuleContext, node: ast.Constant, pattern: re.Pattern[str]) -> None:
    """An id inside a string of Python code (a snippet run later, a doc example): what the
    code does with it is not visible to the analysis."""
    found = analysis(ctx)
    reason = found.literal_leave(node)
    found_ids = sorted({m.group(1) for m in pattern.finditer(str(node.value))})
    if reason is not None:
        ctx.info(
            node,
            f"GPT2 id in a string of code left as is: {reason.reason}",
            source_id=found_ids[0],
        )
        return
    ctx.review(
        node,
        f"GPT2 id {', '.join(found_ids)} inside a string of Python code: the tool cannot see "
        "what that code loads it with; migrate it by hand",
        anchor=found.statement_of(node),
        source_id=found_ids[0],
    )


def _collapsed_rows(ctx: RuleContext, migrated: dict[int, str]) -> None:
    """Two parametrize rows that differed only by GPT2 ids mapped to the same target
    (``["gpt2", "distilgpt2"]``) now run the same case twice: say so (info), keep both."""
    for func in walk(ctx.tree):
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        seen: dict[tuple[tuple[str, ...], str], ast.expr] = {}
        for names, row, cells in parametrize_rows(func):
            if isinstance(row, ast.Call):  # pytest.param(..., id=...): may be told apart
                continue
            key = _row_key(cells, migrated)
            first = seen.setdefault((tuple(names), key), row)
            if first is not row and any(id(cell) in migrated for cell in cells):
                ctx.info(
                    row,
                    f"{ast.unparse(row)} and {ast.unparse(first)} both become {key}: the test "
                    "now runs the same case twice; drop one row",
                )


def _row_key(cells: list[ast.expr], migrated: dict[int, str]) -> str:
    """A row as it reads after the migration."""
    parts = [repr(migrated[id(c)]) if id(c) in migrated else ast.unparse(c) for c in cells]
    return parts[0] if len(parts) == 1 else f"({', '.join(parts)})"


def _whole(ctx: RuleContext, node: ast.expr, target: str, message: str, source: str) -> bool:
    """Replace a literal whose whole value is a source id: a plain string keeps its prefix and
    quotes; an implicit concatenation that spells the id becomes one literal in its place;
    a placeholder-free f-string keeps its ``f``."""
    return ctx.fix(node, message, node, partial(_cst.whole_string, target), source_id=source)


def _tokens(
    ctx: RuleContext,
    node: ast.Constant | ast.JoinedStr,
    value: str,
    pattern: re.Pattern[str],
    rewritten: list[tuple[ast.expr, str]],
) -> None:
    kind = "command line" if re.search(r"(^|\s)-", value) else "key=value argument string"
    reason = analysis(ctx).leave_reason(node)
    first = min((m.group(1) for m in pattern.finditer(value)), key=value.find)
    if reason is not None:
        ctx.info(node, f"GPT2 id in a {kind} left as is: {reason.reason}", source_id=first)
        return
    flags = {_flag_before(value[: m.start()]) for m in pattern.finditer(value)}
    unknown = sorted(f for f in flags if not is_model_field(f))
    if unknown:
        ctx.review(
            node,
            f"GPT2 id after {unknown[0]!r} in a {kind}: not an option known to take a model; "
            "migrate it by hand",
            anchor=analysis(ctx).statement_of(node),
            source_id=first,
        )
        return
    sources = sorted({m.group(1) for m in pattern.finditer(value)})
    targets = {s: ctx.models.target_of(s) or s for s in sources}

    changes = ", ".join(f"{s!r} -> {targets[s]!r}" for s in sources)
    # The finding covers the replaced tokens, not the whole string: later tools act on it.
    spots = list(pattern.finditer(ctx.source.segment(node)))
    where = Where.inside(ctx.source, node, spots[0].start(), spots[-1].end()) if spots else node
    rewrite = partial(_cst.sub_tokens, pattern, targets)
    if ctx.fix(where, f"in a {kind}: {changes}", node, rewrite, source_id=first):
        for source_id in sources:
            ctx.record_migration(source_id, targets[source_id])
        segment = ctx.source.segment(node)
        rewritten.append((node, pattern.sub(lambda m: targets[m.group(1)], segment)))


def _flag_before(text: str) -> str:
    """The option (``--model_name_or_path``) or key (``pretrained=``) a token follows."""
    match = re.search(r"(--?[\w.-]+|[\w.-]+(?==))[\s=]*['\"]?$", text)
    return match.group(1) if match else "(a positional argument)"


_COMMENT = re.compile(r"#[^\n]*gpt2", re.IGNORECASE)


@cache
def _pattern(ids: tuple[str, ...]) -> re.Pattern[str]:
    return token_pattern(list(ids))


@cache
def _mention_pattern(ids: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(i) for i in sorted(ids, key=len, reverse=True))
    return re.compile(rf"(?<![\w/.-])({alternatives})(?![\w/-])")


def _mention(ctx: RuleContext, text: str) -> bool:
    return bool(_mention_pattern(tuple(ctx.models.targets)).search(text))


# -- layout: a long target id must not leave lines longer than the project allows ----------

HOISTED = "model_id"
# A plain one-token literal: what a local name can stand for (no concatenation, no f-string).
_PLAIN = re.compile(r"[rRuU]?(\"\"\"|'''|\"|')(.*)\1", re.DOTALL)
_INTROSPECTION = frozenset({"locals", "vars", "exec", "eval"})
_PRAGMA = re.compile(r"#\s*(noqa|type:|pyright:|ruff:|fmt:|isort:|pragma\b|migrate-tests:)")
# What may follow a call that is split: closing brackets, a comma or colon, a comment.
_CLOSING = re.compile(r"[\s)\]},:]*(#.*)?")
_Function = ast.FunctionDef | ast.AsyncFunctionDef


def _lay_out(
    ctx: RuleContext,
    wholes: list[tuple[ast.Constant, str, str]],
    rewritten: list[tuple[ast.expr, str]],
) -> dict[int, str]:
    """Replace the literals of ``wholes`` by their targets, keeping the lines that grow
    within the project's line length: (1) an id given two or more times as an argument in
    one function goes through a local ``model_id`` set first in the function; (2) else a
    one-line call on the long line gets its arguments on their own lines; (3) else the line
    stays long. A line that was over the limit already is left as it was. Returns the
    literals replaced (id -> target)."""
    source = ctx.source
    active = []
    for node, value, target in wholes:
        if source.directives.ignored(ctx.rule, node.lineno, node.end_lineno or node.lineno):
            _whole(ctx, node, target, f"{value!r} -> {target!r}", value)  # counts the ignore
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
            _whole(ctx, node, target, f"{value!r} -> {target!r}", value)
        ctx.record_migration(value, target)
        migrated[id(node)] = target
    for func, statement in hoists.values():
        where = Where(func.lineno, func.col_offset, func.lineno, func.col_offset)
        message = (
            f"{statement} added at the top of {func.name}: the id it replaces appears several "
            f"times there and a line would exceed the line length ({limit})"
        )
        ctx.fix(where, message, func, partial(_cst.insert_first, statement))
    for call, width in _wraps(ctx, edits, long, limit):
        indent = re.match(r"[ \t]*", source.lines[call.lineno - 1])
        assert indent is not None
        message = f"call split over lines: with the new id its line would be {width} > {limit}"
        rewrite = partial(_cst.wrap_call, indent.group(), _indent_unit(ctx), limit)
        ctx.fix(call, message, call, rewrite)
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
) -> list[tuple[ast.Call, int]]:
    """For each long line, the one-line call to split (with the line's width): the outermost
    call holding every rewritten string on the line, when it ends the line's code (black
    splits the last brackets of a line) and every line of the split fits."""
    found = analysis(ctx)
    by_line = _by_line(edits)
    out = []
    for line, changes in sorted(by_line.items()):
        if line not in long:
            continue
        calls: dict[int, ast.Call] = {}
        for node, _ in changes:
            outer = None
            for ancestor in found.ancestors(node):
                if isinstance(ancestor, ast.stmt):
                    break
                if isinstance(ancestor, ast.Call) and ancestor.lineno == ancestor.end_lineno:
                    outer = ancestor
            if outer is None:
                break
            calls[id(outer)] = outer
        else:
            if len(calls) == 1:
                (call,) = calls.values()
                if _splits_within(ctx, by_line, call, limit):
                    out.append((call, long[line]))
    return out


def _splits_within(
    ctx: RuleContext, by_line: dict[int, list[tuple[ast.expr, str]]], call: ast.Call, limit: int
) -> bool:
    """``call`` ends its line's code, and split as ``_cst.wrap_call`` splits it, no line
    is over ``limit``."""
    line = call.lineno
    text = ctx.source.lines[line - 1].rstrip("\r\n").encode("utf-8")
    arguments: list[ast.expr | ast.keyword] = sorted(
        [*call.args, *call.keywords], key=lambda a: (a.lineno, a.col_offset)
    )
    if not arguments or not _CLOSING.fullmatch(text[call.end_col_offset or 0 :].decode()):
        return False
    if _open_brackets(text[: call.col_offset].decode("utf-8")):
        return False  # ``[f(...)]``: black splits the outer brackets first; leave it to it
    indent = re.match(r"[ \t]*", text.decode("utf-8"))
    assert indent is not None
    inner = indent.group() + _indent_unit(ctx)
    head = text[: call.func.end_col_offset or 0].decode("utf-8") + "("
    parts = [_rewritten(ctx, by_line, line, a.col_offset, a.end_col_offset or 0) for a in arguments]
    if _cst.line_width(head) > limit:
        return False
    if _cst.line_width(inner + ", ".join(parts)) <= limit:
        return True
    return all(_cst.line_width(f"{inner}{part},") <= limit for part in parts)


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


RULE = declare(
    __name__,
    safety=Safety.FIX,
    check=check,
    order=20,
    examples=(
        Example(
            before=(
                "from transformers import AutoModelForCausalLM\n\n"
                'model = AutoModelForCausalLM.from_pretrained("gpt2")\n'
            ),
            after=(
                "from transformers import AutoModelForCausalLM\n\n"
                'model = AutoModelForCausalLM.from_pretrained("HuggingFaceTB/SmolLM2-135M-Instruct")\n'
            ),
        ),
        Example(
            before='cmd = "trl sft --model_name_or_path hf-internal-testing/tiny-random-gpt2 --max_steps 1"\n',
            after='cmd = "trl sft --model_name_or_path trl-internal-testing/tiny-Qwen2ForCausalLM-2.5 --max_steps 1"\n',
        ),
    ),
)
