"""Chat decoding in llama.cpp on a CPU, when llama-cpp-python is installed (requirements-llamacpp.txt).

Decoding reads every weight once a token. PyTorch's fp16 matrix-vector product streams weights
well under this CPU's bandwidth and its eager forward adds hundreds of small ops a token; llama.cpp
decodes the same fp16 weights closer to the bandwidth ceiling and answers a prompt sooner
(``python -m studio bench --only chat``: its figures beside the ``torch_*`` ones in BENCHMARKS.md).
So where it is installed and the chat runs on a CPU,
each source is written once as a GGUF of the chat's own weight type (fp16 -> f16: the same
numbers) and its replies decode there:

    store = GGUFStore(cache_dir() / "chat-gguf", "f16")
    held = store.for_turn(specs, prompts, max_new_tokens, owner)   # None until every column's file is ready
    column = Column(held[0], prompt, sampling, specs[0], store)     # .step() -> the next token id
    store.release(specs[0], held[0].llm, owner)                   # when the turn ends: the context is idle again

Only the weights' arithmetic moves: the prompt is the studio's own token ids (the chat
template applied here), and the next token is picked from llama.cpp's logits by the studio's
own picker (studio.chat.sampling.Picker: same seed, same temperature, top-k, top-p and
repetition penalty), so a turn's columns stay side by side as fair as before. A turn uses
llama.cpp for every column or for none: the files are written in the background on first use
(an adapter is merged into the base first) and until all are ready the turn
decodes in PyTorch; so does a turn longer than a sliding window the file does not carry
(``GGUFStore.limit``). A file that cannot be written (an architecture llama.cpp's writer here does
not know, a full disk) leaves that source on PyTorch, logged once. ``STUDIO_CHAT_BACKEND=torch``
turns this off.

A context keeps the tokens it last computed: a person's next turn on a source takes that person's
idle context sharing the longest prefix with the new prompt and computes only the rest
(studio.chat.prefix_cache says why, and why never another person's).
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import os
import tempfile
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from huggingface_hub import snapshot_download
from peft import PeftModel

from studio.chat.prefix_cache import reusable
from studio.chat.sampling import Picker, Sampling
from studio.models import loading
from studio.models.gguf_writer import lost_window, write_gguf
from studio.models.llamacpp_runtime import available, open_model
from studio.patches.llamacpp_prefix import drop_after

log = logging.getLogger(__name__)

GGUF_FOR_DTYPE = {torch.float16: "f16", torch.float32: "f32", torch.bfloat16: "bf16"}
KEEP_FILES = 6  # written sources kept in the cache; the oldest go first
MAX_CONTEXT = 4096  # tokens of a llama.cpp context (prompt and reply)
MAX_CONTEXTS = 6  # idle contexts kept open (each a KV cache, ~94 MB for SmolLM2-135M); LRU closed first


def wanted(device_kind: str, choice: str = "auto") -> bool:
    """Whether the chat decodes in llama.cpp: on a CPU, with llama-cpp-python, unless turned off
    (``choice`` or ``$STUDIO_CHAT_BACKEND``: auto, torch, llama.cpp)."""
    choice = os.environ.get("STUDIO_CHAT_BACKEND", choice) if choice == "auto" else choice
    if choice not in ("auto", "torch", "llama.cpp"):
        raise ValueError(f"chat backend {choice!r} is not one of auto, torch, llama.cpp")
    if choice == "llama.cpp" and not available():
        raise ValueError("chat backend llama.cpp: install it first (pip install -r requirements-llamacpp.txt)")
    return choice != "torch" and device_kind == "cpu" and available()


@dataclass(frozen=True)
class SourceSpec:
    """What a column's weights are: a model folder, and an adapter folder merged into it."""

    model_dir: str
    adapter_dir: str | None = None

    def fingerprint(self, gguf_type: str) -> str:
        parts = [gguf_type]
        for folder in filter(None, (self.model_dir, self.adapter_dir)):
            parts.append(str(Path(folder).resolve()))
            for weights in sorted(Path(folder).glob("*.safetensors")):
                stat = weights.stat()
                parts.append(f"{weights.name}:{stat.st_size}:{stat.st_mtime_ns}")
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]


class GGUFStore:
    """The chat's sources as GGUF files, written in the background, and llama.cpp contexts on them."""

    def __init__(self, root: Path, gguf_type: str):
        self.root, self.gguf_type = Path(root), gguf_type
        self._jobs: dict[SourceSpec, Future] = {}
        self._idle: dict[SourceSpec, list] = {}  # (owner, llama.cpp context) no turn holds, per source
        self._windows: dict[SourceSpec, int | None] = {}  # a sliding window the source's file lacks
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chat-gguf")
        self._lock = threading.Lock()
        self._bases: dict[str, str] = {}
        atexit.register(self.close)  # llama.cpp's contexts freed before the interpreter tears down

    def path(self, spec: SourceSpec) -> Path | None:
        """The source's file when it is written; starts writing it otherwise (None)."""
        with self._lock:
            job = self._jobs.get(spec)
            if job is None:
                self._jobs[spec] = self._pool.submit(self._write, spec)
                return None
        if not job.done() or job.exception() is not None:
            return None
        return job.result()

    def for_turn(self, specs: list[SourceSpec], prompts: list[list[int]], max_new_tokens: int, owner=None):
        """A context of its own for each column (``Held``: give each back with ``release``) when
        every column's file is ready and fits; else None. ``owner``'s idle contexts are reused from
        the longest prefix they share with the prompt (None: none is)."""
        paths = [self.path(spec) for spec in specs]  # starts every missing file, not just the first
        for spec, path in zip(specs, paths, strict=True):
            if path is not None and not path.exists():  # removed since (another studio's trim): write it again
                with self._lock:
                    self._jobs.pop(spec, None)
                    for _, llm in self._idle.pop(spec, []):
                        llm.close()
                return None
        if any(p is None for p in paths) or max(map(len, prompts)) + max_new_tokens > self.limit(specs):
            return None
        return [self._acquire(s, path, owner, ids) for s, path, ids in zip(specs, paths, prompts, strict=True)]

    def limit(self, specs: list[SourceSpec]) -> int:
        """The longest turn (prompt and reply) llama.cpp decodes as the model would: its context, or a
        sliding window the model attends within and the file does not carry (llama.cpp's Mistral, Qwen2,
        Qwen3 and SmolLM3 attend over everything; within the window that is the same). Longer turns
        decode in PyTorch."""
        for spec in specs:
            if spec not in self._windows:
                self._windows[spec] = lost_window(spec.model_dir)
                if self._windows[spec]:
                    log.info(
                        "chat: %s decodes in llama.cpp only up to its window of %d tokens", spec, self._windows[spec]
                    )
        return min([MAX_CONTEXT, *filter(None, (self._windows[s] for s in specs))])

    def release(self, spec: SourceSpec, llm, owner=None) -> None:
        """A turn's context back to the idle ones; the least recently used beyond MAX_CONTEXTS close."""
        with self._lock:
            self._idle.setdefault(spec, []).append((owner, llm))
            self._idle[spec] = self._idle.pop(spec)  # the most recently used source goes last
            while sum(map(len, self._idle.values())) > MAX_CONTEXTS:
                oldest = next(iter(self._idle))
                self._idle[oldest].pop(0)[1].close()
                if not self._idle[oldest]:
                    del self._idle[oldest]

    def ready_count(self) -> int:
        """How many sources' files are written (their turns decode in llama.cpp)."""
        return sum(1 for job in list(self._jobs.values()) if job.done() and job.exception() is None)

    def base_folder(self, name: str) -> str:
        """The base model's folder (a Hub id's snapshot in the local cache)."""
        if name not in self._bases:
            location = loading.resolve_model(name)
            if not Path(location).is_dir():
                location = snapshot_download(location, local_files_only=True)
            self._bases[name] = location
        return self._bases[name]

    def wait(self, spec: SourceSpec, timeout: float | None = None) -> Path:
        """Block until the source's file is written (tests, the bench); raises what writing raised."""
        self.path(spec)
        return self._jobs[spec].result(timeout)

    def close(self) -> None:
        """Free every llama.cpp context; a file being written is finished, none is started."""
        with self._lock:
            idle, self._idle = [llm for group in self._idle.values() for _, llm in group], {}
        for llm in idle:
            llm.close()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _acquire(self, spec: SourceSpec, path: Path, owner, ids: list[int]) -> Held:
        """An idle context on the source that ``owner``'s turns used last (the one sharing the
        longest prefix with ``ids``), or a new one: a column never shares its KV cache with another
        column, and an idle context never passes to another person (least recently used close first)."""
        with self._lock:
            idle = self._idle.get(spec) or []
            mine = [i for i, (who, _) in enumerate(idle) if who == owner]
            if mine:
                kept = {i: reusable(idle[i][1].input_ids[: idle[i][1].n_tokens], ids) for i in mine}
                best = max(mine, key=lambda i: (kept[i], i))
                return Held(idle.pop(best)[1], kept[best] if owner is not None else 0)
        # a context per column and turn; flash attention decodes faster with the same greedy tokens
        # (docs/benchmark-notes.md, "Chat decode")
        return Held(open_model(path, MAX_CONTEXT, flash_attn=True), 0)

    def _write(self, spec: SourceSpec) -> Path:
        target = self.root / f"{spec.fingerprint(self.gguf_type)}.gguf"
        if target.exists():
            os.utime(target)  # used again: the last to go when the folder is trimmed
            return target
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=self.root, prefix=".writing-") as scratch:
                folder = _merged(spec, Path(scratch)) if spec.adapter_dir else Path(spec.model_dir)
                partial = Path(scratch) / "model.gguf"
                write_gguf(folder, partial, self.gguf_type)
                os.replace(partial, target)
        except Exception as exc:
            log.warning("chat stays in PyTorch for %s: its GGUF could not be written (%s)", spec, exc)
            raise
        self._trim()
        return target

    def _trim(self) -> None:
        files = sorted(self.root.glob("*.gguf"), key=lambda p: p.stat().st_mtime, reverse=True)
        in_use = {job.result() for job in list(self._jobs.values()) if job.done() and job.exception() is None}
        for old in files[KEEP_FILES:]:
            if old not in in_use:
                old.unlink(missing_ok=True)


@dataclass
class Held:
    """A turn's llama.cpp context and how many of the prompt's leading tokens it already holds."""

    llm: object
    kept: int = 0


def _merged(spec: SourceSpec, scratch: Path) -> Path:
    """The adapter merged into its base, saved as a model folder (fp32, as PEFT merges)."""
    base = loading.load_model(spec.model_dir, torch.float32)
    merged = PeftModel.from_pretrained(base, spec.adapter_dir).merge_and_unload()
    folder = scratch / "merged"
    merged.save_pretrained(folder)
    loading.load_tokenizer(spec.model_dir).save_pretrained(folder)
    return folder


class Column:
    """One reply decoding in a llama.cpp context; the same interface as the PyTorch column."""

    def __init__(self, held: Held, prompt: torch.Tensor, sampling: Sampling, spec: SourceSpec, store: GGUFStore):
        llm, kept = held.llm, held.kept
        if kept and drop_after(llm, kept):
            llm.n_tokens = kept
        else:
            llm.reset()
            kept = 0
        self.llm, self.spec, self.store = llm, spec, store
        self.generated: list[int] = []
        self.next_input = prompt[0].tolist()[kept:]
        self.done = False
        self.picker = Picker(prompt.cpu(), sampling)

    def step(self, _model=None) -> int:
        import llama_cpp  # lazy: optional - only when available()

        self.llm.eval(self.next_input)
        pointer = llama_cpp.llama_get_logits_ith(self.llm.ctx, -1)
        scores = np.ctypeslib.as_array(pointer, shape=(self.llm.n_vocab(),))
        if not np.isfinite(scores.sum()):  # any inf or NaN makes the sum so: one pass, not a mask
            raise ValueError("llama.cpp produced non-finite scores; set STUDIO_CHAT_BACKEND=torch and reload")
        logits = torch.from_numpy(scores.copy())[None]
        token = self.picker.pick(logits)
        self.next_input = [token]
        return token


def columns(engine, prompts: list[torch.Tensor], keys: list, sampling: Sampling, owner=None) -> list | None:
    """The turn's columns in llama.cpp when ``engine`` has a store and every file is ready; else None.
    ``owner``: whose earlier turns' contexts this turn may continue (None: none)."""
    if engine.native is None:
        return None
    specs = _specs(engine, keys)
    held = engine.native.for_turn(specs, [p[0].tolist() for p in prompts], sampling.max_new_tokens, owner)
    if not held:
        return None
    store = engine.native
    return [Column(h, p, sampling, spec, store) for h, p, spec in zip(held, prompts, specs, strict=True)]


def release(engine, columns: list, owner=None) -> None:
    """Give the turn's llama.cpp contexts back (the turn ended, was stopped or abandoned)."""
    for column in columns:
        if isinstance(column, Column):
            if column.store is engine.native:
                column.store.release(column.spec, column.llm, owner)
            else:  # the models were unloaded meanwhile
                column.llm.close()


def wait_ready(engine, keys: list, timeout: float | None = None) -> bool:
    """Block until the files of these column keys are written (the bench, tests); False without a store."""
    if engine.native is None:
        return False
    for spec in _specs(engine, keys):
        engine.native.wait(spec, timeout)
    return True


def _specs(engine, keys: list) -> list[SourceSpec]:
    base = engine.native.base_folder(engine.base_name)
    specs = []
    for kind, name in keys:
        if kind == "full":
            specs.append(SourceSpec(name))
        elif kind == "adapter":
            specs.append(SourceSpec(base, next(d for d, n in engine.bank.names.items() if n == name)))
        else:
            specs.append(SourceSpec(base))
    return specs
