"""The GPT2 -> instruct model table: source ids, default targets, and target facts.

Everything the rules know about models lives here as data. Facts are taken from the models'
published tokenizer configs; a target that is not listed has unknown facts, and the rules that
need one report what to declare instead of guessing.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property


class Tier(str, enum.Enum):
    REAL = "real"
    TINY = "tiny"


@dataclass(frozen=True)
class ModelFacts:
    """What the rules need to know about a model; ``None`` means "not known"."""

    model_id: str
    label: str | None = None
    pad_token: str | None = None
    pad_token_id: int | None = None
    has_pad_token: bool | None = None
    eos_token: str | None = None
    eos_token_id: int | None = None
    bos_token: str | None = None
    chat_template: bool | None = None
    params_millions: float | None = None


_REAL = ("gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl")
SOURCE_IDS: Mapping[str, Tier] = {
    **{name: Tier.REAL for name in _REAL},
    **{f"openai-community/{name}": Tier.REAL for name in _REAL},
    "distilgpt2": Tier.REAL,
    "distilbert/distilgpt2": Tier.REAL,
    "sshleifer/tiny-gpt2": Tier.TINY,
    "hf-internal-testing/tiny-random-gpt2": Tier.TINY,
    "hf-internal-testing/tiny-random-GPT2LMHeadModel": Tier.TINY,
    "hf-internal-testing/tiny-random-GPT2Model": Tier.TINY,
    "hf-internal-testing/tiny-random-GPT2ForSequenceClassification": Tier.TINY,
    "trl-internal-testing/dummy-GPT2-correct-vocab": Tier.TINY,
    "trl-internal-testing/tiny-random-GPT2LMHeadModel": Tier.TINY,
    "trl-internal-testing/tiny-GPT2LMHeadModel": Tier.TINY,
    "peft-internal-testing/tiny-random-gpt2": Tier.TINY,
    "fxmarty/tiny-testing-gpt2-remote-code": Tier.TINY,
}

# Other base test models of GPT2's era, with the same two gaps (no chat template, no pad
# token): an opt-in tier (``--include legacy``, ``sources = ["gpt2", "legacy"]``), reported
# by default. Encoder-decoders and vision-language test models are only ever reported: their
# instruct equivalent is a human's choice.
LEGACY_IDS: Mapping[str, Tier] = {
    "EleutherAI/pythia-14m": Tier.TINY,
    "EleutherAI/pythia-70m": Tier.REAL,
    "EleutherAI/pythia-160m": Tier.REAL,
    "facebook/opt-125m": Tier.REAL,
    "bigscience/bloom-560m": Tier.REAL,
    "hf-internal-testing/tiny-random-LlamaForCausalLM": Tier.TINY,
    "hf-internal-testing/tiny-random-OPTForCausalLM": Tier.TINY,
    "hf-internal-testing/tiny-random-BloomForCausalLM": Tier.TINY,
    "hf-internal-testing/tiny-random-MistralForCausalLM": Tier.TINY,
    "hf-internal-testing/tiny-random-GPTNeoXForCausalLM": Tier.TINY,
    "trl-internal-testing/tiny-random-LlamaForCausalLM": Tier.TINY,
    "trl-internal-testing/tiny-random-MistralForCausalLM": Tier.TINY,
    "trl-internal-testing/tiny-OPTForCausalLM": Tier.TINY,
    "trl-internal-testing/tiny-BloomForCausalLM": Tier.TINY,
}
REPORT_ONLY_IDS: Mapping[str, str] = {
    "t5-small": "an encoder-decoder (T5)",
    "google-t5/t5-small": "an encoder-decoder (T5)",
    "google/t5-efficient-tiny": "an encoder-decoder (T5)",
    "hf-internal-testing/tiny-random-T5ForConditionalGeneration": "an encoder-decoder (T5)",
    "trl-internal-testing/tiny-T5ForConditionalGeneration": "an encoder-decoder (T5)",
    "facebook/bart-base": "an encoder-decoder (BART)",
    "hf-internal-testing/tiny-random-BartForConditionalGeneration": "an encoder-decoder (BART)",
    "trl-internal-testing/tiny-BartModel": "an encoder-decoder (BART)",
    "hf-internal-testing/tiny-random-LlavaForConditionalGeneration": "a vision-language model",
    "trl-internal-testing/tiny-LlavaForConditionalGeneration": "a vision-language model",
    "trl-internal-testing/tiny-Idefics2ForConditionalGeneration": "a vision-language model",
}
SOURCE_SETS = ("gpt2", "legacy")

# GPT2-family checkpoints the registry does not list, recognised by their shape: an org and a
# name that is gpt2 with a size or a tiny/random/mini marker ("erwanf/gpt2-mini",
# "org/tiny-random-gpt2", "someone/gpt2-medium"), or the bare upper-case "GPT2".
_SHAPE_NAME = re.compile(
    r"^(?:(?P<pre>tiny|random|mini|dummy|testing)[-_])*gpt2(?:lmheadmodel|model|forcausallm)?"
    r"(?:[-_](?P<post>tiny|random|mini|dummy|small|medium|large|xl|\d+[mk]?|lmheadmodel|model))*$",
    re.IGNORECASE,
)
_HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+$")
_TINY_WORDS = re.compile(r"tiny|random|mini|dummy|testing|\d+k", re.IGNORECASE)
# Never a source, whatever the shape: composites (vit-gpt2, bert2gpt2), exports and other
# formats of GPT2 (onnx, openvino, gguf, quantized), artefacts trained on it (adapters, SAEs,
# tokenizers, pre-tokenized data), hardware and framework configuration repos (Habana/gpt2).
_NEVER_SOURCE = re.compile(
    r"vit|bert|encoder|onnx|openvino|(^|[-_/])ov([-_]|$)|gguf|gptq|awq|int[48]|quant|lora|"
    r"adapter|sae|tokeniz|dataset|habana|gaudi|neuron",
    re.IGNORECASE,
)


def shape_tier(model_id: str) -> Tier | None:
    """The tier a GPT2-family id not in the registry is given by its shape, or None."""
    if model_id == "GPT2":
        return Tier.REAL
    if not _HUB_ID.match(model_id) or _NEVER_SOURCE.search(model_id):
        return None
    name = model_id.split("/", 1)[1]
    match = _SHAPE_NAME.match(name)
    if match is None or name.lower() == "gpt2":
        return None  # "openai/gpt2", "huggingface/gpt2": a registry's own name for GPT2
    return Tier.TINY if _TINY_WORDS.search(name) else Tier.REAL


def shape_message(value: str, tier: Tier, target: str) -> str:
    """What to say of with an id that looks like a GPT2 checkpoint the registry does not list."""
    return (
        f"{value!r} looks like a GPT2 checkpoint ({tier.value} tier, recognised by its shape, "
        f"not in the registry): left as is; to migrate it, map it: --map {value}={target} "
        "(or [tool.migrate-tests.map]), and re-run"
    )


def legacy_message(value: str, what: str, target: str | None) -> str:
    """What to say of a legacy base test model this run does not migrate."""
    if target is None:
        return f"{value!r} is {what}: reported only, its instruct equivalent is a human's choice"
    return (
        f"{value!r} is {what}: left as is; to migrate it with the same rules (suggested "
        f'target {target!r}), run with --include legacy (or sources = ["gpt2", "legacy"] '
        "in [tool.migrate-tests])"
    )


# Fields (keywords, dict keys, attributes, command-line flags) whose name says model or
# tokenizer: configs and argument parsers that load what they are given.
MODEL_FIELD = re.compile(
    r"^(pretrained(_model_name_or_path)?|(base_|ref_|reward_|policy_|value_|draft_)?model"
    r"(_name|_id|_path|_name_or_path|_checkpoint)?|tokenizer(_name|_id|_path|_name_or_path)?"
    r"|checkpoint|hf_model|hub_model_id)$"
)


def is_model_field(name: str) -> bool:
    """A keyword, key, attribute or ``--flag`` whose name says model or tokenizer."""
    return bool(MODEL_FIELD.match(name.lstrip("-").replace("-", "_").lower()))


DEFAULT_TARGETS: Mapping[Tier, str] = {
    Tier.REAL: "HuggingFaceTB/SmolLM2-135M-Instruct",
    Tier.TINY: "trl-internal-testing/tiny-Qwen2ForCausalLM-2.5",
}


def _qwen(model_id: str, params_millions: float) -> ModelFacts:
    return ModelFacts(
        model_id,
        label="qwen",
        pad_token="<|endoftext|>",
        pad_token_id=151643,
        has_pad_token=True,
        eos_token="<|im_end|>",
        eos_token_id=151645,
        bos_token=None,
        chat_template=True,
        params_millions=params_millions,
    )


KNOWN_FACTS: Mapping[str, ModelFacts] = {
    facts.model_id: facts
    for facts in (
        _qwen("trl-internal-testing/tiny-Qwen2ForCausalLM-2.5", 2.4),
        _qwen("Qwen/Qwen2.5-0.5B-Instruct", 494),
        ModelFacts(
            "HuggingFaceTB/SmolLM2-135M-Instruct",
            label="smollm",
            pad_token="<|im_end|>",
            pad_token_id=2,
            has_pad_token=True,
            eos_token="<|im_end|>",
            eos_token_id=2,
            bos_token="<|im_start|>",
            chat_template=True,
            params_millions=135,
        ),
        ModelFacts(
            "trl-internal-testing/tiny-LlamaForCausalLM-3.2",
            label="llama",
            has_pad_token=False,
            chat_template=True,
            params_millions=2.1,
        ),
        # Sources: only their size is used (the footprint line of the summary).
        ModelFacts("gpt2", params_millions=124),
        ModelFacts("gpt2-medium", params_millions=355),
        ModelFacts("gpt2-large", params_millions=774),
        ModelFacts("gpt2-xl", params_millions=1558),
        ModelFacts("distilgpt2", params_millions=82),
    )
}

# Above this size a "small" test model starts to exhaust ordinary CI machines.
LARGE_TARGET_MILLIONS = 300


def facts_for(model_id: str, custom: Mapping[str, ModelFacts] | None = None) -> ModelFacts:
    """Facts for ``model_id``: user-declared first, then the built-in table, else unknown."""
    if custom and model_id in custom:
        return custom[model_id]
    if model_id in KNOWN_FACTS:
        return KNOWN_FACTS[model_id]
    bare = model_id.rsplit("/", 1)[-1]
    if model_id.startswith(("openai-community/", "distilbert/")) and bare in KNOWN_FACTS:
        return KNOWN_FACTS[bare]
    return ModelFacts(model_id)


def params_of(model_id: str, custom: Mapping[str, ModelFacts] | None = None) -> float | None:
    """Approximate size in millions of parameters; tiny random sources count as ~0."""
    known = facts_for(model_id, custom).params_millions
    if known is None and SOURCE_IDS.get(model_id) is Tier.TINY:
        return 0.1
    return known


@dataclass(frozen=True)
class ModelMap:
    """Which ids are GPT2 sources and what each becomes; built once per run from settings."""

    targets: Mapping[str, str]
    custom_facts: Mapping[str, ModelFacts] = field(default_factory=dict)
    # Callables declared in config as taking a hub id (bare names or dotted import paths).
    consumers: frozenset[str] = frozenset()
    # What each tier becomes: the target of an id recognised by its shape (``shape_tier``).
    tier_targets: Mapping[Tier, str] = field(default_factory=lambda: dict(DEFAULT_TARGETS))

    @classmethod
    def build(
        cls,
        target: str | None = None,
        tier_targets: Mapping[str, str] | None = None,
        extra: Mapping[str, str] | None = None,
        custom_facts: Mapping[str, ModelFacts] | None = None,
        consumers: frozenset[str] = frozenset(),
        sources: frozenset[str] = frozenset({"gpt2"}),
    ) -> ModelMap:
        per_tier = {tier: DEFAULT_TARGETS[tier] for tier in Tier}
        for name, model in (tier_targets or {}).items():
            per_tier[Tier(name)] = model
        tiers = {**SOURCE_IDS, **(LEGACY_IDS if "legacy" in sources else {})}
        targets = {
            source: target if target is not None else per_tier[tier]
            for source, tier in tiers.items()
        }
        targets.update(extra or {})
        return cls(
            targets=targets,
            custom_facts=dict(custom_facts or {}),
            consumers=consumers,
            tier_targets={tier: target if target is not None else per_tier[tier] for tier in Tier},
        )

    @cached_property
    def known_targets(self) -> frozenset[str]:
        """Known instruct targets (the run's targets, ``--map`` destinations, declared or
        built-in facts with a family label): a tokenizer loaded from one is migrated already,
        so GPT2-era workarounds left on it (a half-done migration) can go."""
        labelled = {model for model, facts in KNOWN_FACTS.items() if facts.label is not None}
        return frozenset({*self.targets.values(), *self.custom_facts, *labelled})

    def is_target(self, model_id: str) -> bool:
        return model_id in self.known_targets

    def target_of(self, source: str) -> str | None:
        return self.targets.get(source)

    def legacy(self, value: str) -> tuple[str, str | None] | None:
        """(what it is, suggested target or None) of a legacy base test model that is not a
        source of this run: reported, migrated only with ``--include legacy``."""
        if value in self.targets:
            return None
        if value in REPORT_ONLY_IDS:
            return REPORT_ONLY_IDS[value], None
        tier = LEGACY_IDS.get(value)
        if tier is None:
            return None
        return "a legacy base test model (no chat template, no pad token)", self.tier_targets[tier]

    @cached_property
    def legacy_ids(self) -> tuple[str, ...]:
        """The legacy ids this run reports (for the byte pre-filter)."""
        return tuple(i for i in (*LEGACY_IDS, *REPORT_ONLY_IDS) if i not in self.targets)

    def by_shape(self, value: str) -> tuple[Tier, str] | None:
        """(tier, suggested target) of an id that looks like a GPT2 checkpoint but is not a
        source (not in the registry nor ``--map``): reported, never rewritten on its own."""
        if value in self.targets or "gpt2" not in value.lower() or self.is_target(value):
            return None
        tier = shape_tier(value)
        return (tier, self.tier_targets[tier]) if tier is not None else None

    def facts(self, model_id: str) -> ModelFacts:
        return facts_for(model_id, self.custom_facts)
