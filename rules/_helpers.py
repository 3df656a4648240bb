"""Shared analysis for the rules: which literals are GPT2 ids to migrate, and which to leave.

Computed once per file from Python's ``ast`` (cheap) and cached on the file context, so every
rule asks the same questions and gets the same answers: ``model-id`` rewrites exactly the
literals that ``auto-classes`` (and later rules) consider migrated.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypeVar

from migrator.context import RuleContext
from migrator.models import ModelMap

from ._analysis.bindings import Binding, Bindings, hub_client_file

T = TypeVar("T")

# Module and parameter names that only exist because the model is GPT2: a test that mentions
# them tests GPT2 itself, and swapping the model would break or void it.
INTERNALS = re.compile(
    r"\b(c_attn|c_proj|c_fc|wte|wpe|GPT2Block|GPT2Attention|GPT2MLP|Conv1D|fan_in_fan_out)\b"
    # GPT2Config's own field names, read off a loaded model (``model.config.n_embd``).
    r"|\.(n_embd|n_layer|n_head|n_positions|n_ctx|n_inner)\b"
    r"|\btransformer\.h\b"
)
RAISES = re.compile(r"\b(assertRaises\w*|raises)\(")
PAD_ERROR = re.compile(r"pad(ding)?[ _]?token", re.IGNORECASE)
# A test that removes the pad token itself asserts an error any model raises without one.
UNSETS_PAD = re.compile(r"\.pad_token(_id)?\s*=\s*None\b")
# Called with a model id as argument, these test or cut substrings: the literal is a pattern.
SUBSTRING_METHODS = frozenset(
    {
        "startswith",
        "endswith",
        "find",
        "rfind",
        "index",
        "rindex",
        "count",
        "split",
        "rsplit",
        "partition",
        "rpartition",
        "replace",
        "removeprefix",
        "removesuffix",
        "strip",
        "lstrip",
        "rstrip",
    }
)
REGEX_FUNCTIONS = frozenset({"search", "match", "fullmatch", "sub", "findall", "finditer"})
MODEL_LIKE = re.compile(r"^[\w.-]+/[\w.-]+$")
# A bare architecture name: "llama", "gpt_neox", "t5", "bert" (no org, no size suffix).
MODEL_TYPE = re.compile(r"^[a-z][a-z0-9_]*[a-z0-9]$")
SETUP_NAMES = frozenset(
    {"setUp", "setUpClass", "setup_method", "setup_class", "setUpModule", "__init__"}
)
FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)
SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def walk(node: ast.AST) -> list[ast.AST]:
    """``ast.walk`` as a list, computed once per node: rules walk the same scopes many times
    (the list is kept on the node itself, so it lives exactly as long as the file's tree)."""
    cached: list[ast.AST] | None = getattr(node, "_migrate_tests_walk", None)
    if cached is None:
        cached = list(ast.walk(node))
        node._migrate_tests_walk = cached  # type: ignore[attr-defined]
    return cached


def token_pattern(ids: list[str]) -> re.Pattern[str]:
    """An id as a whole token of a command line or key=value string: delimited by whitespace,
    quotes, ``=`` or ``,`` on both sides (so never inside ``gpt2-sentiment.ipynb``)."""
    alternatives = "|".join(re.escape(i) for i in sorted(ids, key=len, reverse=True))
    return re.compile(rf"(?<![^\s=,'\"\\])({alternatives})(?![^\s,'\"\\])")


@dataclass(frozen=True)
class Leave:
    """Why an id is deliberately not migrated (reported as info)."""

    reason: str


@dataclass(frozen=True)
class LabelGroup:
    """The GPT2 label literals of one parametrized parameter: rows and comparisons."""

    func: ast.FunctionDef | ast.AsyncFunctionDef
    param: str
    nodes: list[ast.Constant]
    values: frozenset[str]  # every value the parameter takes


CODE = re.compile(r"^\s*(import \w|from [\w.]+ import |def \w|class \w)|from_pretrained\(", re.M)


def is_code_string(value: str) -> bool:
    """A string of Python code (a snippet a test runs or writes out)."""
    return "\n" in value and bool(CODE.search(value))


def is_cli_string(value: str) -> bool:
    """A command line (``--flag value``) or a key=value argument string (``a=b,c=d``)."""
    return bool(re.search(r"(^|\s)--?[A-Za-z]", value) or re.search(r"\w=[^=\s,]+(,|$)", value))


class Analysis:
    """Per-file facts about GPT2 ids; build with ``analysis(ctx)``."""

    def __init__(self, ctx: RuleContext) -> None:
        self.ctx = ctx
        self.source = ctx.source
        self.tree = ctx.tree
        self.models: ModelMap = ctx.models
        self.parent: dict[int, ast.AST] = {}
        self._cache: dict[tuple[str, int], Any] = {}
        self.docstrings: set[int] = set()
        self.strings: list[tuple[ast.Constant, str]] = []
        self.fstrings: list[ast.JoinedStr] = []
        self.imports: dict[str, tuple[str, str]] = {}
        self.subject_import: str | None = None
        self.module_aliases: dict[str, str] = {}
        for node in walk(self.tree):
            for child in ast.iter_child_nodes(node):
                self.parent[id(child)] = node
            if isinstance(node, (ast.Module, *SCOPES)) and node.body:
                first = node.body[0]
                if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                    self.docstrings.add(id(first.value))
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                self.strings.append((node, node.value))
            elif isinstance(node, ast.JoinedStr):
                self.fstrings.append(node)
            elif isinstance(node, ast.ImportFrom) and (node.module or node.level):
                module = "." * node.level + (node.module or "")
                for alias in node.names:
                    self.imports[alias.asname or alias.name] = (module, alias.name)
                if module.startswith("transformers.models.gpt2"):
                    self.subject_import = node.module
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    self.module_aliases[alias.asname or alias.name.split(".")[0]] = (
                        alias.name if alias.asname else alias.name.split(".")[0]
                    )
                    if alias.name.startswith("transformers.models.gpt2"):
                        self.subject_import = alias.name
        self.strings.sort(key=lambda item: (item[0].lineno, item[0].col_offset))

    def module_alias(self, name: str) -> str | None:
        return self.module_aliases.get(name)

    @property
    def nodes(self) -> list[ast.AST]:
        return walk(self.tree)

    @staticmethod
    def walk(node: ast.AST) -> list[ast.AST]:
        return walk(node)

    @cached_property
    def functions_named(self) -> dict[str, list[ast.FunctionDef | ast.AsyncFunctionDef]]:
        out: dict[str, list[ast.FunctionDef | ast.AsyncFunctionDef]] = {}
        for node in walk(self.tree):
            if isinstance(node, FUNCS):
                out.setdefault(node.name, []).append(node)
        return out

    @cached_property
    def local_classes(self) -> frozenset[str]:
        return frozenset(n.name for n in walk(self.tree) if isinstance(n, ast.ClassDef))

    @cached_property
    def hub_client_file(self) -> bool:
        return hub_client_file(self.imports, self.module_aliases)

    @cached_property
    def binding_set(self) -> Bindings:
        """Every binding of the file's whole-value id literals (see _analysis/bindings)."""
        literals: list[ast.expr] = [
            node
            for node, value in self.strings
            if self.models.target_of(value) is not None
            and id(node) not in self.docstrings
            and id(node) not in self.labels  # labels follow their model (model-labels)
            and not self.in_fstring(node)
        ]
        for fstring in self.fstrings:
            if not self.in_fstring(fstring) and all(
                isinstance(p, ast.Constant) for p in fstring.values
            ):
                text = "".join(str(p.value) for p in fstring.values)  # type: ignore[attr-defined]
                if self.models.target_of(text) is not None:
                    literals.append(fstring)
        return Bindings(self, literals)

    def binding(self, node: ast.AST) -> Binding | None:
        return self.binding_set.of.get(id(node))

    def model_type_peers(self, elts: list[ast.expr]) -> bool:
        """Bare names of architectures next to each other (``["gpt2", "llama", "opt"]``):
        model types, not checkpoints."""
        values = [e.value for e in elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
        others = [v for v in values if self.models.target_of(v) is None]
        types = [v for v in others if MODEL_TYPE.match(v)]
        # Real tables carry a few test names too ("mistral-nemo"): most entries decide.
        return bool(types) and len(types) >= 0.75 * len(others)

    # -- where a node sits ------------------------------------------------------------------

    def ancestors(self, node: ast.AST) -> Iterator[ast.AST]:
        current = self.parent.get(id(node))
        while current is not None:
            yield current
            current = self.parent.get(id(current))

    def statement_of(self, node: ast.AST) -> ast.AST:
        """The statement around ``node`` (its review marker goes above it)."""
        for ancestor in self.ancestors(node):
            if isinstance(ancestor, ast.stmt):
                return ancestor
        return node

    def in_fstring(self, node: ast.AST) -> bool:
        return any(isinstance(a, ast.JoinedStr) for a in self.ancestors(node))

    def _memo(self, name: str, node: ast.AST, compute: Callable[[], T]) -> T:
        """Per-node memo for the questions rules ask again and again about the same scope."""
        key = (name, id(node))
        if key not in self._cache:
            self._cache[key] = compute()
        value: T = self._cache[key]
        return value

    def function_of(self, node: ast.AST) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        """The innermost function around ``node`` (not ``node`` itself)."""
        return self._functions.get(id(node))

    @cached_property
    def _functions(self) -> dict[int, ast.FunctionDef | ast.AsyncFunctionDef | None]:
        out: dict[int, ast.FunctionDef | ast.AsyncFunctionDef | None] = {}
        stack: list[tuple[ast.AST, ast.FunctionDef | ast.AsyncFunctionDef | None]] = [
            (self.tree, None)
        ]
        while stack:
            node, func = stack.pop()
            out[id(node)] = func
            inner = node if isinstance(node, FUNCS) else func
            stack.extend((child, inner) for child in ast.iter_child_nodes(node))
        return out

    def scope_text(self, node: ast.stmt) -> str:
        def compute() -> str:
            decorators = getattr(node, "decorator_list", [])
            first = min([node.lineno, *(d.lineno for d in decorators)])
            return "".join(self.source.lines[first - 1 : node.end_lineno])

        return self._memo("text", node, compute)

    def internals_in(self, scope: ast.stmt) -> str | None:
        """What in ``scope`` only makes sense for GPT2: its internals, or an assertion on the
        error GPT2's missing pad token raises (an instruct model has one: the test would pass
        vacuously or fail)."""
        return self._memo("internals", scope, lambda: self._internals_in(scope))

    def _internals_in(self, scope: ast.stmt) -> str | None:
        text = self.scope_text(scope)
        match = INTERNALS.search(text)
        if match:
            return match.group(0)
        if PAD_ERROR.search(text) and RAISES.search(text) and not UNSETS_PAD.search(text):
            return "an assertion on the missing-pad-token error"
        return None

    @cached_property
    def subject_path(self) -> bool:
        return "models/gpt2/" in self.source.path.replace("\\", "/")

    # -- decisions about whole-value ids ----------------------------------------------------

    def leave_reason(self, node: ast.expr) -> Leave | None:
        """Why the whole-value id literal ``node`` must stay (its binding is kept), or None."""
        binding = self.binding(node)
        if binding is not None:
            return Leave(binding.reason) if binding.decision == "keep" else None
        return self.literal_leave(node)

    def review_reason(self, node: ast.expr) -> str | None:
        """Why the id literal ``node`` is for a human to migrate (its binding is review)."""
        binding = self.binding(node)
        if binding is not None and binding.decision == "review":
            return binding.reason
        return None

    def literal_leave(self, node: ast.expr) -> Leave | None:
        """What about this literal itself (not its binding) says it must stay."""
        if self.subject_import:
            return Leave(f"the file tests GPT2 itself (imports {self.subject_import})")
        if self.subject_path:
            return Leave("the file tests GPT2 itself (it lives under models/gpt2/)")
        parent = self.parent.get(id(node))
        if (
            isinstance(parent, ast.Compare)
            and parent.left is node
            and any(isinstance(op, (ast.In, ast.NotIn)) for op in parent.ops)
        ) or (isinstance(parent, ast.Call) and node in parent.args and self._pattern_call(parent)):
            return Leave("substring test on a model id, not a model id")
        compared = self.compared_of.get(id(node))
        if compared is not None and isinstance(node, ast.Constant):
            for row in self.parametrized(compared[0]).get(compared[1], []):
                if row.value == node.value and row is not node:
                    reason = self.literal_leave(row)
                    if reason is not None:
                        return Leave(
                            f"compared with a parameter whose {row.value!r} row stays: {reason.reason}"
                        )
        other = self.coverage_peer(node)
        if other:
            return Leave(
                f"one of several architectures in this collection (also {other!r}): kept for coverage"
            )
        derived = self.derived_artefact(node)
        if derived:
            return Leave(
                f"base model of the GPT2-derived artefact {derived!r}: the pair must change together, by hand"
            )
        if id(node) in self.labels:
            return Leave("a test label, not a model id (see model-labels)")
        return None

    def _pattern_call(self, call: ast.Call) -> bool:
        """``name.startswith(...)``-like string methods (not ``shlex.split``), ``re.search``."""
        func = call.func
        if not isinstance(func, ast.Attribute):
            return False
        owner = func.value.id if isinstance(func.value, ast.Name) else None
        module = self.module_alias(owner) if owner else None
        if func.attr in REGEX_FUNCTIONS:
            return module == "re"
        return func.attr in SUBSTRING_METHODS and module is None

    def internals_for(self, node: ast.AST) -> str | None:
        scopes = [a for a in self.ancestors(node) if isinstance(a, SCOPES)]
        for scope in scopes:
            found = self.internals_in(scope)
            if found:
                return found
            if isinstance(scope, FUNCS) and not self.is_setup(scope):
                return None  # a test function: its own body decides
        if not scopes:
            name = self._assigned_name(node)
            if name is not None:
                for user in self.users_of(name):
                    found = self.internals_in(user)
                    if found:
                        return found
        return None

    def is_setup(self, func: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
        """setUp-like methods and fixtures: what they bind is shared by the tests."""
        return func.name in SETUP_NAMES or self.is_fixture(func)

    @staticmethod
    def is_fixture(func: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
        return any("fixture" in ast.unparse(d) for d in func.decorator_list)

    def qualname(self, func: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> str:
        """The scope name of the code inside ``func`` (as ``scope_name`` gives it)."""
        outer = self.scope_name(func)
        return f"{outer}.{func.name}" if outer else func.name

    def _assigned_name(self, node: ast.AST) -> str | None:
        parent = self.parent.get(id(node))
        if isinstance(parent, ast.Assign) and len(parent.targets) == 1:
            target = parent.targets[0]
            if isinstance(target, ast.Name):
                return target.id
        if isinstance(parent, ast.AnnAssign) and isinstance(parent.target, ast.Name):
            return parent.target.id
        return None

    def users_of(self, name: str) -> list[ast.stmt]:
        """Top-level functions and classes that read the module-level ``name``."""
        users: list[ast.stmt] = []
        for stmt in self.tree.body:
            if isinstance(stmt, SCOPES) and any(
                isinstance(n, ast.Name) and n.id == name for n in walk(stmt)
            ):
                users.append(stmt)
        return users

    def coverage_peer(self, node: ast.AST) -> str | None:
        """A non-GPT2 model among the values this literal sits with (a flat list, or the same
        column of parametrize-style rows), or None. Argument lists (``["--flag", ...]``) and
        dicts are configurations, not enumerations."""
        parameter = self.parameter_of.get(id(node))
        if parameter is not None and self._used_as_id(*parameter):
            # The values of a parameter used as a model id are all model ids, bare ones
            # ("bert-base-uncased", "t5-small") included.
            for cell in self.parametrized(parameter[0]).get(parameter[1], []):
                text = str(cell.value)
                if self.models.target_of(text) is None and "gpt2" not in text.lower():
                    return text
            return None
        parent = self.parent.get(id(node))
        if not isinstance(parent, (ast.List, ast.Tuple, ast.Set)):
            return None
        grand = self.parent.get(id(parent))
        peers: list[ast.expr] = list(parent.elts)
        if isinstance(parent, ast.Tuple) and isinstance(grand, (ast.List, ast.Tuple, ast.Set)):
            column = parent.elts.index(node)  # type: ignore[arg-type]
            peers = [
                row.elts[column]
                for row in grand.elts
                if isinstance(row, ast.Tuple) and len(row.elts) > column
            ]
        values = [
            p.value for p in peers if isinstance(p, ast.Constant) and isinstance(p.value, str)
        ]
        if any(v.startswith("-") for v in values):
            return None
        for value in values:
            for token in self.model_tokens(value):
                if self.models.target_of(token) is None and "gpt2" not in token.lower():
                    return token
        return None

    @staticmethod
    def model_tokens(value: str) -> list[str]:
        """Model ids a string holds: itself, or ``org/name`` tokens of an argument string."""
        if MODEL_LIKE.match(value):
            return [value]
        if is_cli_string(value):
            return [t for t in re.split(r"[\s,=]+", value) if MODEL_LIKE.match(t)]
        return []

    @cached_property
    def artefacts(self) -> dict[str, str]:
        """GPT2-derived artefacts loaded in this file (adapters trained on GPT2...), keyed by
        the literal's value and by the names of constants holding one."""

        def derived(value: object) -> bool:
            return (
                isinstance(value, str)
                and bool(MODEL_LIKE.match(value))
                and "gpt2" in value.lower()
                and self.models.target_of(value) is None
            )

        constants = {}
        for node in walk(self.tree):
            if (
                isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Constant)
                and derived(node.value.value)
            ):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        constants[target.id] = str(node.value.value)
        found: dict[str, str] = {}
        for call in walk(self.tree):
            if not (
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Attribute)
                and call.func.attr == "from_pretrained"
            ):
                continue
            for arg in [*call.args, *(k.value for k in call.keywords)]:
                if isinstance(arg, ast.Constant) and derived(arg.value):
                    found[str(arg.value)] = str(arg.value)
                elif isinstance(arg, ast.Name) and arg.id in constants:
                    found[arg.id] = constants[arg.id]
        return found

    def derived_artefact(self, node: ast.AST) -> str | None:
        """The GPT2-derived artefact loaded where this base id is used, if any."""
        if not self.artefacts:
            return None
        scope = next((a for a in self.ancestors(node) if isinstance(a, FUNCS)), None)
        if scope is not None:
            scopes: list[ast.stmt] = [scope]
        else:
            name = self._assigned_name(node)
            scopes = self.users_of(name) if name is not None else []
        for user in scopes:
            for inner in walk(user):
                key = (
                    inner.value
                    if isinstance(inner, ast.Constant)
                    else inner.id
                    if isinstance(inner, ast.Name)
                    else None
                )
                if isinstance(key, str) and key in self.artefacts:
                    return self.artefacts[key]
        return None

    # -- labels -----------------------------------------------------------------------------

    @cached_property
    def label_groups(self) -> list[LabelGroup]:
        """Branch labels: parametrize values of a parameter that the test compares with string
        literals and never passes to a call, plus the literals it is compared with. They are
        decided here, before any rule rewrites anything: ``model-id`` leaves every literal of
        a group and ``model-labels`` renames them together, so rows and comparisons can never
        disagree."""
        groups = []
        for func in walk(self.tree):
            if not isinstance(func, FUNCS):
                continue
            for param, values in self.parametrized(func).items():
                compared = self._compared_literals(func, param)
                if not compared or self._used_as_id(func, param):
                    continue
                gpt2 = [
                    v
                    for v in [*values, *compared, *self._keys_looked_up(func, param)]
                    if self.models.target_of(str(v.value)) is not None
                ]
                if any(v in values for v in gpt2):
                    groups.append(
                        LabelGroup(func, param, gpt2, frozenset(str(v.value) for v in values))
                    )
        return groups

    def _keys_looked_up(self, func: ast.AST, param: str) -> list[ast.Constant]:
        """Keys of a dict indexed by the label (``TABLE[name]``, ``TABLE.get(name)``), with the
        dict a literal in the test or a module constant: they are labels too."""
        names = set()
        for node in walk(func):
            if (
                isinstance(node, ast.Subscript)
                and isinstance(node.slice, ast.Name)
                and node.slice.id == param
            ):
                names.add(ast.unparse(node.value))
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "get"
                and node.args
                and isinstance(node.args[0], ast.Name)
                and node.args[0].id == param
            ):
                names.add(ast.unparse(node.func.value))
        keys: list[ast.Constant] = []
        for stmt in [*self.tree.body, *walk(func)]:
            if (
                isinstance(stmt, ast.Assign)
                and isinstance(stmt.value, ast.Dict)
                and any(ast.unparse(t) in names for t in stmt.targets)
            ):
                keys.extend(
                    k
                    for k in stmt.value.keys
                    if isinstance(k, ast.Constant) and isinstance(k.value, str)
                )
        return keys

    @cached_property
    def compared_of(self) -> dict[int, tuple[ast.FunctionDef | ast.AsyncFunctionDef, str]]:
        """A literal compared with a parametrized parameter -> (test function, parameter)."""
        out = {}
        for func in walk(self.tree):
            if isinstance(func, FUNCS) and func.decorator_list:
                for param in self.parametrized(func):
                    for literal in self._compared_literals(func, param):
                        out[id(literal)] = (func, param)
        return out

    @cached_property
    def parameter_of(self) -> dict[int, tuple[ast.FunctionDef | ast.AsyncFunctionDef, str]]:
        """A parametrize value literal -> (its test function, its parameter name)."""
        out = {}
        for func in walk(self.tree):
            if isinstance(func, FUNCS) and func.decorator_list:
                for param, values in self.parametrized(func).items():
                    for value in values:
                        out[id(value)] = (func, param)
        return out

    @cached_property
    def labels(self) -> set[int]:
        return {id(node) for group in self.label_groups for node in group.nodes}

    def parametrized(
        self, func: ast.FunctionDef | ast.AsyncFunctionDef
    ) -> dict[str, list[ast.Constant]]:
        """Parameter name -> the string literals given for it by parametrize/expand."""
        return self._memo("parametrized", func, lambda: self._parametrized(func))

    def _parametrized(
        self, func: ast.FunctionDef | ast.AsyncFunctionDef
    ) -> dict[str, list[ast.Constant]]:
        out: dict[str, list[ast.Constant]] = {}
        for names, _row, cells in parametrize_rows(func):
            for param, cell in zip(names, cells, strict=False):
                if isinstance(cell, ast.Constant) and isinstance(cell.value, str):
                    out.setdefault(param, []).append(cell)
        return out

    def _compared_literals(self, func: ast.AST, param: str) -> list[ast.Constant]:
        out = []
        for node in walk(func):
            if not isinstance(node, ast.Compare):
                continue
            sides = [node.left, *node.comparators]
            if not any(isinstance(s, ast.Name) and s.id == param for s in sides):
                continue
            if not all(isinstance(op, (ast.Eq, ast.NotEq, ast.In, ast.NotIn)) for op in node.ops):
                continue
            for side in sides:
                for item in [side, *getattr(side, "elts", [])]:
                    if isinstance(item, ast.Constant) and isinstance(item.value, str):
                        out.append(item)
        return out

    def _used_as_id(self, func: ast.AST, param: str) -> bool:
        for node in walk(func):
            if not isinstance(node, ast.Call):
                continue
            for arg in node.args:
                if isinstance(arg, ast.Name) and arg.id == param:
                    return True
            for kw in node.keywords:
                if isinstance(kw.value, ast.Name) and kw.value.id == param:
                    return True
        return False

    # -- ids bound to names -----------------------------------------------------------------

    def migrated_id(self, node: ast.AST) -> str | None:
        """The source id a literal holds when it is migrated, else None."""
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and self.models.target_of(node.value)
            and self.leave_reason(node) is None
        ):
            return node.value
        return None

    @cached_property
    def bindings(self) -> dict[tuple[str, str], str]:
        """(scope, name) -> migrated source id, for ``X = "gpt2"`` (scope ``""`` module,
        a function's qualified name), and (class, ``self.X``) for attributes/class attrs."""
        out: dict[tuple[str, str], str] = {}
        for node in walk(self.tree):
            if not isinstance(node, (ast.Assign, ast.AnnAssign)) or node.value is None:
                continue
            source_id = self.migrated_id(node.value)
            if source_id is None:
                continue
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    out[(self.scope_name(node), target.id)] = source_id
                    cls = self.enclosing_class(node, direct=True)
                    if cls is not None:
                        out[(cls.name, f"self.{target.id}")] = source_id
                elif (
                    isinstance(target, ast.Attribute)
                    and isinstance(target.value, ast.Name)
                    and target.value.id in ("self", "cls")
                ):
                    cls = self.enclosing_class(node)
                    if cls is not None:
                        out[(cls.name, f"self.{target.attr}")] = source_id
        return out

    def scope_name(self, node: ast.AST) -> str:
        def compute() -> str:
            names = [a.name for a in self.ancestors(node) if isinstance(a, SCOPES)]
            return ".".join(reversed(names))

        return self._memo("scope", node, compute)

    def enclosing_class(self, node: ast.AST, direct: bool = False) -> ast.ClassDef | None:
        for anc in self.ancestors(node):
            if isinstance(anc, ast.ClassDef):
                return anc
            if direct and isinstance(anc, FUNCS):
                return None
        return None

    def resolve(self, expr: ast.AST) -> str | None:
        """The migrated source id an expression evaluates to, when the analysis can tell."""
        literal = self.migrated_id(expr)
        if literal is not None:
            return literal
        if isinstance(expr, ast.Name) and self._imported_id(expr) is not None:
            return self._imported_id(expr)
        if isinstance(expr, ast.Name):
            scope = self.scope_name(expr)
            while True:
                found = self.bindings.get((scope, expr.id))
                if found is not None:
                    return found
                if not scope:
                    return None
                scope = scope.rpartition(".")[0]
        if (
            isinstance(expr, ast.Attribute)
            and isinstance(expr.value, ast.Name)
            and expr.value.id in ("self", "cls")
        ):
            cls = self.enclosing_class(expr)
            if cls is not None:
                return self.bindings.get((cls.name, f"self.{expr.attr}"))
        return None

    def resolve_target(self, expr: ast.AST) -> str | None:
        """The known target id an expression holds (a literal, or a name or ``self.x``
        assigned one), for half-done migrations."""
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            return expr.value if self.models.is_target(expr.value) else None
        key: tuple[str, str] | None = None
        if isinstance(expr, ast.Name):
            key = self.binding_set.resolve(expr)
        elif (
            isinstance(expr, ast.Attribute)
            and isinstance(expr.value, ast.Name)
            and expr.value.id in ("self", "cls")
        ):
            cls = self.enclosing_class(expr)
            key = (cls.name, f"self.{expr.attr}") if cls else None
        return self._target_names.get(key) if key else None

    @cached_property
    def _target_names(self) -> dict[tuple[str, str], str]:
        out: dict[tuple[str, str], str] = {}
        for node in walk(self.tree):
            if not isinstance(node, ast.Assign) or not isinstance(node.value, ast.Constant):
                continue
            value = node.value.value
            if not (isinstance(value, str) and self.models.is_target(value)):
                continue
            for target in node.targets:
                if isinstance(target, ast.Name):
                    out[(self.binding_set.store_scope(target), target.id)] = value
                    cls = self.enclosing_class(node, direct=True)
                    if cls is not None:
                        out[(cls.name, f"self.{target.id}")] = value
                elif (
                    isinstance(target, ast.Attribute)
                    and isinstance(target.value, ast.Name)
                    and target.value.id in ("self", "cls")
                ):
                    cls = self.enclosing_class(node)
                    if cls is not None:
                        out[(cls.name, f"self.{target.attr}")] = value
        return out

    def _imported_id(self, name: ast.Name) -> str | None:
        """A constant imported from, or a fixture returning an id defined in, another file
        whose binding migrates (the cross-file pre-pass decided it there)."""
        imported = self.ctx.file.imported.get(name.id)
        if (
            imported is None
            or imported.kind != "id"
            or imported.decision != "migrate"
            or not imported.in_run
        ):
            return None
        if self.binding_set.resolve(name)[0] not in ("", *self._param_scopes(name)):
            return None
        return imported.source

    def _param_scopes(self, name: ast.Name) -> list[str]:
        return [self.qualname(f) for f in self.ancestors(name) if isinstance(f, FUNCS)]


def analysis(ctx: RuleContext) -> Analysis:
    result: Analysis = ctx.memo("analysis", lambda: Analysis(ctx))
    return result


def parametrize_rows(
    func: ast.FunctionDef | ast.AsyncFunctionDef,
) -> Iterator[tuple[list[str], ast.expr, list[ast.expr]]]:
    """(parameter names, row, the row's cells in parameter order) for every row of a
    ``parametrize``/``parameterized.expand`` decorator written as a literal list or tuple."""
    for deco in func.decorator_list:
        if not isinstance(deco, ast.Call) or not deco.args:
            continue
        name = ast.unparse(deco.func)
        if name.endswith("parametrize") and len(deco.args) >= 2:
            names = _argnames(deco.args[0])
            rows = deco.args[1]
        elif name.endswith("expand"):
            names = [a.arg for a in func.args.args if a.arg not in ("self", "cls")]
            rows = deco.args[0]
        else:
            continue
        if not isinstance(rows, (ast.List, ast.Tuple)):
            continue
        for row in rows.elts:
            if isinstance(row, ast.Call) and ast.unparse(row.func).endswith("param"):
                cells = list(row.args)  # pytest.param(value, ..., marks=...)
            elif isinstance(row, (ast.Tuple, ast.List)) and (
                name.endswith("expand") or len(names) > 1
            ):
                cells = list(row.elts)
            else:
                cells = [row]
            yield names, row, cells


def _argnames(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [n.strip() for n in node.value.split(",") if n.strip()]
    if isinstance(node, (ast.List, ast.Tuple)):
        return [
            e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)
        ]
    return []
