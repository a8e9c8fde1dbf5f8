"""Where a run may train, from its config and this machine alone: the launch section's problems.

    launch_problems(config, gpus=gpus_here(device.kind))   # strategy x adapter, packages, GPUs here
    world(config.launch)                                    # processes it trains on (0: the device decides)

Part of every validation (studio.train.checks). Asking a Ray cluster itself (reachable, its
resources) goes over the network and is studio.launch.cluster's, run before a job is submitted.
"""

from __future__ import annotations

import importlib.util
import os
from urllib.parse import urlparse

import torch

from studio.config.launch_section import LaunchConfig
from studio.schema import Problem

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def installed(package: str) -> bool:
    return importlib.util.find_spec(package) is not None


def world(launch: LaunchConfig) -> int:
    """Processes the run trains on where it is sent (0: decided here, by the device)."""
    return {"accelerate": launch.num_processes, "ray": launch.ray_workers}.get(launch.on, 0)


def gpus_here(device_kind: str) -> int:
    return torch.cuda.device_count() if device_kind == "cuda" else 0


def launch_problems(config, gpus: int = 0) -> list[Problem]:
    """Problems of the launch section visible without the network (config: a RunConfig)."""
    launch = config.launch
    if launch.on == "accelerate":
        return _accelerate_problems(config, gpus)
    if launch.on == "ray":
        return _ray_config_problems(config)
    return []


def _accelerate_problems(config, gpus: int) -> list[Problem]:
    launch, adapter = config.launch, config.adapter.adapter
    out = []
    if launch.num_processes == 1:
        out.append(Problem("num_processes", "one process trains as here does; set 2 or more", "warning"))
    if launch.strategy in ("zero2", "zero3"):
        if launch.strategy == "zero3" and adapter == "qlora":
            out.append(
                Problem(
                    "strategy",
                    "ZeRO-3 partitions the weights, and 4-bit bitsandbytes weights cannot be partitioned here; "
                    "choose zero2 or ddp for QLoRA, or lora with zero3",
                )
            )
        if not installed("deepspeed"):
            out.append(Problem("strategy", "DeepSpeed is not installed (pip install deepspeed); choose fsdp or ddp"))
        elif not gpus:
            out.append(Problem("strategy", "DeepSpeed ZeRO needs CUDA GPUs; on CPUs choose ddp (over gloo)"))
    if launch.strategy == "fsdp":
        if adapter == "qlora":
            out.append(
                Problem(
                    "strategy",
                    "FSDP shards 4-bit weights only when they are stored in the compute dtype "
                    "(bnb_4bit_quant_storage), which the studio does not set; choose ddp or zero2 for QLoRA, "
                    "or lora with fsdp",
                )
            )
        if config.train.method == "grpo":
            out.append(Problem("strategy", "GRPO samples with the whole model; under FSDP choose ddp"))
    if not gpus and launch.strategy == "fsdp":
        # accelerate 1.15's FSDP plugin takes the accelerator's current device and has no CPU one
        # ("no available devices found"), so FSDP over gloo on CPU processes cannot start.
        out.append(Problem("strategy", "FSDP needs GPUs (accelerate has no CPU device for it); on CPUs choose ddp"))
    if gpus and launch.num_processes > gpus:
        out.append(
            Problem(
                "num_processes", f"{launch.num_processes} processes but {gpus} GPUs here; set it to {gpus} or fewer"
            )
        )
    return out


def _ray_config_problems(config) -> list[Problem]:
    launch = config.launch
    out = []
    if not installed("ray"):
        out.append(
            Problem("on", "Ray is not installed (pip install -r requirements-ray.txt); choose here or accelerate")
        )
    if not launch.ray_address.strip():
        out.append(Problem("ray_address", "give the cluster's dashboard address, e.g. http://127.0.0.1:8265"))
    elif host(launch.ray_address) not in LOOPBACK:
        out.append(
            Problem(
                "ray_address",
                "the workers write into the run directory: the runs folder must be storage the cluster's nodes share",
                "warning",
            )
        )
    if config.adapter.adapter == "qlora" and launch.gpus_per_worker == 0:
        out.append(Problem("gpus_per_worker", "QLoRA on Ray needs GPU workers; give 1, or choose lora"))
    return out


def trains_elsewhere(config) -> bool:
    """The run trains on other processes, and this is not one of them (they have WORLD_SIZE)."""
    return config.launch.on != "here" and "WORLD_SIZE" not in os.environ


def dashboard(address: str):
    """A Ray dashboard address as given (``host:port`` or a URL), parsed as a URL."""
    address = address.strip()
    return urlparse(address if "://" in address else f"http://{address}")


def host(address: str) -> str:
    return dashboard(address).hostname or ""
