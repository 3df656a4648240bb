"""Properties of ``--apply`` on generated test modules (SPEC §2 suppression, §4, §6).

The generator builds modules from the shapes the rules target (module constants, ``setUp``
attributes, class attributes, ``from_pretrained`` calls, GPT2 classes, parametrize lists, dict
values, command-line strings) and from shapes that must stay (coverage lists of several
architectures, comments and docstrings that mention GPT2, ids inside longer words, lines
suppressed with ``# migrate-tests: ignore``), mixed with unrelated code, in random order, with a
random indentation unit, LF or CRLF, an optional BOM and an optional coding cookie.

Each example is migrated with ``run_cli("--apply", ...)`` and must: parse, without using a GPT2
or Auto class it does not import; be a fixed point of a second run (which does not even touch
the file); keep its line endings, final newline and BOM; stay byte-identical (and unwritten)
when nothing in it is to change; and keep GPT2 ids in code positions (whole-value string
literals, tokens of command-line and key=value strings; docstrings are prose) exactly where,
and as many times as, the generator put must-stay ones.
"""

from __future__ import annotations

import ast
import codecs
import os
import re
import tempfile
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from migrator.models import SOURCE_IDS

from .helpers import run_cli

# Hundreds of generated examples per property: not in the default run (``-m slow``).
pytestmark = pytest.mark.slow

SOURCES = sorted(SOURCE_IDS)
# Model ids of other architectures: a collection holding one of them next to a GPT2 id
# enumerates architectures for coverage, and its GPT2 id stays.
PEERS = (
    "hf-internal-testing/tiny-random-LlamaForCausalLM",
    "hf-internal-testing/tiny-random-MistralForCausalLM",
    "trl-internal-testing/tiny-T5ForConditionalGeneration",
    "facebook/opt-125m",
)
GPT2_CLASSES = (
    "GPT2LMHeadModel",
    "GPT2Model",
    "GPT2ForSequenceClassification",
    "GPT2Tokenizer",
    "GPT2TokenizerFast",
    "GPT2Config",
)
# Strings that contain "gpt2" without being an id nor an id token.
NOT_IDS = ("gpt2-sentiment.ipynb", "test_gpt2", "examples/gpt2.py", "gpt2_cache", "my-gpt2-notes")
OUTPUT_DIRS = ("out", "./gpt2-sft", "gpt2-sentiment", "/tmp/run")
# No digits (so never "gpt2" by chance), no quotes, backslashes, braces or newlines.
TEXT = (
    st.text(
        alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ éüßçñøλΩжя日本語✓€—",
        min_size=1,
        max_size=16,
    )
    .map(str.strip)
    .filter(bool)
)

Line = tuple[int, str]  # (indentation level, text without indentation)


@dataclass(frozen=True)
class Item:
    """A top-level chunk of the module."""

    lines: tuple[Line, ...]
    stay: tuple[str, ...] = ()  # GPT2 ids the tool must leave in code positions
    changes: bool = False  # the tool must change something here
    imports: frozenset[str] = field(default_factory=frozenset)  # names from transformers


@dataclass(frozen=True)
class Module:
    data: bytes
    eol: str
    bom: bool
    stay: Counter[str]
    changes: bool

    def __repr__(self) -> str:  # shrunk examples are read as source
        return f"Module(bom={self.bom}, eol={self.eol!r}, data=\n{self.data.decode('utf-8-sig')})"


def _ids(draw: st.DrawFn) -> str:
    return draw(st.sampled_from(SOURCES))


# -- shapes the tool must change ---------------------------------------------------------------


def _changed(draw: st.DrawFn, n: int) -> Item:
    kind = draw(
        st.sampled_from(
            [
                "constant",
                "constant_used",
                "setup",
                "class_attribute",
                "call",
                "trainer",
                "gpt2_class",
                "parametrize",
                "command",
                "fstring_command",
                "dict",
                "same_line_non_ascii",
                "multiline_call",
                "continued",
                "parametrize_rows",
                "setup_class",
                "fixture",
                "key_value",
                "default_argument",
                "partly_ignored_rows",
            ]
        )
    )
    model_id = _ids(draw)
    if kind == "constant":
        note_ = draw(st.sampled_from(["", f"  # the {model_id} checkpoint", "  # tiny"]))
        annotated = draw(st.booleans())
        target = f"MODEL_{n}: str" if annotated else f"MODEL_{n}"
        # Nothing loads it: the binding has no consumer, so the id stays under a review marker.
        return Item(((0, f'{target} = "{model_id}"{note_}'),), stay=(model_id,), changes=True)
    if kind == "constant_used":
        return Item(
            (
                (0, f'MODEL_ID_{n} = "{model_id}"'),
                (0, ""),
                (0, ""),
                (0, f"def test_load_{n}():"),
                (1, f"model = AutoModelForCausalLM.from_pretrained(MODEL_ID_{n})"),
                (1, "assert model is not None"),
            ),
            changes=True,
        )
    if kind == "setup":
        return Item(
            (
                (0, f"class TestSetUp{n}(unittest.TestCase):"),
                (1, "def setUp(self):"),
                (2, f'self.model_id = "{model_id}"'),
                (0, ""),
                (1, "def test_tokenizer(self):"),
                (2, "tokenizer = AutoTokenizer.from_pretrained(self.model_id)"),
                (2, "self.assertIsNotNone(tokenizer)"),
            ),
            changes=True,
        )
    if kind == "class_attribute":
        return Item(
            (
                (0, f"class TestAttr{n}(unittest.TestCase):"),
                (1, f'causal_lm_model_id{draw(st.sampled_from(["", ": str"]))} = "{model_id}"'),
                (0, ""),
                (1, "def test_model(self):"),
                (2, "model = AutoModelForCausalLM.from_pretrained(self.causal_lm_model_id)"),
                (2, "self.assertIsNotNone(model)"),
            ),
            changes=True,
        )
    if kind == "call":
        quote = draw(st.sampled_from(['"', "'"]))
        return Item(
            (
                (0, f"def test_causal_{n}():"),
                (1, f"model = AutoModelForCausalLM.from_pretrained({quote}{model_id}{quote})"),
                (1, "assert model.config is not None"),
            ),
            changes=True,
        )
    if kind == "trainer":
        return Item(
            (
                (0, f"def test_trainer_{n}(tmp_path):"),
                (1, f'trainer = SFTTrainer(model="{model_id}", args=None)'),
                (1, "assert trainer is not None"),
            ),
            changes=True,
        )
    if kind == "gpt2_class":
        cls = draw(st.sampled_from(GPT2_CLASSES))
        how = draw(st.sampled_from(["imported", "qualified", "aliased"]))
        owner = {"imported": cls, "qualified": f"transformers.{cls}", "aliased": f"Old{cls}"}[how]
        imports = {"imported": {cls}, "qualified": set(), "aliased": {f"{cls} as Old{cls}"}}[how]
        return Item(
            (
                (0, f"def test_auto_class_{n}():"),
                (1, f'obj = {owner}.from_pretrained("{model_id}")'),
                (1, "assert obj is not None"),
            ),
            changes=True,
            imports=frozenset(imports),
        )
    if kind == "parametrize":
        ids = draw(st.lists(st.sampled_from(SOURCES), min_size=1, max_size=3))
        values = ", ".join(f'"{i}"' for i in ids)
        return Item(
            (
                (0, f'@pytest.mark.parametrize("model_id", [{values}])'),
                (0, f"def test_param_{n}(model_id):"),
                (1, "model = AutoModelForCausalLM.from_pretrained(model_id)"),
                (1, "assert model is not None"),
            ),
            changes=True,
        )
    if kind == "command":
        out = draw(st.sampled_from(OUTPUT_DIRS))
        sep = draw(st.sampled_from([" ", "="]))
        return Item(
            (
                (
                    0,
                    f'CMD_{n} = "trl sft --model_name_or_path{sep}{model_id} '
                    f'--output_dir {out} --max_steps 1"',
                ),
            ),
            changes=True,
        )
    if kind == "fstring_command":
        return Item(
            (
                (0, f"def test_cli_{n}(tmp_path):"),
                (
                    1,
                    f'cmd = f"trl dpo --model_name_or_path {model_id} --output_dir {{tmp_path}}"',
                ),
                (1, "assert cmd"),
            ),
            changes=True,
        )
    if kind == "dict":
        return Item(
            ((0, f'CONFIG_{n} = {{"model_name_or_path": "{model_id}", "max_steps": 1}}'),),
            changes=True,
        )
    if kind == "same_line_non_ascii":
        text = draw(TEXT)
        return Item(
            (
                (0, f'LABEL_{n} = "{text}"; MODEL_{n} = "{model_id}"  # {text}'),
                (0, f"TOKENIZER_{n} = AutoTokenizer.from_pretrained(MODEL_{n})"),
            ),
            changes=True,
        )
    if kind == "multiline_call":
        comment = draw(st.sampled_from(["", "  # gpt2 is small enough for CI"]))
        return Item(
            (
                (0, f"def test_multiline_{n}():"),
                (1, f"# {model_id} loads on CPU"),
                (1, f"model = AutoModelForCausalLM.from_pretrained({comment}"),
                (2, f'"{model_id}",'),
                (2, 'torch_dtype="auto",'),
                (1, ")"),
                (1, "assert model is not None"),
            ),
            changes=True,
        )
    if kind == "continued":
        # Unused, like "constant": reviewed in place.
        return Item(
            ((0, f"CONTINUED_{n} = \\"), (1, f'"{model_id}"')), stay=(model_id,), changes=True
        )
    if kind == "setup_class":
        return Item(
            (
                (0, f"class TestSetUpClass{n}(unittest.TestCase):"),
                (1, "@classmethod"),
                (1, "def setUpClass(cls):"),
                (2, f'cls.model_id = "{model_id}"'),
                (2, "cls.tokenizer = AutoTokenizer.from_pretrained(cls.model_id)"),
                (0, ""),
                (1, "def test_tokenizer(self):"),
                (2, "self.assertIsNotNone(self.tokenizer)"),
            ),
            changes=True,
        )
    if kind == "fixture":
        return Item(
            (
                (0, "@pytest.fixture"),
                (0, f"def model_id_{n}():"),
                (1, f'return "{model_id}"'),
                (0, ""),
                (0, ""),
                (0, f"def test_fixture_{n}(model_id_{n}):"),
                (1, f"assert AutoModelForCausalLM.from_pretrained(model_id_{n})"),
            ),
            changes=True,
        )
    if kind == "default_argument":
        return Item(
            (
                (0, f'def load_{n}(model_id="{model_id}", revision=None):'),
                (1, "return AutoModelForCausalLM.from_pretrained(model_id, revision=revision)"),
            ),
            changes=True,
        )
    if kind == "partly_ignored_rows":
        pinned = _ids(draw)
        return Item(
            (
                (0, "@pytest.mark.parametrize("),
                (1, '"model_id",'),
                (1, "["),
                (2, f'"{pinned}",  # migrate-tests: ignore'),
                (2, f'"{model_id}",'),
                (1, "],"),
                (0, ")"),
                (0, f"def test_rows_ignored_{n}(model_id):"),
                (1, "assert AutoModelForCausalLM.from_pretrained(model_id)"),
            ),
            stay=(pinned,),
            changes=True,
        )
    if kind == "key_value":
        return Item(
            (
                (0, f"def test_model_args_{n}():"),
                (
                    1,
                    f'args = dict(kv.split("=") for kv in "pretrained={model_id},device=cpu".split(","))',
                ),
                (1, f'assert args == {{"pretrained": "{model_id}", "device": "cpu"}}'),
            ),
            changes=True,
        )
    assert kind == "parametrize_rows"
    rows = draw(st.lists(st.sampled_from(SOURCES), min_size=1, max_size=3))
    values = ", ".join(f'("{i}", {k})' for k, i in enumerate(rows))
    return Item(
        (
            (0, f'@pytest.mark.parametrize("model_id, steps", [{values}])'),
            (0, f"def test_rows_{n}(model_id, steps):"),
            (1, "model = AutoModelForCausalLM.from_pretrained(model_id)"),
            (1, "assert model is not None and steps >= 0"),
        ),
        changes=True,
    )


# -- shapes that must stay ---------------------------------------------------------------------


def _kept(draw: st.DrawFn, n: int) -> Item:
    kind = draw(
        st.sampled_from(
            [
                "coverage_list",
                "coverage_parametrize",
                "comment",
                "not_an_id",
                "ignored_constant",
                "ignored_call",
                "ignored_gpt2_class",
                "ignored_command",
                "docstring",
                "docstring_command",
                "ignored_parametrize",
            ]
        )
    )
    model_id = _ids(draw)
    if kind in ("coverage_list", "coverage_parametrize"):
        gpt2 = draw(st.lists(st.sampled_from(SOURCES), min_size=1, max_size=2))
        peers = draw(st.lists(st.sampled_from(PEERS), min_size=1, max_size=3, unique=True))
        values = ", ".join(f'"{v}"' for v in draw(st.permutations([*gpt2, *peers])))
        if kind == "coverage_list":
            return Item(((0, f"ARCHITECTURES_{n} = [{values}]"),), stay=tuple(gpt2))
        return Item(
            (
                (0, f'@pytest.mark.parametrize("model_id", [{values}])'),
                (0, f"def test_coverage_{n}(model_id):"),
                (1, "model = AutoModelForCausalLM.from_pretrained(model_id)"),
                (1, "assert model is not None"),
            ),
            stay=tuple(gpt2),
        )
    if kind == "comment":
        text = draw(
            st.sampled_from(
                [
                    f"# {model_id} has no chat template",
                    f"# switch off {model_id} once the instruct model is cached",
                    "# gpt2 tokenization differs",
                ]
            )
        )
        return Item(((0, text),))
    if kind == "not_an_id":
        value = draw(st.sampled_from(NOT_IDS))
        return Item(((0, f'PATH_{n} = "{value}"'),))
    if kind == "ignored_constant":
        rules = draw(st.sampled_from(["", "[model-id]", "[model-id,auto-classes]"]))
        before = draw(st.sampled_from(["", "  # pinned baseline"]))
        return Item(
            ((0, f'LEGACY_{n} = "{model_id}"{before}  # migrate-tests: ignore{rules}'),),
            stay=(model_id,),
        )
    if kind == "ignored_call":
        return Item(
            (
                (0, f"def test_baseline_{n}():"),
                (
                    1,
                    f'baseline = AutoModelForCausalLM.from_pretrained("{model_id}")'
                    "  # migrate-tests: ignore",
                ),
                (1, "assert baseline is not None"),
            ),
            stay=(model_id,),
        )
    if kind == "ignored_gpt2_class":
        cls = draw(st.sampled_from(GPT2_CLASSES))
        return Item(
            (
                (0, f"def test_pinned_{n}():"),
                (1, f'obj = {cls}.from_pretrained("{model_id}")  # migrate-tests: ignore'),
                (1, "assert obj is not None"),
            ),
            stay=(model_id,),
            imports=frozenset({cls}),
        )
    if kind == "ignored_command":
        return Item(
            (
                (
                    0,
                    f'PINNED_CMD_{n} = "trl sft --model_name_or_path {model_id} --max_steps 1"'
                    "  # migrate-tests: ignore",
                ),
            ),
            stay=(model_id,),
        )
    if kind == "ignored_parametrize":
        ids = draw(st.lists(st.sampled_from(SOURCES), min_size=1, max_size=3))
        values = ", ".join(f'"{i}"' for i in ids)
        return Item(
            (
                (0, f'@pytest.mark.parametrize("model_id", [{values}])  # migrate-tests: ignore'),
                (0, f"def test_pinned_rows_{n}(model_id):"),
                (1, "assert AutoModelForCausalLM.from_pretrained(model_id)"),
            ),
            stay=tuple(ids),
        )
    if kind == "docstring_command":
        return Item(
            (
                (0, f"def run_cli_{n}(tmp_path):"),
                (1, '"""Run it as a user would:'),
                (0, ""),
                (1, f"trl sft --model_name_or_path {model_id} --output_dir out"),
                (1, '"""'),
                (1, "return tmp_path"),
            )
        )
    assert kind == "docstring"
    return Item(
        (
            (0, f"def helper_doc_{n}(values):"),
            (1, f'"""Mirror what {model_id} does with padding."""'),
            (1, "return list(values)"),
        )
    )


# -- unrelated code ----------------------------------------------------------------------------


def _unrelated(draw: st.DrawFn, n: int) -> Item:
    kind = draw(
        st.sampled_from(
            ["function", "decorated", "class", "fstring", "non_ascii", "multiline", "async"]
        )
    )
    text = draw(TEXT)
    if kind == "function":
        return Item(
            (
                (0, f"def helper_{n}(values):"),
                (1, f'"""{text}."""'),
                (1, "doubled = [v * 2 for v in values if v]  "),
                (1, "return {k: len(str(k)) for k in doubled}"),
            )
        )
    if kind == "decorated":
        return Item(
            (
                (0, "@functools.lru_cache(maxsize=None)"),
                (0, f"def cached_{n}(count):"),
                (1, f"return tuple(i for i in range(count) if i % 3)  # {text}"),
            )
        )
    if kind == "class":
        return Item(
            (
                (0, f"class Point{n}:"),
                (1, f'"""{text}"""'),
                (0, ""),
                (1, "x: int = 0\t"),
                (0, ""),
                (1, "@staticmethod"),
                (1, "def origin():"),
                (2, f"return Point{n}()"),
                (0, ""),
                (1, "def norm(self):"),
                (2, "return (self.x ** 2) ** 0.5"),
            )
        )
    if kind == "fstring":
        return Item(
            (
                (0, f'OUTPUT_DIRS_{n} = ["out", "{text}"]'),
                (0, f'MESSAGE_{n} = f"{{len(OUTPUT_DIRS_{n})!r:>4}} {text}"'),
            )
        )
    if kind == "non_ascii":
        return Item(((0, f'GREETING_{n} = "{text} — héllo ✓"'),))
    if kind == "multiline":
        return Item(
            (
                (0, f'TEMPLATE_{n} = """'),
                (0, f"{text}"),
                (0, "  indented line kept as is"),
                (0, '"""'),
            )
        )
    assert kind == "async"
    return Item(
        (
            (0, f"async def fetch_{n}(queue):"),
            (1, "async for value in queue:"),
            (2, f'yield value, "{text}"'),
        )
    )


# -- whole modules -----------------------------------------------------------------------------


@st.composite
def modules(draw: st.DrawFn, *, changes: bool = True) -> Module:
    groups = ["kept", "unrelated", "changed"] if changes else ["kept", "unrelated"]
    count = draw(st.integers(min_value=1, max_value=8))
    items: list[Item] = []
    for n in range(count):
        group = draw(st.sampled_from(groups))
        maker = {"kept": _kept, "unrelated": _unrelated, "changed": _changed}[group]
        item = maker(draw, n)
        has_code = any(t and not t.startswith("#") for _, t in item.lines)
        if has_code and draw(st.integers(min_value=0, max_value=4)) == 0:  # one level deeper
            wrapper = draw(st.sampled_from(["if True:", f"if sys.version_info >= (3, {n}):"]))
            item = replace(item, lines=((0, wrapper), *((lv + 1, t) for lv, t in item.lines)))
        items.append(item)

    unit = draw(st.sampled_from(["    ", "  ", "\t", "   "]))
    eol = draw(st.sampled_from(["\n", "\r\n"]))
    bom = draw(st.booleans())
    header: list[Line] = []
    if draw(st.booleans()):
        header.append((0, "# -*- coding: utf-8 -*-"))
    # One file in eight opts out entirely: nothing in it may change.
    skip_file = draw(st.integers(min_value=0, max_value=7)) == 0
    if skip_file:
        header.append((0, "# migrate-tests: skip-file"))
    if draw(st.booleans()):
        header.append((0, '"""Generated tests; the suite used to run on gpt2."""'))
    if draw(st.booleans()):
        header.append((0, "from __future__ import annotations"))
        header.append((0, ""))
    header += [(0, "import functools"), (0, "import sys"), (0, "import unittest"), (0, "")]
    header.append((0, "import pytest"))
    header.append((0, "import transformers"))
    autos = {"AutoModelForCausalLM", "AutoTokenizer"} if draw(st.booleans()) else set()
    names = sorted(autos.union(*(i.imports for i in items)))
    style = draw(st.sampled_from(["one line", "one per line", "parenthesized"]))
    if names and style == "one line":
        header.append((0, f"from transformers import {', '.join(names)}"))
    elif style == "one per line":
        header += [(0, f"from transformers import {name}") for name in names]
    elif names:
        header.append((0, "from transformers import ("))
        header += [(1, f"{name},") for name in names]
        header.append((0, ")"))
    header.append((0, "from trl import SFTTrainer"))

    lines = list(header)
    for item in items:
        lines += [(0, "")] * draw(st.sampled_from([1, 2]))
        lines += item.lines
    text = "".join(f"{unit * level}{body}{eol}" if body else eol for level, body in lines)
    if not draw(st.booleans()):
        text = text[: -len(eol)]  # no newline at the end of the file
    data = text.encode("utf-8")
    ast.parse(text)  # the generator only writes valid Python
    if bom:
        data = codecs.BOM_UTF8 + data
    if skip_file:
        return Module(data, eol, bom, stay=gpt2_ids_in_code(text), changes=False)
    return Module(
        data,
        eol,
        bom,
        stay=Counter(i for item in items for i in item.stay),
        changes=any(item.changes for item in items),
    )


# -- checks ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Applied:
    once: bytes  # after the first --apply
    twice: bytes  # after a second --apply on that output
    first_wrote: bool  # the first run replaced the file (its mtime moved)
    second_wrote: bool


OLD_MTIME_NS = 1_000_000_000 * 1_000_000_000  # 2001-09-09: any rewrite moves it


def _run_apply(path: Path) -> bool:
    """One ``--apply`` on ``path``; whether the file was written."""
    os.utime(path, ns=(OLD_MTIME_NS, OLD_MTIME_NS))
    outcome = run_cli("--apply", path.name, cwd=path.parent)
    assert outcome.code == 0, f"exit {outcome.code}\n{outcome.stdout}{outcome.stderr}"
    return path.stat().st_mtime_ns != OLD_MTIME_NS


def _apply(data: bytes) -> Applied:
    """``--apply`` twice on a file holding ``data``."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "test_generated.py"
        path.write_bytes(data)
        first_wrote = _run_apply(path)
        once = path.read_bytes()
        second_wrote = _run_apply(path)
        return Applied(once, path.read_bytes(), first_wrote, second_wrote)


TOKEN_SPLIT = re.compile(r"[\s=,'\"]+")
COMMAND_LINE = re.compile(r"(^|\s)--\w")
KEY_VALUE = re.compile(r"^\w+=[^,=\s]+(,\w+=[^,=\s]+)+$")


def gpt2_ids_in_code(source: str) -> Counter[str]:
    """GPT2 ids in code positions: string literals whose whole value is a source id, and
    whole tokens of command-line strings (literal parts of f-strings included)."""
    found: Counter[str] = Counter()
    tree = ast.parse(source)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
    }
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
            continue
        if id(node) in docstrings:
            continue
        if node.value in SOURCE_IDS:
            found[node.value] += 1
        elif COMMAND_LINE.search(node.value) or KEY_VALUE.match(node.value):
            found.update(t for t in TOKEN_SPLIT.split(node.value) if t in SOURCE_IDS)
    return found


def unbound_class_names(source: str) -> set[str]:
    """GPT2/Auto class names the module reads without importing them."""
    tree = ast.parse(source)
    imported = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return {name for name in used - imported if name.startswith(("GPT2", "OldGPT2", "Auto"))}


def _decode(data: bytes) -> str:
    return data.decode("utf-8-sig")


def _check_format(module: Module, out: bytes) -> None:
    assert out.startswith(codecs.BOM_UTF8) == module.bom, "BOM not preserved"
    if module.eol == "\n":
        assert b"\r" not in out, "CR introduced into an LF file"
    else:
        assert out.count(b"\n") == out.count(b"\r\n"), "bare LF introduced into a CRLF file"
        assert out.count(b"\r") == out.count(b"\r\n"), "bare CR introduced into a CRLF file"
    assert out.endswith(module.eol.encode()) == module.data.endswith(module.eol.encode()), (
        "final newline added or removed"
    )


SETTINGS = settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@SETTINGS
@given(modules())
def test_apply_parses_is_idempotent_and_keeps_format(module: Module) -> None:
    applied = _apply(module.data)
    once = applied.once
    note(f"after --apply:\n{_decode(once)}")
    ast.parse(_decode(once))
    assert applied.twice == once, "a second --apply changed the file again"
    assert not applied.second_wrote, "a second --apply rewrote the file (same bytes, new mtime)"
    unbound = unbound_class_names(_decode(once)) - unbound_class_names(_decode(module.data))
    assert not unbound, f"the rewrite uses classes it does not import: {sorted(unbound)}"
    _check_format(module, once)


@SETTINGS
@given(modules())
def test_gpt2_ids_remain_exactly_in_must_stay_positions(module: Module) -> None:
    once = _apply(module.data).once
    note(f"after --apply:\n{_decode(once)}")
    assert gpt2_ids_in_code(_decode(module.data)) >= module.stay  # the generator's own claim
    remaining = gpt2_ids_in_code(_decode(once))
    assert remaining == module.stay, (
        f"GPT2 ids left in code: {dict(remaining)}; must-stay ids placed: {dict(module.stay)}"
    )
    if module.changes:
        assert once != module.data


@SETTINGS
@given(modules(changes=False))
def test_nothing_to_change_stays_byte_identical(module: Module) -> None:
    applied = _apply(module.data)
    assert applied.once == module.data, f"changed:\n{_decode(applied.once)}"
    assert not applied.first_wrote, "the file was rewritten with its own bytes (mtime moved)"
