"""The GPT2 -> instruct model table: source ids, default targets, and target facts.

Everything the rules know about models lives here as data. Facts are taken from the models'
published tokenizer configs; a target that is not listed has unknown facts, and the rules that
need one report what to declare instead of guessing.
"""

from __future__ import annotations

import enum
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

    @classmethod
    def build(
        cls,
        target: str | None = None,
        tier_targets: Mapping[str, str] | None = None,
        extra: Mapping[str, str] | None = None,
        custom_facts: Mapping[str, ModelFacts] | None = None,
        consumers: frozenset[str] = frozenset(),
    ) -> ModelMap:
        per_tier = {tier: DEFAULT_TARGETS[tier] for tier in Tier}
        for name, model in (tier_targets or {}).items():
            per_tier[Tier(name)] = model
        targets = {
            source: target if target is not None else per_tier[tier]
            for source, tier in SOURCE_IDS.items()
        }
        targets.update(extra or {})
        return cls(targets=targets, custom_facts=dict(custom_facts or {}), consumers=consumers)

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

    def facts(self, model_id: str) -> ModelFacts:
        return facts_for(model_id, self.custom_facts)
