"""Model resolution: the embedded model, folders, config files, and Hub ids without a network."""

import json
import time

import pytest

from studio.models import loading


def test_aliases_resolve_to_the_converted_folder(embedded_dir):
    for name in ("smollm2-135m-instruct", "embedded", "HuggingFaceTB/SmolLM2-135M-Instruct", ""):
        assert loading.resolve_model(name) == str(embedded_dir)


def test_a_folder_or_its_config_json(tiny_model_dir):
    assert loading.resolve_model(str(tiny_model_dir)) == str(tiny_model_dir)
    assert loading.resolve_model(str(tiny_model_dir / "config.json")) == str(tiny_model_dir)


def test_a_folder_without_config_is_named(tmp_path):
    with pytest.raises(loading.ModelNotAvailable, match="no config.json"):
        loading.resolve_model(str(tmp_path))


def test_an_unreachable_hub_says_so_quickly(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setitem(loading._hub_state, "checked", 0.0)
    start = time.monotonic()
    with pytest.raises(loading.ModelNotAvailable, match="cannot be reached.*embedded model"):
        loading.resolve_model("some-org/some-model")
    assert time.monotonic() - start < 10


@pytest.mark.slow
def test_first_conversion_makes_a_plain_trainable_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDIO_CACHE_DIR", str(tmp_path))
    folder = loading.ensure_embedded()
    assert folder.parent.parent == tmp_path
    config = json.loads((folder / "config.json").read_text())
    assert "quantization_config" not in config and config["model_type"] == "llama"
    assert (folder / "model.safetensors").exists() and (folder / "chat_template.jinja").exists()
    model = loading.load_model(str(folder))
    assert getattr(model, "hf_quantizer", None) is None
    assert sum(p.numel() for p in model.parameters()) == 134_515_008
