"""The Train tab's door: Start (or queue), Stop, Resume, the progress snapshot, the review.

A part of :class:`studio.services.Studio` (the UI's one door); ``self`` is that object.
"""

from __future__ import annotations

from studio.config import RunConfig
from studio.launch.cluster import cluster_problems
from studio.launch.remote import stop_elsewhere
from studio.models.device import detect
from studio.runs import completions
from studio.runs.directory import RESUMABLE, Run, delete_run
from studio.runs.owners import check_change, may_change, visible
from studio.train.jobs.progress import Progress
from studio.train.jobs.queue import ordinal
from studio.train.review import check_paths, review


class TrainDoor:
    # -- training (a Start while one trains waits in the queue) ------------------------------------
    def start_training(self, config: RunConfig, user: str | None = None) -> Run:
        """Train ``config`` now, or queue it (``queued(run.id)`` says where); ``user`` owns the run."""
        g = config.grpo
        if config.train.method == "grpo" and g.reward_model > 0 and g.reward_model_run.strip():
            self.run(g.reward_model_run, user)  # a reward model one may not see is refused like a missing one
        check_paths(config, user)  # the files it names: ``user``'s to read (the job reads them as the operator)
        return self.queue.submit(config, user).run

    def sampled_answers(self, run_id: str, user: str | None = None) -> tuple[list[str], list[list]]:
        """GRPO's latest sampled answers, best first, with each reward function's score (else empty)."""
        return completions.table(completions.read(self.run(run_id, user).path))

    def resume_training(self, run_id: str, user: str | None = None) -> Run:
        run = check_change(self.run(run_id, user), user, "resume")
        return self.queue.submit(None, user, resume=run.path).run

    def queued(self, run_id: str) -> str:
        """'queued: 2nd in line' for a waiting run; '' for one that trains or ended."""
        position = self.queue.position(run_id)
        return f"queued: {ordinal(position)} in line" if position else ""

    def cancel_queued(self, run_id: str, user: str | None = None) -> Run:
        return self.queue.cancel(run_id, user)

    def restore_queue(self) -> list[str]:
        """At app start: the runs a previous process left queued wait again, in their order."""
        return [run.id for run in self.queue.restore()]

    def waiting_runs(self, user: str | None = None) -> list[str]:
        """``user``'s runs waiting in the training queue, first in line first."""
        return [run.id for run in self.queue.waiting(user)]

    def resumable_runs(self, user: str | None = None) -> list[str]:
        """Runs that stopped before their end with a checkpoint that has steps left, newest first."""
        return [
            run.id
            for run in self.runs(user, mine=True)
            if run.status().get("status") in RESUMABLE and run.last_checkpoint() and run.steps_left() != 0
        ]

    def run_config(self, run_id: str, user: str | None = None) -> RunConfig:
        """The resolved config a run was started with (its config.yaml)."""
        return self.run(run_id, user).config()

    def _job_run(self) -> Run | None:
        return self.jobs.run if self.jobs.run is not None and self.jobs.run.path.is_dir() else None

    def stop_training(self, user: str | None = None) -> bool:
        """Stop the running job if ``user``'s; with none here, ``user``'s runs training elsewhere (remote.py)."""
        if self.jobs.active:
            return (self._job_run() is None or may_change(self._job_run(), user)) and self.jobs.stop()
        return bool(stop_elsewhere(self.runs(user, mine=True)))

    def stop(self, user: str | None = None) -> str:
        """What Stop does for ``user``, in one sentence: stop their training, else take their last
        waiting Start (or resume) out of the training queue, else nothing."""
        if self.stop_training(user):
            return "Stopping after the current step; the checkpoint and the adapter are kept."
        run = self.queue.cancel_last(user)
        return f"Took {run.id} out of the queue." if run else "No training of yours is running or waiting."

    def trains_for(self, user: str | None = None) -> bool:
        """Whether a training of ``user``'s own runs here now (the Train tab's Start waits for it to end)."""
        run = self._job_run()
        return self.jobs.active and run is not None and may_change(run, user)

    def progress(self, user: str | None = None) -> Progress:
        """The job's snapshot when ``user`` may see its run; else their own run waiting in the queue;
        else an idle snapshot that says whether another person's training runs."""
        p = self.jobs.snapshot()
        run = self._job_run()
        shown = run is not None and visible(run, user)
        if p.active and shown:
            return p
        mine = self.queue.waiting(user)
        if mine:
            return self._waiting_progress(mine[0])
        if not p.run_dir or shown:
            return p
        busy = "Another person's training is running; a Start now waits in the queue for it." if p.active else ""
        return Progress(message=busy)

    def _waiting_progress(self, run: Run) -> Progress:
        return Progress(run_id=run.id, run_dir=str(run.path), status="queued", message=self.queued(run.id))

    def review(self, config: RunConfig, user: str | None = None):
        """Problems, batch arithmetic, estimate and fit of a config, before Start (studio.train.review);
        for a Ray run, also whether its cluster answers and has what the workers ask (over the network)."""
        r = review(config, runs_root=self.runs_root, user=user)
        if config.launch.on == "ray" and not any(p.field == "on" for p in r.errors):
            r.problems += cluster_problems(config.launch)
        return r

    def device(self):
        return detect()

    def warm_up(self) -> None:
        """Nothing left to do: the model libraries' names are resolved when the services are imported
        (studio.train.review and studio.chat.engine import them at the top, in the importing thread).
        Kept while the UI calls it; the call and this method can go together."""

    def delete_run(self, run_id: str, user: str | None = None) -> None:
        """Delete a run of ``user``'s; one waiting in the queue leaves it (it never trained)."""
        run = check_change(self.run(run_id, user), user, "delete")
        if self.queue.holds(run):
            self.queue.cancel(run.id, user)
            return
        if self.jobs.active and self.jobs.run is not None and self.jobs.run.path == run.path:
            raise ValueError(f"run {run.id} is training; stop it first")
        delete_run(run)
