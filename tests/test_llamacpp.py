"""llama.cpp itself runs an exported GGUF: the chat template inside the file frames the turn and the
model stops at its end-of-turn token. Needs llama-cpp-python (requirements-llamacpp.txt, compiled
from source here), so it is skipped without it.

    nice .venv/bin/python -m pytest tests/test_llamacpp.py -q -s     # -s: the tokens/s figures
"""

import json

import pytest

from studio.export import llamacpp_check
from studio.models.gguf_writer import write_gguf

from .conftest import ROOT

pytest.importorskip("llama_cpp")


@pytest.fixture(scope="module")
def embedded_gguf(embedded_dir, tmp_path_factory):
    """The embedded SmolLM2-135M-Instruct as a q8_0 GGUF: a real model, which ends its turns."""
    path = tmp_path_factory.mktemp("gguf") / "smollm2-q8_0.gguf"
    write_gguf(embedded_dir, path, "q8_0", name="smollm2")
    return path


@pytest.mark.slow
def test_the_exported_model_chats_through_its_own_template_and_ends_its_turn(embedded_gguf):
    question = (ROOT / "assets" / "heldout_prompts.txt").read_text().splitlines()[0]
    llm = llamacpp_check.load(embedded_gguf)
    assert "<|im_start|>" in llm.metadata["tokenizer.chat_template"]
    figures = llamacpp_check.chat_check(embedded_gguf, [{"role": "user", "content": question}], 96, llm=llm)
    assert figures["chat_format"] == "chat_template.default"
    assert figures["finish_reason"] == "stop" and figures["completion_tokens"] < 96, figures
    assert figures["stopped"] and figures["reply"].strip() and "<|im_end|>" not in figures["reply"]
    # No fact is asserted: the 135M model itself answers this one wrongly ("Il Coriobella, Italy." in the
    # studio's own greedy fp32 decode; llama.cpp on q8_0: "Il Corriere dii, il Capital of Italy.").


@pytest.mark.slow
@pytest.mark.heavy  # the studio's decode is timed too: over a minute on two cores
def test_llama_cpp_decode_speed_beside_the_studios(embedded_gguf, embedded_dir):
    from studio.bench.chat import benchmark
    from studio.chat.engine import ChatEngine

    theirs = llamacpp_check.decode_speed(embedded_gguf, new_tokens=64)
    ours = benchmark(ChatEngine(str(embedded_dir)), None, new_tokens=64)["base"]
    figures = {
        "llama_cpp_q8_0": theirs,
        "studio": ours,
        "ratio": theirs["decode_tokens_per_s"] / ours["decode_tokens_per_s"],
    }
    print("\n" + json.dumps(figures, indent=1))
    assert theirs["decode_tokens_per_s"] > 0 and ours["decode_tokens_per_s"] > 0
