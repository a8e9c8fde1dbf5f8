"""A run as a Ray job: submitted to the cluster's dashboard, watched, and stopped there.

    job = submit(config.launch, run_dir)    # RayJob(address, job_id); the job outlives the studio
    job.alive()                             # PENDING or RUNNING
    job.cancel()                            # Ray stops the job's driver and its workers

The job's entrypoint is studio.launch.ray_driver, which runs Ray Train's TorchTrainer on the
cluster. It trains into the run directory itself, so the runs folder must be storage the
cluster's nodes share (on a local cluster it is simply this machine's folder); the studio's code
must be importable there too: on a local cluster the job is given this checkout's path.
"""

from __future__ import annotations

import os
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from studio.config.launch_section import LaunchConfig
from studio.paths import ENV_NAMES
from studio.train.placement import LOOPBACK, host

ROOT = Path(__file__).resolve().parents[2]
LIVE = ("PENDING", "RUNNING")  # Ray's job states while the job may still train


def _client(address: str):
    from ray.job_submission import JobSubmissionClient  # lazy: optional - ray (requirements-ray.txt)

    return JobSubmissionClient(address.strip())


@dataclass
class RayJob:
    address: str
    job_id: str

    def state(self) -> str:
        return str(_client(self.address).get_job_status(self.job_id).value)

    def alive(self) -> bool:
        return self.state() in LIVE

    def cancel(self) -> bool:
        return bool(_client(self.address).stop_job(self.job_id))

    def logs(self) -> str:
        return _client(self.address).get_job_logs(self.job_id)

    def wait(self, timeout: float = 600.0) -> str:
        deadline = time.monotonic() + timeout
        while (state := self.state()) in LIVE and time.monotonic() < deadline:
            time.sleep(0.5)
        return state


def entrypoint(run_dir: Path, local: bool) -> str:
    """The job's command: this interpreter on a local cluster, the cluster's python elsewhere."""
    python = sys.executable if local else "python"
    return f"{shlex.quote(python)} -m studio.launch.ray_driver {shlex.quote(str(run_dir))}"


def submit(launch: LaunchConfig, run_dir: Path, attempt: int = 1) -> RayJob:
    """Submit the run in run_dir as a Ray job; returns its handle (the id is stable per run and start)."""
    local = host(launch.ray_address) in LOOPBACK
    # Relative paths in the config (dataset, model) mean what they mean here: the workers start in
    # this folder when the cluster is local.
    env = {"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    env["STUDIO_WORKDIR"] = os.getcwd() if local else ""
    for name in (*ENV_NAMES, "HF_HOME", "HF_HUB_OFFLINE"):
        if name in os.environ:
            env[name] = os.environ[name]
    job_id = f"studio-{Path(run_dir).name}-{attempt}-{int(time.time())}"
    client = _client(launch.ray_address)
    client.submit_job(
        entrypoint=entrypoint(Path(run_dir), local),
        submission_id=job_id,
        runtime_env={"env_vars": env},
        entrypoint_num_cpus=0,
    )
    return RayJob(launch.ray_address.strip(), job_id)
