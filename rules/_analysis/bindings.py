"""Bindings: a source id, everything loaded from it, everywhere that flows; one decision each.

A binding starts at the string literals that hold a GPT2 id and grows along the flow Python
gives them: names and module constants (``MODEL_ID = "gpt2"``), ``self.``/``cls.``
attributes, parameter defaults, parametrize values, helper returns and pytest fixtures
(tests take them by name), and the objects loaded from it (``tok = AutoTokenizer.
from_pretrained(MODEL_ID)``, ``self.model``, a fixture returning the model). Literals of the
same id in one function, or in a function and the helper it calls, are one binding: they are
meant to be the same checkpoint (an adapter built on it in the helper must fit the base the
test loads); so are literals of the same id that tests pass to the same helper of the file
(the id goes on in the helper's parameter, whose uses decide like any other).

The whole binding gets one decision, from all of its evidence:

- **keep** (info): GPT2 itself is needed on any of its objects (internals touched in any
  function that uses the binding), or a literal is not a checkpoint id here (a model type, an
  architecture-table key, a coverage peer, the base of a GPT2-derived artefact...);
- **review**: the id reaches something not known to take a hub id (``consumers``), or
  reaches nothing the analysis can follow;
- **migrate**: every use is a known consumer (or neutral, like a comparison).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .consumers import HUB_CLIENT, Verdict
from .fakes import fakes_only
from .flow import Flow, Use, call_slots
from .keys import Func, Key, NameIndex
from .tree import FUNCS

# A comment saying an id is coupled to an artefact made with it (an SAE, a cached export).
COUPLING = re.compile(
    r"\b(trained (on|with)|(must|should) match|matches the (model|base|checkpoint))",
    re.IGNORECASE,
)

if TYPE_CHECKING:
    from .evidence import Evidence


@dataclass
class Binding:
    source: str
    literals: list[ast.expr] = field(default_factory=list)
    keys: set[Key] = field(default_factory=set)  # names holding the id
    objects: set[Key] = field(default_factory=set)  # names holding what was loaded from it
    uses: list[Use] = field(default_factory=list)
    users: dict[int, Func] = field(default_factory=dict)  # functions touching the binding
    decision: str = "migrate"  # "migrate" | "keep" | "review"
    reason: str = ""
    line: int = 0  # the line of the evidence

    @property
    def first_line(self) -> int:
        return min(getattr(n, "lineno", 0) for n in self.literals)


class Bindings(NameIndex):
    """Every binding of one file; build with ``Analysis.binding_set``."""

    def __init__(self, found: Evidence, literals: list[ast.expr]) -> None:
        super().__init__(found)
        groups = _UnionFind()
        flows: dict[int, Flow] = {}
        for literal in literals:
            flow = Flow(self, literal)
            flows[id(literal)] = flow
            groups.add(id(literal))
            for key in flow.keys:
                groups.union(id(literal), ("key", key))
            for helper in flow.helpers:  # passed to the same helper: it builds the same objects
                groups.union(id(literal), ("func", helper, _value(literal)))
            if any(use.keep for use in flow.uses):
                # a literal that names something (a pytest id, a model type) is not the
                # checkpoint the function loads: its decision is its own
                continue
            func = found.function_of(literal)
            # The same id in the function, in the helpers it calls, and in the functions that
            # take what it loaded (a fixture's model, ``self.tokenizer``): the same checkpoint.
            same = [func, *self.callees(func)] if func is not None else []
            for user in [*same, *flow.users.values()]:
                groups.union(id(literal), ("func", id(user), _value(literal)))
        for forwarded, received in self._forwarded():
            groups.union(("key", forwarded), ("key", received))
        self.of: dict[int, Binding] = {}
        members: dict[object, Binding] = {}
        for literal in literals:
            root = groups.find(id(literal))
            binding = members.setdefault(root, Binding(_value(literal)))
            flow = flows[id(literal)]
            binding.literals.append(literal)
            binding.keys |= flow.keys
            binding.objects |= flow.objects
            binding.uses.extend(flow.uses)
            binding.users.update(flow.users)
            self.of[id(literal)] = binding
        self.all = list(members.values())
        for binding in self.all:
            self._decide(binding)

    def _coupling_comment(self, binding: Binding) -> tuple[int, str] | None:
        """A comment on a literal's line, or in the comment lines right above it, saying the
        id must match what an artefact was trained on (``# Matches the model_name in
        cfg.json``, ``# should match the one the CLT was trained on``): its line and text."""
        source = self.found.ctx.source
        if not COUPLING.search(source.text):
            return None
        by_line = {line: text for line, _col, text in source.comments}
        for literal in binding.literals:
            line = literal.lineno
            candidates = [line]
            above = line - 1
            while above in by_line and source.lines[above - 1].lstrip().startswith("#"):
                candidates.append(above)
                above -= 1
            for number in candidates:
                text = by_line.get(number)
                if text is not None and COUPLING.search(text):
                    return number, text.lstrip("#").strip()[:80]
        return None

    def _expected_row(self, binding: Binding) -> tuple[ast.expr, list[int]] | None:
        """A row of a table (``(OVModelForCausalLM, "gpt2", 31, 22)`` among other rows) that
        holds the id next to integer expectations, and those integers; else None."""
        parent = self.found.parent
        for literal in binding.literals:
            row = parent.get(id(literal))
            if not isinstance(row, (ast.Tuple, ast.List)):
                continue
            if not isinstance(parent.get(id(row)), (ast.Tuple, ast.List)):
                continue
            numbers = [
                c.value
                for c in row.elts
                if isinstance(c, ast.Constant) and type(c.value) is int and abs(c.value) > 1
            ]
            if numbers:
                return row, numbers
        return None

    def _adopt_fixture(self, binding: Binding) -> bool:
        """A test that takes a fixture another file loads from the same id (a conftest's
        model) and writes the id again (``assert model.name_or_path == "gpt2"``) follows that
        fixture's decision. True when it decided the binding (keep or review); a migrating
        fixture adds a known use and lets the rest of the evidence decide."""
        imported = self.found.ctx.file.imported
        if not imported:
            return False
        for func in sorted(binding.users.values(), key=lambda f: f.lineno):
            args = func.args
            for param in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
                fixture = imported.get(param.arg)
                if fixture is None or fixture.kind == "id" or fixture.source != binding.source:
                    continue
                what = f"the fixture {param.arg} ({fixture.where})"
                if fixture.decision == "migrate" and fixture.in_run:
                    binding.uses.append(Use(binding.literals[0], Verdict(True, what)))
                    return False
                if fixture.decision in ("keep", "review"):
                    self._set(
                        binding,
                        fixture.decision,
                        f"{func.name} takes {what}, loaded from this id, which "
                        f"{'keeps GPT2' if fixture.decision == 'keep' else 'is for review'} "
                        "there: the id written here changes with it",
                        func,
                    )
                    return True
        return False

    def _forwarded(self) -> list[tuple[Key, Key]]:
        """Parameters a function hands on to a helper of the file (``def _create_model(self,
        model_path): self._get_trainer(model_path); self._create_inputs(model_path)``): ids
        that tests give to any of those helpers are meant to be the same checkpoint."""
        found = self.found
        pairs: list[tuple[Key, Key]] = []
        router = Flow(self, None)
        for name, calls in self.calls.items():  # calls by name: helpers and self.helpers
            if name not in found.functions_named:
                continue
            for node in calls:
                func = found.function_of(node)
                if func is not None:
                    pairs += self._forwarded_by(router, func, node)
        return pairs

    def _forwarded_by(self, router: Flow, func: Func, call: ast.Call) -> list[tuple[Key, Key]]:
        """The parameters of ``func`` that ``call`` hands on to a helper, as key pairs."""
        found = self.found
        pairs: list[tuple[Key, Key]] = []
        params = {a.arg for a in [*func.args.posonlyargs, *func.args.args, *func.args.kwonlyargs]}
        for slot, arg in call_slots(call):
            if isinstance(arg, ast.Name) and arg.id in params:
                helper = router._helper_param(call, slot)
                if helper is not None:
                    forwarded = (found.qualname(func), arg.id)
                    pairs.append((forwarded, (found.qualname(helper[0]), helper[1])))
        return pairs

    def seeded(self, key: Key, id_valued: bool) -> Flow:
        """The flow of a name another file binds (a conftest fixture, an imported constant)."""
        flow = Flow(self, None)
        flow.enter(key, id_valued)
        return flow

    # -- decision ------------------------------------------------------------------------

    def _decide(self, binding: Binding) -> None:
        found = self.found
        directives = found.ctx.source.directives
        if all(
            directives.ignored("model-id", n.lineno, getattr(n, "end_lineno", None) or n.lineno)
            for n in binding.literals
        ):  # the id stays, so everything loaded from it stays GPT2
            self._set(
                binding, "keep", "'# migrate-tests: ignore' keeps the id", binding.literals[0]
            )
            return
        for literal in binding.literals:
            leave = found.literal_leave(literal)
            if leave is not None:
                self._set(binding, "keep", leave.reason, literal)
                return
        for use in binding.uses:
            if use.keep is not None:
                self._set(binding, "keep", use.keep, use.node)
                return
        coupled = self._coupling_comment(binding)
        if coupled is not None:
            line, text = coupled
            self._set(
                binding,
                "keep",
                f"the comment on line {line} ({text!r}) ties it to something built on GPT2: "
                "migrate both together, by hand",
                binding.literals[0],
            )
            return
        remote = [
            use
            for scope, name in binding.keys | binding.objects
            if scope in ("fixture", "")
            for use in found.ctx.file.external.get(name, ())
        ]
        for outside in remote:
            if outside.internals:
                self._set(
                    binding,
                    "keep",
                    f"{outside.path}:{outside.line} relies on GPT2 ({outside.what}); swapping "
                    "the model"
                    " would break it",
                    binding.literals[0],
                )
                return
        for outside in remote:
            if outside.known is not None:
                what = f"{outside.what} in {outside.path}:{outside.line}"
                binding.uses.append(Use(binding.literals[0], Verdict(outside.known, what)))
        for func in sorted(binding.users.values(), key=lambda f: f.lineno):
            internals = found.internals_in(func)
            if internals:
                self._set(
                    binding,
                    "keep",
                    f"{func.name} (line {func.lineno}) relies on GPT2 ({internals}); swapping "
                    "the model would void it",
                    func,
                )
                return
        mock = fakes_only(found, binding)
        if mock is not None:
            self._set(
                binding,
                "keep",
                f"what it loads only computes what the mock on line {mock} returns: GPT2's "
                "tokenization stands in for another system's, and swapping it would change "
                "what the test fakes",
                binding.literals[0],
            )
            return
        for literal in binding.literals:
            home = found.function_of(literal) or found.enclosing_class(literal)
            named = found.named_for_gpt2(home) if home is not None else None
            if named:
                self._set(
                    binding,
                    "keep",
                    f"{named} is named for GPT2: GPT2 is what it tests, swapping the model "
                    "would void it",
                    literal,
                )
                return
            series = found.series_peer(home) if isinstance(home, FUNCS) else None
            if series and home is not None:
                self._set(
                    binding,
                    "keep",
                    f"{home.name} is the GPT2 case of a series of tests by model ({series[0]} "
                    f"loads {series[1]!r}): kept for coverage",
                    literal,
                )
                return
        for func in sorted(binding.users.values(), key=lambda f: f.lineno):
            named = found.named_for_gpt2(func)
            if named:  # one user of a shared model says it tests GPT2: a human splits them
                self._set(
                    binding,
                    "review",
                    f"{named} (line {func.lineno}) is named for GPT2 and uses this model with "
                    "other tests: migrate the others and give that test a GPT2 model of its "
                    "own, or keep it",
                    func,
                )
                return
        if self._adopt_fixture(binding):
            return
        unknown = [u for u in binding.uses if u.verdict is not None and not u.verdict.known]
        if unknown:
            first = min(unknown, key=lambda u: getattr(u.node, "lineno", 0))
            assert first.verdict is not None
            if found.hub_client_file or HUB_CLIENT in first.verdict.what:
                self._set(
                    binding,
                    "keep",
                    "a repository name for huggingface_hub (the test is about that repository, "
                    "not about a model)",
                    first.node,
                )
                return
            if "/" not in binding.source and all(not u.verdict.call for u in unknown if u.verdict):
                self._set(
                    binding,
                    "keep",
                    f"{binding.source!r} here names something (it reaches {first.verdict.what}, "
                    f"line {getattr(first.node, 'lineno', '?')}): a model type, "
                    "template or directory name, not a checkpoint to load",
                    first.node,
                )
                return
            self._set(
                binding,
                "review",
                f"it reaches {first.verdict.what} (line {getattr(first.node, 'lineno', '?')}), "
                "not known to take a Hugging Face hub id: migrate it by hand, or declare that "
                "consumer in [tool.migrate-tests] consumers and re-run",
                first.node,
            )
            return
        if not any(u.verdict is not None and u.verdict.known for u in binding.uses):
            if "/" not in binding.source and binding.uses:
                self._set(
                    binding,
                    "keep",
                    f"{binding.source!r} here is only compared or formatted into text: a name, "
                    "not a checkpoint to load",
                    binding.literals[0],
                )
                return
            row = self._expected_row(binding)
            if row is not None:
                numbers = ", ".join(str(n) for n in row[1])
                self._set(
                    binding,
                    "keep",
                    f"a row of a table that pairs it with expected numbers {numbers} (line "
                    f"{row[0].lineno}), measured on GPT2: they would not hold for another "
                    "model; migrate the row by hand, with new numbers",
                    row[0],
                )
                return
            self._set(
                binding,
                "review",
                "it reaches no loader the tool knows (nothing here loads it): check where it "
                "is used and migrate it by hand",
                binding.literals[0],
            )

    @staticmethod
    def _set(binding: Binding, decision: str, reason: str, node: ast.AST) -> None:
        binding.decision, binding.reason = decision, reason
        binding.line = getattr(node, "lineno", 0)


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[object, object] = {}

    def add(self, item: object) -> None:
        self.parent.setdefault(item, item)

    def find(self, item: object) -> object:
        self.add(item)
        while self.parent[item] != item:
            self.parent[item] = self.parent[self.parent[item]]
            item = self.parent[item]
        return item

    def union(self, a: object, b: object) -> None:
        self.parent[self.find(a)] = self.find(b)


def _value(literal: ast.expr) -> str:
    if isinstance(literal, ast.Constant):
        return str(literal.value)
    return "".join(
        str(part.value) for part in getattr(literal, "values", []) if isinstance(part, ast.Constant)
    )
