"""Which device trains, at which precision, and how much memory it has.

Precision is the sharpest edge on a CPU: TRL's configs default to bf16, and on a CPU without
native bf16 (AVX2 only) autocast emulates it, many times slower (the bench's plain TRL script
runs so: ``python -m studio bench --only sft``). So
"auto" means bf16 only where the hardware computes it natively.
"""

from __future__ import annotations

import functools
import gc
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from studio.config import DTYPES


@dataclass(frozen=True)
class DeviceInfo:
    kind: str  # "cuda", "mps" or "cpu"
    name: str
    total_memory_bytes: int
    free_memory_bytes: int
    native_bf16: bool
    count: int = 1

    def describe(self) -> str:
        gib = self.total_memory_bytes / 2**30
        return f"{self.name} ({self.kind}, {gib:.1f} GiB, bf16 {'native' if self.native_bf16 else 'emulated'})"


@functools.lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def cpu_has_native_bf16() -> bool:
    """AVX512-BF16 or AMX (Intel Sapphire Rapids, AMD Zen 4+) compute bf16 without emulation."""
    return bool(cpu_flags() & {"avx512_bf16", "amx_bf16"})


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "CPU"


def _system_memory() -> tuple[int, int]:
    try:
        info = {}
        for line in Path("/proc/meminfo").read_text().splitlines():
            key, value = line.split(":", 1)
            info[key] = int(value.split()[0]) * 1024
        return info["MemTotal"], info.get("MemAvailable", info["MemFree"])
    except (OSError, KeyError, ValueError):
        return 0, 0


def detect() -> DeviceInfo:
    if torch.cuda.is_available():
        free, total = torch.cuda.mem_get_info()
        return DeviceInfo(
            "cuda",
            torch.cuda.get_device_name(0),
            total,
            free,
            torch.cuda.is_bf16_supported(),
            torch.cuda.device_count(),
        )
    total, free = _system_memory()
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return DeviceInfo("mps", "Apple GPU", total, free, False)
    return DeviceInfo("cpu", f"{_cpu_name()} x{os.cpu_count()}", total, free, cpu_has_native_bf16())


def resolve_precision(requested: str, device: DeviceInfo | None = None) -> str:
    """'auto' -> 'bf16', 'fp16' or 'fp32' from the hardware; explicit choices are checked."""
    device = device or detect()
    if requested == "auto":
        if device.kind == "cuda":
            return "bf16" if device.native_bf16 else "fp16"
        if device.kind == "cpu" and device.native_bf16:
            return "bf16"
        return "fp32"
    if requested == "fp16" and device.kind == "cpu":
        raise ValueError("precision: fp16 mixed precision needs a GPU; choose fp32 or auto on a CPU")
    return requested


TORCH_DTYPES = {name: getattr(torch, dtype.torch_name) for name, dtype in DTYPES.items()}  # the table, as torch dtypes


def torch_dtype(precision: str) -> torch.dtype:
    return TORCH_DTYPES[precision]


def current_rss_bytes() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def free_memory() -> None:
    """Give memory back after a model is dropped: Python's garbage and the CUDA cache."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
