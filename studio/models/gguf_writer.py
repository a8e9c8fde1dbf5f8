"""Write a Hugging Face model folder as one GGUF file (llama.cpp, Ollama, LM Studio) with the ``gguf`` package.

    write_gguf(model_dir, "model.gguf", "f16")   # any Llama-architecture HF folder; {"tensors", "end_of_turn"}

Tensor by tensor, under llama.cpp's names for the architecture, with the Q and K projections
permuted to llama.cpp's rotary layout, the byte-level BPE tokenizer (tokens, types, merges,
special ids), the end-of-turn token the chat template closes turns with, and the template itself.
The export (studio.export.gguf) and the chat's llama.cpp decoding (studio.chat.llamacpp) both
write through here.

Types: the ones the ``gguf`` package quantizes in numpy. 1-D tensors (norms) stay F32 as llama.cpp
keeps them; for the 4- and 5-bit types the token embedding (and an untied output head) is Q8_0,
as llama.cpp's own low-bit files do, since they weigh most on every token. K-quants (Q4_K...) have
no numpy quantizer in the package, so they are not offered.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from studio.data.render import end_of_turn_token

# Name -> (ggml tensor type, llama.cpp file type), both by their gguf enum names.
GGUF_TYPES = {
    "f32": ("F32", "ALL_F32"),
    "f16": ("F16", "MOSTLY_F16"),
    "bf16": ("BF16", "MOSTLY_BF16"),
    "q8_0": ("Q8_0", "MOSTLY_Q8_0"),
    "q5_1": ("Q5_1", "MOSTLY_Q5_1"),
    "q5_0": ("Q5_0", "MOSTLY_Q5_0"),
    "q4_1": ("Q4_1", "MOSTLY_Q4_1"),
    "q4_0": ("Q4_0", "MOSTLY_Q4_0"),
}
LOW_BIT = {"q5_1", "q5_0", "q4_1", "q4_0"}
# HF model_type -> (gguf architecture, whether llama.cpp permutes Q and K for its rotary layout).
ARCHITECTURES = {"llama": ("LLAMA", True), "mistral": ("LLAMA", True)}
# The pre-tokenizer llama.cpp must split text with, from the HF tokenizer's own pre-tokenizer.
PRE_TOKENIZERS = {"bytelevel": "gpt-2", "digits+bytelevel": "smollm"}


def write_gguf(model_dir: str | Path, path: str | Path, gguf_type: str, name: str = "") -> dict:
    """Write the HF model folder ``model_dir`` as one GGUF file; returns the tensor count and end-of-turn token."""
    import gguf
    from transformers import AutoConfig, AutoTokenizer

    model_dir, path = Path(model_dir), Path(path)
    config = AutoConfig.from_pretrained(model_dir)
    arch, permute = _architecture(config)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    writer = gguf.GGUFWriter(str(path), gguf.MODEL_ARCH_NAMES[arch])
    try:
        _write_hparams(writer, config, gguf_type, name or model_dir.name)
        end_of_turn = _write_tokenizer(writer, tokenizer, config)
        count = _write_tensors(writer, model_dir, config, arch, permute, gguf_type)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
    finally:
        writer.close()
    return {"tensors": count, "end_of_turn": end_of_turn}


def _architecture(config):
    import gguf

    if config.model_type not in ARCHITECTURES:
        raise ValueError(
            f"gguf: the {config.model_type} architecture has no GGUF writer here; supported: "
            f"{', '.join(ARCHITECTURES)}. Export the merged model (safetensors) and convert it with llama.cpp's "
            "convert_hf_to_gguf.py"
        )
    rope = getattr(config, "rope_parameters", None) or getattr(config, "rope_scaling", None) or {}
    if rope.get("rope_type", "default") != "default":
        raise ValueError(
            f"gguf: the model uses {rope['rope_type']!r} rotary scaling, which this writer does not carry yet; "
            "export the merged model (safetensors) and convert it with llama.cpp's convert_hf_to_gguf.py"
        )
    arch_name, permute = ARCHITECTURES[config.model_type]
    return gguf.MODEL_ARCH[arch_name], permute


def _head_dim(config) -> int:
    return getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads


def _rope_theta(config) -> float:
    rope = getattr(config, "rope_parameters", None) or {}
    return float(rope.get("rope_theta") or getattr(config, "rope_theta", 10000.0))


def _write_hparams(writer, config, gguf_type: str, name: str) -> None:
    import gguf

    writer.add_type(gguf.GGUFType.MODEL)
    writer.add_name(name)
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads or config.num_attention_heads)
    writer.add_rope_freq_base(_rope_theta(config))
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_rope_dimension_count(_head_dim(config))
    writer.add_vocab_size(config.vocab_size)
    writer.add_file_type(gguf.LlamaFileType[GGUF_TYPES[gguf_type][1]])
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)


def _permute(weights: np.ndarray, n_head: int) -> np.ndarray:
    """HF keeps each head's rotary halves apart (rotate_half); llama.cpp interleaves them in pairs."""
    rows = weights.shape[0]
    return weights.reshape(n_head, 2, rows // n_head // 2, *weights.shape[1:]).swapaxes(1, 2).reshape(weights.shape)


def _tensor_type(gguf_name: str, data: np.ndarray, gguf_type: str):
    import gguf

    if data.ndim == 1:
        return gguf.GGMLQuantizationType.F32
    qtype = gguf.GGMLQuantizationType[GGUF_TYPES[gguf_type][0]]
    if gguf_type in LOW_BIT and gguf_name in ("token_embd.weight", "output.weight"):
        qtype = gguf.GGMLQuantizationType.Q8_0
    block = gguf.GGML_QUANT_SIZES[qtype][0]
    if data.shape[-1] % block:
        return gguf.GGMLQuantizationType.F16  # rows must be whole blocks; llama.cpp falls back the same way
    return qtype


def _write_tensors(writer, model_dir: Path, config, arch, permute: bool, gguf_type: str) -> int:
    import gguf
    from safetensors import safe_open

    names = gguf.get_tensor_name_map(arch, config.num_hidden_layers)
    n_head = config.num_attention_heads
    n_kv = config.num_key_value_heads or n_head
    count = 0
    for file in sorted(model_dir.glob("*.safetensors")):
        with safe_open(file, framework="pt") as f:
            for hf_name in f.keys():
                gguf_name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
                if gguf_name is None:
                    raise ValueError(f"gguf: no llama.cpp name for the tensor {hf_name}")
                data = f.get_tensor(hf_name).float().numpy()
                if permute and hf_name.endswith("q_proj.weight"):
                    data = _permute(data, n_head)
                elif permute and hf_name.endswith("k_proj.weight"):
                    data = _permute(data, n_kv)
                qtype = _tensor_type(gguf_name, data, gguf_type)
                if qtype == gguf.GGMLQuantizationType.F32:
                    writer.add_tensor(gguf_name, data)
                elif qtype == gguf.GGMLQuantizationType.F16:
                    writer.add_tensor(gguf_name, data.astype(np.float16))
                else:
                    writer.add_tensor(gguf_name, gguf.quants.quantize(data, qtype), raw_dtype=qtype)
                count += 1
    return count


# -- the tokenizer -------------------------------------------------------------------------------


def _pre_tokenizer(tokenizer) -> str:
    """llama.cpp's name for how the HF tokenizer splits text before BPE."""
    spec = json.loads(tokenizer.backend_tokenizer.to_str()).get("pre_tokenizer") or {}
    parts = spec.get("pretokenizers") or [spec]
    key = "+".join(p.get("type", "").lower() for p in parts)
    if key not in PRE_TOKENIZERS or (key == "digits+bytelevel" and not parts[0].get("individual_digits")):
        raise ValueError(
            f"gguf: the tokenizer's pre-tokenizer ({key or 'none'}) has no llama.cpp name here; supported: "
            f"{', '.join(PRE_TOKENIZERS)}"
        )
    return PRE_TOKENIZERS[key]


def _vocab(tokenizer, vocab_size: int) -> tuple[list[str], list[int]]:
    import gguf

    by_id = {i: t for t, i in tokenizer.get_vocab().items()}
    added = {t.content: t for t in tokenizer.added_tokens_decoder.values()}
    tokens, types = [], []
    for i in range(vocab_size):
        token = by_id.get(i)
        if token is None:  # the embedding has rows the tokenizer never emits
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
        elif token in added:
            tokens.append(token)
            types.append(gguf.TokenType.CONTROL if added[token].special else gguf.TokenType.USER_DEFINED)
        else:
            tokens.append(token)
            types.append(gguf.TokenType.NORMAL)
    return tokens, types


def _write_tokenizer(writer, tokenizer, config) -> str:
    model = json.loads(tokenizer.backend_tokenizer.to_str())["model"]
    if model.get("type") != "BPE":
        raise ValueError(f"gguf: only byte-level BPE tokenizers are written here; this one is {model.get('type')}")
    tokens, types = _vocab(tokenizer, config.vocab_size)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(_pre_tokenizer(tokenizer))
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges([m if isinstance(m, str) else " ".join(m) for m in model["merges"]])
    ids = {"bos": tokenizer.bos_token_id, "eos": tokenizer.eos_token_id, "unk": tokenizer.unk_token_id}
    ids["pad"] = tokenizer.pad_token_id
    for what, token_id in ids.items():
        if token_id is not None:
            getattr(writer, f"add_{what}_token_id")(token_id)
    adds_bos = tokenizer.bos_token_id is not None and tokenizer("a")["input_ids"][:1] == [tokenizer.bos_token_id]
    writer.add_add_bos_token(adds_bos)
    template = tokenizer.chat_template
    if not isinstance(template, str) or not template:
        raise ValueError("gguf: the tokenizer has no chat template; the file would not know how to frame a turn")
    writer.add_chat_template(template)
    end = end_of_turn_token(tokenizer)
    if end is None:
        raise ValueError(
            "gguf: the chat template closes no assistant turn with a special token, so llama.cpp would not know "
            "where an answer ends"
        )
    writer.add_eot_token_id(tokenizer.convert_tokens_to_ids(end))
    return end
