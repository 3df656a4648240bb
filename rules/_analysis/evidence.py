"""Evidence: what says a GPT2 id must stay, or is for a human to migrate.

GPT2 internals a scope touches, the file testing GPT2 itself, substring and regex tests on an
id, labels and peers (``labels``, ``peers``), huggingface_hub repositories; and the bindings
(``bindings``), whose one decision every literal of a binding shares.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from functools import cached_property

from .bindings import Binding, Bindings
from .consumers import HF_PACKAGES, HUB_CLIENT
from .peers import TEST_NAME, Peers, name_words
from .tree import FUNCS, SCOPES

# Module and parameter names that only exist because the model is GPT2: a test that mentions
# them tests GPT2 itself, and swapping the model would break or void it.
INTERNALS = re.compile(
    r"\b(c_attn|c_proj|c_fc|wte|wpe|GPT2Block|GPT2Attention|GPT2MLP|Conv1D|fan_in_fan_out)\b"
    # GPT2Config's own field names, read off a loaded model (``model.config.n_embd``).
    r"|\.(n_embd|n_layer|n_head|n_positions|n_ctx|n_inner)\b"
    r"|\btransformer\.h\b"
)
# Code paths that exist per architecture: DeepSpeed's kernel injection swaps a model's layers
# for kernels written for its architecture (GPT2's policy), so another architecture takes
# another path, or none, and its outputs no longer match the baseline the test compares.
ARCH_KERNELS = re.compile(r"\breplace_with_kernel_inject\s*=\s*True\b|\binjection_policy\s*=")
# "gpt2" as a word of a file name: test_modeling_gpt2, gpt2_test, test_hf_gpt2_serialize.
GPT2_WORD = re.compile(r"(^|[_\W])gpt2($|[_\W])", re.IGNORECASE)
# Nouns for a piece of a model: "GPT2" right before one names that piece of GPT2 as the subject
# (``TestHuggingFaceGPT2Tokenizer``, ``test_fused_gpt2_attention``). Not "model" or "config":
# "gpt2 model" only says which model a test runs.
PIECE_WORDS = frozenset(
    {
        "tokenizer", "tokenizers", "tokenize", "tokenization", "attention", "attn", "block",
        "blocks", "mlp", "layer", "layers", "head", "heads", "embedding", "embeddings",
        "architecture", "arch", "vocab", "eos", "bos", "bpe", "merges", "backbone", "preset",
    }
)  # fmt: skip
# A test that asserts GPT2's tokenizer has no chat template (an instruct target has one).
NO_TEMPLATE = re.compile(
    r"\bassert\b[^\n]*chat_template(?!_)[^\n]*\b(is None|is False|== None)"
    r"|assert(IsNone|False)\([^\n]*chat_template(?!_)"
)
# A GPT2 class named in a string (a registry key, an expected warning, ``architectures``):
# "GPT2LMHeadModel", not the end of an id such as "tiny-random-GPT2LMHeadModel".
CLASS_NAME = re.compile(r"(?<![\w/.-])GPT2[A-Z]\w*")
VOCAB_SIZE = "50257"
# GPT2's hidden size written under a name for a model's width (``d_model=768``, an SAE's
# ``"d_in": 768``): something built to fit GPT2's residual stream.
HIDDEN_SIZE = 768
WIDTH_NAME = re.compile(
    r"^(d_(model|in|out|hidden|embed)|hidden(_size|_dim)?|n_embd|embed(ding)?_dim|model_dim|width)$"
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


@dataclass(frozen=True)
class Leave:
    """Why an id is deliberately not migrated (reported as info)."""

    reason: str


class Evidence(Peers):
    """Why whole-value ids stay or go to review."""

    @cached_property
    def hub_client_file(self) -> bool:
        """The file uses huggingface_hub and loads nothing with transformers, trl or peft."""
        packages = {m.lstrip(".").split(".")[0] for m, _ in self.imports.values()} | {
            m.split(".")[0] for m in self.module_aliases.values()
        }
        return HUB_CLIENT in packages and not packages & HF_PACKAGES

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
        match = ARCH_KERNELS.search(text)
        if match:
            return f"{match.group(0)}: kernels injected per architecture"
        if "GPT2" in text:
            for node in self.walk(scope):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    named = CLASS_NAME.search(node.value)
                    if named:
                        return f"the class name {named.group(0)!r} in a string (line {node.lineno})"
        if RAISES.search(text) and not UNSETS_PAD.search(text) and self._pad_error(scope):
            return "an assertion on the missing-pad-token error"
        if NO_TEMPLATE.search(text):
            return "an assertion that the tokenizer has no chat template"
        if str(HIDDEN_SIZE) in text:
            width = self._width_dimension(scope)
            if width is not None:
                return f"GPT2's hidden size 768 as {width[0]} (line {width[1]})"
        if VOCAB_SIZE in text:
            line = self._vocab_dimension(scope)
            if line is not None:
                return f"GPT2's vocabulary size 50257 as a dimension (line {line})"
        return None

    def _pad_error(self, scope: ast.stmt) -> bool:
        """The error expected is about the pad token: its message (a string of the scope) or
        the test's name says so; a keyword that sets one (``tokenizer_pad_token=``) does not."""
        names = [scope.name] if isinstance(scope, (*FUNCS, ast.ClassDef)) else []
        strings = [
            n.value
            for n in self.walk(scope)
            if isinstance(n, ast.Constant) and isinstance(n.value, str)
        ]
        return any(PAD_ERROR.search(text) for text in [*names, *strings])

    def _width_dimension(self, scope: ast.stmt) -> tuple[str, int] | None:
        """The name and line where ``768`` is given as a model's width (a keyword or a dict
        key such as ``d_model``/``d_in``/``hidden_size``), or None."""
        for node in self.walk(scope):
            if not (isinstance(node, ast.Constant) and node.value == HIDDEN_SIZE):
                continue
            parent = self.parent.get(id(node))
            name: object = None
            if isinstance(parent, ast.keyword):
                name = parent.arg
            elif isinstance(parent, ast.Dict) and node in parent.values:
                key = parent.keys[parent.values.index(node)]
                name = key.value if isinstance(key, ast.Constant) else None
            if isinstance(name, str) and WIDTH_NAME.match(name):
                return name, node.lineno
        return None

    def _vocab_dimension(self, scope: ast.stmt) -> int | None:
        """The line where ``50257`` is passed to a call or written into a dict (kwargs of a
        model: ``{"input_dim": 50257}``) outside an assertion (a logits or embedding
        dimension built for GPT2's vocabulary), or None."""
        for node in self.walk(scope):
            if not (isinstance(node, ast.Constant) and type(node.value) is int):
                continue
            if node.value != 50257 or not isinstance(
                self.parent.get(id(node)), (ast.Call, ast.keyword, ast.Dict)
            ):
                continue
            statement = self.statement_of(node)
            if not isinstance(statement, ast.Assert) and "assert" not in self.scope_text(
                statement  # type: ignore[arg-type]
            ):
                return node.lineno
        return None

    @cached_property
    def subject_path(self) -> str | None:
        """The file's path names GPT2 as its subject: a ``gpt2/`` folder, or a file named for
        it (``test_modeling_gpt2.py``, ``gpt2_test.py``): why it is kept, or None."""
        path = self.source.path.replace("\\", "/")
        folders, _, name = path.rpartition("/")
        if "/gpt2/" in f"/{folders}/":
            return "it lives under a gpt2/ folder"
        if GPT2_WORD.search(name.rsplit(".", 1)[0]):
            return f"the file is named for it ({name})"
        return None

    def named_for_gpt2(
        self, func: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
    ) -> str | None:
        """The test function, or the test class around it, whose name says it tests GPT2
        (``test_gpt2_tokenize_eos``, ``TestHuggingFaceGPT2Tokenizer``), or None.

        A name that only says which model the test runs (``test_gpt2``,
        ``test_build_processor_basic_gpt2_success``) is a label, like a pytest id: the test
        checks something else, and migrates with its model (``model-labels`` reports the name).
        """
        names = [func.name]
        owner = self.enclosing_class(func)
        while owner is not None:
            names.append(owner.name)
            owner = self.enclosing_class(owner)
        for name in names:
            if TEST_NAME.search(name) and _gpt2_is_subject(name):
                return name
        return None

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
            return Leave(f"the file tests GPT2 itself ({self.subject_path})")
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


def _gpt2_is_subject(name: str) -> bool:
    """The test name puts GPT2 as its subject: "gpt2" is the first word after the test marker
    and more words follow (``test_gpt2_tokenize_eos``, ``GPT2TokenizerTest``), or it stands
    right before a piece of a model (``TestHuggingFaceGPT2Tokenizer``)."""
    words = name_words(name)
    for i, word in enumerate(words):
        if word == "gpt2" and (
            (i == 0 and len(words) > 1) or (i + 1 < len(words) and words[i + 1] in PIECE_WORDS)
        ):
            return True
    return False
