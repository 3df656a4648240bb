"""Peers: what sits next to a GPT2 id and shows it is not a checkpoint to swap.

Other architectures in the same collection or parametrize column (kept for coverage), bare
model types next to each other, and GPT2-derived artefacts (an adapter trained on GPT2) loaded
where the id is used: the base and the artefact must change together, by hand.
"""

from __future__ import annotations

import ast
import re
from functools import cached_property

from .labels import Labels
from .shapes import MODEL_LIKE, MODEL_TYPE, is_cli_string
from .tree import FUNCS, walk

# What a model id given to a parameter can look like: ``org/name`` or a bare ``t5-small``.
BARE_OR_ORG = re.compile(r"^[\w.-]+(/[\w.-]+)?$")
# The words of an identifier, snake_case or CamelCase (``GPT2`` stays one word).
NAME_WORD = re.compile(r"[A-Z]+[0-9]*(?![a-z])|[A-Z]?[a-z]+[0-9]*|[0-9]+")
TEST_WORDS = frozenset({"test", "tests", "testcase", "case"})
# Test functions and classes (by pytest's and unittest's naming): their name states the subject.
TEST_NAME = re.compile(r"^(test|Test)|Tests?$|TestCase$")


def name_words(name: str) -> list[str]:
    """The lower-case words of a test's name, without the test markers."""
    return [w for w in (m.lower() for m in NAME_WORD.findall(name)) if w not in TEST_WORDS]


class Peers(Labels):
    """Coverage peers, model-type peers and derived artefacts of the file's ids."""

    def model_type_peers(self, elts: list[ast.expr]) -> bool:
        """Bare names of architectures next to each other (``["gpt2", "llama", "opt"]``):
        model types, not checkpoints."""
        values = [e.value for e in elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
        others = [v for v in values if self.models.target_of(v) is None]
        types = [v for v in others if MODEL_TYPE.match(v)]
        # Real tables carry a few test names too ("mistral-nemo"): most entries decide.
        return bool(types) and len(types) >= 0.75 * len(others)

    def coverage_peer(self, node: ast.AST) -> str | None:
        """A non-GPT2 model among the values this literal sits with (a flat list, or the same
        column of parametrize-style rows, the keys of a table keyed by checkpoint ids), or
        None. Argument lists (``["--flag", ...]``) and dict values are configurations, not
        enumerations."""
        parameter = self.parameter_of.get(id(node))
        if parameter is not None and self._used_as_id(*parameter):
            # The values of a parameter used as a model id are all model ids, bare ones
            # ("bert-base-uncased", "t5-small") included.
            # Other cells are argument strings ("pretrained=org/name,dtype=...") or data.
            for cell in self.parametrized(parameter[0]).get(parameter[1], []):
                text = str(cell.value)
                tokens = [text] if BARE_OR_ORG.match(text) else self.model_tokens(text)
                for token in tokens:
                    if self._other_model(token):
                        return token
            return None
        parent = self.parent.get(id(node))
        if isinstance(parent, ast.Dict) and node in parent.keys:
            # {"org/bert": "fill-mask", "org/gpt2": "text-generation"}: a table of checkpoints
            keys = [k.value for k in parent.keys if isinstance(k, ast.Constant)]
            ids = [k for k in keys if isinstance(k, str) and MODEL_LIKE.match(k)]
            if len(ids) < 2 or len(ids) < 0.75 * len(parent.keys):
                return None
            return next((k for k in ids if self._other_model(k)), None)
        if not isinstance(parent, (ast.List, ast.Tuple, ast.Set)):
            return None
        grand = self.parent.get(id(parent))
        peers: list[ast.expr] = list(parent.elts)
        if isinstance(grand, (ast.List, ast.Tuple, ast.Set)) and (
            isinstance(parent, ast.Tuple) or _rows(grand)
        ):
            # parametrize-style rows, tuples or lists of one length: the literal's column
            column = parent.elts.index(node)  # type: ignore[arg-type]
            peers = [
                row.elts[column]
                for row in grand.elts
                if isinstance(row, (ast.Tuple, ast.List)) and len(row.elts) > column
            ]
        values = [lit for p in peers if (lit := _literal_text(p)) is not None]
        if any(v.startswith("-") for v in values):
            return None
        for value in values:
            for token in self.model_tokens(value):
                if self._other_model(token):
                    return token
        return None

    def series_peer(self, func: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[str, str] | None:
        """A sibling test of a series by model that ``func`` is the GPT2 case of, with the id
        it loads: ``test_get_tokenizer_gpt2`` beside ``test_get_tokenizer_gptj`` loading
        "EleutherAI/gpt-j-6B", or ``test_byte_length_of_token_gpt2`` beside the base case
        ``test_byte_length_of_token`` loading a Llama. The word that varies must name the
        sibling's model (or be absent): ``..._gpt2_success`` beside ``..._multimodal_success``
        is a series by modality, where an instruct text model takes GPT2's place."""
        words = name_words(func.name)
        if not TEST_NAME.search(func.name) or "gpt2" not in words:
            return None
        prefix = words[: words.index("gpt2")]
        owner = self.parent.get(id(func))
        if not prefix or not isinstance(owner, (ast.Module, ast.ClassDef)):
            return None
        for sibling in owner.body:
            if not isinstance(sibling, FUNCS) or sibling is func:
                continue
            other = name_words(sibling.name)
            if not TEST_NAME.search(sibling.name) or other[: len(prefix)] != prefix:
                continue
            if "gpt2" in other:
                continue
            varying = other[len(prefix)] if len(other) > len(prefix) else ""
            for node in walk(sibling):
                text = node.value if isinstance(node, ast.Constant) else None
                if not isinstance(text, str) or not MODEL_LIKE.match(text):
                    continue
                if self._other_model(text) and _squash(varying) in _squash(text):
                    return sibling.name, text
        return None

    def _other_model(self, text: str) -> bool:
        """Not a GPT2 id (registered or spelled with gpt2): another architecture."""
        return self.models.target_of(text) is None and "gpt2" not in text.lower()

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
        """The GPT2-derived artefact that meets this base id where it is used, if any: loaded
        onto the model of the base (``PeftModel.from_pretrained(base, adapter)``), or compared
        with it (outputs of both in one statement). Two loads that never meet (a pre-exported
        copy and an export on the fly, each checked on its own) are no pair."""
        if not self.artefacts:
            return None
        value = getattr(node, "value", None)
        scope = next((a for a in self.ancestors(node) if isinstance(a, FUNCS)), None)
        seeds: set[str] = set()
        if scope is not None:
            scopes: list[ast.stmt] = [scope]
        else:
            name = self._assigned_name(node)
            scopes = self.users_of(name) if name is not None else []
            seeds = {name} if name is not None else set()
        for user in scopes:
            funcs = (
                [user]
                if isinstance(user, FUNCS)
                else [f for f in walk(user) if isinstance(f, FUNCS)]
            )
            for func in funcs:
                met = self._meets(func, value, seeds)
                if met is not None:
                    return met
        return None

    def _meets(self, func: ast.stmt, base: object, seeds: set[str]) -> str | None:
        """The artefact whose objects meet those of the base id in ``func``, following
        assignments statement by statement (a name rebound to another load leaves the pair)."""
        origin: dict[str, set[str]] = {name: {""} for name in seeds}
        origin.update({key: {art} for key, art in self.artefacts.items() if key != art})
        for stmt in _simple_statements(getattr(func, "body", [])):
            mentioned: set[str] = set()
            for inner in walk(stmt):
                if isinstance(inner, ast.Constant) and isinstance(inner.value, str):
                    if inner.value == base:
                        mentioned.add("")
                    elif inner.value in self.artefacts:
                        mentioned.add(self.artefacts[inner.value])
                elif isinstance(inner, (ast.Name, ast.Attribute)) and not isinstance(
                    getattr(inner, "ctx", None), ast.Store
                ):
                    mentioned |= origin.get(ast.unparse(inner), set())
            if "" in mentioned and len(mentioned) > 1:
                return min(mentioned - {""})
            if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                for target in targets:
                    for name in walk(target):
                        if isinstance(name, (ast.Name, ast.Attribute)):
                            origin[ast.unparse(name)] = set(mentioned)
        return None


def _simple_statements(body: list[ast.stmt]) -> list[ast.stmt]:
    """The statements of a body in source order, compound ones replaced by their inner
    statements (a ``with`` or ``for`` header is read with its first inner statement's)."""
    out: list[ast.stmt] = []
    for stmt in body:
        inner = [
            *getattr(stmt, "body", []),
            *getattr(stmt, "orelse", []),
            *(s for h in getattr(stmt, "handlers", []) for s in h.body),
            *getattr(stmt, "finalbody", []),
        ]
        if inner and not isinstance(stmt, (*FUNCS, ast.ClassDef)):
            out.extend(_simple_statements(inner))
        elif not inner:
            out.append(stmt)
    return out


def _rows(table: ast.List | ast.Tuple | ast.Set) -> bool:
    """Rows of a table written as lists: two or more sequences of one length > 1."""
    lengths = {len(r.elts) if isinstance(r, (ast.Tuple, ast.List)) else 0 for r in table.elts}
    return len(table.elts) > 1 and len(lengths) == 1 and min(lengths) > 1


def _literal_text(node: ast.expr) -> str | None:
    """The text of a string literal; of an f-string, its literal parts (an enumeration of
    ``f"cli export --model org/tiny-bert {tmp}/encoder"`` commands names its models there)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts = [v.value for v in node.values if isinstance(v, ast.Constant)]
        return " ".join(str(part) for part in parts)
    return None


def _squash(text: str) -> str:
    """Lower case, letters and digits only: "gpt-j-6B" -> "gptj6b", so "gptj" is in it."""
    return re.sub(r"[^a-z0-9]", "", text.lower())
