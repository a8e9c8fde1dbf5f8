"""Chat speed: time to first token and decode tokens/s, base and adapter, one column at a time."""

from __future__ import annotations

from pathlib import Path


def _adapter(model: str, workdir: Path) -> str:
    """A LoRA adapter of ``model`` (2 steps: speed does not depend on what it learned)."""
    from studio.bench.throughput import default_dataset, studio_config
    from studio.jobs import JobManager

    config = studio_config(model, default_dataset("sft"), "sft", 2, max_length=128)
    jobs = JobManager(workdir / "chat-runs")
    run = jobs.start(config)
    progress = jobs.wait()
    if progress.status != "completed":
        raise RuntimeError(f"could not train an adapter for the chat benchmark: {progress.error}")
    return str(run.adapter_dir)


def chat_figures(model: str, tokens: int, workdir: Path, repeats: int = 3) -> dict:
    """studio.chat.benchmark (one column at a time, greedy, fixed length) on a fresh adapter."""
    from studio.chat import ChatEngine, benchmark

    adapter = _adapter(model, workdir)
    figures = benchmark(ChatEngine(model), adapter, new_tokens=tokens, repeats=repeats)
    out = {}
    for name in ("base", "adapter"):
        out[f"{name}_ttft_s"] = figures[name]["ttft_s"]
        out[f"{name}_decode_tokens_per_s"] = figures[name]["decode_tokens_per_s"]
    out["weights_dtype"] = str(figures.get("dtype", ""))
    return out
