"""Training throughput: the studio against the floor and against the plain TRL script.

Three ways to run the same job (LoRA r8 all-linear, batch 4, max length 256, same rows):

- studio: ``plan_run`` + ``build_trainer``, exactly what the Train tab and ``python -m studio train`` run;
- floor: a bare PyTorch loop (forward, backward, AdamW step) over the *same batches* the studio's
  collator produced, in the studio's precision: what the hardware does with no framework around it;
- plain: the TRL script the fine-tuning guides show, with TRL's defaults (bf16 autocast and
  gradient checkpointing on, padded batches).

Each is timed over ``steps`` optimizer steps after ``warmup`` steps. Tokens: *computed* are the
non-padding tokens the model processed, *trained* those whose label is not -100.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from datasets import Dataset
from peft import LoraConfig, get_peft_model
from transformers import TrainerCallback
from trl import DPOConfig, DPOTrainer, SFTConfig, SFTTrainer

from studio.config import RunConfig
from studio.data import load_data
from studio.models import loading
from studio.models.device import torch_dtype
from studio.train.model import lora_config
from studio.train.plan import plan_run
from studio.train.trainer import build_trainer

LORA = dict(lora_r=8, lora_alpha=16, target_modules="all-linear")


@dataclass
class Measure:
    """Step times and token counts of one training loop."""

    warmup: int
    batch: int = 4  # examples a step (GRPO: prompts)
    starts: list[float] = field(default_factory=list)
    ends: list[float] = field(default_factory=list)
    computed: list[int] = field(default_factory=list)  # per batch
    trained: list[int] = field(default_factory=list)
    padded: list[int] = field(default_factory=list)  # tensor cells, padding included

    def count(self, batch: dict) -> None:
        computed, trained, cells = count_batch(batch)
        self.computed.append(computed)
        self.trained.append(trained)
        self.padded.append(cells)

    def result(self) -> dict:
        n = len(self.ends)
        if n <= self.warmup:
            raise RuntimeError(f"only {n} steps ran; need more than {self.warmup}")
        seconds = self.ends[-1] - self.ends[self.warmup - 1] if self.warmup else self.ends[-1] - self.starts[0]
        measured = slice(self.warmup, n)
        computed, trained = sum(self.computed[measured]), sum(self.trained[measured])
        return {
            "steps": n - self.warmup,
            "seconds": round(seconds, 3),
            "seconds_per_step": round(seconds / (n - self.warmup), 4),
            "tokens_per_s": round(computed / seconds, 2),
            "trained_tokens_per_s": round(trained / seconds, 2),
            "samples_per_s": round(self.batch * (n - self.warmup) / seconds, 3),
            "useful_token_share": round(sum(self.computed) / max(1, sum(self.padded)), 4),
        }


def count_batch(batch: dict) -> tuple[int, int, int]:
    """(computed, trained, cells) of a collated batch; padding-free batches have no padding."""
    ids = batch["input_ids"]
    if "attention_mask" in batch:
        computed = int(batch["attention_mask"].sum())
    else:
        computed = ids.numel()
    if "labels" in batch:
        trained = int((batch["labels"] != -100).sum())
    elif "completion_mask" in batch:
        trained = int(batch["completion_mask"].sum())
    else:
        trained = computed
    return computed, trained, ids.numel()


class _CountingCollator:
    """Wraps the trainer's collator: counts tokens and keeps each batch for the floor."""

    def __init__(self, inner, measure: Measure, keep: list):
        self.inner, self.measure, self.keep = inner, measure, keep

    def __call__(self, examples):
        batch = self.inner(examples)
        self.measure.count(batch)
        self.keep.append({k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in batch.items()})
        return batch


class _StepTimer(TrainerCallback):
    def __init__(self, measure: Measure):
        self.measure = measure

    def on_step_begin(self, args, state, control, **kwargs):
        self.measure.starts.append(time.perf_counter())

    def on_step_end(self, args, state, control, **kwargs):
        self.measure.ends.append(time.perf_counter())


def _timed_train(trainer, warmup: int) -> tuple[dict, list, str]:
    measure, batches = Measure(warmup), []
    trainer.data_collator = _CountingCollator(trainer.data_collator, measure, batches)
    trainer.add_callback(_StepTimer(measure))
    trainer.train()
    # The dataloader may prefetch one batch past the last step.
    steps = len(measure.ends)
    for series in (measure.computed, measure.trained, measure.padded):
        del series[steps:]
    precision = "bf16" if trainer.args.bf16 else "fp16" if trainer.args.fp16 else "fp32"
    return measure.result(), batches[:steps], precision


def studio_config(model: str, dataset: str, method: str, steps: int, max_length: int = 256) -> RunConfig:
    config = RunConfig()
    config.model.model = model
    config.data.dataset = dataset
    config.train.method = method
    config.train.max_steps = steps
    config.train.batch_size = 4
    config.train.max_length = max_length
    config.train.save_steps = 0
    config.train.learning_rate = 1e-4 if method == "sft" else 5e-6
    for key, value in LORA.items():
        setattr(config.adapter, key, value)
    return config


def run_studio(config: RunConfig, warmup: int) -> tuple[dict, list, str]:
    plan = plan_run(config)
    with tempfile.TemporaryDirectory() as out:
        trainer = build_trainer(plan, out)
        return _timed_train(trainer, warmup)


def _floor_model(model: str, precision: str):

    dtype = torch.float32 if precision == "fp32" else torch_dtype(precision)
    base = loading.load_model(model, dtype)
    config = RunConfig()
    for key, value in LORA.items():
        setattr(config.adapter, key, value)
    peft_model = get_peft_model(base, lora_config(config))
    peft_model.train()
    return peft_model


def _autocast(precision: str):
    if precision == "fp32":
        return torch.autocast("cpu", enabled=False)
    return torch.autocast("cuda" if torch.cuda.is_available() else "cpu", dtype=torch_dtype(precision))


def _floor_loop(net, lr: float, batches: list, precision: str, warmup: int, loss_of) -> dict:
    """Forward (``loss_of(batch)``), backward and AdamW step over the given batches; nothing else."""
    optimizer = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=lr)
    measure = Measure(warmup)
    for batch in batches:
        measure.count(batch)
        measure.starts.append(time.perf_counter())
        with _autocast(precision):
            loss = loss_of(batch)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        measure.ends.append(time.perf_counter())
    return measure.result()


def run_floor_sft(model: str, batches: list, precision: str, warmup: int) -> dict:
    """The model's own causal-LM loss: forward, backward and AdamW step."""
    net = _floor_model(model, precision)
    return _floor_loop(net, 1e-4, batches, precision, warmup, lambda batch: net(**batch).loss)


def _sequence_logps(net, batch: dict) -> torch.Tensor:
    logits = net(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1].float()
    targets = batch["input_ids"][:, 1:]
    mask = batch["completion_mask"][:, 1:].float()
    logps = torch.log_softmax(logits, -1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return (logps * mask).sum(-1)


def run_floor_dpo(model: str, batches: list, precision: str, warmup: int, beta: float = 0.1) -> dict:
    """DPO by hand: policy and reference (adapter disabled) log-probs, sigmoid loss, AdamW step."""
    net = _floor_model(model, precision)

    def loss_of(batch):
        with torch.no_grad(), net.disable_adapter():
            ref = _sequence_logps(net, batch)
        chosen, rejected = (_sequence_logps(net, batch) - ref).chunk(2)
        return -torch.nn.functional.logsigmoid(beta * (chosen - rejected)).mean()

    return _floor_loop(net, 5e-6, batches, precision, warmup, loss_of)


def run_plain(model: str, rows: list[dict], method: str, steps: int, warmup: int, max_length: int = 256) -> dict:
    """The guides' script: a model path, a LoraConfig, TRL's defaults otherwise."""
    peft_config = LoraConfig(r=8, lora_alpha=16, target_modules="all-linear", task_type="CAUSAL_LM")
    with tempfile.TemporaryDirectory() as out:
        common = dict(
            output_dir=out, per_device_train_batch_size=4, max_steps=steps, max_length=max_length, report_to="none"
        )
        if not torch.cuda.is_available():
            common["use_cpu"] = True  # the one change TRL demands before it runs on a CPU
        if method == "sft":
            trainer = SFTTrainer(
                model=model, train_dataset=Dataset.from_list(rows), args=SFTConfig(**common), peft_config=peft_config
            )
        else:
            trainer = DPOTrainer(
                model=model, train_dataset=Dataset.from_list(rows), args=DPOConfig(**common), peft_config=peft_config
            )
        result, _, precision = _timed_train(trainer, warmup)
    result["precision"] = precision
    result["gradient_checkpointing"] = True
    return result


def plain_rows(dataset: str, method: str, n: int) -> list[dict]:
    """The rows as a guide would feed TRL: conversational messages, or prompt/chosen/rejected."""
    data = load_data(dataset)
    rows = data.rows[:n]
    if method == "sft":
        return [{"messages": r["messages"]} for r in rows]
    return [{"prompt": r["prompt"], "chosen": r["chosen"], "rejected": r["rejected"]} for r in rows]


def compare(
    model: str, dataset: str, method: str, steps: int, warmup: int, include_plain: bool = True, max_length: int = 256
) -> dict:
    """Studio, floor and plain TRL on one job, with the ratios."""
    location = loading.resolve_model(model)
    config = studio_config(location, dataset, method, steps + warmup, max_length)
    studio, batches, precision = run_studio(config, warmup)
    floor = (run_floor_sft if method == "sft" else run_floor_dpo)(location, batches, precision, warmup)
    out = {"precision": precision, "studio": studio, "floor": floor}
    out["tokens_per_s"] = studio["tokens_per_s"]
    out["trained_tokens_per_s"] = studio["trained_tokens_per_s"]
    out["ratio_vs_floor"] = round(studio["tokens_per_s"] / floor["tokens_per_s"], 3)
    if include_plain:
        n_rows = 4 * (steps + warmup)
        plain = run_plain(location, plain_rows(dataset, method, n_rows), method, steps + warmup, warmup, max_length)
        out["plain_trl"] = plain
        out["ratio_vs_plain_trl"] = round(studio["tokens_per_s"] / plain["tokens_per_s"], 3)
    return out


def useful_token_share(model: str, dataset: str, max_length: int = 256, batches: int = 20) -> dict:
    """Non-padding over computed tokens: the studio's padding-free batches against plain padding."""
    out = {}
    for name, padding_free in (("studio", True), ("padded", False)):
        config = studio_config(loading.resolve_model(model), dataset, "sft", batches)
        config.train.padding_free = padding_free
        plan = plan_run(config)
        with tempfile.TemporaryDirectory() as tmp:
            trainer = build_trainer(plan, tmp)
            loader = trainer.get_train_dataloader()
            counts = [count_batch(b) for _, b in zip(range(batches), loader, strict=False)]
        out[name] = round(sum(c[0] for c in counts) / sum(c[2] for c in counts), 4)
    return {"useful_token_share": out["studio"], "useful_token_share_padded": out["padded"]}


def default_dataset(method: str) -> str:
    root = Path(__file__).resolve().parents[2]
    real = root.parent / "shared" / "real-data"
    if method == "sft":
        path = real / "alpaca_en_demo.json"
        return str(path if path.exists() else root / "assets" / "sample_sft.jsonl")
    return str(root / "assets" / "sample_dpo.jsonl")
