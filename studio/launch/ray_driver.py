"""The driver of a run's Ray job: Ray Train's TorchTrainer, one studio job per worker, one run directory.

    python -m studio.launch.ray_driver runs/<id>     # what studio.launch.ray_jobs submits

Each worker joins the process group Ray Train sets up (gloo on CPUs, NCCL on GPUs) and trains
exactly as a process of ``accelerate launch`` does: rank 0 writes metrics, status and checkpoints
into the run directory, the others only train. Ray's FailureConfig restarts the workers when one
dies; each start after the first resumes from the run's last checkpoint (metrics after it are
trimmed, so no step is counted twice), and status.json records the restart. A file ``stop.request``
in the run directory (studio.launch.remote writes it) stops every worker after the same step.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from pathlib import Path

from studio.launch.remote import watch_stop_file
from studio.runs.directory import Run, open_run
from studio.train.jobs.manager import JobManager

log = logging.getLogger(__name__)


def _environment(context) -> None:
    """The variables a torchrun process has, which the studio's plan (world size) reads."""
    os.environ.update(
        RANK=str(context.get_world_rank()),
        WORLD_SIZE=str(context.get_world_size()),
        LOCAL_RANK=str(context.get_local_rank()),
        LOCAL_WORLD_SIZE=str(context.get_local_world_size()),
    )


def _record_attempt(run: Run) -> None:
    """Rank 0: count this start of the workers; a start after the first is Ray's restart."""
    status = run.read_json("status.json")
    attempt = int(status.get("ray_attempt", 0)) + 1
    fields = {"ray_attempt": attempt}
    if attempt > 1:
        checkpoint = run.last_checkpoint()
        restart = {"time": time.time(), "from_step": int(checkpoint.name.split("-")[-1]) if checkpoint else 0}
        fields["restarts"] = [*status.get("restarts", []), restart]
        log.warning("Ray restarted the workers (attempt %d) from step %d", attempt, restart["from_step"])
    run.set_status(**fields)


def train_loop(loop_config: dict) -> None:
    """One Ray Train worker: the studio's job on this rank, in the foreground."""
    import ray.train  # lazy: optional - ray, inside the worker process Ray starts
    import torch  # lazy: ray-worker
    from accelerate import PartialState  # lazy: ray-worker

    context = ray.train.get_context()
    _environment(context)
    if os.environ.get("STUDIO_WORKDIR"):
        os.chdir(os.environ["STUDIO_WORKDIR"])
    PartialState(cpu=not torch.cuda.is_available())  # adopts the process group Ray Train set up
    run = Run(Path(loop_config["run_dir"]))
    main = context.get_world_rank() == 0
    if main:
        _record_attempt(run)
    torch.distributed.barrier()  # every rank sees the same checkpoints from here on
    resume = run.last_checkpoint() is not None
    jobs = JobManager(run.path.parent)
    try:
        if resume:
            jobs.start(None, resume=run.path, run_dir=run.path, main_process=main)  # run_dir: the others too
        else:
            jobs.start(run.config(), run_dir=run.path, main_process=main)
    except Exception as exc:  # noqa: BLE001 - refused before loading (a dataset the cluster cannot read): it repeats
        if main:
            run.set_status(status="failed", error=f"{type(exc).__name__}: {exc}"[:300], ended=time.time())
        log.error("rank %d: the run cannot start: %s", context.get_world_rank(), exc)
        return  # no restart: a new attempt fails the same way (worth_a_restart)
    watch_stop_file(run, jobs)  # stop() needs the job's thread running
    p = jobs.wait()
    if p.status == "failed" and worth_a_restart(p):
        raise RuntimeError(f"rank {context.get_world_rank()}: {p.error}")


def worth_a_restart(progress) -> bool:
    """Whether Ray should restart the workers after this failure. A job that failed while loading
    (before its first step: a dataset or model the cluster cannot read, a setting the hardware
    refuses) fails the same way every time, so its worker ends without raising: Ray does not
    spend ``max_failures`` restarts on it, and status.json already says why (main() exits 1)."""
    return progress.phase != "loading"


def fit(run: Run):
    """Run the TorchTrainer over the run's launch section; returns Ray's result."""
    import ray  # lazy: optional - ray (requirements-ray.txt)
    from ray.train import FailureConfig, RunConfig, ScalingConfig  # lazy: optional
    from ray.train.torch import TorchConfig, TorchTrainer  # lazy: optional

    launch = run.config().launch
    gpus = launch.gpus_per_worker
    trainer = TorchTrainer(
        train_loop,
        train_loop_config={"run_dir": str(run.path)},
        scaling_config=ScalingConfig(
            num_workers=launch.ray_workers,
            use_gpu=gpus > 0,
            resources_per_worker={"CPU": launch.cpus_per_worker, **({"GPU": gpus} if gpus else {})},
        ),
        torch_config=TorchConfig(backend="nccl" if gpus else "gloo"),
        run_config=RunConfig(
            name=run.id,
            storage_path=str(run.path / "ray"),
            failure_config=FailureConfig(max_failures=launch.max_failures),
        ),
    )
    ray.init(log_to_driver=True)
    return trainer.fit()


def _cause(text: str) -> str:
    """The worker's own error line out of Ray's report (its last ``SomethingError: ...`` line)."""
    lines = [line.strip() for line in text.splitlines() if re.match(r"^\s*[\w.]+(Error|Exception): ", line)]
    return (lines[-1] if lines else text.strip().splitlines()[0] if text.strip() else "failed")[:300]


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run = open_run(argv[0])
    try:
        fit(run)
        if run.read_json("status.json").get("status") == "failed":
            return 1  # a failure not worth a restart (worth_a_restart); its cause is recorded
    except Exception as exc:  # noqa: BLE001 - the job's last word goes into the run directory
        log.error("Ray job failed: %s", exc)
        if run.read_json("status.json").get("status") != "failed":
            run.set_status(status="failed", error=f"Ray job: {_cause(str(exc))}", ended=time.time())
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
