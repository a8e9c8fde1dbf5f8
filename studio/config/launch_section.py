"""The "Where to run" section of the run config (``RunConfig.launch``), documented once like the others.

``studio.config`` nests it in RunConfig: the Train form's "Where to run" group and the ``--on``,
``--strategy``, ``--ray-address``... flags come from these fields. studio.launch reads it, and so does
training's own validation (studio.train.placement), so it lives with the config, below both.
"""

from __future__ import annotations

from dataclasses import dataclass

from studio.schema import option


@dataclass
class LaunchConfig:
    """Where the run trains (studio.launch); the run directory stays the one record wherever it is."""

    on: str = option(
        "here",
        "here: this process; accelerate: several processes on this machine (one per GPU); "
        "ray: a Ray cluster, submitted as a Ray job that outlives the studio.",
        choices=["here", "accelerate", "ray"],
        label="Where to run",
    )
    strategy: str = option(
        "ddp",
        "accelerate: ddp copies the model to every process; fsdp shards weights, gradients and optimizer state; "
        "zero2 / zero3: DeepSpeed ZeRO stage 2 (gradients and optimizer state sharded) or 3 (weights too).",
        choices=["ddp", "fsdp", "zero2", "zero3"],
    )
    num_processes: int = option(
        2, "accelerate: processes on this machine, one per GPU (CPU processes join over gloo).", minimum=1, maximum=1024
    )
    ray_address: str = option(
        "http://127.0.0.1:8265", "ray: the cluster's dashboard address, as `ray job submit --address` takes it."
    )
    ray_workers: int = option(2, "ray: training workers, one process each (Ray Train).", minimum=1, maximum=4096)
    cpus_per_worker: float = option(1.0, "ray: CPUs each worker reserves.", minimum=0.0, maximum=1024.0)
    gpus_per_worker: float = option(
        0.0, "ray: GPUs each worker reserves; 0 trains on CPUs over gloo.", minimum=0.0, maximum=64.0
    )
    max_failures: int = option(
        2, "ray: times the workers restart from the last checkpoint after one dies.", minimum=0, maximum=100
    )
