"""Chat: repeatable sampling, fair side-by-side columns, one model, foreign sources refused."""

import weakref

import pytest
import torch

from studio.chat.engine import ChatEngine, Sampling

PROMPT = [{"role": "user", "content": "Who are you?"}]


@pytest.fixture(scope="module")
def engine(tiny_model_dir):
    return ChatEngine(str(tiny_model_dir))


def test_same_seed_same_text(engine):
    sampling = Sampling(seed=7, max_new_tokens=20, temperature=1.0)
    assert engine.reply(PROMPT, None, sampling) == engine.reply(PROMPT, None, sampling)
    assert engine.reply(PROMPT, None, sampling) != engine.reply(
        PROMPT, None, Sampling(seed=8, max_new_tokens=20, temperature=1.0)
    )


def test_side_by_side_columns_equal_their_solo_replies(engine, tiny_sft_run):
    adapter = str(tiny_sft_run.adapter_dir)
    sampling = Sampling(seed=3, max_new_tokens=16, temperature=1.0, repetition_penalty=1.3)
    together = list(engine.stream(PROMPT, [None, adapter, None], sampling))[-1]
    solo = [engine.reply(PROMPT, None, sampling), engine.reply(PROMPT, adapter, sampling)]
    assert together == [solo[0], solo[1], solo[0]]


def test_each_column_may_continue_its_own_conversation(engine, tiny_sft_run):
    adapter = str(tiny_sft_run.adapter_dir)
    greedy = Sampling(greedy=True, max_new_tokens=8)
    other = [*PROMPT, {"role": "assistant", "content": "A pirate."}, {"role": "user", "content": "Why?"}]
    together = list(engine.stream([PROMPT, other], [None, adapter], greedy))[-1]
    assert together == [engine.reply(PROMPT, None, greedy), engine.reply(other, adapter, greedy)]


def test_streaming_grows_token_by_token(engine):
    steps = list(engine.stream(PROMPT, [None], Sampling(seed=1, max_new_tokens=8, greedy=True)))
    assert len(steps) >= 2
    assert all(b[0].startswith(a[0]) for a, b in zip(steps, steps[1:], strict=False))


def test_greedy_adapter_differs_from_base_and_base_is_untouched(engine, tiny_sft_run):
    adapter = str(tiny_sft_run.adapter_dir)
    greedy = Sampling(greedy=True, max_new_tokens=12)
    base_before = engine.reply(PROMPT, None, greedy)
    tuned = engine.reply(PROMPT, adapter, greedy)
    assert tuned != base_before
    assert engine.reply(PROMPT, None, greedy) == base_before
    assert len(engine.adapters) == 1  # loaded once, switched after


@pytest.mark.parametrize("dtype", ["fp32", "fp16"])
def test_merged_switching_gives_peft_s_own_logits(tiny_model_dir, tiny_sft_run, dtype):
    """Swapping in merged weights computes what PEFT's unmerged LoRA computes, for base and adapter."""
    logits = {}
    for mode in ("merged", "peft"):
        engine = ChatEngine(str(tiny_model_dir), dtype=dtype, adapter_mode=mode)
        engine.ensure_base()
        ids = engine.prompt_ids(PROMPT)
        keys = [engine.load_source(None), engine.load_source(str(tiny_sft_run.adapter_dir))]
        with torch.inference_mode():
            logits[mode] = [engine.use(k)(input_ids=ids).logits[0, -1].float() for k in keys + keys[:1]]
        assert engine.bank.mode == mode
    tolerance = 1e-4 if dtype == "fp32" else 2e-2
    for merged, peft in zip(logits["merged"], logits["peft"], strict=True):
        assert torch.allclose(merged, peft, atol=tolerance)
    assert not torch.allclose(logits["merged"][0], logits["merged"][1], atol=tolerance)
    assert torch.equal(logits["merged"][0], logits["merged"][2])  # back to the base exactly


def test_adapter_of_another_base_is_refused(tiny_sft_run, embedded_dir):
    other = ChatEngine(str(embedded_dir))
    with pytest.raises(ValueError, match="trained on .*tiny-llama.*not on the loaded base"):
        other.load_adapter(tiny_sft_run.adapter_dir)
    assert other.bank is None  # refused before anything was loaded


def test_unload_frees_the_models(tiny_model_dir, tiny_sft_run):
    engine = ChatEngine(str(tiny_model_dir))
    engine.reply(PROMPT, str(tiny_sft_run.adapter_dir), Sampling(greedy=True, max_new_tokens=2))
    held = engine.memory()
    assert held["total_bytes"] > held["base_bytes"] > 0 and held["adapters"]
    model = weakref.ref(engine.model)
    assert engine.unload() == held["total_bytes"]
    assert engine.model is None and engine.memory()["total_bytes"] == 0
    assert model() is None  # nothing else held on to it: its memory went back


def test_unloading_during_a_reply_ends_it_with_a_message(tiny_model_dir):
    engine = ChatEngine(str(tiny_model_dir))
    stream = engine.stream(PROMPT, [None], Sampling(greedy=True, max_new_tokens=8))
    next(stream)
    engine.unload()
    with pytest.raises(ValueError, match="unloaded while replying"):
        next(stream)


@pytest.fixture(scope="module")
def full_run(make_run):
    return make_run(adapter="full", max_rows=8, learning_rate=1e-2)


def test_a_full_fine_tune_is_a_second_model_beside_the_adapters(tiny_model_dir, tiny_sft_run, full_run):
    from studio.services import Studio

    full = str(full_run.adapter_dir)
    assert not (full_run.adapter_dir / "adapter_config.json").exists()
    engine = ChatEngine(str(tiny_model_dir))
    greedy = Sampling(greedy=True, max_new_tokens=10)
    together = list(engine.stream(PROMPT, [None, str(tiny_sft_run.adapter_dir), full], greedy))[-1]
    assert together[2] == engine.reply(PROMPT, full, greedy)
    assert together[2] != together[0]
    memory = engine.memory()
    assert list(memory["full_models"]) == [str(full_run.adapter_dir.resolve())]
    assert memory["total_bytes"] == memory["base_bytes"] + memory["adapter_bytes"] + sum(memory["full_models"].values())

    labels = dict((folder, label) for label, folder in Studio(full_run.path.parent).adapter_choices())
    assert labels[full].endswith("(full model)")


def test_a_full_fine_tune_of_another_base_is_refused(full_run, embedded_dir):
    with pytest.raises(ValueError, match="fine-tuned model in .* was trained on .*tiny-llama"):
        ChatEngine(str(embedded_dir)).load_source(str(full_run.adapter_dir))


@pytest.mark.cli
def test_cli_chat_answers_with_a_full_fine_tune_and_prints_only_the_reply(tiny_model_dir, full_run):
    from .test_cli import studio

    args = [
        "chat",
        "--run",
        str(full_run.path),
        "--runs-dir",
        str(full_run.path.parent),
        "--prompt",
        "Who are you?",
        "--greedy",
        "--max-new-tokens",
        "6",
    ]
    result = studio(*args)
    assert result.returncode == 0, result.stderr
    expected = ChatEngine(str(tiny_model_dir)).reply(
        PROMPT, str(full_run.adapter_dir), Sampling(greedy=True, max_new_tokens=6)
    )
    assert result.stdout == expected + "\n"


def test_fp16_weights_on_cpu_compute_what_fp32_computes(tiny_model_dir):
    """Prompts (several tokens) and attention run in fp32 from the fp16 weights; single tokens
    through the fp16 kernel: both agree with the fp32 model up to fp16 rounding."""
    from studio.models.loading import load_model
    from studio.patches.cpu_half import ATTENTION, prepare_half_on_cpu

    reference = load_model(str(tiny_model_dir), torch.float32).eval()
    half = load_model(str(tiny_model_dir), torch.float16).eval()
    assert prepare_half_on_cpu(half) == 15  # 2 layers x 7 projections, and the lm_head
    assert half.config._attn_implementation == ATTENTION
    ids = torch.tensor([[1, 422, 1037, 314, 2], [1, 422, 77, 2, 2]])
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 1, 0]])  # right padding, as evaluation batches it
    with torch.inference_mode():
        exact = reference(input_ids=ids, attention_mask=mask).logits
        prompt = half(input_ids=ids, attention_mask=mask).logits
        token = half(input_ids=ids[:1, :1]).logits.float()
    assert prompt.dtype == torch.float32  # evaluation reads these logits unrounded
    assert torch.allclose(prompt[mask.bool()], exact[mask.bool()], atol=2e-3)
    assert torch.allclose(token[0, 0], exact[0, 0], atol=2e-3)
    assert prepare_half_on_cpu(reference) == 0  # fp32 models are left alone
