"""Every replacement of a library internal, in one package: the table of what each replaces, where it is proven, its switch.

    from studio.patches import enabled
    enabled("packed_attention", model)   # False (logged once) outside its versions, families or switch

The studio is faster than the plain libraries on a CPU because it replaces a few of their
internals: transformers' attention for padding-free batches, the decoder's forward for padded
ones, PEFT's LoRA forward, TRL's log-probability kernel, the Trainer's private token counter, and
llama.cpp's context cache. A replacement is right only where it has been proven, so each row
below says which library versions and model families it was checked on; outside them (a library
upgrade, a new family) the path turns off and the plain library runs, with one log line saying
why. ``STUDIO_FASTPATHS=0`` turns them all off (the plain transformers + PEFT + TRL computation,
which tests/test_families.py compares against); each also has its own switch.

One module per replacement (this file holds the table, ``FASTPATHS``, and ``enabled``):

- ``packed_attention``: attention of a padding-free batch one sequence at a time (no varlen kernel on a CPU);
- ``unpadded``: the decoder's forward on a padded batch runs only its real tokens, as one padding-free row;
- ``fused_lora``: a LoRA layer as one matrix product, with its own backward in the fast layouts;
- ``logprobs``: TRL's per-token log-probabilities computed plainly where its chunked kernel has no Triton;
- ``tokens``: the Trainer's private token counter, written into each checkpoint and kept across a resume;
- ``cpu_half``: an fp16 model on a CPU (the chat) computes in fp32 what is slow in fp16;
- ``llamacpp_prefix``: a llama.cpp context keeps the prefix a person's next turn shares with the last.

tests/test_patches.py fails when an installed library leaves a row's range or no longer has
what the row replaces: an upgrade must prove the path again before it runs.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from functools import cache
from importlib import metadata

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from studio.models.families import FAMILIES

log = logging.getLogger(__name__)

ALL_OFF = "STUDIO_FASTPATHS"


@dataclass(frozen=True)
class FastPath:
    name: str
    module: str  # the module in this package that holds it
    replaces: str  # the library internal it replaces
    library: str  # the distribution whose internal it is
    versions: str  # the versions it is proven on (a PEP 440 range)
    switch: str  # environment variable: 0 turns it off
    families: frozenset[str] | None = None  # model types proven on; None: not model-specific


_PROVEN = frozenset(FAMILIES)

FASTPATHS: dict[str, FastPath] = {
    p.name: p
    for p in (
        FastPath(
            "packed_attention",
            "packed_attention",
            "transformers' sdpa attention (registered as an attention function) for padding-free batches",
            "transformers",
            ">=5.23,<5.24",
            "STUDIO_PACKED_ATTENTION",
            _PROVEN,
        ),
        FastPath(
            "unpadded",
            "unpadded",
            "the decoder's forward, for padded batches",
            "transformers",
            ">=5.23,<5.24",
            "STUDIO_UNPAD",
            _PROVEN,
        ),
        FastPath(
            "fused_lora",
            "fused_lora",
            "PEFT's LoRA Linear forward",
            "peft",
            ">=0.21,<0.22",
            "STUDIO_FUSED_LORA",
            _PROVEN,
        ),
        FastPath(
            "plain_logprobs",
            "logprobs",
            "TRL's chunked log-prob kernel and its _use_triton question (trl.trainer.utils)",
            "trl",
            ">=1.16,<1.17",
            "STUDIO_PLAIN_LOGPROBS",
        ),
        FastPath(
            "token_total",
            "tokens",
            "the Trainer's private token counter (_total_train_tokens), kept across a resume",
            "trl",
            ">=1.16,<1.17",
            "STUDIO_TOKEN_TOTAL",
        ),
        FastPath(
            "cpu_half",
            "cpu_half",
            "Linear forwards and sdpa attention of an fp16 model on a CPU (the chat)",
            "transformers",
            ">=5.23,<5.24",
            "STUDIO_CPU_HALF",
        ),
        FastPath(
            "llamacpp_prefix",
            "llamacpp_prefix",
            "llama-cpp-python's context cache (its n_tokens and kv_cache_seq_rm), to continue a turn",
            "llama-cpp-python",
            ">=0.3.16,<0.4",
            "STUDIO_LLAMACPP_PREFIX",
        ),
    )
}


@cache
def installed(library: str) -> Version | None:
    try:
        return Version(metadata.version(library))
    except metadata.PackageNotFoundError:
        return None


def why_off(name: str, model_type: str | None = None) -> str | None:
    """Why the fast path ``name`` is off (its switch, the library's version, the model's family), or None."""
    path = FASTPATHS[name]
    for switch in (ALL_OFF, path.switch):
        if os.environ.get(switch, "1").strip() == "0":
            return f"{switch}=0"
    version = installed(path.library)
    if version is None or version not in SpecifierSet(path.versions):
        return f"{path.library} {version} is outside the versions it is proven on ({path.versions})"
    if path.families is not None and model_type is not None and model_type not in path.families:
        return f"the {model_type} family is not one it is proven on"
    return None


_told: set[tuple[str, str]] = set()


def enabled(name: str, model=None) -> bool:
    """Whether fast path ``name`` may run (for ``model``'s family, when given); logs once why not."""
    config = getattr(model, "config", None)
    reason = why_off(name, getattr(config, "model_type", None) if config is not None else None)
    if reason is None:
        return True
    if (name, reason) not in _told:
        _told.add((name, reason))
        log.info("fast path %s off, the library's own path runs: %s", name, reason)
    return False


def markdown_table() -> str:
    """docs/models.md's table of the fast paths."""
    rows = ["| fast path | replaces | proven on | switch |", "|---|---|---|---|"]
    for p in FASTPATHS.values():
        scope = f"{p.library} {p.versions}" + (", the families above" if p.families else "")
        rows.append(f"| `{p.name}` | {p.replaces} | {scope} | `{p.switch}=0` |")
    return "\n".join(rows)
