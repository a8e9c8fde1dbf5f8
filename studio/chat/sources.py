"""What a chat column's source is: an adapter or a whole model, and the base it was trained from.

source_kind("runs/<id>/adapter")        # 'adapter' (a PEFT folder) or 'full' (a saved model)
source_base("runs/<id>/adapter")        # the base it was trained on, by its public name
same_base("smollm2", "HuggingFaceTB/SmolLM2-135M-Instruct")   # True
"""

from __future__ import annotations

import json
from pathlib import Path

from studio.config import RunConfig
from studio.models import loading

BASE = "base"  # the column that answers with the base model alone


def source_kind(path: str | Path) -> str:
    """'adapter' for a PEFT adapter folder, 'full' for a whole saved model; ValueError otherwise."""
    folder = Path(path)
    if (folder / "adapter_config.json").exists():
        return "adapter"
    if (folder / "config.json").exists():
        return "full"
    raise ValueError(f"{path} holds neither a PEFT adapter (adapter_config.json) nor a model (config.json)")


def adapter_base(adapter_dir: str | Path) -> str:
    try:
        cfg = json.loads((Path(adapter_dir) / "adapter_config.json").read_text())
    except (OSError, json.JSONDecodeError):
        raise ValueError(f"{adapter_dir} holds no PEFT adapter (adapter_config.json)") from None
    return cfg.get("base_model_name_or_path") or ""


def source_base(path: str | Path) -> str:
    """The base model a source was trained from: the adapter's own record, else its run's config."""
    if source_kind(path) == "adapter":
        return adapter_base(path)
    folder = Path(path).resolve()
    for run_dir in (folder.parent, folder.parent.parent):  # run/adapter or run/checkpoints/checkpoint-N
        if (run_dir / "config.yaml").exists():
            try:
                return loading.base_model_id(RunConfig.load(run_dir / "config.yaml").model.model)
            except ValueError:
                break
    return ""


def same_base(a: str, b: str) -> bool:
    """Whether two base model references name the same model (paths, aliases and Hub ids)."""

    def norm(x: str) -> str:
        x = (x or "").strip().rstrip("/")
        if x.lower() in loading.EMBEDDED_ALIASES or x == str(loading.embedded_model_dir()):
            return loading.EMBEDDED_HUB_ID.lower()
        return x.lower()

    return norm(a) == norm(b) or Path(a).name.lower() == Path(b).name.lower() != ""


def per_column(messages: list, n: int) -> list[list[dict]]:
    """One conversation for every column: the same one, or one each (their replies differ)."""
    if messages and isinstance(messages[0], list):
        if len(messages) != n:
            raise ValueError(f"{len(messages)} conversations for {n} columns")
        return messages
    return [messages] * n


def base_of(sources: list[str | None]) -> str | None:
    """The one base model the given sources were trained from (None: only the base is asked for)."""
    found: list[str] = []
    for source in sources:
        if source in (None, "", BASE):
            continue
        base = source_base(source)
        if base and not any(same_base(base, known) for known in found):
            found.append(base)
    if len(found) > 1:
        raise ValueError(
            f"these columns were trained on different bases ({', '.join(found)}); compare one base at a time"
        )
    return found[0] if found else None
