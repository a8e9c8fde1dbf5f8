"""Tiny random models of every supported family that speak the real SmolLM2 tokenizer and chat template.

    make_tiny_model(folder)                          # a 2-layer Llama (fast tests, bench --quick)
    make_tiny_model(folder, "mistral", window=8)     # a Mistral whose layers attend to 8 tokens
    make_tiny_model(folder, "gemma3_text", sharp=8)  # query/key projections scaled up 8x

Built offline from each family's transformers config class (studio.models.families), so tests
of every family run without a download. ``sharp`` scales the query and key projections: random
attention is nearly uniform, so a bug in what a token may see (a dropped sliding window, a token
seeing another example) hardly moves the loss; sharp attention makes it show. ``window`` sets the
sliding window of the families that have one, small enough for test sequences to exceed it.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForCausalLM

from studio.models.loading import ensure_embedded, load_tokenizer

# Per family: the config class's own fields that make it small, give it sliding layers, or that it needs.
_SHAPES = {
    "llama": {},
    "mistral": {"sliding_window": "window"},
    "qwen2": {"use_sliding_window": True, "sliding_window": "window", "max_window_layers": 1},
    "qwen3": {"use_sliding_window": True, "sliding_window": "window", "max_window_layers": 1, "head_dim": 16},
    "gemma3_text": {
        "sliding_window": "window",
        "layer_types": ["sliding_attention", "full_attention"],
        "head_dim": 16,
        "query_pre_attn_scalar": 16,
    },
    "phi3": {"sliding_window": "window"},
    "smollm3": {"use_sliding_window": True, "sliding_window": "window", "layer_types": "sliding+full"},
    "olmo2": {},
    "granite": {},
}


def family_config(family: str, tokenizer, window: int = 8):
    """The tiny config of ``family``: 2 layers, hidden 64, 4 heads (2 key/value), the tokenizer's ids."""
    extra = {}
    for key, value in _SHAPES[family].items():
        if value == "window":
            value = window
        elif value == "sliding+full":
            value = ["sliding_attention", "full_attention"]
        extra[key] = value
    return AutoConfig.for_model(
        family,
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **extra,
    )


def make_tiny_model(
    folder: str | Path, family: str = "llama", seed: int = 0, window: int = 8, sharp: float = 1.0
) -> Path:

    tokenizer = load_tokenizer(str(ensure_embedded()))
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(family_config(family, tokenizer, window))
    if sharp != 1.0:
        with torch.no_grad():
            for name, param in model.named_parameters():
                if name.endswith(("q_proj.weight", "k_proj.weight")):
                    param.mul_(sharp)
                elif name.endswith("qkv_proj.weight"):  # phi3: queries and keys are the first rows
                    q_and_k = model.config.hidden_size + model.config.num_key_value_heads * (
                        model.config.hidden_size // model.config.num_attention_heads
                    )
                    param[:q_and_k].mul_(sharp)
    folder = Path(folder)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
