"""llama.cpp through llama-cpp-python (optional: requirements-llamacpp.txt), opened one way everywhere.

    if available():
        llm = open_model("model.gguf", n_ctx=1024, seed=0)   # a thread per core, quiet

The export's check (studio.export.llamacpp_check) and the chat's decoding (studio.chat.llamacpp)
both open their files here; each adds its own options (a chat format, flash attention).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path


def available() -> bool:
    """Whether llama-cpp-python is installed (this registry has only its source: pip compiles it)."""
    return importlib.util.find_spec("llama_cpp") is not None


def open_model(path: str | Path, n_ctx: int, **options):
    """``llama_cpp.Llama`` on ``path``: a thread per core for decoding and for prompts, no logging."""
    from llama_cpp import Llama  # lazy: optional - only when available()

    threads = os.cpu_count() or 1
    return Llama(
        model_path=str(path), n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads, verbose=False, **options
    )
