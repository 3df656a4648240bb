"""What tokenization-dependent code looks like: the patterns and messages of ``token-literals``."""

from __future__ import annotations

import ast
import re

EOS_ID = 50256
EOS_TEXT = "<|endoftext|>"
ASSERT_CALLS = re.compile(
    r"(^|\.)(assert(Equal|Equals|ListEqual|TupleEqual|SequenceEqual|NotEqual|In|NotIn|"
    r"AlmostEqual|CountEqual|DictEqual)|equal|assert_close|allclose|assert_equal|"
    r"assert_array_equal|assert_allclose)$"
)
# Lengths that follow tokenization (not raw dataset sizes: those do not change).
LENGTH_SUBJECT = re.compile(
    r"input_ids|token|encod|label|mask|pack|tokenized|processed|completion|prompt|ids|output|"
    r"generat|logits|seq|batch|chosen|rejected|vocab|embed|len\(tok|trainer\.\w*dataset",
    re.IGNORECASE,
)
TOKEN_IDS = re.compile(r"input_ids|convert_tokens_to_ids|encode\(|token_ids|\btokenizer\(")
# Parameter counts (not "called_params.max_new_tokens": a parameter object's field).
PARAMS_SUBJECT = re.compile(
    r"num_parameters|trainable|numel|n_params|param_count|count_param|\.parameters\(|"
    r"^params$|num_params",
    re.IGNORECASE,
)
DECODED = re.compile(r"decode\(|generated_text|completion_text|generated")
# Calls whose result is generated text or structures holding it (compared with expected text).
GENERATION = re.compile(r"\.generate\(|\binfer\w*\(|\bpipe\w*\(|\bgenerat\w*\(|\.chat\(")
# Functions that compare their first two arguments (asserted true by the test).
COMPARE_HELPER = re.compile(r"(^|[._])(compare|equal|same|match)", re.IGNORECASE)
# The parts of a generation result that hold its text (else a field: "finish_reason").
TEXT_FIELD = re.compile(r"text|content|generat|output|completion|response|decoded|message")
# A test that mocks what would run the model: its "generations" are the values it set up.
MOCKED = re.compile(r"\bMock\(|MagicMock|\bpatch\b|aioresponses|\bmock_\w+|mocker\b")
# A dataset cut into samples of so many tokens: how many samples it yields follows the tokenizer.
PACKED = re.compile(r"\bseq_length\b|\bpack(ing|ed)?\b|max_seq_len", re.IGNORECASE)
# A comment saying the code leans on GPT-2's tokenization.
# Not "pad token", "eos token"...: a special token's absence is pad-token's business, not a
# measured value ("gpt2 has no pad token; left padding for generation").
_NOT_SPECIAL = r"(?<!pad )(?<!eos )(?<!bos )(?<!unk )(?<!special )(?<!pad_)(?<!eos_)"
TOKENIZATION_NOTE = re.compile(
    rf"gpt-?2.{{0,40}}{_NOT_SPECIAL}\b(token|vocab|bpe)|{_NOT_SPECIAL}\b(token|vocab|bpe)\w*\b"
    r".{0,40}gpt-?2",
    re.IGNORECASE,
)
# Statements with a body: a comment inside them belongs to a statement of the body.
COMPOUND = (
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.If,
    ast.For,
    ast.AsyncFor,
    ast.While,
    ast.With,
    ast.AsyncWith,
    ast.Try,
)
# A parametrize column holding what the test expects (checked by the test or a helper).
EXPECTED_PARAM = re.compile(r"^expected|_expected$|^golden|^reference", re.IGNORECASE)
# A number computed with the tokenizer that says it counts tokens (``used_tokens``,
# ``prompt_length``); ``len(...)`` of a result counts its items unless it says tokens.
TOKEN_COUNT = re.compile(r"token|length", re.IGNORECASE)
REQUESTED = re.compile(r"length|len$|^num_|size|count|max_new_tokens|steps", re.IGNORECASE)
VOCAB_SIZE = 50257  # GPT2's vocabulary: asserted or hard-coded as a logits dimension
ENCODERS = re.compile(r"encode\(|apply_chat_template\(|tokenizer\(|\btok\(")
OWN_ATTRIBUTES = frozenset({"eos_token_id", "pad_token_id", "eos_token", "pad_token"})
TOKENIZER_NAME = re.compile(r"(tokenizer|processing_class|\btok)$")

# Where a name is handed to something: a call argument, a keyword, an entry of a display.
INPUT_POSITIONS = (ast.Call, ast.keyword, ast.Dict, ast.List, ast.Tuple, ast.Set)


LENGTH_MESSAGE = (
    "length measured with GPT2's tokenization: re-measure with the target's "
    "tokenizer (run the test once and take the new value)"
)
CHUNKS_MESSAGE = (
    "token count of the data measured with GPT2's tokenizer (divided by a length to count "
    "chunks): re-measure it with the target's tokenizer (run the test once and take the new "
    "value)"
)
PARAMS_MESSAGE = (
    "parameter count measured on GPT2: re-measure with the target model "
    "(run the test once, or sum(p.numel() for p in model.parameters()))"
)
VOCAB_MESSAGE = (
    "50257 is GPT2's vocabulary size: use len(<tokenizer>) or <model>.config.vocab_size of "
    "the target (they differ: the target's vocabulary is another size)"
)
DECODED_MESSAGE = (
    "decoded text of a GPT2 generation: the target generates different text; assert "
    "on structure (type, length > 0, prefix) or re-record it with the target"
)
