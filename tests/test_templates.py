"""Each family's chat template, written from its documented format: the exact training text, the
assistant-only mask, where generation stops, and a model without a template asked to choose one.

The tokenizer is the real SmolLM2 one with each format's markers added as special tokens, as the
family's own tokenizer has them.
"""

from __future__ import annotations

import pytest

from studio.data.render import end_of_turn_token, render_chat, segments
from studio.data.templates import TEMPLATES, use_template
from studio.models.families import FAMILIES

CONVERSATION = [
    {"role": "system", "content": "Answer briefly."},
    {"role": "user", "content": "What is two plus two?"},
    {"role": "assistant", "content": "Four."},
    {"role": "user", "content": "And three plus three?"},
    {"role": "assistant", "content": "Six."},
]

# The documented text of CONVERSATION in each format (the families' model cards and docs).
EXPECTED = {
    "chatml": "<|im_start|>system\nAnswer briefly.<|im_end|>\n<|im_start|>user\nWhat is two plus two?<|im_end|>\n"
    "<|im_start|>assistant\nFour.<|im_end|>\n<|im_start|>user\nAnd three plus three?<|im_end|>\n"
    "<|im_start|>assistant\nSix.<|im_end|>\n",
    "qwen3": "<|im_start|>system\nAnswer briefly.<|im_end|>\n<|im_start|>user\nWhat is two plus two?<|im_end|>\n"
    "<|im_start|>assistant\nFour.<|im_end|>\n<|im_start|>user\nAnd three plus three?<|im_end|>\n"
    "<|im_start|>assistant\n<think>\n\n</think>\n\nSix.<|im_end|>\n",
    "llama3": "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nAnswer briefly.<|eot_id|>"
    "<|start_header_id|>user<|end_header_id|>\n\nWhat is two plus two?<|eot_id|>"
    "<|start_header_id|>assistant<|end_header_id|>\n\nFour.<|eot_id|>"
    "<|start_header_id|>user<|end_header_id|>\n\nAnd three plus three?<|eot_id|>"
    "<|start_header_id|>assistant<|end_header_id|>\n\nSix.<|eot_id|>",
    "gemma": "<bos><start_of_turn>user\nAnswer briefly.\n\nWhat is two plus two?<end_of_turn>\n"
    "<start_of_turn>model\nFour.<end_of_turn>\n<start_of_turn>user\nAnd three plus three?<end_of_turn>\n"
    "<start_of_turn>model\nSix.<end_of_turn>\n",
    "phi3": "<|system|>\nAnswer briefly.<|end|>\n<|user|>\nWhat is two plus two?<|end|>\n<|assistant|>\nFour.<|end|>\n"
    "<|user|>\nAnd three plus three?<|end|>\n<|assistant|>\nSix.<|end|>\n",
    "mistral": "<s>[INST] Answer briefly.\n\nWhat is two plus two? [/INST] Four.</s>[INST] And three plus three? "
    "[/INST] Six.</s>",
    "granite": "<|start_of_role|>system<|end_of_role|>Answer briefly.<|end_of_text|>\n"
    "<|start_of_role|>user<|end_of_role|>What is two plus two?<|end_of_text|>\n"
    "<|start_of_role|>assistant<|end_of_role|>Four.<|end_of_text|>\n"
    "<|start_of_role|>user<|end_of_role|>And three plus three?<|end_of_text|>\n"
    "<|start_of_role|>assistant<|end_of_role|>Six.<|end_of_text|>\n",
    "tulu": "<|system|>\nAnswer briefly.\n<|user|>\nWhat is two plus two?\n<|assistant|>\nFour.<|endoftext|>\n"
    "<|user|>\nAnd three plus three?\n<|assistant|>\nSix.<|endoftext|>\n",
}


@pytest.fixture
def template_tokenizer(tokenizer):
    import copy

    def make(name: str):
        tok = copy.deepcopy(tokenizer)
        tok.add_special_tokens({"additional_special_tokens": list(TEMPLATES[name].markers)})
        use_template(tok, name)
        return tok

    return make


def test_every_format_has_its_expected_text_and_every_family_a_format():
    from studio.config import TEMPLATE_CHOICES

    assert TEMPLATE_CHOICES == ["auto", *TEMPLATES]
    assert set(EXPECTED) == set(TEMPLATES)
    assert {f.template for f in FAMILIES.values()} <= set(TEMPLATES)


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_training_text_is_the_documented_format(template_tokenizer, name):
    tok = template_tokenizer(name)
    assert tok.apply_chat_template(CONVERSATION, tokenize=False) == EXPECTED[name]


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_only_the_answers_and_their_end_of_turn_are_trained(template_tokenizer, name):
    tok = template_tokenizer(name)
    end = TEMPLATES[name].end_of_turn
    assert end_of_turn_token(tok) == end
    rendered = render_chat(tok, CONVERSATION)
    trained = [piece for piece, on in segments(tok, rendered) if on]
    joined = "".join(trained)
    assert "two plus two" not in joined and "three plus three" not in joined and "Answer briefly" not in joined
    # each answer is trained through its end-of-turn token, and nothing of the next header
    assert [t.strip().removesuffix(end).strip() for t in trained][-2:] in (
        ["Four.", "Six."],
        ["Four.", "<think>\n\n</think>\n\nSix."],  # qwen3: the last answer with its (empty) reasoning
    )
    assert all(t.rstrip().endswith(end) for t in trained), trained
    assert joined.count(end) == 2


def test_qwen3_trains_the_last_answer_with_its_reasoning(template_tokenizer):
    tok = template_tokenizer("qwen3")
    conversation = [*CONVERSATION[:-1], {"role": "assistant", "content": "<think>\n3 + 3 = 6\n</think>\n\nSix."}]
    text = tok.apply_chat_template(conversation, tokenize=False)
    assert text.endswith("<|im_start|>assistant\n<think>\n3 + 3 = 6\n</think>\n\nSix.<|im_end|>\n")
    trained = "".join(piece for piece, on in segments(tok, render_chat(tok, conversation)) if on)
    assert "3 + 3 = 6" in trained and "Six.<|im_end|>" in trained
    prompt = tok.apply_chat_template(
        CONVERSATION[:2], tokenize=False, add_generation_prompt=True, enable_thinking=False
    )
    assert prompt.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")


@pytest.mark.parametrize("name", ["gemma", "llama3", "phi3"])
def test_chat_stops_at_the_family_end_of_turn_even_when_the_config_omits_it(template_tokenizer, tmp_path, name):
    """A reply ends at the template's end-of-turn token, which these families' eos ids may not include."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from studio.chat.engine import ChatEngine
    from studio.chat.sampling import Sampling

    tok = template_tokenizer(name)

    end_id = tok.convert_tokens_to_ids(TEMPLATES[name].end_of_turn)
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    with torch.no_grad():  # a model that always says the end-of-turn token first
        model.lm_head.weight.zero_()
        model.lm_head.weight[end_id] = 1.0
        model.model.norm.weight.fill_(1.0)
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    engine = ChatEngine(str(tmp_path), dtype="fp32", backend="torch")
    steps = list(engine.stream([{"role": "user", "content": "hi"}], [None], Sampling(max_new_tokens=8, greedy=True)))
    assert len(steps) <= 1 and steps[-1] == [""]  # stopped at its first token, not after 8


def test_a_model_without_a_template_is_asked_for_one_not_given_chatml(tmp_path, tiny_model_dir):
    import shutil

    from studio.models.loading import load_tokenizer
    from studio.schema import ConfigError
    from studio.train.plan import plan_run

    from .conftest import tiny_recipe

    folder = tmp_path / "no-template"
    shutil.copytree(tiny_model_dir, folder)
    for leftover in folder.glob("chat_template.*"):
        leftover.unlink()
    tok = load_tokenizer(str(folder), fallback=False)
    tok.chat_template = None
    tok.save_pretrained(folder)
    assert load_tokenizer(str(folder), fallback=False).chat_template is None
    with pytest.raises(ConfigError) as refused:
        plan_run(tiny_recipe(folder, max_steps=1))
    problem = next(p for p in refused.value.problems if p.field == "chat_template")
    assert "no chat template" in problem.message and "its family's is llama3" in problem.message
    plan = plan_run(tiny_recipe(folder, max_steps=1, chat_template="chatml"))
    assert plan.tokenizer.chat_template == TEMPLATES["chatml"].jinja
    with pytest.raises(ConfigError, match="does not know"):  # SmolLM2's tokenizer has no Gemma markers
        plan_run(tiny_recipe(folder, max_steps=1, chat_template="gemma"))
