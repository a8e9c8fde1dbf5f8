"""Adapters loaded once into one base model, and switched between forward passes.

    bank = AdapterBank(model)                 # a plain transformers model, already loaded
    name = bank.load("runs/<id>/adapter")     # read once by PEFT
    bank.activate(name); bank.model(...)      # the adapter's answer
    bank.activate(None); bank.model(...)      # the base's answer, same weights in memory

Two ways to switch, chosen once per bank:

- ``merged`` (when a copy of the targeted weights fits easily in memory, as with the embedded
  model): each adapter's LoRA update is merged once, by PEFT, into a copy of the weights it
  targets, and PEFT's wrappers are removed again. Switching swaps those weight tensors in the
  plain base model. Base and adapter then run the very same code at the same speed, with no
  extra matmuls or Python per layer per token: on a CPU, where decode is bound by memory and
  per-op overhead, unmerged LoRA on every linear layer costs about a third of the speed.
- ``peft``: PEFT's own multi-adapter model (``set_adapter`` / disabled layers). No extra
  memory, a little extra compute per token: the choice for large models on small GPUs.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import torch
from peft import PeftModel
from peft.tuners.lora import LoraLayer

log = logging.getLogger(__name__)

# A merged copy is kept when the whole model would fit this many times in free memory.
MERGED_HEADROOM = 4


def param_bytes(model) -> int:
    return sum(p.numel() * p.element_size() for p in model.parameters())


class AdapterBank:
    def __init__(self, model, mode: str = "auto", free_bytes: int | None = None):
        if mode == "auto":
            big = free_bytes is not None and param_bytes(model) * MERGED_HEADROOM > free_bytes
            mode = "peft" if big else "merged"
        if mode not in ("merged", "peft"):
            raise ValueError(f"adapter switching mode {mode!r} is not one of auto, merged, peft")
        self.mode = mode
        self.model = model  # what to call: the plain model (merged) or the PeftModel (peft)
        self.names: dict[str, str] = {}  # resolved adapter folder -> adapter name
        self.active: str | None = None
        self._modules: dict[str, torch.nn.Module] = {}  # targeted module path -> the Linear
        self._base: dict[str, torch.nn.Parameter] = {}  # path -> the base weight
        self._merged: dict[str, dict[str, torch.nn.Parameter]] = {}  # adapter -> path -> merged weight

    def load(self, adapter_dir: str | Path) -> str:
        """Load an adapter once (later calls return its name); PEFT reads and maps the weights."""
        key = str(Path(adapter_dir).resolve())
        if key in self.names:
            return self.names[key]
        name = re.sub(r"[^A-Za-z0-9_]", "_", f"a{len(self.names)}_{Path(adapter_dir).parent.name}")[:60]
        if self.mode == "merged":
            self._load_merged(adapter_dir, name)
        else:
            self._load_peft(adapter_dir, name)
        self.names[key] = name
        self.active = object()  # unknown until the next activate
        self.activate(None)
        return name

    def activate(self, name: str | None) -> None:
        """Make the next forward pass use adapter ``name`` (None: the base)."""
        if name == self.active:
            return
        if self.mode == "merged":
            weights = self._merged.get(name, {}) if name else {}
            for path, module in self._modules.items():
                module._parameters["weight"] = weights.get(path, self._base[path])
        elif self.names:
            if name is None:
                self.model.base_model.disable_adapter_layers()
            else:
                self.model.base_model.enable_adapter_layers()
                self.model.set_adapter(name)
        self.active = name

    def extra_bytes(self) -> int:
        """Memory held for adapters beyond the base model."""
        if self.mode == "merged":
            return sum(p.numel() * p.element_size() for w in self._merged.values() for p in w.values())
        return param_bytes(self.model) - sum(
            p.numel() * p.element_size() for n, p in self.model.named_parameters() if "lora_" not in n
        )

    # -- the two ways ------------------------------------------------------------------------
    def _load_merged(self, adapter_dir, name: str) -> None:
        self.activate(None)
        peft_model = PeftModel.from_pretrained(self.model, str(adapter_dir), adapter_name=name)
        try:
            config = peft_model.peft_config[name]
            if config.peft_type != "LORA":
                raise ValueError(f"{adapter_dir} is a {config.peft_type} adapter; chat supports LoRA adapters")
            if getattr(config, "modules_to_save", None):
                raise ValueError(
                    f"{adapter_dir} also trains whole modules ({', '.join(config.modules_to_save)}); "
                    "chat supports plain LoRA adapters"
                )
            merged = {}
            for path, module in peft_model.base_model.model.named_modules():
                if not isinstance(module, LoraLayer) or name not in module.lora_A:
                    continue
                base_layer = module.get_base_layer()
                original = base_layer.weight.data
                # safe_merge writes the merged weight into a new tensor and leaves ours untouched.
                module.merge(safe_merge=True, adapter_names=[name])
                merged[path] = torch.nn.Parameter(base_layer.weight.data, requires_grad=False)
                base_layer.weight.data = original
                module.merged_adapters.clear()
                if path not in self._modules:
                    self._modules[path] = base_layer
                    self._base[path] = base_layer.weight
        finally:
            self.model = peft_model.unload()  # the plain base again: PEFT's wrappers removed
        if not merged:
            raise ValueError(f"{adapter_dir}: the adapter targets no layer of this model")
        self._merged[name] = merged
        log.info("adapter %s merged into a copy of %d layers", name, len(merged))

    def _load_peft(self, adapter_dir, name: str) -> None:
        if isinstance(self.model, PeftModel):
            self.model.load_adapter(str(adapter_dir), adapter_name=name)
        else:
            self.model = PeftModel.from_pretrained(self.model, str(adapter_dir), adapter_name=name)
        self.model.eval()
