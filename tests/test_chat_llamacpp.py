"""Chat decoding in llama.cpp (studio.chat.llamacpp): the same replies, the same fairness, and
PyTorch whenever a source's file is not there.

The GGUF files (the base, an adapter merged into it) are written with the studio's own writer
and checked here without llama.cpp; the replies need llama-cpp-python (optional, not in CI's
setup) and are skipped without it.
"""

from __future__ import annotations

import logging
import os

import numpy as np
import pytest
import torch

from studio.chat import llamacpp
from studio.chat.engine import ChatEngine
from studio.chat.llamacpp import GGUFStore, SourceSpec
from studio.chat.sampling import Sampling

MESSAGES = [{"role": "user", "content": "Explain in a few sentences why the sky is blue."}]
needs_llama_cpp = pytest.mark.skipif(not llamacpp.available(), reason="llama-cpp-python is not installed (optional)")


def test_the_backend_is_llama_cpp_on_a_cpu_where_it_is_installed_unless_turned_off(monkeypatch):
    monkeypatch.delenv("STUDIO_CHAT_BACKEND", raising=False)
    monkeypatch.setattr(llamacpp, "available", lambda: True)
    assert llamacpp.wanted("cpu") and not llamacpp.wanted("cuda") and not llamacpp.wanted("cpu", "torch")
    monkeypatch.setenv("STUDIO_CHAT_BACKEND", "torch")
    assert not llamacpp.wanted("cpu")
    monkeypatch.setenv("STUDIO_CHAT_BACKEND", "llamacpp")
    with pytest.raises(ValueError, match="not one of auto, torch, llama.cpp"):
        llamacpp.wanted("cpu")
    monkeypatch.delenv("STUDIO_CHAT_BACKEND")
    monkeypatch.setattr(llamacpp, "available", lambda: False)
    assert not llamacpp.wanted("cpu")
    with pytest.raises(ValueError, match="requirements-llamacpp.txt"):
        llamacpp.wanted("cpu", "llama.cpp")


def test_a_retrained_adapter_is_a_new_file(tiny_sft_run, tiny_model_dir):
    spec = SourceSpec(str(tiny_model_dir), str(tiny_sft_run.adapter_dir))
    before = spec.fingerprint("f16")
    assert before != SourceSpec(str(tiny_model_dir)).fingerprint("f16") != before.replace("0", "1")
    weights = tiny_sft_run.adapter_dir / "adapter_model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data + b"")  # rewritten in place: a new modification time
    assert spec.fingerprint("f16") != before and spec.fingerprint("f32") != spec.fingerprint("f16")


def test_an_adapter_is_written_merged_into_its_base(tiny_sft_run, tiny_model_dir, tmp_path):
    import gguf
    from peft import PeftModel

    from studio.models import loading

    store = GGUFStore(tmp_path / "gguf", "f16")
    path = store.wait(SourceSpec(str(tiny_model_dir), str(tiny_sft_run.adapter_dir)), timeout=300)
    assert path.parent == tmp_path / "gguf" and not list((tmp_path / "gguf").glob(".writing-*"))
    base = loading.load_model(str(tiny_model_dir), torch.float32)
    merged = PeftModel.from_pretrained(base, str(tiny_sft_run.adapter_dir)).merge_and_unload()
    expected = merged.model.layers[1].self_attn.v_proj.weight.detach().half().numpy()  # V: never permuted
    tensors = {t.name: t for t in gguf.GGUFReader(path).tensors}
    written = np.asarray(tensors["blk.1.attn_v.weight"].data).reshape(expected.shape)
    assert written.dtype == np.float16 and np.array_equal(written, expected)
    original = loading.load_model(str(tiny_model_dir), torch.float32).model.layers[1].self_attn.v_proj.weight
    assert not np.array_equal(written, original.detach().half().numpy())  # the adapter is in it
    store.close()


# heavy: over 45 s on two cores; it writes several GGUF files; the store's other tests stay in CI (CI's time, issue 30)
@pytest.mark.heavy
def test_trimming_keeps_every_file_in_use_and_a_removed_file_is_written_again(
    tiny_sft_run, tiny_model_dir, tmp_path, monkeypatch
):
    root = tmp_path / "gguf"
    root.mkdir()
    stray = root / "0123456789abcdef01234567.gguf"  # another studio's old file
    stray.write_bytes(b"old")
    os.utime(stray, (1, 1))
    store = GGUFStore(root, "f16")
    monkeypatch.setattr(llamacpp, "KEEP_FILES", 1)
    base, adapter = SourceSpec(str(tiny_model_dir)), SourceSpec(str(tiny_model_dir), str(tiny_sft_run.adapter_dir))
    first = store.wait(base, timeout=300)
    second = store.wait(adapter, timeout=300)
    assert first.exists() and second.exists() and not stray.exists()  # over the limit, but both in use here
    first.unlink()  # removed behind the store's back
    assert store.for_turn([base], [10], 8) is None  # no context on a missing file: PyTorch this turn
    assert store.wait(base, timeout=300) == first and first.exists()  # and written again
    store.close()


def test_a_source_whose_file_cannot_be_written_stays_in_pytorch(tiny_model_dir, tmp_path, caplog):
    engine = ChatEngine(str(tiny_model_dir), backend="torch")
    sampling = Sampling(greedy=True, max_new_tokens=8)
    expected = engine.replies(MESSAGES, [None], sampling)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    engine.native = GGUFStore(blocker / "gguf", "f16")  # its folder cannot be made under a file
    with caplog.at_level(logging.WARNING, logger="studio.chat.llamacpp"):
        assert engine.replies(MESSAGES, [None], sampling) == expected  # starts the file; PyTorch meanwhile
        with pytest.raises(OSError):
            engine.native.wait(SourceSpec(engine.native.base_folder(engine.base_name)), timeout=120)
        assert engine.replies(MESSAGES, [None], sampling) == expected  # and after it failed
    assert "chat stays in PyTorch" in caplog.text and "could not be written" in caplog.text


@pytest.fixture(scope="module")
def embedded_adapter(embedded_dir, tmp_path_factory) -> str:
    """A small random LoRA on the embedded model: its replies differ from the base's, sensibly."""
    from peft import LoraConfig, get_peft_model

    from studio.models import loading

    torch.manual_seed(0)
    model = loading.load_model(str(embedded_dir), torch.float32)
    config = LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", init_lora_weights=False)
    model = get_peft_model(model, config)  # random A and B: about 10% of each weight's scale
    folder = tmp_path_factory.mktemp("embedded-adapter") / "adapter"
    model.peft_config["default"].base_model_name_or_path = loading.EMBEDDED_HUB_ID
    model.save_pretrained(folder)
    return str(folder)


@needs_llama_cpp
@pytest.mark.slow
def test_llama_cpp_replies_like_pytorch_and_a_column_alone_like_beside_others(embedded_adapter, monkeypatch):
    sources = [None, embedded_adapter]
    greedy = Sampling(greedy=True, max_new_tokens=24)
    expected = ChatEngine(backend="torch").replies(MESSAGES, sources, greedy)
    assert expected[0] != expected[1]
    engine = ChatEngine(backend="llama.cpp")
    engine.ensure_base()
    assert llamacpp.wait_ready(engine, [engine.load_source(s) for s in sources], timeout=600)
    steps = []
    original = llamacpp.Column.step
    monkeypatch.setattr(llamacpp.Column, "step", lambda self, model=None: steps.append(1) or original(self, model))
    assert engine.replies(MESSAGES, sources, greedy) == expected  # same greedy tokens, base and adapter
    assert len(steps) >= 2 * 10
    from studio.ui.chat_tab import _memory_markdown  # what the Chat tab says about it

    memory = engine.memory()
    assert memory["backend"] == "llama.cpp" and memory["gguf_ready"] == 2
    assert "decode in llama.cpp" in _memory_markdown(memory) and "2 written" in _memory_markdown(memory)
    in_torch = memory | {"backend": "torch", "gguf_ready": 0}
    assert "llama.cpp" not in _memory_markdown(in_torch)
    # two people's turns on the same source at once: each column decodes in a context of its own
    other = [{"role": "user", "content": "Name three colours."}]
    alone = [engine.replies(m, [None], greedy)[0] for m in (MESSAGES, other)]
    turns = [engine.stream(m, [None], greedy) for m in (MESSAGES, other)]
    last = [None, None]
    for _ in range(greedy.max_new_tokens + 1):
        for i, turn in enumerate(turns):
            last[i] = next(turn, last[i])
    assert [texts[0] for texts in last] == alone
    abandoned = engine.stream(MESSAGES, [None], greedy)
    next(abandoned)
    idle = sum(map(len, engine.native._idle.values()))
    abandoned.close()  # a stopped reply gives its context back
    assert sum(map(len, engine.native._idle.values())) == idle + 1
    sampled = Sampling(seed=3, temperature=0.8, top_k=40, top_p=0.9, max_new_tokens=24)
    together = engine.replies(MESSAGES, sources, sampled)
    assert [engine.replies(MESSAGES, [s], sampled)[0] for s in sources] == together  # alone = beside
    assert engine.replies(MESSAGES, sources, Sampling(seed=4, temperature=0.8, max_new_tokens=24)) != together
    engine.unload()


@needs_llama_cpp
@pytest.mark.slow
def test_a_next_turn_in_llama_cpp_computes_only_the_new_tokens_and_only_for_its_person(monkeypatch):
    engine = ChatEngine(backend="llama.cpp")
    engine.ensure_base()
    assert llamacpp.wait_ready(engine, [engine.load_source(None)], timeout=600)
    greedy = Sampling(greedy=True, max_new_tokens=16)
    first = engine.replies(MESSAGES, [None], greedy, owner="ann")[0]
    second = [*MESSAGES, {"role": "assistant", "content": first}, {"role": "user", "content": "And at night?"}]
    fresh = engine.replies(second, [None], greedy)  # no owner: from the prompt's first token
    computed = []
    original = llamacpp.Column.__init__

    def recording(self, *args, **kwargs):
        original(self, *args, **kwargs)
        computed.append(len(self.next_input))

    monkeypatch.setattr(llamacpp.Column, "__init__", recording)
    assert engine.replies(second, [None], greedy, owner="ann") == fresh
    assert engine.replies(second, [None], greedy, owner="bob") == fresh
    length = engine.prompt_ids(second).shape[-1]
    assert computed[0] < length / 3 and computed[1] == length  # ann's context kept her turn; bob's is new
    engine.unload()
