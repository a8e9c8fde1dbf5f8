"""The fast paths' table holds: each replacement runs only on the library versions it is proven on,
turns off with its switch, and these tests fail when a library changes what it replaces.

An upgrade of transformers, PEFT, TRL or llama-cpp-python fails ``test_installed_versions_are_proven``
until someone proves the paths on it (tests/test_families.py, the paths' own tests) and widens the
row; the other tests read the library internals each path replaces, by name and signature.
"""

from __future__ import annotations

import inspect

import pytest
import torch
from packaging.specifiers import SpecifierSet
from packaging.version import Version

import studio.patches as patches
from studio.models.families import FAMILIES
from studio.patches import FASTPATHS, enabled, installed, why_off


@pytest.mark.parametrize("name", sorted(FASTPATHS))
def test_installed_versions_are_proven(name):
    path = FASTPATHS[name]
    version = installed(path.library)
    if version is None:
        pytest.skip(f"{path.library} is not installed here (optional)")
    assert version in SpecifierSet(path.versions), (
        f"{path.library} {version} is outside {path.versions}, where {name} is proven: prove it again and widen the row"
    )
    assert why_off(name) is None


def test_a_switch_or_an_unproven_version_or_family_turns_a_path_off(monkeypatch):
    assert enabled("fused_lora")
    monkeypatch.setenv("STUDIO_FUSED_LORA", "0")
    assert why_off("fused_lora") == "STUDIO_FUSED_LORA=0" and not enabled("fused_lora")
    monkeypatch.delenv("STUDIO_FUSED_LORA")
    monkeypatch.setenv("STUDIO_FASTPATHS", "0")
    assert all(why_off(name) == "STUDIO_FASTPATHS=0" for name in FASTPATHS)
    monkeypatch.delenv("STUDIO_FASTPATHS")
    assert "not one it is proven on" in why_off("packed_attention", "gpt2")
    assert why_off("packed_attention", "qwen2") is None
    monkeypatch.setattr(patches, "installed", lambda library: Version("99.0"))
    assert "outside the versions" in why_off("unpadded")


def test_outside_its_versions_the_library_path_runs(tiny_model_dir, monkeypatch):
    from studio.models import loading
    from studio.patches.packed_attention import use_packed_attention

    monkeypatch.setattr(patches, "installed", lambda library: Version("99.0"))
    model = loading.load_model(str(tiny_model_dir), torch.float32)
    assert not use_packed_attention(model) and model.config._attn_implementation == "sdpa"


def test_transformers_still_passes_what_the_attention_replacement_reads():
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    params = list(inspect.signature(sdpa_attention_forward).parameters)
    assert params[:7] == ["module", "query", "key", "value", "attention_mask", "dropout", "scaling"]
    assert "is_causal" in params
    # each sliding family hands its window to the attention function as ``sliding_window``, which the
    # per-example attention honours (a family that moved it elsewhere would drop the window silently)
    import importlib

    for family in (f for f in FAMILIES.values() if f.sliding_window):
        package = family.model_type.removesuffix("_text")
        source = inspect.getsource(importlib.import_module(f"transformers.models.{package}.modeling_{package}"))
        assert "sliding_window=" in source, family.model_type


def test_peft_lora_linear_still_has_what_the_fused_product_reads():
    from peft.tuners.lora.layer import Linear

    source = inspect.getsource(Linear)
    for name in (
        "self.lora_A",
        "self.lora_B",
        "self.scaling",
        "self.lora_dropout",
        "self.base_layer",
        "active_adapters",
    ):
        assert name in source, name
    assert list(inspect.signature(Linear.forward).parameters) == ["self", "x", "args", "kwargs"]


def test_trl_still_reads_the_kernel_and_the_question_that_plain_logprobs_replaces():
    import trl.trainer.utils as trl_utils
    from trl.kernels import ChunkedLogProbFunction
    from trl.kernels.chunked_logprob import _use_triton

    from studio.patches.logprobs import PlainLogProb

    source = inspect.getsource(trl_utils)
    assert "_ChunkedLogProbFunction" in source and "_use_triton(" in source
    assert callable(_use_triton)
    kernel = list(inspect.signature(ChunkedLogProbFunction.forward).parameters)[1:]  # after ctx
    assert list(inspect.signature(PlainLogProb.apply).parameters) == kernel


def test_trl_still_counts_tokens_where_token_total_restores_them():
    from trl import SFTTrainer

    assert "_total_train_tokens" in inspect.getsource(SFTTrainer)


def test_llamacpp_still_has_the_cache_calls_prefix_reuse_uses():
    llama_cpp = pytest.importorskip("llama_cpp")

    assert "kv_cache_seq_rm" in inspect.getsource(llama_cpp._internals)
    assert "n_tokens" in inspect.getsource(llama_cpp.Llama)
