"""The model families the studio supports, and what each supports: the one table every reader looks up.

    from studio.models.families import family_of, check_trainable
    family_of("qwen2").gguf          # True: llama.cpp's converter writes it
    check_trainable(config)          # ValueError naming the supported families, before any weight loads

A family is a transformers ``model_type``. Each row is proven by the tests on a tiny random model
of that family built offline from its config class (``studio.bench.tiny.make_tiny_model``, with
attention made sharp so that what a token may see changes the loss): every method trains, and its
losses and gradients equal the same steps with the studio's fast paths off (tests/test_families.py).
docs/models.md's table and the refusals are written from this table (``markdown_table``).

What the columns mean:

- ``train``: SFT, DPO, KTO, ORPO and GRPO with LoRA, QLoRA and full fine-tuning;
- ``reward``: a reward model, the base with a score head (transformers' sequence-classification
  class for the architecture; granite has none, so its reward runs are refused before loading);
- ``chat``: the Chat tab in PyTorch (base and adapter side by side), stopping at ``end_of_turn``;
- ``merge``: the adapter merged into the base (PEFT), saved as safetensors;
- ``gguf``: the merged model written as GGUF by llama.cpp's converter, for llama.cpp, Ollama and
  LM Studio, and the Chat tab's llama.cpp decoding where llama-cpp-python is installed;
- ``sliding_window``: some layers attend only to the last N tokens (the fast paths keep the window);
- ``gguf_window``: llama.cpp slides that window too, read from the GGUF file. Elsewhere its graph
  attends over the whole context, so a GGUF export warns and the chat's llama.cpp turns stop at the
  window (studio.models.gguf_writer.lost_window); tests/test_gguf_families.py holds this to the files.
"""

from __future__ import annotations

from dataclasses import dataclass

from studio.data.templates import TEMPLATES


@dataclass(frozen=True)
class Family:
    model_type: str  # transformers' config.model_type
    name: str  # what people call it
    examples: str  # models people bring
    config_class: str  # transformers' config class (the tests build tiny models from it)
    template: str  # its chat template's format, a key of studio.data.templates.TEMPLATES
    sliding_window: bool = False
    train: bool = True
    reward: bool = True
    chat: bool = True
    merge: bool = True
    gguf: bool = False
    gguf_window: bool = False

    @property
    def end_of_turn(self) -> str:
        """The token that closes an assistant turn in the family's template."""
        return TEMPLATES[self.template].end_of_turn


FAMILIES: dict[str, Family] = {
    f.model_type: f
    for f in (
        Family("llama", "Llama", "SmolLM2, Llama 3.2, TinyLlama", "LlamaConfig", "llama3", gguf=True),
        Family("mistral", "Mistral", "Mistral 7B, Ministral", "MistralConfig", "mistral", True, gguf=True),
        Family("qwen2", "Qwen2 / Qwen2.5", "Qwen2.5-0.5B/1.5B/7B", "Qwen2Config", "chatml", True, gguf=True),
        Family("qwen3", "Qwen3", "Qwen3-0.6B/1.7B/4B", "Qwen3Config", "qwen3", True, gguf=True),
        Family(
            "gemma3_text",
            "Gemma 3 (text)",
            "Gemma 3 270M/1B",
            "Gemma3TextConfig",
            "gemma",
            True,
            gguf=True,
            gguf_window=True,
        ),
        Family(
            "phi3",
            "Phi-3 / Phi-4-mini",
            "Phi-3.5-mini, Phi-4-mini",
            "Phi3Config",
            "phi3",
            True,
            gguf=True,
            gguf_window=True,
        ),
        Family("smollm3", "SmolLM3", "SmolLM3-3B", "SmolLM3Config", "chatml", True, gguf=True),
        Family("olmo2", "OLMo 2", "OLMo-2-1B", "Olmo2Config", "tulu", gguf=True),
        Family("granite", "Granite", "Granite 3.x", "GraniteConfig", "granite", reward=False, gguf=True),
    )
}


def family_of(model_type: str) -> Family | None:
    return FAMILIES.get(model_type)


def supported_text(column: str = "train") -> str:
    """The families that support ``column``, for a message: 'llama (SmolLM2, ...), qwen2 (...)'."""
    return ", ".join(f.model_type for f in FAMILIES.values() if getattr(f, column))


def check_supported(model_type: str, column: str = "train", what: str = "train") -> Family:
    """The family of ``model_type`` when it supports ``column``; else ValueError naming the ones that do."""
    family = family_of(model_type)
    if family is None or not getattr(family, column):
        raise ValueError(
            f"model: the {model_type} architecture is not one the studio can {what} (proven families: "
            f"{supported_text(column)}); pick a model of one of those families"
        )
    return family


def markdown_table() -> str:
    """docs/models.md's table of families and what each supports."""
    mark = {True: "yes", False: "no"}
    rows = [
        "| family (`model_type`) | models | template, when the model has none | sliding window | train "
        "| reward model | chat | merge | GGUF |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for f in FAMILIES.values():
        cells = [f"{f.name} (`{f.model_type}`)", f.examples, f"`{f.template}`", mark[f.sliding_window]]
        cells += [mark[f.train], mark[f.reward], mark[f.chat], mark[f.merge], mark[f.gguf]]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)
