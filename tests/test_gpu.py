"""The CUDA paths, on a GPU; each test is skipped (never failed) where there is none.

    bash scripts/gpu_check.sh          # set up, run these and the benchmark, print one table
    pytest -m gpu -rs                  # these alone

What a CPU never exercises: the precision "auto" picks on a GPU (bf16 where the GPU computes it,
else fp16); QLoRA's 4-bit NF4 base from bitsandbytes and a step through it; TRL's chunked
log-probability kernel (Triton), which DPO and SFT use on a GPU in place of
``studio.patches.logprobs.PlainLogProb``; the train command under ``accelerate launch`` on two GPUs;
and the memory estimate against the allocator's own peak, ``torch.cuda.max_memory_allocated``.
The tiny random Llama (tests/conftest.py) keeps each training to seconds; the memory check uses
the embedded SmolLM2-135M, whose shapes are a real model's.
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest
import torch

from .conftest import ROOT, tiny_recipe
from .test_training_dist import train_on_two_processes

CUDA = torch.cuda.is_available()
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not CUDA, reason="needs a CUDA GPU")]

# estimate / measured peak (torch.cuda.max_memory_allocated above the allocation before loading).
# The estimate should err high (a low one promises a fit that runs out of memory), but the CUDA
# allocator's rounding and cuBLAS workspace are not counted by it, hence the 0.8 floor; above 2.5
# the estimate refuses runs that would fit.
MEMORY_BAND = (0.8, 2.5)


def _train(config, runs: Path):
    """Train ``config`` to the end here; (run, final progress)."""
    from studio.train.jobs.manager import JobManager

    jobs = JobManager(runs)
    run = jobs.start(config)
    progress = jobs.wait(600)
    assert progress.status == "completed", progress.error
    return run, progress


def _losses(run) -> list[float]:
    return [m["loss"] for m in run.metrics() if isinstance(m.get("loss"), float)]


def test_auto_precision_is_bf16_where_the_gpu_has_it(tiny_model_dir, tmp_path):
    from studio.models.device import detect, resolve_precision
    from studio.train.plan import plan_run
    from studio.train.trainer import build_trainer

    device = detect()
    assert device.kind == "cuda" and device.count == torch.cuda.device_count()
    wanted = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    assert resolve_precision("auto", device) == wanted
    config = tiny_recipe(tiny_model_dir, precision="auto", max_steps=2)
    plan = plan_run(config)
    assert plan.precision == wanted
    trainer = build_trainer(plan, str(tmp_path / "out"))
    assert (trainer.args.bf16, trainer.args.fp16) == (wanted == "bf16", wanted == "fp16")
    assert next(trainer.model.parameters()).device.type == "cuda"
    del trainer

    run, progress = _train(config, tmp_path / "runs")
    assert progress.step == 2 and all(math.isfinite(x) for x in _losses(run))
    assert json.loads((run.path / "environment.json").read_text())  # recorded, with the GPU
    assert "cuda" in (run.path / "environment.json").read_text().lower()


@pytest.mark.skipif(CUDA and importlib.util.find_spec("bitsandbytes") is None, reason="needs bitsandbytes")
def test_qlora_loads_a_4bit_nf4_base_and_trains_a_step(tiny_model_dir, tmp_path):
    import bitsandbytes as bnb
    from peft import get_peft_model_state_dict
    from safetensors.torch import load_file

    from studio.train.model import build_model
    from studio.train.plan import plan_run

    config = tiny_recipe(tiny_model_dir, adapter="qlora", precision="auto", max_steps=1)
    model = build_model(plan_run(config))
    quantized = [m for m in model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert quantized, "no 4-bit layer: the base was not quantized"
    assert {m.weight.quant_state.quant_type for m in quantized} == {"nf4"}
    assert all(m.weight.quant_state.nested for m in quantized)  # double quantization
    assert all(m.weight.device.type == "cuda" for m in quantized)
    before = {k: v.detach().clone() for k, v in get_peft_model_state_dict(model).items()}
    del model

    run, progress = _train(config, tmp_path / "runs")
    assert progress.step == 1 and all(math.isfinite(x) for x in _losses(run))

    after = load_file(str(run.adapter_dir / "adapter_model.safetensors"))
    changed = [k for k, v in after.items() if k in before and not torch.equal(v.cpu().float(), before[k].cpu().float())]
    assert changed, "one QLoRA step left the adapter unchanged"


@pytest.mark.skipif(CUDA and importlib.util.find_spec("triton") is None, reason="needs Triton (comes with CUDA torch)")
def test_dpo_uses_trl_s_chunked_logprob_kernel_and_it_matches_the_plain_path(tiny_model_dir, tmp_path):
    import trl.trainer.utils as trl_utils
    from trl.kernels import ChunkedLogProbFunction

    from studio.patches.logprobs import PlainLogProb, use_plain_logprobs

    assert use_plain_logprobs("cuda") is False
    assert trl_utils._ChunkedLogProbFunction is ChunkedLogProbFunction

    g = torch.Generator(device="cuda").manual_seed(0)
    outputs = ("entropy", "log_sum_sq_probs", "mean_logits", "is_top1")
    results = []
    for fn in (ChunkedLogProbFunction, PlainLogProb):
        h = torch.randn(300, 64, device="cuda", generator=g.manual_seed(0)).requires_grad_()
        w = torch.randn(4099, 64, device="cuda", generator=g.manual_seed(1)).requires_grad_()
        t = torch.randint(0, 4099, (300,), device="cuda", generator=g.manual_seed(2))
        out = fn.apply(h, w, None, t, 1.0, 1024, None, 1.0, outputs)
        out[0].sum().backward()
        results.append((out[0].detach(), h.grad, w.grad))
    for kernel, plain in zip(*results, strict=True):
        torch.testing.assert_close(plain, kernel, rtol=1e-3, atol=1e-3)

    config = tiny_recipe(
        tiny_model_dir, method="dpo", dataset=str(ROOT / "assets" / "sample_dpo.jsonl"), precision="auto", max_steps=2
    )
    run, progress = _train(config, tmp_path / "runs")
    assert trl_utils._ChunkedLogProbFunction is ChunkedLogProbFunction  # the run kept the kernel
    assert any("rewards/accuracies" in m for m in run.metrics())  # DPO's own metrics were logged
    assert progress.step == 2 and _losses(run) and all(math.isfinite(x) for x in _losses(run))


@pytest.mark.skipif(CUDA and torch.cuda.device_count() < 2, reason="needs two GPUs")
def test_two_gpus_train_one_run_with_ddp(tiny_config, tmp_path):
    tiny_config.model.precision = "auto"
    result, runs = train_on_two_processes(tiny_config, tmp_path, {"CUDA_VISIBLE_DEVICES": "0,1"}, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    (run,) = list(runs.iterdir())  # only the main process created a run directory
    environment = json.loads((run / "environment.json").read_text())
    assert environment["world_size"] == 2
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [s for s in steps if s] == [1, 2]  # 8 rows, batch 2 per GPU, 2 GPUs: 2 steps
    assert json.loads((run / "status.json").read_text())["status"] == "completed"


@pytest.mark.parametrize("adapter", ["lora", "qlora", "full"])
def test_the_memory_estimate_is_within_the_band_of_the_allocator_s_peak(adapter, embedded_dir):
    from studio.train.peak_memory import compare_estimates

    if adapter == "qlora" and importlib.util.find_spec("bitsandbytes") is None:
        pytest.skip("needs bitsandbytes")
    extra = ["--precision", "auto", "--batch-size", "4", "--max-length", "512"]
    (check,) = compare_estimates("smollm2-135m-instruct", adapters=(adapter,), steps=3, extra_args=extra)
    ratio = check["estimated_bytes"] / check["measured_bytes"]
    print(
        f"memory {adapter}: estimate {check['estimated_bytes'] / 2**20:.0f} MiB, measured "
        f"{check['measured_bytes'] / 2**20:.0f} MiB, ratio {ratio:.2f}"
    )
    assert MEMORY_BAND[0] <= ratio <= MEMORY_BAND[1], f"{adapter}: estimate / measured = {ratio:.2f}"
