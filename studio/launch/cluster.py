"""Asks a Ray cluster whether the run can go there: reachable, and with the resources the workers ask.

    cluster_problems(config.launch)     # [] unless it is a Ray run whose cluster cannot take it

It talks to the network, so it runs when the form is reviewed and once more before a job is
submitted (studio.launch.remote), never inside the job's own processes. What the config and this
machine alone refuse is studio.train.placement's.
"""

from __future__ import annotations

import socket

from studio.config.launch_section import LaunchConfig
from studio.schema import Problem
from studio.train.placement import dashboard, installed


def reachable(address: str, timeout: float = 2.0) -> bool:
    """Whether the dashboard's port accepts a connection (instant when nothing listens)."""
    parsed = dashboard(address)
    try:
        with socket.create_connection((parsed.hostname or "", parsed.port or 8265), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def cluster_problems(launch: LaunchConfig) -> list[Problem]:
    """The cluster at ray_address answers and has, in total and per node, what the workers ask."""
    if launch.on != "ray" or not installed("ray"):
        return []
    if not reachable(launch.ray_address):
        return [
            Problem(
                "ray_address",
                f"no Ray dashboard answers at {launch.ray_address}; start one (ray start --head) "
                "or give the address `ray status` prints, or choose here",
            )
        ]
    totals = node_resources(launch.ray_address)
    return resource_problems(launch, totals)


def node_resources(address: str) -> list[dict]:
    """Each alive node's total resources, from the cluster's state API."""
    from ray.util.state import list_nodes  # lazy: optional - ray (requirements-ray.txt)

    nodes = list_nodes(address=address.strip(), detail=True, timeout=10)
    return [dict(n.resources_total or {}) for n in nodes if n.state == "ALIVE"]


def resource_problems(launch: LaunchConfig, nodes: list[dict]) -> list[Problem]:
    """The workers' CPUs and GPUs against the cluster's (Ray Train 2.60's controller and the job's
    driver ask for none)."""
    asked = {
        kind: launch.ray_workers * per
        for kind, per in (("CPU", launch.cpus_per_worker), ("GPU", launch.gpus_per_worker))
    }
    have = {kind: sum(n.get(kind, 0) for n in nodes) for kind in asked}
    biggest = {kind: max((n.get(kind, 0) for n in nodes), default=0) for kind in asked}
    per_worker = {"CPU": launch.cpus_per_worker, "GPU": launch.gpus_per_worker}
    out = []
    for kind, field_name in (("CPU", "cpus_per_worker"), ("GPU", "gpus_per_worker")):
        if asked[kind] > have[kind]:
            out.append(
                Problem(
                    field_name,
                    f"{launch.ray_workers} workers x {per_worker[kind]:g} {kind}s = {asked[kind]:g}, "
                    f"but the cluster has {have[kind]:g}; ask for fewer workers or less each",
                )
            )
        elif per_worker[kind] > biggest[kind]:
            out.append(
                Problem(field_name, f"no node has {per_worker[kind]:g} {kind}s (the largest has {biggest[kind]:g})")
            )
    return out
