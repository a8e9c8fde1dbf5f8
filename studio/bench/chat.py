"""How fast chat answers: time to first token and decoding speed, base and adapter.

    from studio.bench.chat import benchmark
    from studio.chat.engine import ChatEngine
    benchmark(ChatEngine(), "runs/<id>/adapter")
    # {"base": {"ttft_s": 0.09, "decode_tokens_per_s": 41.0, ...}, "adapter": {...}, "dtype": "float16", ...}

Each source is timed alone (one column), greedy, for a fixed number of new tokens (end of
turn ignored, so every repeat decodes the same length), after one warm-up run. Time to first
token runs from the call to the first token chosen: template, tokenizer, the prompt's forward
pass and the first pick. Figures are medians over the repeats; the machine may be shared, so
the spread (min, max) comes with them.

The next turn (*next_turn_ttft_s*): after a greedy first reply, a follow-up question's time to
first token, the conversation's earlier turn kept (the chat's prefix cache, studio.chat.prefix_cache)
and, beside it, computed again from the first token (*next_turn_ttft_uncached_s*, as before it).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import torch

from studio.bench.throughput import default_dataset, studio_config
from studio.chat import llamacpp
from studio.chat.engine import ChatEngine
from studio.chat.sampling import Sampling
from studio.train.jobs.manager import JobManager

PROMPT = "Explain in a few sentences why the sky is blue, and what changes at sunset."
FOLLOW_UP = "And why is the sea blue too?"


def _once(engine, source, prompt: list[dict], new_tokens: int, owner: str | None = None) -> tuple[float, float]:
    start = time.perf_counter()
    with engine.lock:
        engine.ensure_base()
        key = engine.load_source(source)
        ids = engine.prompt_ids(prompt)
        stamps = []
        sampling = Sampling(greedy=True, max_new_tokens=new_tokens)
        for _ in engine._generate([ids], [key], sampling, stop=False, owner=owner):
            stamps.append(time.perf_counter())
    ttft = stamps[0] - start
    rate = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else 0.0
    return ttft, rate


def _next_turn(engine, source, messages: list[dict], new_tokens: int, repeats: int) -> dict:
    """Time to first token of a follow-up question, with the first turn kept and computed again."""
    kept, again, length = [], [], 0
    for _ in range(repeats):
        reply = engine.replies(messages, [source], Sampling(greedy=True, max_new_tokens=new_tokens), owner="bench")[0]
        follow = [*messages, {"role": "assistant", "content": reply}, {"role": "user", "content": FOLLOW_UP}]
        kept.append(_once(engine, source, follow, 2, owner="bench")[0])
        again.append(_once(engine, source, follow, 2)[0])
        length = int(engine.prompt_ids(follow).shape[-1])
    return {
        "next_turn_ttft_s": round(statistics.median(kept), 4),
        "next_turn_ttft_uncached_s": round(statistics.median(again), 4),
        "next_turn_prompt_tokens": length,
    }


def _summary(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def benchmark(
    engine, adapter_dir: str | None = None, prompt: str = PROMPT, new_tokens: int = 64, repeats: int = 3
) -> dict:
    """Median time to first token (s) and decode tokens/s for the base and the adapter."""
    messages = [{"role": "user", "content": prompt}]
    sources = {"base": None} | ({"adapter": adapter_dir} if adapter_dir else {})
    out: dict = {}
    backend = "torch"
    for label, source in sources.items():
        _once(engine, source, messages, 4)  # warm-up: loading, first-call allocations
        if llamacpp.wait_ready(engine, [engine.load_source(source)], timeout=600):
            backend = "llama.cpp"  # the source's GGUF is written: the turns below decode there
            _once(engine, source, messages, 4)  # its llama.cpp context
        runs = [_once(engine, source, messages, new_tokens) for _ in range(repeats)]
        ttft, rate = _summary([r[0] for r in runs]), _summary([r[1] for r in runs])
        out[label] = {
            "ttft_s": round(ttft["median"], 4),
            "decode_tokens_per_s": round(rate["median"], 2),
            "ttft_s_range": [round(ttft["min"], 4), round(ttft["max"], 4)],
            "decode_tokens_per_s_range": [round(rate["min"], 2), round(rate["max"], 2)],
            **_next_turn(engine, source, messages, new_tokens, repeats),
        }
    memory = engine.memory()
    out.update(
        dtype=memory.get("dtype"),
        backend=backend,
        adapter_mode=memory.get("adapter_mode"),
        threads=torch.get_num_threads(),
        prompt_tokens=int(engine.prompt_ids(messages).shape[-1]),
        new_tokens=new_tokens,
        repeats=repeats,
    )
    return out


def _adapter(model: str, workdir: Path) -> str:
    """A LoRA adapter of ``model`` (2 steps: speed does not depend on what it learned)."""
    config = studio_config(model, default_dataset("sft"), "sft", 2, max_length=128)
    jobs = JobManager(workdir / "chat-runs")
    run = jobs.start(config)
    progress = jobs.wait()
    if progress.status != "completed":
        raise RuntimeError(f"could not train an adapter for the chat benchmark: {progress.error}")
    return str(run.adapter_dir)


def chat_figures(model: str, tokens: int, workdir: Path, repeats: int = 3) -> dict:
    """``benchmark`` (one column at a time, greedy, fixed length) on a fresh adapter."""

    adapter = _adapter(model, workdir)
    figures = benchmark(ChatEngine(model), adapter, new_tokens=tokens, repeats=repeats)
    out = {"backend": figures["backend"]}
    out |= _columns(figures)
    if figures["backend"] != "torch":  # the same columns in PyTorch, for the before/after
        torch_figures = benchmark(ChatEngine(model, backend="torch"), adapter, new_tokens=tokens, repeats=repeats)
        out |= _columns(torch_figures, "torch_")
    out["weights_dtype"] = str(figures.get("dtype", ""))
    return out


def _columns(figures: dict, prefix: str = "") -> dict:
    out = {}
    for name in ("base", "adapter"):
        for figure in ("ttft_s", "decode_tokens_per_s", "next_turn_ttft_s", "next_turn_ttft_uncached_s"):
            out[f"{prefix}{name}_{figure}"] = figures[name][figure]
    out[f"{prefix}prompt_tokens"] = figures["prompt_tokens"]
    out[f"{prefix}next_turn_prompt_tokens"] = figures["base"]["next_turn_prompt_tokens"]
    return out
