"""Turn a run into files others can use: the adapter (folder or zip) or a merged full model.

    python -m studio export --run runs/<id> --out exports/tuned               # adapter + model card
    python -m studio export --run runs/<id> --out exports/merged --merge --dtype bf16

    export_adapter(run, "out/")           # adapter files, tokenizer with the run's chat template, README.md
    zip_adapter(run)                      # runs/<id>/export/<id>-adapter.zip
    report = merge(run, "out/", "bf16")   # base + adapter -> one model.safetensors, checked

A merge loads the base at full precision (fp32) and lets PEFT fold the adapter into it, then
casts to the dtype asked for. A QLoRA run's base is reloaded the same way, never in 4 bits:
merging into NF4 weights would round the update away and save a dequantized-quantized model.
The saved model is then reloaded with plain transformers and compared with the base: if no
targeted weight changed, or its logits equal the base's, the merge was silently empty
(``EmptyMergeError``) and the folder is removed rather than left for someone to push.
"""

from __future__ import annotations

import logging
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from peft import PeftModel
from peft.tuners.lora import LoraLayer
from transformers import AutoModelForCausalLM, AutoTokenizer

from studio.config import METHODS
from studio.export import verify
from studio.export.card import write_card
from studio.export.destination import prepare_out
from studio.models import loading
from studio.models.device import TORCH_DTYPES, free_memory
from studio.runs.directory import Run

log = logging.getLogger(__name__)

# Not for others: a pickle of TrainingArguments (the Hub flags pickles) and PEFT's template card.
LEFT_OUT = {"training_args.bin", "README.md"}

Progress = Callable[[float, str], None]


class EmptyMergeError(ValueError):
    """The merged model is the base model: the adapter's update did not make it into the weights."""


@dataclass
class MergeReport:
    folder: str
    dtype: str
    size_bytes: int
    layers_targeted: int
    layers_changed: int
    max_logit_diff_vs_base: float
    max_logit_diff_vs_adapter: float
    prompt: str = ""
    adapter_answer: str = ""
    merged_answer: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def same_answer(self) -> bool:
        return self.merged_answer == self.adapter_answer

    def to_dict(self) -> dict:
        return {**asdict(self), "same_answer": self.same_answer, "merged": self.merged}

    @property
    def merged(self) -> bool:
        """False for a full fine-tune, which is only converted to the dtype."""
        return self.layers_targeted > 0

    def card_rows(self) -> dict:
        if not self.merged:
            return {"saved dtype": self.dtype, "merge": "none needed: a full fine-tune"}
        return {
            "saved dtype": self.dtype,
            "layers changed by the merge": f"{self.layers_changed} of {self.layers_targeted}",
            "max logit difference vs the base": f"{self.max_logit_diff_vs_base:.4g}",
            "max logit difference vs base + adapter": f"{self.max_logit_diff_vs_adapter:.4g}",
            "greedy answer equals the adapter's": self.same_answer,
        }


def _say(progress: Progress | None, fraction: float, message: str) -> None:
    log.info("%s", message)
    if progress:
        progress(fraction, message)


def require_trained(run: Run) -> str:
    """'adapter' or 'full'; a ValueError naming the run when nothing was saved yet."""
    if not run.has_adapter():
        status = run.status().get("status", "unknown")
        raise ValueError(
            f"run {run.id} has no saved adapter or model yet (status: {status}); "
            "let the training finish, or press Stop to save what it learned so far"
        )
    if METHODS[run.config().train.method].scorer:  # a score head (the reward model)
        raise ValueError(
            f"run {run.id} is a reward model: it scores answers and writes none, so it has no chat model to "
            "merge or run in llama.cpp; download its adapter (zip) or use it as a GRPO reward (reward_model_run)"
        )
    return "adapter" if (run.adapter_dir / "adapter_config.json").exists() else "full"


def check_dtype(dtype: str) -> torch.dtype:
    if dtype not in TORCH_DTYPES:
        raise ValueError(f"dtype: {dtype!r} is not one of {', '.join(TORCH_DTYPES)}")
    return TORCH_DTYPES[dtype]


def run_tokenizer(run: Run):
    """The tokenizer the run trained with: the one saved beside its adapter, else the base's."""
    try:
        saved = AutoTokenizer.from_pretrained(run.adapter_dir)
    except (OSError, ValueError):
        saved = None
    return saved if saved is not None and saved.chat_template else loading.load_tokenizer(run.config().model.model)


def ensure_chat_template(run: Run, folder: Path) -> None:
    """The folder's tokenizer carries the chat template the run trained with (saved if not)."""
    trained = run_tokenizer(run)
    try:
        current = AutoTokenizer.from_pretrained(folder).chat_template
    except (OSError, ValueError):
        current = None
    if current != trained.chat_template:
        trained.save_pretrained(folder)
        log.info("saved the run's tokenizer and chat template into %s", folder)


def export_adapter(run: Run, out: str | Path, repo_id: str | None = None, overwrite: bool = False) -> Path:
    """The run's adapter (or full model) files, its tokenizer and a model card, in ``out``."""
    kind = require_trained(run)
    out = prepare_out(out, overwrite, run, kind="adapter" if kind == "adapter" else "full model")
    for path in sorted(run.adapter_dir.iterdir()):
        if path.is_file() and path.name not in LEFT_OUT:
            shutil.copy2(path, out / path.name)
    ensure_chat_template(run, out)
    write_card(run, out, kind="adapter" if kind == "adapter" else "full", repo_id=repo_id)
    return out


def zip_folder(folder: Path, zip_path: Path) -> Path:
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = zip_path.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder))
    tmp.replace(zip_path)
    return zip_path


def zip_adapter(run: Run, zip_path: str | Path | None = None) -> Path:
    """A zip of the exported adapter folder (default: runs/<id>/export/<id>-adapter.zip)."""
    folder = export_adapter(run, run.path / "export" / "adapter", overwrite=True)
    return zip_folder(folder, Path(zip_path) if zip_path else run.path / "export" / f"{run.id}-adapter.zip")


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


# -- merging -------------------------------------------------------------------------------------


def _lora_paths(peft_model) -> list[str]:
    return [path for path, module in peft_model.base_model.model.named_modules() if isinstance(module, LoraLayer)]


def _adapter_is_zero(peft_model) -> bool:
    return all(float(p.detach().abs().max()) == 0 for n, p in peft_model.named_parameters() if "lora_B" in n)


def _check_adapter(peft_model, adapter_dir: Path) -> None:
    """Refuse adapters a merge cannot help: non-finite weights, or an update of exactly zero."""
    bad = [n for n, p in peft_model.named_parameters() if "lora_" in n and not torch.isfinite(p).all()]
    if bad:
        raise ValueError(f"{adapter_dir}: the adapter holds NaN or infinite weights ({bad[0]}): the training diverged")
    if _adapter_is_zero(peft_model):
        raise EmptyMergeError(
            f"{adapter_dir}: the adapter is all zeros (its lora_B matrices never moved: 0 steps, or a "
            "learning rate of 0), so merging it would give back the base unchanged. Nothing was exported."
        )


def _check_range(model, torch_dtype: torch.dtype) -> None:
    """fp16 tops out at 65504: a merged weight beyond it would be saved as infinity."""
    if torch_dtype != torch.float16:
        return  # bf16 has fp32's range
    limit = torch.finfo(torch.float16).max
    bad = [n for n, p in model.named_parameters() if float(p.detach().abs().max()) > limit]
    if bad:
        raise ValueError(f"dtype: merged weights exceed the fp16 range ({bad[0]}, ...); export bf16 or fp32")


def merge(
    run: Run,
    out: str | Path,
    dtype: str = "bf16",
    repo_id: str | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> MergeReport:
    """Merge the run's adapter into its base and save the whole model (safetensors) in ``out``."""
    torch_dtype = check_dtype(dtype)
    kind = require_trained(run)
    out = prepare_out(out, overwrite, run, kind=f"merged model ({dtype})")
    messages = verify.probe_messages(run)
    done = False
    try:
        if kind == "full":
            report = _convert_full(run, out, dtype, messages, progress)
        else:
            before = _merge_and_save(run, out, torch_dtype, messages, progress)
            _say(progress, 0.7, "reloading the merged model with plain transformers")
            report = _check_merged(out, dtype, before, messages)
        done = True
    finally:
        if not done:
            shutil.rmtree(out, ignore_errors=True)  # never leave a half-written or empty merge behind
    ensure_chat_template(run, out)
    write_card(run, out, kind="merged" if kind == "adapter" else "full", repo_id=repo_id, merge=report.card_rows())
    report.size_bytes = folder_bytes(out)
    _say(progress, 1.0, f"merged model saved in {out} ({report.size_bytes / 2**20:.0f} MiB, {dtype})")
    return report


def _merge_and_save(run: Run, out: Path, torch_dtype: torch.dtype, messages, progress) -> dict:
    """Merge at fp32 and save; returns what the checks need from before the merge."""
    _say(progress, 0.05, "loading the base at full precision")
    base = loading.load_model(run.config().model.model, torch.float32)  # never 4-bit, also for QLoRA
    peft_model = PeftModel.from_pretrained(base, str(run.adapter_dir)).eval()
    tokenizer = run_tokenizer(run)
    _check_adapter(peft_model, run.adapter_dir)
    paths = _lora_paths(peft_model)
    before = {
        "targeted": {
            p: verify.digest(peft_model.base_model.model.get_submodule(p).weight.to(torch_dtype)) for p in paths
        },
        "prompt": messages[-1]["content"],
    }
    _say(progress, 0.2, "answering the probe with the adapter, and scoring it with the base")
    before["adapter_logits"] = verify.next_logits(peft_model, tokenizer, messages)
    before["adapter_answer"] = verify.greedy_answer(peft_model, tokenizer, messages)
    with peft_model.disable_adapter():
        before["base_logits"] = verify.next_logits(peft_model, tokenizer, messages)
    _say(progress, 0.4, f"merging {len(paths)} layers")
    merged = peft_model.merge_and_unload()  # the adapter's weights were checked finite above
    _check_range(merged, torch_dtype)
    merged = merged.to(torch_dtype)
    _say(progress, 0.55, f"saving safetensors to {out}")
    merged.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    del merged, peft_model, base
    free_memory()
    return before


def _check_merged(out: Path, dtype: str, before: dict, messages) -> MergeReport:
    """Reload the saved model with plain transformers and compare it with the base and the adapter."""
    model, tokenizer = verify.load_plain(out, dtype)
    params = dict(model.named_parameters())
    changed = sum(1 for p, d in before["targeted"].items() if verify.digest(params[f"{p}.weight"]) != d)
    logits = verify.next_logits(model, tokenizer, messages)
    answer = verify.greedy_answer(model, tokenizer, messages)
    del model, params
    vs_base = float((logits - before["base_logits"]).abs().max())
    if changed == 0 or (dtype == "fp32" and vs_base == 0.0):
        raise EmptyMergeError(
            f"the merged model is identical to the base ({changed} of {len(before['targeted'])} targeted layers "
            f"changed, max logit difference {vs_base:.3g}): {_empty_reason(changed, dtype)}. "
            "Nothing was exported."
        )
    report = MergeReport(
        folder=str(out),
        dtype=dtype,
        size_bytes=0,
        layers_targeted=len(before["targeted"]),
        layers_changed=changed,
        max_logit_diff_vs_base=vs_base,
        max_logit_diff_vs_adapter=float((logits - before["adapter_logits"]).abs().max()),
        prompt=before["prompt"],
        adapter_answer=before["adapter_answer"],
        merged_answer=answer,
    )
    if not report.same_answer:
        report.warnings.append(
            "the merged model's greedy answer differs from the adapter's"
            + (f" ({dtype} rounding; fp32 keeps them equal)" if dtype != "fp32" else "")
        )
    return report


def _empty_reason(changed: int, dtype: str) -> str:
    if changed == 0 and dtype != "fp32":
        return f"its update is below {dtype} resolution, so every merged weight rounds back to the base's; export fp32"
    if changed:
        return "the changed weights do not change the output"
    return "the merge left the weights untouched"


def _convert_full(run: Run, out: Path, dtype: str, messages, progress) -> MergeReport:
    """A full fine-tune has nothing to merge: save it in the dtype asked for."""
    _say(progress, 0.2, "loading the fine-tuned model")
    model = AutoModelForCausalLM.from_pretrained(run.adapter_dir, dtype=torch.float32)
    _check_range(model, TORCH_DTYPES[dtype])
    model = model.to(TORCH_DTYPES[dtype])
    tokenizer = run_tokenizer(run)
    _say(progress, 0.5, f"saving safetensors to {out}")
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    answer = verify.greedy_answer(model, tokenizer, messages)
    return MergeReport(str(out), dtype, 0, 0, 0, 0.0, 0.0, messages[-1]["content"], answer, answer)


def merged_dir(run: Run, dtype: str) -> Path:
    """Where the Export tab keeps a run's merged model."""
    return run.path / "export" / f"merged-{dtype}"
