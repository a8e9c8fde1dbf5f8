"""A tiny random Llama that speaks the real SmolLM2 tokenizer and chat template.

Fast tests and the benchmark's ``--quick`` mode train it in seconds on a CPU.
"""

from __future__ import annotations

from pathlib import Path


def make_tiny_model(folder: str | Path, seed: int = 0) -> Path:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from studio.models.loading import ensure_embedded, load_tokenizer

    tokenizer = load_tokenizer(str(ensure_embedded()))
    torch.manual_seed(seed)
    config = LlamaConfig(
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
    )
    folder = Path(folder)
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
