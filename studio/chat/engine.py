"""Chat with the base model, its adapters and full fine-tunes, side by side, on one loaded base.

    engine = ChatEngine()
    for texts in engine.stream(messages, [None, "runs/<id>/adapter"], Sampling(seed=0)):
        print(texts)          # one growing reply per column, token by token, in lock-step
    python -m studio chat --run runs/<id> --prompt "Who are you?"

The engine is the one owner of the models chat and evaluation use. One base model is loaded;
each adapter is loaded into it once (``studio.chat.adapter_bank``) and the columns take turns token
by token, switching the adapter before each forward pass. A full fine-tune (a run whose
adapter/ folder holds a whole model) is a second model, loaded once. Every column samples with
its own generator seeded with the same seed, so a column's reply is the same whether it runs
alone (the CLI) or beside others (the Chat tab). On a CPU with llama-cpp-python installed, the
turns decode in llama.cpp on GGUF copies of the same weights (``studio.chat.llamacpp``). The
trainer never shares these weights: it loads its own copy, so chatting during a training is
safe and only slower.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path

# transformers 5 resolves its names lazily; two threads resolving them at once (the first chat in a
# server worker while another tab imports PEFT) can fail with "cannot import name 'AutoTokenizer'
# from 'transformers'". Importing them here resolves them in the thread that imports the studio.
import peft  # noqa: F401
import torch
import transformers.integrations.sdpa_attention  # noqa: F401
import transformers.masking_utils  # noqa: F401
from transformers import AttentionInterface, AutoModelForCausalLM, AutoTokenizer, DynamicCache  # noqa: F401
from transformers.generation import TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper  # noqa: F401

from studio.chat import llamacpp
from studio.chat.adapter_bank import AdapterBank, param_bytes
from studio.chat.prefix_cache import PrefixCaches
from studio.chat.sampling import Distribution, Picker, Sampling, logits_processors, next_token_distribution
from studio.chat.sources import BASE, per_column, same_base, source_base, source_kind
from studio.data.render import end_of_turn_token
from studio.models import loading
from studio.models.device import TORCH_DTYPES, cpu_flags, detect, free_memory
from studio.patches.cpu_half import prepare_half_on_cpu
from studio.paths import cache_dir
from studio.runs.directory import run_source

log = logging.getLogger(__name__)

__all__ = ["BASE", "ChatEngine", "Sampling", "logits_processors", "source_base", "source_kind"]


def inference_dtype(device=None, requested: str = "auto") -> torch.dtype:
    """The dtype chat keeps the weights in.

    Decoding one token reads every weight once, so it is bound by memory bandwidth: halving the
    bytes nearly doubles the speed. On a GPU: bf16 (fp16 where bf16 is not native). On an x86
    CPU with F16C: fp16. PyTorch's fp16 matrix-vector kernel converts to fp32 on the fly and
    accumulates in fp32, so it reads half the bytes of fp32 and keeps more mantissa than bf16,
    whose one-token kernel (oneDNN) is slower here; attention, and passes of several tokens
    (the prompt, an evaluation batch), compute in fp32 from the same fp16 values, where fp16
    kernels are slow (``studio.patches.cpu_half``). Other CPUs: fp32. ``requested`` or ``$STUDIO_CHAT_DTYPE`` (fp32, bf16, fp16) overrides this.
    """
    requested = os.environ.get("STUDIO_CHAT_DTYPE", requested) if requested == "auto" else requested
    if requested != "auto":
        if requested not in TORCH_DTYPES:
            raise ValueError(f"chat dtype {requested!r} is not one of auto, {', '.join(TORCH_DTYPES)}")
        return TORCH_DTYPES[requested]
    device = device or detect()
    if device.kind == "cuda":
        return torch.bfloat16 if device.native_bf16 else torch.float16
    if device.kind == "mps":
        return torch.float16

    return torch.float16 if "f16c" in cpu_flags() else torch.float32


class ChatEngine:
    """The one owner of the chat models: one base in memory, adapters loaded into it once."""

    def __init__(
        self,
        base: str = loading.EMBEDDED_HUB_ID,
        dtype: str = "auto",
        adapter_mode: str = "auto",
        backend: str = "auto",
    ):
        self.backend = backend  # auto (llama.cpp where it can: studio.chat.llamacpp), torch, llama.cpp
        self.base_name = base
        self.dtype_request = dtype
        self.adapter_mode = adapter_mode
        self.tokenizer = None
        self.bank: AdapterBank | None = None
        self.full_models: dict[str, object] = {}  # resolved folder -> a whole fine-tuned model
        self._logits: OrderedDict = OrderedDict()  # (source, prompt) -> next-token logits
        self.prefixes = PrefixCaches()  # each person's last turn's KV cache per source (PyTorch)
        self._lock = threading.RLock()
        self.native: llamacpp.GGUFStore | None = None  # llama.cpp decoding (studio.chat.llamacpp)
        # The app's runs folder: sources load only from runs inside it. None (the CLI): any folder.
        self.source_root: Path | None = None

    @property
    def model(self):
        return self.bank.model if self.bank else None

    @property
    def adapters(self) -> dict[str, str]:
        return self.bank.names if self.bank else {}

    @property
    def lock(self) -> threading.RLock:
        """Held while a model computes; evaluation and chat take turns through it."""
        return self._lock

    # -- loading ---------------------------------------------------------------------------------
    def ensure_base(self, base: str | None = None):
        with self._lock:
            if base and not same_base(base, self.base_name):
                self.unload()
                self.base_name = base
            if self.bank is None:
                device = detect()
                dtype = inference_dtype(device, self.dtype_request)
                self.tokenizer = loading.load_tokenizer(self.base_name)
                model = loading.load_model(self.base_name, dtype, device=device.kind if device.kind != "cpu" else None)
                prepare_half_on_cpu(model.eval())
                self.bank = AdapterBank(model, self.adapter_mode, device.free_memory_bytes)
                if llamacpp.wanted(device.kind, self.backend) and dtype in llamacpp.GGUF_FOR_DTYPE:
                    self.native = llamacpp.GGUFStore(cache_dir() / "chat-gguf", llamacpp.GGUF_FOR_DTYPE[dtype])
            return self.bank.model

    def unload(self) -> int:
        """Drop every model; returns the bytes of weights given back."""
        with self._lock:
            freed = self.memory()["total_bytes"]
            self.bank = None
            self.tokenizer = None
            if self.native is not None:
                self.native.close()
                self.native = None
            self.full_models.clear()
            self._logits.clear()
            self.prefixes.clear()
            free_memory()
            return freed

    def check_source(self, path: str | Path) -> str:
        """The source's kind, after refusing one trained on another base."""
        kind = source_kind(path)
        trained_on = source_base(path)
        if trained_on and not same_base(trained_on, self.base_name):
            what = "adapter" if kind == "adapter" else "fine-tuned model"
            raise ValueError(
                f"the {what} in {path} was trained on {trained_on}, not on the loaded base "
                f"{self.base_name}; load {trained_on} as the base first"
            )
        return kind

    def load_adapter(self, adapter_dir: str | Path) -> str:
        """Load an adapter into the base once; returns its name. A foreign base is refused."""
        with self._lock:
            self.check_source(adapter_dir)
            self.ensure_base()
            return self.bank.load(adapter_dir)

    def load_source(self, source: str | Path | None) -> tuple[str, str | None]:
        """A column's key: ('base', None), ('adapter', name) or ('full', folder); loads it once."""
        if source in (None, "", BASE):
            return ("base", None)
        if self.source_root is not None:
            run_source(source, self.source_root)
        with self._lock:
            if self.check_source(source) == "adapter":
                return ("adapter", self.load_adapter(source))
            key = str(Path(source).resolve())
            if key not in self.full_models:
                self.ensure_base()
                device = detect()
                model = loading.load_model(
                    key, self.bank.model.dtype, device=device.kind if device.kind != "cpu" else None
                )
                if model.get_input_embeddings().num_embeddings < len(self.tokenizer):
                    raise ValueError(f"{source}: its vocabulary is smaller than the base tokenizer's")
                prepare_half_on_cpu(model.eval())
                self.full_models[key] = model
                log.info("full fine-tune %s loaded as a second model", source)
            return ("full", key)

    def use(self, key: tuple[str, str | None]):
        """The model to call for a column key, with its adapter switched in."""
        kind, name = key
        if kind == "full":
            return self.full_models[name]
        self.bank.activate(name)
        return self.bank.model

    def memory(self) -> dict:
        """What is loaded and how many bytes of weights it holds."""
        if self.bank is None:
            return {"base": None, "total_bytes": 0, "adapters": [], "full_models": {}}
        base = param_bytes(self.bank.model) - (self.bank.extra_bytes() if self.bank.mode == "peft" else 0)
        full = {k: param_bytes(m) for k, m in self.full_models.items()}
        extra = self.bank.extra_bytes()
        return {
            "base": self.base_name,
            "dtype": str(self.bank.model.dtype).removeprefix("torch."),
            "base_bytes": base,
            "adapters": list(self.bank.names),
            "adapter_mode": self.bank.mode,
            "adapter_bytes": extra,
            "full_models": full,
            "total_bytes": base + extra + sum(full.values()),
            "backend": "llama.cpp" if self.native else "torch",
            "gguf_ready": self.native.ready_count() if self.native else 0,  # sources decoding in llama.cpp
        }

    # -- generation ------------------------------------------------------------------------------
    def prompt_ids(self, messages: list[dict]) -> torch.Tensor:
        text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        ids = self.tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"]
        limit = getattr(self.bank.model.config, "max_position_embeddings", None)
        if limit and ids.shape[-1] >= limit:
            raise ValueError(f"the conversation is {ids.shape[-1]} tokens, over the model's {limit}; clear it")
        return ids.to(self.bank.model.device)

    def stream(
        self, messages: list, sources: list[str | None], sampling: Sampling | None = None, owner: str | None = None
    ) -> Iterator[list[str]]:
        """Replies of each source (None: base; else an adapter or model folder), growing token by
        token. ``messages`` is one conversation for all columns, or a list of one per column.
        ``owner``: the person whose earlier turns this one continues from (studio.chat.prefix_cache);
        None computes every prompt from its first token."""
        sampling = sampling or Sampling()
        with self._lock:
            self.ensure_base()
            keys = [self.load_source(s) for s in sources]
            prompts = [self.prompt_ids(c) for c in per_column(messages, len(sources))]
        yield from self._generate(prompts, keys, sampling, owner=owner)

    def replies(self, messages: list, sources: list[str | None], sampling: Sampling | None = None, owner=None):
        """The finished replies of ``stream``."""
        texts = ["" for _ in sources]
        for step in self.stream(messages, sources, sampling, owner):
            texts = step
        return texts

    def reply(self, messages: list[dict], source: str | None = None, sampling: Sampling | None = None) -> str:
        return self.replies(messages, [source], sampling)[0]

    def _generate(self, prompts, keys, sampling: Sampling, stop: bool = True, owner=None) -> Iterator[list[str]]:
        """Token rounds: each holds the lock (and inference mode) only while it computes, never
        across a yield, since a UI may resume the generator from another thread."""
        bank = self.bank
        stops = self._stop_ids() if stop else set()
        with self._lock:
            columns = llamacpp.columns(self, prompts, keys, sampling, owner) or [
                _Column(p, sampling, *self._reused(owner, key, p)) for p, key in zip(prompts, keys, strict=True)
            ]
        texts = ["" for _ in columns]
        keep = owner is not None
        try:
            for _ in range(sampling.max_new_tokens):
                if all(c.done for c in columns):
                    break
                with self._lock, torch.inference_mode():
                    if self.bank is not bank:
                        raise ValueError("the models were unloaded while replying; send the message again")
                    for i, (key, column) in enumerate(zip(keys, columns, strict=True)):
                        if column.done:
                            continue
                        token = column.step(self.use(key))
                        if token in stops:
                            column.done = True
                            continue
                        column.generated.append(token)
                        texts[i] = self.tokenizer.decode(column.generated, skip_special_tokens=True)
                yield list(texts)
        except Exception:
            keep = False  # a pass that failed half-way leaves no cache to continue from
            raise
        finally:  # also when the reply is stopped or abandoned: llama.cpp contexts go back
            with self._lock:
                llamacpp.release(self, columns, owner)
                for key, column in zip(keys, columns, strict=True):
                    if keep and self.bank is bank and isinstance(column, _Column):
                        self.prefixes.put(owner, key, column.computed(), column.cache)

    def _reused(self, owner, key, prompt: torch.Tensor) -> tuple:
        """(cache, tokens it holds) of ``owner``'s last turn on ``key``, for a PyTorch column."""
        return self.prefixes.take(owner, key, prompt[0].tolist()) if owner is not None else (None, 0)

    def _stop_ids(self) -> set[int]:
        """The end of a reply: the model's end-of-sequence ids and the token its template closes an
        assistant turn with (Gemma's <end_of_turn>, Llama 3's <|eot_id|>, which some configs omit)."""
        ids = set()
        closing = end_of_turn_token(self.tokenizer)
        if closing is not None:
            ids.add(self.tokenizer.convert_tokens_to_ids(closing))
        config = self.bank.model.generation_config
        for value in (config.eos_token_id if config else None, self.tokenizer.eos_token_id):
            if isinstance(value, int):
                ids.add(value)
            elif isinstance(value, list):
                ids.update(value)
        return ids

    # -- the window on sampling ------------------------------------------------------------------
    def distributions(
        self, messages: list, sources: list[str | None], sampling: Sampling, labels: list[str], n: int = 15
    ) -> list[Distribution]:
        """Each source's candidates for the first token of its reply; the logits are cached per
        prompt, so moving a slider only re-runs the processors."""
        with self._lock:
            self.ensure_base()
            out = []
            for conversation, source, label in zip(per_column(messages, len(sources)), sources, labels, strict=True):
                key = self.load_source(source)
                prompt = self.prompt_ids(conversation)
                cache_key = (key, tuple(prompt[0].tolist()))
                if cache_key not in self._logits:
                    with torch.inference_mode():
                        out_ = self.use(key)(input_ids=prompt, logits_to_keep=1)
                    self._logits[cache_key] = out_.logits[:, -1, :].float().cpu()
                    while len(self._logits) > 16:
                        self._logits.popitem(last=False)
                logits = self._logits[cache_key]
                out.append(next_token_distribution(logits, sampling, self.tokenizer, prompt.cpu(), n, label))
            return out


class _Column:
    """One reply being generated: its KV cache, its picker (seeded generator) and its tokens."""

    def __init__(self, prompt: torch.Tensor, sampling: Sampling, cache=None, kept: int = 0):
        self.cache = cache if cache is not None else DynamicCache()
        self.prompt = prompt[0].tolist()
        self.generated: list[int] = []
        self.next_input = prompt[:, kept:]  # ``kept`` leading tokens are in ``cache`` already
        self.done = False
        self.picker = Picker(prompt, sampling)

    def computed(self) -> list[int]:
        """The token ids whose keys and values the cache holds (the last pick is not fed yet)."""
        return (self.prompt + self.generated)[: self.cache.get_seq_length()]

    def step(self, model) -> int:
        # logits_to_keep=1: the prompt's pass computes the vocabulary projection for its last
        # position only, not for every prompt token (a large share of the time to first token).
        out = model(input_ids=self.next_input, past_key_values=self.cache, use_cache=True, logits_to_keep=1)
        self.cache = out.past_key_values
        logits = out.logits[:, -1, :].float()
        if not torch.isfinite(logits).all():
            raise ValueError(
                f"the model produced non-finite scores in {out.logits.dtype}; "
                "set STUDIO_CHAT_DTYPE=fp32 (or bf16) and reload the models"
            )
        token = self.picker.pick(logits)
        self.next_input = torch.tensor([[token]], device=self.next_input.device)
        return token
