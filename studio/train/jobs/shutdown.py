"""SIGTERM ends a training the way Stop does: a checkpoint, then "interrupted" with its cause.

    guard = SignalStop(jobs).install()         # in the main thread (app.py, python -m studio train)
    ...                                        # SIGTERM: the job stops after the current step
    guard.record(jobs.wait())                  # status.json: interrupted, "SIGTERM at step 7 ..."

A Space restarting, ``docker stop`` and systemd send SIGTERM, then SIGKILL after a grace period.
Python's default is to die at once, mid-step: the run keeps only its last periodic checkpoint and
reads "interrupted" without a word once the next start settles it (studio.train.jobs.faults.settle).
With the handler the job stops cooperatively (the callback saves a checkpoint at the stop step,
then the adapter is saved), and status.json says "interrupted" with one line of cause, so Resume
continues from that very step. A signal before any job runs ends the process as before, and so
does one while the job trains on a Ray cluster: that run goes on without the studio, which only
followed it.

The app has nobody else to wait for the job, so there the handler itself stops it, waits
(``exit_after``), records, and exits; the CLI's train loop, already waiting, sees ``received``,
stops the job and records after its ``wait()``.
"""

from __future__ import annotations

import logging
import signal

from studio.runs.directory import TERMINAL
from studio.train.jobs.faults import mark_interrupted
from studio.train.jobs.progress import Progress

log = logging.getLogger(__name__)

GRACE_S = 300.0  # the app waits at most this long for the step and the saves to finish


def _die(signum: int) -> None:
    """End the process the way the signal's default action does (SystemExit would wait for
    Gradio's threads to wind down, seconds a restarting Space does not give)."""
    signal.signal(signum, signal.SIG_DFL)
    signal.raise_signal(signum)


class SignalStop:
    def __init__(self, jobs, exit_after: bool = False, grace_s: float = GRACE_S, on_signal=None):
        """``on_signal``: called first when the signal comes (the app closes its training queue,
        so no waiting run starts while the process goes down)."""
        self.jobs, self.exit_after, self.grace_s, self.on_signal = jobs, exit_after, grace_s, on_signal
        self.received: str | None = None  # "SIGTERM" once one came
        self._previous: dict[int, object] = {}

    def install(self, signals=(signal.SIGTERM,)) -> SignalStop:
        for signum in signals:
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def restore(self) -> None:
        """Put back the handlers install() replaced (the CLI's command may run inside a test)."""
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _handle(self, signum, frame) -> None:
        self.received = signal.Signals(signum).name
        if self.on_signal is not None:
            self.on_signal()
        if not self.jobs.active:
            _die(signum)  # nothing is training: end as without the handler
        if self.jobs.elsewhere:
            # A run on a Ray cluster outlives the studio (issue 17): this process only followed it.
            # A studio started again follows it on (JobManager.follow_again).
            run = self.jobs.run
            log.warning("%s: run %s goes on on its cluster without the studio", self.received, run.id if run else "?")
            _die(signum)
        log.warning("%s: stopping the training after the current step, then saving", self.received)
        if not self.exit_after:
            # The CLI's loop sees `received` and stops the job itself: a handler runs inside whatever
            # the main thread was doing, maybe holding the job's progress lock, which stop() takes.
            return
        self.jobs.stop()  # the app's main thread only sleeps in Gradio's loop: no lock of ours held
        self.record(self.jobs.wait(self.grace_s))
        _die(signum)

    def record(self, progress: Progress) -> str | None:
        """After the job ended on the signal: status.json says interrupted, with the cause; the cause."""
        run = self.jobs.run
        if self.received is None or run is None or not self.jobs.main_process:
            return None
        if progress.status in TERMINAL and progress.status != "stopped":
            return None  # it completed, or failed with its own cause, before the signal took effect
        last = run.last_checkpoint()
        where = f"{last.name} saved: resume it to continue" if last else "no checkpoint was saved: start it again"
        cause = f"{self.received} at step {progress.step} (the machine or Space shut the studio down); {where}"
        mark_interrupted(run, cause)
        log.warning("run %s interrupted: %s", run.id, cause)
        return cause
