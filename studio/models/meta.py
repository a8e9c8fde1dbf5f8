"""A model's architecture without its weights: its config, and the model built on the meta device.

    cfg = model_config("meta-llama/Llama-3.1-8B-Instruct")   # local cache, Hub, or built-in copy
    model = meta_model("smollm2-135m-instruct")              # real modules, no storage, no weights read
    names, linear = module_names("./my-model")               # for checking target modules

A model may be the embedded alias, a local folder, a ``config.json`` file or a Hub id. For a Hub
id the local Hugging Face cache is read first; offline, a few popular architectures are known
(``studio.models.known``); anything else gets a message saying what to give instead.
"""

from __future__ import annotations

import functools
import os
import socket
from urllib.parse import urlparse

import torch
from transformers import AutoConfig, AutoModelForCausalLM

from studio.models import loading
from studio.models.known import known_config


def hub_reachable(timeout: float = 2.0) -> bool:
    """Whether the Hub's host resolves (instant offline, instead of the client's minute of retries)."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return False
    host = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co").hostname or "huggingface.co"
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)
    try:
        socket.getaddrinfo(host, 443)
        return True
    except OSError:
        return False
    finally:
        socket.setdefaulttimeout(previous)


def _from_hub(name: str):
    try:
        return AutoConfig.from_pretrained(name, local_files_only=True), "the local Hugging Face cache"
    except (OSError, ValueError):
        pass
    known = known_config(name)
    if known is not None:
        model_type = known.pop("model_type")
        return AutoConfig.for_model(model_type, **known), "the studio's built-in copy of its architecture"
    if not hub_reachable():
        raise loading.ModelNotAvailable(
            f"model: {name!r} is not in the local cache and the Hugging Face Hub is not reachable from here "
            "(offline). Give a local model folder or its config.json instead."
        )
    return loading.load_config(name), "the Hugging Face Hub"


def model_config(name: str):
    """(config, where it came from) for a model name; raises ModelNotAvailable (a ValueError)."""
    name = (name or "").strip()
    alias = not name or name.lower() in loading.EMBEDDED_ALIASES
    # local_folder refuses a path outside the folders models load from, alike whether it exists or not.
    hub_id = not alias and loading.local_folder(name) is None and name.count("/") == 1
    if not hub_id:
        # The embedded model, a folder or config.json; anything else is refused with the reason.
        return loading.load_config(name), "local files"
    return _from_hub(name)


@functools.lru_cache(maxsize=16)
def config_cached(name: str):
    return model_config(name)


def meta_model(name: str):
    """The model's modules on the meta device: exact shapes, no memory, no download of weights."""
    config, _ = config_cached(name.strip())
    try:
        with torch.device("meta"):
            return AutoModelForCausalLM.from_config(config)
    except (ValueError, KeyError) as exc:
        raise loading.ModelNotAvailable(
            f"model: {name!r} is not a causal language model transformers can build ({exc})"
        ) from exc


@functools.lru_cache(maxsize=16)
def module_names(name: str) -> tuple[frozenset[str], frozenset[str]]:
    """(all module names, names of the Linear layers an adapter can target) of a model."""
    model = meta_model(name)
    output = model.get_output_embeddings()
    names = frozenset(n for n, _ in model.named_modules() if n)
    linear = frozenset(n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear) and m is not output and n)
    return names, linear
