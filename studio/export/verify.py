"""What a user of the exported files will see, computed with the plain libraries only.

    model, tokenizer = load_plain(folder)                 # PeftModel.from_pretrained / AutoModelForCausalLM
    greedy_answer(model, tokenizer, probe_messages(run))  # model.generate(do_sample=False)
    studio_answer(run, dtype="fp32")                      # what the Chat tab answers, greedy
    check_folder(run, folder)                             # both, compared: {"ok": ..., "message": ...}

Exports and pushes are judged by these: an adapter or merged model is only as good as what
``peft`` and ``transformers`` make of its files on someone else's machine, with no studio code
in between (the one exception is finding the embedded base's local folder, as there is no
network here to fetch ``HuggingFaceTB/SmolLM2-135M-Instruct``).
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer

from studio.chat.engine import ChatEngine, Sampling
from studio.chat.sources import source_kind
from studio.models import loading
from studio.models.device import TORCH_DTYPES, detect
from studio.runs.directory import Run

log = logging.getLogger(__name__)

DEFAULT_PROBE = "Who are you? Answer in one sentence."
PROBE_TOKENS = 32


def probe_messages(run: Run) -> list[dict]:
    """The prompt answers are compared on: the run's first pinned probe, else a default."""
    try:
        pinned = [p.strip() for p in run.config().probes.probe_prompts.splitlines() if p.strip()]
    except ValueError:
        pinned = []
    return [{"role": "user", "content": pinned[0] if pinned else DEFAULT_PROBE}]


def prompt_ids(tokenizer, messages: list[dict]) -> torch.Tensor:
    """Token ids of the conversation under the tokenizer's own chat template, as the chat tab builds them."""
    if not tokenizer.chat_template:
        raise ValueError("the tokenizer has no chat template; the export must carry the one the run trained with")
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"]


def greedy_answer(model, tokenizer, messages: list[dict], max_new_tokens: int | None = None) -> str:
    """``model.generate`` without sampling, stopping at the end-of-turn token."""
    max_new_tokens = max_new_tokens or PROBE_TOKENS
    ids = prompt_ids(tokenizer, messages).to(model.device)
    stops = {tokenizer.eos_token_id}
    configured = model.generation_config.eos_token_id if model.generation_config else None
    stops.update(configured if isinstance(configured, list) else [configured])
    stops.discard(None)
    with torch.inference_mode():
        out = model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=max_new_tokens,
            do_sample=False,
            eos_token_id=sorted(stops),
            pad_token_id=tokenizer.pad_token_id,
        )
    return tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True)


def next_logits(model, tokenizer, messages: list[dict]) -> torch.Tensor:
    """The logits of the first reply token, in fp32."""
    ids = prompt_ids(tokenizer, messages).to(model.device)
    with torch.inference_mode():
        return model(input_ids=ids).logits[0, -1].float().cpu()


def folder_kind(folder: str | Path) -> str:
    """'adapter' or 'model' (chat's source_kind, which says 'full' for a whole model)."""
    return "model" if source_kind(folder) == "full" else "adapter"


def saved_dtype(folder: str | Path) -> str:
    """fp32, fp16 or bf16: the dtype a saved model's config records (fp32 for adapters)."""
    try:
        config = json.loads((Path(folder) / "config.json").read_text())
    except (OSError, json.JSONDecodeError):
        return "fp32"
    name = str(config.get("dtype") or config.get("torch_dtype") or "float32").removeprefix("torch.")
    return {"float16": "fp16", "bfloat16": "bf16"}.get(name, "fp32")


def load_plain(folder: str | Path, dtype: str = "fp32", device: str = "cpu"):
    """(model, tokenizer) loaded as a user would: ``PeftModel.from_pretrained`` on the base the
    adapter names, or ``AutoModelForCausalLM.from_pretrained`` on a model folder."""
    folder = Path(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    if folder_kind(folder) == "model":
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=TORCH_DTYPES[dtype])
        return model.to(device).eval(), tokenizer

    base_name = json.loads((folder / "adapter_config.json").read_text()).get("base_model_name_or_path") or ""
    base = AutoModelForCausalLM.from_pretrained(loading.resolve_model(base_name), dtype=TORCH_DTYPES[dtype])
    return PeftModel.from_pretrained(base.to(device), folder).eval(), tokenizer


def studio_answer(
    run: Run,
    messages: list[dict],
    dtype: str = "fp32",
    source: str | Path | None = None,
    max_new_tokens: int | None = None,
) -> str:
    """What the studio's Chat answers, greedy, with ``source`` (default: the run's adapter or full model)."""

    max_new_tokens = max_new_tokens or PROBE_TOKENS
    engine = ChatEngine(run.config().model.model, dtype=dtype)
    try:
        source = str(source or run.adapter_dir)
        return engine.reply(messages, source, Sampling(greedy=True, max_new_tokens=max_new_tokens))
    finally:
        engine.unload()


def check_folder(run: Run, folder: str | Path, reference: str | Path | None = None, messages=None) -> dict:
    """Load ``folder`` with the plain libraries and compare its greedy answer with the studio's.

    An adapter is compared with the studio chatting with the run's adapter. A merged model is
    compared with the studio chatting with ``reference`` (the local folder it was exported to;
    default: the folder itself), the same weights in the same dtype: how far a bf16 merge
    strays from the adapter is the merge report's business (``studio.export.merge.MergeReport``).
    """
    messages = messages or probe_messages(run)
    kind = folder_kind(folder)
    dtype = saved_dtype(folder) if kind == "model" else "fp32"
    # On the device the studio's chat uses, so both compute the same way.
    model, tokenizer = load_plain(folder, dtype, detect().kind)
    try:
        plain = greedy_answer(model, tokenizer, messages)
    finally:
        del model
    studio = studio_answer(run, messages, dtype, None if kind == "adapter" else (reference or folder))
    ok = plain == studio
    message = f"loaded with plain {'PEFT' if kind == 'adapter' else 'transformers'} ({dtype}): " + (
        "answers exactly like the studio" if ok else "answers differently from the studio"
    )
    return {"ok": ok, "message": message, "prompt": messages[-1]["content"], "plain": plain, "studio": studio}


def digest(tensor: torch.Tensor) -> str:
    """A fingerprint of a tensor's exact bits."""
    raw = tensor.detach().contiguous().reshape(-1).view(torch.uint8).cpu().numpy().tobytes()
    return hashlib.blake2b(raw, digest_size=16).hexdigest()


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
