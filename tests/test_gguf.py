"""GGUF export: every type round-trips, the tokenizer keeps its template and end-of-turn token,
and a file that loses them fails its check and is not kept.

The writer's tensors are checked with the ``gguf`` package's own reader and dequantizer; the
whole file with transformers' GGUF loader (studio.export.gguf_check), as a user's script would.
"""

import json
import re
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open

from studio.chat.sampling import Sampling
from studio.config import GGUF_CHOICES
from studio.export import gguf_check, merge, verify
from studio.export.destination import MARKER
from studio.export.gguf import export_gguf
from studio.export.modelfile import is_chatml, modelfile_text
from studio.models.gguf_writer import GGUF_TYPES, LOW_BIT, write_gguf

# Largest |dequantized - original| over the tensor's largest |value|, per type (about 2x what is seen).
WEIGHT_TOLERANCE = {"f32": 0, "f16": 1e-3, "bf16": 8e-3, "q8_0": 1.6e-2, "q5_1": 7e-2, "q5_0": 0.1}
WEIGHT_TOLERANCE |= {"q4_1": 0.14, "q4_0": 0.2}


@pytest.fixture(autouse=True)
def short_probes(monkeypatch):
    monkeypatch.setattr(verify, "PROBE_TOKENS", 12)


@pytest.fixture(scope="module")
def merged_fp32(tiny_sft_run, tmp_path_factory):
    return Path(merge.merge(tiny_sft_run, tmp_path_factory.mktemp("gguf") / "merged", "fp32").folder)


def test_the_config_offers_exactly_the_types_the_writer_knows():
    assert GGUF_CHOICES == ["none", *GGUF_TYPES]


def _unpermute(weights: np.ndarray, n_head: int) -> np.ndarray:
    """transformers' reverse of llama.cpp's rotary permutation, written out again here."""
    dim = weights.shape[0] // n_head // 2
    return weights.reshape(n_head, dim, 2, *weights.shape[1:]).swapaxes(2, 1).reshape(weights.shape)


# Each type is a converter process (~15-25 s): CI checks one of each path (the converter's own f16 and
# q8_0, the gguf package's 4-bit requantization); heavy runs the rest.
@pytest.mark.parametrize(
    "gguf_type", [t if t in ("f16", "q8_0", "q4_1") else pytest.param(t, marks=pytest.mark.heavy) for t in GGUF_TYPES]
)
def test_every_tensor_and_hyperparameter_reads_back(merged_fp32, tmp_path, gguf_type):
    import gguf

    path = tmp_path / f"tiny-{gguf_type}.gguf"
    written = write_gguf(merged_fp32, path, gguf_type)
    config = json.loads((merged_fp32 / "config.json").read_text())
    reader = gguf.GGUFReader(str(path))
    meta = {k: f.contents() for k, f in reader.fields.items() if not k.startswith("tokenizer.ggml.")}
    assert meta["general.architecture"] == "llama"
    assert meta["llama.block_count"] == config["num_hidden_layers"]
    assert meta["llama.attention.head_count_kv"] == config["num_key_value_heads"]
    assert meta["llama.context_length"] == config["max_position_embeddings"]
    assert meta["llama.rope.freq_base"] == pytest.approx(config["rope_parameters"]["rope_theta"])
    assert meta["tokenizer.chat_template"].startswith("{% for message in messages %}")
    tokens = reader.fields["tokenizer.ggml.tokens"]
    eot = reader.fields["tokenizer.ggml.eot_token_id"].contents()
    assert tokens.contents(eot) == written["end_of_turn"] == "<|im_end|>"
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, config["num_hidden_layers"])
    heads = {"q_proj": config["num_attention_heads"], "k_proj": config["num_key_value_heads"]}
    with safe_open(merged_fp32 / "model.safetensors", framework="np") as f:
        originals = {names.get_name(k, try_suffixes=(".weight",)): (k, f.get_tensor(k)) for k in f.keys()}
    assert {t.name for t in reader.tensors} == set(originals)
    for tensor in reader.tensors:
        hf_name, original = originals[tensor.name]
        back = gguf.quants.dequantize(tensor.data, tensor.tensor_type).reshape(original.shape)
        proj = hf_name.split(".")[-2]
        if proj in heads:
            back = _unpermute(back, heads[proj])
        error = float(np.abs(back - original).max() / np.abs(original).max())
        low_bit_kept = gguf_type in LOW_BIT and tensor.name == "token_embd.weight"
        assert error <= WEIGHT_TOLERANCE["q8_0" if low_bit_kept else gguf_type], (tensor.name, error)
        if original.ndim == 1:
            assert tensor.tensor_type == gguf.GGMLQuantizationType.F32


# q4_0: through the app in test_chat_e2e; q8_0 (~30 s) outside CI, whose time it keeps under 30 minutes
@pytest.mark.parametrize("gguf_type", ["f16", pytest.param("q8_0", marks=pytest.mark.heavy)])
def test_export_reads_back_with_transformers_and_answers_like_the_merged_model(tiny_sft_run, tmp_path, gguf_type):
    report = export_gguf(tiny_sft_run, tmp_path / "out", gguf_type, sampling=Sampling(temperature=0.3))
    names = {p.name for p in (tmp_path / "out").iterdir()}
    expected = {f"{tiny_sft_run.id}-{gguf_type}.gguf", "Modelfile", "gguf_check.json", MARKER}
    assert names == expected  # the scratch merge gone; the marker lets a later --overwrite replace the folder
    check = report.check
    assert check["kl"] <= gguf_check.TOLERANCES[gguf_type]
    if gguf_type == "f16":
        assert check["greedy_agreement"] == f"{check['prompts']}/{check['prompts']}"
    modelfile = (tmp_path / "out" / "Modelfile").read_text()
    assert f"FROM ./{tiny_sft_run.id}-{gguf_type}.gguf" in modelfile and "PARAMETER temperature 0.3" in modelfile
    print(
        f"\n{gguf_type}: {report.size_bytes / 2**20:.2f} MiB, written in {report.export_seconds:.2f} s, "
        f"max logit diff {check['max_logit_diff']:.3g} ({check['relative_diff']:.3g} x std), KL {check['kl']:.3g}, "
        f"greedy {check['greedy_agreement']}, next token {check['next_token_agreement']}"
    )


def test_a_file_that_lost_its_end_of_turn_token_and_template_is_refused_and_not_kept(
    tiny_sft_run, tmp_path, monkeypatch
):
    import gguf

    # q4_0 is requantized in this process (studio.models.gguf_writer.quantize), which copies each key
    lost = ("tokenizer.ggml.eot_token_id", "tokenizer.chat_template")
    add_key_value = gguf.GGUFWriter.add_key_value
    monkeypatch.setattr(
        gguf.GGUFWriter, "add_key_value", lambda self, key, *a, **k: key in lost or add_key_value(self, key, *a, **k)
    )
    with pytest.raises(gguf_check.GGUFCheckError) as failure:
        export_gguf(tiny_sft_run, tmp_path / "out", "q4_0")
    message = str(failure.value)
    assert "end-of-turn token '<|im_end|>'" in message and "chat template" in message
    assert re.search(r"max logit difference [0-9.e-]+", message)
    assert not (tmp_path / "out").exists()


def test_modelfile_frames_turns_as_the_chat_template_does(tokenizer):
    assert is_chatml(tokenizer)
    text = modelfile_text("m.gguf", tokenizer, Sampling(temperature=0.5, top_p=0.8))
    assert text.startswith("FROM ./m.gguf\n")
    assert '<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}<|im_start|>assistant\n"""' in text
    assert 'PARAMETER stop "<|im_end|>"' in text
    assert "PARAMETER temperature 0.5" in text and "PARAMETER top_p 0.8" in text
    assert 'SYSTEM """You are a helpful AI assistant named SmolLM, trained by Hugging Face"""' in text
    assert "PARAMETER temperature 0\n" in modelfile_text("m.gguf", tokenizer, Sampling(greedy=True))


def test_cli_offers_gguf_for_export_and_push():
    from studio.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(["export", "--run", "r", "--out", "o", "--gguf", "q4_0"])
    assert args.gguf == "q4_0"
    assert parser.parse_args(["push", "--run", "r", "--repo", "me/x", "--gguf", "q4_0"]).gguf == "q4_0"


@pytest.mark.slow
@pytest.mark.heavy
@pytest.mark.parametrize("gguf_type", ["q4_0"])  # f16 is checked on the tiny model; each embedded check is ~70 s
def test_embedded_model_round_trip(embedded_dir, tmp_path, gguf_type):
    path = tmp_path / f"smollm2-{gguf_type}.gguf"
    write_gguf(embedded_dir, path, gguf_type)
    prompts = [[{"role": "user", "content": "What is the capital of France?"}]]
    check = gguf_check.check(embedded_dir, path, gguf_type, prompts)
    assert check["next_token_agreement"] == "1/1"
