"""The model card of a run: README.md with Hub metadata, written into exports (never into the run).

    path = write_card(run)                                  # runs/<id>/export/card/README.md + loss.png
    write_card(run, folder, kind="merged", repo_id="me/x")  # the card that travels with an export

Everything in it comes from the run directory (config.yaml, dataset.json, environment.json,
summary.json, segments.json, metrics.jsonl, eval.json when an evaluation wrote one, benchmarks.json
when the harness benchmarked it), so the card
says what was actually trained: a run that was stopped or killed and resumed reports the time,
tokens and peak memory of all its segments, and lists them. The YAML front matter follows the Hub's model card metadata: ``base_model``,
``library_name`` (peft for adapters), tags, ``datasets`` when the data came from the Hub, and
the base model's licence. Nothing from the environment is read: no token can end up here.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from huggingface_hub import try_to_load_from_cache

from studio.config import METHODS
from studio.evaluate.bench_report import card_section
from studio.evaluate.bench_results import load_benchmarks
from studio.export.lossplot import REWARD_SERIES, loss_png
from studio.models import loading
from studio.runs.directory import Run
from studio.runs.segments import describe_hardware, read_segments, segment_totals

# SmolLM2's model card declares Apache-2.0; the embedded GGUF package carries no card of its own.
EMBEDDED_LICENSE = "apache-2.0"
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
KINDS = ("adapter", "merged", "full")
ADAPTER_NAMES = {"lora": "LoRA", "qlora": "QLoRA", "full": "full"}


def is_hub_id(name: str) -> bool:
    """A Hub repository id (``org/name``) and not a path on this machine."""
    return bool(HUB_ID.match(name or "")) and not Path(name).expanduser().exists()


def _front_matter(text: str) -> dict:
    match = re.match(r"^---\s*\n(.*?)\n---\s*\n", text, re.S)
    if not match:
        return {}
    try:
        data = yaml.safe_load(match.group(1))
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def base_license(base: str) -> str | None:
    """The base model's licence: its own card (local folder or Hub cache), else what is known."""
    if loading.base_model_id(base) == loading.EMBEDDED_HUB_ID:
        return EMBEDDED_LICENSE
    card = None
    folder = Path(base).expanduser()
    if (folder / "README.md").is_file():
        card = folder / "README.md"
    elif is_hub_id(base):
        cached = try_to_load_from_cache(base, "README.md")
        card = Path(cached) if isinstance(cached, str) else None
    if card is None:
        return None
    value = _front_matter(card.read_text(errors="replace")).get("license")
    return str(value) if value else None


def metadata(run: Run, kind: str = "adapter") -> dict:
    """The YAML front matter of the card."""
    cfg = run.config()
    base = loading.base_model_id(cfg.model.model)
    method, adapter = cfg.train.method, cfg.adapter.adapter
    meta: dict = {}
    if is_hub_id(base):
        meta["base_model"] = base
    meta["library_name"] = "peft" if kind == "adapter" and adapter != "full" else "transformers"
    meta["pipeline_tag"] = "text-classification" if METHODS[method].scorer else "text-generation"
    tags = ["fine-tuning-studio", "trl", method, adapter]
    if kind == "adapter" and adapter != "full":
        tags.insert(2, "peft")
    if kind == "merged":
        tags.append("merged")
    meta["tags"] = tags
    if is_hub_id(cfg.data.dataset):
        meta["datasets"] = [cfg.data.dataset]
    license_ = base_license(cfg.model.model)
    if license_:
        meta["license"] = license_
    return meta


def _table(rows: list[tuple[str, object]], header: tuple[str, str] = ("", "value")) -> str:
    lines = [f"| {header[0]} | {header[1]} |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in rows if value not in (None, "")]
    return "\n".join(lines)


def hyperparameters(run: Run) -> list[tuple[str, object]]:
    cfg = run.config()
    a, t = cfg.adapter, cfg.train
    env = run.read_json("environment.json")
    rows: list[tuple[str, object]] = [("method", t.method.upper()), ("fine-tuning type", a.adapter)]
    if a.adapter != "full":
        rows += [
            ("LoRA rank r / alpha", f"{a.lora_r} / {a.lora_alpha}"),
            ("LoRA dropout", a.lora_dropout),
            ("target modules", a.target_modules),
            ("rsLoRA / DoRA", f"{a.use_rslora} / {a.use_dora}"),
        ]
    if a.adapter == "qlora":
        rows.append(("base during training", f"4-bit NF4, double quantization, compute {a.compute_dtype}"))
    rows += [
        ("epochs / max steps", f"{t.epochs:g} / {t.max_steps}"),
        ("batch size x accumulation", f"{t.batch_size} x {t.grad_accum}"),
        ("learning rate", f"{t.learning_rate:g} ({t.scheduler}, warmup {t.warmup_ratio:g})"),
        ("optimizer / weight decay", f"{t.optim} / {t.weight_decay:g}"),
        ("max length", t.max_length),
        ("packing / padding-free", f"{t.packing} / {t.padding_free}"),
        ("loss on assistant tokens only", t.assistant_only_loss if t.method == "sft" else None),
        ("precision", env.get("precision") or cfg.model.precision),
        ("seed", t.seed),
    ]
    return rows + method_rows(cfg)


def method_rows(cfg) -> list[tuple[str, object]]:
    """The method's own settings: DPO's and ORPO's beta, KTO's weights, GRPO's groups and rewards."""
    method, g = cfg.train.method, cfg.grpo
    if method == "dpo":
        return [("DPO beta", cfg.dpo.beta), ("DPO loss", cfg.dpo.dpo_loss)]
    if method == "orpo":
        return [("ORPO beta (odds-ratio weight)", cfg.dpo.beta)]
    if method == "kto":
        weights = f"{cfg.kto.kto_desirable_weight:g} / {cfg.kto.kto_undesirable_weight:g}"
        return [("KTO beta", cfg.dpo.beta), ("KTO weights good / bad", weights)]
    if method == "reward":
        return [("reward model", "one-output score head on the base; chosen answers scored above rejected")]
    if method != "grpo":
        return []
    rewards = {
        "exact answer": g.reward_exact,
        "format": g.reward_format,
        "length": g.reward_length,
        "no repetition": g.reward_no_repeat,
        f"reward model {g.reward_model_run}": g.reward_model,
    }
    return [
        ("GRPO group size / answer tokens", f"{g.num_generations} / {g.max_completion_length}"),
        ("GRPO KL beta / temperature / iterations", f"{g.kl_beta:g} / {g.grpo_temperature:g} / {g.num_iterations}"),
        ("GRPO rewards (weight)", ", ".join(f"{name} ({w:g})" for name, w in rewards.items() if w > 0)),
    ]


def data_rows(run: Run) -> list[tuple[str, object]]:
    cfg = run.config()
    data = run.read_json("dataset.json")
    source = data.get("source") or cfg.data.dataset
    shown = source if is_hub_id(source) else Path(source).name  # no local paths on the Hub
    return [
        ("dataset", f"`{shown}`"),
        ("format", data.get("format")),
        ("rows read", data.get("rows")),
        ("train / validation rows", f"{data.get('train_rows', '?')} / {data.get('val_rows', 0)}"),
        ("fingerprint", f"`{data['fingerprint']}`" if data.get("fingerprint") else None),
    ]


def _duration(seconds) -> str | None:
    if not isinstance(seconds, int | float):
        return None
    seconds = int(round(seconds))
    return (
        f"{seconds // 3600}h {seconds % 3600 // 60}m {seconds % 60}s"
        if seconds >= 3600
        else f"{seconds // 60}m {seconds % 60}s"
    )


def training_rows(run: Run) -> list[tuple[str, object]]:
    summary, env = run.read_json("summary.json"), run.read_json("environment.json")
    metrics = run.metrics()
    losses = [m["loss"] for m in metrics if isinstance(m.get("loss"), int | float)]
    evals = [m["eval_loss"] for m in metrics if isinstance(m.get("eval_loss"), int | float)]
    libs = env.get("libraries") or {}
    totals = segment_totals(read_segments(run.path, last=run.status().get("status", "interrupted")))
    peak = max(summary.get("peak_memory_bytes") or 0, totals["peak_memory_bytes"] or 0) or None
    seconds = totals["train_seconds"] or summary.get("train_seconds")
    spread = f" in {totals['segments']} segments (see below)" if totals["segments"] > 1 else ""
    return [
        ("steps", f"{summary.get('step', '?')} / {summary.get('total_steps', '?')}" if summary else None),
        ("training time", f"{_duration(seconds)}{spread}" if _duration(seconds) else None),
        ("tokens trained", f"{totals['tokens']:,}" if totals["tokens"] else None),
        ("hardware", "; ".join(totals["hardware"]) or env.get("device")),
        ("peak memory", f"{peak / 2**30:.2f} GiB" if isinstance(peak, int | float) else None),
        ("final train loss", f"{losses[-1]:.4f}" if losses else None),
        ("best eval loss", f"{min(evals):.4f}" if evals else None),
        ("libraries", ", ".join(f"{k} {v}" for k, v in libs.items() if v)),
    ]


def segments_section(run: Run) -> str:
    """Each start and resume of the run, when there was more than one (segments.json)."""
    segments = read_segments(run.path, last=run.status().get("status", "interrupted"))
    if len(segments) < 2:
        return ""
    lines = [
        "| segment | began | ended | steps | training time | tokens | peak memory | hardware |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in segments:
        peak = s.get("peak_memory_bytes")
        lines.append(
            f"| {s.get('segment')} | {s.get('began')} | {s.get('ended')} | {s.get('from_step')} → {s.get('to_step')} "
            f"| {_duration(s.get('train_seconds')) or '-'} | {s.get('tokens') or '-'} "
            f"| {f'{peak / 2**30:.2f} GiB' if peak else '-'} | {describe_hardware(s)} |"
        )
    return "## Training segments\n\nThe run was stopped or interrupted and resumed:\n\n" + "\n".join(lines) + "\n"


def _number(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _flatten(data, prefix: str = "") -> list[tuple[str, str]]:
    """Numeric leaves of nested results as (dotted key, value)."""
    if isinstance(data, dict):
        return [row for key, value in data.items() for row in _flatten(value, f"{prefix}.{key}" if prefix else key)]
    if prefix and isinstance(data, int | float) and not isinstance(data, bool):
        return [(prefix, _number(data))]
    return []


def eval_section(run: Run) -> str:
    """eval.json (written by the evaluation): base against the fine-tuned model, metric by metric."""
    results = run.read_json("eval.json")
    if not results:
        return ""
    base, tuned = results.get("base"), results.get("adapter")
    if isinstance(base, dict) and isinstance(tuned, dict):
        keys = [k for k in tuned if isinstance(tuned[k], int | float)] + [
            k for k in base if k not in tuned and isinstance(base[k], int | float)
        ]
        lines = ["| metric | base | fine-tuned |", "|---|---|---|"]
        lines += [f"| {k} | {_number(base.get(k, '-'))} | {_number(tuned.get(k, '-'))} |" for k in keys]
        where = f"{results.get('rows', '?')} held-out rows ({results.get('split', 'validation split')})"
        return f"## Evaluation\n\nOn {where}, greedy generation where answers are scored.\n\n" + "\n".join(lines) + "\n"
    rows = _flatten(results)[:40]
    return "## Evaluation\n\n" + _table(rows, ("metric", "value")) + "\n" if rows else ""


def reward_usage(base: str, where: str, kind: str) -> str:
    """How to score a conversation with a reward model."""
    load = (
        f'base = AutoModelForSequenceClassification.from_pretrained("{base}", num_labels=1)\n'
        f'model = PeftModel.from_pretrained(base, "{where}")  # the LoRA adapter and its score head\n'
        if kind == "adapter"
        else f'model = AutoModelForSequenceClassification.from_pretrained("{where}", num_labels=1)\n'
    )
    return (
        "```python\nfrom transformers import AutoModelForSequenceClassification, AutoTokenizer\n"
        + ("from peft import PeftModel\n" if kind == "adapter" else "")
        + "\n"
        + load
        + f'tokenizer = AutoTokenizer.from_pretrained("{where}")\n'
        + 'chat = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello! How can I help?"}]\n'
        + "inputs = tokenizer(tokenizer.apply_chat_template(chat, tokenize=False), return_tensors='pt')\n"
        + "print(model(**inputs).logits[0, 0].item())  # the reward: higher is better\n```\n"
    )


def usage(base: str, where: str, kind: str) -> str:
    """A usage snippet with plain transformers (+ peft for adapters)."""
    load = (
        f'base = AutoModelForCausalLM.from_pretrained("{base}")\nmodel = PeftModel.from_pretrained(base, "{where}")\n'
        if kind == "adapter"
        else f'model = AutoModelForCausalLM.from_pretrained("{where}")\n'
    )
    imports = "from transformers import AutoModelForCausalLM, AutoTokenizer\n" + (
        "from peft import PeftModel\n" if kind == "adapter" else ""
    )
    return (
        "```python\n"
        + imports
        + "\n"
        + load
        + f'tokenizer = AutoTokenizer.from_pretrained("{where}")  # with the chat template it was trained with\n'
        + 'messages = [{"role": "user", "content": "Who are you?"}]\n'
        + "text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)\n"
        + 'inputs = tokenizer(text, add_special_tokens=False, return_tensors="pt")\n'
        + "output = model.generate(**inputs, max_new_tokens=64, do_sample=False)\n"
        + 'print(tokenizer.decode(output[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True))\n'
        + "```\n"
    )


def render(
    run: Run, kind: str = "adapter", repo_id: str | None = None, merge: dict | None = None, plot: bool = False
) -> str:
    """The card's text. ``kind``: adapter, merged (adapter merged into the base) or full; ``plot``: a
    loss.png lies beside the card (write_card draws it first)."""
    if kind not in KINDS:
        raise ValueError(f"model card kind {kind!r} is not one of {', '.join(KINDS)}")
    cfg = run.config()
    if cfg.adapter.adapter == "full" and kind == "adapter":
        kind = "full"
    base = loading.base_model_id(cfg.model.model)
    shown_base = base if is_hub_id(base) else Path(base).name
    meta = metadata(run, kind)
    what = {
        "adapter": f"a {ADAPTER_NAMES.get(cfg.adapter.adapter)} adapter for `{shown_base}`",
        "merged": f"`{shown_base}` with a {ADAPTER_NAMES.get(cfg.adapter.adapter)} adapter merged into its weights",
        "full": f"a full fine-tune of `{shown_base}`",
    }[kind]
    title = repo_id.split("/")[-1] if repo_id else run.id
    parts = [
        "---\n" + yaml.safe_dump(meta, sort_keys=False) + "---\n",
        f"# {title}\n",
        f"This is {what}, trained with {cfg.train.method.upper()} in Fine-tuning Studio (TRL + PEFT). "
        f"Run `{run.id}`.\n",
    ]
    if kind == "merged" and cfg.adapter.adapter == "qlora":
        parts.append(
            "The adapter was trained on a 4-bit NF4 base and merged here into the base at full precision, "
            "not into the 4-bit weights.\n"
        )
    if "license" not in meta:
        parts.append(f"Licence: that of the base model `{shown_base}` (not found on this machine; see its card).\n")
    parts += ["## Training\n", _table(hyperparameters(run), ("hyperparameter", "value")) + "\n"]
    parts += ["## Data\n", _table(data_rows(run), ("data", "")) + "\n"]
    parts += ["## Training run\n", _table(training_rows(run), ("run", "")) + "\n"]
    if segments_section(run):
        parts.append(segments_section(run))
    if plot:
        parts.append(
            "![Mean reward per step](loss.png)\n" if cfg.train.method == "grpo" else "![Training loss](loss.png)\n"
        )
    evaluation = eval_section(run)
    if evaluation:
        parts.append(evaluation)
    if benchmarks := card_section(load_benchmarks(run)):  # lm-evaluation-harness, base vs fine-tuned
        parts.append(benchmarks)
    if merge:
        rows = [(k, v) for k, v in merge.items() if not isinstance(v, dict | list)]
        parts += ["## Merge\n", _table(rows, ("check", "result")) + "\n"]
    how = reward_usage if cfg.train.method == "reward" else usage
    parts += ["## Usage\n", how(base, repo_id or "path/to/this/folder", "adapter" if kind == "adapter" else "model")]
    return "\n".join(parts)


def write_card(
    run: Run,
    folder: str | Path | None = None,
    kind: str = "adapter",
    repo_id: str | None = None,
    merge: dict | None = None,
) -> Path:
    """Write README.md and loss.png into ``folder`` (default: the studio's own <run>/export/card, so
    the run folder holds only what training wrote); returns the README."""
    grpo = run.config().train.method == "grpo"
    title, lines = ("Mean reward per step", REWARD_SERIES) if grpo else ("Training loss", None)
    folder = Path(folder) if folder else card_dir(run)
    folder.mkdir(parents=True, exist_ok=True)
    png = loss_png(run.metrics(), folder / "loss.png", title, lines)
    path = folder / "README.md"
    path.write_text(render(run, kind, repo_id, merge, plot=png is not None))
    return path


def card_dir(run: Run) -> Path:
    """Where the Export tab's model card (README.md, loss.png) is written."""
    return run.path / "export" / "card"
