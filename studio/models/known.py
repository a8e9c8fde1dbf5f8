"""Architectures of a few popular base models, so estimates work offline.

The estimator needs only a model's ``config.json``. For a Hub id it reads the local Hugging Face
cache first, then the Hub; when neither answers (offline), these copies of the architecture
fields (sizes only, nothing else) of common recipes' bases keep the estimate and the presets
useful. Any other Hub id needs the network or a local folder.
"""

from __future__ import annotations

_LLAMA3 = {
    "model_type": "llama",
    "architectures": ["LlamaForCausalLM"],
    "hidden_act": "silu",
    "vocab_size": 128256,
    "max_position_embeddings": 131072,
    "rope_theta": 500000.0,
    "rms_norm_eps": 1e-5,
    "attention_bias": False,
    "mlp_bias": False,
}
_QWEN2 = {
    "model_type": "qwen2",
    "architectures": ["Qwen2ForCausalLM"],
    "hidden_act": "silu",
    "vocab_size": 152064,
    "max_position_embeddings": 32768,
    "rope_theta": 1000000.0,
    "rms_norm_eps": 1e-6,
}

KNOWN_CONFIGS: dict[str, dict] = {
    "meta-llama/Llama-3.1-8B-Instruct": {
        **_LLAMA3,
        "hidden_size": 4096,
        "intermediate_size": 14336,
        "num_hidden_layers": 32,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "tie_word_embeddings": False,
    },
    "meta-llama/Llama-3.2-1B-Instruct": {
        **_LLAMA3,
        "hidden_size": 2048,
        "intermediate_size": 8192,
        "num_hidden_layers": 16,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "head_dim": 64,
        "tie_word_embeddings": True,
    },
    "meta-llama/Llama-3.2-3B-Instruct": {
        **_LLAMA3,
        "hidden_size": 3072,
        "intermediate_size": 8192,
        "num_hidden_layers": 28,
        "num_attention_heads": 24,
        "num_key_value_heads": 8,
        "head_dim": 128,
        "tie_word_embeddings": True,
    },
    "Qwen/Qwen2.5-7B-Instruct": {
        **_QWEN2,
        "hidden_size": 3584,
        "intermediate_size": 18944,
        "num_hidden_layers": 28,
        "num_attention_heads": 28,
        "num_key_value_heads": 4,
        "tie_word_embeddings": False,
    },
    "Qwen/Qwen2.5-0.5B-Instruct": {
        **_QWEN2,
        "vocab_size": 151936,
        "hidden_size": 896,
        "intermediate_size": 4864,
        "num_hidden_layers": 24,
        "num_attention_heads": 14,
        "num_key_value_heads": 2,
        "tie_word_embeddings": True,
    },
    "mistralai/Mistral-7B-Instruct-v0.3": {
        "model_type": "mistral",
        "architectures": ["MistralForCausalLM"],
        "hidden_act": "silu",
        "vocab_size": 32768,
        "max_position_embeddings": 32768,
        "rope_theta": 1000000.0,
        "rms_norm_eps": 1e-5,
        "hidden_size": 4096,
        "intermediate_size": 14336,
        "num_hidden_layers": 32,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "tie_word_embeddings": False,
    },
}
# The base models of those instruct models share their architecture.
KNOWN_CONFIGS.update(
    {
        "meta-llama/Llama-3.1-8B": KNOWN_CONFIGS["meta-llama/Llama-3.1-8B-Instruct"],
        "meta-llama/Llama-3.2-1B": KNOWN_CONFIGS["meta-llama/Llama-3.2-1B-Instruct"],
        "meta-llama/Llama-3.2-3B": KNOWN_CONFIGS["meta-llama/Llama-3.2-3B-Instruct"],
        "Qwen/Qwen2.5-7B": KNOWN_CONFIGS["Qwen/Qwen2.5-7B-Instruct"],
        "Qwen/Qwen2.5-0.5B": KNOWN_CONFIGS["Qwen/Qwen2.5-0.5B-Instruct"],
        "mistralai/Mistral-7B-v0.3": KNOWN_CONFIGS["mistralai/Mistral-7B-Instruct-v0.3"],
    }
)


def known_config(model_id: str) -> dict | None:
    """The architecture fields of a known Hub id (case-insensitive), or None."""
    for name, config in KNOWN_CONFIGS.items():
        if name.lower() == model_id.strip().lower():
            return dict(config)
    return None
