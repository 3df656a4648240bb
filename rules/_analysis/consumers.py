"""Where a hub id may be rewritten: consumers known to take a Hugging Face hub id.

An id is migrated only where it reaches one of these; anywhere else (a project's own loader, an
interpretability wrapper with its own model names, a string of code) the tool cannot know that
the target id means the same thing there, so the binding is review. ``consumers = [...]`` in
``[tool.migrate-tests]`` declares more (bare names or dotted import paths).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from migrator.models import is_model_field

# Packages whose loaders take a hub id (``X.from_pretrained(id)``, ``pipeline(model=id)``).
HF_PACKAGES = frozenset({"transformers", "trl", "peft", "sentence_transformers", "diffusers"})
# huggingface_hub takes repository ids, not models: a test of the hub client on "gpt2" tests
# that repository (its files, revisions, cards), which no instruct model reproduces.
HUB_CLIENT = "huggingface_hub"
# Libraries that name models in registries of their own (TransformerLens names, hook points,
# attribution wrappers): a "model_id=" field of theirs is not known to take a hub id.
OWN_REGISTRIES = frozenset({"transformer_lens", "sae_lens", "sae_dashboard", "inseq", "nnsight"})
LOAD_KEYWORDS = frozenset({"pretrained_model_name_or_path", "model_id", "model_name_or_path"})
TRAINER_ARGS = frozenset({"model", "ref_model", "reward_model", "value_model", "teacher_model"})
# transformers functions besides the loaders that take a hub id as their first argument.
HUB_ID_FUNCTIONS = frozenset(
    {"get_config_dict", "cached_file", "cached_files", "has_file", "get_tokenizer_config"}
)
# Calls that make a file path of their arguments: an id given to one is a folder's name (a
# local copy of the tokenizer, an output directory), not a checkpoint on the hub.
PATH_CALLS = frozenset(
    {"os.path.join", "posixpath.join", "ntpath.join", "pathlib.Path", "pathlib.PurePath"}
)


@dataclass(frozen=True)
class Verdict:
    """How one use of an id treats it: a known consumer, or why not (``None``: neutral)."""

    known: bool
    what: str  # "AutoTokenizer.from_pretrained", "ModelParams(model_name=)", ...
    call: bool = True  # False: a field, key or flag (data that names something)
    foreign: bool = False  # a library with its own model registry: a loader, not a name


def package_of(root: str, imports: dict[str, tuple[str, str]], modules: dict[str, str]) -> str:
    """The top-level package a name of this file comes from (``""``: not imported)."""
    origin = imports.get(root)
    return (origin[0] if origin else modules.get(root, "")).lstrip(".").split(".")[0]


def classify_call(
    call: ast.Call,
    slot: int | str,
    imports: dict[str, tuple[str, str]],
    modules: dict[str, str],
    declared: frozenset[str],
    local_classes: frozenset[str] = frozenset(),
) -> Verdict:
    """A call receiving an id at ``slot`` (positional index or keyword name)."""
    callee = _dotted(call.func)
    root = callee.split(".")[0]
    origin = imports.get(root)
    package = package_of(root, imports, modules)
    full = f"{origin[0]}.{origin[1]}{callee[len(root) :]}" if origin else callee
    short = callee.rsplit(".", 1)[-1]
    what = f"{callee}()" if isinstance(slot, int) else f"{callee}({slot}=)"
    if declared & {callee, full, short, full.rsplit(".", 1)[0] if "." in full else full}:
        return Verdict(True, what)
    if package == HUB_CLIENT:
        return Verdict(False, f"{what} (huggingface_hub: a repository, not a model)")
    if package in OWN_REGISTRIES:
        return Verdict(False, f"{what} of {package}, which names models its own way", foreign=True)
    if isinstance(call.func, ast.Attribute) and call.func.attr == "from_pretrained":
        # ``from_pretrained`` is Hugging Face's loading protocol: a class that is not imported
        # (a parameter, ``self.model_class``) follows it; an import from elsewhere is
        # another library's registry (structured generation, interpretability wrappers).
        hf = package in HF_PACKAGES or (not package and root not in local_classes)
        if hf and (slot == 0 or slot in LOAD_KEYWORDS):
            return Verdict(True, what)
        return Verdict(False, what)
    if package in HF_PACKAGES:
        if short == "pipeline" and (slot in ("model", "tokenizer", 1)):
            return Verdict(True, what)
        if short.endswith("Trainer") and (slot == 0 or slot in TRAINER_ARGS):
            return Verdict(True, what)
        if short in HUB_ID_FUNCTIONS and slot in (0, "pretrained_model_name_or_path"):
            return Verdict(True, what)
        if package == "transformers" and isinstance(slot, int):
            # Its other functions and classes name architectures by model type
            # (``retrieve_model_classes("gpt2")``, ``AutoConfig.for_model("gpt2")``).
            return Verdict(False, f"{what} of transformers, which takes a model type", call=False)
    if isinstance(slot, str) and is_model_field(slot):
        return Verdict(True, what)
    return Verdict(False, what)


def is_path_call(
    call: ast.Call, imports: dict[str, tuple[str, str]], modules: dict[str, str]
) -> bool:
    """``call`` makes a file path of its arguments (``os.path.join``, ``Path``, ``joinpath``)."""
    callee = _dotted(call.func)
    root = callee.split(".")[0]
    origin = imports.get(root)
    module = modules.get(root)
    if origin:
        full = f"{origin[0]}.{origin[1]}{callee[len(root) :]}"
    else:
        full = f"{module}{callee[len(root) :]}" if module else callee
    return full in PATH_CALLS or callee.rsplit(".", 1)[-1] == "joinpath"


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    if isinstance(node, ast.Call):
        return _dotted(node.func) + "()"
    return ast.unparse(node)
