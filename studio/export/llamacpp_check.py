"""A written GGUF in llama.cpp itself, when llama-cpp-python is installed (requirements-llamacpp.txt).

    figures = chat_check("exports/gguf/run-q8_0.gguf", [{"role": "user", "content": "Who are you?"}])
    figures["finish_reason"] == "stop"          # it ended its turn before max_tokens
    decode_speed("exports/gguf/run-q8_0.gguf")  # {"decode_tokens_per_s": ..., "ttft_s": ...}

studio.export.gguf_check reads the file back with transformers; this runs it where people will:
llama.cpp formats the chat with the template inside the file (``tokenizer.chat_template``, which
llama-cpp-python picks when no chat format is named) and stops at the end-of-generation tokens
the file declares. A greedy reply that ends with finish_reason "stop" before ``max_tokens``
shows both survived the export. ``decode_speed`` times llama.cpp's decoding as
studio.bench.chat times the studio's: greedy, a fixed number of new tokens with the end of turn
banned, after a warm-up, the median of the repeats.

llama-cpp-python compiles llama.cpp from source on this registry (no wheel), so it is optional;
``studio.models.llamacpp_runtime.available()`` says whether it is here, and the export records these figures only then.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from studio.models.llamacpp_runtime import open_model

PROMPT = "Explain in a few sentences why the sky is blue, and what changes at sunset."


def load(path: str | Path, n_ctx: int = 1024):
    """The file in llama.cpp, chatting with the template inside it (never one llama-cpp-python guesses)."""
    # the handler llama-cpp-python builds from tokenizer.chat_template
    return open_model(path, n_ctx, seed=0, chat_format="chat_template.default")


def chat_check(path: str | Path, messages: list[dict], max_tokens: int = 96, llm=None) -> dict:
    """A greedy chat turn through the file's own template: the reply, why it ended, tokens and time."""
    llm = llm or load(path)
    started = time.perf_counter()
    out = llm.create_chat_completion(messages=messages, max_tokens=max_tokens, temperature=0.0, top_k=1)
    seconds = time.perf_counter() - started
    choice = out["choices"][0]
    return {
        "reader": "llama.cpp (llama-cpp-python), the chat template inside the file",
        "chat_format": llm.chat_format,
        "reply": choice["message"]["content"],
        "finish_reason": choice["finish_reason"],
        "completion_tokens": out["usage"]["completion_tokens"],
        "max_tokens": max_tokens,
        "seconds": round(seconds, 3),
        "stopped": choice["finish_reason"] == "stop" and out["usage"]["completion_tokens"] < max_tokens,
    }


def decode_speed(path: str | Path, prompt: str = PROMPT, new_tokens: int = 64, repeats: int = 3, llm=None) -> dict:
    """Median time to first token (s) and decode tokens/s of llama.cpp on ``path``, end of turn banned."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter  # lazy: optional - only when available()

    llm = llm or load(path)
    eos = llm.detokenize([llm.token_eos()]).decode(errors="replace")
    formatter = Jinja2ChatFormatter(llm.metadata["tokenizer.chat_template"], eos_token=eos, bos_token="")
    text = formatter(messages=[{"role": "user", "content": prompt}]).prompt
    banned = {token: -100.0 for token in _end_tokens(llm)}

    def once(n: int) -> tuple[float, float]:
        start, stamps = time.perf_counter(), []
        for _ in llm.create_completion(text, max_tokens=n, temperature=0.0, top_k=1, logit_bias=banned, stream=True):
            stamps.append(time.perf_counter())
        rate = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else 0.0
        return stamps[0] - start, rate

    once(4)  # warm-up
    runs = [once(new_tokens) for _ in range(repeats)]
    return {
        "ttft_s": statistics.median(r[0] for r in runs),
        "decode_tokens_per_s": statistics.median(r[1] for r in runs),
        "new_tokens": new_tokens,
        "threads": llm.n_threads,
    }


def _end_tokens(llm) -> list[int]:
    ends = {llm.token_eos()}
    for key in ("tokenizer.ggml.eot_token_id", "tokenizer.ggml.eos_token_id"):
        if str(llm.metadata.get(key, "")).isdigit():
            ends.add(int(llm.metadata[key]))
    return sorted(e for e in ends if e >= 0)
